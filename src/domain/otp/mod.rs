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
mod settings;

pub use settings::OtpSettings;

use super::flock::{EnumerationPolicy, Flock};
use super::limits::{key_digest, Hit, Limit, Limits, RetryAfter};
use super::password::{check_policy, HashError, Hasher};
use super::session::{SessionGrant, SessionMeta, SessionService};
use super::user::{Email, User, UserStatus};
use super::{InfraError, Invalid};
use crate::db::{Db, DbError};
use crate::ids::{FlockId, UserId};
use crate::infra::clock::Clock;
use crate::infra::kv::{Kv, KvError};
use crate::infra::mail::{MailError, Mailer, OutgoingMail};
use crate::infra::secret::{ct_eq, random_token};
use crate::infra::sms::{OutgoingSms, Sms, SmsError};
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
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<KvError> for OtpError {
    fn from(e: KvError) -> Self {
        OtpError::Infra(e.into())
    }
}

impl From<DbError> for OtpError {
    fn from(e: DbError) -> Self {
        OtpError::Infra(e.into())
    }
}

impl From<HashError> for OtpError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => OtpError::Busy,
            HashError::Internal(m) => OtpError::Infra(InfraError::Internal(m)),
        }
    }
}

impl From<super::tokens::TokenError> for OtpError {
    fn from(e: super::tokens::TokenError) -> Self {
        match e {
            super::tokens::TokenError::Invalid => {
                OtpError::Infra(InfraError::Internal("token issue".into()))
            }
            super::tokens::TokenError::Infra(i) => OtpError::Infra(i),
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

/// A normalised identifier: a lowercase email or an E.164 phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier {
    pub channel: Channel,
    pub value: String,
}

/// `+` then 8–15 digits, the first not 0; spaces, dashes, dots and brackets are dropped.
pub fn parse_phone(raw: &str) -> Result<String, Invalid> {
    let bad = || {
        Invalid::new(
            "invalid_phone",
            "identifier",
            "phone must be an E.164 number such as +35799123456",
        )
    };
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = s.strip_prefix('+').ok_or_else(bad)?;
    if !(8..=15).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || digits.starts_with('0')
    {
        return Err(bad());
    }
    Ok(s)
}

impl Identifier {
    pub fn parse(channel: Channel, raw: &str) -> Result<Self, Invalid> {
        let value = match channel {
            Channel::Email => Email::parse(raw)
                .map_err(|_| {
                    Invalid::new(
                        "invalid_email",
                        "identifier",
                        "email must be a valid address",
                    )
                })?
                .as_str()
                .to_owned(),
            Channel::Sms => parse_phone(raw)?,
        };
        Ok(Self { channel, value })
    }

    fn kind(&self) -> &'static str {
        match self.channel {
            Channel::Email => "e",
            Channel::Sms => "p",
        }
    }

    /// Key part for limits: channel + value (the limits digest it).
    fn limit_key(&self) -> String {
        format!("{}:{}", self.kind(), self.value)
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

/// Profile fields for an account created by a code.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub terms_accepted: bool,
    pub email_opt_out: bool,
    pub sms_opt_out: bool,
}

/// The outcome of a sign-in code.
pub struct OtpSignedIn {
    pub user: User,
    pub grant: SessionGrant,
    /// True when this code created the account.
    pub created: bool,
}

const GC_SLACK: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct OtpService {
    db: Db,
    kv: Kv,
    clock: Clock,
    limits: Limits,
    hasher: Hasher,
    mailer: Mailer,
    sms: Sms,
    sessions: SessionService,
    configured_secret: Option<SecretString>,
}

fn text(v: Option<String>, field: &'static str, max: usize) -> Result<Option<String>, Invalid> {
    match v.map(|s| s.trim().to_owned()) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => Err(Invalid::new(
            "invalid_field",
            field,
            format!("{field} must be at most {max} printable characters"),
        )),
        Some(s) => Ok(Some(s)),
    }
}

fn locale(v: Option<String>) -> Result<Option<String>, Invalid> {
    let v = text(v, "locale", 35)?;
    if let Some(l) = &v {
        let ok = l
            .split(['-', '_'])
            .all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok {
            return Err(Invalid::new(
                "invalid_locale",
                "locale",
                "locale must be a language tag such as en or fr-CA",
            ));
        }
    }
    Ok(v)
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
        db: Db,
        kv: Kv,
        clock: Clock,
        limits: Limits,
        hasher: Hasher,
        mailer: Mailer,
        sms: Sms,
        sessions: SessionService,
        configured_secret: Option<SecretString>,
    ) -> Self {
        Self {
            db,
            kv,
            clock,
            limits,
            hasher,
            mailer,
            sms,
            sessions,
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
            id.value.as_str(),
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

    async fn find_user(&self, flock: FlockId, id: &Identifier) -> Result<Option<User>, OtpError> {
        let row = match id.channel {
            Channel::Email => self.db.user_by_email(flock, &id.value).await?,
            Channel::Sms => self.db.user_by_phone(flock, &id.value).await?,
        };
        Ok(row.map(User::from))
    }

    /// Sends a code. `user` is the signed-in user (required for the verify_* purposes).
    ///
    /// Under the protected enumeration policy, when whether a code is sent depends on the
    /// account existing (password reset; sign-in where self-registration is closed), the
    /// answer is the same either way and the send happens in the background, so status,
    /// body and timing are identical; a provider failure there is logged (and the
    /// reservations given back) instead of answered.
    pub async fn request(
        &self,
        flock: &Flock,
        channel: Channel,
        identifier: &str,
        purpose: Purpose,
        ip: &str,
        user: Option<UserId>,
    ) -> Result<(), OtpError> {
        let id = Identifier::parse(channel, identifier).map_err(OtpError::Invalid)?;
        let s = &flock.settings.otp;
        if channel == Channel::Sms && !s.sms_allowed(&id.value) {
            return Err(OtpError::PrefixBlocked);
        }
        let background = match purpose {
            Purpose::VerifyEmail | Purpose::VerifyPhone => {
                let want = if purpose == Purpose::VerifyEmail {
                    Channel::Email
                } else {
                    Channel::Sms
                };
                let me = match user {
                    Some(u) => self.db.user_by_id(flock.id, u).await?.map(User::from),
                    None => None,
                };
                let Some(me) = me else {
                    return Err(OtpError::UnknownAccount);
                };
                let mine = match want {
                    Channel::Email => me.email.as_deref(),
                    Channel::Sms => me.phone.as_deref(),
                };
                if channel != want || mine != Some(id.value.as_str()) {
                    return Err(OtpError::Invalid(Invalid::new(
                        "identifier_mismatch",
                        "identifier",
                        "the identifier must be the signed-in user's own email or phone",
                    )));
                }
                None
            }
            Purpose::SignIn | Purpose::Registration if flock.settings.self_registration => None,
            Purpose::SignIn | Purpose::Registration | Purpose::PasswordReset => {
                let exists = self.find_user(flock.id, &id).await?.is_some();
                match flock.settings.enumeration {
                    EnumerationPolicy::Open if !exists => {
                        return Err(if purpose == Purpose::PasswordReset {
                            OtpError::UnknownAccount
                        } else {
                            OtpError::RegistrationClosed
                        })
                    }
                    EnumerationPolicy::Open => None,
                    EnumerationPolicy::Protected => Some(exists),
                }
            }
        };

        let reserved = self.reserve_send(flock, &id, ip).await?;
        let code = generate_code(s.length);
        let mac = self.mac(flock.id, purpose, &id, &code).await?;
        let now_ms = self.clock.now().timestamp_millis();
        let record = CodeRecord {
            id: random_token(16),
            mac,
            expires_at_ms: now_ms + i64::from(s.ttl_secs) * 1000,
        };
        let raw = serde_json::to_vec(&record)
            .map_err(|e| OtpError::Infra(InfraError::Internal(e.to_string())))?;
        let key = Self::code_key(flock.id, purpose, &id);
        let ttl = Duration::from_secs(u64::from(s.ttl_secs)) + GC_SLACK;

        match background {
            None => {
                self.kv.set(&key, &raw, ttl).await?;
                if let Err(e) = self.deliver(flock, &id, purpose, &code).await {
                    self.kv.cas(&key, Some(&raw), None, ttl).await?;
                    self.release_send(reserved).await?;
                    return Err(e);
                }
                Ok(())
            }
            Some(exists) => {
                let this = self.clone();
                let flock = flock.clone();
                tokio::spawn(async move {
                    if !exists {
                        return;
                    }
                    let r = async {
                        this.kv.set(&key, &raw, ttl).await?;
                        if let Err(e) = this.deliver(&flock, &id, purpose, &code).await {
                            this.kv.cas(&key, Some(&raw), None, ttl).await?;
                            this.release_send(reserved).await?;
                            return Err(e);
                        }
                        Ok::<(), OtpError>(())
                    }
                    .await;
                    if let Err(e) = r {
                        tracing::warn!(flock = %flock.id, error = %e, "background code delivery failed");
                    }
                });
                Ok(())
            }
        }
    }

    async fn deliver(
        &self,
        flock: &Flock,
        id: &Identifier,
        purpose: Purpose,
        code: &str,
    ) -> Result<(), OtpError> {
        let what = match purpose {
            Purpose::SignIn | Purpose::Registration => "sign-in",
            Purpose::VerifyEmail | Purpose::VerifyPhone => "verification",
            Purpose::PasswordReset => "password reset",
        };
        let minutes = flock.settings.otp.ttl_secs.div_ceil(60);
        let text = format!(
            "Your {} {what} code is {code}. It expires in {minutes} minutes. Never share it.",
            flock.name
        );
        match id.channel {
            Channel::Sms => self
                .sms
                .send(&OutgoingSms {
                    to: id.value.clone(),
                    text,
                })
                .await
                .map_err(OtpError::Sms),
            Channel::Email => self
                .mailer
                .send(&OutgoingMail {
                    to: id.value.clone(),
                    from: None,
                    subject: format!("Your {} {what} code", flock.name),
                    text,
                    html: None,
                })
                .await
                .map_err(OtpError::Mail),
        }
    }

    /// Reserves the caps and the cooldown of one send (given back by `release_send`).
    async fn reserve_send(
        &self,
        flock: &Flock,
        id: &Identifier,
        ip: &str,
    ) -> Result<Reserved, OtpError> {
        let s = &flock.settings.otp;
        let per_id = Limit {
            kind: "otp_send_id_h",
            cap: s.sends_per_identifier_hour,
            window_secs: 3600,
            code: "rate_limited",
        };
        let per_ip = Limit {
            kind: "otp_send_ip_h",
            cap: s.sends_per_ip_hour,
            window_secs: 3600,
            code: "rate_limited",
        };
        let per_flock = Limit {
            kind: "otp_sms_flock_d",
            cap: s.sms_per_flock_day,
            window_secs: 86_400,
            code: "sms_budget_exhausted",
        };
        let idk = id.limit_key();
        let ipk = super::limits::ip_key(ip);
        let mut caps = vec![(per_id, idk.as_str()), (per_ip, ipk.as_str())];
        if id.channel == Channel::Sms {
            caps.push((per_flock, "all"));
        }
        let hits = match self.limits.hit_all(flock.id, &caps).await? {
            Ok(h) => h,
            Err(r) => return Err(OtpError::Limited(r)),
        };
        // Cooldown: a deadline on the injected clock, claimed by compare-and-swap.
        let ckey = Self::cooldown_key(flock.id, id);
        let now_ms = self.clock.now().timestamp_millis();
        let prev = self.kv.get(&ckey).await?;
        let prev_until = prev
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<i64>().ok());
        let cd_ttl = Duration::from_secs(u64::from(s.resend_cooldown_secs)) + GC_SLACK;
        let refuse = |secs: i64| {
            OtpError::Limited(RetryAfter {
                secs: secs.max(1) as u64,
                code: "otp_cooldown",
            })
        };
        if let Some(until) = prev_until.filter(|u| *u > now_ms) {
            self.give_back(&hits).await?;
            return Err(refuse((until - now_ms + 999) / 1000));
        }
        let until = now_ms + i64::from(s.resend_cooldown_secs) * 1000;
        let until_raw = until.to_string();
        if !self
            .kv
            .cas(&ckey, prev.as_deref(), Some(until_raw.as_bytes()), cd_ttl)
            .await?
        {
            self.give_back(&hits).await?;
            return Err(refuse(i64::from(s.resend_cooldown_secs)));
        }
        Ok(Reserved {
            hits,
            cooldown_key: ckey,
            cooldown_value: until_raw,
            cooldown_prev: prev,
            cooldown_ttl: cd_ttl,
        })
    }

    async fn give_back(&self, hits: &[Hit]) -> Result<(), OtpError> {
        for h in hits {
            self.limits.undo(h).await?;
        }
        Ok(())
    }

    async fn release_send(&self, r: Reserved) -> Result<(), OtpError> {
        self.give_back(&r.hits).await?;
        self.kv
            .cas(
                &r.cooldown_key,
                Some(r.cooldown_value.as_bytes()),
                r.cooldown_prev.as_deref(),
                r.cooldown_ttl,
            )
            .await?;
        Ok(())
    }

    /// Checks and consumes a code. Every call counts as a failure of the identifier's
    /// daily budget until it is proven right.
    pub async fn verify(
        &self,
        flock: &Flock,
        id: &Identifier,
        purpose: Purpose,
        code: &str,
    ) -> Result<(), OtpError> {
        let s = &flock.settings.otp;
        let fail_hit = match self
            .limits
            .hit(flock.id, &Self::failure_limit(s), &id.limit_key())
            .await?
        {
            Ok(h) => h,
            Err(r) => return Err(OtpError::Limited(r)),
        };
        let key = Self::code_key(flock.id, purpose, id);
        let Some(raw) = self.kv.get(&key).await? else {
            return Err(OtpError::InvalidCode);
        };
        let Ok(rec) = serde_json::from_slice::<CodeRecord>(&raw) else {
            return Err(OtpError::InvalidCode);
        };
        let ttl = Duration::from_secs(u64::from(s.ttl_secs)) + GC_SLACK;
        if self.clock.now().timestamp_millis() >= rec.expires_at_ms {
            self.kv.cas(&key, Some(&raw), None, ttl).await?;
            return Err(OtpError::InvalidCode);
        }
        let att_key = format!("otpatt:{}:{}", flock.id, rec.id);
        let Some(n) = self
            .kv
            .incr_capped(&att_key, None, 1, i64::from(s.max_attempts), ttl)
            .await?
        else {
            // Out of attempts: the code is dead (the capped counter refuses every later
            // attempt). Deleting the record here would race a right guess that is still
            // within the first attempts, so it is left to expire.
            return Err(OtpError::InvalidCode);
        };
        let given = self.mac(flock.id, purpose, id, code.trim()).await?;
        if !ct_eq(given.as_bytes(), rec.mac.as_bytes()) {
            if n >= i64::from(s.max_attempts) {
                self.kv.cas(&key, Some(&raw), None, ttl).await?;
            }
            return Err(OtpError::InvalidCode);
        }
        // Right code: only the caller that removes this exact record wins.
        let won = self.kv.cas(&key, Some(&raw), None, ttl).await?;
        // A right code is not a failure, whether or not this call won the race.
        self.limits.undo(&fail_hit).await?;
        if !won {
            return Err(OtpError::InvalidCode);
        }
        Ok(())
    }

    /// Register-or-sign-in: a valid code for a known identifier signs in; for an unknown
    /// one it creates the account (where self-registration is on) with `profile` and the
    /// identifier verified, then signs in.
    #[allow(clippy::too_many_arguments)]
    pub async fn sign_in(
        &self,
        flock: &Flock,
        channel: Channel,
        identifier: &str,
        purpose: Purpose,
        code: &str,
        profile: Profile,
        meta: SessionMeta,
    ) -> Result<OtpSignedIn, OtpError> {
        let id = Identifier::parse(channel, identifier).map_err(OtpError::Invalid)?;
        let first_name = text(profile.first_name, "first_name", 200).map_err(OtpError::Invalid)?;
        let last_name = text(profile.last_name, "last_name", 200).map_err(OtpError::Invalid)?;
        let locale = locale(profile.locale).map_err(OtpError::Invalid)?;
        self.verify(flock, &id, purpose, code).await?;

        let (user, created) = match self.find_user(flock.id, &id).await? {
            Some(u) => {
                self.mark_verified(flock.id, u.id, id.channel).await?;
                (u, false)
            }
            None => {
                if !flock.settings.self_registration {
                    return Err(OtpError::RegistrationClosed);
                }
                let now = self.clock.now();
                let status = if flock.settings.require_approval {
                    UserStatus::PendingApproval
                } else {
                    UserStatus::Active
                };
                let row = entity::user::Model {
                    id: UserId::new().0,
                    flock_id: flock.id.0,
                    email: (id.channel == Channel::Email).then(|| id.value.clone()),
                    phone: (id.channel == Channel::Sms).then(|| id.value.clone()),
                    password_hash: None,
                    status: status.as_str().to_owned(),
                    role: "client".to_owned(),
                    first_name,
                    last_name,
                    locale,
                    email_verified: id.channel == Channel::Email,
                    phone_verified: id.channel == Channel::Sms,
                    opt_outs: serde_json::json!({
                        "email": profile.email_opt_out,
                        "sms": profile.sms_opt_out,
                    }),
                    terms_accepted_at: profile.terms_accepted.then_some(now),
                    source: Some("otp".to_owned()),
                    created_at: now,
                    updated_at: now,
                    deleted_at: None,
                };
                match self.db.user_insert(row.clone()).await {
                    Ok(()) => (User::from(row), true),
                    // Created in parallel by another code: sign that account in.
                    Err(DbError::Conflict(_)) => match self.find_user(flock.id, &id).await? {
                        Some(u) => (u, false),
                        None => return Err(OtpError::InvalidCode),
                    },
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let user = if created {
            user
        } else {
            self.db
                .user_by_id(flock.id, user.id)
                .await?
                .map(User::from)
                .unwrap_or(user)
        };
        if user.status != UserStatus::Active {
            return Err(OtpError::NotActive);
        }
        let grant = self.sessions.open(flock, user.id, &user.role, meta).await?;
        Ok(OtpSignedIn {
            user,
            grant,
            created,
        })
    }

    async fn mark_verified(
        &self,
        flock: FlockId,
        user: UserId,
        channel: Channel,
    ) -> Result<(), OtpError> {
        let now = self.clock.now();
        match channel {
            Channel::Email => self.db.user_mark_email_verified(flock, user, now).await?,
            Channel::Sms => self.db.user_mark_phone_verified(flock, user, now).await?,
        }
        Ok(())
    }

    /// Marks the signed-in user's own email or phone verified with a `verify_*` code.
    pub async fn verify_identifier(
        &self,
        flock: &Flock,
        user: UserId,
        channel: Channel,
        identifier: &str,
        code: &str,
    ) -> Result<User, OtpError> {
        let id = Identifier::parse(channel, identifier).map_err(OtpError::Invalid)?;
        let purpose = match channel {
            Channel::Email => Purpose::VerifyEmail,
            Channel::Sms => Purpose::VerifyPhone,
        };
        self.verify(flock, &id, purpose, code).await?;
        let me = self
            .db
            .user_by_id(flock.id, user)
            .await?
            .map(User::from)
            .ok_or(OtpError::UnknownAccount)?;
        let mine = match channel {
            Channel::Email => me.email.as_deref(),
            Channel::Sms => me.phone.as_deref(),
        };
        if mine != Some(id.value.as_str()) {
            return Err(OtpError::InvalidCode);
        }
        self.mark_verified(flock.id, user, channel).await?;
        let me = self
            .db
            .user_by_id(flock.id, user)
            .await?
            .map(User::from)
            .ok_or(OtpError::UnknownAccount)?;
        Ok(me)
    }

    /// Sets a new password with a `password_reset` code and ends every session of the
    /// account. The password is checked against the policy before the code is spent.
    pub async fn reset_password(
        &self,
        flock: &Flock,
        channel: Channel,
        identifier: &str,
        code: &str,
        new_password: SecretString,
    ) -> Result<(), OtpError> {
        let id = Identifier::parse(channel, identifier).map_err(OtpError::Invalid)?;
        check_policy(
            new_password.expose_secret(),
            flock.settings.password_min_length,
            &[id.value.as_str()],
        )
        .map_err(OtpError::Invalid)?;
        self.verify(flock, &id, Purpose::PasswordReset, code)
            .await?;
        let user = self
            .find_user(flock.id, &id)
            .await?
            .ok_or(OtpError::InvalidCode)?;
        let hash = self.hasher.hash(new_password).await?;
        let now = self.clock.now();
        self.db
            .user_set_password_hash(flock.id, user.id, &hash, now)
            .await?;
        self.mark_verified(flock.id, user.id, channel).await?;
        self.sessions
            .store
            .revoke_all(flock.id, user.id, None)
            .await?;
        Ok(())
    }
}

struct Reserved {
    hits: Vec<Hit>,
    cooldown_key: String,
    cooldown_value: String,
    cooldown_prev: Option<Vec<u8>>,
    cooldown_ttl: Duration,
}
