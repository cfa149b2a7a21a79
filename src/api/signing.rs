//! The flock's public signing keys (JWKS): what verifies Fold's access tokens.
use super::error::ApiResult;
use super::frame::tenant;
use super::ApiTags;
use crate::domain::signing::SigningKeys;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

pub struct KeysApi {
    pub signing: SigningKeys,
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
        flock: tenant::Path,
    ) -> ApiResult<Json<Jwks>> {
        let keys = self.signing.for_flock(flock.id).await?;
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
