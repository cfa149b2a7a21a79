//! Apple's client secret: a JWT signed (ES256) with the team's private key, `iss` the team
//! id, `sub` the client (services) id, `aud` `https://appleid.apple.com`, `kid` the key id
//! in the header. Apple accepts at most six months of validity; Fold makes one valid for a
//! day, keeps it in memory, and makes a new one an hour before it expires.
use super::providers::{Provider, APPLE_ISSUER};
use super::{FederationError, FederationService};
use crate::domain::Invalid;
use crate::ids::FlockId;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const LIFETIME_SECS: i64 = 86_400;
const RENEW_BEFORE_SECS: i64 = 3_600;

/// A client secret made for (flock, provider): the JWT and when it expires.
type Made = HashMap<(FlockId, String), (SecretString, i64)>;

/// Client secrets made, by (flock, provider).
#[derive(Clone, Default)]
pub(super) struct AppleSecrets {
    made: Arc<Mutex<Made>>,
}

impl AppleSecrets {
    pub(super) fn forget(&self, flock: FlockId, name: &str) {
        let mut m = self.made.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(&(flock, name.to_owned()));
    }
}

/// Refuses a private key that is not a PEM EC key Fold can sign with.
pub(super) fn check_key(pem: &str) -> Result<(), FederationError> {
    if pem.len() > 4096 || EncodingKey::from_ec_pem(pem.as_bytes()).is_err() {
        return Err(FederationError::Invalid(Invalid::new(
            "invalid_provider_setting",
            "private_key",
            "private_key must be the PEM text of Apple's .p8 key (an EC P-256 key)",
        )));
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct SecretClaims<'a> {
    iss: &'a str,
    iat: i64,
    exp: i64,
    aud: &'a str,
    sub: &'a str,
}

impl FederationService {
    /// The client secret to send to Apple's token endpoint.
    pub(super) async fn apple_client_secret(
        &self,
        p: &Provider,
    ) -> Result<SecretString, FederationError> {
        let now = self.clock.unix();
        let slot = (p.flock, p.name.clone());
        {
            let m = self
                .apple_secrets
                .made
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((s, exp)) = m.get(&slot) {
                if now < exp - RENEW_BEFORE_SECS {
                    return Ok(s.clone());
                }
            }
        }
        let Some(pem) = self.secret(p).await? else {
            return Err(FederationError::Forbidden(
                "provider_not_ready",
                "the Apple provider has no private key yet".into(),
            ));
        };
        let key = EncodingKey::from_ec_pem(pem.expose_secret().as_bytes())
            .map_err(|_| FederationError::SecretUnreadable)?;
        let mut header = Header::new(Algorithm::ES256);
        header.kid = p.config.key_id.clone();
        let exp = now + LIFETIME_SECS;
        let claims = SecretClaims {
            iss: p.config.team_id.as_deref().unwrap_or_default(),
            iat: now,
            exp,
            aud: APPLE_ISSUER,
            sub: &p.client_id,
        };
        let jwt = jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|e| super::InfraError::Internal(format!("apple client secret: {e}")))?;
        let secret = SecretString::from(jwt);
        let mut m = self
            .apple_secrets
            .made
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.insert(slot, (secret.clone(), exp));
        Ok(secret)
    }
}
