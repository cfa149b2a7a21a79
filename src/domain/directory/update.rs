//! Changing users from the back office: fields (PATCH), status, confirmation, the
//! email's validity, role and access, claim links.
use super::DirectoryService;
use crate::db::directory::{Lookup, UserUpdate};
use crate::db::DbError;
use crate::domain::flocks::Flock;
use crate::domain::user::{fields, Email, Kind, Phone, Role, User, UserError, UserStatus};
use crate::domain::Invalid;
use crate::ids::UserId;
use secrecy::SecretString;
use std::collections::BTreeMap;

/// Fields to change. Absent (`None`) keeps a field; `Some(None)` clears it.
#[derive(Default)]
pub struct UserPatch {
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    /// A new password (the flock's policy applies); every session of the user ends.
    pub password: Option<SecretString>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub locale: Option<Option<String>>,
    pub opt_outs: Option<BTreeMap<String, bool>>,
    pub source: Option<Option<String>>,
    pub referer: Option<Option<String>>,
    pub note: Option<Option<String>>,
    pub external_id: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub picture_url: Option<Option<String>>,
    pub kind: Option<Kind>,
    pub registration_number: Option<Option<String>>,
    pub vat_number: Option<Option<String>>,
    pub business_id: Option<Option<UserId>>,
    /// Profile field values to set (null clears), all or nothing.
    pub fields: Option<BTreeMap<String, serde_json::Value>>,
}

/// Role and access flags to change (absent ones stay).
#[derive(Debug, Default, Clone, Copy)]
pub struct AccessChange {
    pub role: Option<Role>,
    pub bo_access: Option<bool>,
    pub api_access: Option<bool>,
}

/// Applies a field rule to a clearable field.
fn each<T>(
    v: Option<Option<String>>,
    rule: impl FnOnce(Option<String>) -> Result<Option<T>, Invalid>,
) -> Result<Option<Option<T>>, UserError> {
    match v {
        None => Ok(None),
        Some(inner) => rule(inner).map(Some).map_err(UserError::Invalid),
    }
}

impl DirectoryService {
    /// The user, if it may still change (an anonymised account may not).
    async fn changeable(&self, flock: &Flock, id: UserId) -> Result<User, UserError> {
        let user = self.get(flock, id).await?;
        if user.status == UserStatus::Deleted {
            return Err(UserError::Forbidden(
                "account_deleted",
                "this account was deleted (anonymised); it cannot change".into(),
            ));
        }
        Ok(user)
    }

    /// Checks every field of `p` by its rule, then writes them all at once (or nothing).
    pub async fn update(&self, flock: &Flock, id: UserId, p: UserPatch) -> Result<User, UserError> {
        let user = self.changeable(flock, id).await?;
        let profile = match &p.fields {
            Some(f) if !f.is_empty() => self.users.profile_edits(flock.id, f).await?,
            _ => Vec::new(),
        };
        let email = each(p.email, |v| {
            v.filter(|e| !e.trim().is_empty())
                .map(|e| Email::parse(&e).map(|e| e.as_str().to_owned()))
                .transpose()
        })?;
        let phone = each(p.phone, |v| {
            v.filter(|p| !p.trim().is_empty())
                .map(|p| Phone::parse(&p).map(|p| p.as_str().to_owned()))
                .transpose()
        })?;
        let mut u = UserUpdate {
            first_name: each(p.first_name, |v| {
                fields::optional_text(v, "first_name", 200)
            })?,
            last_name: each(p.last_name, |v| fields::optional_text(v, "last_name", 200))?,
            locale: each(p.locale, fields::validate_locale)?,
            opt_outs: match p.opt_outs {
                Some(o) => Some(fields::validate_opt_outs(Some(o)).map_err(UserError::Invalid)?),
                None => None,
            },
            source: each(p.source, |v| fields::optional_text(v, "source", 100))?,
            referer: each(p.referer, |v| fields::optional_text(v, "referer", 2048))?,
            note: each(p.note, |v| fields::multiline_text(v, "note", 2000))?,
            external_id: each(p.external_id, fields::external_id)?,
            username: each(p.username, fields::username)?,
            company: each(p.company, |v| fields::optional_text(v, "company", 200))?,
            picture_url: each(p.picture_url, |v| fields::web_url(v, "picture_url"))?,
            kind: p.kind.map(|k| k.as_str().to_owned()),
            registration_number: each(p.registration_number, |v| {
                fields::optional_text(v, "registration_number", 64)
            })?,
            vat_number: each(p.vat_number, |v| fields::optional_text(v, "vat_number", 64))?,
            business: p.business_id,
            email: email.clone(),
            phone: phone.clone(),
            ..UserUpdate::default()
        };
        // The result must still hold together.
        let merged = |new: &Option<Option<String>>, old: &Option<String>| match new {
            Some(v) => v.clone(),
            None => old.clone(),
        };
        let (m_email, m_phone) = (merged(&email, &user.email), merged(&phone, &user.phone));
        if m_email.is_none() && m_phone.is_none() && user.status != UserStatus::Unclaimed {
            return Err(UserError::Invalid(Invalid::new(
                "identifier_required",
                "email",
                "an account keeps an email or a phone number (only an unclaimed contact may have neither)",
            )));
        }
        let kind = p.kind.unwrap_or(user.directory.kind);
        let company = merged(&u.company, &user.directory.company);
        if kind == Kind::Business && company.is_none() {
            return Err(UserError::Invalid(Invalid::new(
                "company_required",
                "company",
                "a business contact needs its company name",
            )));
        }
        let business = match p.business_id {
            Some(b) => b,
            None => user.directory.business,
        };
        if let Some(b) = business {
            if kind == Kind::Business || b == id {
                return Err(UserError::Invalid(Invalid::new(
                    "invalid_business",
                    "business_id",
                    "only a person can belong to a business",
                )));
            }
            if p.business_id.is_some() {
                self.users_check_business(flock, b).await?;
            }
        }
        if let Some(password) = p.password {
            let first = merged(&u.first_name, &user.first_name);
            let last = merged(&u.last_name, &user.last_name);
            let personal: Vec<&str> = [&m_email, &m_phone, &first, &last]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            u.password_hash = Some(self.users.hash_for(flock, &personal, password).await?);
        }
        let password_changed = u.password_hash.is_some();
        self.apply(flock, id, u).await?;
        if !profile.is_empty() {
            let db = self.db.scoped(flock.id);
            db.profile_values_write(id, profile, self.clock.now())
                .await?;
        }
        if password_changed {
            // As after any password change: outstanding links void, every session ends.
            let now = self.clock.now();
            self.db.scoped(flock.id).tokens_void_all(id, now).await?;
            self.users.end_sessions(flock, id).await?;
        }
        self.get(flock, id).await
    }

