//! Sign-in, sign-out, registration, preregistration, preauth and the availability check.
use super::Ack;
use crate::api::client_ip::Client;
use crate::api::directory::views::StatusWire;
use crate::api::error::{ApiError, ApiResult};
use crate::api::frame::tenant;
use crate::api::security::UserAuth;
use crate::api::views::SessionView;
use crate::api::ApiTags;
use crate::domain::sessions::SessionService;
use crate::domain::signin::{SignInOptions, SignInService};
use crate::domain::user::login::Identifier;
use crate::domain::user::{Availability, Preauth, PreregisterInput, RegisterInput, UserService};
use crate::infra::clock::Clock;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use secrecy::SecretString;
use std::collections::BTreeMap;
use uuid::Uuid;

pub struct UserApi {
    pub users: UserService,
    pub sessions: SessionService,
    pub signin: SignInService,
    pub clock: Clock,
}

#[derive(Object)]
#[oai(deny_unknown_fields, example, skip_serializing_if_is_none)]
struct RegisterRequest {
    /// The account's email (case-insensitive, unique in the flock). Email or phone is
    /// required.
    #[oai(validator(max_length = 320))]
    email: Option<String>,
    /// The account's phone number in international (E.164) format, e.g. `+447700900123`.
    #[oai(validator(max_length = 32))]
    phone: Option<String>,
    /// 8 (or the flock's minimum) to 256 characters; never truncated. Optional where the
    /// flock allows passwordless registration (`passwordless_registration`): the account
    /// then signs in with one-time codes or sets a password through the reset path.
    #[oai(validator(max_length = 256, pattern = r"^[^\u0000]*$"))]
    password: Option<String>,
    /// Must be true: the user accepts the flock's terms.
    terms_accepted: bool,
    #[oai(validator(max_length = 200))]
    first_name: Option<String>,
    #[oai(validator(max_length = 200))]
    last_name: Option<String>,
    /// Preferred language tag, e.g. `en` or `fr-CA`.
    #[oai(validator(max_length = 35))]
    locale: Option<String>,
    /// Opt-outs by name, e.g. `{"newsletter": true}`.
    opt_outs: Option<BTreeMap<String, bool>>,
    /// Profile field values by name, for the fields the flock asks at registration
    /// (typed as its schema says; every required one of them must be given).
    fields: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Registration {
    /// The new account's id (under the protected policy an existing email gets an id that
    /// leads nowhere).
    user_id: Uuid,
    /// `active`, or `activation_required` / `pending_approval` per the flock's settings.
    status: StatusWire,
}

#[derive(ApiResponse)]
enum RegisterResponse {
    /// Registered. Under the protected enumeration policy an existing email gets this
    /// same answer (and its owner a notice mail).
    #[oai(status = 201)]
    Created(Json<Registration>),
}

#[derive(Object)]
#[oai(deny_unknown_fields, example, skip_serializing_if_is_none)]
struct SignInRequest {
    /// Email of the account (or give `phone`).
    #[oai(validator(max_length = 320))]
    email: Option<String>,
    /// Phone number of the account in E.164 (or give `email`).
    #[oai(validator(max_length = 32))]
    phone: Option<String>,
    #[oai(validator(max_length = 256, pattern = r"^[^\u0000]*$"))]
    password: String,
    /// Where the sign-in comes from (an app name), kept with the session.
    #[oai(validator(max_length = 100))]
    source: Option<String>,
    /// A device token (`POST …/device-tokens`): the new session is paired with the
    /// device, so signing out with the device token ends it. An unknown token is 400.
    #[oai(validator(max_length = 256))]
    device_token: Option<String>,
    /// An anonymous visitor's token (`POST …/visitor-tokens`): the visitor is attached to
    /// the signed-in user.
    #[oai(validator(max_length = 256))]
    visitor_token: Option<String>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct PreregisterRequest {
    #[oai(validator(max_length = 320))]
    email: String,
    /// Send the activation mail (default true).
    send_activation: Option<bool>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct PreauthRequest {
    #[oai(validator(max_length = 320))]
    email: String,
    /// Send an activation mail to an account still waiting for activation (default true).
    send_mail: Option<bool>,
}

/// What preauth says about an email.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PreauthView {
    result: PreauthResult,
    /// Open policy only: the account's status.
    #[oai(skip_serializing_if_is_none)]
    status: Option<StatusWire>,
    /// Open policy only: the account's first name.
    #[oai(skip_serializing_if_is_none)]
    first_name: Option<String>,
}

/// Open policy: `exists`. Protected policy: always `accepted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum PreauthResult {
    Exists,
    Accepted,
}

/// `available` or `taken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum AvailabilityResult {
    Available,
    Taken,
}

