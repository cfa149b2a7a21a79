//! HTTP only: one `#[OpenApi]` struct per area, request/response types, error mapping.
//! A handler extracts, calls one service, converts the result.
pub mod client_ip;
pub mod error;
pub mod frame;
mod api_keys;
mod ops;
mod otp;
pub mod payload_error;
mod flocks;
pub mod security;
mod sessions;
mod signing;
mod user;
pub mod views;

use crate::app::AppState;
use poem_openapi::{OpenApiService, Tags};

#[derive(Tags)]
pub enum ApiTags {
    /// Liveness, readiness and metrics.
    Ops,
    /// Platform operators: create and configure flocks (platform key).
    Platform,
    /// Self-service accounts: register, sign in, the current user.
    User,
    /// Public signing keys of a flock.
    Keys,
    /// One-time codes by email and SMS: sign in or register, verify an identifier,
    /// reset a password.
    Otp,
    /// The current user's sessions, sign-out and refresh tokens.
    Sessions,
    /// Flock API keys for servers (key-management scopes or the platform key).
    ApiKeys,
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
);

pub fn service(state: &AppState) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            ops::OpsApi {
                state: state.clone(),
            },
            flocks::PlatformApi {
                state: state.clone(),
            },
            user::UserApi {
                state: state.clone(),
            },
            user::UserRecoveryApi {
                state: state.clone(),
            },
            user::UserProfileApi {
                state: state.clone(),
            },
            signing::KeysApi {
                state: state.clone(),
            },
            otp::OtpApi {
                state: state.clone(),
            },
            sessions::apis(state),
            api_keys::ApiKeysApi {
                state: state.clone(),
            },
            api_keys::PlatformKeysApi {
                state: state.clone(),
            },
        ),
        "Fold",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Fold is a multi-tenant identity platform. Every tenant route lives under \
         `/api/v1/{flock}/…`; platform operations under `/platform/v1/…`. Errors always \
         have the body `{code, message, field?, request_id}`.",
    )
}

/// The spec as committed under `openapi/` (pretty JSON, trailing newline).
pub fn spec_json(state: &AppState) -> String {
    let mut s = service(state).spec();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}
