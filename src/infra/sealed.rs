//! Secrets stored sealed (provider client secrets, Apple signing keys): XChaCha20-Poly1305
//! under the deployment's sealing key, with the owner of the secret (flock and provider)
//! as associated data, so a sealed value copied to another row or flock does not open.
//!
//! The key is `security.secret_key` (32 bytes, base64url) when set; otherwise one random
//! key created once in the KV store (shared by every replica through Redis). A KV wipe
//! then makes stored secrets unreadable (sign-ins through those providers answer 503
//! `provider_secret_unreadable` until the secrets are entered again): set the key
//! explicitly in production.
use super::kv::{Kv, KvError};
use super::secret::{decode_b64url, encode_b64url, random_token};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealing key unavailable: {0}")]
    Kv(#[from] KvError),
    #[error("security.secret_key must be 32 bytes in base64url")]
    BadKey,
    /// The value was sealed under another key or for another owner, or is damaged.
    #[error("sealed value cannot be opened")]
    Unreadable,
}

const KV_KEY: &str = "secret:seal";
const PREFIX: &str = "v1.";

#[derive(Clone)]
pub struct Sealer {
    kv: Kv,
    configured: Option<SecretString>,
}

impl Sealer {
    pub fn new(kv: Kv, configured: Option<SecretString>) -> Self {
        Self {
            kv,
            configured: configured.filter(|s| !s.expose_secret().is_empty()),
        }
    }

    async fn cipher(&self) -> Result<XChaCha20Poly1305, SealError> {
        let raw = match &self.configured {
            Some(k) => k.expose_secret().to_owned(),
            None => {
                let forever = Duration::from_secs(100 * 365 * 86_400);
                if self.kv.get(KV_KEY).await?.is_none() {
                    self.kv
                        .set_nx(KV_KEY, random_token(32).as_bytes(), forever)
                        .await?;
                }
                let v = self.kv.get(KV_KEY).await?.ok_or(SealError::BadKey)?;
                String::from_utf8(v).map_err(|_| SealError::BadKey)?
            }
        };
        let key = decode_b64url(raw.trim()).filter(|k| k.len() == 32);
        let key = key.ok_or(SealError::BadKey)?;
        XChaCha20Poly1305::new_from_slice(&key).map_err(|_| SealError::BadKey)
    }

    /// `plain` sealed for `owner`: `v1.<nonce>.<ciphertext>` in base64url.
    pub async fn seal(&self, owner: &str, plain: &SecretString) -> Result<String, SealError> {
        let cipher = self.cipher().await?;
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain.expose_secret().as_bytes(),
            aad: owner.as_bytes(),
        };
        let ct = cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|_| SealError::Unreadable)?;
        Ok(format!(
            "{PREFIX}{}.{}",
            encode_b64url(&nonce),
            encode_b64url(&ct)
        ))
    }

    /// The secret sealed for `owner`, or `Unreadable`.
    pub async fn open(&self, owner: &str, sealed: &str) -> Result<SecretString, SealError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SealError::Unreadable)?;
        let (n, ct) = body.split_once('.').ok_or(SealError::Unreadable)?;
        let nonce = decode_b64url(n).filter(|n| n.len() == 24);
        let nonce = nonce.ok_or(SealError::Unreadable)?;
        let ct = decode_b64url(ct).ok_or(SealError::Unreadable)?;
        let cipher = self.cipher().await?;
        let payload = Payload {
            msg: &ct,
            aad: owner.as_bytes(),
        };
        let plain = cipher
            .decrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|_| SealError::Unreadable)?;
        let text = String::from_utf8(plain).map_err(|_| SealError::Unreadable)?;
        Ok(SecretString::from(text))
    }
}
