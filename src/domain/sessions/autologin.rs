//! Autologin tokens: single use, short-lived, issued to a signed-in user (or by the back
//! office for a user) and exchanged, together with a device token, for a new session.
//! Stored hashed under `al:{flock}:{digest}`; redeeming takes the record atomically, so
//! two redemptions of one token cannot both succeed.
use super::from_json;
use super::store::{Opaque, SessionStore};
use crate::domain::InfraError;
use crate::ids::{FlockId, UserId};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

const KIND: Opaque = Opaque {
    prefix: "fold_al_",
    space: "al",
};
/// How long an autologin token may wait to be redeemed.
pub const LIFETIME_SECS: i64 = 120;

/// Who asked for an autologin token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Issuer {
    /// The signed-in user, for themselves.
    User,
    /// A server of the flock (API key), for one of its users.
    BackOffice,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AutologinRecord {
    pub user: UserId,
    pub expires_at: DateTime<Utc>,
    pub issued_by: Issuer,
}

#[derive(Clone)]
pub struct AutologinTokens {
    store: SessionStore,
}

impl AutologinTokens {
    pub fn new(store: SessionStore) -> Self {
        Self { store }
    }

    pub async fn issue(
        &self,
        flock: FlockId,
        user: UserId,
        issued_by: Issuer,
    ) -> Result<(String, DateTime<Utc>), InfraError> {
        let now = self.store.clock.now();
        let rec = AutologinRecord {
            user,
            expires_at: now + Duration::seconds(LIFETIME_SECS),
            issued_by,
        };
        let token = self
            .store
            .put_new(&KIND, flock, &rec, rec.expires_at)
            .await?;
        Ok((token, rec.expires_at))
    }

    /// Consumes the token: its user, once, if it has not expired.
    pub async fn redeem(&self, flock: FlockId, token: &str) -> Result<Option<UserId>, InfraError> {
        if !KIND.well_formed(token) {
            return Ok(None);
        }
        let Some(raw) = self.store.kv.take(&KIND.key(flock, token)).await? else {
            return Ok(None);
        };
        let rec: AutologinRecord = from_json(&raw)?;
        if self.store.clock.now() >= rec.expires_at {
            return Ok(None);
        }
        Ok(Some(rec.user))
    }
}
