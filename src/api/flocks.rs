//! Platform operations on flocks (platform key): create, get, list, update, disable,
//! enable, delete, rotate the signing key.
use super::error::{ApiError, ApiResult};
use super::security::PlatformAuth;
use super::ApiTags;
use crate::domain::flocks::{
    EnumerationPolicy, Flock, FlockPatch, FlockService, FlockSettings, FlockStatus,
};
use crate::domain::signing::SigningKeys;
use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

pub struct PlatformApi {
    pub flocks: FlockService,
    pub signing: SigningKeys,
}

/// Whether answers may reveal that an account exists.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum Enumeration {
    /// Answers reveal whether an account exists.
    Open,
    /// Same status, body and timing for existing and unknown accounts (default).
    Protected,
}

impl From<EnumerationPolicy> for Enumeration {
    fn from(p: EnumerationPolicy) -> Self {
        match p {
            EnumerationPolicy::Open => Enumeration::Open,
            EnumerationPolicy::Protected => Enumeration::Protected,
        }
    }
}

impl From<Enumeration> for EnumerationPolicy {
    fn from(p: Enumeration) -> Self {
        match p {
            Enumeration::Open => EnumerationPolicy::Open,
            Enumeration::Protected => EnumerationPolicy::Protected,
        }
    }
}

/// A flock's settings.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct FlockSettingsView {
    /// Base URL of the flock's portal; links in mail are built from it.
    public_url: Option<String>,
    enumeration: Enumeration,
    /// Minimum password length in Unicode code points (8–64).
    password_min_length: u32,
    /// Lifetime of access tokens in seconds (60–3600).
    access_token_ttl_secs: u32,
    /// A session unused this long ends (seconds).
    session_idle_ttl_secs: u32,
    /// A session ends this long after sign-in whatever its use (seconds).
    session_absolute_ttl_secs: u32,
    /// Whether users may register themselves.
    self_registration: bool,
    /// Whether new accounts must be activated from an emailed link before signing in.
    require_activation: bool,
    /// Whether new accounts wait for approval before their first sign-in.
    require_approval: bool,
    /// Whether users may register without a password (they sign in with one-time codes
    /// or set a password through the reset path).
    passwordless_registration: bool,
    /// One-time codes: length, lifetime, attempt and send limits, SMS prefixes.
    otp: super::otp::OtpSettingsView,
    /// Seconds during which a rotated refresh token returns the same successor (0–300).
    refresh_grace_secs: u32,
    /// Sender of the flock's mail; the deployment default when absent.
    mail_from: Option<String>,
    /// Overrides of the default mail templates (minijinja) by name, e.g. `reset.subject`,
    /// `activation.txt`, `existing_account.html`.
    mail_templates: std::collections::BTreeMap<String, String>,
    /// The address types users may hold (default `billing`, `shipping`), and which need
    /// the back office's approval to change.
    address_types: Vec<AddressTypeView>,
    /// User files: limits and image rendition sizes.
    files: super::files::FileSettingsView,
    /// Sign-in through providers: redirect allow-list and the managers' provider.
    federation: FederationSettingsView,
    /// How long events and finished webhook deliveries are kept.
    retention: RetentionSettingsView,
    /// The flock's time zone (IANA name, default `UTC`): where its statistics' days,
    /// weeks (from Monday) and months begin.
    timezone: String,
}

/// Retention periods, in days (7 to 3,650).
#[derive(Debug, Object)]
struct RetentionSettingsView {
    /// Events of every type without its own period (default 365).
    events_days: u32,
    /// Periods by event type, audit-only types included (default `{"user.signed_in": 90,
    /// "user.sign_in_failed": 90, "user.password_changed": 365}`).
    event_days: std::collections::BTreeMap<String, u32>,
    /// Succeeded and failed webhook deliveries (default 30).
    deliveries_days: u32,
}

/// Retention periods to change; absent fields keep their value.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct RetentionSettingsPatch {
    #[oai(validator(minimum(value = "7"), maximum(value = "3650")))]
    events_days: Option<u32>,
    /// Replaces the periods by event type.
    event_days: Option<std::collections::BTreeMap<String, u32>>,
    #[oai(validator(minimum(value = "7"), maximum(value = "3650")))]
    deliveries_days: Option<u32>,
}

