//! Profile data: the flock's field schema (flock API key, scopes `profile_*`, or the
//! platform key), the user's card (bearer) and any user's card from the back office
//! (scopes `users_card_*`). Wire types mirror `domain::profile`.
use super::error::ApiResult;
use super::frame::tenant;
use super::security::{BackOfficeAuth, PlatformAuth, UserAuth};
use super::ApiTags;
use crate::domain::flocks::FlockService;
use crate::domain::profile::card::{Card, Edit, EditResult};
use crate::domain::profile::change::{SchemaChange, SchemaChanged};
use crate::domain::profile::schema::{
    Choice, Field, FieldType, Group, Schema, UserAccess, Validators,
};
use crate::domain::profile::{ProfileService, Viewer};
use crate::ids::UserId;
use chrono::NaiveDate;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use std::collections::BTreeMap;
use uuid::Uuid;

pub struct ProfileApi {
    pub profile: ProfileService,
}

pub struct PlatformProfileApi {
    pub profile: ProfileService,
    pub flocks: FlockService,
}

/// A field's type.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
enum FieldTypeWire {
    Text,
    Number,
    Date,
    Checkbox,
    Radio,
    Select,
    Multiselect,
    Email,
    Phone,
    Url,
    Static,
}

macro_rules! both_ways {
    ($($v:ident),*) => {
        impl From<FieldTypeWire> for FieldType {
            fn from(w: FieldTypeWire) -> Self {
                match w { $(FieldTypeWire::$v => FieldType::$v),* }
            }
        }
        impl From<FieldType> for FieldTypeWire {
            fn from(t: FieldType) -> Self {
                match t { $(FieldType::$v => FieldTypeWire::$v),* }
            }
        }
    };
}
both_ways!(
    Text,
    Number,
    Date,
    Checkbox,
    Radio,
    Select,
    Multiselect,
    Email,
    Phone,
    Url,
    Static
);

/// What the user may do with a field: `hidden` (not on their card), `read`, `edit`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
enum UserAccessWire {
    Hidden,
    Read,
    Edit,
}

/// A group of fields on the card.
#[derive(Object, Clone)]
#[oai(deny_unknown_fields)]
struct GroupWire {
    /// 1 to 64 of `a-z`, `0-9`, `_`, starting with a letter; unique.
    #[oai(validator(max_length = 64))]
    name: String,
    #[oai(validator(max_length = 200))]
    label: String,
    /// Label translations by locale, e.g. `{"fr": "Identité"}`.
    labels: Option<BTreeMap<String, String>>,
    /// Position of the group on the card (ascending).
    order: Option<i32>,
}

/// An option of a `radio`, `select` or `multiselect` field.
#[derive(Object, Clone)]
#[oai(deny_unknown_fields)]
struct ChoiceWire {
    #[oai(validator(max_length = 200))]
    value: String,
    #[oai(validator(max_length = 200))]
    label: String,
    labels: Option<BTreeMap<String, String>>,
}

/// Rules a value must meet; each applies to the types named.
#[derive(Object, Clone, Default)]
#[oai(deny_unknown_fields)]
struct ValidatorsWire {
    /// Must be given at registration (when asked there) and can never be cleared.
    required: Option<bool>,
    /// Characters (text, static, email, phone, url) or selected options (multiselect).
    min_length: Option<u32>,
    max_length: Option<u32>,
    /// Number bounds.
    min: Option<f64>,
    max: Option<f64>,
    /// A regular expression the whole value must match (text types and phone).
    #[oai(validator(max_length = 1000))]
    pattern: Option<String>,
    /// Date bounds, inclusive (`YYYY-MM-DD`).
    date_min: Option<NaiveDate>,
    date_max: Option<NaiveDate>,
}

