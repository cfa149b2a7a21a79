//! One-time secrets (activation, reset) and the state changes they authorise. Each change
//! and the mail it causes commit in one transaction.
//!
//! Why the database and not the KV store: the secret, the account change and the mail that
//! carries the secret must commit together (the durable outbox lives in the database), and
//! a KV write cannot join that transaction.
use crate::db::{Db, DbResult};
use crate::ids::{FlockId, UserId};
use chrono::{DateTime, Utc};
use entity::{mail_outbox, user, user_token};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, TransactionTrait,
};
use uuid::Uuid;

pub use entity::user_token::Model as TokenRow;

/// Marks every unused token of `purpose` of the user as used (superseded).
async fn void_tokens<C: ConnectionTrait>(
    c: &C,
    flock: FlockId,
    user_id: UserId,
    purpose: Option<&str>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let mut q = user_token::Entity::update_many()
        .col_expr(user_token::Column::UsedAt, Expr::value(Some(now)))
        .filter(user_token::Column::FlockId.eq(flock.0))
        .filter(user_token::Column::UserId.eq(user_id.0))
        .filter(user_token::Column::UsedAt.is_null());
    if let Some(p) = purpose {
        q = q.filter(user_token::Column::Purpose.eq(p));
    }
    q.exec(c).await?;
    Ok(())
}

/// Claims a token for a single use; true when this call consumed it.
async fn consume<C: ConnectionTrait>(
    c: &C,
    flock: FlockId,
    id: Uuid,
    now: DateTime<Utc>,
) -> DbResult<bool> {
    let r = user_token::Entity::update_many()
        .col_expr(user_token::Column::UsedAt, Expr::value(Some(now)))
        .filter(user_token::Column::FlockId.eq(flock.0))
        .filter(user_token::Column::Id.eq(id))
        .filter(user_token::Column::UsedAt.is_null())
        .filter(user_token::Column::ExpiresAt.gt(now))
        .exec(c)
        .await?;
    Ok(r.rows_affected == 1)
}

/// What a consumed token does to its account.
pub enum TokenEffect {
    /// Set the status (None keeps it) and mark the email verified.
    Activate { status: Option<String> },
    /// Set a new password hash (and verify the email: the mail reached its owner); ends
    /// every other outstanding reset.
    SetPassword {
        hash: String,
        status: Option<String>,
    },
}

impl Db {
    pub async fn token_by_id(&self, flock: FlockId, id: Uuid) -> DbResult<Option<TokenRow>> {
        Ok(user_token::Entity::find()
            .filter(user_token::Column::FlockId.eq(flock.0))
            .filter(user_token::Column::Id.eq(id))
            .one(&self.conn)
            .await?)
    }

    /// Stores a new token (older unused ones of the same purpose become void) and its mail.
    pub async fn token_issue_with_mail(
        &self,
        token: TokenRow,
        mail: mail_outbox::Model,
    ) -> DbResult<()> {
        let txn = self.conn.begin().await?;
        void_tokens(
            &txn,
            FlockId(token.flock_id),
            UserId(token.user_id),
            Some(&token.purpose),
            token.created_at,
        )
        .await?;
        user_token::Entity::insert(token.into_active_model())
            .exec(&txn)
            .await?;
        mail_outbox::Entity::insert(mail.into_active_model())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Consumes the token and applies its effect in one transaction. False when the token
    /// was already used, expired or unknown (nothing changes then).
    pub async fn token_redeem(
        &self,
        flock: FlockId,
        token_id: Uuid,
        user_id: UserId,
        effect: TokenEffect,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let txn = self.conn.begin().await?;
        if !consume(&txn, flock, token_id, now).await? {
            txn.rollback().await?;
            return Ok(false);
        }
        let mut q = user::Entity::update_many()
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .col_expr(user::Column::EmailVerified, Expr::value(true))
            .filter(user::Column::FlockId.eq(flock.0))
            .filter(user::Column::Id.eq(user_id.0))
            .filter(user::Column::DeletedAt.is_null());
        match effect {
            TokenEffect::Activate { status } => {
                if let Some(s) = status {
                    q = q.col_expr(user::Column::Status, Expr::value(s));
                }
            }
            TokenEffect::SetPassword { hash, status } => {
                q = q.col_expr(user::Column::PasswordHash, Expr::value(hash));
                if let Some(s) = status {
                    q = q.col_expr(user::Column::Status, Expr::value(s));
                }
                void_tokens(&txn, flock, user_id, Some("reset"), now).await?;
            }
        }
        let r = q.exec(&txn).await?;
        if r.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        txn.commit().await?;
        self.forget_user(flock, user_id);
        Ok(true)
    }

    /// Token metadata of a user (never the digests), for the data export.
    pub async fn tokens_of_user(&self, flock: FlockId, user_id: UserId) -> DbResult<Vec<TokenRow>> {
        Ok(user_token::Entity::find()
            .filter(user_token::Column::FlockId.eq(flock.0))
            .filter(user_token::Column::UserId.eq(user_id.0))
            .all(&self.conn)
            .await?)
    }

    /// Voids every unused token of the user (password change, deletion).
    pub async fn tokens_void_all(
        &self,
        flock: FlockId,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        void_tokens(&self.conn, flock, user_id, None, now).await
    }
}
