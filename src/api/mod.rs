//! HTTP only: one `#[OpenApi]` struct per area, request/response types, error mapping.
//! A handler extracts, calls one service, converts the result.
//!
//! Areas (one file or folder each, named as in `domain/`): `ops`, `flocks` (platform
//! operations on flocks), `api_keys`, `signing` (the JWKS), `user`, `otp`, `sessions`,
//! `directory` (the back office's users), `meta` (user meta), `groups`, `profile` (field
//! schema and cards), `addresses`, `files`, `federation` (provider sign-in, identities,
//! the flock's providers).
//! Shared parts: `frame` (the request frame and the flock of the path, [`Tenant`](frame::Tenant)),
//! `security` (the three security schemes and cookie mode), `client_ip` (who is calling),
//! `error` (the one error shape), `views` (wire types several areas return), `tags`.
//!
//! Each API struct holds the services it calls, cloned from [`ApiServices`], which the
//! composition root (`app`) fills: nothing here knows the application state.
mod addresses;
mod admin;
mod api_keys;
mod audit;
pub mod client_ip;
mod directory;
pub mod error;
mod federation;
mod files;
mod flocks;
pub mod frame;
mod groups;
mod maintenance;
mod meta;
pub mod ops;
mod otp;
pub mod payload_error;
mod profile;
pub mod security;
mod sessions;
mod signing;
pub mod spec_rules;
mod spec_shape;
mod stats;
mod tags;
mod user;
pub mod views;
mod webhooks;

pub use tags::ApiTags;

use crate::domain::addresses::AddressService;
use crate::domain::admin::{AdminService, Level};
use crate::domain::api_keys::ApiKeyService;
use crate::domain::directory::DirectoryService;
use crate::domain::federation::FederationService;
use crate::domain::files::FileService;
use crate::domain::flocks::FlockService;
use crate::domain::groups::GroupService;
use crate::domain::meta::MetaService;
use crate::domain::otp::OtpService;
use crate::domain::profile::ProfileService;
use crate::domain::retention::RetentionService;
use crate::domain::sessions::SessionService;
use crate::domain::signin::SignInService;
use crate::domain::signing::SigningKeys;
use crate::domain::user::UserService;
use crate::domain::webhooks::WebhookService;
use crate::infra::clock::Clock;
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;
use std::sync::{Arc, LazyLock};

/// The domain services the API calls (each a cheap clone), and the probes of `ops`.
#[derive(Clone)]
pub struct ApiServices {
    pub clock: Clock,
    pub flocks: FlockService,
    pub signing: SigningKeys,
    pub users: UserService,
    pub sessions: SessionService,
    pub signin: SignInService,
    pub otp: OtpService,
    pub api_keys: ApiKeyService,
    pub directory: DirectoryService,
    pub meta: MetaService,
    pub groups: GroupService,
    pub profile: ProfileService,
    pub addresses: AddressService,
    pub files: FileService,
    pub federation: FederationService,
    pub admin: AdminService,
    pub webhooks: WebhookService,
    pub retention: RetentionService,
    pub audit: crate::domain::audit::AuditService,
    pub stats: crate::domain::stats::StatsService,
    pub probes: ops::Probes,
    /// `http.public_url`: the spec's `servers`.
    pub public_url: String,
}

pub type Apis = (
    ops::OpsApi,
    flocks::PlatformApi,
    user::UserApi,
    user::UserRecoveryApi,
    user::UserProfileApi,
    signing::KeysApi,
    otp::OtpApi,
    sessions::SessionsApis,
    api_keys::ApiKeysApi,
    api_keys::PlatformKeysApi,
    directory::DirectoryApi,
    directory::DirectorySearchApi,
    meta::MetaApi,
    groups::GroupsApi,
    // poem-openapi implements `OpenApi` for tuples of up to 16: profile data is nested.
    (
        profile::ProfileApi,
        profile::PlatformProfileApi,
        addresses::MyAddressesApi,
        addresses::AddressesApi,
        files::FilesApi,
    ),
    (
        federation::FederationApi,
        federation::IdentitiesApi,
        federation::IdentitiesBackOfficeApi,
        federation::ProvidersApi,
        admin::AdminApi,
        webhooks::WebhooksApi,
        maintenance::MaintenanceApi,
        audit::AuditApi,
        stats::StatsApi,
    ),
);

/// Every operation id of the API: the names a scope may use.
pub fn operation_ids() -> &'static [&'static str] {
    static IDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        <Apis as poem_openapi::OpenApi>::meta()
            .iter()
            .flat_map(|api| api.paths.iter())
            .flat_map(|p| p.operations.iter())
            .filter_map(|op| op.operation_id)
            .collect()
    });
    &IDS
}