/// A field of the schema.
#[derive(Object, Clone)]
#[oai(deny_unknown_fields)]
struct FieldWire {
    /// 1 to 64 of `a-z`, `0-9`, `_`, starting with a letter; unique.
    #[oai(validator(max_length = 64))]
    name: String,
    #[oai(validator(max_length = 200))]
    label: String,
    labels: Option<BTreeMap<String, String>>,
    #[oai(rename = "type")]
    kind: FieldTypeWire,
    /// The group's name.
    #[oai(validator(max_length = 64))]
    group: String,
    /// Position within the group (ascending).
    order: Option<i32>,
    #[oai(validator(max_length = 200))]
    placeholder: Option<String>,
    /// For `radio`, `select`, `multiselect` only (1 to 200, unique values).
    #[oai(validator(max_items = 200))]
    options: Option<Vec<ChoiceWire>>,
    validators: Option<ValidatorsWire>,
    /// `hidden`, `read` or `edit` (default); a `static` field is never user-editable.
    user_access: Option<UserAccessWire>,
    /// The back office may edit it (default true).
    back_office_edit: Option<bool>,
    /// Asked at registration and one-time-code sign-up (user-editable fields only).
    at_registration: Option<bool>,
    /// Shown in `flock_data` (sign-in answer, `GET /user`); needs user access.
    public: Option<bool>,
    /// Exact searches by value in the back office (`field`/`field_value`); not for
    /// `multiselect`.
    searchable: Option<bool>,
}

/// The flock's field schema.
#[derive(Object)]
struct SchemaView {
    /// Counts the changes; send it back with a change (0: never defined).
    version: i64,
    groups: Vec<GroupWire>,
    fields: Vec<FieldWire>,
}

/// A new schema, replacing the current one.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct PutSchemaRequest {
    /// The version this schema was edited from; another change in between answers 409
    /// `schema_version_conflict`.
    version: i64,
    #[oai(validator(max_items = 50))]
    groups: Vec<GroupWire>,
    #[oai(validator(max_items = 200))]
    fields: Vec<FieldWire>,
    /// Delete stored values the new definitions refuse (default false: the change is
    /// refused with 409 `schema_change_blocked` and a count per field in `details`).
    drop_invalid: Option<bool>,
}

/// A field and a count of its values.
#[derive(Object)]
struct FieldCount {
    field: String,
    values: u64,
}

/// The schema after a change.
#[derive(Object)]
struct SchemaChangedView {
    schema: SchemaView,
    /// Values deleted under `drop_invalid`.
    dropped: Vec<FieldCount>,
    /// Values rewritten to their field's new definition (e.g. text become numbers).
    rewritten: Vec<FieldCount>,
}

/// Values deleted.
#[derive(Object)]
struct Purged {
    deleted: u64,
}

/// An option of a card field, marked when chosen.
#[derive(Object)]
struct CardOptionView {
    value: String,
    label: String,
    selected: bool,
}

/// A field on a card.
#[derive(Object)]
struct CardFieldView {
    name: String,
    /// In the asked locale when translated.
    label: String,
    #[oai(rename = "type")]
    kind: FieldTypeWire,
    /// The value, typed as the field (string, number, boolean, list of strings), or null.
    value: Option<serde_json::Value>,
    placeholder: Option<String>,
    options: Vec<CardOptionView>,
    /// The caller may change it.
    editable: bool,
    required: bool,
}

#[derive(Object)]
struct CardGroupView {
    name: String,
    label: String,
    order: i32,
    fields: Vec<CardFieldView>,
}

/// A user's card: their fields in groups.
#[derive(Object)]
struct CardView {
    /// The schema version the card follows.
    version: i64,
    groups: Vec<CardGroupView>,
    /// The user's files in order, with signed paths to the original and the `s`, `m`,
    /// `l` renditions of images.
    files: Vec<super::files::FileView>,
}

/// One field to change.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct EditEntry {
    #[oai(validator(max_length = 64))]
    name: String,
    /// The type the caller expects; a different one answers `type_mismatch`.
    #[oai(rename = "type")]
    kind: Option<FieldTypeWire>,
    /// The new value, typed as the field; null (or absent) clears it.
    value: Option<serde_json::Value>,
}

/// Fields to change at once.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct EditCardRequest {
    #[oai(validator(min_items = 1, max_items = 200))]
    fields: Vec<EditEntry>,
}

/// `ok` (all saved), `partial` (some saved), `failed` (none saved).
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "snake_case")]
enum EditStatus {
    Ok,
    Partial,
    Failed,
}

/// `ok` (saved) or `error` (not saved; see `code`).
#[derive(Enum, Clone, Copy)]
#[oai(rename_all = "snake_case")]
enum FieldStatus {
    Ok,
    Error,
}

