//! A flock's providers: what each kind needs, the checks on configuration, sealing the
//! secret, and where each kind's endpoints are.
use super::{printable, FederationError, FederationService};
use crate::db::federation::{NewProvider, ProviderRow};
use crate::domain::flocks::Flock;
use crate::domain::Invalid;
use crate::ids::FlockId;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Google,
    Apple,
    Oidc,
    Oauth2,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Google => "google",
            ProviderKind::Apple => "apple",
            ProviderKind::Oidc => "oidc",
            ProviderKind::Oauth2 => "oauth2",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "google" => ProviderKind::Google,
            "apple" => ProviderKind::Apple,
            "oidc" => ProviderKind::Oidc,
            "oauth2" => ProviderKind::Oauth2,
            _ => return None,
        })
    }

    /// Whether the provider issues ID tokens (everything but plain OAuth 2).
    pub fn has_id_tokens(self) -> bool {
        self != ProviderKind::Oauth2
    }
}

/// Where a plain OAuth 2 provider's userinfo answer keeps each claim (dotted paths).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClaimMap {
    pub subject: String,
    pub email: String,
    /// Unset: the email counts as verified only with `trust_email`.
    pub email_verified: Option<String>,
    pub name: Option<String>,
}

impl Default for ClaimMap {
    fn default() -> Self {
        Self {
            subject: "id".into(),
            email: "email".into(),
            email_verified: None,
            name: Some("name".into()),
        }
    }
}

/// What is stored in a provider's `config` beside its columns.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    pub issuer: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub claims: Option<ClaimMap>,
    pub scopes: Vec<String>,
    pub trusted_audiences: Vec<String>,
    pub allow_missing_nonce: bool,
    pub trust_email: bool,
    pub team_id: Option<String>,
    pub key_id: Option<String>,
}

