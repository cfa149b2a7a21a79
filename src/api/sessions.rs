//! Sessions of the signed-in user (list, revoke one, revoke the others, sign out, sign
//! out everywhere) and the refresh-token exchange.
use super::error::{ApiError, ApiResult};
use super::frame::Tenant;
use super::security::UserAuth;
use super::views::SessionView;
use super::ApiTags;
use crate::app::AppState;
use crate::domain::session::{session_id, Session};
use crate::domain::user::UserStatus;
use crate::ids::{SessionId, UserId};
use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
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
}

impl SessionInfo {
    fn new(s: Session, current: &str) -> Self {
        Self {
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
        let sessions = self
            .state
            .sessions
            .list(c.flock.id, c.claims.user)
            .await?
            .into_iter()
            .map(|s| SessionInfo::new(s, &current))
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

    /// Sign out: end the current session (its access and refresh tokens).
    #[oai(
        path = "/api/v1/:flock/user/sign-out",
        method = "post",
        operation_id = "sign_out"
    )]
    async fn sign_out(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<Ended> {
        let c = auth.0;
        self.state
            .sessions
            .revoke(c.flock.id, c.claims.user, c.claims.session)
            .await?;
        Ok(Ended::Ended)
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
}
