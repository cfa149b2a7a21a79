//! Sessions live in the KV store: one record per session and an index per user. Every
//! authenticated call checks its session here, so a revoked session dies at once.
//! Refresh tokens (`refresh`) hang off a session: ending the session ends them.
pub mod access;
pub mod autologin;
pub mod device;
pub mod refresh;
mod store;
pub mod visitor;

use super::flocks::Flock;
use super::sessions::access::{TokenError, TokenService};
use super::InfraError;
use crate::ids::{FlockId, SessionId, UserId};
pub use autologin::AutologinTokens;
use chrono::{DateTime, Duration, Utc};
pub use device::DeviceTokens;
pub use refresh::{RefreshError, RefreshTokens};
use serde::{Deserialize, Serialize};
pub use store::SessionStore;
pub use visitor::VisitorTokens;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionIdRepr,
    pub flock: String,
    pub user: String,
    pub role: String,
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

pub type SessionIdRepr = String;

/// Where a session was opened from (kept for the session list).
#[derive(Debug, Clone, Default)]
pub struct SessionMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub source: Option<String>,
}

/// A freshly opened session and the credentials that carry it.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    pub session: Session,
    pub access_token: String,
    /// Unix seconds.
    pub access_expires_at: i64,
    /// Opaque refresh token (256 random bits); rotates on every use.
    pub refresh_token: String,
}

/// Opens sessions for every sign-in path (password, activation, one-time code, …), so
/// each path hands out the same credentials.
#[derive(Clone)]
pub struct SessionService {
    pub store: SessionStore,
    pub tokens: TokenService,
    pub refresh: RefreshTokens,
    pub devices: DeviceTokens,
    pub autologin: AutologinTokens,
    pub visitors: VisitorTokens,
}

impl SessionService {
    pub fn new(store: SessionStore, tokens: TokenService) -> Self {
        Self {
            refresh: RefreshTokens::new(store.clone()),
            devices: DeviceTokens::new(store.clone()),
            autologin: AutologinTokens::new(store.clone()),
            visitors: VisitorTokens::new(store.clone()),
            store,
            tokens,
        }
    }

    /// Attaches an anonymous visitor to the user who just signed in. Every sign-in path
    /// that accepts an optional `visitor_token` calls this; an unknown or expired visitor
    /// token is ignored (it must never block a sign-in).
    pub async fn attach_visitor(
        &self,
        flock: FlockId,
        visitor_token: Option<&str>,
        user: UserId,
    ) -> Result<bool, InfraError> {
        match visitor_token {
            Some(t) if !t.is_empty() => self.visitors.attach(flock, t, user).await,
            _ => Ok(false),
        }
    }

    pub async fn open(
        &self,
        flock: &Flock,
        user: UserId,
        role: &str,
        meta: SessionMeta,
    ) -> Result<SessionGrant, TokenError> {
        let session = self
            .store
            .create(
                flock.id,
                user,
                role,
                flock.settings.session_idle_ttl_secs,
                flock.settings.session_absolute_ttl_secs,
                meta,
            )
            .await?;
        let sid = session_id(&session)?;
        let (access_token, access_expires_at) = self.tokens.issue(flock, user, sid, role).await?;
        let refresh_token = self.refresh.issue(flock.id, &session).await?;
        Ok(SessionGrant {
            session,
            access_token,
            access_expires_at,
            refresh_token,
        })
    }

    /// Exchanges a refresh token for a new access token and the next refresh token of
    /// the chain (see [`RefreshTokens::rotate`]).
    pub async fn refresh(
        &self,
        flock: &Flock,
        refresh_token: &str,
    ) -> Result<SessionGrant, RefreshError> {
        let (session, refresh_token) = self
            .refresh
            .rotate(flock.id, refresh_token, flock.settings.refresh_grace_secs)
            .await?;
        let sid = session_id(&session)?;
        let user = UserId(
            session
                .user
                .parse()
                .map_err(|_| InfraError::Internal("session user".into()))?,
        );
        let (access_token, access_expires_at) = self
            .tokens
            .issue(flock, user, sid, &session.role)
            .await
            .map_err(|e| match e {
                TokenError::Infra(i) => RefreshError::Infra(i),
                TokenError::Invalid => RefreshError::Invalid,
            })?;
        Ok(SessionGrant {
            session,
            access_token,
            access_expires_at,
            refresh_token,
        })
    }
}

/// The typed id of a stored session.
pub fn session_id(s: &Session) -> Result<SessionId, InfraError> {
    Ok(SessionId(
        s.id.parse()
            .map_err(|_| InfraError::Internal("session id".into()))?,
    ))
}

/// A new opaque credential: a visible kind prefix and 256 random bits.
pub(crate) fn opaque_token(prefix: &str) -> String {
    format!("{prefix}{}", crate::infra::secret::random_token(32))
}

fn ttl_until(t: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    // Garbage-collection TTL on the store: a little past the domain deadline.
    (t - now + Duration::minutes(5))
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(300))
}

/// Garbage-collection TTL a little past a domain deadline.
pub(crate) fn gc_ttl(until: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    ttl_until(until, now)
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, InfraError> {
    serde_json::to_vec(v).map_err(|e| InfraError::Internal(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, InfraError> {
    serde_json::from_slice(raw).map_err(|e| InfraError::Internal(e.to_string()))
}
