//! Self-service accounts under `/api/v1/{flock}/user…`, and the flock's JWKS.
use super::client_ip::ClientIp;
use super::error::ApiResult;
use super::frame::Tenant;
use super::security::UserAuth;
use super::views::{meta, SessionView, UserView};
use super::ApiTags;
use crate::app::AppState;
use crate::domain::user::RegisterInput;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use secrecy::SecretString;
use uuid::Uuid;

pub struct UserApi {
    pub state: AppState,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct RegisterRequest {
    /// The account's email (case-insensitive, unique in the flock).
    #[oai(validator(max_length = 320))]
    email: String,
    /// 8 (or the flock's minimum) to 256 characters; never truncated.
    #[oai(validator(max_length = 1024))]
    password: String,
    /// Must be true: the user accepts the flock's terms.
    terms_accepted: bool,
    #[oai(validator(max_length = 200))]
    first_name: Option<String>,
    #[oai(validator(max_length = 200))]
    last_name: Option<String>,
    /// Preferred language tag, e.g. `en` or `fr-CA`.
    #[oai(validator(max_length = 35))]
    locale: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Registration {
    /// The new account's id.
    user_id: Uuid,
    /// `active`, or `activation_required` / `pending_approval` per the flock's settings.
    status: String,
}

#[derive(ApiResponse)]
enum RegisterResponse {
    /// Registered. Under the protected enumeration policy an existing email gets this
    /// same answer.
    #[oai(status = 201)]
    Created(Json<Registration>),
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct SignInRequest {
    #[oai(validator(max_length = 320))]
    email: String,
    #[oai(validator(max_length = 1024))]
    password: String,
    /// Where the sign-in comes from (an app name), kept with the session.
    #[oai(validator(max_length = 100))]
    source: Option<String>,
}

#[OpenApi(tag = "ApiTags::User")]
impl UserApi {
    /// Register an account with an email and a password.
    #[oai(
        path = "/api/v1/:flock/user/register",
        method = "post",
        operation_id = "register"
    )]
    async fn register(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        body: Json<RegisterRequest>,
    ) -> ApiResult<RegisterResponse> {
        let b = body.0;
        let r = self
            .state
            .users
            .register(
                &tenant.0,
                RegisterInput {
                    email: b.email,
                    password: SecretString::from(b.password),
                    terms_accepted: b.terms_accepted,
                    first_name: b.first_name,
                    last_name: b.last_name,
                    locale: b.locale,
                },
            )
            .await?;
        Ok(RegisterResponse::Created(Json(Registration {
            user_id: r.user_id.0,
            status: r.status.as_str().to_owned(),
        })))
    }

    /// Sign in with email and password; returns an access token for this flock.
    #[oai(
        path = "/api/v1/:flock/user/auth",
        method = "post",
        operation_id = "sign_in"
    )]
    async fn sign_in(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        ip: ClientIp,
        /// The client's user agent, kept with the session.
        #[oai(name = "User-Agent")]
        user_agent: poem_openapi::param::Header<Option<String>>,
        body: Json<SignInRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let b = body.0;
        let now = self.state.clock.unix();
        let s = self
            .state
            .users
            .login(
                &tenant.0,
                &b.email,
                SecretString::from(b.password),
                meta(ip, b.source, user_agent.0),
            )
            .await?;
        Ok(Json(SessionView::new(s.grant, s.user, now)))
    }

    /// The signed-in user.
    #[oai(
        path = "/api/v1/:flock/user",
        method = "get",
        operation_id = "get_current_user"
    )]
    async fn me(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
    ) -> ApiResult<Json<UserView>> {
        let c = auth.0;
        let user = self.state.users.get(c.flock.id, c.claims.user).await?;
        Ok(Json(user.into()))
    }
}

pub struct KeysApi {
    pub state: AppState,
}

/// One public key (RFC 8037 OKP / Ed25519).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Jwk {
    kty: String,
    crv: String,
    /// base64url of the public key.
    x: String,
    kid: String,
    alg: String,
    #[oai(rename = "use")]
    use_: String,
}

/// The flock's public signing keys.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[OpenApi(tag = "ApiTags::Keys")]
impl KeysApi {
    /// The flock's public signing keys as a JWK set: verify Fold's access tokens with it.
    #[oai(
        path = "/api/v1/:flock/.well-known/jwks.json",
        method = "get",
        operation_id = "get_jwks"
    )]
    async fn jwks(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
    ) -> ApiResult<Json<Jwks>> {
        let keys = self.state.signing.for_flock(tenant.0.id).await?;
        Ok(Json(Jwks {
            keys: keys
                .jwks
                .iter()
                .map(|k| Jwk {
                    kty: "OKP".into(),
                    crv: "Ed25519".into(),
                    x: k.x.clone(),
                    kid: k.kid.clone(),
                    alg: "EdDSA".into(),
                    use_: "sig".into(),
                })
                .collect(),
        }))
    }
}
