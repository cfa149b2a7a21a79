//! Cookie mode for browser portals: start or renew a cookie session, end it.
use super::{invalid, Revoked};
use crate::api::error::{ApiError, ApiResult};
use crate::api::frame::Tenant;
use crate::api::security::{csrf_ok, UserAuth, REFRESH_COOKIE};
use crate::api::views::UserView;
use crate::api::ApiTags;
use crate::app::AppState;
use crate::domain::sessions::session_id;
use crate::domain::user::UserStatus;
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct CookieRequest {
    /// A refresh token from a sign-in. Omit it to renew from the refresh cookie; the
    /// `X-CSRF-Token` header is then required.
    #[oai(validator(max_length = 256))]
    refresh_token: Option<String>,
    /// A visitor token to attach to the user.
    #[oai(validator(max_length = 256))]
    visitor_token: Option<String>,
}

/// A cookie session: the access and refresh tokens are in `__Host-` cookies only.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CookieSessionView {
    session_id: String,
    session_expires_at: DateTime<Utc>,
    /// When the access cookie expires (unix seconds); renew before then.
    expires_at: i64,
    /// Send this as `X-CSRF-Token` on every state-changing request (it is also in the
    /// script-readable `__Host-fold_csrf` cookie).
    csrf_token: String,
    /// `client` or `manager`.
    role: String,
    user: UserView,
}

fn cookie(name: &str, value: &str, max_age: i64, http_only: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={}; Secure; SameSite=Lax{}",
        max_age.max(0),
        if http_only { "; HttpOnly" } else { "" }
    )
}

pub struct CookiesApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Sessions")]
impl CookiesApi {
    /// Cookie mode for browser portals: exchange a refresh token (or the refresh cookie)
    /// for `__Host-` cookies — the access token and the refresh token (Secure, HttpOnly,
    /// SameSite=Lax) and a CSRF token (readable by scripts). Requests without an
    /// `Authorization` header then authenticate with the cookie, and state-changing ones
    /// must echo the CSRF token in `X-CSRF-Token`. Renew the same way before `expires_at`.
    #[oai(
        path = "/api/v1/:flock/token/cookie",
        method = "post",
        operation_id = "start_cookie_session"
    )]
    async fn start_cookie_session(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        req: &poem::Request,
        body: Json<CookieRequest>,
    ) -> ApiResult<poem_openapi::payload::Response<Json<CookieSessionView>>> {
        let flock = tenant.0;
        let b = body.0;
        let jar = crate::api::security::cookies(req);
        let refresh = match b.refresh_token {
            Some(t) => t,
            None => {
                let t = jar
                    .get(REFRESH_COOKIE)
                    .cloned()
                    .ok_or_else(|| invalid("invalid_refresh_token", "refresh token"))?;
                if !csrf_ok(req, &jar) {
                    return Err(ApiError::forbidden(
                        "csrf_failed",
                        "renewing from the refresh cookie needs the X-CSRF-Token header",
                    ));
                }
                t
            }
        };
        let now = self.state.clock.unix();
        let grant = self.state.session_service.refresh(&flock, &refresh).await?;
        let user_id = UserId(
            grant
                .session
                .user
                .parse()
                .map_err(|_| ApiError::internal())?,
        );
        let user = self.state.users.get(flock.id, user_id).await?;
        self.state
            .session_service
            .attach_visitor(flock.id, b.visitor_token.as_deref(), user_id)
            .await?;
        if user.status != UserStatus::Active {
            let sid = session_id(&grant.session)?;
            self.state.sessions.revoke(flock.id, user_id, sid).await?;
            return Err(invalid("invalid_refresh_token", "refresh token"));
        }
        let csrf = crate::infra::secret::random_token(32);
        let session_left = (grant.session.expires_at.timestamp() - now).max(0);
        let view = CookieSessionView {
            session_id: grant.session.id.clone(),
            session_expires_at: grant.session.expires_at,
            expires_at: grant.access_expires_at,
            csrf_token: csrf.clone(),
            role: grant.session.role.clone(),
            user: user.into(),
        };
        Ok(poem_openapi::payload::Response::new(Json(view))
            .header(
                "Set-Cookie",
                cookie(
                    crate::api::security::SESSION_COOKIE,
                    &grant.access_token,
                    grant.access_expires_at - now,
                    true,
                ),
            )
            .header(
                "Set-Cookie",
                cookie(REFRESH_COOKIE, &grant.refresh_token, session_left, true),
            )
            .header(
                "Set-Cookie",
                cookie(
                    crate::api::security::CSRF_COOKIE,
                    &csrf,
                    session_left,
                    false,
                ),
            ))
    }

    /// End the cookie session: the session ends and the cookies are cleared.
    #[oai(
        path = "/api/v1/:flock/token/cookie",
        method = "delete",
        operation_id = "end_cookie_session"
    )]
    async fn end_cookie_session(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<poem_openapi::payload::Response<Json<Revoked>>> {
        let c = auth.0;
        let ended = self
            .state
            .sessions
            .revoke(c.flock.id, c.claims.user, c.claims.session)
            .await?;
        let mut r = poem_openapi::payload::Response::new(Json(Revoked {
            revoked: u32::from(ended),
        }));
        for name in [
            crate::api::security::SESSION_COOKIE,
            REFRESH_COOKIE,
            crate::api::security::CSRF_COOKIE,
        ] {
            r = r.header("Set-Cookie", cookie(name, "", 0, true));
        }
        Ok(r)
    }
}
