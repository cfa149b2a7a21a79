//! Per-flock settings: the typed document, its defaults and its validation.
use crate::domain::Invalid;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EnumerationPolicy {
    /// Answers reveal whether an account exists (the seed systems' behaviour).
    Open,
    /// Same status, body and timing for existing and unknown accounts.
    #[default]
    Protected,
}

/// Per-flock settings. Unknown keys are refused; missing keys take these defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlockSettings {
    /// Base URL of the flock's portal; mail links are built from it.
    pub public_url: Option<String>,
    pub enumeration: EnumerationPolicy,
    pub password_min_length: u32,
    pub access_token_ttl_secs: u32,
    pub session_idle_ttl_secs: u32,
    pub session_absolute_ttl_secs: u32,
    pub self_registration: bool,
    pub require_activation: bool,
    pub require_approval: bool,
    /// Whether self-registration may come without a password (the account then signs in
    /// with one-time codes, or sets a password through the reset path).
    pub passwordless_registration: bool,
    /// One-time codes: length, lifetime, attempt and send limits, SMS prefixes.
    pub otp: crate::domain::otp::OtpSettings,
    /// A rotated refresh token used again within this many seconds returns the same
    /// successor; later, it revokes the whole session family.
    pub refresh_grace_secs: u32,
    /// Sender of the flock's mail (`Name <addr@example.com>`); the deployment's
    /// `mail.from` when absent.
    pub mail_from: Option<String>,
    /// Overrides of the default mail templates (minijinja), by name:
    /// `{activation,reset,existing_account,welcome,password,claim}.{subject,txt,html}`.
    /// Variables: `flock_name`, `first_name`, `link`, `ttl_hours`, `secret` (the
    /// generated password, in `password`).
    pub mail_templates: std::collections::BTreeMap<String, String>,
    /// The address types users may hold, and which need the back office's approval to
    /// change.
    pub address_types: Vec<AddressType>,
    /// User files: size, count and type limits, image rendition sizes.
    pub files: FileSettings,
    /// Sign-in through providers: where code flows may return, and the managers' rule.
    pub federation: FederationSettings,
    /// How long events and finished webhook deliveries are kept.
    pub retention: RetentionSettings,
    /// The flock's time zone (IANA name, e.g. `Europe/Paris`): where its statistics'
    /// days, weeks (from Monday) and months begin.
    pub timezone: String,
}

/// How long a flock's events and finished webhook deliveries are kept (days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Events of every type without its own period.
    pub events_days: u32,
    /// Periods by event type (e.g. `user.signed_in`: 90).
    pub event_days: std::collections::BTreeMap<String, u32>,
    /// Succeeded and failed webhook deliveries.
    pub deliveries_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            events_days: 365,
            event_days: [
                ("user.signed_in".to_owned(), 90),
                ("user.sign_in_failed".to_owned(), 90),
                ("user.password_changed".to_owned(), 365),
            ]
            .into_iter()
            .collect(),
            deliveries_days: 30,
        }
    }
}

impl RetentionSettings {
    fn validate(&self) -> Result<(), Invalid> {
        let ok = |d: u32| (7..=3650).contains(&d);
        if !ok(self.events_days) {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.retention.events_days",
                "7 to 3,650 days",
            ));
        }
        if !ok(self.deliveries_days) {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.retention.deliveries_days",
                "7 to 3,650 days",
            ));
        }
        let types: Vec<&str> = crate::domain::webhooks::all_types().collect();
        if !self
            .event_days
            .iter()
            .all(|(k, d)| types.contains(&k.as_str()) && ok(*d))
        {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.retention.event_days",
                format!("event types ({}) to 7 to 3,650 days", types.join(", ")),
            ));
        }
        Ok(())
    }
}

/// Federation settings of a flock.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationSettings {
    /// Origins a code flow may return to (`https://app.example.com`,
    /// `http://localhost:3000`), or an app's reverse-DNS scheme (`com.example.app:`).
    pub redirect_origins: Vec<String>,
    /// Also allow any https URL on the registrable domain of `public_url` (seed 000's
    /// rule; off by default: every host of the domain could then receive sign-in codes).
    pub public_url_domain: bool,
    /// Secured admin login: managers must sign in through this provider; their password,
    /// one-time-code and other providers' sign-ins are refused.
    pub manager_provider: Option<String>,
}

impl FederationSettings {
    fn validate(&self) -> Result<(), Invalid> {
        if self.redirect_origins.len() > 50
            || !self
                .redirect_origins
                .iter()
                .all(|o| crate::domain::federation::check_origin_entry(o))
        {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.federation.redirect_origins",
                "up to 50 origins such as https://app.example.com (no path) or app schemes such as com.example.app:",
            ));
        }
        if let Some(p) = &self.manager_provider {
            if !crate::domain::federation::is_provider_name(p) {
                return Err(Invalid::new(
                    "invalid_setting",
                    "settings.federation.manager_provider",
                    "a provider name (1 to 32 of a-z, 0-9, - and _)",
                ));
            }
        }
        Ok(())
    }
}

/// What a flock's users may upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSettings {
    /// Largest file, in bytes (under the deployment's `files.max_upload_bytes`).
    pub max_bytes: u64,
    /// Files one user may hold.
    pub max_count: u32,
    /// Accepted types, as sniffed from the bytes: `image/jpeg`, `image/png`,
    /// `image/webp`, `image/gif`, `application/pdf`.
    pub content_types: Vec<String>,
    /// Long edge of the `s`, `m` and `l` renditions of an image, in pixels.
    pub rendition_s: u32,
    pub rendition_m: u32,
    pub rendition_l: u32,
}

/// The types Fold recognises from the bytes (and so may accept).
pub const FILE_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "application/pdf",
];

