//! The back office's view of the users table (`impl FlockDb`): lookups by any unique
//! field, updates of any column the back office may set, search with keyset pagination
//! (`search`), and batched inserts for seeding (`seed`). Rows and inserts of single users
//! are in `db::user`.
mod search;
mod seed;

pub use search::{After, Sort, UserQuery, PROBE_CAP};

use super::user::{name_key, UserRow};
use super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, QueryFilter};

/// A unique field a user can be looked up by (values already normalised).
#[derive(Debug, Clone)]
pub enum Lookup {
    Email(String),
    /// An address that looks like this one (the same look-alike key).
    EmailLike(String),
    Phone(String),
    Username(String),
    ExternalId(String),
}

/// Columns to change on one user; `None` keeps a column, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub password_hash: Option<String>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub locale: Option<Option<String>>,
    pub opt_outs: Option<serde_json::Value>,
    pub source: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub picture_url: Option<Option<String>>,
    pub external_id: Option<Option<String>>,
    pub referer: Option<Option<String>>,
    pub note: Option<Option<String>>,
    pub kind: Option<String>,
    pub registration_number: Option<Option<String>>,
    pub vat_number: Option<Option<String>>,
    pub business: Option<Option<UserId>>,
    pub role: Option<String>,
    pub bo_access: Option<bool>,
    pub api_access: Option<bool>,
    pub confirmed_at: Option<Option<DateTime<Utc>>>,
    pub email_verified: Option<bool>,
    pub email_invalid_at: Option<Option<DateTime<Utc>>>,
}

fn set<V: Into<sea_orm::Value>>(
    cols: &mut Vec<(user::Column, SimpleExpr)>,
    col: user::Column,
    v: Option<V>,
) {
    if let Some(v) = v {
        cols.push((col, Expr::value(v.into())));
    }
}

impl FlockDb<'_> {
    pub async fn user_lookup(&self, by: &Lookup) -> DbResult<Option<UserRow>> {
        let q = self.find::<user::Entity>();
        let q = match by {
            Lookup::Email(v) => q.filter(user::Column::Email.eq(v.as_str())),
            Lookup::EmailLike(v) => {
                q.filter(user::Column::EmailKey.eq(migration::lookalike::email_key(v.as_str())))
            }
            Lookup::Phone(v) => q.filter(user::Column::Phone.eq(v.as_str())),
            Lookup::Username(v) => q.filter(user::Column::Username.eq(v.as_str())),
            Lookup::ExternalId(v) => q.filter(user::Column::ExternalId.eq(v.as_str())),
        };
        Ok(q.one(&self.db.conn).await?)
    }

    /// Applies `u` to one user, in a transaction that also records `user.updated` (the
    /// names of the fields set), recomputes the name key and drops what a changed
    /// identifier had proven (a new email is not verified, nor
    /// marked invalid; a new phone is not verified). False when there is no such user.
    pub async fn user_apply(
        &self,
        id: UserId,
        u: UserUpdate,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let txn = self.db.write().await?;
        let Some(row) = self
            .find::<user::Entity>()
            .filter(user::Column::Id.eq(id.0))
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Ok(false);
        };
        let pick = |new: &Option<Option<String>>, old: &Option<String>| match new {
            Some(v) => v.clone(),
            None => old.clone(),
        };
        let key = name_key(
            u.kind.as_deref().unwrap_or(&row.kind),
            pick(&u.first_name, &row.first_name).as_deref(),
            pick(&u.last_name, &row.last_name).as_deref(),
            pick(&u.company, &row.company).as_deref(),
        );
        let mut cols = vec![(user::Column::NameKey, Expr::value(key))];
        // A manager made a client leaves their admin groups (a later promotion must not
        // bring old grants back silently).
        let demoted = row.role == "manager" && u.role.as_deref().is_some_and(|r| r != "manager");
        let mut u = u;
        if u.email.as_ref().is_some_and(|e| *e != row.email) {
            u.email_verified.get_or_insert(false);
            u.email_invalid_at.get_or_insert(None);
        }
        if u.phone.as_ref().is_some_and(|p| *p != row.phone) {
            cols.push((user::Column::PhoneVerified, Expr::value(false)));
        }
        if let Some(e) = &u.email {
            let key = e.as_deref().map(migration::lookalike::email_key);
            cols.push((user::Column::EmailKey, Expr::value(key)));
        }
        set(&mut cols, user::Column::Email, u.email);
        set(&mut cols, user::Column::Phone, u.phone);
        set(
            &mut cols,
            user::Column::PasswordHash,
            u.password_hash.map(Some),
        );
        set(&mut cols, user::Column::FirstName, u.first_name);
        set(&mut cols, user::Column::LastName, u.last_name);
        set(&mut cols, user::Column::Locale, u.locale);
        set(&mut cols, user::Column::OptOuts, u.opt_outs);
        set(&mut cols, user::Column::Source, u.source);
        set(&mut cols, user::Column::Username, u.username);
        set(&mut cols, user::Column::Company, u.company);
        set(&mut cols, user::Column::PictureUrl, u.picture_url);
        set(&mut cols, user::Column::ExternalId, u.external_id);
        set(&mut cols, user::Column::Referer, u.referer);
        set(&mut cols, user::Column::Note, u.note);
        set(&mut cols, user::Column::Kind, u.kind);
        set(
            &mut cols,
            user::Column::RegistrationNumber,
            u.registration_number,
        );
        set(&mut cols, user::Column::VatNumber, u.vat_number);
        set(
            &mut cols,
            user::Column::BusinessId,
            u.business.map(|b| b.map(|b| b.0)),
        );
        set(&mut cols, user::Column::Role, u.role);
        set(&mut cols, user::Column::BoAccess, u.bo_access);
        set(&mut cols, user::Column::ApiAccess, u.api_access);
        set(&mut cols, user::Column::ConfirmedAt, u.confirmed_at);
        set(&mut cols, user::Column::EmailVerified, u.email_verified);
        set(&mut cols, user::Column::EmailInvalidAt, u.email_invalid_at);
        let fields: Vec<&'static str> = cols
            .iter()
            .map(|(c, _)| sea_orm::IdenStatic::as_str(c))
            .filter(|c| *c != "name_key")
            .map(|c| if c == "password_hash" { "password" } else { c })
            .collect();
        let mut events = Vec::new();
        if fields.contains(&"password") {
            events.push(super::webhooks::password_changed(id, "back_office", now));
        }
        if !fields.is_empty() {
            events.push(super::webhooks::user_updated(id, fields, now));
        }
        self.user_update_on(&txn, id, cols, now).await?;
        self.events_insert_on(&txn, events).await?;
        if demoted {
            self.delete::<entity::admin_member::Entity>()
                .filter(entity::admin_member::Column::UserId.eq(id.0))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        self.forget_user(id);
        Ok(true)
    }
}