#[derive(ApiResponse)]
enum PreauthResponse {
    #[oai(status = 200)]
    Ok(Json<PreauthView>),
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct AvailableRequest {
    #[oai(validator(max_length = 320))]
    email: String,
    /// Optionally, a password to check against the account.
    #[oai(validator(max_length = 256, pattern = r"^[^\u0000]*$"))]
    password: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AvailableView {
    /// Under the protected policy `taken` only when the given password is the account's.
    result: AvailabilityResult,
    /// Open policy, when a password was given: whether it is the account's.
    #[oai(skip_serializing_if_is_none)]
    password_valid: Option<bool>,
}

#[OpenApi(tag = "ApiTags::User")]
impl UserApi {
    /// Register an account with an email (or phone) and a password.
    #[oai(
        path = "/api/v1/:flock/user/register",
        method = "post",
        operation_id = "register"
    )]
    async fn register(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<RegisterRequest>,
    ) -> ApiResult<RegisterResponse> {
        let b = body.0;
        let r = self
            .users
            .register(
                &flock,
                RegisterInput {
                    email: b.email,
                    phone: b.phone,
                    password: b.password.map(SecretString::from),
                    terms_accepted: b.terms_accepted,
                    first_name: b.first_name,
                    last_name: b.last_name,
                    locale: b.locale,
                    opt_outs: b.opt_outs,
                    fields: b.fields.unwrap_or_default(),
                },
            )
            .await?;
        Ok(RegisterResponse::Created(Json(Registration {
            user_id: r.user_id.0,
            status: r.status.into(),
        })))
    }

    /// Sign in with email (or phone) and password; returns a session for this flock.
    #[oai(
        path = "/api/v1/:flock/user/auth",
        method = "post",
        operation_id = "sign_in"
    )]
    async fn sign_in(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        /// The client's user agent, kept with the session.
        #[oai(name = "User-Agent")]
        client: Client,
        body: Json<SignInRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let b = body.0;
        let id = Identifier::one_of(b.email.as_deref(), b.phone.as_deref())?;
        let opts = SignInOptions {
            meta: client.meta(b.source),
            device_token: b.device_token,
            visitor_token: b.visitor_token,
            provider: None,
            method: None,
        };
        let s = self
            .signin
            .password(&flock, id, SecretString::from(b.password), opts)
            .await?;
        Ok(Json(SessionView::new(s)))
    }

    /// Sign out: ends this session at once.
    #[oai(
        path = "/api/v1/:flock/user/auth",
        method = "delete",
        operation_id = "sign_out"
    )]
    async fn sign_out(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<Ack>> {
        let c = auth.0;
        self.sessions.end(flock.id, c.user, c.session).await?;
        Ok(Ack::ok())
    }

    /// Preregister an account from an email alone. Returns a limited session (it may read
    /// and update its own profile, nothing else) and sends an activation mail unless
    /// `send_activation` is false. An email that already has an account answers 409
    /// whatever the enumeration policy (a session cannot be handed out for it).
    #[oai(
        path = "/api/v1/:flock/user/preregister",
        method = "post",
        operation_id = "preregister"
    )]
    async fn preregister(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        /// The client's user agent, kept with the session.
        #[oai(name = "User-Agent")]
        client: Client,
        body: Json<PreregisterRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let b = body.0;
        let input = PreregisterInput {
            email: b.email,
            send_activation: b.send_activation.unwrap_or(true),
        };
        let opts = SignInOptions {
            meta: client.meta(None),
            ..SignInOptions::default()
        };
        let s = self.signin.preregister(&flock, input, opts).await?;
        Ok(Json(SessionView::new(s)))
    }

    /// Whether an account exists for an email and, where it makes sense, send it an
    /// activation mail. Open policy: 404 for an unknown account. Protected policy: always
    /// the same answer.
    #[oai(
        path = "/api/v1/:flock/user/preauth",
        method = "post",
        operation_id = "preauth"
    )]
    async fn preauth(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<PreauthRequest>,
    ) -> ApiResult<PreauthResponse> {
        let b = body.0;
        let r = self
            .users
            .preauth(&flock, &b.email, b.send_mail.unwrap_or(true))
            .await?;
        let view = match r {
            Preauth::Accepted => PreauthView {
                result: PreauthResult::Accepted,
                status: None,
                first_name: None,
            },
            Preauth::Exists { status, first_name } => PreauthView {
                result: PreauthResult::Exists,
                status: Some(status.into()),
                first_name,
            },
            Preauth::Unknown => {
                return Err(ApiError::not_found(
                    "user_not_found",
                    "no account with this email",
                ))
            }
        };
        Ok(PreauthResponse::Ok(Json(view)))
    }

    /// Whether an email can register (`available` / `taken`), optionally checking a
    /// password, per the flock's enumeration policy.
    #[oai(
        path = "/api/v1/:flock/user/available",
        method = "post",
        operation_id = "check_email_available"
    )]
    async fn available(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<AvailableRequest>,
    ) -> ApiResult<Json<AvailableView>> {
        let b = body.0;
        let (a, password_valid) = self
            .users
            .availability(&flock, &b.email, b.password.map(SecretString::from))
            .await?;
        Ok(Json(AvailableView {
            result: match a {
                Availability::Available => AvailabilityResult::Available,
                Availability::Taken => AvailabilityResult::Taken,
            },
            password_valid,
        }))
    }
}

impl poem_openapi::types::Example for RegisterRequest {
    fn example() -> Self {
        Self {
            email: Some("new.user@example.com".into()),
            phone: None,
            password: Some("correct horse battery staple".into()),
            terms_accepted: true,
            first_name: Some("Ann".into()),
            last_name: None,
            locale: Some("en".into()),
            opt_outs: None,
            fields: None,
        }
    }
}

impl poem_openapi::types::Example for SignInRequest {
    fn example() -> Self {
        Self {
            email: Some("ann@example.com".into()),
            phone: None,
            password: "correct horse battery staple".into(),
            source: Some("web".into()),
            device_token: None,
            visitor_token: None,
        }
    }
}
