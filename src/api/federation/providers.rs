//! A flock's identity providers, configured with the flock API key. Secrets (client
//! secrets, Apple's private key) are write-only: sealed when stored, never returned.
use crate::api::error::ApiResult;
use crate::api::frame::tenant;
use crate::api::security::BackOfficeAuth;
use crate::api::ApiTags;
use crate::domain::federation::{ClaimMap, FederationService, Provider, ProviderInput};
use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use secrecy::SecretString;

pub struct ProvidersApi {
    pub federation: FederationService,
}

/// What kind of provider.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
enum ProviderKindView {
    /// Google (issuer `https://accounts.google.com`).
    Google,
    /// Sign in with Apple (issuer `https://appleid.apple.com`); the client secret is made
    /// from `private_key`, `team_id` and `key_id`.
    Apple,
    /// Any OpenID Connect provider, found from its `issuer` (discovery).
    Oidc,
    /// A plain OAuth 2 provider (Facebook, LinkedIn…): its URLs and a claim mapping.
    Oauth2,
}

/// Where a plain OAuth 2 provider's userinfo keeps each claim (dotted paths).
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
struct ClaimMapView {
    /// The user's id at the provider (default `id`).
    #[oai(validator(min_length = 1, max_length = 100))]
    subject: Option<String>,
    /// The email (default `email`).
    #[oai(validator(min_length = 1, max_length = 100))]
    email: Option<String>,
    /// A boolean saying the email is verified; unset: `trust_email` decides.
    #[oai(validator(min_length = 1, max_length = 100))]
    email_verified: Option<String>,
    /// The display name (default `name`).
    #[oai(validator(min_length = 1, max_length = 100))]
    name: Option<String>,
}

/// A provider's configuration (PUT replaces it whole; an absent secret keeps the stored
/// one).
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct ProviderRequest {
    kind: ProviderKindView,
    /// The client id at the provider (Apple: the services id or bundle id).
    #[oai(validator(min_length = 1, max_length = 255))]
    client_id: String,
    /// The client secret (write-only). Not for Apple.
    #[oai(validator(min_length = 1, max_length = 2048))]
    client_secret: Option<String>,
    /// Apple: the PEM text of the team's `.p8` key (write-only).
    #[oai(validator(
        min_length = 1,
        max_length = 4096,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]*$"
    ))]
    private_key: Option<String>,
    /// Apple: the team id.
    #[oai(validator(min_length = 1, max_length = 64))]
    team_id: Option<String>,
    /// Apple: the key id of `private_key`.
    #[oai(validator(min_length = 1, max_length = 64))]
    key_id: Option<String>,
    /// OpenID Connect: the issuer (its discovery document must name exactly it).
    #[oai(validator(min_length = 1, max_length = 500))]
    issuer: Option<String>,
    /// OAuth 2: the authorization endpoint.
    #[oai(validator(min_length = 1, max_length = 500))]
    authorize_url: Option<String>,
    /// OAuth 2: the token endpoint.
    #[oai(validator(min_length = 1, max_length = 500))]
    token_url: Option<String>,
    /// OAuth 2: the userinfo endpoint.
    #[oai(validator(min_length = 1, max_length = 500))]
    userinfo_url: Option<String>,
    /// OAuth 2: where the userinfo answer keeps each claim.
    claims: Option<ClaimMapView>,
    /// Scopes asked in the code flow (default: `openid email profile`; Apple `name
    /// email`; OAuth 2 `email`).
    #[oai(validator(max_items = 20))]
    scopes: Option<Vec<String>>,
    /// More client ids an ID token may be issued to (Apple's `trusted_client_ids`, the
    /// mobile apps' client ids).
    #[oai(validator(max_items = 20))]
    trusted_audiences: Option<Vec<String>>,
    /// Accept ID tokens without a nonce on the ID-token endpoint (default false).
    allow_missing_nonce: Option<bool>,
    /// OAuth 2 without an `email_verified` claim: whether the provider only gives
    /// verified emails (default false).
    trust_email: Option<bool>,
    /// Default true.
    enabled: Option<bool>,
    /// Whether a first sign-in may create an account (default true).
    allow_signup: Option<bool>,
}

/// A configured provider. Secrets are never returned.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ProviderView {
    /// The name in URLs (`…/user/federated/{provider}/…`).
    name: String,
    kind: ProviderKindView,
    client_id: String,
    /// Whether a client secret (Apple: a private key) is stored.
    has_secret: bool,
    team_id: Option<String>,
    key_id: Option<String>,
    issuer: Option<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    userinfo_url: Option<String>,
    claims: Option<ClaimMapView>,
    scopes: Vec<String>,
    trusted_audiences: Vec<String>,
    allow_missing_nonce: bool,
    trust_email: bool,
    enabled: bool,
    allow_signup: bool,
    /// The redirect URI to register at the provider.
    callback_url: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Object)]
struct ProviderList {
    items: Vec<ProviderView>,
}