/// A flock's federation settings.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct FederationSettingsView {
    /// Origins a code flow may return to (`https://app.example.com`,
    /// `http://localhost:3000`) or app schemes (`com.example.app:`).
    redirect_origins: Vec<String>,
    /// Whether any https URL on the registrable domain of `public_url` is allowed too
    /// (seed 000's rule; default false).
    public_url_domain: bool,
    /// Secured admin login: managers sign in only through this provider.
    manager_provider: Option<String>,
}

/// Federation settings to change; absent fields keep their value.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct FederationSettingsPatch {
    /// Replaces the allowed origins (up to 50).
    #[oai(validator(max_items = 50))]
    redirect_origins: Option<Vec<String>>,
    public_url_domain: Option<bool>,
    /// A provider name; empty clears it.
    #[oai(validator(max_length = 32))]
    manager_provider: Option<String>,
}

impl FederationSettingsPatch {
    fn apply(
        self,
        mut s: crate::domain::flocks::FederationSettings,
    ) -> crate::domain::flocks::FederationSettings {
        if let Some(o) = self.redirect_origins {
            s.redirect_origins = o;
        }
        if let Some(b) = self.public_url_domain {
            s.public_url_domain = b;
        }
        if let Some(p) = self.manager_provider {
            s.manager_provider = (!p.is_empty()).then_some(p);
        }
        s
    }
}

/// An address type.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
struct AddressTypeView {
    /// 1 to 32 of `a-z`, `0-9`, `_`, starting with a letter.
    #[oai(validator(max_length = 32))]
    name: String,
    /// A user's change of an address of this type waits for the back office (default
    /// false).
    approval: Option<bool>,
}

impl From<&FlockSettings> for FlockSettingsView {
    fn from(s: &FlockSettings) -> Self {
        Self {
            public_url: s.public_url.clone(),
            enumeration: s.enumeration.into(),
            password_min_length: s.password_min_length,
            access_token_ttl_secs: s.access_token_ttl_secs,
            session_idle_ttl_secs: s.session_idle_ttl_secs,
            session_absolute_ttl_secs: s.session_absolute_ttl_secs,
            self_registration: s.self_registration,
            require_activation: s.require_activation,
            require_approval: s.require_approval,
            passwordless_registration: s.passwordless_registration,
            otp: (&s.otp).into(),
            refresh_grace_secs: s.refresh_grace_secs,
            mail_from: s.mail_from.clone(),
            mail_templates: s.mail_templates.clone(),
            address_types: s
                .address_types
                .iter()
                .map(|t| AddressTypeView {
                    name: t.name.clone(),
                    approval: Some(t.approval),
                })
                .collect(),
            files: (&s.files).into(),
            federation: FederationSettingsView {
                redirect_origins: s.federation.redirect_origins.clone(),
                public_url_domain: s.federation.public_url_domain,
                manager_provider: s.federation.manager_provider.clone(),
            },
            retention: RetentionSettingsView {
                events_days: s.retention.events_days,
                event_days: s.retention.event_days.clone(),
                deliveries_days: s.retention.deliveries_days,
            },
            timezone: s.timezone.clone(),
        }
    }
}

/// Settings to change; absent fields keep their value. An empty `public_url` clears it.
#[derive(Debug, Object, Default)]
#[oai(deny_unknown_fields)]
struct FlockSettingsPatch {
    #[oai(validator(max_length = 2048))]
    public_url: Option<String>,
    enumeration: Option<Enumeration>,
    password_min_length: Option<u32>,
    access_token_ttl_secs: Option<u32>,
    session_idle_ttl_secs: Option<u32>,
    session_absolute_ttl_secs: Option<u32>,
    self_registration: Option<bool>,
    require_activation: Option<bool>,
    require_approval: Option<bool>,
    passwordless_registration: Option<bool>,
    otp: Option<super::otp::OtpSettingsPatch>,
    refresh_grace_secs: Option<u32>,
    /// Sender of the flock's mail; empty clears it.
    #[oai(validator(max_length = 320))]
    mail_from: Option<String>,
    /// Replaces the mail template overrides (`{}` restores the defaults).
    mail_templates: Option<std::collections::BTreeMap<String, String>>,
    /// Replaces the address types (1 to 20).
    #[oai(validator(max_items = 20))]
    address_types: Option<Vec<AddressTypeView>>,
    /// File limits and rendition sizes to change.
    files: Option<super::files::FileSettingsPatch>,
    /// Federation settings to change.
    federation: Option<FederationSettingsPatch>,
    /// Retention periods to change.
    retention: Option<RetentionSettingsPatch>,
    /// The flock's time zone (IANA name such as `Europe/Paris`).
    #[oai(validator(max_length = 64))]
    timezone: Option<String>,
}

