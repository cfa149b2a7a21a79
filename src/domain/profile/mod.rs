//! Profile data: each flock's field schema and its users' values (the "client card").
//! - `schema` — the document's types and [`Schema::check`];
//! - `values` — a value against its field (type, validators, normalisation, search key);
//! - `change` — replacing the schema without corrupting stored values;
//! - `card` — the card of a user as the user or the back office sees it, and its
//!   per-field edit.
//!
//! [`Schemas`] loads a flock's schema (cached 2 s, dropped at once on this replica when
//! it changes) and checks the values a new account comes with; [`UserService`] holds it
//! so every account creation checks them the same way.
//!
//! [`UserService`]: crate::domain::user::UserService
pub mod card;
pub mod change;
pub mod schema;
pub mod values;

use crate::db::profile::NewValue;
use crate::db::{Db, FlockId};
use crate::domain::{InfraError, Invalid};
use crate::infra::clock::Clock;
use schema::Schema;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Who reads or writes values: the user (their card, registration) or the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    User,
    BackOffice,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{0}")]
    Invalid(Invalid),
    /// The schema changed since the version the caller edited.
    #[error("the schema is at version {0}; reload it and apply the change again")]
    VersionConflict(i64),
    /// Stored values the new schema would not accept: (field, how many).
    #[error("stored values do not fit the new schema")]
    Blocked(Vec<(String, u64)>),
    #[error("the field is still defined")]
    FieldDefined,
    #[error("user not found")]
    UserNotFound,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<Invalid> for ProfileError {
    fn from(i: Invalid) -> Self {
        ProfileError::Invalid(i)
    }
}

impl From<crate::db::DbError> for ProfileError {
    fn from(e: crate::db::DbError) -> Self {
        ProfileError::Infra(e.into())
    }
}

/// Loads flocks' schemas.
#[derive(Clone)]
pub struct Schemas {
    db: Db,
    cache: moka::sync::Cache<FlockId, Arc<Schema>>,
}

impl Schemas {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cache: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(2))
                .build(),
        }
    }

    /// The flock's schema (version 0 and empty when never defined).
    pub async fn get(&self, flock: FlockId) -> Result<Arc<Schema>, InfraError> {
        if let Some(s) = self.cache.get(&flock) {
            return Ok(s);
        }
        let schema = match self.db.scoped(flock).profile_schema().await? {
            Some((version, doc)) => {
                let mut s: Schema = serde_json::from_value(doc)
                    .map_err(|e| InfraError::Internal(format!("stored schema: {e}")))?;
                s.version = version;
                s
            }
            None => Schema::default(),
        };
        let schema = Arc::new(schema);
        self.cache.insert(flock, schema.clone());
        Ok(schema)
    }

    fn forget(&self, flock: FlockId) {
        self.cache.invalidate(&flock);
    }

    /// Drops the flock's cached schema on this replica (another one changed it; the
    /// database layer announced it).
    pub fn forget_here(&self, flock: FlockId) {
        self.cache.invalidate(&flock);
    }

    /// Drops every cached schema on this replica.
    pub fn forget_all_here(&self) {
        self.cache.invalidate_all();
    }

    /// The values a new account comes with, checked all together: from a registration,
    /// only fields asked at registration (and, when `require`, every required one of
    /// those must be there); from the back office, any field it may edit. The first bad
    /// one is the error, named `fields.<name>`.
    pub async fn account_values(
        &self,
        flock: FlockId,
        input: &BTreeMap<String, Value>,
        viewer: Viewer,
        require: bool,
    ) -> Result<Vec<NewValue>, ProfileError> {
        if input.is_empty() && !require {
            return Ok(Vec::new());
        }
        let schema = self.get(flock).await?;
        if viewer == Viewer::User && require {
            for f in schema.fields.iter().filter(|f| f.at_registration) {
                let given = input.get(&f.name).is_some_and(|v| !v.is_null());
                if f.validators.required && !given {
                    return Err(Invalid::at(
                        "field_required",
                        format!("fields.{}", f.name),
                        format!("`{}` is required", f.name),
                    )
                    .into());
                }
            }
        }
        let mut out = Vec::new();
        for (name, value) in input {
            let at = format!("fields.{name}");
            let Some(field) = schema.field(name) else {
                return Err(Invalid::at("unknown_field", at, format!("no field `{name}`")).into());
            };
            let allowed = match viewer {
                Viewer::User => field.at_registration,
                Viewer::BackOffice => field.back_office_edit,
            };
            if !allowed {
                return Err(Invalid::at(
                    "field_not_editable",
                    at,
                    format!("`{name}` cannot be given here"),
                )
                .into());
            }
            match values::check(field, value) {
                Ok(Some(c)) => out.push(NewValue {
                    field: name.clone(),
                    value: c.value,
                    key: c.key,
                    public: field.shown_publicly(),
                }),
                Ok(None) => {}
                Err(e) => return Err(Invalid::at(e.code, at, e.message).into()),
            }
        }
        Ok(out)
    }

    /// The back office's edit of a user's values, all or nothing: each given field is
    /// set, or cleared by null; the first bad one is the error, named `fields.<name>`.
    pub async fn back_office_edits(
        &self,
        flock: FlockId,
        input: &BTreeMap<String, Value>,
    ) -> Result<Vec<(String, Option<NewValue>)>, ProfileError> {
        let schema = self.get(flock).await?;
        let mut out = Vec::new();
        for (name, value) in input {
            let at = format!("fields.{name}");
            let Some(field) = schema.field(name) else {
                return Err(Invalid::at("unknown_field", at, format!("no field `{name}`")).into());
            };
            if !field.back_office_edit {
                return Err(Invalid::at(
                    "field_not_editable",
                    at,
                    format!("`{name}` cannot be edited"),
                )
                .into());
            }
            let checked = values::check(field, value)
                .map_err(|e| Invalid::at(e.code, at, e.message))?
                .map(|c| NewValue {
                    field: name.clone(),
                    value: c.value,
                    key: c.key,
                    public: field.shown_publicly(),
                });
            out.push((name.clone(), checked));
        }
        Ok(out)
    }
}

/// The schema, the card and the values of a flock's users.
#[derive(Clone)]
pub struct ProfileService {
    db: Db,
    clock: Clock,
    schemas: Schemas,
    /// The card lists the user's files.
    files: Option<crate::domain::files::FileService>,
}

impl ProfileService {
    pub fn with_files(mut self, files: crate::domain::files::FileService) -> Self {
        self.files = Some(files);
        self
    }

    pub fn new(db: Db, clock: Clock, schemas: Schemas) -> Self {
        Self {
            db,
            clock,
            schemas,
            files: None,
        }
    }

    pub async fn schema(&self, flock: FlockId) -> Result<Arc<Schema>, ProfileError> {
        Ok(self.schemas.get(flock).await?)
    }

    /// An account of this flock that is not anonymised.
    async fn holder(&self, flock: FlockId, user: crate::ids::UserId) -> Result<(), ProfileError> {
        if self.db.scoped(flock).user_is_live(user).await? {
            Ok(())
        } else {
            Err(ProfileError::UserNotFound)
        }
    }
}
