//! Sessions of the signed-in user (list, revoke one, revoke the others, sign out, sign
//! out everywhere) and the refresh-token exchange.
use super::client_ip::ClientIp;
use super::error::{ApiError, ApiResult};
use super::frame::Tenant;
use super::security::{csrf_ok, REFRESH_COOKIE};
use super::security::{ServerAuth, UserAuth};
use super::views::{meta, SessionView, UserView};
use super::ApiTags;
use crate::app::AppState;
use crate::domain::session::visitor::Visitor;
use crate::domain::session::{session_id, Session};
use crate::domain::user::UserStatus;
use crate::ids::{SessionId, UserId};
use chrono::{DateTime, Utc};
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

pub struct SessionsApi {
    pub state: AppState,
}

/// One session of the current user.
#[derive(Object)]
struct SessionInfo {
    /// The session's id (`sid` in its access tokens).
    id: String,
    /// True for the session of the token making this call.
    current: bool,
    /// `client` or `manager`.
    role: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    /// The session ends if unused until then.
    idle_expires_at: DateTime<Utc>,
    /// The session ends then whatever its use.
    expires_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
    /// The app the session was opened from, if given at sign-in.
    source: Option<String>,
    /// Whether the session was marked online within the last minute.
    online: bool,
    /// The device id of the device token the session is paired with.
    device: Option<String>,
}

impl SessionInfo {
    fn new(s: Session, current: &str, now: DateTime<Utc>) -> Self {
        Self {
            online: s.online_until.is_some_and(|t| t > now),
            device: s.device.clone(),
            current: s.id == current,
            id: s.id,
            role: s.role,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            idle_expires_at: s.idle_expires_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
            source: s.source,
        }
    }
}

#[derive(Object)]
struct SessionList {
    /// Live sessions, oldest first.
    sessions: Vec<SessionInfo>,
}

#[derive(Object)]
struct Revoked {
    /// How many sessions ended.
    revoked: u32,
}