impl FlockSettingsPatch {
    fn apply(self, mut s: FlockSettings) -> FlockSettings {
        if let Some(u) = self.public_url {
            s.public_url = (!u.is_empty()).then_some(u);
        }
        if let Some(t) = self.mail_templates {
            s.mail_templates = t;
        }
        if let Some(types) = self.address_types {
            s.address_types = types
                .into_iter()
                .map(|t| crate::domain::flocks::AddressType {
                    name: t.name,
                    approval: t.approval.unwrap_or(false),
                })
                .collect();
        }
        if let Some(f) = self.mail_from {
            s.mail_from = (!f.is_empty()).then_some(f);
        }
        if let Some(e) = self.enumeration {
            s.enumeration = e.into();
        }
        if let Some(f) = self.files {
            s.files = f.apply(s.files);
        }
        if let Some(f) = self.federation {
            s.federation = f.apply(s.federation);
        }
        if let Some(r) = self.retention {
            if let Some(d) = r.events_days {
                s.retention.events_days = d;
            }
            if let Some(m) = r.event_days {
                s.retention.event_days = m;
            }
            if let Some(d) = r.deliveries_days {
                s.retention.deliveries_days = d;
            }
        }
        if let Some(o) = self.otp {
            s.otp = o.apply(s.otp);
        }
        macro_rules! set {
            ($($f:ident),*) => { $(if let Some(v) = self.$f { s.$f = v; })* };
        }
        set!(
            timezone,
            password_min_length,
            access_token_ttl_secs,
            session_idle_ttl_secs,
            session_absolute_ttl_secs,
            self_registration,
            require_activation,
            require_approval,
            passwordless_registration,
            refresh_grace_secs
        );
        s
    }
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
enum FlockStatusView {
    Active,
    Disabled,
}

/// A flock (tenant).
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct FlockView {
    id: Uuid,
    /// URL-safe slug used in `/api/v1/{flock}/…`.
    slug: String,
    name: String,
    status: FlockStatusView,
    settings: FlockSettingsView,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&Flock> for FlockView {
    fn from(f: &Flock) -> Self {
        Self {
            id: f.id.as_uuid(),
            slug: f.slug.clone(),
            name: f.name.clone(),
            status: match f.status {
                FlockStatus::Active => FlockStatusView::Active,
                FlockStatus::Disabled => FlockStatusView::Disabled,
            },
            settings: (&f.settings).into(),
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example, skip_serializing_if_is_none)]
struct CreateFlock {
    /// Lowercase letters, digits and dashes, 2–63 characters, starting and ending with a
    /// letter or digit; a few words are reserved (`api`, `admin`, `www` …: 400
    /// `invalid_slug`).
    #[oai(validator(
        min_length = 2,
        max_length = 63,
        pattern = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"
    ))]
    slug: String,
    /// Display name (defaults to the slug).
    #[oai(validator(max_length = 200))]
    name: Option<String>,
    settings: Option<FlockSettingsPatch>,
}

