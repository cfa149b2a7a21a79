//! The kinds of caller, one security scheme each: users (bearer access token), servers
//! (flock API key in `X-Api-Key`), managers (a manager's bearer token, on back-office
//! operations, limited by their admin groups' grants), platform operators
//! (`X-Platform-Key`). Back-office operations take [`BackOfficeAuth`]: an API key or a
//! manager's token. The caller context is built here, from a verified credential only.
use super::error::ApiError;
use super::frame::Tenant;
use crate::domain::admin::{AdminService, ManagerGrants, ManagerRefusal};
use crate::domain::api_keys::{ApiKeyService, KeyError, PlatformCaller, ServerCaller, ServerKey};
use crate::domain::sessions::access::AccessClaims;
use crate::domain::sessions::SessionService;
use crate::domain::user::Role;
use crate::infra::context::Caller;
use poem::Request;
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::SecurityScheme;
use std::sync::Arc;

/// What the security schemes check credentials with (request data, so it is cloned into
/// every request: one reference count, not the services' dozens).
#[derive(Clone)]
pub struct Auth(Arc<AuthParts>);

pub struct AuthParts {
    pub sessions: SessionService,
    pub api_keys: ApiKeyService,
    pub admin: AdminService,
}

impl Auth {
    pub fn new(sessions: SessionService, api_keys: ApiKeyService, admin: AdminService) -> Self {
        Self(Arc::new(AuthParts {
            sessions,
            api_keys,
            admin,
        }))
    }
}

impl std::ops::Deref for Auth {
    type Target = AuthParts;
    fn deref(&self) -> &AuthParts {
        &self.0
    }
}

/// A signed-in user of the flock in the path, with a live session: the verified claims
/// of the access token (user, session, role).
pub type UserCaller = AccessClaims;

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

/// A manager's access token (`Authorization: Bearer`, role `manager` with `bo_access`) on
/// a back-office operation: allowed what the manager's admin groups grant.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_manager")]
pub struct ManagerAuth(pub ManagerGrants);

/// The back office's caller: a flock API key (its scopes) or a manager's token (the
/// grants of their admin groups). A request with `X-Api-Key` is a server's; one with only
/// an `Authorization` bearer is a manager's.
pub enum BackOfficeAuth {
    Key(ServerKey),
    Manager(ManagerGrants),
}

impl BackOfficeAuth {
    /// The caller, allowed to call `operation`, or why not (403 naming the operation).
    pub fn allow(&self, operation: &'static str) -> Result<ServerCaller, KeyError> {
        match self {
            BackOfficeAuth::Key(k) => k.allow(operation),
            BackOfficeAuth::Manager(m) => m.allow(operation),
        }
    }
}

impl<'a> poem_openapi::ApiExtractor<'a> for BackOfficeAuth {
    const TYPES: &'static [poem_openapi::ApiExtractorType] =
        &[poem_openapi::ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut poem_openapi::registry::Registry) {
        <ServerAuth as poem_openapi::ApiExtractor>::register(registry);
        <ManagerAuth as poem_openapi::ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut v = <ServerAuth as poem_openapi::ApiExtractor>::security_schemes();
        v.extend(<ManagerAuth as poem_openapi::ApiExtractor>::security_schemes());
        v
    }

    async fn from_request(
        req: &'a Request,
        body: &mut poem::RequestBody,
        _opts: poem_openapi::ExtractParamOptions<()>,
    ) -> poem::Result<Self> {
        // An API key wins when both are sent (a server's call); a bearer alone is a
        // manager's.
        let headers = req.headers();
        if !headers.contains_key("x-api-key")
            && headers.contains_key(poem::http::header::AUTHORIZATION)
        {
            let m = <ManagerAuth as poem_openapi::ApiExtractor>::from_request(
                req,
                body,
                poem_openapi::ExtractParamOptions::default(),
            )
            .await?;
            let grants = m.0;
            // A manager acts on clients: another manager (who may hold more) only for a
            // superadmin — else a narrow grant could take over a wider account.
            if !grants.superadmin {
                if let Some(target) = user_in_path(req.uri().path()) {
                    let (auth, _) = parts(req)?;
                    if auth
                        .admin
                        .is_manager(grants.flock, target)
                        .await
                        .map_err(ApiError::from)?
                    {
                        return Err(ApiError::forbidden(
                            "manager_target_forbidden",
                            "only a superadmin acts on other managers",
                        )
                        .into());
                    }
                }
            }
            return Ok(BackOfficeAuth::Manager(grants));
        }
        let k = <ServerAuth as poem_openapi::ApiExtractor>::from_request(
            req,
            body,
            poem_openapi::ExtractParamOptions::default(),
        )
        .await?;
        Ok(BackOfficeAuth::Key(k.0))
    }
}

/// The user of a `/api/v1/{flock}/directory/users/{user_id}…` path.
fn user_in_path(path: &str) -> Option<crate::ids::UserId> {
    let mut it = path.split('/');
    while let Some(seg) = it.next() {
        if seg == "directory" {
            if it.next() != Some("users") {
                return None;
            }
            return it
                .next()
                .and_then(|id| id.parse::<uuid::Uuid>().ok())
                .map(crate::ids::UserId);
        }
    }
    None
}

/// A platform operator key (`fold_pk_…`) in the `X-Platform-Key` header.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "X-Platform-Key",
    key_in = "header",
    checker = "check_platform"
)]
pub struct PlatformAuth(pub PlatformCaller);

