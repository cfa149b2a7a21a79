//! Flocks (tenants): slugs, lifecycle, and the per-request resolution cache.
//! The settings document is in `settings`.
mod settings;

pub use settings::{
    AddressType, EnumerationPolicy, FederationSettings, FileSettings, FlockSettings,
    RetentionSettings, FILE_TYPES,
};

use super::signing::SigningKeys;
use super::{api_keys, InfraError, Invalid};
use crate::db::flocks::FlockRecord;
use crate::db::Db;
use crate::ids::FlockId;
use crate::infra::clock::Clock;
use crate::infra::invalidate::Topic;
use chrono::{DateTime, Utc};
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FlockError {
    #[error("flock not found")]
    NotFound,
    #[error("flock is disabled")]
    Disabled,
    #[error("a flock with this slug already exists")]
    SlugTaken,
    #[error("{0}")]
    Invalid(Invalid),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<crate::db::DbError> for FlockError {
    fn from(e: crate::db::DbError) -> Self {
        FlockError::Infra(e.into())
    }
}

const RESERVED: &[&str] = &[
    "admin",
    "api",
    "app",
    "assets",
    "auth",
    "default",
    "docs",
    "fold",
    "health",
    "healthz",
    "internal",
    "login",
    "metrics",
    "null",
    "openapi",
    "platform",
    "public",
    "readyz",
    "root",
    "static",
    "system",
    "undefined",
    "well-known",
    "www",
];

/// A URL-safe flock slug: lowercase letters, digits and dashes, 2–63 characters, starting
/// and ending with a letter or digit, not a reserved word.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlockSlug(String);

impl FlockSlug {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = |m: &str| Invalid::new("invalid_slug", "slug", m);
        if !(2..=63).contains(&s.len()) {
            return Err(bad("slug must be 2 to 63 characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad(
                "slug may hold only lowercase letters, digits and dashes",
            ));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(bad("slug must start and end with a letter or digit"));
        }
        if RESERVED.contains(&s) {
            return Err(bad("this slug is reserved"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlockStatus {
    Active,
    Disabled,
}

impl FlockStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlockStatus::Active => "active",
            FlockStatus::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Flock {
    pub id: FlockId,
    pub slug: String,
    pub name: String,
    pub status: FlockStatus,
    pub settings: FlockSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Flock {
    fn from_row(r: FlockRecord) -> Result<Self, InfraError> {
        let settings = serde_json::from_value(r.settings).map_err(|e| {
            InfraError::Internal(format!("stored settings of flock {}: {e}", r.slug))
        })?;
        Ok(Self {
            id: r.id,
            slug: r.slug,
            name: r.name,
            status: if r.status == "disabled" {
                FlockStatus::Disabled
            } else {
                FlockStatus::Active
            },
            settings,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    fn to_row(&self) -> Result<FlockRecord, InfraError> {
        Ok(FlockRecord {
            id: self.id,
            slug: self.slug.clone(),
            name: self.name.clone(),
            status: self.status.as_str().to_owned(),
            settings: serde_json::to_value(&self.settings)
                .map_err(|e| InfraError::Internal(e.to_string()))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// What the platform may change on a flock; absent fields stay as they are.
#[derive(Debug, Default)]
pub struct FlockPatch {
    pub name: Option<String>,
    pub settings: Option<FlockSettings>,
    pub status: Option<FlockStatus>,
}

#[derive(Clone)]
pub struct FlockService {
    db: Db,
    clock: Clock,
    signing: SigningKeys,
    /// slug → flock (or None for an unknown slug), so each request costs no query.
    cache: Cache<String, Option<Arc<Flock>>>,
    /// Deleting a flock deletes its users' files.
    files: Option<crate::infra::files::FileStore>,
    /// The deployment's largest upload: a flock's `files.max_bytes` stays under it.
    max_upload: u64,
}

fn validate_name(name: &str) -> Result<String, Invalid> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Invalid::new(
            "invalid_name",
            "name",
            "name must be 1 to 200 characters",
        ));
    }
    Ok(name.to_owned())
}

impl FlockService {
    pub fn new(db: Db, clock: Clock, signing: SigningKeys) -> Self {
        Self {
            db,
            clock,
            signing,
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(10))
                .build(),
            files: None,
            max_upload: u64::MAX,
        }
    }

    /// Creates a flock with its signing key and first admin API key (returned in clear once).
    pub async fn create(
        &self,
        slug: &str,
        name: Option<&str>,
        settings: FlockSettings,
    ) -> Result<(Flock, String), FlockError> {
        let slug = FlockSlug::parse(slug).map_err(FlockError::Invalid)?;
        let name = validate_name(name.unwrap_or(slug.as_str())).map_err(FlockError::Invalid)?;
        self.check(&settings)?;
        let now = self.clock.now();
        let flock = Flock {
            id: FlockId::new(),
            slug: slug.as_str().to_owned(),
            name,
            status: FlockStatus::Active,
            settings,
            created_at: now,
            updated_at: now,
        };
        let key = SigningKeys::generate(now)?;
        let (admin, plaintext) =
            api_keys::ApiKeyService::generate("admin", vec!["*".to_owned()], now);
        match self.db.flock_create(flock.to_row()?, key, admin).await {
            Ok(()) => {}
            Err(crate::db::DbError::Conflict(_)) => return Err(FlockError::SlugTaken),
            Err(e) => return Err(e.into()),
        }
        self.forget(&flock.slug);
        Ok((flock, plaintext))
    }

    /// Drops the cached flock here and on every other replica.
    fn forget(&self, slug: &str) {
        self.cache.invalidate(slug);
        self.db.announce(Topic::Flock(slug.to_owned()));
    }

    /// Drops the cached flock on this replica (another one changed it).
    pub fn forget_here(&self, slug: &str) {
        self.cache.invalidate(slug);
    }

    /// Drops every cached flock on this replica.
    pub fn forget_all_here(&self) {
        self.cache.invalidate_all();
    }

    /// The flock of a tenant route: unknown → NotFound, disabled → Disabled.
    pub async fn resolve(&self, slug: &str) -> Result<Arc<Flock>, FlockError> {
        match self.lookup(slug).await? {
            None => Err(FlockError::NotFound),
            Some(f) if f.status == FlockStatus::Disabled => Err(FlockError::Disabled),
            Some(f) => Ok(f),
        }
    }

    /// The flock whatever its status (platform operations).
    pub async fn get(&self, slug: &str) -> Result<Arc<Flock>, FlockError> {
        self.lookup(slug).await?.ok_or(FlockError::NotFound)
    }

    async fn lookup(&self, slug: &str) -> Result<Option<Arc<Flock>>, FlockError> {
        if let Some(hit) = self.cache.get(slug) {
            return Ok(hit);
        }
        // Slugs that cannot exist never reach the database (or fill the cache).
        if FlockSlug::parse(slug).is_err() {
            return Ok(None);
        }
        let found = match self.db.flock_by_slug(slug).await? {
            Some(row) => Some(Arc::new(Flock::from_row(row)?)),
            None => None,
        };
        self.cache.insert(slug.to_owned(), found.clone());
        Ok(found)
    }

    pub async fn list(&self, after: Option<&str>, limit: u64) -> Result<Vec<Flock>, FlockError> {
        let rows = self.db.flock_list(after, limit).await?;
        rows.into_iter()
            .map(|r| Flock::from_row(r).map_err(FlockError::from))
            .collect()
    }

    pub async fn update(&self, slug: &str, patch: FlockPatch) -> Result<Flock, FlockError> {
        let current = self.get(slug).await?;
        let mut next = (*current).clone();
        if let Some(name) = patch.name {
            next.name = validate_name(&name).map_err(FlockError::Invalid)?;
        }
        if let Some(settings) = patch.settings {
            self.check(&settings)?;
            next.settings = settings;
        }
        if let Some(status) = patch.status {
            next.status = status;
        }
        next.updated_at = self.clock.now();
        let row = self.db.flock_update(next.to_row()?).await?;
        self.forget(slug);
        Ok(Flock::from_row(row)?)
    }

    pub fn with_file_store(
        mut self,
        files: crate::infra::files::FileStore,
        max_upload: u64,
    ) -> Self {
        self.files = Some(files);
        self.max_upload = max_upload;
        self
    }

    /// The settings' own rules, and the deployment's upload limit.
    fn check(&self, settings: &FlockSettings) -> Result<(), FlockError> {
        settings.validate().map_err(FlockError::Invalid)?;
        if settings.files.max_bytes > self.max_upload {
            return Err(FlockError::Invalid(Invalid::new(
                "invalid_setting",
                "settings.files.max_bytes",
                format!(
                    "at most the deployment's upload limit, {} bytes",
                    self.max_upload
                ),
            )));
        }
        Ok(())
    }

    /// Deletes the flock and everything it owns: its users' file bytes first (a store
    /// that is down stops the deletion rather than leave them behind), then the rows.
    pub async fn delete(&self, slug: &str) -> Result<(), FlockError> {
        let flock = self.get(slug).await?;
        if let Some(files) = &self.files {
            files
                .delete_prefix(&flock.id.to_string())
                .await
                .map_err(InfraError::from)?;
        }
        self.db.flock_delete(flock.id).await?;
        self.forget(slug);
        self.signing.forget(flock.id);
        Ok(())
    }
}
