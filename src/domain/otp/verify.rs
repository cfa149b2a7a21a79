//! Checking and consuming a code, and what a verified code does besides signing in:
//! verify the user's own identifier, reset a password.
use super::{Channel, CodeRecord, Identifier, OtpError, OtpService, Purpose, GC_SLACK};
use crate::domain::flocks::Flock;
use crate::domain::password::check_policy;
use crate::domain::user::User;
use crate::ids::UserId;
use crate::infra::secret::ct_eq;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

impl OtpService {
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
                self.users
                    .record_otp_locked(flock, &id.contact, purpose.as_str())
                    .await;
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

    /// Checks and consumes a code sent to `identifier` for `purpose`; the identifier.
    async fn parse_and_verify(
        &self,
        flock: &Flock,
        channel: Channel,
        identifier: &str,
        purpose: Purpose,
        code: &str,
    ) -> Result<Identifier, OtpError> {
        let id = Identifier::parse(channel, identifier).map_err(OtpError::Invalid)?;
        self.verify(flock, &id, purpose, code).await?;
        Ok(id)
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
        let purpose = match channel {
            Channel::Email => Purpose::VerifyEmail,
            Channel::Sms => Purpose::VerifyPhone,
        };
        let id = self
            .parse_and_verify(flock, channel, identifier, purpose, code)
            .await?;
        let me = self.me(flock, user).await?;
        let mine = match channel {
            Channel::Email => me.email.as_deref(),
            Channel::Sms => me.phone.as_deref(),
        };
        if mine != Some(id.value()) {
            return Err(OtpError::InvalidCode);
        }
        Ok(self
            .users
            .mark_verified(flock.id, user, &id.contact)
            .await?)
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
            &[id.value()],
        )
        .map_err(OtpError::Invalid)?;
        self.verify(flock, &id, Purpose::PasswordReset, code)
            .await?;
        let user = self
            .find_user(flock.id, &id)
            .await?
            .ok_or(OtpError::InvalidCode)?;
        self.users
            .set_password_after_code(flock, &user, &id.contact, new_password)
            .await?;
        Ok(())
    }
}
