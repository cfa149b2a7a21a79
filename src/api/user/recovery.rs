//! Activation, password reset and password change. Answers of the reset endpoints carry
//! `Referrer-Policy: no-referrer` (the token travels in the page's URL).
use super::Ack;
use crate::api::client_ip::Client;
use crate::api::error::ApiResult;
use crate::api::frame::tenant;
use crate::api::security::UserAuth;
use crate::api::views::{SessionView, UserView};
use crate::api::ApiTags;
use crate::domain::signin::{Activated, SignInOptions, SignInService};
use crate::domain::user::UserService;
use crate::infra::clock::Clock;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use secrecy::SecretString;

pub struct UserRecoveryApi {
    pub users: UserService,
    pub signin: SignInService,
    pub clock: Clock,
}

fn no_referrer() -> String {
    "no-referrer".into()
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct TokenRequest {
    /// The token from the mailed link (`?token=…`).
    #[oai(validator(max_length = 200))]
    token: String,
}

/// What an activation did: one shape whatever the outcome, so clients branch on `result`.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Activation {
    result: ActivationResult,
    /// The account after the activation.
    user: UserView,
    /// `signed_in` only: the new session (its `user` is the same account).
    session: Option<SessionView>,
}

/// `signed_in`: the account is active and a session is open. `pending_approval`: the
/// email is confirmed and the account waits for the flock's approval (no session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum ActivationResult {
    SignedIn,
    PendingApproval,
}

#[derive(ApiResponse)]
enum ActivateResponse {
    /// Activated (`result` says whether a session opened or the flock must approve).
    #[oai(status = 200)]
    Ok(Json<Activation>, #[oai(header = "Referrer-Policy")] String),
}

#[derive(ApiResponse)]
enum UserResponse {
    /// The email is confirmed; the status is unchanged.
    #[oai(status = 200)]
    Ok(Json<UserView>, #[oai(header = "Referrer-Policy")] String),
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct ResetRequest {
    #[oai(validator(max_length = 320))]
    email: String,
}

#[derive(ApiResponse)]
enum AckResponse {
    #[oai(status = 202)]
    Accepted(Json<Ack>, #[oai(header = "Referrer-Policy")] String),
    #[oai(status = 200)]
    Ok(Json<Ack>, #[oai(header = "Referrer-Policy")] String),
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct SetPasswordRequest {
    /// The token from the reset mail.
    #[oai(validator(max_length = 200))]
    token: String,
    /// The new password (the flock's policy applies).
    #[oai(validator(max_length = 256, pattern = r"^[^\u0000]*$"))]
    password: String,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct ChangePasswordRequest {
    #[oai(validator(max_length = 256, pattern = r"^[^\u0000]*$"))]
    current_password: String,
    #[oai(validator(max_length = 256, pattern = r"^[^\u0000]*$"))]
    new_password: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PasswordChanged {
    status: super::AckStatus,
    /// How many other sessions were ended.
    sessions_ended: u32,
}

#[OpenApi(tag = "ApiTags::User")]
impl UserRecoveryApi {
    /// Activate an account with the token from its activation mail: `result` is
    /// `signed_in` with a session, or `pending_approval` when the flock must still approve
    /// the account.
    #[oai(
        path = "/api/v1/:flock/user/activate",
        method = "post",
        operation_id = "activate"
    )]
    async fn activate(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        /// The client's user agent, kept with the session.
        #[oai(name = "User-Agent")]
        client: Client,
        body: Json<TokenRequest>,
    ) -> ApiResult<ActivateResponse> {
        let opts = SignInOptions {
            meta: client.meta(None),
            ..SignInOptions::default()
        };
        let r = self.signin.activate(&flock, &body.0.token, opts).await?;
        let view = match r {
            Activated::SignedIn(s) => Activation {
                result: ActivationResult::SignedIn,
                user: UserView::with_public(s.user.clone(), s.public.clone()),
                session: Some(SessionView::new(*s)),
            },
            Activated::Confirmed(u) => Activation {
                result: ActivationResult::PendingApproval,
                user: (*u).into(),
                session: None,
            },
        };
        Ok(ActivateResponse::Ok(Json(view), no_referrer()))
    }

    /// Confirm the email with an activation token without changing the account's status.
    #[oai(
        path = "/api/v1/:flock/user/activate_single",
        method = "post",
        operation_id = "activate_single"
    )]
    async fn activate_single(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<TokenRequest>,
    ) -> ApiResult<UserResponse> {
        let u = self.users.activate_single(&flock, &body.0.token).await?;
        Ok(UserResponse::Ok(Json(u.into()), no_referrer()))
    }

    /// Ask for a password reset mail. Always the same answer, whether or not the account
    /// exists.
    #[oai(
        path = "/api/v1/:flock/user/reset",
        method = "post",
        operation_id = "request_password_reset"
    )]
    async fn reset(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<ResetRequest>,
    ) -> ApiResult<AckResponse> {
        self.users.request_reset(&flock, &body.0.email).await?;
        Ok(AckResponse::Accepted(Ack::accepted(), no_referrer()))
    }

    /// Set a new password with the token from a reset mail. Every session of the account
    /// ends; the token works once.
    #[oai(
        path = "/api/v1/:flock/user/password",
        method = "post",
        operation_id = "set_password_with_token"
    )]
    async fn set_password(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<SetPasswordRequest>,
    ) -> ApiResult<AckResponse> {
        let b = body.0;
        self.users
            .reset_password(&flock, &b.token, SecretString::from(b.password))
            .await?;
        Ok(AckResponse::Ok(Ack::ok(), no_referrer()))
    }

    /// Change the password of the signed-in user (the current one is required). Every
    /// other session ends; outstanding reset links stop working.
    #[oai(
        path = "/api/v1/:flock/user/password",
        method = "put",
        operation_id = "change_password"
    )]
    async fn change_password(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
        body: Json<ChangePasswordRequest>,
    ) -> ApiResult<Json<PasswordChanged>> {
        let c = auth.0;
        let b = body.0;
        let n = self
            .users
            .change_password(
                &flock,
                c.user,
                c.session,
                SecretString::from(b.current_password),
                SecretString::from(b.new_password),
            )
            .await?;
        Ok(Json(PasswordChanged {
            status: super::AckStatus::Ok,
            sessions_ended: u32::try_from(n).unwrap_or(u32::MAX),
        }))
    }
}
