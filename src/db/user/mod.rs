//! Users of one flock (`impl FlockDb`). One-time secrets of users are in `tokens`.
use super::mail::NewMail;
use crate::db::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::{mail_outbox, user, user_token};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use tokens::NewToken;

pub mod tokens;

pub use entity::user::Model as UserRow;

/// A user about to be stored; the gateway adds the flock.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    /// Normalised (trimmed, lowercase).
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub status: String,
    pub role: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub email_verified: bool,
    pub phone_verified: bool,
    pub opt_outs: serde_json::Value,
    pub terms_accepted_at: Option<DateTime<Utc>>,
    pub source: Option<String>,
    pub directory: DirectoryRow,
    /// None while the account waits to be claimed.
    pub registered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Set only by seeding (a new account has not signed in yet).
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// The directory columns of a user, as the back office sets them.
#[derive(Debug, Clone, Default)]
pub struct DirectoryRow {
    pub username: Option<String>,
    pub company: Option<String>,
    pub picture_url: Option<String>,
    pub external_id: Option<String>,
    pub referer: Option<String>,
    pub note: Option<String>,
    /// `person` or `business`.
    pub kind: String,
    pub registration_number: Option<String>,
    pub vat_number: Option<String>,
    pub business: Option<UserId>,
    pub bo_access: bool,
    pub api_access: bool,
}

/// The name search and sort key: the lowercase company of a business, else the lowercase
/// "first last" (trimmed).
pub fn name_key(
    kind: &str,
    first: Option<&str>,
    last: Option<&str>,
    company: Option<&str>,
) -> String {
    let key = if kind == "business" {
        company.unwrap_or_default().to_owned()
    } else {
        format!("{} {}", first.unwrap_or_default(), last.unwrap_or_default())
    };
    key.trim().to_lowercase().chars().take(401).collect()
}

impl NewUser {
    pub(in crate::db) fn into_active(self) -> user::ActiveModel {
        let d = self.directory;
        let name_key = name_key(
            &d.kind,
            self.first_name.as_deref(),
            self.last_name.as_deref(),
            d.company.as_deref(),
        );
        let email_key = self.email.as_deref().map(migration::lookalike::email_key);
        user::ActiveModel {
            id: Set(self.id.0),
            email: Set(self.email),
            phone: Set(self.phone),
            password_hash: Set(self.password_hash),
            status: Set(self.status),
            role: Set(self.role),
            first_name: Set(self.first_name),
            last_name: Set(self.last_name),
            locale: Set(self.locale),
            email_verified: Set(self.email_verified),
            phone_verified: Set(self.phone_verified),
            opt_outs: Set(self.opt_outs),
            terms_accepted_at: Set(self.terms_accepted_at),
            source: Set(self.source),
            created_at: Set(self.created_at),
            updated_at: Set(self.created_at),
            deleted_at: Set(None),
            username: Set(d.username),
            company: Set(d.company),
            picture_url: Set(d.picture_url),
            external_id: Set(d.external_id),
            referer: Set(d.referer),
            note: Set(d.note),
            kind: Set(d.kind),
            registration_number: Set(d.registration_number),
            vat_number: Set(d.vat_number),
            business_id: Set(d.business.map(|b| b.0)),
            confirmed_at: Set(None),
            email_invalid_at: Set(None),
            bo_access: Set(d.bo_access),
            api_access: Set(d.api_access),
            name_key: Set(name_key),
            email_key: Set(email_key),
            registered_at: Set(self.registered_at),
            last_sign_in_at: Set(self.last_sign_in_at),
            ..Default::default()
        }
    }
}

/// The self-service profile fields, already validated.
pub struct ProfileFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub opt_outs: serde_json::Value,
}

/// Which identifier a proof verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Email,
    Phone,
}

