//! Replacing a flock's schema without corrupting stored values: a field whose type,
//! options or validators change has its stored values checked against the new
//! definition; any that no longer fit block the change (with a count per field) unless
//! the caller asks to drop them. A removed field keeps its values, hidden, until they
//! are purged explicitly; defining it again brings them back (checked the same way).
use super::schema::{Group, Schema};
use super::values::{check, coerce};
use super::{ProfileError, ProfileService};
use crate::db::profile::{NewValue, SchemaWrite};
use crate::db::FlockId;
use crate::domain::Invalid;
use std::sync::Arc;

/// A new schema, edited from version `version`.
#[derive(Debug, Clone)]
pub struct SchemaChange {
    pub version: i64,
    pub groups: Vec<Group>,
    pub fields: Vec<super::schema::Field>,
    /// Delete the stored values the new definitions refuse, instead of refusing.
    pub drop_invalid: bool,
}

/// What a change did.
#[derive(Debug, Clone)]
pub struct SchemaChanged {
    pub schema: Arc<Schema>,
    /// (field, values dropped) under `drop_invalid`.
    pub dropped: Vec<(String, u64)>,
    /// (field, values normalised to the new definition), e.g. a text field become a number.
    pub rewritten: Vec<(String, u64)>,
}

/// Values checked per database page.
const PAGE: u64 = 1000;

impl ProfileService {
    pub async fn put_schema(
        &self,
        flock: FlockId,
        c: SchemaChange,
    ) -> Result<SchemaChanged, ProfileError> {
        let new = Schema {
            version: c.version,
            groups: c.groups,
            fields: c.fields,
        };
        new.check()?;
        let old = self.schemas.get(flock).await?;
        if old.version != c.version {
            return Err(ProfileError::VersionConflict(old.version));
        }
        let db = self.db.scoped(flock);
        let mut w = SchemaWrite::default();
        let (mut blocked, mut dropped, mut rewritten) = (Vec::new(), Vec::new(), Vec::new());
        for field in &new.fields {
            let unchanged = old.field(&field.name).is_some_and(|o| {
                o.kind == field.kind
                    && o.options == field.options
                    && o.validators == field.validators
            });
            w.public.push((field.name.clone(), field.shown_publicly()));
            if unchanged {
                continue;
            }
            // Changed, new, or defined again over retired values: check what is stored.
            let (mut bad, mut rewrite, mut after) = (Vec::new(), Vec::new(), None);
            loop {
                let page = db.profile_field_values(&field.name, after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.0);
                for (user, value) in &page {
                    match check(field, &coerce(field, value)) {
                        Ok(Some(c)) => {
                            if c.value != *value || field.kind != old_kind(&old, &field.name) {
                                rewrite.push((
                                    *user,
                                    NewValue {
                                        field: field.name.clone(),
                                        value: c.value,
                                        key: c.key,
                                        public: field.shown_publicly(),
                                    },
                                ));
                            }
                        }
                        Ok(None) | Err(_) => bad.push(*user),
                    }
                }
                if (page.len() as u64) < PAGE {
                    break;
                }
            }
            if !bad.is_empty() {
                if c.drop_invalid {
                    dropped.push((field.name.clone(), bad.len() as u64));
                    w.drop.push((field.name.clone(), bad));
                } else {
                    blocked.push((field.name.clone(), bad.len() as u64));
                }
            }
            if !rewrite.is_empty() {
                rewritten.push((field.name.clone(), rewrite.len() as u64));
                w.rewrite.extend(rewrite);
            }
        }
        if !blocked.is_empty() {
            return Err(ProfileError::Blocked(blocked));
        }
        w.retired = old
            .fields
            .iter()
            .filter(|f| new.field(&f.name).is_none())
            .map(|f| f.name.clone())
            .collect();
        w.doc = serde_json::to_value(&new)
            .map_err(|e| crate::domain::InfraError::Internal(e.to_string()))?;
        let version = db
            .profile_schema_put(c.version, w, self.clock.now())
            .await?
            .ok_or(ProfileError::VersionConflict(c.version + 1))?;
        self.schemas.forget(flock);
        let mut schema = new;
        schema.version = version;
        Ok(SchemaChanged {
            schema: Arc::new(schema),
            dropped,
            rewritten,
        })
    }

    /// Deletes the stored values of a field the schema no longer defines; how many.
    pub async fn purge(&self, flock: FlockId, field: &str) -> Result<u64, ProfileError> {
        let schema = self.schemas.get(flock).await?;
        if schema.field(field).is_some() {
            return Err(ProfileError::FieldDefined);
        }
        if field.is_empty() || field.len() > 64 {
            return Err(
                Invalid::new("invalid_name", "name", "a field name is 1 to 64 characters").into(),
            );
        }
        Ok(self.db.scoped(flock).profile_values_purge(field).await?)
    }
}

fn old_kind(old: &Schema, name: &str) -> super::schema::FieldType {
    old.field(name)
        .map_or(super::schema::FieldType::Text, |f| f.kind)
}
