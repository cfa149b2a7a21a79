//! Users: accounts and their lifecycle. The service's work, by file (each an
//! `impl UserService`):
//! - `create` — [`UserService::create_account`], the one place an account is made
//!   (registration, preregistration, one-time-code sign-up, and every later path);
//! - `register` — self-registration and preregistration (the enumeration policy around
//!   `create_account`);
//! - `activation` — mailed one-time secrets and activation;
//! - `login` — the password check (with its throttle), preauth, the availability check;
//! - `password` — reset by mail, change, set after a one-time code;
//! - `profile` — read, patch, status changes, erase (GDPR), export;
//! - `access` — roles and the account rules on sessions ([`User::session_role`]);
//! - `admin` — what the back office needs besides (policy-checked hashes, claim links);
//! - `fields`, `status` — field rules and the status transition table.
//!
//! Sessions are opened by `domain::signin`, never here; this area only ends them (password
//! change, reset, erasure, a status that may not keep them).
mod access;
mod activation;
mod admin;
mod create;
pub mod fields;
pub mod login;
mod password;
mod profile;
mod register;
mod status;

pub use access::{Admission, NotAdmitted, Role};

impl From<NotAdmitted> for UserError {
    fn from(n: NotAdmitted) -> Self {
        match n {
            NotAdmitted::Status(s) => UserError::NotActive(s),
            NotAdmitted::NoAppAccess => UserError::NoAppAccess,
        }
    }
}
pub use create::{FirstMail, NewAccount, Origin};
pub use fields::{AccountFields, Contact, DirectoryFields, Email, Kind, Phone};
pub use login::{Availability, Preauth};
pub use profile::{Export, ProfilePatch};
pub use register::{PreregisterInput, RegisterInput};
pub use status::UserStatus;

use super::flocks::Flock;
use super::mail::MailComposer;
use super::password::{HashError, Hasher};
use super::sessions::SessionService;
use super::{InfraError, Invalid};
use crate::db::user::UserRow;
use crate::db::{Db, DbError, FlockDb};
use crate::ids::{FlockId, UserId};
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};
use std::time::Duration as StdDuration;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Wrong email or password (deliberately vague).
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("self-registration is closed in this flock")]
    RegistrationClosed,
    #[error("account is not active")]
    NotActive(UserStatus),
    /// A back-office account only (`api_access` off): no app sessions.
    #[error("this account may not use the apps")]
    NoAppAccess,
    #[error("an account with this phone number already exists")]
    PhoneTaken,
    /// Another account of the flock holds this unique value (`username`, `external_id`).
    #[error("another account already has this {0}")]
    Taken(&'static str),
    /// An activation or reset token that is unknown, used, expired or superseded.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The account may not do this (the reason is for the user to read).
    #[error("{1}")]
    Forbidden(&'static str, String),
    #[error("user not found")]
    NotFound,
    #[error("too many password checks in progress")]
    Busy,
    /// Too many failed sign-ins; retry after the given delay.
    #[error("too many sign-in attempts")]
    Throttled(super::limits::RetryAfter),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<Invalid> for UserError {
    fn from(i: Invalid) -> Self {
        UserError::Invalid(i)
    }
}

impl From<DbError> for UserError {
    fn from(e: DbError) -> Self {
        UserError::Infra(e.into())
    }
}

impl From<crate::infra::kv::KvError> for UserError {
    fn from(e: crate::infra::kv::KvError) -> Self {
        UserError::Infra(e.into())
    }
}

impl From<HashError> for UserError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy => UserError::Busy,
            HashError::Internal(m) => UserError::Infra(InfraError::Internal(m)),
        }
    }
}

