//! Sessions of the signed-in user (list, revoke one, revoke the others, sign out
//! everywhere) and the types the session areas share. The other operations of the
//! Sessions tag live in sibling modules: `refresh` (refresh-token exchange and the
//! current session), `devices` (device and autologin tokens), `visitors`, `cookies`.
mod cookies;
mod devices;
mod refresh;
mod visitors;

use super::error::{ApiError, ApiResult};
use super::security::UserAuth;
use super::ApiTags;
use crate::app::AppState;
use crate::domain::sessions::Session;
use crate::ids::SessionId;
use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

/// Every `#[OpenApi]` struct of the Sessions tag, in spec order.
pub type SessionsApis = (
    SessionsApi,
    refresh::RefreshApi,
    devices::DevicesApi,
    visitors::VisitorsApi,
    cookies::CookiesApi,
);

/// The Sessions tag's APIs over one state.
pub fn apis(state: &AppState) -> SessionsApis {
    (
        SessionsApi {
            state: state.clone(),
        },
        refresh::RefreshApi {
            state: state.clone(),
        },
        devices::DevicesApi {
            state: state.clone(),
        },
        visitors::VisitorsApi {
            state: state.clone(),
        },
        cookies::CookiesApi {
            state: state.clone(),
        },
    )
}

/// One session of the current user.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(super) struct SessionInfo {
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
    pub(super) fn new(s: Session, current: &str, now: DateTime<Utc>) -> Self {
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
#[oai(skip_serializing_if_is_none)]
struct SessionList {
    /// Live sessions, oldest first.
    sessions: Vec<SessionInfo>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(super) struct Revoked {
    /// How many sessions ended.
    pub(super) revoked: u32,
}

#[derive(ApiResponse)]
enum Ended {
    /// The session has ended; its access and refresh tokens are refused from now on.
    #[oai(status = 204)]
    Ended,
}

pub(super) fn invalid(code: &str, what: &str) -> ApiError {
    ApiError::unauthorized(code, &format!("invalid or expired {what}"))
}

pub struct SessionsApi {
    pub state: AppState,
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
}
