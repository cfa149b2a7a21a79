//! Sessions live in the KV store: one record per session and an index per user. Every
//! authenticated call checks its session here, so a revoked session dies at once.
//! Refresh tokens (`refresh`) hang off a session: ending the session ends them.
pub mod autologin;
pub mod device;
pub mod refresh;
pub mod visitor;

use super::flock::Flock;
use super::tokens::{TokenError, TokenService};
use super::InfraError;
use crate::ids::{FlockId, SessionId, UserId};
use crate::infra::clock::Clock;
use crate::infra::kv::Kv;
pub use autologin::AutologinTokens;
use chrono::{DateTime, Duration, Utc};
pub use device::DeviceTokens;
pub use refresh::{RefreshError, RefreshTokens};
use serde::{Deserialize, Serialize};
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

/// Using a session moves its idle deadline at most once per this many seconds, so the
/// hot path costs one KV read and, rarely, one compare-and-swap.
const TOUCH_EVERY_SECS: i64 = 60;

pub type SessionIdRepr = String;

/// Where a session was opened from (kept for the session list).
#[derive(Debug, Clone, Default)]
pub struct SessionMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub source: Option<String>,
}

#[derive(Clone)]
pub struct SessionStore {
    kv: Kv,
    clock: Clock,
}

fn key(flock: FlockId, sid: SessionId) -> String {
    format!("sess:{flock}:{sid}")
}

fn user_index(flock: FlockId, user: UserId) -> String {
    format!("usess:{flock}:{user}")
}

fn ttl_until(t: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    // Garbage-collection TTL on the store: a little past the domain deadline.
    (t - now + Duration::minutes(5))
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(300))
}

impl SessionStore {
    pub fn new(kv: Kv, clock: Clock) -> Self {
        Self { kv, clock }
    }

    pub async fn create(
        &self,
        flock: FlockId,
        user: UserId,
        role: &str,
        idle_secs: u32,
        absolute_secs: u32,
        meta: SessionMeta,
    ) -> Result<Session, InfraError> {
        let now = self.clock.now();
        let sid = SessionId::new();
        let expires_at = now + Duration::seconds(i64::from(absolute_secs));
        let s = Session {
            id: sid.to_string(),
            flock: flock.to_string(),
            user: user.to_string(),
            role: role.to_owned(),
            created_at: now,
            last_seen_at: now,
            idle_expires_at: (now + Duration::seconds(i64::from(idle_secs))).min(expires_at),
            expires_at,
            ip: meta.ip,
            user_agent: meta.user_agent,
            source: meta.source,
            idle_secs,
            online_until: None,
            device: None,
        };
        let body = serde_json::to_vec(&s).map_err(|e| InfraError::Internal(e.to_string()))?;
        // Index first: a session that exists is always findable for "sign out everywhere".
        self.kv
            .sadd(&user_index(flock, user), &s.id, ttl_until(expires_at, now))
            .await?;
        self.kv
            .set(&key(flock, sid), &body, ttl_until(expires_at, now))
            .await?;
        Ok(s)
    }

    async fn load(
        &self,
        flock: FlockId,
        sid: SessionId,
    ) -> Result<Option<(Session, Vec<u8>)>, InfraError> {
        let Some(raw) = self.kv.get(&key(flock, sid)).await? else {
            return Ok(None);
        };
        let s: Session =
            serde_json::from_slice(&raw).map_err(|e| InfraError::Internal(e.to_string()))?;
        let now = self.clock.now();
        if s.flock != flock.to_string() || now >= s.expires_at || now >= s.idle_expires_at {
            return Ok(None);
        }
        Ok(Some((s, raw)))
    }

    /// The live session, or None when unknown, revoked or past either deadline.
    pub async fn get(&self, flock: FlockId, sid: SessionId) -> Result<Option<Session>, InfraError> {
        Ok(self.load(flock, sid).await?.map(|(s, _)| s))
    }