#[derive(Object)]
struct EditResultView {
    name: String,
    status: FieldStatus,
    /// Why it was not saved: `unknown_field`, `not_editable`, `type_mismatch`,
    /// `duplicate_field`, `field_required`, `invalid_type`, `invalid_length`,
    /// `out_of_range`, `unknown_option`, `pattern_mismatch`, `invalid_email`, …
    code: Option<String>,
    message: Option<String>,
}

/// The outcome of a card edit: each field on its own (valid fields are saved even when
/// others fail), then the card as it now is.
#[derive(Object)]
struct EditCardAnswer {
    status: EditStatus,
    fields: Vec<EditResultView>,
    card: CardView,
}

fn group_of(g: GroupWire) -> Group {
    Group {
        name: g.name,
        label: g.label,
        labels: g.labels.unwrap_or_default(),
        order: g.order.unwrap_or(0),
    }
}

fn field_of(f: FieldWire) -> Field {
    let v = f.validators.unwrap_or_default();
    Field {
        name: f.name,
        label: f.label,
        labels: f.labels.unwrap_or_default(),
        kind: f.kind.into(),
        group: f.group,
        order: f.order.unwrap_or(0),
        placeholder: f.placeholder,
        options: f
            .options
            .unwrap_or_default()
            .into_iter()
            .map(|o| Choice {
                value: o.value,
                label: o.label,
                labels: o.labels.unwrap_or_default(),
            })
            .collect(),
        validators: Validators {
            required: v.required.unwrap_or(false),
            min_length: v.min_length,
            max_length: v.max_length,
            min: v.min,
            max: v.max,
            pattern: v.pattern,
            date_min: v.date_min,
            date_max: v.date_max,
        },
        user_access: match f.user_access {
            Some(UserAccessWire::Hidden) => UserAccess::Hidden,
            Some(UserAccessWire::Read) => UserAccess::Read,
            Some(UserAccessWire::Edit) | None => UserAccess::Edit,
        },
        back_office_edit: f.back_office_edit.unwrap_or(true),
        at_registration: f.at_registration.unwrap_or(false),
        public: f.public.unwrap_or(false),
        searchable: f.searchable.unwrap_or(false),
    }
}

impl From<&Schema> for SchemaView {
    fn from(s: &Schema) -> Self {
        let opt = |m: &BTreeMap<String, String>| (!m.is_empty()).then(|| m.clone());
        Self {
            version: s.version,
            groups: s
                .groups
                .iter()
                .map(|g| GroupWire {
                    name: g.name.clone(),
                    label: g.label.clone(),
                    labels: opt(&g.labels),
                    order: Some(g.order),
                })
                .collect(),
            fields: s
                .fields
                .iter()
                .map(|f| {
                    let v = &f.validators;
                    FieldWire {
                        name: f.name.clone(),
                        label: f.label.clone(),
                        labels: opt(&f.labels),
                        kind: f.kind.into(),
                        group: f.group.clone(),
                        order: Some(f.order),
                        placeholder: f.placeholder.clone(),
                        options: f.kind.has_options().then(|| {
                            f.options
                                .iter()
                                .map(|o| ChoiceWire {
                                    value: o.value.clone(),
                                    label: o.label.clone(),
                                    labels: opt(&o.labels),
                                })
                                .collect()
                        }),
                        validators: Some(ValidatorsWire {
                            required: Some(v.required),
                            min_length: v.min_length,
                            max_length: v.max_length,
                            min: v.min,
                            max: v.max,
                            pattern: v.pattern.clone(),
                            date_min: v.date_min,
                            date_max: v.date_max,
                        }),
                        user_access: Some(match f.user_access {
                            UserAccess::Hidden => UserAccessWire::Hidden,
                            UserAccess::Read => UserAccessWire::Read,
                            UserAccess::Edit => UserAccessWire::Edit,
                        }),
                        back_office_edit: Some(f.back_office_edit),
                        at_registration: Some(f.at_registration),
                        public: Some(f.public),
                        searchable: Some(f.searchable),
                    }
                })
                .collect(),
        }
    }
}

fn counts(list: Vec<(String, u64)>) -> Vec<FieldCount> {
    list.into_iter()
        .map(|(field, values)| FieldCount { field, values })
        .collect()
}