    /// Writes `u`; a unique value another account holds answers its `…Taken` error.
    async fn apply(&self, flock: &Flock, id: UserId, u: UserUpdate) -> Result<(), UserError> {
        let db = self.db.scoped(flock.id);
        let checks = [
            (
                u.email.clone().flatten().map(Lookup::EmailLike),
                UserError::EmailTaken,
            ),
            (
                u.phone.clone().flatten().map(Lookup::Phone),
                UserError::PhoneTaken,
            ),
            (
                u.username.clone().flatten().map(Lookup::Username),
                UserError::Taken("username"),
            ),
            (
                u.external_id.clone().flatten().map(Lookup::ExternalId),
                UserError::Taken("external_id"),
            ),
        ];
        match db.user_apply(id, u, self.clock.now()).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(UserError::NotFound),
            Err(DbError::Conflict(_)) => {
                for (lookup, taken) in checks {
                    if let Some(l) = lookup {
                        if db.user_lookup(&l).await?.is_some_and(|r| r.id != id.0) {
                            return Err(taken);
                        }
                    }
                }
                Err(UserError::Taken("value"))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn users_check_business(&self, flock: &Flock, b: UserId) -> Result<(), UserError> {
        match self.users.get(flock.id, b).await {
            Ok(u) if u.directory.kind == Kind::Business => Ok(()),
            Ok(_) | Err(UserError::NotFound) => Err(UserError::Invalid(Invalid::new(
                "invalid_business",
                "business_id",
                "business_id must name a business contact of this flock",
            ))),
            Err(e) => Err(e),
        }
    }

    /// Moves the account along the transition table (approve, deactivate, reactivate,
    /// delete = anonymise); sessions end when the new status may not keep them.
    pub async fn set_status(
        &self,
        flock: &Flock,
        id: UserId,
        to: UserStatus,
    ) -> Result<User, UserError> {
        self.get(flock, id).await?;
        self.users.set_status(flock, id, to).await?;
        self.get(flock, id).await
    }

    /// Seed 000's confirmation: `confirmed_at` is set (once; a second call keeps it).
    pub async fn confirm(&self, flock: &Flock, id: UserId) -> Result<User, UserError> {
        let user = self.changeable(flock, id).await?;
        if user.confirmed_at.is_none() {
            let u = UserUpdate {
                confirmed_at: Some(Some(self.clock.now())),
                ..UserUpdate::default()
            };
            self.apply(flock, id, u).await?;
        }
        self.get(flock, id).await
    }

    /// Marks the email validated (verified, and mail to it flows again) or invalidated
    /// (mail to it stops; shown on the user).
    pub async fn set_email_valid(
        &self,
        flock: &Flock,
        id: UserId,
        valid: bool,
    ) -> Result<User, UserError> {
        let user = self.changeable(flock, id).await?;
        if user.email.is_none() {
            return Err(UserError::Invalid(Invalid::new(
                "no_email",
                "email",
                "the account has no email",
            )));
        }
        let u = if valid {
            UserUpdate {
                email_verified: Some(true),
                email_invalid_at: Some(None),
                ..UserUpdate::default()
            }
        } else {
            UserUpdate {
                email_invalid_at: Some(Some(user.email_invalid_at.unwrap_or(self.clock.now()))),
                ..UserUpdate::default()
            }
        };
        self.apply(flock, id, u).await?;
        self.get(flock, id).await
    }

    /// Sets the role and the access flags. Sessions carry the role: a changed role ends
    /// every session of the user, and so does turning `api_access` off.
    pub async fn set_access(
        &self,
        flock: &Flock,
        id: UserId,
        a: AccessChange,
    ) -> Result<User, UserError> {
        let user = self.changeable(flock, id).await?;
        if a.role == Some(Role::Limited) {
            return Err(UserError::Invalid(Invalid::new(
                "invalid_role",
                "role",
                "role is client or manager",
            )));
        }
        let u = UserUpdate {
            role: a.role.map(|r| r.as_str().to_owned()),
            bo_access: a.bo_access,
            api_access: a.api_access,
            ..UserUpdate::default()
        };
        self.apply(flock, id, u).await?;
        let now = self.get(flock, id).await?;
        if now.role != user.role || !now.may_keep_sessions() {
            self.users.end_sessions(flock, id).await?;
        }
        Ok(now)
    }

    /// Mails an unclaimed account's owner a link to choose a password and claim it.
    pub async fn send_claim_link(&self, flock: &Flock, id: UserId) -> Result<(), UserError> {
        let user = self.get(flock, id).await?;
        self.users.send_claim_link(flock, &user).await
    }
}