#[derive(ApiResponse)]
enum Ended {
    /// The session has ended; its access and refresh tokens are refused from now on.
    #[oai(status = 204)]
    Ended,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct RefreshRequest {
    /// The refresh token from the last sign-in or refresh.
    #[oai(validator(max_length = 256))]
    refresh_token: String,
    /// A visitor token of this browser or app: the visitor is attached to the user.
    #[oai(validator(max_length = 256))]
    visitor_token: Option<String>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct DeviceRequest {
    /// A stable id of the device (app install id, hardware id…).
    #[oai(validator(min_length = 1, max_length = 200))]
    device_id: String,
}

#[derive(Object)]
struct DeviceTokenView {
    /// Opaque device token (`fold_dt_…`); keep it on the device.
    device_token: String,
    device_id: String,
    expires_at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct DeviceTokenRequest {
    #[oai(validator(max_length = 256))]
    device_token: String,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct AutologinForUser {
    /// The user the token signs in.
    user_id: uuid::Uuid,
}

#[derive(Object)]
struct AutologinTokenView {
    /// Single-use token (`fold_al_…`), redeemable once before `expires_at`.
    autologin_token: String,
    expires_at: DateTime<Utc>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct AutologinRequest {
    #[oai(validator(max_length = 256))]
    autologin_token: String,
    /// The device the new session is opened on; the session is paired with it.
    #[oai(validator(max_length = 256))]
    device_token: String,
    /// A visitor token to attach to the user.
    #[oai(validator(max_length = 256))]
    visitor_token: Option<String>,
    /// Where the sign-in comes from (an app name), kept with the session.
    #[oai(validator(max_length = 100))]
    source: Option<String>,
}

/// An anonymous visitor.
#[derive(Object)]
struct VisitorView {
    id: uuid::Uuid,
    created_at: DateTime<Utc>,
    last_active_at: DateTime<Utc>,
    /// Whether the visitor was marked online within the last minute.
    online: bool,
    /// Whether the visitor has signed in since (attached to a user).
    attached: bool,
    expires_at: DateTime<Utc>,
}

impl VisitorView {
    fn new(v: Visitor, now: DateTime<Utc>) -> Self {
        Self {
            id: v.id,
            created_at: v.created_at,
            last_active_at: v.last_active_at,
            online: v.online_until.is_some_and(|t| t > now),
            attached: v.user.is_some(),
            expires_at: v.expires_at,
        }
    }
}

#[derive(Object)]
struct NewVisitor {
    /// Opaque visitor token (`fold_vt_…`): send it as `X-Visitor-Token`.
    visitor_token: String,
    visitor: VisitorView,
}

#[derive(ApiResponse)]
enum Paired {
    /// The current session is paired with the device.
    #[oai(status = 204)]
    Paired,
}

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

fn invalid(code: &str, what: &str) -> ApiError {
    ApiError::unauthorized(code, &format!("invalid or expired {what}"))
}

#[OpenApi(tag = "ApiTags::Sessions")]
impl SessionsApi {
    /// The current user's live sessions.
    #[oai(
        path = "/api/v1/:flock/user/sessions",
        method = "get",
        operation_id = "list_sessions"
    )]
    async fn list(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<Json<SessionList>> {
        let c = auth.0;
        let current = c.claims.session.to_string();
        let now = self.state.clock.now();
        let sessions = self
            .state
            .sessions
            .list(c.flock.id, c.claims.user)
            .await?
            .into_iter()
            .map(|s| SessionInfo::new(s, &current, now))
            .collect();
        Ok(Json(SessionList { sessions }))
    }

    /// End one of the current user's sessions. A session that is not the caller's
    /// answers 404, like one that does not exist.
    #[oai(
        path = "/api/v1/:flock/user/sessions/:session_id",
        method = "delete",
        operation_id = "revoke_session"
    )]
    async fn revoke(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
        /// The session to end.
        session_id: Path<String>,
    ) -> ApiResult<Ended> {
        let c = auth.0;
        let not_found = || ApiError::not_found("session_not_found", "no such session");
        let sid = SessionId(session_id.0.parse().map_err(|_| not_found())?);
        let mine = self
            .state
            .sessions
            .get(c.flock.id, sid)
            .await?
            .is_some_and(|s| s.user == c.claims.user.to_string());
        if !mine {
            return Err(not_found());
        }
        self.state
            .sessions
            .revoke(c.flock.id, c.claims.user, sid)
            .await?;
        Ok(Ended::Ended)
    }

    /// End every session of the current user except this one.
    #[oai(
        path = "/api/v1/:flock/user/sessions/revoke-others",
        method = "post",
        operation_id = "revoke_other_sessions"
    )]
    async fn revoke_others(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<Json<Revoked>> {
        let c = auth.0;
        let n = self
            .state
            .sessions
            .revoke_all(c.flock.id, c.claims.user, Some(c.claims.session))
            .await?;
        Ok(Json(Revoked {
            revoked: u32::try_from(n).unwrap_or(u32::MAX),
        }))
    }

    /// Sign out everywhere: end every session of the current user, this one included.
    #[oai(
        path = "/api/v1/:flock/user/sign-out-everywhere",
        method = "post",
        operation_id = "sign_out_everywhere"
    )]
    async fn sign_out_everywhere(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<Json<Revoked>> {
        let c = auth.0;
        let n = self
            .state
            .sessions
            .revoke_all(c.flock.id, c.claims.user, None)
            .await?;
        Ok(Json(Revoked {
            revoked: u32::try_from(n).unwrap_or(u32::MAX),
        }))
    }

    /// Exchange a refresh token for a new access token and the next refresh token.
    /// Each refresh token is single use: a repeat within the flock's grace window
    /// (`refresh_grace_secs`, default 10 s) returns the same successor; a repeat after
    /// it ends the session. No bearer token is needed.
    #[oai(
        path = "/api/v1/:flock/token/refresh",
        method = "post",
        operation_id = "refresh_token"
    )]
    async fn refresh(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        body: Json<RefreshRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let flock = tenant.0;
        let now = self.state.clock.unix();
        let grant = self
            .state
            .session_service
            .refresh(&flock, &body.0.refresh_token)
            .await?;
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
            .attach_visitor(flock.id, body.0.visitor_token.as_deref(), user_id)
            .await?;
        if user.status != UserStatus::Active {
            // Belt and braces: disabling a user ends its sessions already.
            let sid = session_id(&grant.session)?;
            self.state.sessions.revoke(flock.id, user_id, sid).await?;
            return Err(ApiError::unauthorized(
                "invalid_refresh_token",
                "invalid, expired or reused refresh token",
            ));
        }
        Ok(Json(SessionView::new(grant, user, now)))
    }

    /// The current session (check it is alive), without marking it used.
    #[oai(
        path = "/api/v1/:flock/user/session",
        method = "get",
        operation_id = "check_session"
    )]
    async fn check_session(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<Json<SessionInfo>> {
        let c = auth.0;
        let s = self
            .state
            .sessions
            .get(c.flock.id, c.claims.session)
            .await?
            .ok_or_else(|| invalid("invalid_token", "token"))?;
        let current = c.claims.session.to_string();
        Ok(Json(SessionInfo::new(s, &current, self.state.clock.now())))
    }

    /// Mark the current session active (moves its idle deadline).
    #[oai(
        path = "/api/v1/:flock/user/session/active",
        method = "post",
        operation_id = "mark_session_active"
    )]
    async fn mark_session_active(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<Json<SessionInfo>> {
        let c = auth.0;
        let s = self
            .state
            .sessions
            .touch_now(c.flock.id, c.claims.session)
            .await?
            .ok_or_else(|| invalid("invalid_token", "token"))?;
        let current = c.claims.session.to_string();
        Ok(Json(SessionInfo::new(s, &current, self.state.clock.now())))
    }

    /// Mark the current session online for the next minute (presence), and active.
    #[oai(
        path = "/api/v1/:flock/user/session/online",
        method = "post",
        operation_id = "mark_session_online"
    )]
    async fn mark_session_online(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<Json<SessionInfo>> {
        let c = auth.0;
        let s = self
            .state
            .sessions
            .mark_online(c.flock.id, c.claims.session, 60)
            .await?
            .ok_or_else(|| invalid("invalid_token", "token"))?;
        let current = c.claims.session.to_string();
        Ok(Json(SessionInfo::new(s, &current, self.state.clock.now())))
    }

    /// Get a device token for a device id (no credentials needed: a device token
    /// grants nothing until a session is paired with it).
    #[oai(
        path = "/api/v1/:flock/device-tokens",
        method = "post",
        operation_id = "create_device_token"
    )]
    async fn create_device_token(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        body: Json<DeviceRequest>,
    ) -> ApiResult<Json<DeviceTokenView>> {
        let (token, rec) = self
            .state
            .session_service
            .devices
            .issue(tenant.0.id, &body.0.device_id)
            .await?;
        Ok(Json(DeviceTokenView {
            device_token: token,
            device_id: rec.device_id,
            expires_at: rec.expires_at,
        }))
    }

    /// Pair the current session with a device: signing out with the device token
    /// will end it.
    #[oai(
        path = "/api/v1/:flock/user/device",
        method = "post",
        operation_id = "pair_device"
    )]
    async fn pair_device(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
        body: Json<DeviceTokenRequest>,
    ) -> ApiResult<Paired> {
        let c = auth.0;
        let ok = self
            .state
            .session_service
            .devices
            .pair(c.flock.id, &body.0.device_token, c.claims.session)
            .await?;
        if !ok {
            return Err(ApiError::bad_request(
                "invalid_device_token",
                "invalid or expired device token",
                Some("device_token"),
            ));
        }
        Ok(Paired::Paired)
    }

    /// Sign out with a device token: end every session paired with the device.
    #[oai(
        path = "/api/v1/:flock/device-tokens/sign-out",
        method = "post",
        operation_id = "device_sign_out"
    )]
    async fn device_sign_out(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        body: Json<DeviceTokenRequest>,
    ) -> ApiResult<Json<Revoked>> {
        let n = self
            .state
            .session_service
            .devices
            .sign_out(tenant.0.id, &body.0.device_token)
            .await?
            .ok_or_else(|| invalid("invalid_device_token", "device token"))?;
        Ok(Json(Revoked {
            revoked: u32::try_from(n).unwrap_or(u32::MAX),
        }))
    }

    /// An autologin token for the signed-in user (single use, two minutes), e.g. to
    /// hand the session over to another app on the same device.
    #[oai(
        path = "/api/v1/:flock/user/autologin-tokens",
        method = "post",
        operation_id = "create_my_autologin_token"
    )]
    async fn create_my_autologin_token(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<Json<AutologinTokenView>> {
        let c = auth.0;
        let (token, expires_at) = self
            .state
            .session_service
            .autologin
            .issue(c.flock.id, c.claims.user, "user")
            .await?;
        Ok(Json(AutologinTokenView {
            autologin_token: token,
            expires_at,
        }))
    }

    /// An autologin token for a user of the flock, from the back office (API key with
    /// scope `create_autologin_token`).
    #[oai(
        path = "/api/v1/:flock/autologin-tokens",
        method = "post",
        operation_id = "create_autologin_token"
    )]
    async fn create_autologin_token(
        &self,
        auth: ServerAuth,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        body: Json<AutologinForUser>,
    ) -> ApiResult<Json<AutologinTokenView>> {
        let caller = auth.0.allow("create_autologin_token")?;
        let user = self
            .state
            .users
            .get(caller.flock, UserId(body.0.user_id))
            .await?;
        if user.status != UserStatus::Active {
            return Err(ApiError::forbidden(
                "account_not_active",
                "this account is not active",
            ));
        }
        let (token, expires_at) = self
            .state
            .session_service
            .autologin
            .issue(caller.flock, user.id, "back_office")
            .await?;
        Ok(Json(AutologinTokenView {
            autologin_token: token,
            expires_at,
        }))
    }

    /// Exchange an autologin token and a device token for a new session (paired with
    /// the device). The autologin token is consumed whatever the outcome.
    #[oai(
        path = "/api/v1/:flock/token/autologin",
        method = "post",
        operation_id = "redeem_autologin_token"
    )]
    async fn redeem_autologin_token(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        ip: ClientIp,
        /// The client's user agent, kept with the session.
        #[oai(name = "User-Agent")]
        user_agent: Header<Option<String>>,
        body: Json<AutologinRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let flock = tenant.0;
        let b = body.0;
        let svc = &self.state.session_service;
        if svc.devices.get(flock.id, &b.device_token).await?.is_none() {
            return Err(invalid("invalid_device_token", "device token"));
        }
        let user_id = svc
            .autologin
            .redeem(flock.id, &b.autologin_token)
            .await?
            .ok_or_else(|| invalid("invalid_autologin_token", "autologin token"))?;
        let user = self.state.users.get(flock.id, user_id).await?;
        if user.status != UserStatus::Active {
            return Err(invalid("invalid_autologin_token", "autologin token"));
        }
        let now = self.state.clock.unix();
        let source = b.source.or_else(|| Some("autologin".into()));
        let grant = svc
            .open(&flock, user_id, &user.role, meta(ip, source, user_agent.0))
            .await?;
        let sid = session_id(&grant.session)?;
        svc.devices.pair(flock.id, &b.device_token, sid).await?;
        svc.attach_visitor(flock.id, b.visitor_token.as_deref(), user_id)
            .await?;
        Ok(Json(SessionView::new(grant, user, now)))
    }

    /// A visitor token for an anonymous visitor (no credentials needed).
    #[oai(
        path = "/api/v1/:flock/visitor-tokens",
        method = "post",
        operation_id = "create_visitor_token"
    )]
    async fn create_visitor_token(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
    ) -> ApiResult<Json<NewVisitor>> {
        let (token, v) = self
            .state
            .session_service
            .visitors
            .issue(tenant.0.id)
            .await?;
        Ok(Json(NewVisitor {
            visitor_token: token,
            visitor: VisitorView::new(v, self.state.clock.now()),
        }))
    }

    /// Check a visitor token.
    #[oai(
        path = "/api/v1/:flock/visitor",
        method = "get",
        operation_id = "check_visitor"
    )]
    async fn check_visitor(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        /// The visitor token.
        #[oai(name = "X-Visitor-Token")]
        token: Header<String>,
    ) -> ApiResult<Json<VisitorView>> {
        let v = self
            .state
            .session_service
            .visitors
            .check(tenant.0.id, &token.0)
            .await?
            .ok_or_else(|| invalid("invalid_visitor_token", "visitor token"))?;
        Ok(Json(VisitorView::new(v, self.state.clock.now())))
    }

    /// Mark a visitor active.
    #[oai(
        path = "/api/v1/:flock/visitor/active",
        method = "post",
        operation_id = "mark_visitor_active"
    )]
    async fn mark_visitor_active(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        /// The visitor token.
        #[oai(name = "X-Visitor-Token")]
        token: Header<String>,
    ) -> ApiResult<Json<VisitorView>> {
        let v = self
            .state
            .session_service
            .visitors
            .mark_active(tenant.0.id, &token.0)
            .await?
            .ok_or_else(|| invalid("invalid_visitor_token", "visitor token"))?;
        Ok(Json(VisitorView::new(v, self.state.clock.now())))
    }

    /// Mark a visitor online for the next minute (presence).
    #[oai(
        path = "/api/v1/:flock/visitor/online",
        method = "post",
        operation_id = "mark_visitor_online"
    )]
    async fn mark_visitor_online(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        /// The visitor token.
        #[oai(name = "X-Visitor-Token")]
        token: Header<String>,
    ) -> ApiResult<Json<VisitorView>> {
        let v = self
            .state
            .session_service
            .visitors
            .mark_online(tenant.0.id, &token.0)
            .await?
            .ok_or_else(|| invalid("invalid_visitor_token", "visitor token"))?;
        Ok(Json(VisitorView::new(v, self.state.clock.now())))
    }

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
        let jar = super::security::cookies(req);
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
                    super::security::SESSION_COOKIE,
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
                cookie(super::security::CSRF_COOKIE, &csrf, session_left, false),
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
            super::security::SESSION_COOKIE,
            REFRESH_COOKIE,
            super::security::CSRF_COOKIE,
        ] {
            r = r.header("Set-Cookie", cookie(name, "", 0, true));
        }
        Ok(r)
    }
}