impl From<SchemaChanged> for SchemaChangedView {
    fn from(c: SchemaChanged) -> Self {
        Self {
            schema: c.schema.as_ref().into(),
            dropped: counts(c.dropped),
            rewritten: counts(c.rewritten),
        }
    }
}

fn change_of(b: PutSchemaRequest) -> SchemaChange {
    SchemaChange {
        version: b.version,
        groups: b.groups.into_iter().map(group_of).collect(),
        fields: b.fields.into_iter().map(field_of).collect(),
        drop_invalid: b.drop_invalid.unwrap_or(false),
    }
}

impl From<Card> for CardView {
    fn from(c: Card) -> Self {
        Self {
            version: c.version,
            files: c.files.into_iter().map(Into::into).collect(),
            groups: c
                .groups
                .into_iter()
                .map(|g| CardGroupView {
                    name: g.name,
                    label: g.label,
                    order: g.order,
                    fields: g
                        .fields
                        .into_iter()
                        .map(|f| CardFieldView {
                            name: f.name,
                            label: f.label,
                            kind: f.kind.into(),
                            value: (!f.value.is_null()).then_some(f.value),
                            placeholder: f.placeholder,
                            options: f
                                .options
                                .into_iter()
                                .map(|o| CardOptionView {
                                    value: o.value,
                                    label: o.label,
                                    selected: o.selected,
                                })
                                .collect(),
                            editable: f.editable,
                            required: f.required,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

fn edits_of(b: EditCardRequest) -> Vec<Edit> {
    b.fields
        .into_iter()
        .map(|e| Edit {
            name: e.name,
            kind: e.kind.map(Into::into),
            value: e.value.unwrap_or(serde_json::Value::Null),
        })
        .collect()
}

fn answer(results: Vec<EditResult>, card: Card) -> EditCardAnswer {
    let saved = results.iter().filter(|r| r.error.is_none()).count();
    let status = match saved {
        n if n == results.len() => EditStatus::Ok,
        0 => EditStatus::Failed,
        _ => EditStatus::Partial,
    };
    EditCardAnswer {
        status,
        fields: results
            .into_iter()
            .map(|r| match r.error {
                None => EditResultView {
                    name: r.name,
                    status: FieldStatus::Ok,
                    code: None,
                    message: None,
                },
                Some((code, message)) => EditResultView {
                    name: r.name,
                    status: FieldStatus::Error,
                    code: Some(code.to_owned()),
                    message: Some(message),
                },
            })
            .collect(),
        card: card.into(),
    }
}

#[OpenApi(tag = "ApiTags::Profile")]
impl ProfileApi {
    /// The flock's field schema (scope `profile_schema_get`).
    #[oai(
        path = "/api/v1/:flock/profile/schema",
        method = "get",
        operation_id = "profile_schema_get"
    )]
    async fn schema_get(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
    ) -> ApiResult<Json<SchemaView>> {
        auth.allow("profile_schema_get")?;
        let s = self.profile.schema(flock.id).await?;
        Ok(Json(s.as_ref().into()))
    }

    /// Replace the flock's field schema (scope `profile_schema_put`). Stored values a
    /// changed field would no longer accept block the change (409
    /// `schema_change_blocked`, a count per field in `details`) unless `drop_invalid`;
    /// a removed field's values stay, hidden, until purged.
    #[oai(
        path = "/api/v1/:flock/profile/schema",
        method = "put",
        operation_id = "profile_schema_put"
    )]
    async fn schema_put(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<PutSchemaRequest>,
    ) -> ApiResult<Json<SchemaChangedView>> {
        auth.allow("profile_schema_put")?;
        let changed = self.profile.put_schema(flock.id, change_of(body.0)).await?;
        Ok(Json(changed.into()))
    }

    /// Delete every stored value of a field the schema no longer defines (scope
    /// `profile_values_purge`); a defined field answers 409 `field_still_defined`.
    #[oai(
        path = "/api/v1/:flock/profile/fields/:name/values",
        method = "delete",
        operation_id = "profile_values_purge"
    )]
    async fn purge(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The field's name.
        #[oai(validator(max_length = 64))]
        name: Path<String>,
    ) -> ApiResult<Json<Purged>> {
        auth.allow("profile_values_purge")?;
        let deleted = self.profile.purge(flock.id, &name.0).await?;
        Ok(Json(Purged { deleted }))
    }

    /// The signed-in user's card: the fields they may see, in groups, with labels in
    /// `locale` (or their own), values, options and whether each is editable.
    #[oai(
        path = "/api/v1/:flock/user/card",
        method = "get",
        operation_id = "user_card_get"
    )]
    async fn card(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
        /// Labels in this language (e.g. `fr`); default the defaults.
        #[oai(validator(max_length = 35))]
        locale: Query<Option<String>>,
    ) -> ApiResult<Json<CardView>> {
        let card = self
            .profile
            .card(&flock, auth.0.user, Viewer::User, locale.0.as_deref())
            .await?;
        Ok(Json(card.into()))
    }

    /// Change several of the signed-in user's fields at once. Each field is judged on
    /// its own: the valid ones are saved (together) even when others fail; the answer
    /// says per field, and `status` whether all, some or none were saved.
    #[oai(
        path = "/api/v1/:flock/user/card",
        method = "patch",
        operation_id = "user_card_edit"
    )]
    async fn card_edit(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
        /// Labels of the returned card in this language.
        #[oai(validator(max_length = 35))]
        locale: Query<Option<String>>,
        body: Json<EditCardRequest>,
    ) -> ApiResult<Json<EditCardAnswer>> {
        let (results, card) = self
            .profile
            .edit_card(
                &flock,
                auth.0.user,
                Viewer::User,
                edits_of(body.0),
                locale.0.as_deref(),
            )
            .await?;
        Ok(Json(answer(results, card)))
    }

    /// Any user's card as the back office sees it: every field (scope `users_card_get`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/card",
        method = "get",
        operation_id = "users_card_get"
    )]
    async fn bo_card(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        /// Labels in this language.
        #[oai(validator(max_length = 35))]
        locale: Query<Option<String>>,
    ) -> ApiResult<Json<CardView>> {
        auth.allow("users_card_get")?;
        let card = self
            .profile
            .card(
                &flock,
                UserId(user_id.0),
                Viewer::BackOffice,
                locale.0.as_deref(),
            )
            .await?;
        Ok(Json(card.into()))
    }

    /// Change several fields of any user at once, per field as the user's own edit
    /// (scope `users_card_edit`); the back office may edit what the schema lets it.
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/card",
        method = "patch",
        operation_id = "users_card_edit"
    )]
    async fn bo_card_edit(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        /// Labels of the returned card in this language.
        #[oai(validator(max_length = 35))]
        locale: Query<Option<String>>,
        body: Json<EditCardRequest>,
    ) -> ApiResult<Json<EditCardAnswer>> {
        auth.allow("users_card_edit")?;
        let (results, card) = self
            .profile
            .edit_card(
                &flock,
                UserId(user_id.0),
                Viewer::BackOffice,
                edits_of(body.0),
                locale.0.as_deref(),
            )
            .await?;
        Ok(Json(answer(results, card)))
    }
}