/// The checkers' services and the flock of the path, borrowed from the request (the hot
/// path clones nothing).
fn parts(req: &Request) -> poem::Result<(&Auth, Option<&Tenant>)> {
    let auth = req.data::<Auth>().ok_or_else(ApiError::internal)?;
    Ok((auth, req.data::<Tenant>()))
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
    let (auth, tenant) = parts(req)?;
    let flock = &tenant.ok_or_else(ApiError::internal)?.0;
    // The session must still be alive (logout and revocation take effect at once) and
    // carry the token's user and role.
    let claims = auth
        .sessions
        .authenticate(flock, &bearer.token)
        .await
        .map_err(ApiError::from)?;
    if claims.role == Role::Limited && !limited_may(req) {
        return Err(ApiError::forbidden(
            "limited_session",
            "this account is preregistered: activate it to do more than read or update its profile",
        )
        .into());
    }
    crate::infra::context::set_actor(Caller::User(claims.user.0));
    Ok(claims)
}

/// What a preregistered account's limited session may call: read and update its own
/// profile (`GET`/`PATCH /api/v1/{flock}/user` and `…/user/card`) and sign out
/// (`DELETE …/user/auth`).
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
        [] | ["card"] => m == poem::http::Method::GET || m == poem::http::Method::PATCH,
        ["auth"] => m == poem::http::Method::DELETE,
        _ => false,
    }
}

async fn check_manager(req: &Request, bearer: Bearer) -> poem::Result<ManagerGrants> {
    refuse_credentials_in_query(req)?;
    let (auth, tenant) = parts(req)?;
    let flock = &tenant.ok_or_else(ApiError::internal)?.0;
    let claims = auth
        .sessions
        .authenticate(flock, &bearer.token)
        .await
        .map_err(ApiError::from)?;
    let refused = || {
        ApiError::forbidden(
            "manager_required",
            "back-office operations take a flock API key or the token of a manager with back-office access",
        )
    };
    if claims.role != Role::Manager {
        return Err(refused().into());
    }
    match auth.admin.grants_of(flock.id, claims.user).await {
        Ok(g) => {
            crate::infra::context::set_actor(Caller::Manager(claims.user.0));
            Ok(g)
        }
        Err(ManagerRefusal::NotAManager) => Err(refused().into()),
        Err(ManagerRefusal::Infra(i)) => Err(ApiError::from(i).into()),
    }
}

async fn check_server(req: &Request, key: ApiKey) -> poem::Result<ServerKey> {
    refuse_credentials_in_query(req)?;
    let (auth, tenant) = parts(req)?;
    let flock = &tenant.ok_or_else(ApiError::internal)?.0;
    let k = auth
        .api_keys
        .authenticate(flock.id, &key.key)
        .await
        .map_err(ApiError::from)?;
    crate::infra::context::set_actor(Caller::ApiKey(k.key_id));
    Ok(k)
}

async fn check_platform(req: &Request, key: ApiKey) -> poem::Result<PlatformCaller> {
    refuse_credentials_in_query(req)?;
    let (auth, _) = parts(req)?;
    let p = auth
        .api_keys
        .authenticate_platform(&key.key)
        .await
        .map_err(ApiError::from)?;
    crate::infra::context::set_actor(Caller::Platform(p.key_id));
    Ok(p)
}

// ---- Cookie mode for browser portals ----
//
// `POST /api/v1/{flock}/token/cookie` puts the session in `__Host-` cookies (Secure,
// HttpOnly, SameSite=Lax, Path=/): the access token, the refresh token, and a CSRF token
// that page scripts can read. On every request without an `Authorization` header this
// layer turns the session cookie into a bearer token, and refuses a state-changing
// request (anything but GET/HEAD/OPTIONS) unless `X-CSRF-Token` equals the CSRF cookie
// (double submit; SameSite=Lax already keeps cross-site POSTs from carrying the cookie).
// `__Host-` cookies are per host: one cookie session per host at a time.

/// The access token cookie.
pub const SESSION_COOKIE: &str = "__Host-fold_session";
/// The refresh token cookie.
pub const REFRESH_COOKIE: &str = "__Host-fold_refresh";
/// The CSRF token cookie (readable by scripts; echo it in `X-CSRF-Token`).
pub const CSRF_COOKIE: &str = "__Host-fold_csrf";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// The request's cookies by name (first value wins).
pub fn cookies(req: &Request) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for h in req.headers().get_all(poem::http::header::COOKIE) {
        let Ok(s) = h.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                out.entry(k.to_owned()).or_insert_with(|| v.to_owned());
            }
        }
    }
    out
}

/// Whether the request carries the CSRF header matching the CSRF cookie.
pub fn csrf_ok(req: &Request, jar: &std::collections::HashMap<String, String>) -> bool {
    let header = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match jar.get(CSRF_COOKIE) {
        Some(c) if !c.is_empty() && !header.is_empty() => {
            crate::infra::secret::ct_eq(c.as_bytes(), header.as_bytes())
        }
        _ => false,
    }
}

pub async fn cookie_mode<E: poem::Endpoint>(
    ep: Arc<E>,
    mut req: Request,
) -> poem::Result<poem::Response> {
    use poem::IntoResponse;
    if !req
        .headers()
        .contains_key(poem::http::header::AUTHORIZATION)
    {
        let jar = cookies(&req);
        if let Some(token) = jar.get(SESSION_COOKIE).filter(|t| !t.is_empty()) {
            let safe = matches!(
                *req.method(),
                poem::http::Method::GET | poem::http::Method::HEAD | poem::http::Method::OPTIONS
            );
            if !safe && !csrf_ok(&req, &jar) {
                return Ok(ApiError::forbidden(
                    "csrf_failed",
                    "cookie sessions need the X-CSRF-Token header on state-changing requests",
                )
                .into_response());
            }
            if let Ok(v) = poem::http::HeaderValue::from_str(&format!("Bearer {token}")) {
                req.headers_mut()
                    .insert(poem::http::header::AUTHORIZATION, v);
            }
        }
    }
    Ok(ep.call(req).await?.into_response())
}
