//! One-time codes under `/api/v1/{flock}/user/otp…` (sign in or register, reset a
//! password) and `/api/v1/{flock}/user/identity/…` (verify the signed-in user's email or
//! phone).
//! Wire types are in `types`, the error mapping in `errors`, the settings view in
//! `settings`.
mod errors;
mod settings;
mod types;

use super::client_ip::{Client, ClientIp};
use super::error::ApiResult;
use super::frame::tenant;
use super::security::UserAuth;
use super::views::{SessionView, UserView};
use super::ApiTags;
use crate::domain::otp::{OtpService, Purpose};
use crate::domain::signin::{CodeProfile, SignInOptions, SignInService};
use crate::infra::clock::Clock;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use secrecy::SecretString;
pub(super) use settings::{OtpSettingsPatch, OtpSettingsView};
use types::{
    IdentityOtpRequestBody, IdentityOtpVerifyBody, OtpChannel, OtpRequestBody, OtpRequestResponse,
    OtpResetBody, OtpResetResponse, OtpSent, OtpSentStatus, OtpVerifyBody, OtpVerifyResponse,
};

pub struct OtpApi {
    pub otp: OtpService,
    pub signin: SignInService,
    pub clock: Clock,
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
        flock: tenant::Path,
        ip: ClientIp,
        body: Json<OtpRequestBody>,
    ) -> ApiResult<OtpRequestResponse> {
        let b = body.0;
        self.otp
            .request(
                &flock,
                b.channel.into(),
                &b.identifier,
                b.purpose.into(),
                &ip.0.to_string(),
                None,
            )
            .await?;
        Ok(OtpRequestResponse::Accepted(Json(OtpSent {
            status: OtpSentStatus::Sent,
        })))
    }

    /// Verify a one-time code and sign in (`sign_in` / `registration`), creating the
    /// account with the given profile fields when the identifier is new
    /// (register-or-sign-in): 200 for an existing account, 201 for a new one, the same
    /// body. A `password_reset` code is verified at `user/otp/reset`. 5 wrong guesses kill
    /// a code; at most 100 failures per identifier per day.
    #[oai(
        path = "/api/v1/:flock/user/otp/verify",
        method = "post",
        operation_id = "verify_otp"
    )]
    async fn verify_otp(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        /// The client's user agent, kept with the session.
        #[oai(name = "User-Agent")]
        client: Client,
        body: Json<OtpVerifyBody>,
    ) -> ApiResult<OtpVerifyResponse> {
        let b = body.0;
        let profile = CodeProfile {
            first_name: b.first_name,
            last_name: b.last_name,
            locale: b.locale,
            terms_accepted: b.terms_accepted.unwrap_or(false),
            email_opt_out: b.email_opt_out.unwrap_or(false),
            sms_opt_out: b.sms_opt_out.unwrap_or(false),
            fields: b.fields.unwrap_or_default(),
        };
        let opts = SignInOptions {
            meta: client.meta(b.source),
            visitor_token: b.visitor_token,
            ..SignInOptions::default()
        };
        let (channel, purpose) = (b.channel.into(), b.purpose.into());
        let s = self
            .signin
            .code(
                &flock,
                channel,
                &b.identifier,
                purpose,
                &b.code,
                profile,
                opts,
            )
            .await?;
        let created = s.created;
        let view = Json(SessionView::new(s));
        Ok(if created {
            OtpVerifyResponse::Registered(view)
        } else {
            OtpVerifyResponse::SignedIn(view)
        })
    }

    /// Set a new password with a one-time code requested with purpose `password_reset`;
    /// every session of the account ends. The same limits as `verify_otp`.
    #[oai(
        path = "/api/v1/:flock/user/otp/reset",
        method = "post",
        operation_id = "reset_password_with_otp"
    )]
    async fn reset_password_with_otp(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<OtpResetBody>,
    ) -> ApiResult<OtpResetResponse> {
        let b = body.0;
        self.otp
            .reset_password(
                &flock,
                b.channel.into(),
                &b.identifier,
                &b.code,
                SecretString::from(b.new_password),
            )
            .await?;
        Ok(OtpResetResponse::PasswordReset)
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
        flock: tenant::Path,
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
        self.otp
            .request(
                &flock,
                b.channel.into(),
                &b.identifier,
                purpose,
                &ip.0.to_string(),
                Some(c.user),
            )
            .await?;
        Ok(OtpRequestResponse::Accepted(Json(OtpSent {
            status: OtpSentStatus::Sent,
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
        flock: tenant::Path,
        auth: UserAuth,
        body: Json<IdentityOtpVerifyBody>,
    ) -> ApiResult<Json<UserView>> {
        let c = auth.0;
        let b = body.0;
        let user = self
            .otp
            .verify_identifier(&flock, c.user, b.channel.into(), &b.identifier, &b.code)
            .await?;
        Ok(Json(user.into()))
    }
}
