//! How one-time-code errors answer over HTTP (provider failures included).
use crate::api::error::{current_request_id, ApiError, ErrorBody};
use crate::domain::otp::OtpError;
use crate::infra::mail::MailError;
use crate::infra::sms::SmsError;
use poem_openapi::payload::Json;

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
                tracing::warn!(request_id = %current_request_id(), %cause, "SMS provider failed");
                ApiError::BadGateway(err(
                    "sms_provider_failed",
                    "the SMS provider refused the message; no attempt was used, retry later",
                ))
            }
            OtpError::Sms(SmsError::Unavailable(cause)) => {
                tracing::warn!(request_id = %current_request_id(), %cause, "SMS provider unavailable");
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
                tracing::warn!(request_id = %current_request_id(), %cause, "mail unavailable");
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
            OtpError::User(e) => (*e).into(),
            OtpError::Infra(i) => i.into(),
        }
    }
}
