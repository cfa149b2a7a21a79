//! API keys: flock keys for servers (scoped to listed operations) and platform keys for
//! operators. Shown once, stored as a SHA-256 digest, compared in constant time.
use super::InfraError;
use crate::db::Db;
use crate::ids::FlockId;
use crate::infra::clock::Clock;
use crate::infra::secret;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Missing, malformed, unknown or revoked: callers say only "invalid key".
    #[error("invalid API key")]
    Invalid,
    /// The key is valid but its scopes do not list this operation.
    #[error("this API key may not call {0}")]
    Forbidden(&'static str),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<crate::db::DbError> for KeyError {
    fn from(e: crate::db::DbError) -> Self {
        KeyError::Infra(e.into())
    }
}

/// A server authenticated by a flock API key, before its scope is checked.
#[derive(Debug, Clone)]
pub struct ServerKey {
    pub flock: FlockId,
    pub key_id: Uuid,
    scopes: Vec<String>,
}

/// A server allowed to call one operation. Only [`ServerKey::allow`] makes one, so a
/// back-office handler cannot reach its service without checking the scope.
#[derive(Debug, Clone)]
pub struct ServerCaller {
    pub flock: FlockId,
    pub key_id: Uuid,
    pub operation: &'static str,
}

impl ServerKey {
    pub fn allow(&self, operation: &'static str) -> Result<ServerCaller, KeyError> {
        if self.scopes.iter().any(|s| scope_matches(s, operation)) {
            Ok(ServerCaller {
                flock: self.flock,
                key_id: self.key_id,
                operation,
            })
        } else {
            Err(KeyError::Forbidden(operation))
        }
    }
}

/// `*` matches everything, `user_*` a prefix, anything else exactly.
pub fn scope_matches(scope: &str, operation: &str) -> bool {
    match scope.strip_suffix('*') {
        Some(prefix) => operation.starts_with(prefix),
        None => scope == operation,
    }
}

/// A platform operator.
#[derive(Debug, Clone)]
pub struct PlatformCaller {
    pub key_id: Option<Uuid>,
}

const FLOCK_KEY_PREFIX: &str = "fk";
const PLATFORM_KEY_PREFIX: &str = "pk";

/// Splits `fold_<kind>_<prefix>_<secret>` into (kind, prefix).
fn parse_key(presented: &str) -> Option<(&str, &str)> {
    let mut it = presented.splitn(4, '_');
    let (fold, kind, prefix, secret) = (it.next()?, it.next()?, it.next()?, it.next()?);
    (fold == "fold" && prefix.len() == 12 && secret.len() >= 32).then_some((kind, prefix))
}

fn new_secret(kind: &str) -> (String, String) {
    let prefix = secret::random_alnum(12);
    let full = format!("fold_{kind}_{prefix}_{}", secret::random_token(32));
    (prefix, full)
}

#[derive(Clone)]
pub struct ApiKeyService {
    db: Db,
    clock: Clock,
    configured_platform_key: Option<SecretString>,
}

impl ApiKeyService {
    pub fn new(db: Db, clock: Clock, configured_platform_key: Option<SecretString>) -> Self {
        Self {
            db,
            clock,
            configured_platform_key,
        }
    }

    /// A new flock key as a row to store, and its plaintext (shown once).
    pub fn generate(
        flock: FlockId,
        name: &str,
        scopes: Vec<String>,
        now: DateTime<Utc>,
    ) -> (entity::api_key::Model, String) {
        let (prefix, full) = new_secret(FLOCK_KEY_PREFIX);
        let row = entity::api_key::Model {
            id: Uuid::now_v7(),
            flock_id: flock.0,
            prefix,
            secret_hash: secret::digest(&full),
            name: name.to_owned(),
            scopes: serde_json::json!(scopes),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        (row, full)
    }

    pub async fn create(
        &self,
        flock: FlockId,
        name: &str,
        scopes: Vec<String>,
    ) -> Result<(entity::api_key::Model, String), KeyError> {
        let (row, full) = Self::generate(flock, name, scopes, self.clock.now());
        self.db.api_key_insert(row.clone()).await?;
        Ok((row, full))
    }

    /// Authenticates a flock key for `flock`. A key of another flock is simply unknown here.
    pub async fn authenticate(
        &self,
        flock: FlockId,
        presented: &str,
    ) -> Result<ServerKey, KeyError> {
        let Some((FLOCK_KEY_PREFIX, prefix)) = parse_key(presented) else {
            return Err(KeyError::Invalid);
        };
        let row = self
            .db
            .api_key_by_prefix(flock, prefix)
            .await?
            .ok_or(KeyError::Invalid)?;
        if row.revoked_at.is_some() || !secret::ct_eq(&row.secret_hash, &secret::digest(presented))
        {
            return Err(KeyError::Invalid);
        }
        let now = self.clock.now();
        // last_used_at at minute granularity: one write per key per minute, not per call.
        if row
            .last_used_at
            .is_none_or(|t| (now - t).num_seconds() >= 60)
        {
            self.db.api_key_touch(flock, row.id, now).await?;
        }
        let scopes = serde_json::from_value(row.scopes).unwrap_or_default();
        Ok(ServerKey {
            flock,
            key_id: row.id,
            scopes,
        })
    }

    pub async fn authenticate_platform(&self, presented: &str) -> Result<PlatformCaller, KeyError> {
        if let Some(k) = &self.configured_platform_key {
            if secret::ct_eq(
                &secret::digest(k.expose_secret()),
                &secret::digest(presented),
            ) {
                return Ok(PlatformCaller { key_id: None });
            }
        }
        let Some((PLATFORM_KEY_PREFIX, prefix)) = parse_key(presented) else {
            return Err(KeyError::Invalid);
        };
        let row = self
            .db
            .platform_key_by_prefix(prefix)
            .await?
            .ok_or(KeyError::Invalid)?;
        if row.revoked_at.is_some() || !secret::ct_eq(&row.secret_hash, &secret::digest(presented))
        {
            return Err(KeyError::Invalid);
        }
        Ok(PlatformCaller {
            key_id: Some(row.id),
        })
    }

    /// On first start with no platform key anywhere, creates one and returns it (print once).
    pub async fn ensure_platform_key(&self) -> Result<Option<String>, KeyError> {
        if self.configured_platform_key.is_some() || self.db.platform_key_count().await? > 0 {
            return Ok(None);
        }
        Ok(Some(self.create_platform_key("initial").await?))
    }

    pub async fn create_platform_key(&self, name: &str) -> Result<String, KeyError> {
        let (prefix, full) = new_secret(PLATFORM_KEY_PREFIX);
        self.db
            .platform_key_insert(entity::platform_key::Model {
                id: Uuid::now_v7(),
                prefix,
                secret_hash: secret::digest(&full),
                name: name.to_owned(),
                created_at: self.clock.now(),
                revoked_at: None,
            })
            .await?;
        Ok(full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_patterns_match_prefixes_and_exact_names() {
        assert!(scope_matches("*", "user_create"));
        assert!(scope_matches("user_*", "user_create"));
        assert!(!scope_matches("user_*", "flock_update"));
        assert!(scope_matches("user_create", "user_create"));
        assert!(!scope_matches("user_create", "user_create_bulk"));
    }

    #[test]
    fn keys_parse_only_in_their_own_shape() {
        let (_, full) = new_secret("fk");
        assert!(matches!(parse_key(&full), Some(("fk", _))));
        assert!(parse_key("fold_fk_short_x").is_none());
        assert!(parse_key("bearer abc").is_none());
    }
}
