//! One-time codes under `/api/v1/{flock}/user/otp…` (sign in or register, reset a
//! password) and `/api/v1/{flock}/user/identity/…` (verify the signed-in user's email or
//! phone).
//! Wire types are in `types`, the error mapping in `errors`, the settings view in
//! `settings`.
mod errors;
mod settings;
mod types;

use super::client_ip::ClientIp;
use super::error::{ApiError, ApiResult};
use super::frame::Tenant;
use super::security::UserAuth;
use super::views::{meta, SessionView, UserView};
use super::ApiTags;
use crate::app::AppState;
use crate::domain::otp::{Profile, Purpose};
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use secrecy::SecretString;
pub(super) use settings::{OtpSettingsPatch, OtpSettingsView};
use types::{
    IdentityOtpRequestBody, IdentityOtpVerifyBody, OtpChannel, OtpPurpose, OtpRequestBody,
    OtpRequestResponse, OtpSent, OtpVerifyBody, OtpVerifyResponse,
};

pub struct OtpApi {
    pub state: AppState,
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
        self.state
            .session_service
            .attach_visitor(flock.id, b.visitor_token.as_deref(), s.user.id)
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
