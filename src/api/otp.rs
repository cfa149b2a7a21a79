//! One-time codes under `/api/v1/{flock}/user/otp…` (sign in or register, reset a
//! password) and `/api/v1/{flock}/user/identity/…` (verify the signed-in user's email or
//! phone).
use super::client_ip::ClientIp;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::frame::Tenant;
use super::security::UserAuth;
use super::views::{meta, SessionView, UserView};
use super::ApiTags;
use crate::app::AppState;
use crate::domain::otp::{Channel, OtpError, Profile, Purpose};
use crate::infra::mail::MailError;
use crate::infra::sms::SmsError;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use secrecy::SecretString;

pub struct OtpApi {
    pub state: AppState,
}

/// How a code travels.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
enum OtpChannel {
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
enum OtpPurpose {
    /// Sign in; an unknown identifier is registered (register-or-sign-in).
    SignIn,
    /// Same as `sign_in` (kept for portals that name the first code so).
    Registration,
    /// Set a new password (give `new_password` when verifying).
    PasswordReset,
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
#[oai(deny_unknown_fields)]
struct OtpRequestBody {
    channel: OtpChannel,
    /// An email (channel `email`) or an E.164 phone number such as `+35799123456`
    /// (channel `sms`).
    #[oai(validator(max_length = 320))]
    identifier: String,
    purpose: OtpPurpose,
}

#[derive(Object)]
struct OtpSent {
    /// Always `sent`. Under the protected enumeration policy the answer is the same
    /// whether or not an account exists.
    status: String,
}

#[derive(ApiResponse)]
enum OtpRequestResponse {
    /// A code is on its way (or, under the protected policy, would be if the account
    /// existed).
    #[oai(status = 202)]
    Accepted(Json<OtpSent>),
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct OtpVerifyBody {
    channel: OtpChannel,
    /// The identifier the code was sent to.
    #[oai(validator(max_length = 320))]
    identifier: String,
    purpose: OtpPurpose,
    /// The code received (6–8 digits).
    #[oai(validator(max_length = 16))]
    code: String,
    /// `password_reset` only: the new password (policy as at registration).
    #[oai(validator(max_length = 1024))]
    new_password: Option<String>,
    /// Used when the code creates the account.
    #[oai(validator(max_length = 200))]
    first_name: Option<String>,
    /// Used when the code creates the account.
    #[oai(validator(max_length = 200))]
    last_name: Option<String>,
    /// Used when the code creates the account: a language tag, e.g. `en`, `fr-CA`.
    #[oai(validator(max_length = 35))]
    locale: Option<String>,
    /// Used when the code creates the account: the user accepts the terms / service
    /// (recorded with the time).
    terms_accepted: Option<bool>,
    /// Used when the code creates the account: no marketing email.
    email_opt_out: Option<bool>,
    /// Used when the code creates the account: no marketing SMS.
    sms_opt_out: Option<bool>,
    /// Where the sign-in comes from (an app name), kept with the session.
    #[oai(validator(max_length = 100))]
    source: Option<String>,
}

#[derive(ApiResponse)]
enum OtpVerifyResponse {
    /// Signed in to an existing account.
    #[oai(status = 200)]
    SignedIn(Json<SessionView>),
    /// The code created the account; signed in.
    #[oai(status = 201)]
    Registered(Json<SessionView>),
    /// `password_reset`: the new password is set and every session of the account ended.
    #[oai(status = 204)]
    PasswordReset,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct IdentityOtpRequestBody {
    /// `email` verifies the user's email, `sms` their phone.
    channel: OtpChannel,
    /// The signed-in user's own email or phone.
    #[oai(validator(max_length = 320))]
    identifier: String,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct IdentityOtpVerifyBody {
    channel: OtpChannel,
    #[oai(validator(max_length = 320))]
    identifier: String,
    #[oai(validator(max_length = 16))]
    code: String,
}

fn err(code: &str, message: &str) -> Json<ErrorBody> {
    Json(ErrorBody::new(code, message, None))
}

impl From<OtpError> for ApiError {
    fn from(e: OtpError) -> Self {
        match e {
            OtpError::Invalid(i) => i.into(),
            OtpError::InvalidCode => {
                ApiError::unauthorized("invalid_code", "invalid or expired code")
            }
            OtpError::Limited(r) => r.into(),
            OtpError::UnknownAccount => {
                ApiError::not_found("user_not_found", "no account with this identifier")
            }
            OtpError::RegistrationClosed => ApiError::forbidden(
                "registration_closed",
                "self-registration is closed in this flock",
            ),
            OtpError::NotActive => {
                ApiError::forbidden("account_not_active", "this account is not active")
            }
            OtpError::PrefixBlocked => ApiError::bad_request(
                "phone_prefix_not_allowed",
                "this flock does not send SMS to this number's country",
                Some("identifier"),
            ),
            OtpError::Sms(SmsError::Failed(cause)) => {
                tracing::warn!(request_id = %super::error::current_request_id(), %cause, "SMS provider failed");
                ApiError::BadGateway(err(
                    "sms_provider_failed",
                    "the SMS provider refused the message; no attempt was used, retry later",
                ))
            }
            OtpError::Sms(SmsError::Unavailable(cause)) => {
                tracing::warn!(request_id = %super::error::current_request_id(), %cause, "SMS provider unavailable");
                ApiError::Unavailable(
                    err(
                        "sms_provider_unavailable",
                        "the SMS provider is unreachable; no attempt was used, retry later",
                    ),
                    5,
                )
            }
            OtpError::Mail(MailError::Invalid(_)) => ApiError::bad_request(
                "invalid_email",
                "email must be a valid address",
                Some("identifier"),
            ),
            OtpError::Mail(MailError::Unavailable(cause)) => {
                tracing::warn!(request_id = %super::error::current_request_id(), %cause, "mail unavailable");
                ApiError::Unavailable(
                    err(
                        "mail_unavailable",
                        "mail cannot be sent now; no attempt was used, retry later",
                    ),
                    5,
                )
            }
            OtpError::Busy => ApiError::unavailable(
                "server_busy",
                "too many password checks in progress; retry shortly",
            ),
            OtpError::Infra(i) => i.into(),
        }
    }
}

#[OpenApi(tag = "ApiTags::Otp")]
impl OtpApi {
    /// Send a one-time code by email or SMS to sign in (registering an unknown
    /// identifier), or to reset a password. Limits: one code per identifier per 60 s,
    /// per-identifier and per-IP hourly caps, the flock's daily SMS budget (429 with
    /// `Retry-After`).
    #[oai(
        path = "/api/v1/:flock/user/otp",
        method = "post",
        operation_id = "request_otp"
    )]
    async fn request_otp(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        ip: ClientIp,
        body: Json<OtpRequestBody>,
    ) -> ApiResult<OtpRequestResponse> {
        let b = body.0;
        self.state
            .otp
            .request(
                &tenant.0,
                b.channel.into(),
                &b.identifier,
                b.purpose.into(),
                &ip.0.to_string(),
                None,
            )
            .await?;
        Ok(OtpRequestResponse::Accepted(Json(OtpSent {
            status: "sent".into(),
        })))
    }

