//! Wire types of the one-time-code operations (request and verify bodies, answers).
use crate::api::views::SessionView;
use crate::domain::otp::{Channel, Purpose};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object};

/// How a code travels.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub(super) enum OtpChannel {
    Email,
    Sms,
}

impl From<OtpChannel> for Channel {
    fn from(c: OtpChannel) -> Self {
        match c {
            OtpChannel::Email => Channel::Email,
            OtpChannel::Sms => Channel::Sms,
        }
    }
}

/// What a code is for.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub(super) enum OtpPurpose {
    /// Sign in; an unknown identifier is registered (register-or-sign-in).
    SignIn,
    /// Same as `sign_in` (kept for portals that name the first code so).
    Registration,
    /// Set a new password (verify at `POST /api/v1/{flock}/user/otp/reset`).
    PasswordReset,
}

/// What a code verified at `user/otp/verify` is for (a `password_reset` code goes to
/// `user/otp/reset`).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub(super) enum OtpSignInPurpose {
    /// Sign in; an unknown identifier is registered (register-or-sign-in).
    SignIn,
    /// Same as `sign_in` (kept for portals that name the first code so).
    Registration,
}

impl From<OtpSignInPurpose> for Purpose {
    fn from(p: OtpSignInPurpose) -> Self {
        match p {
            OtpSignInPurpose::SignIn => Purpose::SignIn,
            OtpSignInPurpose::Registration => Purpose::Registration,
        }
    }
}

impl From<OtpPurpose> for Purpose {
    fn from(p: OtpPurpose) -> Self {
        match p {
            OtpPurpose::SignIn => Purpose::SignIn,
            OtpPurpose::Registration => Purpose::Registration,
            OtpPurpose::PasswordReset => Purpose::PasswordReset,
        }
    }
}

#[derive(Object)]
#[oai(deny_unknown_fields, example, skip_serializing_if_is_none)]
pub(super) struct OtpRequestBody {
    pub(super) channel: OtpChannel,
    /// An email (channel `email`) or an E.164 phone number such as `+35799123456`
    /// (channel `sms`).
    #[oai(validator(max_length = 320))]
    pub(super) identifier: String,
    pub(super) purpose: OtpPurpose,
}

impl poem_openapi::types::Example for OtpRequestBody {
    fn example() -> Self {
        Self {
            channel: OtpChannel::Sms,
            identifier: "+447700900123".into(),
            purpose: OtpPurpose::SignIn,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(super) struct OtpSent {
    pub(super) status: OtpSentStatus,
}

/// Always `sent`. Under the protected enumeration policy the answer is the same whether
/// or not an account exists.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub(super) enum OtpSentStatus {
    Sent,
}

#[derive(ApiResponse)]
pub(super) enum OtpRequestResponse {
    /// A code is on its way (or, under the protected policy, would be if the account
    /// existed).
    #[oai(status = 202)]
    Accepted(Json<OtpSent>),
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub(super) struct OtpVerifyBody {
    pub(super) channel: OtpChannel,
    /// The identifier the code was sent to.
    #[oai(validator(max_length = 320))]
    pub(super) identifier: String,
    pub(super) purpose: OtpSignInPurpose,
    /// The code received (6–8 digits).
    #[oai(validator(max_length = 16))]
    pub(super) code: String,
    /// Used when the code creates the account.
    #[oai(validator(max_length = 200))]
    pub(super) first_name: Option<String>,
    /// Used when the code creates the account.
    #[oai(validator(max_length = 200))]
    pub(super) last_name: Option<String>,
    /// Used when the code creates the account: a language tag, e.g. `en`, `fr-CA`.
    #[oai(validator(max_length = 35))]
    pub(super) locale: Option<String>,
    /// Used when the code creates the account: the user accepts the terms / service
    /// (recorded with the time).
    pub(super) terms_accepted: Option<bool>,
    /// Used when the code creates the account: no marketing email.
    pub(super) email_opt_out: Option<bool>,
    /// Used when the code creates the account: no marketing SMS.
    pub(super) sms_opt_out: Option<bool>,
    /// Used when the code creates the account: profile field values by name, for the
    /// fields the flock asks at registration (checked before the code is spent).
    pub(super) fields: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    /// Where the sign-in comes from (an app name), kept with the session.
    #[oai(validator(max_length = 100))]
    pub(super) source: Option<String>,
    /// An anonymous visitor's token: the visitor is attached to the signed-in user.
    #[oai(validator(max_length = 256))]
    pub(super) visitor_token: Option<String>,
}

#[derive(ApiResponse)]
pub(super) enum OtpVerifyResponse {
    /// Signed in to an existing account.
    #[oai(status = 200)]
    SignedIn(Json<SessionView>),
    /// The code created the account; signed in.
    #[oai(status = 201)]
    Registered(Json<SessionView>),
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub(super) struct OtpResetBody {
    pub(super) channel: OtpChannel,
    /// The identifier the code was sent to.
    #[oai(validator(max_length = 320))]
    pub(super) identifier: String,
    /// The code received (6–8 digits), requested with purpose `password_reset`.
    #[oai(validator(max_length = 16))]
    pub(super) code: String,
    /// The new password (policy as at registration).
    #[oai(validator(max_length = 256, pattern = r"^[^\u0000]*$"))]
    pub(super) new_password: String,
}

#[derive(ApiResponse)]
pub(super) enum OtpResetResponse {
    /// The new password is set and every session of the account ended.
    #[oai(status = 204)]
    PasswordReset,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub(super) struct IdentityOtpRequestBody {
    /// `email` verifies the user's email, `sms` their phone.
    pub(super) channel: OtpChannel,
    /// The signed-in user's own email or phone.
    #[oai(validator(max_length = 320))]
    pub(super) identifier: String,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
pub(super) struct IdentityOtpVerifyBody {
    pub(super) channel: OtpChannel,
    #[oai(validator(max_length = 320))]
    pub(super) identifier: String,
    #[oai(validator(max_length = 16))]
    pub(super) code: String,
}
