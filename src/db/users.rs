//! Users, always scoped by flock.
use super::{Db, DbResult};
use crate::ids::{FlockId, UserId};
use entity::user;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};

pub use entity::user::Model as UserRow;

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
        Ok(())
    }
}

// --- One-time codes (feat/otp): phone lookup and identifier verification. ---
impl Db {
    /// `phone` must already be normalised (E.164).
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
        Ok(())
    }
}
