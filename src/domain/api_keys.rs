//! API keys: flock keys for servers (scoped to listed operations) and platform keys for
//! operators. Shown once, stored as a SHA-256 digest, compared in constant time.
use super::InfraError;
use crate::db::api_keys::{ApiKeyRow, NewApiKey, PlatformKeyRow};
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
    /// A manager whose admin groups do not grant this operation (at its level).
    #[error("your admin groups do not grant {0}")]
    OperationForbidden(&'static str),
    /// A key may only grant scopes it holds itself.
    #[error("a key cannot grant scopes it does not hold")]
    Escalation,
    #[error("{0}")]
    BadInput(super::Invalid),
    #[error("no such API key")]
    NotFound,
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

/// Who calls the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    ApiKey(Uuid),
    Manager(crate::ids::UserId),
}

/// A caller allowed to call one operation. Only [`ServerKey::allow`] and
/// `ManagerGrants::allow` make one, so a back-office handler cannot reach its service
/// without checking the scope or the grant.
#[derive(Debug, Clone)]
pub struct ServerCaller {
    pub flock: FlockId,
    pub actor: Actor,
    pub operation: &'static str,
}

impl ServerCaller {
    pub(crate) fn new(flock: FlockId, actor: Actor, operation: &'static str) -> Self {
        Self {
            flock,
            actor,
            operation,
        }
    }
}

impl ServerKey {
    pub fn allow(&self, operation: &'static str) -> Result<ServerCaller, KeyError> {
        if self.scopes.iter().any(|s| scope_matches(s, operation)) {
            Ok(ServerCaller::new(
                self.flock,
                Actor::ApiKey(self.key_id),
                operation,
            ))
        } else {
            Err(KeyError::Forbidden(operation))
        }
    }
}

impl ServerKey {
    /// Whether this key holds `requested` (an operation id or a pattern) itself.
    pub fn covers(&self, requested: &str) -> bool {
        self.scopes.iter().any(|h| scope_covers(h, requested))
    }
}

/// Whether holding `holder` implies holding `requested` (both may be patterns).
pub fn scope_covers(holder: &str, requested: &str) -> bool {
    match (holder.strip_suffix('*'), requested.strip_suffix('*')) {
        (Some(h), Some(r)) => r.starts_with(h),
        (Some(h), None) => requested.starts_with(h),
        (None, Some(_)) => false,
        (None, None) => holder == requested,
    }
}

/// Scopes must name real operations: an exact operation id, `*`, or a `prefix*` pattern
/// matching at least one operation of `known`.
pub fn validate_scopes(scopes: &[String], known: &[&str]) -> Result<(), super::Invalid> {
    use super::Invalid;
    if scopes.is_empty() || scopes.len() > 100 {
        return Err(Invalid::new(
            "invalid_scopes",
            "scopes",
            "give between 1 and 100 scopes",
        ));
    }
    for s in scopes {
        let body = s.strip_suffix('*').unwrap_or(s);
        let shape_ok = s.len() <= 100
            && body
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let known_ok = known.iter().any(|op| scope_matches(s, op));
        if !shape_ok || !known_ok {
            return Err(Invalid::new(
                "invalid_scopes",
                "scopes",
                format!("{s:?} is not an operation id or a pattern matching one"),
            ));
        }
    }
    Ok(())
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
    pub fn generate(name: &str, scopes: Vec<String>, now: DateTime<Utc>) -> (NewApiKey, String) {
        let (prefix, full) = new_secret(FLOCK_KEY_PREFIX);
        let row = NewApiKey {
            id: Uuid::now_v7(),
            prefix,
            secret_hash: secret::digest(&full),
            name: name.to_owned(),
            scopes: serde_json::json!(scopes),
            created_at: now,
        };
        (row, full)
    }

    async fn create(
        &self,
        flock: FlockId,
        name: &str,
        scopes: Vec<String>,
    ) -> Result<(ApiKeyRow, String), KeyError> {
        let (row, full) = Self::generate(name, scopes, self.clock.now());
        let row = self.db.scoped(flock).api_key_insert(row).await?;
        Ok((row, full))
    }

    /// Creates a key after checking its name and scopes; `creator` (a flock key) may only
    /// grant scopes it holds itself. The platform passes `None`.
    pub async fn create_checked(
        &self,
        flock: FlockId,
        name: &str,
        scopes: Vec<String>,
        known_operations: &[&str],
        creator: Option<&ServerKey>,
    ) -> Result<(ApiKeyRow, String), KeyError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(KeyError::BadInput(super::Invalid::new(
                "invalid_name",
                "name",
                "name must be 1 to 100 characters",
            )));
        }
        validate_scopes(&scopes, known_operations).map_err(KeyError::BadInput)?;
        if let Some(c) = creator {
            if !scopes.iter().all(|s| c.covers(s)) {
                return Err(KeyError::Escalation);
            }
        }
        self.create(flock, name, scopes).await
    }

    pub async fn list(&self, flock: FlockId) -> Result<Vec<ApiKeyRow>, KeyError> {
        Ok(self.db.scoped(flock).api_key_list().await?)
    }

    /// Revokes at once: the next call with the key is refused.
    pub async fn revoke(&self, flock: FlockId, id: Uuid) -> Result<(), KeyError> {
        if self
            .db
            .scoped(flock)
            .api_key_revoke(id, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(KeyError::NotFound)
        }
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
            .scoped(flock)
            .api_key_by_prefix(prefix)
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
            self.db.scoped(flock).api_key_touch(row.id, now).await?;
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
            .platform_key_insert(PlatformKeyRow {
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
    fn a_holder_covers_only_narrower_scopes() {
        assert!(scope_covers("*", "user_*"));
        assert!(scope_covers("user_*", "user_get*"));
        assert!(scope_covers("user_*", "user_get"));
        assert!(!scope_covers("user_get", "user_*"));
        assert!(!scope_covers("user_*", "*"));
        assert!(!scope_covers("user_get", "user_set"));
    }

    #[test]
    fn scopes_must_name_real_operations() {
        let known = ["create_api_key", "list_api_keys"];
        assert!(validate_scopes(&["create_api_key".into()], &known).is_ok());
        assert!(validate_scopes(&["*".into()], &known).is_ok());
        assert!(validate_scopes(&["list_*".into()], &known).is_ok());
        assert!(validate_scopes(&["nope".into()], &known).is_err());
        assert!(validate_scopes(&["zz*".into()], &known).is_err());
        assert!(validate_scopes(&[], &known).is_err());
    }

    #[test]
    fn keys_parse_only_in_their_own_shape() {
        let (_, full) = new_secret("fk");
        assert!(matches!(parse_key(&full), Some(("fk", _))));
        assert!(parse_key("fold_fk_short_x").is_none());
        assert!(parse_key("bearer abc").is_none());
    }
}
