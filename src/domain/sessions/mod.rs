//! Sessions and the credentials that carry them, all in the KV store: one record per
//! session and an index per user. Every authenticated call checks its session here, so a
//! revoked session dies at once. Refresh tokens hang off a session: ending the session
//! ends them.
//!
//! [`SessionService`] owns the stores; they are private to this module. Its work, by file
//! (each an `impl SessionService` or the store it wraps):
//! - here — authenticate an access token, list and end sessions, presence;
//! - `grants` — open a session and rotate a refresh token (`pub(in crate::domain)`: only
//!   `domain::signin`, which applies the account rules first, opens sessions);
//! - `devices` — device tokens, autologin tokens and visitor tokens;
//! - `store`, `refresh`, `device`, `autologin`, `visitor` — the KV records;
//! - `access` — signed access tokens (JWT) and their verification.
pub mod access;
mod autologin;
mod device;
mod devices;
mod grants;
mod refresh;
mod store;
mod visitor;

use super::flocks::Flock;
use super::user::Role;
use super::InfraError;
use crate::ids::{FlockId, SessionId, UserId};
use crate::infra::clock::Clock;
use crate::infra::kv::Kv;
use access::{AccessClaims, TokenError, TokenService};
use autologin::AutologinTokens;
use chrono::{DateTime, Duration, Utc};
use device::DeviceTokens;
use refresh::RefreshTokens;
use serde::{Deserialize, Serialize};
use store::SessionStore;
use visitor::VisitorTokens;

pub use autologin::Issuer;
pub use device::DeviceRecord;
pub use visitor::Visitor;

/// A session as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    /// The flock, as stored (checked against the key it was read under).
    flock: String,
    pub user: UserId,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub source: Option<String>,
    /// The idle lifetime this session was opened with (seconds); each use pushes
    /// `idle_expires_at` this far ahead, never past `expires_at`.
    #[serde(default)]
    pub idle_secs: u32,
    /// Set by "mark online": the session counts as online until then.
    #[serde(default)]
    pub online_until: Option<DateTime<Utc>>,
    /// The device id of the device token this session is paired with, if any.
    #[serde(default)]
    pub device: Option<String>,
}

/// Where a session was opened from (kept for the session list).
#[derive(Debug, Clone, Default)]
pub struct SessionMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub source: Option<String>,
}

/// A freshly opened (or renewed) session and the credentials that carry it.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    pub session: Session,
    pub access_token: String,
    /// When the access token was issued and when it expires (unix seconds).
    pub access_issued_at: i64,
    pub access_expires_at: i64,
    /// Opaque refresh token (256 random bits); rotates on every use.
    pub refresh_token: String,
}

/// A credential presented on its own (not as a field of an otherwise valid request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Device,
    Autologin,
    Visitor,
}

impl Credential {
    pub fn name(self) -> &'static str {
        match self {
            Credential::Device => "device token",
            Credential::Autologin => "autologin token",
            Credential::Visitor => "visitor token",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The access token, or its session, is not (or no longer) valid.
    #[error("invalid or expired token")]
    InvalidToken,
    /// Unknown, expired, reused, or its session or account may no longer go on.
    #[error("invalid, expired or reused refresh token")]
    InvalidRefreshToken,
    /// A device, autologin or visitor token that is unknown, used or expired.
    #[error("invalid or expired {}", .0.name())]
    InvalidCredential(Credential),
    /// A device token given along with valid credentials (a field of the request).
    #[error("unknown or expired device token")]
    UnknownDevice,
    /// No such session among the caller's.
    #[error("no such session")]
    NotFound,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<crate::infra::kv::KvError> for SessionError {
    fn from(e: crate::infra::kv::KvError) -> Self {
        SessionError::Infra(e.into())
    }
}

impl From<TokenError> for SessionError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid => SessionError::InvalidToken,
            TokenError::Infra(i) => SessionError::Infra(i),
        }
    }
}

/// "Mark online" counts for this long.
pub const ONLINE_SECS: u32 = 60;

#[derive(Clone)]
pub struct SessionService {
    store: SessionStore,
    access: TokenService,
    refresh: RefreshTokens,
    devices: DeviceTokens,
    autologin: AutologinTokens,
    visitors: VisitorTokens,
    /// Where `session.revoked` is recorded.
    db: crate::db::Db,
    clock: Clock,
}

