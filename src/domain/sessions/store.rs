//! The session store: session records and the per-user index in the KV store (create,
//! check and touch, presence, revoke one or all).
use super::{from_json, gc_ttl, opaque_token, to_json, Session, SessionMeta};
use crate::domain::user::Role;
use crate::domain::InfraError;
use crate::ids::{FlockId, SessionId, UserId};
use crate::infra::clock::Clock;
use crate::infra::kv::{Kv, Step};
use chrono::Duration;

/// Using a session moves its idle deadline at most once per this many seconds, so the
/// hot path costs one KV read and, rarely, one compare-and-swap.
const TOUCH_EVERY_SECS: i64 = 60;

/// A kind of opaque credential kept in the KV store under its digest: the visible prefix
/// of its tokens and its key space (`{space}:{flock}:{sha256 hex}`).
pub(super) struct Opaque {
    pub prefix: &'static str,
    pub space: &'static str,
}

impl Opaque {
    pub(super) fn key(&self, flock: FlockId, token: &str) -> String {
        format!(
            "{}:{flock}:{}",
            self.space,
            crate::infra::secret::digest_hex(token)
        )
    }

    /// Whether `token` can be one of ours at all (anything else is not looked up).
    pub(super) fn well_formed(&self, token: &str) -> bool {
        token.len() <= 128 && token.starts_with(self.prefix)
    }
}

#[derive(Clone)]
pub struct SessionStore {
    pub(super) kv: Kv,
    pub(super) clock: Clock,
}

fn key(flock: FlockId, sid: SessionId) -> String {
    format!("sess:{flock}:{sid}")
}

fn user_index(flock: FlockId, user: UserId) -> String {
    format!("usess:{flock}:{user}")
}

impl SessionStore {
    pub fn new(kv: Kv, clock: Clock) -> Self {
        Self { kv, clock }
    }

    /// Stores `rec` under a new token of `kind`, kept a little past `until`; the token.
    pub(super) async fn put_new<T: serde::Serialize>(
        &self,
        kind: &Opaque,
        flock: FlockId,
        rec: &T,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, InfraError> {
        let token = opaque_token(kind.prefix);
        let ttl = gc_ttl(until, self.clock.now());
        self.kv
            .set(&kind.key(flock, &token), &to_json(rec)?, ttl)
            .await?;
        Ok(token)
    }

    /// The record of a token of `kind` and its stored bytes (for a compare-and-swap), or
    /// None for a token that is not of that kind or not stored.
    pub(super) async fn get_opaque<T: serde::de::DeserializeOwned>(
        &self,
        kind: &Opaque,
        flock: FlockId,
        token: &str,
    ) -> Result<Option<(T, Vec<u8>)>, InfraError> {
        if !kind.well_formed(token) {
            return Ok(None);
        }
        let Some(raw) = self.kv.get(&kind.key(flock, token)).await? else {
            return Ok(None);
        };
        Ok(Some((from_json(&raw)?, raw)))
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn create(
        &self,
        flock: FlockId,
        user: UserId,
        role: Role,
        idle_secs: u32,
        absolute_secs: u32,
        meta: SessionMeta,
        also: impl FnOnce(&Session) -> Result<Vec<Step>, InfraError>,
    ) -> Result<Session, InfraError> {
        let now = self.clock.now();
        let sid = SessionId::new();
        let expires_at = now + Duration::seconds(i64::from(absolute_secs));
        let s = Session {
            id: sid,
            flock: flock.to_string(),
            user,
            role,
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
        // The record, its index and what the caller adds (its first refresh token) in one
        // atomic step: a session that exists is always findable for "sign out
        // everywhere", and never exists without its token.
        let ttl = gc_ttl(expires_at, now);
        let mut steps = vec![
            Step::Sadd {
                key: user_index(flock, user),
                member: sid.to_string(),
                ttl,
            },
            Step::Set {
                key: key(flock, sid),
                value: body,
                ttl,
            },
        ];
        steps.extend(also(&s)?);
        self.kv.apply(steps).await?;
        Ok(s)
    }

    /// The live session and its stored bytes (for a compare-and-swap).
    pub(super) async fn load(
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
        self.mark_used(flock, sid, false).await
    }

    /// Marks the session used now whatever the last touch (refresh, "mark active").
    pub async fn touch_now(
        &self,
        flock: FlockId,
        sid: SessionId,
    ) -> Result<Option<Session>, InfraError> {
        self.mark_used(flock, sid, true).await
    }

    /// The live session, marked used now (`always`) or when its last use is a minute old.
    async fn mark_used(
        &self,
        flock: FlockId,
        sid: SessionId,
        always: bool,
    ) -> Result<Option<Session>, InfraError> {
        let Some((s, raw)) = self.load(flock, sid).await? else {
            return Ok(None);
        };
        let recent = (self.clock.now() - s.last_seen_at).num_seconds() < TOUCH_EVERY_SECS;
        if recent && !always {
            return Ok(Some(s));
        }
        Ok(Some(self.touch(flock, sid, s, &raw).await?))
    }

    /// Marks the session used now (see [`Self::check`]); a lost race keeps the record as is.
    async fn touch(
        &self,
        flock: FlockId,
        sid: SessionId,
        s: Session,
        raw: &[u8],
    ) -> Result<Session, InfraError> {
        let (s, step) = self.touched(flock, sid, s, raw)?;
        if let Step::Cas {
            key,
            expected,
            new,
            ttl,
        } = step
        {
            self.kv
                .cas(&key, expected.as_deref(), new.as_deref(), ttl)
                .await?;
        }
        Ok(s)
    }

    /// The session marked used now, and the compare-and-swap that stores it (for
    /// [`Kv::apply`] with other steps).
    pub(super) fn touched(
        &self,
        flock: FlockId,
        sid: SessionId,
        mut s: Session,
        raw: &[u8],
    ) -> Result<(Session, Step), InfraError> {
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
        let step = Step::Cas {
            key: key(flock, sid),
            expected: Some(raw.to_vec()),
            new: Some(body),
            ttl: gc_ttl(s.expires_at, now),
        };
        Ok((s, step))
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
    ) -> Result<Vec<SessionId>, InfraError> {
        let keep = keep.map(|k| k.to_string());
        let mut ended = Vec::new();
        for id in self.kv.smembers(&user_index(flock, user)).await? {
            if Some(&id) == keep.as_ref() {
                continue;
            }
            if let Ok(uuid) = id.parse() {
                if self.revoke(flock, user, SessionId(uuid)).await? {
                    ended.push(SessionId(uuid));
                }
            }
        }
        Ok(ended)
    }
}
