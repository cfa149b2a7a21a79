//! The refresh-token exchange and the current session (check it, mark it active or
//! online).
use super::SessionInfo;
use crate::api::error::ApiResult;
use crate::api::frame::tenant;
use crate::api::security::UserAuth;
use crate::api::views::SessionView;
use crate::api::ApiTags;
use crate::domain::sessions::SessionService;
use crate::domain::signin::SignInService;
use crate::infra::clock::Clock;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

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

pub struct RefreshApi {
    pub sessions: SessionService,
    pub signin: SignInService,
    pub clock: Clock,
}

#[OpenApi(tag = "ApiTags::Sessions")]
impl RefreshApi {
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
        flock: tenant::Path,
        body: Json<RefreshRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let b = body.0;
        let s = self
            .signin
            .refresh(&flock, &b.refresh_token, b.visitor_token.as_deref())
            .await?;
        Ok(Json(SessionView::new(s)))
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
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<SessionInfo>> {
        let c = auth.0;
        let s = self.sessions.current(flock.id, c.session).await?;
        Ok(Json(SessionInfo::new(s, c.session, self.clock.now())))
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
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<SessionInfo>> {
        let c = auth.0;
        let s = self.sessions.mark_active(flock.id, c.session).await?;
        Ok(Json(SessionInfo::new(s, c.session, self.clock.now())))
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
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<SessionInfo>> {
        let c = auth.0;
        let s = self.sessions.mark_online(flock.id, c.session).await?;
        Ok(Json(SessionInfo::new(s, c.session, self.clock.now())))
    }
}
