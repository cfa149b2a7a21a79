//! Users: the self-service lifecycle. This file holds the types, the statuses and their
//! transition table, identifier rules and the service; each flow lives in its own file.
mod activation;
pub mod login;
mod password;
mod profile;
mod register;

pub use activation::Activated;
pub use login::{Availability, Preauth};
pub use profile::{Export, ProfilePatch};
pub use register::{PreregisterInput, RegisterInput};

use super::flock::Flock;
use super::mail::MailComposer;
use super::password::{HashError, Hasher};
use super::session::{SessionGrant, SessionService};
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

impl From<super::tokens::TokenError> for UserError {
    fn from(e: super::tokens::TokenError) -> Self {
        match e {
            super::tokens::TokenError::Invalid => UserError::InvalidCredentials,
            super::tokens::TokenError::Infra(i) => UserError::Infra(i),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Preregistered,
    ActivationRequired,
    PendingApproval,
    Active,
    Inactive,
    Deleted,
    Unclaimed,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Preregistered => "preregistered",
            UserStatus::ActivationRequired => "activation_required",
            UserStatus::PendingApproval => "pending_approval",
            UserStatus::Active => "active",
            UserStatus::Inactive => "inactive",
            UserStatus::Deleted => "deleted",
            UserStatus::Unclaimed => "unclaimed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "preregistered" => UserStatus::Preregistered,
            "activation_required" => UserStatus::ActivationRequired,
            "pending_approval" => UserStatus::PendingApproval,
            "active" => UserStatus::Active,
            "inactive" => UserStatus::Inactive,
            "deleted" => UserStatus::Deleted,
            "unclaimed" => UserStatus::Unclaimed,
            _ => return None,
        })
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
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// An email address, trimmed and lowercased, with a plausible shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let e = raw.trim().to_lowercase();
        let bad = || Invalid::new("invalid_email", "email", "email must be a valid address");
        if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(bad());
        }
        Ok(Self(e))
    }

    pub fn as_str(&self) -> &str {
        &self.0
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

pub(crate) fn optional_text(
    v: Option<String>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, Invalid> {
    match v.map(|s| s.trim().to_owned()) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => Err(Invalid::new(
            "invalid_field",
            field,
            format!("{field} must be at most {max} printable characters"),
        )),
        Some(s) => Ok(Some(s)),
    }
}

pub(crate) fn validate_locale(v: Option<String>) -> Result<Option<String>, Invalid> {
    let v = optional_text(v, "locale", 35)?;
    if let Some(l) = &v {
        let ok = l
            .split(['-', '_'])
            .all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok {
            return Err(Invalid::new(
                "invalid_locale",
                "locale",
                "locale must be a language tag such as en or fr-CA",
            ));
        }
    }
    Ok(v)
}

/// A phone number in E.164: `+` then 8 to 15 digits (spaces, dots, dashes and brackets
/// are dropped first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let p: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = p.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len())
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(Invalid::new(
                "invalid_phone",
                "phone",
                "phone must be in international format, e.g. +447700900123",
            ));
        }
        Ok(Self(p))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl UserStatus {
    /// The transition table: every status change an account may make. Anything not
    /// listed is refused.
    pub fn can_become(self, to: UserStatus) -> bool {
        use UserStatus::*;
        matches!(
            (self, to),
            (
                Preregistered,
                ActivationRequired | PendingApproval | Active | Inactive | Deleted
            ) | (
                ActivationRequired,
                PendingApproval | Active | Inactive | Deleted
            ) | (PendingApproval, Active | Inactive | Deleted)
                | (Active, Inactive | Deleted)
                | (Inactive, Active | Deleted)
                | (Unclaimed, PendingApproval | Active | Inactive | Deleted)
        )
    }

    /// Whether a password sign-in may open a full session.
    pub fn may_sign_in(self) -> bool {
        self == UserStatus::Active
    }

    /// Whether a mail that proves ownership of the address (activation, reset) may move
    /// the account on, and to what.
    pub fn after_proof(self, flock: &Flock) -> Option<UserStatus> {
        use UserStatus::*;
        let target = if flock.settings.require_approval {
            PendingApproval
        } else {
            Active
        };
        match self {
            Preregistered | ActivationRequired | Unclaimed if self.can_become(target) => {
                Some(target)
            }
            _ => None,
        }
    }

    pub const ALL: [UserStatus; 7] = [
        UserStatus::Preregistered,
        UserStatus::ActivationRequired,
        UserStatus::PendingApproval,
        UserStatus::Active,
        UserStatus::Inactive,
        UserStatus::Deleted,
        UserStatus::Unclaimed,
    ];
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
        if flock.settings.enumeration == super::flock::EnumerationPolicy::Protected {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_table_allows_exactly_the_listed_edges() {
        use UserStatus::*;
        let allowed: &[(UserStatus, UserStatus)] = &[
            (Preregistered, ActivationRequired),
            (Preregistered, PendingApproval),
            (Preregistered, Active),
            (Preregistered, Inactive),
            (Preregistered, Deleted),
            (ActivationRequired, PendingApproval),
            (ActivationRequired, Active),
            (ActivationRequired, Inactive),
            (ActivationRequired, Deleted),
            (PendingApproval, Active),
            (PendingApproval, Inactive),
            (PendingApproval, Deleted),
            (Active, Inactive),
            (Active, Deleted),
            (Inactive, Active),
            (Inactive, Deleted),
            (Unclaimed, PendingApproval),
            (Unclaimed, Active),
            (Unclaimed, Inactive),
            (Unclaimed, Deleted),
        ];
        let mut checked = 0;
        for from in UserStatus::ALL {
            for to in UserStatus::ALL {
                let want = allowed.contains(&(from, to));
                assert_eq!(from.can_become(to), want, "{from:?} -> {to:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 49);
        // Deleted is final; nothing becomes unclaimed or preregistered again.
        for to in UserStatus::ALL {
            assert!(!UserStatus::Deleted.can_become(to));
            assert!(!to.can_become(UserStatus::Unclaimed));
            assert!(!to.can_become(UserStatus::Preregistered));
        }
    }

    #[test]
    fn only_active_accounts_sign_in() {
        for s in UserStatus::ALL {
            assert_eq!(s.may_sign_in(), s == UserStatus::Active, "{s:?}");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in UserStatus::ALL {
            assert_eq!(UserStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(UserStatus::parse("banana"), None);
    }

    #[test]
    fn phones_must_be_e164() {
        assert_eq!(
            Phone::parse(" +44 7700 900-123 ").map(|p| p.0),
            Ok("+447700900123".into())
        );
        for bad in [
            "447700900123",
            "+4477",
            "+1234567890123456",
            "+44abc00900123",
            "+0123456789",
            "",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }
}
