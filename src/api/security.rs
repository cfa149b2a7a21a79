//! The three kinds of caller, one security scheme each: users (bearer access token),
//! servers (flock API key in `X-Api-Key`), platform operators (`X-Platform-Key`). The
//! caller context is built here, from a verified credential only.
use super::error::ApiError;
use super::frame::Tenant;
use crate::app::AppState;
use crate::domain::apikey::{PlatformCaller, ServerKey};
use crate::domain::flock::Flock;
use crate::domain::tokens::AccessClaims;
use poem::Request;
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::SecurityScheme;
use std::sync::Arc;

/// A signed-in user of the flock in the path, with a live session.
#[derive(Debug, Clone)]
pub struct UserCaller {
    pub flock: Arc<Flock>,
    pub claims: AccessClaims,
}

/// An access token from `POST /api/v1/{flock}/user/auth`, as `Authorization: Bearer …`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_user")]
pub struct UserAuth(pub UserCaller);

/// A flock API key (`fold_fk_…`) in the `X-Api-Key` header. Its scopes list the
/// operations it may call.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-Api-Key",
    key_in = "header",
    checker = "check_server"
)]
pub struct ServerAuth(pub ServerKey);

/// A platform operator key (`fold_pk_…`) in the `X-Platform-Key` header.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-Platform-Key",
    key_in = "header",
    checker = "check_platform"
)]
pub struct PlatformAuth(pub PlatformCaller);

fn parts(req: &Request) -> poem::Result<(AppState, Option<Tenant>)> {
    let state = req
        .data::<AppState>()
        .cloned()
        .ok_or_else(ApiError::internal)?;
    Ok((state, req.data::<Tenant>().cloned()))
}

async fn check_user(req: &Request, bearer: Bearer) -> poem::Result<UserCaller> {
    let (state, tenant) = parts(req)?;
    let Tenant(flock) = tenant.ok_or_else(ApiError::internal)?;
    let claims = state
        .tokens
        .verify(&flock, &bearer.token)
        .await
        .map_err(ApiError::from)?;
    // The session must still be alive: logout and revocation take effect at once.
    let live = state
        .sessions
        .get(flock.id, claims.session)
        .await
        .map_err(ApiError::from)?;
    match live {
        Some(s) if s.user == claims.user.to_string() => {
            if s.role == crate::domain::user::LIMITED_ROLE && !limited_may(req) {
                return Err(ApiError::forbidden(
                    "limited_session",
                    "this account is preregistered: activate it to do more than read or update its profile",
                )
                .into());
            }
            Ok(UserCaller { flock, claims })
        }
        _ => Err(ApiError::unauthorized("invalid_token", "invalid or expired token").into()),
    }
}

/// What a preregistered account's limited session may call: read and update its own
/// profile (`GET`/`PATCH /api/v1/{flock}/user`) and sign out (`DELETE …/user/auth`).
fn limited_may(req: &Request) -> bool {
    let path = req.uri().path().trim_end_matches('/');
    let mut parts = path.split('/').skip(1);
    let (Some("api"), Some("v1"), Some(_flock), Some("user")) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let rest: Vec<&str> = parts.collect();
    let m = req.method();
    match rest.as_slice() {
        [] => m == poem::http::Method::GET || m == poem::http::Method::PATCH,
        ["auth"] => m == poem::http::Method::DELETE,
        _ => false,
    }
}

async fn check_server(req: &Request, key: ApiKey) -> poem::Result<ServerKey> {
    let (state, tenant) = parts(req)?;
    let Tenant(flock) = tenant.ok_or_else(ApiError::internal)?;
    Ok(state
        .api_keys
        .authenticate(flock.id, &key.key)
        .await
        .map_err(ApiError::from)?)
}

async fn check_platform(req: &Request, key: ApiKey) -> poem::Result<PlatformCaller> {
    let (state, _) = parts(req)?;
    Ok(state
        .api_keys
        .authenticate_platform(&key.key)
        .await
        .map_err(ApiError::from)?)
}