impl poem_openapi::types::Example for CreateFlock {
    fn example() -> Self {
        Self {
            slug: "example-shop".into(),
            name: Some("Example Shop".into()),
            settings: None,
        }
    }
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct CreatedFlock {
    flock: FlockView,
    /// The flock's first admin API key (all scopes). Shown once; store it now.
    admin_api_key: String,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
struct UpdateFlock {
    #[oai(validator(max_length = 200))]
    name: Option<String>,
    settings: Option<FlockSettingsPatch>,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct FlockPage {
    items: Vec<FlockView>,
    /// Pass as `after` to get the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
struct RotatedKey {
    /// The id of the new signing key (`kid`).
    kid: String,
}

#[derive(ApiResponse)]
enum CreateFlockResponse {
    /// The flock was created.
    #[oai(status = 201)]
    Created(Json<CreatedFlock>),
}

#[derive(ApiResponse)]
enum DeletedResponse {
    /// Deleted, with everything the flock owned.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(prefix_path = "/platform/v1", tag = "ApiTags::Platform")]
impl PlatformApi {
    /// Create a flock, with its own signing key and a first admin API key.
    #[oai(path = "/flocks", method = "post", operation_id = "create_flock")]
    async fn create(
        &self,
        _auth: PlatformAuth,
        body: Json<CreateFlock>,
    ) -> ApiResult<CreateFlockResponse> {
        let body = body.0;
        let settings = body
            .settings
            .unwrap_or_default()
            .apply(FlockSettings::default());
        let (flock, key) = self
            .flocks
            .create(&body.slug, body.name.as_deref(), settings)
            .await?;
        Ok(CreateFlockResponse::Created(Json(CreatedFlock {
            flock: (&flock).into(),
            admin_api_key: key,
        })))
    }

    /// List flocks by slug, one page at a time.
    #[oai(path = "/flocks", method = "get", operation_id = "list_flocks")]
    async fn list(
        &self,
        _auth: PlatformAuth,
        /// Return flocks whose slug sorts after this one (the previous page's `next_cursor`).
        #[oai(validator(max_length = 63))]
        after: Query<Option<String>>,
        /// Page size, 1–200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<FlockPage>> {
        let limit = limit.0.unwrap_or(50);
        let flocks = self.flocks.list(after.0.as_deref(), limit).await?;
        let next_cursor = (flocks.len() as u64 == limit)
            .then(|| flocks.last().map(|f| f.slug.clone()))
            .flatten();
        Ok(Json(FlockPage {
            items: flocks.iter().map(FlockView::from).collect(),
            next_cursor,
        }))
    }

    /// Get one flock.
    #[oai(path = "/flocks/:slug", method = "get", operation_id = "get_flock")]
    async fn get(&self, _auth: PlatformAuth, slug: Path<String>) -> ApiResult<Json<FlockView>> {
        let flock = self.flocks.get(&slug.0).await?;
        Ok(Json((&*flock).into()))
    }

    /// Change a flock's name or settings.
    #[oai(
        path = "/flocks/:slug",
        method = "patch",
        operation_id = "update_flock"
    )]
    async fn update(
        &self,
        _auth: PlatformAuth,
        slug: Path<String>,
        body: Json<UpdateFlock>,
    ) -> ApiResult<Json<FlockView>> {
        let current = self.flocks.get(&slug.0).await?;
        let patch = FlockPatch {
            name: body.0.name,
            settings: body.0.settings.map(|s| s.apply(current.settings.clone())),
            status: None,
        };
        let flock = self.flocks.update(&slug.0, patch).await?;
        Ok(Json((&flock).into()))
    }

    /// Disable a flock: its routes answer 403 `flock_disabled`; nothing is deleted.
    #[oai(
        path = "/flocks/:slug/disable",
        method = "post",
        operation_id = "disable_flock"
    )]
    async fn disable(&self, _auth: PlatformAuth, slug: Path<String>) -> ApiResult<Json<FlockView>> {
        self.set_status(&slug.0, FlockStatus::Disabled).await
    }

    /// Enable a disabled flock again.
    #[oai(
        path = "/flocks/:slug/enable",
        method = "post",
        operation_id = "enable_flock"
    )]
    async fn enable(&self, _auth: PlatformAuth, slug: Path<String>) -> ApiResult<Json<FlockView>> {
        self.set_status(&slug.0, FlockStatus::Active).await
    }

    /// Delete a flock and everything it owns. Cannot be undone.
    #[oai(
        path = "/flocks/:slug",
        method = "delete",
        operation_id = "delete_flock"
    )]
    async fn delete(&self, _auth: PlatformAuth, slug: Path<String>) -> ApiResult<DeletedResponse> {
        self.flocks.delete(&slug.0).await?;
        Ok(DeletedResponse::Deleted)
    }

    /// Rotate the flock's signing key: a new key signs from now on; the previous one
    /// keeps verifying until the tokens it signed have expired.
    #[oai(
        path = "/flocks/:slug/signing-keys/rotate",
        method = "post",
        operation_id = "rotate_signing_key"
    )]
    async fn rotate(&self, _auth: PlatformAuth, slug: Path<String>) -> ApiResult<Json<RotatedKey>> {
        let flock = self.flocks.get(&slug.0).await?;
        let kid = self.signing.rotate(flock.id).await?;
        Ok(Json(RotatedKey { kid }))
    }
}

impl PlatformApi {
    async fn set_status(&self, slug: &str, status: FlockStatus) -> ApiResult<Json<FlockView>> {
        let patch = FlockPatch {
            status: Some(status),
            ..FlockPatch::default()
        };
        let flock = self
            .flocks
            .update(slug, patch)
            .await
            .map_err(ApiError::from)?;
        Ok(Json((&flock).into()))
    }
}