/// The operations a manager may be granted — the back-office ones, which take a flock API
/// key or a manager's token — and the level each needs, from its HTTP method.
pub fn manager_operations() -> Vec<(&'static str, Level)> {
    <Apis as poem_openapi::OpenApi>::meta()
        .iter()
        .flat_map(|api| api.paths.iter())
        .flat_map(|p| p.operations.iter())
        .filter(|op| {
            let has = |name: &str| op.security.iter().any(|s| s.contains_key(name));
            has("ServerAuth") && has("ManagerAuth")
        })
        .filter_map(|op| {
            op.operation_id
                .map(|id| (id, Level::of_method(op.method.as_str())))
        })
        .collect()
}

pub fn service(s: &ApiServices) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            ops::OpsApi {
                probes: s.probes.clone(),
            },
            flocks::PlatformApi {
                flocks: s.flocks.clone(),
                signing: s.signing.clone(),
            },
            user::UserApi {
                users: s.users.clone(),
                sessions: s.sessions.clone(),
                signin: s.signin.clone(),
                clock: s.clock.clone(),
            },
            user::UserRecoveryApi {
                users: s.users.clone(),
                signin: s.signin.clone(),
                clock: s.clock.clone(),
            },
            user::UserProfileApi {
                users: s.users.clone(),
            },
            signing::KeysApi {
                signing: s.signing.clone(),
            },
            otp::OtpApi {
                otp: s.otp.clone(),
                signin: s.signin.clone(),
                clock: s.clock.clone(),
            },
            sessions::apis(s),
            api_keys::ApiKeysApi {
                api_keys: s.api_keys.clone(),
                operations: operation_ids(),
            },
            api_keys::PlatformKeysApi {
                api_keys: s.api_keys.clone(),
                flocks: s.flocks.clone(),
                operations: operation_ids(),
            },
            directory::DirectoryApi {
                directory: s.directory.clone(),
            },
            directory::DirectorySearchApi {
                directory: s.directory.clone(),
            },
            meta::MetaApi {
                meta: s.meta.clone(),
            },
            groups::GroupsApi {
                groups: s.groups.clone(),
            },
            (
                profile::ProfileApi {
                    profile: s.profile.clone(),
                },
                profile::PlatformProfileApi {
                    profile: s.profile.clone(),
                    flocks: s.flocks.clone(),
                },
                addresses::MyAddressesApi {
                    addresses: s.addresses.clone(),
                },
                addresses::AddressesApi {
                    addresses: s.addresses.clone(),
                },
                files::FilesApi {
                    files: s.files.clone(),
                },
            ),
            (
                federation::FederationApi {
                    federation: s.federation.clone(),
                },
                federation::IdentitiesApi {
                    federation: s.federation.clone(),
                },
                federation::IdentitiesBackOfficeApi {
                    federation: s.federation.clone(),
                },
                federation::ProvidersApi {
                    federation: s.federation.clone(),
                },
                admin::AdminApi {
                    admin: s.admin.clone(),
                },
                webhooks::WebhooksApi {
                    webhooks: s.webhooks.clone(),
                },
                maintenance::MaintenanceApi {
                    retention: s.retention.clone(),
                },
                audit::AuditApi {
                    audit: s.audit.clone(),
                },
                stats::StatsApi {
                    stats: s.stats.clone(),
                },
            ),
        ),
        "Fold",
        env!("CARGO_PKG_VERSION"),
    )
    .license(
        poem_openapi::LicenseObject::new("Apache-2.0")
            .url("https://www.apache.org/licenses/LICENSE-2.0"),
    )
    .description(
        "Fold is a multi-tenant identity platform. Every tenant route lives under \
         `/api/v1/{flock}/…`; platform operations under `/platform/v1/…`. Errors always \
         have the body `{code, message, field?, request_id}`.",
    )
}

/// The spec as committed under `openapi/` (pretty JSON, trailing newline):
/// poem-openapi's document with the request-body rules of [`spec_rules`] applied, for the
/// deployment at `server` (its `http.public_url`).
pub fn spec_json(s: &ApiServices, server: &str) -> String {
    spec_rules::apply(&service(s).spec(), server)
}

/// Every route: the API, `/openapi.json`, interactive docs at `/docs`, inside the
/// request frame and cookie mode.
pub fn routes(s: &ApiServices, frame: frame::FrameConfig) -> impl Endpoint + 'static {
    let service = service(s);
    // The served spec and the one the docs page embeds are the committed one.
    let (raw, json) = (service.spec(), spec_json(s, &s.public_url));
    let docs_html = service.swagger_ui_html().replacen(&raw, &json, 1);
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(json.clone())
    });
    let docs = poem::endpoint::make_sync(move |_| poem::web::Html(docs_html.clone()));
    let for_errors = s.clone();
    let frame = frame::FrameState::new(
        frame,
        s.flocks.clone(),
        s.audit.clone(),
        Arc::new(move || spec_json(&for_errors, &for_errors.public_url)),
    );
    let auth = security::Auth::new(s.sessions.clone(), s.api_keys.clone(), s.admin.clone());
    Route::new()
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/", service)
        .around(security::cookie_mode)
        .around(frame::frame)
        .data(frame)
        .data(auth)
}
