//! Users, always scoped by flock.
use crate::db::{Db, DbResult};

pub mod tokens;
use crate::ids::{FlockId, UserId};
use entity::user;
use entity::{mail_outbox, user_token};
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, TransactionTrait};

pub use entity::user::Model as UserRow;

/// The self-service profile fields, already validated.
pub struct ProfileFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub opt_outs: serde_json::Value,
}

impl Db {
    pub async fn user_insert(&self, row: user::Model) -> DbResult<()> {
        user::Entity::insert(row.into_active_model())
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    pub async fn user_by_id(&self, flock: FlockId, id: UserId) -> DbResult<Option<user::Model>> {
        Ok(user::Entity::find()
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Id.eq(id.0))
            .one(&self.conn)
            .await?)
    }

    /// `user_by_id` through the short-lived user cache (the hot path of `GET /user`).
    pub async fn user_by_id_cached(
        &self,
        flock: FlockId,
        id: UserId,
    ) -> DbResult<Option<user::Model>> {
        if let Some(row) = self.users.get(&(flock.0, id.0)) {
            return Ok(Some(row));
        }
        let row = self.user_by_id(flock, id).await?;
        if let Some(r) = &row {
            self.users.insert((flock.0, id.0), r.clone());
        }
        Ok(row)
    }

    /// Drops the cached row of a user; every write to a user calls it once committed.
    pub(crate) fn forget_user(&self, flock: FlockId, id: UserId) {
        self.users.invalidate(&(flock.0, id.0));
    }

    /// `email` must already be normalised (trimmed, lowercase).
    pub async fn user_by_email(
        &self,
        flock: FlockId,
        email: &str,
    ) -> DbResult<Option<user::Model>> {
        Ok(user::Entity::find()
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Email.eq(email))
            .one(&self.conn)
            .await?)
    }

    /// Replaces the password hash (used to upgrade weaker hashes at sign-in).
    pub async fn user_set_password_hash(
        &self,
        flock: FlockId,
        id: UserId,
        hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> DbResult<()> {
        use sea_orm::sea_query::Expr;
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(hash))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.conn)
            .await?;
        self.forget_user(flock, id);
        Ok(())
    }

    /// Inserts a user together with its one-time token and the mail carrying it, in one
    /// transaction: the account never exists without its activation mail queued.
    pub async fn user_insert_with_mail(
        &self,
        row: user::Model,
        token: Option<user_token::Model>,
        mail: Option<mail_outbox::Model>,
    ) -> DbResult<()> {
        let txn = self.conn.begin().await?;
        user::Entity::insert(row.into_active_model())
            .exec(&txn)
            .await?;
        if let Some(t) = token {
            user_token::Entity::insert(t.into_active_model())
                .exec(&txn)
                .await?;
        }
        if let Some(m) = mail {
            mail_outbox::Entity::insert(m.into_active_model())
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// `phone` must already be in E.164.
    pub async fn user_by_phone(
        &self,
        flock: FlockId,
        phone: &str,
    ) -> DbResult<Option<user::Model>> {
        Ok(user::Entity::find()
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Phone.eq(phone))
            .one(&self.conn)
            .await?)
    }

    /// Writes the self-service profile fields (names, locale, opt-outs) and nothing else.
    pub async fn user_update_profile(
        &self,
        flock: FlockId,
        id: UserId,
        p: ProfileFields,
        now: chrono::DateTime<chrono::Utc>,
    ) -> DbResult<()> {
        use sea_orm::sea_query::Expr;
        let ProfileFields {
            first_name,
            last_name,
            locale,
            opt_outs,
        } = p;
        user::Entity::update_many()
            .col_expr(user::Column::FirstName, Expr::value(first_name))
            .col_expr(user::Column::LastName, Expr::value(last_name))
            .col_expr(user::Column::Locale, Expr::value(locale))
            .col_expr(user::Column::OptOuts, Expr::value(opt_outs))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.conn)
            .await?;
        self.forget_user(flock, id);
        Ok(())
    }

    /// Sets a new password hash and voids every outstanding one-time token, in one
    /// transaction.
    pub async fn user_change_password(
        &self,
        flock: FlockId,
        id: UserId,
        hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> DbResult<()> {
        use sea_orm::sea_query::Expr;
        let txn = self.conn.begin().await?;
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(hash))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await?;
        user_token::Entity::update_many()
            .col_expr(user_token::Column::UsedAt, Expr::value(Some(now)))
            .filter(user_token::Column::FlockId.eq(flock.0))
            .filter(user_token::Column::UserId.eq(id.0))
            .filter(user_token::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.forget_user(flock, id);
        Ok(())
    }

    pub async fn user_set_status(
        &self,
        flock: FlockId,
        id: UserId,
        status: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> DbResult<()> {
        use sea_orm::sea_query::Expr;
        user::Entity::update_many()
            .col_expr(user::Column::Status, Expr::value(status))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.conn)
            .await?;
        self.forget_user(flock, id);
        Ok(())
    }

    /// GDPR erasure: personal data cleared, status `deleted`, tokens and mail of the user
    /// removed, in one transaction. The row stays (ids in audit trails keep resolving).
    pub async fn user_anonymise(
        &self,
        flock: FlockId,
        id: UserId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> DbResult<()> {
        use sea_orm::sea_query::Expr;
        let txn = self.conn.begin().await?;
        user::Entity::update_many()
            .col_expr(user::Column::Email, Expr::value(Option::<String>::None))
            .col_expr(user::Column::Phone, Expr::value(Option::<String>::None))
            .col_expr(
                user::Column::PasswordHash,
                Expr::value(Option::<String>::None),
            )
            .col_expr(user::Column::FirstName, Expr::value(Option::<String>::None))
            .col_expr(user::Column::LastName, Expr::value(Option::<String>::None))
            .col_expr(user::Column::Locale, Expr::value(Option::<String>::None))
            .col_expr(user::Column::Source, Expr::value(Option::<String>::None))
            .col_expr(user::Column::OptOuts, Expr::value(serde_json::json!({})))
            .col_expr(user::Column::EmailVerified, Expr::value(false))
            .col_expr(user::Column::PhoneVerified, Expr::value(false))
            .col_expr(user::Column::Status, Expr::value("deleted"))
            .col_expr(user::Column::DeletedAt, Expr::value(Some(now)))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Id.eq(id.0))
            .exec(&txn)
            .await?;
        user_token::Entity::delete_many()
            .filter(user_token::Column::FlockId.eq(flock.0))
            .filter(user_token::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        mail_outbox::Entity::delete_many()
            .filter(mail_outbox::Column::FlockId.eq(flock.0))
            .filter(mail_outbox::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.forget_user(flock, id);
        Ok(())
    }
}

// --- One-time codes (feat/otp): phone lookup and identifier verification. ---
impl Db {
    pub async fn user_mark_email_verified(
        &self,
        flock: FlockId,
        id: UserId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> DbResult<()> {
        use sea_orm::sea_query::Expr;
        user::Entity::update_many()
            .col_expr(user::Column::EmailVerified, Expr::value(true))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.conn)
            .await?;
        self.forget_user(flock, id);
        Ok(())
    }

    pub async fn user_mark_phone_verified(
        &self,
        flock: FlockId,
        id: UserId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> DbResult<()> {
        use sea_orm::sea_query::Expr;
        user::Entity::update_many()
            .col_expr(user::Column::PhoneVerified, Expr::value(true))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.conn)
            .await?;
        self.forget_user(flock, id);
        Ok(())
    }
}
