//! Checking an ID token: the signature with the provider's published key (asymmetric
//! algorithms only; the key's own algorithm and type must match the header), `iss`
//! exactly one of the provider's issuers, `aud` among the configured client ids (with
//! `azp` when there are several audiences), `exp`/`iat`/`nbf` on the injected clock with
//! `federation.leeway_secs`, a subject, and the nonce.
use super::providers::{Endpoints, Provider, ProviderKind};
use super::{FederationError, FederationService};
use jsonwebtoken::jwk::AlgorithmParameters;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Who the provider says the user is.
#[derive(Clone)]
pub struct Claims {
    pub subject: String,
    pub email: Option<String>,
    /// The provider asserts the email belongs to the user.
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Apple's private relay address (a real, deliverable address).
    pub private_email: bool,
}

/// The nonce a token must carry.
pub(super) enum NonceRule<'a> {
    /// The ID-token endpoint: the raw nonce the app generated; the token carries it as
    /// is, or its SHA-256 in lowercase hex (what Apple's and Google's native SDKs are
    /// given). None: the token must carry none, and the provider must allow that.
    Raw(Option<&'a str>),
    /// The code flow: exactly the nonce Fold generated.
    Exact(&'a str),
}

const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

fn rejected(code: &'static str, m: impl Into<String>) -> FederationError {
    FederationError::Rejected(code, m.into())
}

/// A boolean claim: `true`, or Apple's `"true"`.
pub(super) fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn text(v: Option<&Value>, max: usize) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control))
        .map(str::to_owned)
}

pub(super) fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

