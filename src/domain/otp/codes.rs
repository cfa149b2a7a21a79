//! Requesting a code: who may get one, the send caps and cooldown (reserved before the
//! send, given back when the provider fails), and the delivery by mail or SMS.
use super::{
    generate_code, Channel, CodeRecord, Identifier, OtpError, OtpService, Purpose, GC_SLACK,
};
use crate::domain::flocks::{EnumerationPolicy, Flock};
use crate::domain::limits::{Hit, Limit, RetryAfter};
use crate::domain::{InfraError, Invalid};
use crate::ids::UserId;
use crate::infra::kv::Step;
use crate::infra::mail::OutgoingMail;
use crate::infra::secret::random_token;
use crate::infra::sms::OutgoingSms;
use std::time::Duration;

impl OtpService {
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
        if channel == Channel::Sms && !s.sms_allowed(id.value()) {
            return Err(OtpError::PrefixBlocked);
        }
        let background = match purpose {
            Purpose::VerifyEmail | Purpose::VerifyPhone => {
                let want = if purpose == Purpose::VerifyEmail {
                    Channel::Email
                } else {
                    Channel::Sms
                };
                let Some(u) = user else {
                    return Err(OtpError::UnknownAccount);
                };
                let me = self.me(flock, u).await?;
                let mine = match want {
                    Channel::Email => me.email.as_deref(),
                    Channel::Sms => me.phone.as_deref(),
                };
                if channel != want || mine != Some(id.value()) {
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
                    to: id.value().to_owned(),
                    text,
                })
                .await
                .map_err(OtpError::Sms),
            Channel::Email => self
                .mailer
                .send(&OutgoingMail {
                    to: id.value().to_owned(),
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
        let ipk = crate::domain::limits::ip_key(ip);
        let mut caps = vec![(per_id, idk.as_str()), (per_ip, ipk.as_str())];
        if id.channel == Channel::Sms {
            caps.push((per_flock, "all"));
        }
        // Cooldown: a deadline on the injected clock, claimed by compare-and-swap in the
        // same atomic step as the caps (all counted, or nothing).
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
            return Err(refuse((until - now_ms + 999) / 1000));
        }
        let until = now_ms + i64::from(s.resend_cooldown_secs) * 1000;
        let until_raw = until.to_string();
        let (mut steps, hits, refusals) = self.limits.steps(flock.id, &caps);
        steps.push(Step::Cas {
            key: ckey.clone(),
            expected: prev.clone(),
            new: Some(until_raw.clone().into_bytes()),
            ttl: cd_ttl,
        });
        if let Some(i) = self.kv.apply(steps).await? {
            return Err(match refusals.into_iter().nth(i) {
                Some(r) => OtpError::Limited(r),
                // Another send for this identifier claimed the cooldown first.
                None => refuse(i64::from(s.resend_cooldown_secs)),
            });
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
}

struct Reserved {
    hits: Vec<Hit>,
    cooldown_key: String,
    cooldown_value: String,
    cooldown_prev: Option<Vec<u8>>,
    cooldown_ttl: Duration,
}
