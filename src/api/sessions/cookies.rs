//! Cookie mode for browser portals: start or renew a cookie session, end it.
use super::Revoked;
use crate::api::error::{ApiError, ApiResult};
use crate::api::frame::tenant;
use crate::api::security::{csrf_ok, UserAuth, CSRF_COOKIE, REFRESH_COOKIE, SESSION_COOKIE};
use crate::api::views::UserView;
use crate::api::ApiTags;
use crate::domain::sessions::{SessionError, SessionGrant, SessionService};
use crate::domain::signin::{SignInService, SignedIn};
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};
use poem_openapi::payload::{Json, Response};
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
    role: crate::api::views::RoleView,
    user: UserView,
}

fn cookie(name: &str, value: &str, max_age: i64, http_only: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={}; Secure; SameSite=Lax{}",
        max_age.max(0),
        if http_only { "; HttpOnly" } else { "" }
    )
}

/// The three cookies of a session (or, with `None`, the three that clear them).
fn set_cookies<T>(mut r: Response<T>, set: Option<(&SessionGrant, &str)>, now: i64) -> Response<T> {
    let (access, refresh, csrf, access_left, session_left) = match set {
        Some((g, csrf)) => (
            g.access_token.as_str(),
            g.refresh_token.as_str(),
            csrf,
            g.access_expires_at - now,
            (g.session.expires_at.timestamp() - now).max(0),
        ),
        None => ("", "", "", 0, 0),
    };
    for (name, value, max_age, http_only) in [
        (SESSION_COOKIE, access, access_left, true),
        (REFRESH_COOKIE, refresh, session_left, true),
        (CSRF_COOKIE, csrf, session_left, set.is_none()),
    ] {
        r = r.header("Set-Cookie", cookie(name, value, max_age, http_only));
    }
    r
}

/// The refresh token of a cookie request: from the body, or from the refresh cookie
/// (then the CSRF header must match, as for any state-changing cookie request).
fn refresh_token_of(req: &poem::Request, given: Option<String>) -> ApiResult<String> {
    if let Some(t) = given {
        return Ok(t);
    }
    let jar = crate::api::security::cookies(req);
    let t = jar
        .get(REFRESH_COOKIE)
        .cloned()
        .ok_or(SessionError::InvalidRefreshToken)?;
    if !csrf_ok(req, &jar) {
        return Err(ApiError::forbidden(
            "csrf_failed",
            "renewing from the refresh cookie needs the X-CSRF-Token header",
        ));
    }
    Ok(t)
}

pub struct CookiesApi {
    pub sessions: SessionService,
    pub signin: SignInService,
    pub clock: Clock,
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
        flock: tenant::Path,
        req: &poem::Request,
        body: Json<CookieRequest>,
    ) -> ApiResult<Response<Json<CookieSessionView>>> {
        let b = body.0;
        let refresh = refresh_token_of(req, b.refresh_token)?;
        let now = self.clock.unix();
        let s = self
            .signin
            .refresh(&flock, &refresh, b.visitor_token.as_deref())
            .await?;
        let SignedIn { user, grant, .. } = s;
        let csrf = crate::infra::secret::random_token(32);
        let view = CookieSessionView {
            session_id: grant.session.id.to_string(),
            session_expires_at: grant.session.expires_at,
            expires_at: grant.access_expires_at,
            csrf_token: csrf.clone(),
            role: grant.session.role.into(),
            user: user.into(),
        };
        let r = Response::new(Json(view));
        Ok(set_cookies(r, Some((&grant, &csrf)), now))
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
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Response<Json<Revoked>>> {
        let c = auth.0;
        let ended = self.sessions.end(flock.id, c.user, c.session).await?;
        let r = Response::new(Json(Revoked {
            revoked: u32::from(ended),
        }));
        Ok(set_cookies(r, None, 0))
    }
}
