//! The refresh-token exchange and the current session (check it, mark it active or
//! online).
use super::{invalid, SessionInfo};
use crate::api::error::{ApiError, ApiResult};
use crate::api::frame::Tenant;
use crate::api::security::UserAuth;
use crate::api::views::SessionView;
use crate::api::ApiTags;
use crate::app::AppState;
use crate::domain::sessions::session_id;
use crate::domain::user::UserStatus;
use crate::ids::UserId;
use poem_openapi::param::Path;
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
    pub state: AppState,
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
}