/// A configured provider. The secret stays sealed; `has_secret` says whether there is one.
#[derive(Clone)]
pub struct Provider {
    pub flock: FlockId,
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub config: ProviderConfig,
    pub enabled: bool,
    pub allow_signup: bool,
    pub has_secret: bool,
    pub(super) sealed: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Provider {
    fn from_row(flock: FlockId, r: ProviderRow) -> Self {
        Self {
            flock,
            kind: ProviderKind::parse(&r.kind).unwrap_or(ProviderKind::Oidc),
            config: serde_json::from_value(r.config).unwrap_or_default(),
            has_secret: r.secret_sealed.is_some(),
            sealed: r.secret_sealed,
            name: r.name,
            client_id: r.client_id,
            enabled: r.enabled,
            allow_signup: r.allow_signup,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    /// The client ids an ID token may be issued to: the client id, then the trusted ones.
    pub fn audiences(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.client_id.as_str())
            .chain(self.config.trusted_audiences.iter().map(String::as_str))
    }

    /// The scopes asked in the code flow.
    pub fn scopes(&self) -> String {
        if !self.config.scopes.is_empty() {
            return self.config.scopes.join(" ");
        }
        match self.kind {
            ProviderKind::Google | ProviderKind::Oidc => "openid email profile".into(),
            ProviderKind::Apple => "name email".into(),
            ProviderKind::Oauth2 => "email".into(),
        }
    }

    /// What the secret is sealed for: this flock and provider name.
    pub(super) fn owner(flock: FlockId, name: &str) -> String {
        format!("provider:{flock}:{name}")
    }
}

/// A provider's configuration as given (PUT replaces; an absent secret keeps the stored one).
#[derive(Clone)]
pub struct ProviderInput {
    pub kind: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    /// Apple: the team's private key (`.p8`, PEM), team id and key id.
    pub private_key: Option<SecretString>,
    pub config: ProviderConfig,
    pub enabled: bool,
    pub allow_signup: bool,
}

const MAX_LIST: usize = 20;

fn bad(code: &'static str, field: &'static str, m: &str) -> FederationError {
    FederationError::Invalid(Invalid::new(code, field, m))
}

/// A provider name: 1 to 32 of a-z, 0-9, `-` and `_`, starting with a letter.
pub(super) fn check_name(name: &str) -> Result<(), FederationError> {
    if super::is_provider_name(name) {
        Ok(())
    } else {
        Err(bad(
            "invalid_provider_name",
            "provider",
            "a provider name is 1 to 32 of a-z, 0-9, - and _, starting with a letter",
        ))
    }
}

impl FederationService {
    /// Every provider of the flock, by name.
    pub async fn providers(&self, flock: FlockId) -> Result<Vec<Provider>, FederationError> {
        let rows = self.db.scoped(flock).providers().await?;
        Ok(rows
            .into_iter()
            .map(|r| Provider::from_row(flock, r))
            .collect())
    }

    pub async fn provider(&self, flock: FlockId, name: &str) -> Result<Provider, FederationError> {
        check_name(name).map_err(|_| FederationError::UnknownProvider)?;
        let row = self.db.scoped(flock).provider(name).await?;
        row.map(|r| Provider::from_row(flock, r))
            .ok_or(FederationError::UnknownProvider)
    }

    /// An enabled provider, for a sign-in.
    pub(super) async fn enabled(
        &self,
        flock: FlockId,
        name: &str,
    ) -> Result<Provider, FederationError> {
        self.provider(flock, name)
            .await
            .ok()
            .filter(|p| p.enabled)
            .ok_or(FederationError::UnknownProvider)
    }

    /// Creates or replaces the provider `name`. The configuration is checked whole
    /// (an OpenID Connect issuer's discovery document is fetched and must name the same
    /// issuer) before anything is stored.
    pub async fn put_provider(
        &self,
        flock: &Flock,
        name: &str,
        input: ProviderInput,
    ) -> Result<(Provider, bool), FederationError> {
        check_name(name)?;
        let kind = ProviderKind::parse(&input.kind).ok_or_else(|| {
            bad(
                "invalid_provider_kind",
                "kind",
                "kind is one of google, apple, oidc, oauth2",
            )
        })?;
        if !printable(&input.client_id, 255) {
            return Err(bad(
                "invalid_client_id",
                "client_id",
                "client_id is 1 to 255 printable characters",
            ));
        }
        let c = &input.config;
        check_list(&c.scopes, "scopes", 200)?;
        check_list(&c.trusted_audiences, "trusted_audiences", 255)?;
        let existing = self.db.scoped(flock.id).provider(name).await?;
        let secret = match kind {
            ProviderKind::Apple => {
                if input.client_secret.is_some() {
                    return Err(bad(
                        "invalid_provider_setting",
                        "client_secret",
                        "Apple's client secret is generated from private_key, team_id and key_id",
                    ));
                }
                for (v, f) in [(&c.team_id, "team_id"), (&c.key_id, "key_id")] {
                    if !v.as_deref().is_some_and(|v| printable(v, 64)) {
                        return Err(FederationError::Invalid(Invalid::new(
                            "invalid_provider_setting",
                            f,
                            format!("{f} is required for Apple (1 to 64 characters)"),
                        )));
                    }
                }
                if let Some(k) = &input.private_key {
                    super::apple::check_key(k.expose_secret())?;
                }
                input.private_key.clone()
            }
            _ => {
                if input.private_key.is_some() {
                    return Err(bad(
                        "invalid_provider_setting",
                        "private_key",
                        "private_key is for Apple only",
                    ));
                }
                if let Some(s) = &input.client_secret {
                    if !printable(s.expose_secret(), 2048) {
                        return Err(bad(
                            "invalid_provider_setting",
                            "client_secret",
                            "client_secret is 1 to 2,048 printable characters",
                        ));
                    }
                }
                input.client_secret.clone()
            }
        };
        match kind {
            ProviderKind::Oidc => {
                let issuer = c.issuer.as_deref().unwrap_or_default();
                if !printable(issuer, 500) {
                    return Err(bad(
                        "invalid_provider_setting",
                        "issuer",
                        "issuer is required for oidc",
                    ));
                }
                self.outbound.check(issuer)?;
                self.keys.discover(issuer).await.map_err(|e| match e {
                    FederationError::Rejected(code, m) => {
                        FederationError::Invalid(Invalid::new(code, "issuer", m))
                    }
                    FederationError::ProviderDown(m) => FederationError::Invalid(Invalid::new(
                        "provider_discovery_failed",
                        "issuer",
                        format!("the issuer's discovery document could not be read: {m}"),
                    )),
                    other => other,
                })?;
            }
            ProviderKind::Oauth2 => {
                for (v, f) in [
                    (&c.authorize_url, "authorize_url"),
                    (&c.token_url, "token_url"),
                    (&c.userinfo_url, "userinfo_url"),
                ] {
                    let Some(url) = v.as_deref().filter(|u| printable(u, 500)) else {
                        return Err(FederationError::Invalid(Invalid::new(
                            "invalid_provider_setting",
                            f,
                            format!("{f} is required for oauth2"),
                        )));
                    };
                    self.outbound.check(url).map_err(|e| match e {
                        crate::infra::outbound::OutboundError::Refused(m) => {
                            FederationError::Invalid(Invalid::new(
                                "provider_url_refused",
                                f,
                                format!("Fold may not call this URL: {m}"),
                            ))
                        }
                        other => other.into(),
                    })?;
                }
                let map = c.claims.clone().unwrap_or_default();
                for (v, f) in [
                    (&map.subject, "claims.subject"),
                    (&map.email, "claims.email"),
                ] {
                    if !printable(v, 100) {
                        return Err(bad(
                            "invalid_provider_setting",
                            f,
                            "claim paths are 1 to 100 characters",
                        ));
                    }
                }
            }
            ProviderKind::Google | ProviderKind::Apple => {}
        }
        let now = self.clock.now();
        let mut config = input.config;
        if kind != ProviderKind::Oauth2 {
            config.authorize_url = None;
            config.token_url = None;
            config.userinfo_url = None;
            config.claims = None;
        } else if config.claims.is_none() {
            config.claims = Some(ClaimMap::default());
        }
        if kind != ProviderKind::Oidc {
            config.issuer = None;
        }
        if kind != ProviderKind::Apple {
            config.team_id = None;
            config.key_id = None;
        }
        // Where the provider is. A change of it keeps neither the identities held at the
        // old one (refused while there are any) nor the secret (it would be sent there).
        let old = existing.as_ref().map(|e| {
            let c: ProviderConfig = serde_json::from_value(e.config.clone()).unwrap_or_default();
            (e.kind.clone(), e.client_id.clone(), c)
        });
        let source = |k: &str, c: &ProviderConfig| {
            (
                k.to_owned(),
                c.issuer.clone(),
                c.token_url.clone(),
                c.userinfo_url.clone(),
            )
        };
        let source_moved = old
            .as_ref()
            .is_some_and(|(k, _, c)| source(k, c) != source(kind.as_str(), &config));
        let moved = source_moved
            || old.as_ref().is_some_and(|(_, id, c)| {
                *id != input.client_id
                    || c.authorize_url != config.authorize_url
                    || c.team_id != config.team_id
            });
        if source_moved
            && self
                .db
                .scoped(flock.id)
                .provider_has_identities(name)
                .await?
        {
            return Err(FederationError::Conflict(
                "provider_has_identities",
                "users hold identities at this provider: its kind, issuer and endpoints cannot change (configure another provider name)".into(),
            ));
        }
        let owner = Provider::owner(flock.id, name);
        let sealed = match secret {
            Some(s) => Some(self.sealer.seal(&owner, &s).await?),
            None if moved => None,
            None => existing.as_ref().and_then(|e| e.secret_sealed.clone()),
        };
        let created = existing.is_none();
        let row = NewProvider {
            name: name.to_owned(),
            kind: kind.as_str().to_owned(),
            client_id: input.client_id,
            secret_sealed: sealed,
            config: serde_json::to_value(&config)
                .map_err(|e| super::InfraError::Internal(e.to_string()))?,
            enabled: input.enabled,
            allow_signup: input.allow_signup,
            created_at: existing.map_or(now, |e| e.created_at),
            updated_at: now,
        };
        self.db.scoped(flock.id).provider_put(row).await?;
        self.apple_secrets.forget(flock.id, name);
        Ok((self.provider(flock.id, name).await?, created))
    }

    /// Removes the provider. Identities at it stay (and work again if it is configured
    /// again under the same name); a user whose only way in it was is told by the back
    /// office, which sees their identities.
    pub async fn delete_provider(&self, flock: FlockId, name: &str) -> Result<(), FederationError> {
        check_name(name).map_err(|_| FederationError::UnknownProvider)?;
        if !self.db.scoped(flock).provider_delete(name).await? {
            return Err(FederationError::UnknownProvider);
        }
        self.apple_secrets.forget(flock, name);
        Ok(())
    }

    /// The provider's secret, opened (None when it has none).
    pub(super) async fn secret(
        &self,
        p: &Provider,
    ) -> Result<Option<SecretString>, FederationError> {
        match &p.sealed {
            None => Ok(None),
            Some(s) => Ok(Some(
                self.sealer
                    .open(&Provider::owner(p.flock, &p.name), s)
                    .await?,
            )),
        }
    }
}

fn check_list(v: &[String], field: &'static str, max_len: usize) -> Result<(), FederationError> {
    if v.len() > MAX_LIST || !v.iter().all(|s| printable(s, max_len) && !s.contains(' ')) {
        return Err(FederationError::Invalid(Invalid::new(
            "invalid_provider_setting",
            field,
            format!("{field}: at most {MAX_LIST} values of 1 to {max_len} characters, no spaces"),
        )));
    }
    Ok(())
}

/// Where a provider's endpoints are, and the issuers its tokens may carry.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub jwks: Option<String>,
    /// Exactly these `iss` values are accepted (Google uses two spellings).
    pub issuers: Vec<String>,
}

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
pub const APPLE_ISSUER: &str = "https://appleid.apple.com";

impl FederationService {
    pub(super) async fn endpoints(&self, p: &Provider) -> Result<Endpoints, FederationError> {
        Ok(match p.kind {
            ProviderKind::Google => Endpoints {
                authorize: "https://accounts.google.com/o/oauth2/v2/auth".into(),
                token: "https://oauth2.googleapis.com/token".into(),
                userinfo: Some("https://openidconnect.googleapis.com/v1/userinfo".into()),
                jwks: Some("https://www.googleapis.com/oauth2/v3/certs".into()),
                issuers: vec![GOOGLE_ISSUER.into(), "accounts.google.com".into()],
            },
            ProviderKind::Apple => Endpoints {
                authorize: "https://appleid.apple.com/auth/authorize".into(),
                token: "https://appleid.apple.com/auth/token".into(),
                userinfo: None,
                jwks: Some("https://appleid.apple.com/auth/keys".into()),
                issuers: vec![APPLE_ISSUER.into()],
            },
            ProviderKind::Oidc => {
                let issuer = p.config.issuer.clone().unwrap_or_default();
                let d = self.keys.discover(&issuer).await?;
                Endpoints {
                    authorize: d.authorization_endpoint,
                    token: d.token_endpoint,
                    userinfo: d.userinfo_endpoint,
                    jwks: Some(d.jwks_uri),
                    issuers: vec![issuer],
                }
            }
            ProviderKind::Oauth2 => Endpoints {
                authorize: p.config.authorize_url.clone().unwrap_or_default(),
                token: p.config.token_url.clone().unwrap_or_default(),
                userinfo: p.config.userinfo_url.clone(),
                jwks: None,
                issuers: vec![],
            },
        })
    }
}
