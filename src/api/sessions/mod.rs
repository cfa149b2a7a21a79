//! Sessions of the signed-in user (list, revoke one, revoke the others, sign out
//! everywhere) and the types the session areas share. The other operations of the
//! Sessions tag live in sibling modules: `refresh` (refresh-token exchange and the
//! current session), `devices` (device and autologin tokens), `visitors`, `cookies`.
mod cookies;
mod devices;
mod refresh;
mod visitors;

use super::error::ApiResult;
use super::frame::tenant;
use super::security::UserAuth;
use super::{ApiServices, ApiTags};
use crate::domain::sessions::{Session, SessionService};
use crate::ids::SessionId;
use crate::infra::clock::Clock;
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

/// The Sessions tag's APIs, each with the services it calls.
pub fn apis(s: &ApiServices) -> SessionsApis {
    let sessions = || s.sessions.clone();
    (
        SessionsApi {
            sessions: sessions(),
            clock: s.clock.clone(),
        },
        refresh::RefreshApi {
            sessions: sessions(),
            signin: s.signin.clone(),
            clock: s.clock.clone(),
        },
        devices::DevicesApi {
            sessions: sessions(),
            signin: s.signin.clone(),
            clock: s.clock.clone(),
        },
        visitors::VisitorsApi {
            sessions: sessions(),
            clock: s.clock.clone(),
        },
        cookies::CookiesApi {
            sessions: sessions(),
            signin: s.signin.clone(),
            clock: s.clock.clone(),
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
    role: crate::api::views::RoleView,
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
    pub(super) fn new(s: Session, current: SessionId, now: DateTime<Utc>) -> Self {
        Self {
            online: s.online_until.is_some_and(|t| t > now),
            device: s.device.clone(),
            current: s.id == current,
            id: s.id.to_string(),
            role: s.role.into(),
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

/// `n` sessions ended, for the wire.
pub(super) fn revoked(n: usize) -> Json<Revoked> {
    Json(Revoked {
        revoked: u32::try_from(n).unwrap_or(u32::MAX),
    })
}

pub struct SessionsApi {
    pub sessions: SessionService,
    pub clock: Clock,
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
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<SessionList>> {
        let c = auth.0;
        let now = self.clock.now();
        let sessions = self
            .sessions
            .list(flock.id, c.user)
            .await?
            .into_iter()
            .map(|s| SessionInfo::new(s, c.session, now))
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
        flock: tenant::Path,
        auth: UserAuth,
        /// The session to end.
        session_id: Path<String>,
    ) -> ApiResult<Ended> {
        let c = auth.0;
        // A malformed id names no session of the caller's: the same 404.
        let sid = session_id.0.parse().map(SessionId).unwrap_or_default();
        self.sessions.end_own(flock.id, c.user, sid).await?;
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
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<Revoked>> {
        let c = auth.0;
        let n = self
            .sessions
            .end_all(flock.id, c.user, Some(c.session))
            .await?;
        Ok(revoked(n))
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
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<Revoked>> {
        let c = auth.0;
        let n = self.sessions.end_all(flock.id, c.user, None).await?;
        Ok(revoked(n))
    }
}
