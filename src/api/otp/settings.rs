//! The one-time-code part of the platform API's flock settings (view and patch).
use poem_openapi::Object;

/// A flock's one-time-code settings.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub(in crate::api) struct OtpSettingsView {
    /// Digits per code (6–8).
    length: u8,
    /// Seconds a code stays valid (60–600).
    ttl_secs: u32,
    /// Wrong guesses that kill a code (1–5).
    max_attempts: u32,
    /// Failed verifications per identifier per day (1–100); a new code never resets it.
    max_failures_per_day: u32,
    /// Seconds between two codes for one identifier (60–3600).
    resend_cooldown_secs: u32,
    /// Codes sent per identifier per hour.
    sends_per_identifier_hour: u32,
    /// Codes requested per client IP per hour.
    sends_per_ip_hour: u32,
    /// SMS the flock may send per day (the SMS budget).
    sms_per_flock_day: u32,
    /// Country calling-code prefixes SMS may go to (e.g. `+357`); empty = any.
    sms_allowed_prefixes: Vec<String>,
    /// Country calling-code prefixes SMS never go to.
    sms_blocked_prefixes: Vec<String>,
}

impl From<&crate::domain::otp::OtpSettings> for OtpSettingsView {
    fn from(s: &crate::domain::otp::OtpSettings) -> Self {
        Self {
            length: s.length,
            ttl_secs: s.ttl_secs,
            max_attempts: s.max_attempts,
            max_failures_per_day: s.max_failures_per_day,
            resend_cooldown_secs: s.resend_cooldown_secs,
            sends_per_identifier_hour: s.sends_per_identifier_hour,
            sends_per_ip_hour: s.sends_per_ip_hour,
            sms_per_flock_day: s.sms_per_flock_day,
            sms_allowed_prefixes: s.sms_allowed_prefixes.clone(),
            sms_blocked_prefixes: s.sms_blocked_prefixes.clone(),
        }
    }
}

/// One-time-code settings to change; absent fields keep their value.
#[derive(Debug, Object, Default)]
#[oai(deny_unknown_fields)]
pub(in crate::api) struct OtpSettingsPatch {
    length: Option<u8>,
    ttl_secs: Option<u32>,
    max_attempts: Option<u32>,
    max_failures_per_day: Option<u32>,
    resend_cooldown_secs: Option<u32>,
    sends_per_identifier_hour: Option<u32>,
    sends_per_ip_hour: Option<u32>,
    sms_per_flock_day: Option<u32>,
    #[oai(validator(max_items = 500))]
    sms_allowed_prefixes: Option<Vec<String>>,
    #[oai(validator(max_items = 500))]
    sms_blocked_prefixes: Option<Vec<String>>,
}

impl OtpSettingsPatch {
    pub(in crate::api) fn apply(
        self,
        mut s: crate::domain::otp::OtpSettings,
    ) -> crate::domain::otp::OtpSettings {
        macro_rules! set {
            ($($f:ident),*) => { $(if let Some(v) = self.$f { s.$f = v; })* };
        }
        set!(
            length,
            ttl_secs,
            max_attempts,
            max_failures_per_day,
            resend_cooldown_secs,
            sends_per_identifier_hour,
            sends_per_ip_hour,
            sms_per_flock_day,
            sms_allowed_prefixes,
            sms_blocked_prefixes
        );
        s
    }
}