#[derive(ApiResponse)]
enum Put {
    /// Created.
    #[oai(status = 201)]
    Created(Json<ProviderView>),
    /// Replaced.
    #[oai(status = 200)]
    Replaced(Json<ProviderView>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Removed.
    #[oai(status = 204)]
    Done,
}

impl ProvidersApi {
    fn view(&self, slug: &str, p: Provider) -> ProviderView {
        let c = p.config;
        ProviderView {
            callback_url: self.federation.callback_for(slug, &p.name),
            kind: match p.kind {
                crate::domain::federation::ProviderKind::Google => ProviderKindView::Google,
                crate::domain::federation::ProviderKind::Apple => ProviderKindView::Apple,
                crate::domain::federation::ProviderKind::Oidc => ProviderKindView::Oidc,
                crate::domain::federation::ProviderKind::Oauth2 => ProviderKindView::Oauth2,
            },
            name: p.name,
            client_id: p.client_id,
            has_secret: p.has_secret,
            team_id: c.team_id,
            key_id: c.key_id,
            issuer: c.issuer,
            authorize_url: c.authorize_url,
            token_url: c.token_url,
            userinfo_url: c.userinfo_url,
            claims: c.claims.map(|m| ClaimMapView {
                subject: Some(m.subject),
                email: Some(m.email),
                email_verified: m.email_verified,
                name: m.name,
            }),
            scopes: c.scopes,
            trusted_audiences: c.trusted_audiences,
            allow_missing_nonce: c.allow_missing_nonce,
            trust_email: c.trust_email,
            enabled: p.enabled,
            allow_signup: p.allow_signup,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[OpenApi(tag = "ApiTags::Providers")]
impl ProvidersApi {
    /// The flock's providers (scope `providers_list`).
    #[oai(
        path = "/api/v1/:flock/providers",
        method = "get",
        operation_id = "providers_list"
    )]
    async fn list(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
    ) -> ApiResult<Json<ProviderList>> {
        auth.allow("providers_list")?;
        let items = self.federation.providers(flock.id).await?;
        Ok(Json(ProviderList {
            items: items
                .into_iter()
                .map(|p| self.view(&flock.slug, p))
                .collect(),
        }))
    }

    /// One provider (scope `providers_get`).
    #[oai(
        path = "/api/v1/:flock/providers/:provider",
        method = "get",
        operation_id = "providers_get"
    )]
    async fn get(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// The provider's name.
        provider: Path<String>,
    ) -> ApiResult<Json<ProviderView>> {
        auth.allow("providers_get")?;
        let p = self.federation.provider(flock.id, &provider.0).await?;
        Ok(Json(self.view(&flock.slug, p)))
    }

    /// Create or replace a provider (scope `providers_put`). The whole configuration is
    /// checked first (an OpenID Connect issuer is discovered); secrets are sealed.
    #[oai(
        path = "/api/v1/:flock/providers/:provider",
        method = "put",
        operation_id = "providers_put"
    )]
    async fn put(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// The provider's name: 1 to 32 of a-z, 0-9, `-`, `_`.
        provider: Path<String>,
        body: Json<ProviderRequest>,
    ) -> ApiResult<Put> {
        auth.allow("providers_put")?;
        let b = body.0;
        let kind = match b.kind {
            ProviderKindView::Google => "google",
            ProviderKindView::Apple => "apple",
            ProviderKindView::Oidc => "oidc",
            ProviderKindView::Oauth2 => "oauth2",
        };
        let d = ClaimMap::default();
        let input = ProviderInput {
            kind: kind.to_owned(),
            client_id: b.client_id,
            client_secret: b.client_secret.map(SecretString::from),
            private_key: b.private_key.map(SecretString::from),
            config: crate::domain::federation::ProviderConfig {
                issuer: b.issuer,
                authorize_url: b.authorize_url,
                token_url: b.token_url,
                userinfo_url: b.userinfo_url,
                claims: b.claims.map(|m| ClaimMap {
                    subject: m.subject.unwrap_or(d.subject),
                    email: m.email.unwrap_or(d.email),
                    email_verified: m.email_verified,
                    name: m.name.or(d.name),
                }),
                scopes: b.scopes.unwrap_or_default(),
                trusted_audiences: b.trusted_audiences.unwrap_or_default(),
                allow_missing_nonce: b.allow_missing_nonce.unwrap_or(false),
                trust_email: b.trust_email.unwrap_or(false),
                team_id: b.team_id,
                key_id: b.key_id,
            },
            enabled: b.enabled.unwrap_or(true),
            allow_signup: b.allow_signup.unwrap_or(true),
        };
        let (p, created) = self
            .federation
            .put_provider(&flock, &provider.0, input)
            .await?;
        let v = Json(self.view(&flock.slug, p));
        Ok(if created {
            Put::Created(v)
        } else {
            Put::Replaced(v)
        })
    }

    /// Remove a provider (scope `providers_delete`). Identities at it stay, and work
    /// again if a provider of that name is configured again.
    #[oai(
        path = "/api/v1/:flock/providers/:provider",
        method = "delete",
        operation_id = "providers_delete"
    )]
    async fn delete(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        provider: Path<String>,
    ) -> ApiResult<Deleted> {
        auth.allow("providers_delete")?;
        self.federation
            .delete_provider(flock.id, &provider.0)
            .await?;
        Ok(Deleted::Done)
    }
}
