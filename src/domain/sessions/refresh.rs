//! Refresh tokens: opaque, 256 random bits, stored only as a SHA-256 digest under
//! `rt:{flock}:{digest}`, rotated on every use.
//!
//! A record is `live` until used once; the use swaps it (compare-and-swap on the exact
//! bytes read, atomic on both KV backends) to `rotated` and writes the successor as a new
//! `live` record. Of N parallel uses exactly one wins the swap; the others re-read the
//! record, find it `rotated` and, within the flock's grace window
//! (`refresh_grace_secs`, on the injected clock), get the SAME successor back, so a
//! mobile client that lost a response stays signed in and the chain never forks.
//!
//! How the successor stays retrievable without storing a usable token: the rotated
//! record keeps the successor XOR HMAC-SHA256(presented token, label). Only a caller
//! holding the old token (which the store does not have: it keeps a plain SHA-256, a
//! different function) can unseal it, and after the grace window the sealed value is
//! never unsealed again. The rotated record itself stays until the session ends so that
//! a replay after the window is recognised: it revokes the whole family (the session,
//! and with it every refresh token pointing at it).
//!
//! Lifetimes: a record's deadline is the session's absolute expiry; idle expiry is the
//! session's (each refresh marks the session used). A refresh first checks that its
//! session is alive, so sign-out, "sign out everywhere", password change and disabling
//! the user end refresh tokens too.
use super::store::SessionStore;
use super::{Session, SessionError};
use crate::domain::InfraError;
use crate::ids::{FlockId, SessionId, UserId};
use crate::infra::kv::Step;
use crate::infra::secret;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const PREFIX: &str = "fold_rt_";
const SEAL_LABEL: &[u8] = b"fold refresh successor v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshState {
    Live,
    Rotated,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// The session (also the family: every token of a chain points at it).
    pub session: SessionId,
    pub user: UserId,
    pub state: RefreshState,
    /// Hex of successor XOR HMAC(old token); only set once rotated.
    pub sealed_successor: Option<String>,
    /// Digest (hex) of the successor, for audits and tests.
    pub successor: Option<String>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct RefreshTokens {
    store: SessionStore,
}

fn key(flock: FlockId, token: &str) -> String {
    format!("rt:{flock}:{}", secret::digest_hex(token))
}

fn new_token() -> ([u8; 32], String) {
    let mut raw = [0u8; 32];
    OsRng.fill_bytes(&mut raw);
    (raw, format!("{PREFIX}{}", secret::encode_b64url(&raw)))
}

fn pad(old_token: &str) -> Result<[u8; 32], InfraError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(old_token.as_bytes())
        .map_err(|e| InfraError::Internal(e.to_string()))?;
    mac.update(SEAL_LABEL);
    Ok(mac.finalize().into_bytes().into())
}

fn seal(old_token: &str, successor_raw: &[u8; 32]) -> Result<String, InfraError> {
    let p = pad(old_token)?;
    let sealed: Vec<u8> = successor_raw.iter().zip(p).map(|(a, b)| a ^ b).collect();
    Ok(hex::encode(sealed))
}

fn unseal(old_token: &str, sealed: &str) -> Result<String, InfraError> {
    let bytes = hex::decode(sealed).map_err(|e| InfraError::Internal(e.to_string()))?;
    let p = pad(old_token)?;
    let raw: Vec<u8> = bytes.iter().zip(p).map(|(a, b)| a ^ b).collect();
    Ok(format!("{PREFIX}{}", secret::encode_b64url(&raw)))
}

fn ttl(until: DateTime<Utc>, now: DateTime<Utc>) -> std::time::Duration {
    (until - now + Duration::minutes(5))
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(300))
}

fn encode(r: &RefreshRecord) -> Result<Vec<u8>, InfraError> {
    serde_json::to_vec(r).map_err(|e| InfraError::Internal(e.to_string()))
}

/// The record of a new, unused token of `session`.
fn live(session: &Session) -> RefreshRecord {
    RefreshRecord {
        session: session.id,
        user: session.user,
        state: RefreshState::Live,
        sealed_successor: None,
        successor: None,
        rotated_at: None,
        expires_at: session.expires_at,
    }
}

impl RefreshTokens {
    pub fn new(store: SessionStore) -> Self {
        Self { store }
    }

