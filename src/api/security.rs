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

/// Query parameters that would carry a credential. Secrets in URLs end up in logs,
/// proxies and browser history, so a request carrying one is refused outright.
const CREDENTIAL_PARAMS: &[&str] = &["api_key", "apikey", "key", "access_token", "platform_key"];

fn refuse_credentials_in_query(req: &Request) -> poem::Result<()> {
    let Some(q) = req.uri().query() else {
        return Ok(());
    };
    let found = q.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or_default();
        CREDENTIAL_PARAMS
            .iter()
            .any(|p| name.eq_ignore_ascii_case(p))
    });
    if found {
        return Err(ApiError::bad_request(
            "credentials_in_query",
            "credentials must be sent in a header, never in the query string",
            None,
        )
        .into());
    }
    Ok(())
}

async fn check_user(req: &Request, bearer: Bearer) -> poem::Result<UserCaller> {
    refuse_credentials_in_query(req)?;
    let (state, tenant) = parts(req)?;
    let Tenant(flock) = tenant.ok_or_else(ApiError::internal)?;
    let claims = state
        .tokens
        .verify(&flock, &bearer.token)
        .await
        .map_err(ApiError::from)?;
    // The session must still be alive: logout and revocation take effect at once.
    // `check` also marks it used (at most one write a minute).
    let live = state
        .sessions
        .check(flock.id, claims.session)
        .await
        .map_err(ApiError::from)?;
    match live {
        // The token's user and role must be the session's own.
        Some(s) if s.user == claims.user.to_string() && s.role == claims.role => {
            Ok(UserCaller { flock, claims })
        }
        _ => Err(ApiError::unauthorized("invalid_token", "invalid or expired token").into()),
    }
}

async fn check_server(req: &Request, key: ApiKey) -> poem::Result<ServerKey> {
    refuse_credentials_in_query(req)?;
    let (state, tenant) = parts(req)?;
    let Tenant(flock) = tenant.ok_or_else(ApiError::internal)?;
    Ok(state
        .api_keys
        .authenticate(flock.id, &key.key)
        .await
        .map_err(ApiError::from)?)
}

async fn check_platform(req: &Request, key: ApiKey) -> poem::Result<PlatformCaller> {
    refuse_credentials_in_query(req)?;
    let (state, _) = parts(req)?;
    Ok(state
        .api_keys
        .authenticate_platform(&key.key)
        .await
        .map_err(ApiError::from)?)
}
