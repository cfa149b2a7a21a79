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

/// What a user may see about themselves beyond their account: public meta pairs and the
/// public profile values (`flock_data`).
#[derive(Debug, Clone, Default)]
pub struct PublicData {
    pub meta: std::collections::BTreeMap<String, String>,
    pub flock_data: std::collections::BTreeMap<String, serde_json::Value>,
    /// The user's files, with signed paths to their renditions.
    pub files: Vec<crate::domain::files::UserFile>,
}

impl From<crate::domain::profile::ProfileError> for UserError {
    fn from(e: crate::domain::profile::ProfileError) -> Self {
        use crate::domain::profile::ProfileError as P;
        match e {
            P::Invalid(i) => UserError::Invalid(i),
            P::Infra(i) => UserError::Infra(i),
            P::UserNotFound => UserError::NotFound,
            other => UserError::Infra(InfraError::Internal(other.to_string())),
        }
    }
}

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
    /// The flocks' profile schemas: a new account's field values are checked here.
    schemas: super::profile::Schemas,
    /// User files: listed in `GET /user`, erased with the account.
    files: Option<super::files::FileService>,
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
            schemas: super::profile::Schemas::new(db.clone()),
            db,
            clock,
            hasher,
            sessions,
            mail,
            uniform,
            throttle: None,
            files: None,
        }
    }

    /// The back office's edit of a user's profile values, checked (all or nothing).
    pub async fn profile_edits(
        &self,
        flock: FlockId,
        input: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<Vec<(String, Option<crate::db::profile::NewValue>)>, UserError> {
        Ok(self.schemas.back_office_edits(flock, input).await?)
    }

    /// Checks the profile values a sign-up gives (before a one-time code is spent): the
    /// same rules as at creation, but without asking for the required ones yet.
    pub async fn check_signup_fields(
        &self,
        flock: FlockId,
        input: &std::collections::BTreeMap<String, serde_json::Value>,
    ) -> Result<(), UserError> {
        use super::profile::Viewer;
        self.schemas
            .account_values(flock, input, Viewer::User, false)
            .await?;
        Ok(())
    }

    /// The search key of `raw` for the searchable profile field `field` (None when no
    /// value of the field could equal it); a field that is unknown or not searchable is
    /// a 400 naming `field`.
    pub async fn profile_search_key(
        &self,
        flock: FlockId,
        field: &str,
        raw: &str,
    ) -> Result<Option<String>, UserError> {
        let schema = self.schemas.get(flock).await?;
        match schema.field(field).filter(|f| f.searchable) {
            Some(f) => Ok(super::profile::values::search_key(f, raw)),
            None => Err(UserError::Invalid(Invalid::new(
                "field_not_searchable",
                "field",
                "no searchable profile field by this name",
            ))),
        }
    }

    /// Checks new accounts' profile values against `schemas` (shared with the profile
    /// service, so both see a schema change at once on this replica).
    pub fn with_schemas(mut self, schemas: super::profile::Schemas) -> Self {
        self.schemas = schemas;
        self
    }

    pub fn with_files(mut self, files: super::files::FileService) -> Self {
        self.files = Some(files);
        self
    }

    /// Deletes the user's file bytes (erasure, before the rows go).
    pub(super) async fn erase_files(&self, flock: FlockId, id: UserId) -> Result<(), UserError> {
        if let Some(f) = &self.files {
            f.erase(flock, id).await?;
        }
        Ok(())
    }

    /// After the rows went: bytes an upload stored while the erasure ran (its row was
    /// then refused, or deleted with the others). Best effort: the erasure is done.
    pub(super) async fn sweep_files(&self, flock: FlockId, id: UserId) {
        if let Some(f) = &self.files {
            if let Err(e) = f.erase(flock, id).await {
                tracing::warn!(error = %e, "sweeping an erased user's files failed");
            }
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

    /// The user and their public data: what `GET /user` shows.
    pub async fn profile(
        &self,
        flock: &Flock,
        id: UserId,
    ) -> Result<(User, PublicData), UserError> {
        let user = self.get(flock.id, id).await?;
        Ok((user, self.public_data(flock, id).await?))
    }

    /// The user's public meta and public profile values, through the short-lived caches:
    /// what the sign-in answer and `GET /user` show.
    pub async fn public_data(&self, flock: &Flock, id: UserId) -> Result<PublicData, UserError> {
        let db = self.scoped(flock.id);
        let files = match &self.files {
            Some(f) => f.list_cached(flock, id).await.map_err(InfraError::from)?,
            None => Vec::new(),
        };
        Ok(PublicData {
            meta: db.public_meta_cached(id).await?.into_iter().collect(),
            flock_data: db.public_profile_cached(id).await?.into_iter().collect(),
            files,
        })
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

    /// Records a granted session: `last_sign_in_at` and the `user.signed_in` event (the
    /// user is the actor; the method is its detail), in one transaction. A failure is
    /// logged: the session is open already.
    pub async fn record_sign_in(
        &self,
        flock: &Flock,
        user: UserId,
        session: uuid::Uuid,
        method: &str,
        provider: Option<&str>,
    ) {
        let now = self.clock.now();
        let e = crate::db::webhooks::NewEvent {
            kind: "user.signed_in",
            data: serde_json::json!({
                "user_id": user.0, "session_id": session, "method": method, "provider": provider,
            }),
            at: now,
            user: Some(user.0),
            detail: Some(method.to_owned()),
            actor: Some(crate::infra::context::Caller::User(user.0).name()),
            audit_only: false,
        };
        if let Err(e) = self.scoped(flock.id).user_signed_in(user, e, now).await {
            tracing::warn!(error = %e, "user.signed_in not recorded");
        }
    }

    /// Records a refused sign-in (audit only): how (`method`), why (`reason`, the stable
    /// code of the answer) and, when the account is known, whose. Never the password or
    /// the code tried.
    pub async fn record_sign_in_failure(
        &self,
        flock: &Flock,
        user: Option<UserId>,
        method: &str,
        reason: &str,
    ) {
        let e = crate::db::webhooks::NewEvent {
            kind: "user.sign_in_failed",
            data: serde_json::json!({
                "user_id": user.map(|u| u.0), "method": method, "reason": reason,
            }),
            at: self.clock.now(),
            user: user.map(|u| u.0),
            detail: Some(reason.to_owned()),
            // The caller proved nothing: the actor is `anonymous` (the account is `user`).
            actor: None,
            audit_only: true,
        };
        if let Err(e) = self.scoped(flock.id).event_insert(e).await {
            tracing::warn!(error = %e, "user.sign_in_failed not recorded");
        }
    }

    /// Records `otp.locked` (audit only): a code died after its last wrong attempt. The
    /// account, when the identifier names one; never the code.
    pub async fn record_otp_locked(&self, flock: &Flock, contact: &Contact, purpose: &str) {
        let user = self
            .find(flock.id, contact)
            .await
            .ok()
            .flatten()
            .map(|u| u.id.0);
        let channel = match contact {
            Contact::Email(_) => "email",
            Contact::Phone(_) => "sms",
        };
        let e = crate::db::webhooks::NewEvent {
            kind: "otp.locked",
            data: serde_json::json!({
                "user_id": user, "channel": channel, "purpose": purpose,
                "reason": "attempts_exhausted",
            }),
            at: self.clock.now(),
            user,
            detail: Some("attempts_exhausted".to_owned()),
            audit_only: true,
            ..Default::default()
        };
        if let Err(e) = self.scoped(flock.id).event_insert(e).await {
            tracing::warn!(error = %e, "otp.locked not recorded");
        }
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
