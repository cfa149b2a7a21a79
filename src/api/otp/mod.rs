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
use crate::domain::Invalid;
use crate::infra::clock::Clock;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use secrecy::SecretString;
pub(super) use settings::{OtpSettingsPatch, OtpSettingsView};
use types::{
    IdentityOtpRequestBody, IdentityOtpVerifyBody, OtpChannel, OtpPurpose, OtpRequestBody,
    OtpRequestResponse, OtpSent, OtpVerifyBody, OtpVerifyResponse,
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
        flock: tenant::Path,
        /// The client's user agent, kept with the session.
        #[oai(name = "User-Agent")]
        client: Client,
        body: Json<OtpVerifyBody>,
    ) -> ApiResult<OtpVerifyResponse> {
        let b = body.0;
        if let OtpPurpose::PasswordReset = b.purpose {
            let pw = b.new_password.ok_or_else(|| {
                Invalid::new(
                    "new_password_required",
                    "new_password",
                    "new_password is required for password_reset",
                )
            })?;
            self.otp
                .reset_password(
                    &flock,
                    b.channel.into(),
                    &b.identifier,
                    &b.code,
                    SecretString::from(pw),
                )
                .await?;
            return Ok(OtpVerifyResponse::PasswordReset);
        }
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
