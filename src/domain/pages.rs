//! Keyset pagination shared by every list of the API: page sizes, and cursors that are
//! opaque, sealed (HMAC-SHA256 with the flock's cursor key) and bound to the list and
//! the filters they were made for — a tampered cursor, or one of another flock, list or
//! filter set, is a clear 400, never another page of rows.
use super::signing::SigningKeys;
use super::{InfraError, Invalid};
use crate::ids::FlockId;
use crate::infra::secret;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 1000;

/// One page: its items and, when there are more, the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// A page size from the request: 1 to 1,000, 50 when absent.
pub fn limit(v: Option<u64>) -> Result<u64, Invalid> {
    match v {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(Invalid::new(
            "invalid_limit",
            "limit",
            "limit must be between 1 and 1000",
        )),
    }
}

fn bad_cursor() -> Invalid {
    Invalid::new(
        "invalid_cursor",
        "cursor",
        "this cursor is not valid for this list (take `next` from the previous page, with the same filters)",
    )
}

#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    /// The list (and filters) the cursor belongs to.
    l: String,
    a: T,
}

/// Makes and opens the cursors of one flock.
#[derive(Clone)]
pub struct Cursors {
    keys: SigningKeys,
}

impl Cursors {
    pub fn new(keys: SigningKeys) -> Self {
        Self { keys }
    }

    fn mac(key: &[u8; 32], payload: &[u8]) -> Result<Vec<u8>, InfraError> {
        let mut m =
            Hmac::<Sha256>::new_from_slice(key).map_err(|e| InfraError::Internal(e.to_string()))?;
        m.update(payload);
        Ok(m.finalize().into_bytes().to_vec())
    }

    /// A cursor for the page after `after` of the list named `list` (which should carry
    /// the filters, e.g. `users?{canonical query}`).
    pub async fn seal<T: Serialize>(
        &self,
        flock: FlockId,
        list: &str,
        after: &T,
    ) -> Result<String, InfraError> {
        let keys = self.keys.for_flock(flock).await?;
        let payload = serde_json::to_vec(&Sealed {
            l: secret::digest_hex(list),
            a: after,
        })
        .map_err(|e| InfraError::Internal(e.to_string()))?;
        let tag = Self::mac(&keys.cursor_key, &payload)?;
        Ok(format!(
            "{}.{}",
            secret::encode_b64url(&payload),
            secret::encode_b64url(&tag)
        ))
    }

    /// What `cursor` says the previous page ended at, if it was made for `list` in this
    /// flock; `Ok(Err(invalid_cursor))` otherwise.
    pub async fn open<T: DeserializeOwned>(
        &self,
        flock: FlockId,
        list: &str,
        cursor: &str,
    ) -> Result<Result<T, Invalid>, InfraError> {
        let keys = self.keys.for_flock(flock).await?;
        let parts = cursor
            .split_once('.')
            .and_then(|(p, t)| Some((secret::decode_b64url(p)?, secret::decode_b64url(t)?)));
        let Some((payload, tag)) = parts.filter(|_| cursor.len() <= 4096) else {
            return Ok(Err(bad_cursor()));
        };
        let want = Self::mac(&keys.cursor_key, &payload)?;
        if !secret::ct_eq(&want, &tag) {
            return Ok(Err(bad_cursor()));
        }
        match serde_json::from_slice::<Sealed<T>>(&payload) {
            Ok(s) if s.l == secret::digest_hex(list) => Ok(Ok(s.a)),
            _ => Ok(Err(bad_cursor())),
        }
    }
}
