//! The shape of `GET /api/v1/{flock}/user/export` (GDPR access and portability): every
//! section typed, so generated clients read it as objects. The domain writes the archive
//! as JSON; it is read into these types field by field (an unknown field is an error, so
//! the schema cannot fall behind what the archive holds: `user/profile.rs` tests it).
use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Everything Fold holds about the user.
#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
pub(super) struct UserExport {
    /// The flock's slug.
    flock: String,
    account: ExportAccount,
    /// Identities at identity providers (no provider secret: Fold holds none of the
    /// user's).
    identities: Vec<ExportIdentity>,
    files: Vec<ExportFile>,
    /// Profile values by field name.
    profile: BTreeMap<String, serde_json::Value>,
    /// Meta, public and private.
    meta: Vec<ExportMeta>,
    /// The names of the user's groups.
    groups: Vec<String>,
    addresses: Vec<ExportAddress>,
    address_requests: Vec<ExportAddressRequest>,
    sessions: Vec<ExportSession>,
    /// Mailed one-time tokens (activation, reset, …), without the tokens.
    one_time_tokens: Vec<ExportToken>,
    /// Mail sent to the user, without the bodies.
    mail: Vec<ExportMail>,
}

#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
struct ExportAccount {
    id: Uuid,
    email: Option<String>,
    phone: Option<String>,
    status: String,
    role: String,
    kind: String,
    first_name: Option<String>,
    last_name: Option<String>,
    locale: Option<String>,
    email_verified: bool,
    phone_verified: bool,
    opt_outs: BTreeMap<String, bool>,
    terms_accepted_at: Option<DateTime<Utc>>,
    source: Option<String>,
    /// Whether the account has a password (never the hash).
    has_password: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    registered_at: Option<DateTime<Utc>>,
    username: Option<String>,
    company: Option<String>,
    picture_url: Option<String>,
    external_id: Option<String>,
    referer: Option<String>,
    note: Option<String>,
    registration_number: Option<String>,
    vat_number: Option<String>,
    business_id: Option<Uuid>,
    confirmed_at: Option<DateTime<Utc>>,
    email_invalid_at: Option<DateTime<Utc>>,
}

#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
struct ExportIdentity {
    id: Uuid,
    provider: String,
    subject: String,
    email: Option<String>,
    email_verified: bool,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
struct ExportFile {
    id: Uuid,
    name: String,
    content_type: String,
    size: i64,
    /// `original`, and `s`, `m`, `l` for an image → a signed path to the bytes.
    paths: BTreeMap<String, String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
struct ExportMeta {
    key: String,
    value: String,
    public: bool,
}

#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
struct ExportAddress {
    id: Uuid,
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    kind: String,
    /// Field name → value (empty fields are left out).
    #[serde(deserialize_with = "filled")]
    fields: BTreeMap<String, String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
struct ExportAddressRequest {
    id: Uuid,
    address_id: Uuid,
    status: String,
    /// The fields before (empty ones left out).
    #[serde(deserialize_with = "filled")]
    old: BTreeMap<String, String>,
    /// The fields asked for (empty ones left out).
    #[serde(deserialize_with = "filled")]
    new: BTreeMap<String, String>,
    created_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
}

#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
struct ExportSession {
    id: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    ip: Option<String>,
    user_agent: Option<String>,
    source: Option<String>,
}

#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
struct ExportToken {
    purpose: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

#[derive(Object, Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[serde(deny_unknown_fields)]
struct ExportMail {
    kind: String,
    to: String,
    subject: String,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

/// Address fields as stored (a null for each empty field), without the empty ones.
fn filled<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let all = BTreeMap::<String, Option<String>>::deserialize(d)?;
    Ok(all
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}
