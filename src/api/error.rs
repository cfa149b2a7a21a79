//! The one error shape of the API, `{code, message, field?, request_id}`, and the single
//! place where domain errors become HTTP statuses. Causes are logged with the request id,
//! never sent.
use crate::db::DbError;
use crate::domain::addresses::AddressError;
use crate::domain::api_keys::KeyError;
use crate::domain::flocks::FlockError;
use crate::domain::groups::GroupError;
use crate::domain::meta::MetaError;
use crate::domain::profile::ProfileError;
use crate::domain::sessions::{Credential, SessionError};
use crate::domain::signin::SignInError;
use crate::domain::user::UserError;
use crate::domain::{InfraError, Invalid};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

tokio::task_local! {
    /// The id of the request being served (set by the request middleware).
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// Every error answer of the API.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid_email`, `flock_not_found`.
    pub code: String,
    /// A sentence a person can read.
    pub message: String,
    /// The request field at fault, when there is one (dotted path).
    #[oai(skip_serializing_if_is_none)]
    pub field: Option<String>,
    /// The id of this request, also in the `X-Request-Id` header; quote it in reports.
    pub request_id: String,
    /// More about the error, per field, where there is more to say (e.g. how many
    /// stored values block a schema change).
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<Box<Vec<ErrorDetail>>>,
}

/// One field's part of an error.
#[derive(Debug, Clone, Object)]
pub struct ErrorDetail {
    pub field: String,
    /// How many (values, rows) are concerned.
    #[oai(skip_serializing_if_is_none)]
    pub count: Option<u64>,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>, field: Option<&str>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            field: field.map(str::to_owned),
            request_id: current_request_id(),
            details: None,
        }
    }
}

#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed or a value breaks a rule; nothing was changed.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing or invalid credentials.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The credentials are valid but may not do this (or the flock is disabled).
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such flock or resource.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with existing data.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The request body is larger than the server accepts.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The request body's `Content-Type` is not one the operation accepts.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// Too many requests; retry after the given number of seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// An upstream provider (SMS, mail) refused or failed; nothing was charged.
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    /// An unexpected error; the request id identifies it in the logs.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A dependency (database, key-value store) is unavailable or the server is
    /// overloaded; retry later. Nothing was authorised or changed.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(code: &str, message: impl Into<String>, field: Option<&str>) -> Self {
        ApiError::BadRequest(Json(ErrorBody::new(code, message, field)))
    }
    pub fn unauthorized(code: &str, message: &str) -> Self {
        ApiError::Unauthorized(Json(ErrorBody::new(code, message, None)))
    }
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        ApiError::Forbidden(Json(ErrorBody::new(code, message, None)))
    }
    pub fn not_found(code: &str, message: &str) -> Self {
        ApiError::NotFound(Json(ErrorBody::new(code, message, None)))
    }
    pub fn conflict(code: &str, message: &str, field: Option<&str>) -> Self {
        ApiError::Conflict(Json(ErrorBody::new(code, message, field)))
    }
    pub fn unavailable(code: &str, message: &str) -> Self {
        ApiError::Unavailable(Json(ErrorBody::new(code, message, None)), 1)
    }
    pub fn internal() -> Self {
        ApiError::Internal(Json(ErrorBody::new(
            "internal_error",
            "an unexpected error occurred",
            None,
        )))
    }
}

impl From<Invalid> for ApiError {
    fn from(i: Invalid) -> Self {
        ApiError::bad_request(i.code, i.message, i.field.as_deref())
    }
}

