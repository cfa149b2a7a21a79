//! Visitor tokens for anonymous visitors: request one, check it, mark it active or
//! online; on sign-in the visitor is attached to the user. Stored hashed under
//! `vt:{flock}:{digest}`.
use super::store::{Opaque, SessionStore};
use super::{gc_ttl, to_json};
use crate::domain::InfraError;
use crate::ids::{FlockId, UserId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const KIND: Opaque = Opaque {
    prefix: "fold_vt_",
    space: "vt",
};
const LIFETIME_DAYS: i64 = 30;
/// "Mark online" counts for this long.
pub const ONLINE_SECS: i64 = 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Visitor {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_active_at: DateTime<Utc>,
    pub online_until: Option<DateTime<Utc>>,
    /// The user this visitor turned out to be, once they signed in.
    pub user: Option<UserId>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct VisitorTokens {
    store: SessionStore,
}

/// What to change on a visitor.
enum Mark {
    Active,
    Online,
    Attach(UserId),
}

impl VisitorTokens {
    pub fn new(store: SessionStore) -> Self {
        Self { store }
    }

    pub async fn issue(&self, flock: FlockId) -> Result<(String, Visitor), InfraError> {
        let now = self.store.clock.now();
        let v = Visitor {
            id: Uuid::now_v7(),
            created_at: now,
            last_active_at: now,
            online_until: None,
            user: None,
            expires_at: now + Duration::days(LIFETIME_DAYS),
        };
        let token = self.store.put_new(&KIND, flock, &v, v.expires_at).await?;
        Ok((token, v))
    }

    async fn load(
        &self,
        flock: FlockId,
        token: &str,
    ) -> Result<Option<(Visitor, Vec<u8>)>, InfraError> {
        let found = self
            .store
            .get_opaque::<Visitor>(&KIND, flock, token)
            .await?;
        let now = self.store.clock.now();
        Ok(found.filter(|(v, _)| now < v.expires_at))
    }

    pub async fn check(&self, flock: FlockId, token: &str) -> Result<Option<Visitor>, InfraError> {
        Ok(self.load(flock, token).await?.map(|(v, _)| v))
    }

    async fn mark(
        &self,
        flock: FlockId,
        token: &str,
        m: Mark,
    ) -> Result<Option<Visitor>, InfraError> {
        for _ in 0..8 {
            let Some((mut v, raw)) = self.load(flock, token).await? else {
                return Ok(None);
            };
            let now = self.store.clock.now();
            v.last_active_at = now;
            match m {
                Mark::Active => {}
                Mark::Online => v.online_until = Some(now + Duration::seconds(ONLINE_SECS)),
                Mark::Attach(u) => v.user = Some(u),
            }
            let swapped = self
                .store
                .kv
                .cas(
                    &KIND.key(flock, token),
                    Some(&raw),
                    Some(&to_json(&v)?),
                    gc_ttl(v.expires_at, now),
                )
                .await?;
            if swapped {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    pub async fn mark_active(
        &self,
        flock: FlockId,
        token: &str,
    ) -> Result<Option<Visitor>, InfraError> {
        self.mark(flock, token, Mark::Active).await
    }

    pub async fn mark_online(
        &self,
        flock: FlockId,
        token: &str,
    ) -> Result<Option<Visitor>, InfraError> {
        self.mark(flock, token, Mark::Online).await
    }

    /// Attaches the visitor to `user`; false when the token is unknown or expired.
    pub async fn attach(
        &self,
        flock: FlockId,
        token: &str,
        user: UserId,
    ) -> Result<bool, InfraError> {
        Ok(self.mark(flock, token, Mark::Attach(user)).await?.is_some())
    }
}
