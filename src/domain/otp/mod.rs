//! One-time codes by email and SMS: request, verify, and what a verified code does
//! (sign in or register, verify an identifier, reset a password).
//!
//! A code is `length` digits from the OS CSPRNG. Only its HMAC-SHA256 is stored, in the
//! KV store under `otp:{flock}:{purpose}:{digest(identifier)}`; the HMAC input holds the
//! flock, the purpose and the identifier, so a code is bound to all three. A code dies
//! after `max_attempts` wrong guesses, on first use, and at its deadline (checked on the
//! injected clock). A new code replaces the previous one for the same purpose.
//!
//! Race safety: every guess is counted (per code and per identifier per day) with an
//! atomic capped increment BEFORE the comparison, and a right guess consumes the code
//! with a compare-and-swap of the exact record; of any number of parallel submissions
//! at most `max_attempts` are compared and at most one succeeds.
//!
//! Sends: caps (identifier/hour, IP/hour, flock/day for SMS) and the per-identifier
//! cooldown are reserved atomically before sending and given back when the provider
//! fails, so a provider outage burns neither the user's budget nor their cooldown.
mod codes;
mod identifier;
mod settings;
mod verify;

pub use identifier::Identifier;
pub use settings::OtpSettings;

use super::flocks::Flock;
use super::limits::{key_digest, Limit, Limits, RetryAfter};
use super::user::{User, UserError, UserService};
use super::{InfraError, Invalid};
use crate::ids::{FlockId, UserId};
use crate::infra::clock::Clock;
use crate::infra::kv::{Kv, KvError};
use crate::infra::mail::{MailError, Mailer};
use crate::infra::secret::random_token;
use crate::infra::sms::{Sms, SmsError};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    #[error("{0}")]
    Invalid(Invalid),
    /// Wrong, expired, used or killed code (deliberately one answer).
    #[error("invalid or expired code")]
    InvalidCode,
    /// Rate limited: a cap, the cooldown, or too many failures.
    #[error("too many requests")]
    Limited(RetryAfter),
    #[error("no account with this identifier")]
    UnknownAccount,
    #[error("self-registration is closed in this flock")]
    RegistrationClosed,
    #[error("account is not active")]
    NotActive,
    #[error("SMS is not allowed to this number")]
    PrefixBlocked,
    #[error("SMS provider failed")]
    Sms(SmsError),
    #[error("mail transport failed")]
    Mail(MailError),
    #[error("too many password checks in progress")]
    Busy,
    /// A rule of the account the code is for (e.g. an identifier already taken).
    #[error(transparent)]
    User(Box<UserError>),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<KvError> for OtpError {
    fn from(e: KvError) -> Self {
        OtpError::Infra(e.into())
    }
}

/// What the user area answers inside a code flow. Its refusals that a code flow can meet
/// keep their own codes through [`OtpError::User`].
impl From<UserError> for OtpError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Busy => OtpError::Busy,
            UserError::Infra(i) => OtpError::Infra(i),
            e => OtpError::User(Box::new(e)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    Registration,
    VerifyEmail,
    VerifyPhone,
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Registration => "registration",
            Purpose::VerifyEmail => "verify_email",
            Purpose::VerifyPhone => "verify_phone",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

/// The stored record of a live code.
#[derive(Debug, Serialize, Deserialize)]
struct CodeRecord {
    /// Random id of this code: its attempt counter's key.
    id: String,
    /// HMAC-SHA256(secret, flock | purpose | identifier | code), hex.
    mac: String,
    /// Unix milliseconds on the injected clock.
    expires_at_ms: i64,
}

const GC_SLACK: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct OtpService {
    kv: Kv,
    clock: Clock,
    limits: Limits,
    mailer: Mailer,
    sms: Sms,
    /// The accounts codes are for (lookups, verified flags, password resets).
    users: UserService,
    configured_secret: Option<SecretString>,
}

/// A uniformly random code of `len` digits (rejection-free: `gen_range` is uniform).
pub fn generate_code(len: u8) -> String {
    let mut rng = OsRng;
    (0..len)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

impl OtpService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kv: Kv,
        clock: Clock,
        limits: Limits,
        mailer: Mailer,
        sms: Sms,
        users: UserService,
        configured_secret: Option<SecretString>,
    ) -> Self {
        Self {
            kv,
            clock,
            limits,
            mailer,
            sms,
            users,
            configured_secret,
        }
    }

    /// The HMAC key: `security.otp_secret`, or one random secret created once in the KV
    /// store with SET NX, so every replica sharing the store uses the same key (codes and
    /// their key live and die together). The stored key is read on every use rather than
    /// cached: after a KV wipe all replicas converge on the one new key.
    async fn secret(&self) -> Result<SecretString, OtpError> {
        if let Some(s) = self.configured_secret.as_ref() {
            if !s.expose_secret().is_empty() {
                return Ok(s.clone());
            }
        }
        if let Some(raw) = self.kv.get("secret:otp").await? {
            return Self::secret_from(raw);
        }
        let forever = Duration::from_secs(100 * 365 * 86_400);
        self.kv
            .set_nx("secret:otp", random_token(32).as_bytes(), forever)
            .await?;
        let raw =
            self.kv.get("secret:otp").await?.ok_or_else(|| {
                OtpError::Infra(InfraError::Internal("otp secret vanished".into()))
            })?;
        Self::secret_from(raw)
    }

    fn secret_from(raw: Vec<u8>) -> Result<SecretString, OtpError> {
        String::from_utf8(raw)
            .map(SecretString::from)
            .map_err(|_| OtpError::Infra(InfraError::Internal("otp secret".into())))
    }

    async fn mac(
        &self,
        flock: FlockId,
        purpose: Purpose,
        id: &Identifier,
        code: &str,
    ) -> Result<String, OtpError> {
        let secret = self.secret().await?;
        let mut m = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .map_err(|e| OtpError::Infra(InfraError::Internal(e.to_string())))?;
        for part in [
            flock.to_string().as_str(),
            purpose.as_str(),
            id.kind(),
            id.value(),
            code,
        ] {
            m.update(&(part.len() as u64).to_be_bytes());
            m.update(part.as_bytes());
        }
        Ok(hex::encode(m.finalize().into_bytes()))
    }

    fn code_key(flock: FlockId, purpose: Purpose, id: &Identifier) -> String {
        format!(
            "otp:{flock}:{}:{}",
            purpose.as_str(),
            key_digest(&id.limit_key())
        )
    }

    fn cooldown_key(flock: FlockId, id: &Identifier) -> String {
        format!("otpcd:{flock}:{}", key_digest(&id.limit_key()))
    }

    fn failure_limit(s: &OtpSettings) -> Limit {
        Limit {
            kind: "otp_fail_day",
            cap: s.max_failures_per_day,
            window_secs: 86_400,
            code: "otp_too_many_failures",
        }
    }

    /// The signed-in user a `verify_*` code is for.
    async fn me(&self, flock: &Flock, user: UserId) -> Result<User, OtpError> {
        match self.users.get(flock.id, user).await {
            Ok(me) => Ok(me),
            Err(UserError::NotFound) => Err(OtpError::UnknownAccount),
            Err(e) => Err(e.into()),
        }
    }

    async fn find_user(&self, flock: FlockId, id: &Identifier) -> Result<Option<User>, OtpError> {
        Ok(self.users.find(flock, &id.contact).await?)
    }
}