impl From<InfraError> for ApiError {
    fn from(e: InfraError) -> Self {
        let request_id = current_request_id();
        match &e {
            InfraError::Db(DbError::Unavailable(_)) => {
                tracing::warn!(%request_id, error = %e, "database unavailable");
                ApiError::unavailable(
                    "database_unavailable",
                    "the database is unavailable; retry later",
                )
            }
            InfraError::Store(_) => {
                tracing::warn!(%request_id, error = %e, "file store unavailable");
                ApiError::unavailable(
                    "file_store_unavailable",
                    "the file store is unavailable; retry later",
                )
            }
            InfraError::Kv(_) => {
                tracing::warn!(%request_id, error = %e, "key-value store unavailable");
                ApiError::unavailable(
                    "kv_unavailable",
                    "the session store is unavailable; retry later",
                )
            }
            _ => {
                tracing::error!(%request_id, error = %e, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        InfraError::from(e).into()
    }
}

impl From<FlockError> for ApiError {
    fn from(e: FlockError) -> Self {
        match e {
            FlockError::NotFound => {
                ApiError::not_found("flock_not_found", "no flock with this slug")
            }
            FlockError::Disabled => ApiError::forbidden("flock_disabled", "this flock is disabled"),
            FlockError::SlugTaken => ApiError::conflict(
                "slug_taken",
                "a flock with this slug already exists",
                Some("slug"),
            ),
            FlockError::Invalid(i) => i.into(),
            FlockError::Infra(i) => i.into(),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid(i) => i.into(),
            UserError::EmailTaken => ApiError::conflict(
                "email_taken",
                "an account with this email already exists",
                Some("email"),
            ),
            UserError::InvalidCredentials => {
                ApiError::unauthorized("invalid_credentials", "invalid credentials")
            }
            UserError::RegistrationClosed => ApiError::forbidden(
                "registration_closed",
                "self-registration is closed in this flock",
            ),
            UserError::NotActive(status) => ApiError::forbidden(
                "account_not_active",
                format!("this account is not active (status: {})", status.as_str()),
            ),
            UserError::NoAppAccess => ApiError::forbidden(
                "app_access_denied",
                "this account may not use the apps (api_access is off)",
            ),
            UserError::PhoneTaken => ApiError::conflict(
                "phone_taken",
                "an account with this phone number already exists",
                Some("phone"),
            ),
            UserError::Taken(field) => ApiError::conflict(
                &format!("{field}_taken"),
                &format!("another account already has this {field}"),
                Some(field),
            ),
            UserError::InvalidToken => ApiError::bad_request(
                "invalid_token",
                "this link or token is invalid, used or expired; ask for a new one",
                Some("token"),
            ),
            UserError::Forbidden(code, message) => ApiError::forbidden(code, message),
            UserError::NotFound => ApiError::not_found("user_not_found", "no such user"),
            UserError::Busy => ApiError::unavailable(
                "server_busy",
                "too many sign-ins in progress; retry shortly",
            ),
            UserError::Throttled(r) => r.into(),
            UserError::Infra(i) => i.into(),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Invalid => ApiError::unauthorized("invalid_api_key", "invalid API key"),
            KeyError::Forbidden(op) => {
                ApiError::forbidden("scope_missing", format!("this API key may not call {op}"))
            }
            KeyError::OperationForbidden(op) => ApiError::forbidden(
                "forbidden_operation",
                format!("your admin groups do not grant {op}"),
            ),
            KeyError::Escalation => ApiError::forbidden(
                "scope_escalation",
                "a key cannot grant scopes it does not hold",
            ),
            KeyError::BadInput(i) => i.into(),
            KeyError::NotFound => ApiError::not_found("api_key_not_found", "no such API key"),
            KeyError::Infra(i) => i.into(),
        }
    }
}

impl From<crate::domain::limits::RetryAfter> for ApiError {
    fn from(r: crate::domain::limits::RetryAfter) -> Self {
        if r.code == "server_busy" {
            return ApiError::Unavailable(
                Json(ErrorBody::new(
                    r.code,
                    "too many sign-ins in progress; retry shortly",
                    None,
                )),
                r.secs,
            );
        }
        let message = match r.code {
            "otp_cooldown" => "a code was sent moments ago; wait before asking for another",
            "otp_too_many_failures" => "too many wrong codes for this identifier; retry later",
            "sms_budget_exhausted" => "this flock's SMS budget is spent for today",
            _ => "too many requests; retry later",
        };
        ApiError::TooManyRequests(Json(ErrorBody::new(r.code, message, None)), r.secs)
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::InvalidToken => {
                ApiError::unauthorized("invalid_token", "invalid or expired token")
            }
            SessionError::InvalidRefreshToken => ApiError::unauthorized(
                "invalid_refresh_token",
                "invalid, expired or reused refresh token",
            ),
            SessionError::InvalidCredential(c) => {
                let code = match c {
                    Credential::Device => "invalid_device_token",
                    Credential::Autologin => "invalid_autologin_token",
                    Credential::Visitor => "invalid_visitor_token",
                };
                ApiError::unauthorized(code, &format!("invalid or expired {}", c.name()))
            }
            SessionError::UnknownDevice => ApiError::bad_request(
                "invalid_device_token",
                "unknown or expired device token",
                Some("device_token"),
            ),
            SessionError::NotFound => ApiError::not_found("session_not_found", "no such session"),
            SessionError::Infra(i) => i.into(),
        }
    }
}

impl From<MetaError> for ApiError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::Invalid(i) => i.into(),
            MetaError::UserNotFound => ApiError::not_found("user_not_found", "no such user"),
            MetaError::NotFound => {
                ApiError::not_found("meta_not_found", "no such meta key on this user")
            }
            MetaError::TooManyKeys => ApiError::conflict(
                "too_many_meta_keys",
                "a user holds at most 100 meta keys; delete some first",
                Some("meta"),
            ),
            MetaError::Infra(i) => i.into(),
        }
    }
}

impl From<AddressError> for ApiError {
    fn from(e: AddressError) -> Self {
        match e {
            AddressError::Invalid(i) => i.into(),
            AddressError::UserNotFound => ApiError::not_found("user_not_found", "no such user"),
            AddressError::NotFound => {
                ApiError::not_found("address_not_found", "no such address of this user")
            }
            AddressError::ParentNotFound => ApiError::not_found(
                "parent_address_not_found",
                "the user has no address of this type (or id) to change; create it first",
            ),
            AddressError::RequestNotFound => {
                ApiError::not_found("request_not_found", "no such change request")
            }
            AddressError::AlreadyDecided => ApiError::conflict(
                "request_already_decided",
                "this change request was already accepted or rejected",
                None,
            ),
            AddressError::AddressGone => ApiError::conflict(
                "address_gone",
                "the address was deleted meanwhile; the request is rejected",
                None,
            ),
            AddressError::TooMany => ApiError::conflict(
                "too_many_addresses",
                "a user holds at most 20 addresses; delete one first",
                None,
            ),
            AddressError::Infra(i) => i.into(),
        }
    }
}