#[OpenApi(prefix_path = "/platform/v1", tag = "ApiTags::Platform")]
impl PlatformProfileApi {
    /// A flock's field schema (platform key).
    #[oai(
        path = "/flocks/:slug/profile/schema",
        method = "get",
        operation_id = "platform_profile_schema_get"
    )]
    async fn schema_get(
        &self,
        _auth: PlatformAuth,
        /// The flock's slug.
        slug: Path<String>,
    ) -> ApiResult<Json<SchemaView>> {
        let flock = self.flocks.get(&slug.0).await?;
        let s = self.profile.schema(flock.id).await?;
        Ok(Json(s.as_ref().into()))
    }

    /// Replace a flock's field schema (platform key); the same rules as
    /// `profile_schema_put`.
    #[oai(
        path = "/flocks/:slug/profile/schema",
        method = "put",
        operation_id = "platform_profile_schema_put"
    )]
    async fn schema_put(
        &self,
        _auth: PlatformAuth,
        /// The flock's slug.
        slug: Path<String>,
        body: Json<PutSchemaRequest>,
    ) -> ApiResult<Json<SchemaChangedView>> {
        let flock = self.flocks.get(&slug.0).await?;
        let changed = self.profile.put_schema(flock.id, change_of(body.0)).await?;
        Ok(Json(changed.into()))
    }
}
