//! Users: the self-service lifecycle. This file holds the types and the service; the
//! statuses and their transition table are in `status`, the field rules in `fields`;
//! each flow lives in its own file.
mod activation;
mod fields;
pub mod login;
mod password;
mod profile;
mod register;
mod status;

pub use activation::Activated;
pub(crate) use fields::{optional_text, validate_locale};
pub use fields::{Email, Phone};
pub use login::{Availability, Preauth};
pub use profile::{Export, ProfilePatch};
pub use register::{PreregisterInput, RegisterInput};
pub use status::UserStatus;

use super::flocks::Flock;
use super::mail::MailComposer;
use super::password::{HashError, Hasher};
use super::sessions::{SessionGrant, SessionService};
use super::{InfraError, Invalid};
use crate::db::{Db, DbError};
use crate::ids::{FlockId, UserId};
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};
use std::time::Duration as StdDuration;

/// The session role that marks a preregistered account's limited session: it may read and
/// update its own profile and sign out, nothing else (enforced where sessions are checked).
pub const LIMITED_ROLE: &str = "preregistered";

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
    #[error("an account with this phone number already exists")]
    PhoneTaken,
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

impl From<super::sessions::access::TokenError> for UserError {
    fn from(e: super::sessions::access::TokenError) -> Self {
        match e {
            super::sessions::access::TokenError::Invalid => UserError::InvalidCredentials,
            super::sessions::access::TokenError::Infra(i) => UserError::Infra(i),
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
    pub role: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub email_verified: bool,
    pub phone_verified: bool,
    /// The user's opt-outs (`{"email": true, …}`).
    pub opt_outs: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::user::Model> for User {
    fn from(r: entity::user::Model) -> Self {
        Self {
            id: UserId(r.id),
            flock: FlockId(r.flock_id),
            email: r.email,
            phone: r.phone,
            status: UserStatus::parse(&r.status).unwrap_or(UserStatus::Inactive),
            role: r.role,
            first_name: r.first_name,
            last_name: r.last_name,
            locale: r.locale,
            email_verified: r.email_verified,
            phone_verified: r.phone_verified,
            opt_outs: r.opt_outs,
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

/// A signed-in user and the session opened for them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub grant: SessionGrant,
}

#[derive(Clone)]
pub struct UserService {
    db: Db,
    clock: Clock,
    hasher: Hasher,
    sessions: SessionService,
    mail: MailComposer,
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

    /// Ends the password sign-in delay of `user`'s identifiers.
    pub(crate) async fn clear_throttle(&self, flock: &Flock, user: &User) -> Result<(), UserError> {
        let Some(t) = &self.throttle else {
            return Ok(());
        };
        if let Some(e) = &user.email {
            t.clear(
                flock.id,
                &super::limits::LoginThrottle::account_key("email", e),
            )
            .await?;
        }
        if let Some(p) = &user.phone {
            t.clear(
                flock.id,
                &super::limits::LoginThrottle::account_key("phone", p),
            )
            .await?;
        }
        Ok(())
    }

    /// Throttles password sign-in failures (see `domain::limits::LoginThrottle`).
    pub fn with_throttle(mut self, throttle: super::limits::LoginThrottle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// The user, through the short-lived user cache (writes through the db layer drop
    /// their entry at once).
    pub async fn get(&self, flock: FlockId, id: UserId) -> Result<User, UserError> {
        let row = self
            .db
            .user_by_id_cached(flock, id)
            .await?
            .ok_or(UserError::NotFound)?;
        let user = User::from(row);
        if user.status == UserStatus::Deleted {
            return Err(UserError::NotFound);
        }
        Ok(user)
    }

    /// Pads an answer to the uniform duration (protected policy), measured from `start`.
    async fn pad(&self, flock: &Flock, start: tokio::time::Instant) {
        if flock.settings.enumeration == super::flocks::EnumerationPolicy::Protected {
            tokio::time::sleep_until(start + self.uniform).await;
        }
    }

    fn role_for_session(user: &User) -> &str {
        if user.status == UserStatus::Preregistered {
            LIMITED_ROLE
        } else {
            &user.role
        }
    }
}
