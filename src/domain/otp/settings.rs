//! Per-flock settings of one-time codes (`settings.otp` of a flock).
use crate::domain::Invalid;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtpSettings {
    /// Digits per code (6–8).
    pub length: u8,
    /// Seconds a code stays valid (60–600).
    pub ttl_secs: u32,
    /// Wrong guesses that kill a code (1–5).
    pub max_attempts: u32,
    /// Failed verifications per identifier per day (1–100); new codes never reset it.
    pub max_failures_per_day: u32,
    /// Seconds between two codes for one identifier (60–3600).
    pub resend_cooldown_secs: u32,
    /// Codes sent per identifier per hour.
    pub sends_per_identifier_hour: u32,
    /// Codes requested per client IP per hour.
    pub sends_per_ip_hour: u32,
    /// SMS sent by the whole flock per day (the SMS budget).
    pub sms_per_flock_day: u32,
    /// Country calling-code prefixes SMS may go to (`+357`, `+44`); empty = any.
    pub sms_allowed_prefixes: Vec<String>,
    /// Country calling-code prefixes SMS never go to (checked after the allow list).
    pub sms_blocked_prefixes: Vec<String>,
}

impl Default for OtpSettings {
    fn default() -> Self {
        Self {
            length: 6,
            ttl_secs: 300,
            max_attempts: 5,
            max_failures_per_day: 100,
            resend_cooldown_secs: 60,
            sends_per_identifier_hour: 5,
            sends_per_ip_hour: 20,
            sms_per_flock_day: 1000,
            sms_allowed_prefixes: Vec::new(),
            sms_blocked_prefixes: Vec::new(),
        }
    }
}

fn bad(field: &'static str, message: &str) -> Invalid {
    Invalid::new("invalid_setting", field, message)
}

impl OtpSettings {
    pub fn validate(&self) -> Result<(), Invalid> {
        if !(6..=8).contains(&self.length) {
            return Err(bad("settings.otp.length", "otp.length must be 6 to 8"));
        }
        if !(60..=600).contains(&self.ttl_secs) {
            return Err(bad(
                "settings.otp.ttl_secs",
                "otp.ttl_secs must be 60 to 600",
            ));
        }
        if !(1..=5).contains(&self.max_attempts) {
            return Err(bad(
                "settings.otp.max_attempts",
                "otp.max_attempts must be 1 to 5",
            ));
        }
        if !(1..=100).contains(&self.max_failures_per_day) {
            return Err(bad(
                "settings.otp.max_failures_per_day",
                "otp.max_failures_per_day must be 1 to 100",
            ));
        }
        if !(60..=3600).contains(&self.resend_cooldown_secs) {
            return Err(bad(
                "settings.otp.resend_cooldown_secs",
                "otp.resend_cooldown_secs must be 60 to 3600",
            ));
        }
        if !(1..=100).contains(&self.sends_per_identifier_hour) {
            return Err(bad(
                "settings.otp.sends_per_identifier_hour",
                "otp.sends_per_identifier_hour must be 1 to 100",
            ));
        }
        if !(1..=100_000).contains(&self.sends_per_ip_hour) {
            return Err(bad(
                "settings.otp.sends_per_ip_hour",
                "otp.sends_per_ip_hour must be 1 to 100000",
            ));
        }
        if !(1..=10_000_000).contains(&self.sms_per_flock_day) {
            return Err(bad(
                "settings.otp.sms_per_flock_day",
                "otp.sms_per_flock_day must be 1 to 10000000",
            ));
        }
        for p in self
            .sms_allowed_prefixes
            .iter()
            .chain(&self.sms_blocked_prefixes)
        {
            let digits = p.strip_prefix('+').unwrap_or(p);
            if digits.is_empty() || digits.len() > 7 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad(
                    "settings.otp.sms_blocked_prefixes",
                    "SMS prefixes must be 1 to 7 digits, optionally after +",
                ));
            }
        }
        if self.sms_allowed_prefixes.len() + self.sms_blocked_prefixes.len() > 500 {
            return Err(bad(
                "settings.otp.sms_blocked_prefixes",
                "at most 500 SMS prefixes",
            ));
        }
        Ok(())
    }

    /// Whether SMS may go to `phone` (E.164).
    pub fn sms_allowed(&self, phone: &str) -> bool {
        let digits = phone.trim_start_matches('+');
        let matches = |p: &String| digits.starts_with(p.trim_start_matches('+'));
        (self.sms_allowed_prefixes.is_empty() || self.sms_allowed_prefixes.iter().any(matches))
            && !self.sms_blocked_prefixes.iter().any(matches)
    }
}