impl FlockDb<'_> {
    pub async fn user(&self, id: UserId) -> DbResult<Option<UserRow>> {
        Ok(self
            .find::<user::Entity>()
            .filter(user::Column::Id.eq(id.0))
            .one(&self.db.conn)
            .await?)
    }

    /// Locks the user's row until `txn` ends (PostgreSQL `FOR UPDATE`; on SQLite the
    /// write transaction holds the database already), so writes to what a user holds
    /// (files, identities) and their erasure take turns; whether the account is live.
    pub(in crate::db) async fn lock_live_user(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        user: UserId,
    ) -> DbResult<bool> {
        let row = self
            .find::<user::Entity>()
            .filter(user::Column::Id.eq(user.0))
            .lock_exclusive()
            .one(txn)
            .await?;
        Ok(row.as_ref().is_some_and(is_live))
    }

    /// Whether `id` is an account of this flock that is not erased: one that may hold
    /// data (meta, groups, profile values, addresses, files).
    pub async fn user_is_live(&self, id: UserId) -> DbResult<bool> {
        Ok(self.user(id).await?.as_ref().is_some_and(is_live))
    }

    /// [`Self::user`] through the short-lived user cache (the hot path of `GET /user`).
    pub async fn user_cached(&self, id: UserId) -> DbResult<Option<UserRow>> {
        if let Some(row) = self.db.users.get(&(self.flock, id)) {
            return Ok(Some(row));
        }
        let row = self.user(id).await?;
        if let Some(r) = &row {
            self.db.users.insert((self.flock, id), r.clone());
        }
        Ok(row)
    }

    /// Drops the cached entries of a user (row, public meta and profile values, files)
    /// here and on every other replica; every write to a user calls it once committed.
    pub(crate) fn forget_user(&self, id: UserId) {
        self.db.forget_user_here(self.flock, id);
        self.db
            .announce
            .publish(crate::infra::invalidate::Topic::User(self.flock, id));
    }

    /// The account whose address looks like `email` (the same look-alike key), if any.
    pub async fn user_by_email_key(&self, email: &str) -> DbResult<Option<UserRow>> {
        let key = migration::lookalike::email_key(email);
        Ok(self
            .find::<user::Entity>()
            .filter(user::Column::EmailKey.eq(key))
            .one(&self.db.conn)
            .await?)
    }

    /// `email` must already be normalised (trimmed, lowercase).
    pub async fn user_by_email(&self, email: &str) -> DbResult<Option<UserRow>> {
        Ok(self
            .find::<user::Entity>()
            .filter(user::Column::Email.eq(email))
            .one(&self.db.conn)
            .await?)
    }

    /// `phone` must already be in E.164.
    pub async fn user_by_phone(&self, phone: &str) -> DbResult<Option<UserRow>> {
        Ok(self
            .find::<user::Entity>()
            .filter(user::Column::Phone.eq(phone))
            .one(&self.db.conn)
            .await?)
    }

    /// Inserts a user together with its one-time token and the mail carrying it, in one
    /// transaction: the account never exists without its activation mail queued.
    pub async fn user_insert(
        &self,
        row: NewUser,
        token: Option<NewToken>,
        mail: Option<NewMail>,
        values: Vec<super::profile::NewValue>,
        identity: Option<super::federation::NewIdentity>,
        events: Vec<super::webhooks::NewEvent>,
    ) -> DbResult<()> {
        let txn = self.db.write().await?;
        let (id, now) = (row.id, row.created_at);
        self.events_insert_on(&txn, events).await?;
        user::Entity::insert(self.own(row.into_active()))
            .exec(&txn)
            .await?;
        self.profile_values_insert_on(&txn, id, values, now).await?;
        if let Some(i) = identity {
            entity::identity::Entity::insert(self.own(i.into_active(id)))
                .exec(&txn)
                .await?;
        }
        if let Some(t) = token {
            user_token::Entity::insert(self.own(t.into_active()))
                .exec(&txn)
                .await?;
        }
        if let Some(m) = mail {
            mail_outbox::Entity::insert(self.own(m.into_active()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Sets `cols` (and `updated_at`) on one user of this flock, on `c`; how many rows
    /// changed. The caller drops the cached row once its transaction commits.
    pub(in crate::db) async fn user_update_on<C: ConnectionTrait>(
        &self,
        c: &C,
        id: UserId,
        cols: Vec<(user::Column, SimpleExpr)>,
        now: DateTime<Utc>,
    ) -> DbResult<u64> {
        let mut q = self
            .update::<user::Entity>()
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(id.0));
        for (col, v) in cols {
            q = q.col_expr(col, v);
        }
        Ok(q.exec(c).await?.rows_affected)
    }

    async fn user_update(
        &self,
        id: UserId,
        cols: Vec<(user::Column, SimpleExpr)>,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        self.user_update_on(&self.db.writer, id, cols, now).await?;
        self.forget_user(id);
        Ok(())
    }

    /// Sets `cols` and records `user.updated` naming `fields`, in one transaction
    /// (nothing is recorded when no field changed).
    async fn user_update_recorded(
        &self,
        id: UserId,
        cols: Vec<(user::Column, SimpleExpr)>,
        fields: Vec<&'static str>,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        if fields.is_empty() {
            return self.user_update(id, cols, now).await;
        }
        let txn = self.db.write().await?;
        self.user_update_on(&txn, id, cols, now).await?;
        let e = super::webhooks::user_updated(id, fields, now);
        self.events_insert_on(&txn, vec![e]).await?;
        txn.commit().await?;
        self.forget_user(id);
        Ok(())
    }

    /// A session was granted: `last_sign_in_at` moves on and `event` is recorded, in one
    /// transaction.
    pub async fn user_signed_in(
        &self,
        id: UserId,
        event: super::webhooks::NewEvent,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let txn = self.db.write().await?;
        self.update::<user::Entity>()
            .col_expr(user::Column::LastSignInAt, Expr::value(Some(now)))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await?;
        self.events_insert_on(&txn, vec![event]).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Replaces the password hash (used to upgrade weaker hashes at sign-in).
    pub async fn user_set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let cols = vec![(user::Column::PasswordHash, Expr::value(hash))];
        self.user_update(id, cols, now).await
    }

    /// Writes the self-service profile fields (names, locale, opt-outs) and nothing else.
    pub async fn user_update_profile(
        &self,
        id: UserId,
        p: ProfileFields,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let Some(row) = self.user(id).await? else {
            return Ok(());
        };
        let key = name_key(
            &row.kind,
            p.first_name.as_deref(),
            p.last_name.as_deref(),
            row.company.as_deref(),
        );
        let mut fields = Vec::new();
        for (name, changed) in [
            ("first_name", p.first_name != row.first_name),
            ("last_name", p.last_name != row.last_name),
            ("locale", p.locale != row.locale),
            ("opt_outs", p.opt_outs != row.opt_outs),
        ] {
            if changed {
                fields.push(name);
            }
        }
        let cols = vec![
            (user::Column::NameKey, Expr::value(key)),
            (user::Column::FirstName, Expr::value(p.first_name)),
            (user::Column::LastName, Expr::value(p.last_name)),
            (user::Column::Locale, Expr::value(p.locale)),
            (user::Column::OptOuts, Expr::value(p.opt_outs)),
        ];
        self.user_update_recorded(id, cols, fields, now).await
    }

    /// Sets the status and records `user.status_changed`, in one transaction.
    pub async fn user_set_status(
        &self,
        id: UserId,
        from: &str,
        status: &str,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let cols = vec![(user::Column::Status, Expr::value(status))];
        let txn = self.db.write().await?;
        self.user_update_on(&txn, id, cols, now).await?;
        let e = super::webhooks::status_changed(id, from, status, now);
        self.events_insert_on(&txn, vec![e]).await?;
        txn.commit().await?;
        self.forget_user(id);
        Ok(())
    }

    /// An unclaimed account claimed by its owner: its new status, registered now. False
    /// when it was no longer unclaimed (claimed in parallel).
    /// Records `user.registered` with the claim, in one transaction.
    pub async fn user_claim(&self, id: UserId, status: &str, now: DateTime<Utc>) -> DbResult<bool> {
        let txn = self.db.write().await?;
        let r = self
            .update::<user::Entity>()
            .col_expr(user::Column::Status, Expr::value(status))
            .col_expr(user::Column::RegisteredAt, Expr::value(Some(now)))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(id.0))
            .filter(user::Column::Status.eq("unclaimed"))
            .exec(&txn)
            .await?;
        if r.rows_affected == 1 {
            let e = super::webhooks::NewEvent {
                kind: "user.registered",
                data: serde_json::json!({"user_id": id.0, "status": status, "claimed": true}),
                at: now,
                user: Some(id.0),
                ..Default::default()
            };
            self.events_insert_on(&txn, vec![e]).await?;
        }
        txn.commit().await?;
        self.forget_user(id);
        Ok(r.rows_affected == 1)
    }

    /// `username` must already be normalised (lowercase).
    pub async fn user_by_username(&self, username: &str) -> DbResult<Option<UserRow>> {
        Ok(self
            .find::<user::Entity>()
            .filter(user::Column::Username.eq(username))
            .one(&self.db.conn)
            .await?)
    }

    /// Marks the user's email or phone verified.
    pub async fn user_mark_verified(
        &self,
        id: UserId,
        what: Verified,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let (col, field) = match what {
            Verified::Email => (user::Column::EmailVerified, "email_verified"),
            Verified::Phone => (user::Column::PhoneVerified, "phone_verified"),
        };
        self.user_update_recorded(id, vec![(col, Expr::value(true))], vec![field], now)
            .await
    }

    /// Sets a new password hash, voids every outstanding one-time token and records
    /// `user.password_changed` (`via`), in one transaction.
    pub async fn user_change_password(
        &self,
        id: UserId,
        hash: &str,
        via: &'static str,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let txn = self.db.write().await?;
        let cols = vec![(user::Column::PasswordHash, Expr::value(hash))];
        self.user_update_on(&txn, id, cols, now).await?;
        tokens::void(self, &txn, id, None, now).await?;
        let e = super::webhooks::password_changed(id, via, now);
        self.events_insert_on(&txn, vec![e]).await?;
        txn.commit().await?;
        self.forget_user(id);
        Ok(())
    }

    /// GDPR erasure: personal data cleared, status `deleted`, tokens, mail, meta, group
    /// memberships, profile values, addresses, address requests and file rows of the user
    /// removed, in one transaction (the file bytes are deleted from the store before). The
    /// row stays (ids in audit trails keep resolving).
    pub async fn user_anonymise(&self, id: UserId, now: DateTime<Utc>) -> DbResult<()> {
        let none = || Expr::value(Option::<String>::None);
        let cols = vec![
            (user::Column::Email, none()),
            (user::Column::EmailKey, none()),
            (user::Column::Phone, none()),
            (user::Column::PasswordHash, none()),
            (user::Column::FirstName, none()),
            (user::Column::LastName, none()),
            (user::Column::Locale, none()),
            (user::Column::Source, none()),
            (user::Column::OptOuts, Expr::value(serde_json::json!({}))),
            (user::Column::EmailVerified, Expr::value(false)),
            (user::Column::PhoneVerified, Expr::value(false)),
            (user::Column::Status, Expr::value("deleted")),
            (user::Column::DeletedAt, Expr::value(Some(now))),
            (user::Column::Username, none()),
            (user::Column::Company, none()),
            (user::Column::PictureUrl, none()),
            (user::Column::ExternalId, none()),
            (user::Column::Referer, none()),
            (user::Column::Note, none()),
            (user::Column::RegistrationNumber, none()),
            (user::Column::VatNumber, none()),
            (user::Column::NameKey, Expr::value("")),
        ];
        let txn = self.db.write().await?;
        self.user_update_on(&txn, id, cols, now).await?;
        let e = super::webhooks::NewEvent {
            kind: "user.deleted",
            data: serde_json::json!({"user_id": id.0}),
            at: now,
            user: Some(id.0),
            ..Default::default()
        };
        self.events_insert_on(&txn, vec![e]).await?;
        self.delete::<entity::user_meta::Entity>()
            .filter(entity::user_meta::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        self.delete::<entity::group_member::Entity>()
            .filter(entity::group_member::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        self.delete::<entity::profile_value::Entity>()
            .filter(entity::profile_value::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        self.delete::<entity::address_request::Entity>()
            .filter(entity::address_request::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        self.delete::<entity::address::Entity>()
            .filter(entity::address::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        self.delete::<entity::user_file::Entity>()
            .filter(entity::user_file::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        // The provider identities go: the same Google account may sign up again.
        self.delete::<entity::identity::Entity>()
            .filter(entity::identity::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        self.delete::<user_token::Entity>()
            .filter(user_token::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        self.delete::<mail_outbox::Entity>()
            .filter(mail_outbox::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.forget_user(id);
        Ok(())
    }
}

/// An account that is not erased (`deleted` means anonymised).
pub fn is_live(row: &UserRow) -> bool {
    row.status != "deleted"
}
