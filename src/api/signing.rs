//! The flock's public signing keys (JWKS): what verifies Fold's access tokens.
use super::error::ApiResult;
use super::frame::Tenant;
use super::ApiTags;
use crate::app::AppState;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

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