impl FederationService {
    /// The claims of `token`, verified for provider `p`, and the nonce it carried.
    pub(super) async fn verify_id_token(
        &self,
        p: &Provider,
        ep: &Endpoints,
        token: &str,
        nonce: NonceRule<'_>,
    ) -> Result<(Claims, Option<String>, i64), FederationError> {
        if token.len() > 16 * 1024 {
            return Err(rejected("invalid_id_token", "the ID token is too long"));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| rejected("invalid_id_token", "the ID token is not a signed JWT"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(rejected(
                "invalid_id_token",
                format!("the ID token's algorithm {:?} is not accepted", header.alg),
            ));
        }
        let Some(jwks) = ep.jwks.as_deref() else {
            return Err(rejected(
                "invalid_id_token",
                "this provider issues no ID tokens",
            ));
        };
        let jwk = self.keys.key(jwks, header.kid.as_deref()).await?;
        // A key published for encryption signs nothing.
        if jwk.common.public_key_use == Some(jsonwebtoken::jwk::PublicKeyUse::Encryption) {
            return Err(rejected(
                "invalid_id_token",
                "the key named is not a signing key",
            ));
        }
        use Algorithm::*;
        let family_ok = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => {
                matches!(header.alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
            }
            AlgorithmParameters::EllipticCurve(_) => matches!(header.alg, ES256 | ES384),
            AlgorithmParameters::OctetKeyPair(_) => header.alg == EdDSA,
            _ => false,
        };
        let alg_ok = jwk
            .common
            .key_algorithm
            // KeyAlgorithm and Algorithm name the JWA algorithms alike.
            .is_none_or(|k| format!("{k:?}") == format!("{:?}", header.alg));
        if !family_ok || !alg_ok {
            return Err(rejected(
                "invalid_id_token",
                "the ID token's algorithm does not match the provider's key",
            ));
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|_| rejected("unknown_signing_key", "the provider's key cannot be used"))?;
        let mut v = Validation::new(header.alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Value>(token, &key, &v)
            .map_err(|_| rejected("invalid_id_token", "the ID token's signature is invalid"))?;
        let c = data.claims;
        // Issuer: exactly one of the provider's (never taken from the token's own say).
        let iss = c.get("iss").and_then(Value::as_str).unwrap_or_default();
        if !ep.issuers.iter().any(|i| i == iss) {
            return Err(rejected(
                "issuer_mismatch",
                "the ID token was issued by another issuer than this provider",
            ));
        }
        let audiences: Vec<&str> = match c.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        // OIDC Core 3.1.3.7: every audience must be one of ours (an extra one the flock
        // does not trust is refused), with several an `azp`, and an `azp` must be ours.
        let ours = |a: &str| p.audiences().any(|x| x == a);
        let azp = c.get("azp").and_then(Value::as_str);
        let aud_ok = !audiences.is_empty()
            && audiences.iter().all(|a| ours(a))
            && (audiences.len() == 1 || azp.is_some())
            && azp.is_none_or(ours);
        if !aud_ok {
            return Err(rejected(
                "audience_mismatch",
                "the ID token was issued to another client",
            ));
        }
        let now = self.clock.unix();
        let leeway = self.times.leeway_secs;
        let exp = c.get("exp").and_then(Value::as_i64);
        let iat = c.get("iat").and_then(Value::as_i64);
        let Some(exp) = exp.filter(|e| now < e.saturating_add(leeway)) else {
            return Err(rejected("id_token_expired", "the ID token has expired"));
        };
        let Some(iat) = iat.filter(|i| *i <= now.saturating_add(leeway)) else {
            return Err(rejected(
                "invalid_id_token",
                "the ID token's iat is missing or in the future",
            ));
        };
        // A token meant to live more than a day is not an ID token Fold takes (its spent
        // nonce is remembered for a day).
        if exp.saturating_sub(iat) > 86_400 {
            return Err(rejected(
                "invalid_id_token",
                "the ID token lives longer than a day",
            ));
        }
        if c.get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|n| n > now.saturating_add(leeway))
        {
            return Err(rejected(
                "invalid_id_token",
                "the ID token is not valid yet",
            ));
        }
        // The subject is opaque: compared as given, never trimmed.
        let subject = c
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control))
            .map(str::to_owned);
        let Some(subject) = subject else {
            return Err(rejected("invalid_id_token", "the ID token has no subject"));
        };
        let carried = c.get("nonce").and_then(Value::as_str).map(str::to_owned);
        let nonce_ok = match (&nonce, carried.as_deref()) {
            (NonceRule::Exact(n), Some(t)) => {
                crate::infra::secret::ct_eq(n.as_bytes(), t.as_bytes())
            }
            (NonceRule::Exact(_), None) => false,
            (NonceRule::Raw(Some(raw)), Some(t)) => {
                crate::infra::secret::ct_eq(raw.as_bytes(), t.as_bytes())
                    || crate::infra::secret::ct_eq(sha256_hex(raw).as_bytes(), t.as_bytes())
            }
            (NonceRule::Raw(Some(_)), None) => false,
            (NonceRule::Raw(None), Some(_)) => {
                return Err(rejected(
                    "nonce_required",
                    "the ID token carries a nonce: send the raw nonce with it",
                ))
            }
            (NonceRule::Raw(None), None) => p.config.allow_missing_nonce,
        };
        if !nonce_ok {
            let code = if carried.is_none() && matches!(nonce, NonceRule::Raw(None)) {
                "nonce_required"
            } else {
                "nonce_mismatch"
            };
            return Err(rejected(code, "the ID token's nonce does not match"));
        }
        let email = text(c.get("email"), 320);
        let (first_name, last_name) = if p.kind == ProviderKind::Apple {
            // Apple never puts the name in a token; the app sends it once.
            (None, None)
        } else {
            (
                text(c.get("given_name"), 200),
                text(c.get("family_name"), 200),
            )
        };
        let claims = Claims {
            email_verified: email.is_some() && flag(c.get("email_verified")),
            private_email: flag(c.get("is_private_email")),
            subject,
            email,
            first_name,
            last_name,
        };
        Ok((claims, carried, exp))
    }
}