    /// Verify a one-time code. `sign_in` / `registration`: signs in, creating the account
    /// with the given profile fields when the identifier is new (register-or-sign-in);
    /// `password_reset`: sets `new_password`. 5 wrong guesses kill a code; at most 100
    /// failures per identifier per day.
    #[oai(
        path = "/api/v1/:flock/user/otp/verify",
        method = "post",
        operation_id = "verify_otp"
    )]
    async fn verify_otp(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        tenant: Tenant,
        ip: ClientIp,
        /// The client's user agent, kept with the session.
        #[oai(name = "User-Agent")]
        user_agent: Header<Option<String>>,
        body: Json<OtpVerifyBody>,
    ) -> ApiResult<OtpVerifyResponse> {
        let b = body.0;
        let flock = &tenant.0;
        if let OtpPurpose::PasswordReset = b.purpose {
            let Some(pw) = b.new_password else {
                return Err(ApiError::bad_request(
                    "new_password_required",
                    "new_password is required for password_reset",
                    Some("new_password"),
                ));
            };
            self.state
                .otp
                .reset_password(
                    flock,
                    b.channel.into(),
                    &b.identifier,
                    &b.code,
                    SecretString::from(pw),
                )
                .await?;
            return Ok(OtpVerifyResponse::PasswordReset);
        }
        let now = self.state.clock.unix();
        let s = self
            .state
            .otp
            .sign_in(
                flock,
                b.channel.into(),
                &b.identifier,
                b.purpose.into(),
                &b.code,
                Profile {
                    first_name: b.first_name,
                    last_name: b.last_name,
                    locale: b.locale,
                    terms_accepted: b.terms_accepted.unwrap_or(false),
                    email_opt_out: b.email_opt_out.unwrap_or(false),
                    sms_opt_out: b.sms_opt_out.unwrap_or(false),
                },
                meta(ip, b.source, user_agent.0),
            )
            .await?;
        let view = Json(SessionView::new(s.grant, s.user, now));
        Ok(if s.created {
            OtpVerifyResponse::Registered(view)
        } else {
            OtpVerifyResponse::SignedIn(view)
        })
    }

    /// Send a code to the signed-in user's own email or phone to verify it.
    #[oai(
        path = "/api/v1/:flock/user/identity/otp",
        method = "post",
        operation_id = "request_identity_otp"
    )]
    async fn request_identity_otp(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
        ip: ClientIp,
        body: Json<IdentityOtpRequestBody>,
    ) -> ApiResult<OtpRequestResponse> {
        let c = auth.0;
        let b = body.0;
        let purpose = match b.channel {
            OtpChannel::Email => Purpose::VerifyEmail,
            OtpChannel::Sms => Purpose::VerifyPhone,
        };
        self.state
            .otp
            .request(
                &c.flock,
                b.channel.into(),
                &b.identifier,
                purpose,
                &ip.0.to_string(),
                Some(c.claims.user),
            )
            .await?;
        Ok(OtpRequestResponse::Accepted(Json(OtpSent {
            status: "sent".into(),
        })))
    }

    /// Verify the signed-in user's email or phone with the code sent to it.
    #[oai(
        path = "/api/v1/:flock/user/identity/verify",
        method = "post",
        operation_id = "verify_identity_otp"
    )]
    async fn verify_identity_otp(
        &self,
        /// The flock's slug.
        #[oai(name = "flock")]
        _flock: Path<String>,
        auth: UserAuth,
        body: Json<IdentityOtpVerifyBody>,
    ) -> ApiResult<Json<UserView>> {
        let c = auth.0;
        let b = body.0;
        let user = self
            .state
            .otp
            .verify_identifier(
                &c.flock,
                c.claims.user,
                b.channel.into(),
                &b.identifier,
                &b.code,
            )
            .await?;
        Ok(Json(user.into()))
    }
}

/// A flock's one-time-code settings.
#[derive(Debug, Object)]
pub(super) struct OtpSettingsView {
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
pub(super) struct OtpSettingsPatch {
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
    pub(super) fn apply(
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
