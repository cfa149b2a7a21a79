//! Short-lived signed URLs of file parts: `/api/v1/{flock}/files/{id}/{part}?v=…&expires=…
//! &signature=…`, an HMAC under the flock's key (derived from its signing key, so every
//! replica can check it and a key rotation retires the URLs). Expiry is rounded to a
//! window, so the same file has the same URL for a while and browsers can cache it.
use crate::domain::flocks::Flock;
use crate::domain::signing::SigningKeys;
use crate::domain::InfraError;
use crate::infra::clock::Clock;
use crate::infra::secret;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

#[derive(Clone)]
pub struct FileUrls {
    keys: SigningKeys,
    clock: Clock,
    /// A URL is valid for at least this many seconds, at most twice as long.
    ttl: i64,
}

impl FileUrls {
    pub fn new(keys: SigningKeys, clock: Clock, ttl_secs: u64) -> Self {
        Self {
            keys,
            clock,
            ttl: ttl_secs.clamp(60, 7 * 86_400) as i64,
        }
    }

    async fn mac(
        &self,
        flock: &Flock,
        id: Uuid,
        version: Uuid,
        part: &str,
        expires: i64,
    ) -> Result<Vec<u8>, InfraError> {
        let keys = self.keys.for_flock(flock.id).await?;
        let mut m = Hmac::<Sha256>::new_from_slice(&keys.cursor_key)
            .map_err(|e| InfraError::Internal(e.to_string()))?;
        m.update(format!("fold file url v1|{id}|{version}|{part}|{expires}").as_bytes());
        Ok(m.finalize().into_bytes().to_vec())
    }

    /// The signed path of one part of a file.
    pub async fn path(
        &self,
        flock: &Flock,
        id: Uuid,
        version: Uuid,
        part: &str,
    ) -> Result<String, InfraError> {
        let expires = (self.clock.unix() / self.ttl + 2) * self.ttl;
        let sig = self.mac(flock, id, version, part, expires).await?;
        Ok(format!(
            "/api/v1/{}/files/{id}/{part}?v={version}&expires={expires}&signature={}",
            flock.slug,
            secret::encode_b64url(&sig)
        ))
    }

    /// Whether a signature is this flock's for these parts and has not expired.
    pub async fn verify(
        &self,
        flock: &Flock,
        id: Uuid,
        version: Uuid,
        part: &str,
        expires: i64,
        signature: &str,
    ) -> Result<bool, InfraError> {
        if expires < self.clock.unix() {
            return Ok(false);
        }
        let Some(given) = secret::decode_b64url(signature) else {
            return Ok(false);
        };
        let want = self.mac(flock, id, version, part, expires).await?;
        Ok(secret::ct_eq(&want, &given))
    }
}