    /// The live session, marked as used: `last_seen_at` and the idle deadline move on at
    /// most once a minute. The write is a compare-and-swap on the exact record read, so
    /// a session revoked in between is never brought back.
    pub async fn check(
        &self,
        flock: FlockId,
        sid: SessionId,
    ) -> Result<Option<Session>, InfraError> {
        let Some((s, raw)) = self.load(flock, sid).await? else {
            return Ok(None);
        };
        if (self.clock.now() - s.last_seen_at).num_seconds() < TOUCH_EVERY_SECS {
            return Ok(Some(s));
        }
        Ok(Some(self.touch(flock, sid, s, &raw).await?))
    }

    /// Marks the session used now (see [`Self::check`]); a lost race keeps the record as is.
    async fn touch(
        &self,
        flock: FlockId,
        sid: SessionId,
        mut s: Session,
        raw: &[u8],
    ) -> Result<Session, InfraError> {
        let now = self.clock.now();
        let idle = if s.idle_secs > 0 {
            Duration::seconds(i64::from(s.idle_secs))
        } else {
            s.idle_expires_at - s.last_seen_at
        };
        s.last_seen_at = now;
        s.idle_expires_at = (now + idle).min(s.expires_at);
        // `raw` is the record as read; the new body differs from it (time moved on, or
        // the caller changed a field), so the swap fails only if someone else wrote.
        let body = serde_json::to_vec(&s).map_err(|e| InfraError::Internal(e.to_string()))?;
        self.kv
            .cas(
                &key(flock, sid),
                Some(raw),
                Some(&body),
                ttl_until(s.expires_at, now),
            )
            .await?;
        Ok(s)
    }

    /// Records the device the session is paired with (shown in the session list).
    pub async fn set_device(
        &self,
        flock: FlockId,
        sid: SessionId,
        device_id: &str,
    ) -> Result<bool, InfraError> {
        let Some((mut s, raw)) = self.load(flock, sid).await? else {
            return Ok(false);
        };
        s.device = Some(device_id.to_owned());
        self.touch(flock, sid, s, &raw).await?;
        Ok(true)
    }

    /// Marks the session online for `secs` (presence), and used.
    pub async fn mark_online(
        &self,
        flock: FlockId,
        sid: SessionId,
        secs: u32,
    ) -> Result<Option<Session>, InfraError> {
        let Some((mut s, raw)) = self.load(flock, sid).await? else {
            return Ok(None);
        };
        s.online_until = Some(self.clock.now() + Duration::seconds(i64::from(secs)));
        Ok(Some(self.touch(flock, sid, s, &raw).await?))
    }

    /// Marks the session used now whatever the last touch (refresh, "mark active").
    pub async fn touch_now(
        &self,
        flock: FlockId,
        sid: SessionId,
    ) -> Result<Option<Session>, InfraError> {
        let Some((s, raw)) = self.load(flock, sid).await? else {
            return Ok(None);
        };
        Ok(Some(self.touch(flock, sid, s, &raw).await?))
    }

    pub async fn revoke(
        &self,
        flock: FlockId,
        user: UserId,
        sid: SessionId,
    ) -> Result<bool, InfraError> {
        let existed = self.kv.del(&key(flock, sid)).await?;
        self.kv
            .srem(&user_index(flock, user), &sid.to_string())
            .await?;
        Ok(existed)
    }

    pub async fn list(&self, flock: FlockId, user: UserId) -> Result<Vec<Session>, InfraError> {
        let mut out = Vec::new();
        for id in self.kv.smembers(&user_index(flock, user)).await? {
            let Ok(uuid) = id.parse() else { continue };
            if let Some(s) = self.get(flock, SessionId(uuid)).await? {
                out.push(s);
            }
        }
        out.sort_by_key(|s| s.created_at);
        Ok(out)
    }

    /// Ends every session of the user except `keep`; returns how many ended. Their
    /// refresh tokens die with them (a refresh checks its session is alive).
    pub async fn revoke_all(
        &self,
        flock: FlockId,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<usize, InfraError> {
        let keep = keep.map(|k| k.to_string());
        let mut n = 0;
        for id in self.kv.smembers(&user_index(flock, user)).await? {
            if Some(&id) == keep.as_ref() {
                continue;
            }
            if let Ok(uuid) = id.parse() {
                if self.revoke(flock, user, SessionId(uuid)).await? {
                    n += 1;
                }
            }
        }
        Ok(n)
    }
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