impl SessionService {
    pub fn new(kv: Kv, clock: Clock, access: TokenService, db: crate::db::Db) -> Self {
        let store = SessionStore::new(kv, clock.clone());
        Self {
            db,
            clock,
            refresh: RefreshTokens::new(store.clone()),
            devices: DeviceTokens::new(store.clone()),
            autologin: AutologinTokens::new(store.clone()),
            visitors: VisitorTokens::new(store.clone()),
            store,
            access,
        }
    }

    /// The caller behind an access token: the token verifies for this flock, and its
    /// session is alive and carries the same user and role (logout and revocation take
    /// effect at once). Marks the session used (at most one write a minute).
    pub async fn authenticate(
        &self,
        flock: &Flock,
        token: &str,
    ) -> Result<AccessClaims, SessionError> {
        let claims = self.access.verify(flock, token).await?;
        match self.store.check(flock.id, claims.session).await? {
            Some(s) if s.user == claims.user && s.role == claims.role => Ok(claims),
            _ => Err(SessionError::InvalidToken),
        }
    }

    /// The user's live sessions, oldest first.
    pub async fn list(&self, flock: FlockId, user: UserId) -> Result<Vec<Session>, InfraError> {
        self.store.list(flock, user).await
    }

    /// A live session of the caller, not marked used.
    pub async fn current(&self, flock: FlockId, sid: SessionId) -> Result<Session, SessionError> {
        self.store
            .get(flock, sid)
            .await?
            .ok_or(SessionError::InvalidToken)
    }

    /// Marks the session used now (moves its idle deadline).
    pub async fn mark_active(
        &self,
        flock: FlockId,
        sid: SessionId,
    ) -> Result<Session, SessionError> {
        self.store
            .touch_now(flock, sid)
            .await?
            .ok_or(SessionError::InvalidToken)
    }

    /// Marks the session online for [`ONLINE_SECS`] (presence), and used.
    pub async fn mark_online(
        &self,
        flock: FlockId,
        sid: SessionId,
    ) -> Result<Session, SessionError> {
        self.store
            .mark_online(flock, sid, ONLINE_SECS)
            .await?
            .ok_or(SessionError::InvalidToken)
    }

    /// Ends one session; whether it was alive.
    pub async fn end(
        &self,
        flock: FlockId,
        user: UserId,
        sid: SessionId,
    ) -> Result<bool, InfraError> {
        let ended = self.store.revoke(flock, user, sid).await?;
        if ended {
            self.record_revoked(flock, user, &[sid]).await;
        }
        Ok(ended)
    }

    /// Records `session.revoked` for sessions that ended (who ended them is the event's
    /// actor). A failure is logged: the sessions are gone already.
    async fn record_revoked(&self, flock: FlockId, user: UserId, ended: &[SessionId]) {
        if ended.is_empty() {
            return;
        }
        let ids: Vec<String> = ended.iter().map(|s| s.to_string()).collect();
        let e = crate::db::webhooks::NewEvent {
            kind: "session.revoked",
            data: serde_json::json!({"user_id": user.0, "session_ids": ids}),
            at: self.clock.now(),
            user: Some(user.0),
            ..Default::default()
        };
        if let Err(e) = self.db.scoped(flock).event_insert(e).await {
            tracing::warn!(error = %e, "session.revoked not recorded");
        }
    }

    /// Ends one of the user's own sessions; another user's (or none) is `NotFound`.
    pub async fn end_own(
        &self,
        flock: FlockId,
        user: UserId,
        sid: SessionId,
    ) -> Result<(), SessionError> {
        match self.store.get(flock, sid).await? {
            Some(s) if s.user == user => {
                self.end(flock, user, sid).await?;
                Ok(())
            }
            _ => Err(SessionError::NotFound),
        }
    }

    /// Ends every session of the user except `keep`; how many ended. Their refresh tokens
    /// die with them.
    pub async fn end_all(
        &self,
        flock: FlockId,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<usize, InfraError> {
        let ended = self.store.revoke_all(flock, user, keep).await?;
        self.record_revoked(flock, user, &ended).await;
        Ok(ended.len())
    }
}

/// A new opaque credential: a visible kind prefix and 256 random bits.
pub(crate) fn opaque_token(prefix: &str) -> String {
    format!("{prefix}{}", crate::infra::secret::random_token(32))
}

/// Garbage-collection TTL on the store: a little past a domain deadline.
pub(crate) fn gc_ttl(until: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    (until - now + Duration::minutes(5))
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(300))
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, InfraError> {
    serde_json::to_vec(v).map_err(|e| InfraError::Internal(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, InfraError> {
    serde_json::from_slice(raw).map_err(|e| InfraError::Internal(e.to_string()))
}
