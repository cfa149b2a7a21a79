//! Access tokens: short-lived EdDSA JWTs signed with the flock's own key. Verification
//! accepts one algorithm, the flock's own keys, and checks every claim against the
//! injected clock.
use crate::domain::flocks::Flock;
use crate::domain::signing::SigningKeys;
use crate::domain::user::Role;
use crate::domain::InfraError;
use crate::ids::{FlockId, SessionId, UserId};
use crate::infra::clock::Clock;
use jsonwebtoken::{Algorithm, Header, Validation};
use moka::sync::Cache;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: String,
    /// The flock id (the issuer names the flock by slug; this by id).
    pub flock: String,
    pub role: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Any reason at all: callers say only "invalid token".
    #[error("invalid token")]
    Invalid,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// A verified access token.
#[derive(Debug, Clone)]
pub struct AccessClaims {
    pub flock: FlockId,
    pub user: UserId,
    pub session: SessionId,
    pub role: Role,
    pub expires_at: i64,
}

#[derive(Clone)]
pub struct TokenService {
    clock: Clock,
    base_url: Arc<str>,
    keys: SigningKeys,
    /// token → claims, so a hot token is not re-verified on every request. The
    /// signature was checked once; expiry and flock are re-checked on every hit.
    verified: Cache<String, Arc<Claims>>,
}

impl TokenService {
    pub fn new(clock: Clock, base_url: &str, keys: SigningKeys, cache_secs: u64) -> Self {
        Self {
            clock,
            base_url: base_url.trim_end_matches('/').into(),
            keys,
            verified: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(cache_secs.max(1)))
                .build(),
        }
    }

    pub fn issuer(&self, flock: &Flock) -> String {
        format!("{}/api/v1/{}", self.base_url, flock.slug)
    }

    pub fn audience(flock: &Flock) -> String {
        format!("fold:{}", flock.id)
    }

    /// Signs an access token; returns it, when it was issued and when it expires (unix
    /// seconds).
    pub async fn issue(
        &self,
        flock: &Flock,
        user: UserId,
        session: SessionId,
        role: Role,
    ) -> Result<(String, i64, i64), TokenError> {
        let keys = self.keys.for_flock(flock.id).await?;
        let now = self.clock.unix();
        let exp = now + i64::from(flock.settings.access_token_ttl_secs);
        let claims = Claims {
            iss: self.issuer(flock),
            aud: Self::audience(flock),
            sub: user.to_string(),
            sid: session.to_string(),
            flock: flock.id.to_string(),
            role: role.as_str().to_owned(),
            iat: now,
            nbf: now,
            exp,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(keys.signing_kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &keys.signing)
            .map_err(|e| InfraError::Internal(format!("signing token: {e}")))?;
        Ok((token, now, exp))
    }

    pub async fn verify(&self, flock: &Flock, token: &str) -> Result<AccessClaims, TokenError> {
        let claims = match self.verified.get(token) {
            Some(c) => c,
            None => {
                let c = Arc::new(self.verify_signature(flock, token).await?);
                self.verified.insert(token.to_owned(), c.clone());
                c
            }
        };
        let now = self.clock.unix();
        if claims.flock != flock.id.to_string()
            || claims.aud != Self::audience(flock)
            || claims.iss != self.issuer(flock)
            || now >= claims.exp
            || now < claims.nbf
        {
            return Err(TokenError::Invalid);
        }
        Ok(AccessClaims {
            flock: flock.id,
            user: UserId(claims.sub.parse().map_err(|_| TokenError::Invalid)?),
            session: SessionId(claims.sid.parse().map_err(|_| TokenError::Invalid)?),
            role: Role::parse(&claims.role).ok_or(TokenError::Invalid)?,
            expires_at: claims.exp,
        })
    }

    async fn verify_signature(&self, flock: &Flock, token: &str) -> Result<Claims, TokenError> {
        if token.len() > 4096 {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let keys = self.keys.for_flock(flock.id).await?;
        let key = keys.verifying.get(&kid).ok_or(TokenError::Invalid)?;
        let mut v = Validation::new(Algorithm::EdDSA);
        // Time claims are checked against the injected clock by the caller.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        v.set_issuer(&[self.issuer(flock)]);
        v.set_audience(&[Self::audience(flock)]);
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &v).map_err(|_| TokenError::Invalid)?;
        Ok(data.claims)
    }
}
