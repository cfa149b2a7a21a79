//! Device tokens: an opaque credential for one device id. Sessions can be paired with a
//! device; signing out with the device token ends every session paired with it.
//! Stored hashed: `dt:{flock}:{digest}` → record, `dts:{flock}:{digest}` → paired sessions.
use super::gc_ttl;
use super::store::{Opaque, SessionStore};
use crate::domain::InfraError;
use crate::ids::{FlockId, SessionId};
use crate::infra::secret;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

const KIND: Opaque = Opaque {
    prefix: "fold_dt_",
    space: "dt",
};
/// A device token lives a year; pairing and use do not extend it.
const LIFETIME_DAYS: i64 = 365;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub device_id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct DeviceTokens {
    store: SessionStore,
}

fn sessions_key(flock: FlockId, token: &str) -> String {
    format!("dts:{flock}:{}", secret::digest_hex(token))
}

impl DeviceTokens {
    pub fn new(store: SessionStore) -> Self {
        Self { store }
    }

    pub async fn issue(
        &self,
        flock: FlockId,
        device_id: &str,
    ) -> Result<(String, DeviceRecord), InfraError> {
        let now = self.store.clock.now();
        let rec = DeviceRecord {
            device_id: device_id.to_owned(),
            created_at: now,
            expires_at: now + Duration::days(LIFETIME_DAYS),
        };
        let token = self
            .store
            .put_new(&KIND, flock, &rec, rec.expires_at)
            .await?;
        Ok((token, rec))
    }

    /// The live device record of a token, or None.
    pub async fn get(
        &self,
        flock: FlockId,
        token: &str,
    ) -> Result<Option<DeviceRecord>, InfraError> {
        let rec = self.store.get_opaque::<DeviceRecord>(&KIND, flock, token);
        let now = self.store.clock.now();
        Ok(rec.await?.map(|(r, _)| r).filter(|r| now < r.expires_at))
    }

    /// Pairs a session with the device; false when the device token is not live.
    pub async fn pair(
        &self,
        flock: FlockId,
        token: &str,
        sid: SessionId,
    ) -> Result<bool, InfraError> {
        let Some(rec) = self.get(flock, token).await? else {
            return Ok(false);
        };
        let now = self.store.clock.now();
        self.store
            .kv
            .sadd(
                &sessions_key(flock, token),
                &sid.to_string(),
                gc_ttl(rec.expires_at, now),
            )
            .await?;
        self.store.set_device(flock, sid, &rec.device_id).await?;
        Ok(true)
    }

    /// Ends every session paired with the device; None when the token is not live.
    pub async fn sign_out(&self, flock: FlockId, token: &str) -> Result<Option<usize>, InfraError> {
        if self.get(flock, token).await?.is_none() {
            return Ok(None);
        }
        let mut n = 0;
        let sk = sessions_key(flock, token);
        for id in self.store.kv.smembers(&sk).await? {
            let Ok(uuid) = id.parse() else { continue };
            let sid = SessionId(uuid);
            if let Some(s) = self.store.get(flock, sid).await? {
                if self.store.revoke(flock, s.user, sid).await? {
                    n += 1;
                }
            }
            self.store.kv.srem(&sk, &id).await?;
        }
        Ok(Some(n))
    }
}
