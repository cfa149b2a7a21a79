//! The card: a user's fields in their groups, with labels (in the asked locale), values,
//! options marked `selected`, and whether the viewer may edit each; and its edit, which
//! answers per field and saves every valid field even when others fail.
use super::schema::{localised, FieldType};
use super::values::check;
use super::{ProfileError, ProfileService, Viewer};
use crate::db::profile::NewValue;
use crate::domain::flocks::Flock;
use crate::domain::{InfraError, Invalid};
use crate::ids::UserId;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone)]
pub struct Card {
    pub version: i64,
    pub groups: Vec<CardGroup>,
    /// The user's files, with signed paths to their renditions.
    pub files: Vec<crate::domain::files::UserFile>,
}

#[derive(Debug, Clone)]
pub struct CardGroup {
    pub name: String,
    pub label: String,
    pub order: i32,
    pub fields: Vec<CardField>,
}

#[derive(Debug, Clone)]
pub struct CardField {
    pub name: String,
    pub label: String,
    pub kind: FieldType,
    /// The stored value, or null.
    pub value: Value,
    pub placeholder: Option<String>,
    pub options: Vec<CardOption>,
    pub editable: bool,
    pub required: bool,
}

#[derive(Debug, Clone)]
pub struct CardOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One field of an edit: its name, optionally the type the caller believes it has, and
/// the new value (null clears it).
#[derive(Debug, Clone)]
pub struct Edit {
    pub name: String,
    pub kind: Option<FieldType>,
    pub value: Value,
}

/// How one field of an edit went.
#[derive(Debug, Clone, PartialEq)]
pub struct EditResult {
    pub name: String,
    /// None: saved. Some: (code, message), not saved.
    pub error: Option<(&'static str, String)>,
}

/// At most this many fields in one edit.
pub const MAX_EDITS: usize = 200;

impl ProfileService {
    /// The card of `user` as `viewer` sees it, labels in `locale`.
    pub async fn card(
        &self,
        flock: &Flock,
        user: UserId,
        viewer: Viewer,
        locale: Option<&str>,
    ) -> Result<Card, ProfileError> {
        self.holder(flock.id, user).await?;
        self.build(flock, user, viewer, locale).await
    }

    async fn build(
        &self,
        tenant: &Flock,
        user: UserId,
        viewer: Viewer,
        locale: Option<&str>,
    ) -> Result<Card, ProfileError> {
        let flock = tenant.id;
        let schema = self.schemas.get(flock).await?;
        let stored: BTreeMap<String, Value> = self
            .db
            .scoped(flock)
            .profile_values_of(user)
            .await?
            .into_iter()
            .map(|r| (r.field, r.value))
            .collect();
        let mut groups: Vec<CardGroup> = schema
            .groups
            .iter()
            .map(|g| CardGroup {
                name: g.name.clone(),
                label: localised(&g.label, &g.labels, locale).to_owned(),
                order: g.order,
                fields: Vec::new(),
            })
            .collect();
        let mut fields: Vec<_> = schema
            .fields
            .iter()
            .filter(|f| viewer == Viewer::BackOffice || f.user_visible())
            .collect();
        fields.sort_by(|a, b| (a.order, &a.name).cmp(&(b.order, &b.name)));
        for f in fields {
            let value = stored.get(&f.name).cloned().unwrap_or(Value::Null);
            let chosen: HashSet<&str> = match &value {
                Value::String(s) => [s.as_str()].into(),
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => HashSet::new(),
            };
            let options = f
                .options
                .iter()
                .map(|o| CardOption {
                    value: o.value.clone(),
                    label: localised(&o.label, &o.labels, locale).to_owned(),
                    selected: chosen.contains(o.value.as_str()),
                })
                .collect();
            let editable = match viewer {
                Viewer::User => f.user_editable(),
                Viewer::BackOffice => f.back_office_edit,
            };
            let field = CardField {
                name: f.name.clone(),
                label: f.label_in(locale).to_owned(),
                kind: f.kind,
                value,
                placeholder: f.placeholder.clone(),
                options,
                editable,
                required: f.validators.required,
            };
            if let Some(g) = groups.iter_mut().find(|g| g.name == f.group) {
                g.fields.push(field);
            }
        }
        groups.retain(|g| !g.fields.is_empty());
        groups.sort_by(|a, b| (a.order, &a.name).cmp(&(b.order, &b.name)));
        let files = match &self.files {
            Some(f) => f
                .list_cached(tenant, user)
                .await
                .map_err(InfraError::from)?,
            None => Vec::new(),
        };
        Ok(Card {
            version: schema.version,
            groups,
            files,
        })
    }

    /// Edits several fields at once. Each field is judged on its own; the valid ones
    /// are saved together (one transaction), the others answer why. Then the card.
    pub async fn edit_card(
        &self,
        tenant: &Flock,
        user: UserId,
        viewer: Viewer,
        edits: Vec<Edit>,
        locale: Option<&str>,
    ) -> Result<(Vec<EditResult>, Card), ProfileError> {
        let flock = tenant.id;
        if edits.is_empty() || edits.len() > MAX_EDITS {
            return Err(Invalid::new(
                "invalid_fields",
                "fields",
                format!("give 1 to {MAX_EDITS} fields"),
            )
            .into());
        }
        self.holder(flock, user).await?;
        let schema = self.schemas.get(flock).await?;
        let (mut results, mut writes, mut seen) = (Vec::new(), Vec::new(), HashSet::new());
        for e in edits {
            let error = if !seen.insert(e.name.clone()) {
                Some(("duplicate_field", "this field appears twice".to_owned()))
            } else {
                match schema
                    .field(&e.name)
                    .filter(|f| viewer == Viewer::BackOffice || f.user_visible())
                {
                    None => Some(("unknown_field", format!("no field `{}`", e.name))),
                    Some(f) => {
                        let editable = match viewer {
                            Viewer::User => f.user_editable(),
                            Viewer::BackOffice => f.back_office_edit,
                        };
                        if !editable {
                            Some(("not_editable", format!("`{}` cannot be edited", e.name)))
                        } else if e.kind.is_some_and(|k| k != f.kind) {
                            Some((
                                "type_mismatch",
                                format!("`{}` is a {} field", e.name, f.kind.as_str()),
                            ))
                        } else {
                            match check(f, &e.value) {
                                Ok(c) => {
                                    let v = c.map(|c| NewValue {
                                        field: f.name.clone(),
                                        value: c.value,
                                        key: c.key,
                                        public: f.shown_publicly(),
                                    });
                                    writes.push((f.name.clone(), v));
                                    None
                                }
                                Err(err) => Some((err.code, err.message)),
                            }
                        }
                    }
                }
            };
            results.push(EditResult {
                name: e.name,
                error,
            });
        }
        if !writes.is_empty() {
            self.db
                .scoped(flock)
                .profile_values_write(user, writes, self.clock.now())
                .await?;
        }
        let card = self.build(tenant, user, viewer, locale).await?;
        Ok((results, card))
    }
}