impl From<ProfileError> for ApiError {
    fn from(e: ProfileError) -> Self {
        match e {
            ProfileError::Invalid(i) => i.into(),
            ProfileError::VersionConflict(v) => ApiError::conflict(
                "schema_version_conflict",
                &format!("the schema is at version {v}: reload it and apply the change again"),
                Some("version"),
            ),
            ProfileError::Blocked(list) => {
                let summary: Vec<String> = list.iter().map(|(f, n)| format!("{f} ({n})")).collect();
                let mut body = ErrorBody::new(
                    "schema_change_blocked",
                    format!(
                        "stored values do not fit the new definitions: {}; change them, or \
                         send drop_invalid to delete them",
                        summary.join(", ")
                    ),
                    list.first().map(|(f, _)| format!("fields.{f}")).as_deref(),
                );
                body.details = Some(Box::new(
                    list.into_iter()
                        .map(|(field, n)| ErrorDetail {
                            field,
                            count: Some(n),
                        })
                        .collect(),
                ));
                ApiError::Conflict(Json(body))
            }
            ProfileError::FieldDefined => ApiError::conflict(
                "field_still_defined",
                "the schema still defines this field: remove it from the schema first",
                Some("name"),
            ),
            ProfileError::UserNotFound => ApiError::not_found("user_not_found", "no such user"),
            ProfileError::Infra(i) => i.into(),
        }
    }
}

impl From<GroupError> for ApiError {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::Invalid(i) => i.into(),
            GroupError::NotFound => ApiError::not_found("group_not_found", "no such group"),
            GroupError::UserNotFound => ApiError::not_found("user_not_found", "no such user"),
            GroupError::NameTaken => ApiError::conflict(
                "group_name_taken",
                "a group with this name already exists",
                Some("name"),
            ),
            GroupError::Infra(i) => i.into(),
        }
    }
}

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::User(e) => e.into(),
            SignInError::Otp(e) => e.into(),
            SignInError::Session(e) => e.into(),
        }
    }
}

impl From<crate::domain::files::FileError> for ApiError {
    fn from(e: crate::domain::files::FileError) -> Self {
        use crate::domain::files::FileError;
        match e {
            FileError::Invalid(i) => i.into(),
            FileError::UserNotFound => ApiError::not_found("user_not_found", "no such user"),
            FileError::NotFound => ApiError::not_found("file_not_found", "no such file"),
            FileError::TooMany { max } => ApiError::Conflict(Json(ErrorBody::new(
                "too_many_files",
                format!("a user holds at most {max} files in this flock"),
                Some("file"),
            ))),
            FileError::TooLarge { max } => ApiError::PayloadTooLarge(Json(ErrorBody::new(
                "file_too_large",
                format!("files are at most {max} bytes in this flock"),
                Some("file"),
            ))),
            FileError::TypeNotAllowed { sniffed } => ApiError::bad_request(
                "file_type_not_allowed",
                format!("this flock does not accept {sniffed} files"),
                Some("file"),
            ),
            FileError::Busy => ApiError::unavailable(
                "files_busy",
                "too many images are being processed; retry shortly",
            ),
            FileError::Store(s) => InfraError::Store(s).into(),
            FileError::Infra(i) => i.into(),
        }
    }
}

impl From<crate::domain::federation::FederationError> for ApiError {
    fn from(e: crate::domain::federation::FederationError) -> Self {
        use crate::domain::federation::FederationError as F;
        match e {
            F::Invalid(i) => i.into(),
            F::UnknownProvider => {
                ApiError::not_found("provider_not_found", "no such provider in this flock")
            }
            F::Rejected(code, m) => ApiError::Unauthorized(Json(ErrorBody::new(code, m, None))),
            F::Expired(code, m) => ApiError::bad_request(code, m, None),
            F::Conflict(code, m) => ApiError::Conflict(Json(ErrorBody::new(code, m, None))),
            F::Forbidden(code, m) => ApiError::forbidden(code, m),
            F::IdentityNotFound => ApiError::not_found("identity_not_found", "no such identity"),
            F::ProviderDown(m) => {
                tracing::warn!(cause = %m, "identity provider unavailable");
                ApiError::BadGateway(Json(ErrorBody::new(
                    "provider_unavailable",
                    "the identity provider could not be reached or answered garbage; retry later",
                    None,
                )))
            }
            F::SecretUnreadable => ApiError::unavailable(
                "provider_secret_unreadable",
                "the provider's stored secret cannot be opened (the sealing key changed); enter it again",
            ),
            F::User(u) => u.into(),
            F::SignIn(s) => s.into(),
            F::Infra(i) => i.into(),
        }
    }
}