/// A user as the domain sees it (never the storage row).
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub flock: FlockId,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: UserStatus,
    pub role: Role,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub email_verified: bool,
    pub phone_verified: bool,
    /// The user's opt-outs (`{"email": true, …}`).
    pub opt_outs: serde_json::Value,
    pub directory: DirectoryFields,
    /// Where the account came from (`otp`, an app name, the back office's label).
    pub source: Option<String>,
    pub has_password: bool,
    /// Set by the back office's "confirm" (seed 000's `confirmed_at`).
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Mail to the email stopped then (the back office marked it invalid).
    pub email_invalid_at: Option<DateTime<Utc>>,
    /// When the account became a registered one; None while it waits to be claimed.
    pub registered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// A stored row of `flock` (the gateway it was read through filtered by it).
    pub(crate) fn from_row(flock: FlockId, r: UserRow) -> Self {
        Self {
            id: UserId(r.id),
            flock,
            email: r.email,
            phone: r.phone,
            status: UserStatus::parse(&r.status).unwrap_or(UserStatus::Inactive),
            role: Role::parse(&r.role)
                .filter(|r| *r != Role::Limited)
                .unwrap_or(Role::Client),
            first_name: r.first_name,
            last_name: r.last_name,
            locale: r.locale,
            email_verified: r.email_verified,
            phone_verified: r.phone_verified,
            opt_outs: r.opt_outs,
            directory: DirectoryFields {
                username: r.username,
                company: r.company,
                picture_url: r.picture_url,
                external_id: r.external_id,
                referer: r.referer,
                note: r.note,
                kind: fields::Kind::parse(&r.kind),
                registration_number: r.registration_number,
                vat_number: r.vat_number,
                business: r.business_id.map(UserId),
                bo_access: r.bo_access,
                api_access: r.api_access,
            },
            source: r.source,
            has_password: r.password_hash.is_some(),
            confirmed_at: r.confirmed_at,
            email_invalid_at: r.email_invalid_at,
            registered_at: r.registered_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// What registration tells the caller. Under the protected policy an existing email gets
/// the same answer as a new one (with an id that leads nowhere).
#[derive(Debug, Clone)]
pub struct Registered {
    pub user_id: UserId,
    pub status: UserStatus,
}

#[derive(Clone)]
pub struct UserService {
    db: Db,
    hasher: Hasher,
    mail: MailComposer,
    /// Only to end sessions (password change, reset, erasure, status changes).
    sessions: SessionService,
    clock: Clock,
    /// Under the protected policy, answers that could tell accounts apart take at least
    /// this long, so existing and unknown accounts cost the same.
    uniform: StdDuration,
    /// Password sign-in throttle (per account, IP and flock; KV-backed).
    throttle: Option<super::limits::LoginThrottle>,
}

impl UserService {
    pub fn new(
        db: Db,
        clock: Clock,
        hasher: Hasher,
        sessions: SessionService,
        mail: MailComposer,
        uniform: StdDuration,
    ) -> Self {
        Self {
            db,
            clock,
            hasher,
            sessions,
            mail,
            uniform,
            throttle: None,
        }
    }

    fn scoped(&self, flock: FlockId) -> FlockDb<'_> {
        self.db.scoped(flock)
    }

    /// Ends the password sign-in delay of `user`'s identifiers.
    pub(crate) async fn clear_throttle(&self, flock: &Flock, user: &User) -> Result<(), UserError> {
        let Some(t) = &self.throttle else {
            return Ok(());
        };
        let ids = [("email", &user.email), ("phone", &user.phone)];
        for (kind, value) in ids {
            if let Some(v) = value {
                t.clear(
                    flock.id,
                    &super::limits::LoginThrottle::account_key(kind, v),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Throttles password sign-in failures (see `domain::limits::LoginThrottle`).
    pub fn with_throttle(mut self, throttle: super::limits::LoginThrottle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// The user, through the short-lived user cache (writes through the db layer drop
    /// their entry at once). A deleted account is not found.
    pub async fn get(&self, flock: FlockId, id: UserId) -> Result<User, UserError> {
        let row = self.scoped(flock).user_cached(id).await?;
        alive(row.map(|r| User::from_row(flock, r)))
    }

    /// The user and their public meta: what `GET /user` shows.
    pub async fn profile(
        &self,
        flock: FlockId,
        id: UserId,
    ) -> Result<(User, std::collections::BTreeMap<String, String>), UserError> {
        let user = self.get(flock, id).await?;
        Ok((user, self.public_meta(flock, id).await?))
    }

    /// The user's public meta (key → value), through the short-lived cache: what the
    /// sign-in answer and `GET /user` show.
    pub async fn public_meta(
        &self,
        flock: FlockId,
        id: UserId,
    ) -> Result<std::collections::BTreeMap<String, String>, UserError> {
        let pairs = self.scoped(flock).public_meta_cached(id).await?;
        Ok(pairs.into_iter().collect())
    }

    /// The user as stored now (no cache): for decisions that must not lag a change made
    /// elsewhere (renewing a session). A deleted account is not found.
    pub async fn get_fresh(&self, flock: FlockId, id: UserId) -> Result<User, UserError> {
        let row = self.scoped(flock).user(id).await?;
        alive(row.map(|r| User::from_row(flock, r)))
    }

    /// The user read now (no cache), deleted or not.
    async fn fresh(&self, flock: FlockId, id: UserId) -> Result<User, UserError> {
        let row = self
            .scoped(flock)
            .user(id)
            .await?
            .ok_or(UserError::NotFound)?;
        Ok(User::from_row(flock, row))
    }

    /// The account an email or phone number belongs to, if any.
    pub async fn find(&self, flock: FlockId, contact: &Contact) -> Result<Option<User>, UserError> {
        let db = self.scoped(flock);
        let row = match contact {
            Contact::Email(e) => db.user_by_email(e.as_str()).await?,
            Contact::Phone(p) => db.user_by_phone(p.as_str()).await?,
        };
        Ok(row.map(|r| User::from_row(flock, r)))
    }

    /// Marks `contact` verified on the account (a one-time code proved it).
    pub async fn mark_verified(
        &self,
        flock: FlockId,
        id: UserId,
        contact: &Contact,
    ) -> Result<User, UserError> {
        let what = match contact {
            Contact::Email(_) => crate::db::user::Verified::Email,
            Contact::Phone(_) => crate::db::user::Verified::Phone,
        };
        self.scoped(flock)
            .user_mark_verified(id, what, self.clock.now())
            .await?;
        self.fresh(flock, id).await
    }

    /// Pads an answer to the uniform duration (protected policy), measured from `start`.
    async fn pad(&self, flock: &Flock, start: tokio::time::Instant) {
        if flock.settings.enumeration == super::flocks::EnumerationPolicy::Protected {
            tokio::time::sleep_until(start + self.uniform).await;
        }
    }
}

/// A user that exists and is not deleted, or `NotFound`.
fn alive(user: Option<User>) -> Result<User, UserError> {
    user.filter(|u| u.status != UserStatus::Deleted)
        .ok_or(UserError::NotFound)
}