impl Default for FileSettings {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_count: 20,
            content_types: FILE_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            rendition_s: 128,
            rendition_m: 512,
            rendition_l: 1600,
        }
    }
}

impl FileSettings {
    fn validate(&self) -> Result<(), Invalid> {
        let bad = |field: &'static str, m: &str| Err(Invalid::new("invalid_setting", field, m));
        if !(1..=1024 * 1024 * 1024).contains(&self.max_bytes) {
            return bad("settings.files.max_bytes", "1 byte to 1 GiB");
        }
        if !(1..=1000).contains(&self.max_count) {
            return bad("settings.files.max_count", "1 to 1,000 files");
        }
        if self.content_types.is_empty()
            || self.content_types.len() > FILE_TYPES.len()
            || !self
                .content_types
                .iter()
                .all(|t| FILE_TYPES.contains(&t.as_str()))
        {
            return bad(
                "settings.files.content_types",
                "one or more of image/jpeg, image/png, image/webp, image/gif, application/pdf",
            );
        }
        let sizes = [self.rendition_s, self.rendition_m, self.rendition_l];
        let ordered = sizes[0] <= sizes[1] && sizes[1] <= sizes[2];
        if !(ordered && sizes.iter().all(|s| (16..=4096).contains(s))) {
            return bad(
                "settings.files.rendition_s",
                "rendition sizes are 16 to 4,096 pixels, s <= m <= l",
            );
        }
        Ok(())
    }
}

/// An address type: `billing`, `shipping`, or one the flock names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AddressType {
    pub name: String,
    /// A user's change of an address of this type waits for the back office.
    #[serde(default)]
    pub approval: bool,
}

impl FlockSettings {
    /// The address type named `name`, if the flock has it.
    pub fn address_type(&self, name: &str) -> Option<&AddressType> {
        self.address_types.iter().find(|t| t.name == name)
    }
}

fn default_address_types() -> Vec<AddressType> {
    ["billing", "shipping"]
        .into_iter()
        .map(|n| AddressType {
            name: n.to_owned(),
            approval: false,
        })
        .collect()
}

impl Default for FlockSettings {
    fn default() -> Self {
        Self {
            public_url: None,
            enumeration: EnumerationPolicy::Protected,
            password_min_length: 8,
            access_token_ttl_secs: 900,
            session_idle_ttl_secs: 14 * 86_400,
            session_absolute_ttl_secs: 30 * 86_400,
            self_registration: true,
            require_activation: false,
            require_approval: false,
            passwordless_registration: false,
            otp: crate::domain::otp::OtpSettings::default(),
            refresh_grace_secs: 10,
            mail_from: None,
            mail_templates: std::collections::BTreeMap::new(),
            address_types: default_address_types(),
            files: FileSettings::default(),
            federation: FederationSettings::default(),
            retention: RetentionSettings::default(),
            timezone: "UTC".to_owned(),
        }
    }
}

impl FlockSettings {
    /// The flock's time zone (`None` only for a name validation refuses).
    pub fn tz(&self) -> Option<chrono_tz::Tz> {
        self.timezone.parse().ok()
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        self.files.validate()?;
        self.federation.validate()?;
        self.retention.validate()?;
        if self.tz().is_none() {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.timezone",
                "an IANA time zone name such as UTC or Europe/Paris",
            ));
        }
        let names_ok = (1..=20).contains(&self.address_types.len())
            && self.address_types.iter().enumerate().all(|(i, t)| {
                let mut b = t.name.bytes();
                matches!(b.next(), Some(c) if c.is_ascii_lowercase())
                    && t.name.len() <= 32
                    && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
                    && !self.address_types[..i].iter().any(|o| o.name == t.name)
            });
        if !names_ok {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.address_types",
                "1 to 20 address types, unique names of 1 to 32 of a-z, 0-9 and _",
            ));
        }
        for (name, src) in &self.mail_templates {
            crate::domain::mail::check_template(name, src)
                .map_err(|m| Invalid::new("invalid_setting", "settings.mail_templates", m))?;
        }
        if let Some(f) = &self.mail_from {
            if f.len() > 320 || f.parse::<lettre::message::Mailbox>().is_err() {
                return Err(Invalid::new(
                    "invalid_setting",
                    "settings.mail_from",
                    "mail_from must be a mail address such as `Acme <no-reply@acme.test>`",
                ));
            }
        }
        if let Some(u) = &self.public_url {
            let ok = url::Url::parse(u)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(Invalid::new(
                    "invalid_setting",
                    "settings.public_url",
                    "public_url must be an absolute http(s) URL",
                ));
            }
        }
        if !(8..=64).contains(&self.password_min_length) {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.password_min_length",
                "password_min_length must be between 8 and 64",
            ));
        }
        if !(60..=3600).contains(&self.access_token_ttl_secs) {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.access_token_ttl_secs",
                "access_token_ttl_secs must be between 60 and 3600",
            ));
        }
        if !(300..=365 * 86_400).contains(&self.session_absolute_ttl_secs) {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.session_absolute_ttl_secs",
                "session_absolute_ttl_secs must be between 300 and 31536000",
            ));
        }
        if !(300..=self.session_absolute_ttl_secs).contains(&self.session_idle_ttl_secs) {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.session_idle_ttl_secs",
                "session_idle_ttl_secs must be between 300 and session_absolute_ttl_secs",
            ));
        }
        self.otp.validate()?;
        if self.refresh_grace_secs > 300 {
            return Err(Invalid::new(
                "invalid_setting",
                "settings.refresh_grace_secs",
                "refresh_grace_secs must be between 0 and 300",
            ));
        }
        Ok(())
    }
}