    /// The first refresh token of a new session, and the step that stores it (written
    /// with the session, see `SessionStore::create`).
    pub fn first(&self, flock: FlockId, session: &Session) -> Result<(String, Step), InfraError> {
        let (_, token) = new_token();
        let now = self.store.clock.now();
        let rec = live(session);
        let step = Step::Set {
            key: key(flock, &token),
            value: encode(&rec)?,
            ttl: ttl(rec.expires_at, now),
        };
        Ok((token, step))
    }

    /// Uses a refresh token: returns its (live) session and the successor token.
    pub async fn rotate(
        &self,
        flock: FlockId,
        token: &str,
        grace_secs: u32,
    ) -> Result<(Session, String), SessionError> {
        if token.len() > 128 || !token.starts_with(PREFIX) {
            return Err(SessionError::InvalidRefreshToken);
        }
        let k = key(flock, token);
        let kv = &self.store.kv;
        // A lost compare-and-swap means another use of the same token won; the next
        // read sees it rotated. A handful of rounds is plenty.
        for _ in 0..16 {
            let Some(raw) = kv.get(&k).await? else {
                return Err(SessionError::InvalidRefreshToken);
            };
            let rec: RefreshRecord =
                serde_json::from_slice(&raw).map_err(|e| InfraError::Internal(e.to_string()))?;
            let sid = rec.session;
            let now = self.store.clock.now();
            let Some((session, session_raw)) = self.store.load(flock, sid).await? else {
                // The family has ended (sign-out, revocation, expiry).
                kv.del(&k).await?;
                return Err(SessionError::InvalidRefreshToken);
            };
            if session.user != rec.user || now >= rec.expires_at {
                return Err(SessionError::InvalidRefreshToken);
            }
            match rec.state {
                RefreshState::Live => {
                    let (succ_raw, succ) = new_token();
                    let rotated = RefreshRecord {
                        state: RefreshState::Rotated,
                        sealed_successor: Some(seal(token, &succ_raw)?),
                        successor: Some(secret::digest_hex(&succ)),
                        rotated_at: Some(now),
                        ..rec.clone()
                    };
                    // One atomic step: the token swapped to `rotated` (on the exact bytes
                    // read), its successor stored live, the session marked used. Whoever
                    // sees the rotated record (a parallel or repeated use) finds the
                    // successor there; a lost swap writes nothing.
                    let (session, touch) = self.store.touched(flock, sid, session, &session_raw)?;
                    let won = kv
                        .apply(vec![
                            Step::Cas {
                                key: k.clone(),
                                expected: Some(raw.clone()),
                                new: Some(encode(&rotated)?),
                                ttl: ttl(rec.expires_at, now),
                            },
                            Step::Set {
                                key: key(flock, &succ),
                                value: encode(&live(&session))?,
                                ttl: ttl(session.expires_at, now),
                            },
                            touch,
                        ])
                        .await?
                        .is_none();
                    if !won {
                        continue;
                    }
                    return Ok((session, succ));
                }
                RefreshState::Rotated => {
                    let in_grace = rec
                        .rotated_at
                        .is_some_and(|t| now < t + Duration::seconds(i64::from(grace_secs)));
                    if let (true, Some(sealed)) = (in_grace, rec.sealed_successor.as_deref()) {
                        return Ok((session, unseal(token, sealed)?));
                    }
                    // Replay after the window: someone holds a token they should not.
                    // End the whole family; every token of the chain points at it.
                    // (The answer is the same as for an unknown token.)
                    self.store.revoke(flock, rec.user, sid).await?;
                    tracing::warn!(%flock, session = %sid, "refresh token reused after grace; session revoked");
                    return Err(SessionError::InvalidRefreshToken);
                }
            }
        }
        Err(SessionError::InvalidRefreshToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_old_token_unseals_the_successor() {
        let (raw, succ) = new_token();
        let sealed = seal("fold_rt_old", &raw).unwrap_or_default();
        assert_eq!(unseal("fold_rt_old", &sealed).unwrap_or_default(), succ);
        assert_ne!(unseal("fold_rt_other", &sealed).unwrap_or_default(), succ);
        assert!(!sealed.contains(&secret::encode_b64url(&raw)));
    }
}
