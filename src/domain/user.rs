//! Users: registration, password sign-in and the current user (the first slice; the full
//! lifecycle builds on this).
use super::flock::{EnumerationPolicy, Flock};
use super::password::{check_policy, HashError, Hasher};
use super::session::{SessionGrant, SessionMeta, SessionService};
use super::{InfraError, Invalid};
use crate::db::{Db, DbError};
use crate::ids::{FlockId, UserId};
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

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
    NotActive,
    #[error("user not found")]
    NotFound,
    #[error("too many password checks in progress")]
    Busy,
    // --- feat/otp: password sign-in throttle ---
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

pub struct RegisterInput {
    pub email: String,
    pub password: SecretString,
    pub terms_accepted: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
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

fn optional_text(
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

fn validate_locale(v: Option<String>) -> Result<Option<String>, Invalid> {
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

#[derive(Clone)]
pub struct UserService {
    db: Db,
    clock: Clock,
    hasher: Hasher,
    sessions: SessionService,
    // --- feat/otp: password sign-in throttle (set by `with_throttle`) ---
    throttle: Option<super::limits::LoginThrottle>,
}

impl UserService {
    pub fn new(db: Db, clock: Clock, hasher: Hasher, sessions: SessionService) -> Self {
        Self {
            db,
            clock,
            hasher,
            sessions,
            throttle: None,
        }
    }

    // --- feat/otp: password sign-in throttle ---
    /// Throttles password sign-ins (per account, IP and flock; see `LoginThrottle`).
    pub fn with_throttle(mut self, throttle: super::limits::LoginThrottle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    pub async fn register(
        &self,
        flock: &Flock,
        input: RegisterInput,
    ) -> Result<Registered, UserError> {
        if !flock.settings.self_registration {
            return Err(UserError::RegistrationClosed);
        }
        let email = Email::parse(&input.email).map_err(UserError::Invalid)?;
        let first_name =
            optional_text(input.first_name, "first_name", 200).map_err(UserError::Invalid)?;
        let last_name =
            optional_text(input.last_name, "last_name", 200).map_err(UserError::Invalid)?;
        let locale = validate_locale(input.locale).map_err(UserError::Invalid)?;
        if !input.terms_accepted {
            return Err(UserError::Invalid(Invalid::new(
                "terms_not_accepted",
                "terms_accepted",
                "the terms must be accepted",
            )));
        }
        let personal: Vec<&str> = [
            Some(email.as_str()),
            first_name.as_deref(),
            last_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        check_policy(
            input.password.expose_secret(),
            flock.settings.password_min_length,
            &personal,
        )
        .map_err(UserError::Invalid)?;

        let status = if flock.settings.require_activation {
            UserStatus::ActivationRequired
        } else if flock.settings.require_approval {
            UserStatus::PendingApproval
        } else {
            UserStatus::Active
        };
        // Hash before looking the email up, so both outcomes cost the same.
        let hash = self.hasher.hash(input.password).await?;
        let now = self.clock.now();
        let id = UserId::new();
        let row = entity::user::Model {
            id: id.0,
            flock_id: flock.id.0,
            email: Some(email.as_str().to_owned()),
            phone: None,
            password_hash: Some(hash),
            status: status.as_str().to_owned(),
            role: "client".to_owned(),
            first_name,
            last_name,
            locale,
            email_verified: false,
            phone_verified: false,
            opt_outs: serde_json::json!({}),
            terms_accepted_at: Some(now),
            source: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        match self.db.user_insert(row).await {
            Ok(()) => Ok(Registered {
                user_id: id,
                status,
            }),
            Err(DbError::Conflict(_)) => match flock.settings.enumeration {
                EnumerationPolicy::Open => Err(UserError::EmailTaken),
                // Same answer as for a new account; the id leads nowhere.
                EnumerationPolicy::Protected => Ok(Registered {
                    user_id: UserId::new(),
                    status,
                }),
            },
            Err(e) => Err(e.into()),
        }
    }

    pub async fn login(
        &self,
        flock: &Flock,
        email: &str,
        password: SecretString,
        meta: SessionMeta,
    ) -> Result<SignedIn, UserError> {
        // A malformed email is just an unknown account: same cost, same answer.
        let row = match Email::parse(email) {
            Ok(e) => self.db.user_by_email(flock.id, e.as_str()).await?,
            Err(_) => None,
        };
        let stored = row.as_ref().and_then(|r| r.password_hash.clone());
        // --- feat/otp: password sign-in throttle (begin) ---
        // Reserve the attempt before the password is checked (keyed by the normalised
        // email, known or not, so the answer does not reveal the account).
        let attempt = match &self.throttle {
            Some(t) => {
                let account = email.trim().to_lowercase();
                match t.begin(flock.id, &account, meta.ip.as_deref()).await? {
                    Ok(a) => Some((t, a)),
                    Err(retry) => return Err(UserError::Throttled(retry)),
                }
            }
            None => None,
        };
        let verified = self.hasher.verify(password.clone(), stored).await;
        if let Some((t, a)) = attempt {
            match &verified {
                Ok(v) => t.finish(a, row.is_some() && v.ok).await?,
                // Never checked (hash pool busy): not a failure.
                Err(_) => t.cancel(a).await?,
            }
        }
        let verified = verified?;
        // --- feat/otp: password sign-in throttle (end) ---
        let (Some(row), true) = (row, verified.ok) else {
            return Err(UserError::InvalidCredentials);
        };
        let user = User::from(row);
        if user.status != UserStatus::Active {
            return Err(UserError::NotActive);
        }
        if verified.needs_rehash {
            let hash = self.hasher.hash(password).await?;
            self.db
                .user_set_password_hash(flock.id, user.id, &hash, self.clock.now())
                .await?;
        }
        let grant = self.sessions.open(flock, user.id, &user.role, meta).await?;
        Ok(SignedIn { user, grant })
    }

    pub async fn get(&self, flock: FlockId, id: UserId) -> Result<User, UserError> {
        let row = self
            .db
            .user_by_id(flock, id)
            .await?
            .ok_or(UserError::NotFound)?;
        Ok(row.into())
    }
}
