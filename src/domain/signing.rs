//! Per-flock Ed25519 signing keys: generation, rotation, the JWKS, and a cache of the
//! decoded keys so verifying a token costs no query.
use super::InfraError;
use crate::db::signing::NewSigningKey;
use crate::db::Db;
use crate::ids::FlockId;
use crate::infra::clock::Clock;
use crate::infra::invalidate::Topic;
use crate::infra::secret;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::SigningKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use moka::sync::Cache;
use std::collections::HashMap;
use std::sync::Arc;

/// How long a retired key keeps verifying: longer than the longest access token.
const RETIRED_VERIFY_WINDOW_SECS: i64 = 2 * 3600;

pub const ALGORITHM: &str = "EdDSA";

/// A public key as published in the JWKS.
#[derive(Debug, Clone)]
pub struct PublicJwk {
    pub kid: String,
    /// base64url of the raw 32-byte Ed25519 public key.
    pub x: String,
}

pub struct FlockKeys {
    /// The key that seals pagination cursors of this flock (derived from the signing key,
    /// so every replica has it and a rotation retires old cursors).
    pub cursor_key: [u8; 32],
    pub signing_kid: String,
    pub signing: EncodingKey,
    pub verifying: HashMap<String, DecodingKey>,
    pub jwks: Vec<PublicJwk>,
}

#[derive(Clone)]
pub struct SigningKeys {
    db: Db,
    clock: Clock,
    cache: Cache<FlockId, Arc<FlockKeys>>,
}

impl SigningKeys {
    pub fn new(db: Db, clock: Clock) -> Self {
        Self {
            db,
            clock,
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(60))
                .build(),
        }
    }

    /// A fresh key pair, as a row to store.
    pub fn generate(now: DateTime<Utc>) -> Result<NewSigningKey, InfraError> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let der = key
            .to_pkcs8_der()
            .map_err(|e| InfraError::Internal(format!("encoding signing key: {e}")))?;
        Ok(NewSigningKey {
            id: uuid::Uuid::now_v7(),
            kid: secret::random_alnum(16),
            algorithm: ALGORITHM.to_owned(),
            private_der: der.as_bytes().to_vec(),
            public_raw: key.verifying_key().to_bytes().to_vec(),
            created_at: now,
        })
    }

    pub async fn for_flock(&self, flock: FlockId) -> Result<Arc<FlockKeys>, InfraError> {
        if let Some(k) = self.cache.get(&flock) {
            return Ok(k);
        }
        let rows = self.db.scoped(flock).signing_keys().await?;
        let now = self.clock.now();
        let window = Duration::seconds(RETIRED_VERIFY_WINDOW_SECS);
        let active = rows
            .iter()
            .find(|r| r.retired_at.is_none())
            .ok_or_else(|| InfraError::Internal(format!("flock {flock} has no signing key")))?;
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        for r in rows
            .iter()
            .filter(|r| r.retired_at.is_none_or(|t| t + window > now))
        {
            verifying.insert(r.kid.clone(), DecodingKey::from_ed_der(&r.public_raw));
            jwks.push(PublicJwk {
                kid: r.kid.clone(),
                x: secret::encode_b64url(&r.public_raw),
            });
        }
        let cursor_key = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(b"fold cursor key v1");
            h.update(&active.private_der);
            h.finalize().into()
        };
        let keys = Arc::new(FlockKeys {
            cursor_key,
            signing_kid: active.kid.clone(),
            signing: EncodingKey::from_ed_der(&active.private_der),
            verifying,
            jwks,
        });
        self.cache.insert(flock, keys.clone());
        Ok(keys)
    }

    /// A new key signs from now on; the old ones keep verifying for a while.
    pub async fn rotate(&self, flock: FlockId) -> Result<String, InfraError> {
        let now = self.clock.now();
        let key = Self::generate(now)?;
        let kid = key.kid.clone();
        self.db.scoped(flock).signing_key_rotate(key, now).await?;
        self.forget(flock);
        Ok(kid)
    }

    /// Drops the flock's cached keys here and on every other replica.
    pub fn forget(&self, flock: FlockId) {
        self.cache.invalidate(&flock);
        self.db.announce(Topic::SigningKeys(flock));
    }

    /// Drops the flock's cached keys on this replica (another one changed them).
    pub fn forget_here(&self, flock: FlockId) {
        self.cache.invalidate(&flock);
    }

    /// Drops every flock's cached keys on this replica.
    pub fn forget_all_here(&self) {
        self.cache.invalidate_all();
    }
}
