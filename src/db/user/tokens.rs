//! One-time secrets (activation, reset) and the state changes they authorise. Each change
//! and the mail it causes commit in one transaction.
//!
//! Why the database and not the KV store: the secret, the account change and the mail that
//! carries the secret must commit together (the durable outbox lives in the database), and
//! a KV write cannot join that transaction.
use crate::db::mail::NewMail;
use crate::db::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::{mail_outbox, user, user_token};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

pub use entity::user_token::Model as TokenRow;

/// A one-time secret about to be stored (its digest only); the gateway adds the flock.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: Uuid,
    pub user: UserId,
    /// `activation` or `reset`.
    pub purpose: String,
    pub token_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl NewToken {
    pub(super) fn into_active(self) -> user_token::ActiveModel {
        user_token::ActiveModel {
            id: Set(self.id),
            user_id: Set(self.user.0),
            purpose: Set(self.purpose),
            token_hash: Set(self.token_hash),
            expires_at: Set(self.expires_at),
            used_at: Set(None),
            created_at: Set(self.created_at),
            ..Default::default()
        }
    }
}

/// Marks every unused token of `purpose` (every purpose when None) of the user as used.
pub(in crate::db) async fn void<C: ConnectionTrait>(
    f: &FlockDb<'_>,
    c: &C,
    user: UserId,
    purpose: Option<&str>,
    now: DateTime<Utc>,
) -> DbResult<()> {
    let mut q = f
        .update::<user_token::Entity>()
        .col_expr(user_token::Column::UsedAt, Expr::value(Some(now)))
        .filter(user_token::Column::UserId.eq(user.0))
        .filter(user_token::Column::UsedAt.is_null());
    if let Some(p) = purpose {
        q = q.filter(user_token::Column::Purpose.eq(p));
    }
    q.exec(c).await?;
    Ok(())
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

impl FlockDb<'_> {
    pub async fn token(&self, id: Uuid) -> DbResult<Option<TokenRow>> {
        Ok(self
            .find::<user_token::Entity>()
            .filter(user_token::Column::Id.eq(id))
            .one(&self.db.conn)
            .await?)
    }

    /// Stores a new token (older unused ones of the same purpose become void) and its mail.
    pub async fn token_issue_with_mail(&self, token: NewToken, mail: NewMail) -> DbResult<()> {
        let txn = self.db.write().await?;
        void(
            self,
            &txn,
            token.user,
            Some(&token.purpose),
            token.created_at,
        )
        .await?;
        user_token::Entity::insert(self.own(token.into_active()))
            .exec(&txn)
            .await?;
        mail_outbox::Entity::insert(self.own(mail.into_active()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Consumes the token and applies its effect in one transaction. False when the token
    /// was already used, expired or unknown (nothing changes then).
    pub async fn token_redeem(
        &self,
        token: Uuid,
        user_id: UserId,
        effect: TokenEffect,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let txn = self.db.write().await?;
        let consumed = self
            .update::<user_token::Entity>()
            .col_expr(user_token::Column::UsedAt, Expr::value(Some(now)))
            .filter(user_token::Column::Id.eq(token))
            .filter(user_token::Column::UsedAt.is_null())
            .filter(user_token::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?;
        if consumed.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        let before = self
            .find::<user::Entity>()
            .filter(user::Column::Id.eq(user_id.0))
            .one(&txn)
            .await?
            .map(|r| r.status);
        let mut events = Vec::new();
        let mut q = self
            .update::<user::Entity>()
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .col_expr(user::Column::EmailVerified, Expr::value(true))
            .filter(user::Column::Id.eq(user_id.0))
            .filter(user::Column::DeletedAt.is_null());
        let status = match effect {
            TokenEffect::Activate { status } => status,
            TokenEffect::SetPassword { hash, status } => {
                q = q.col_expr(user::Column::PasswordHash, Expr::value(hash));
                void(self, &txn, user_id, Some("reset"), now).await?;
                events.push(super::super::webhooks::password_changed(
                    user_id, "reset", now,
                ));
                status
            }
        };
        if let (Some(to), Some(from)) = (&status, &before) {
            if to != from {
                events.push(super::super::webhooks::status_changed(
                    user_id, from, to, now,
                ));
            }
        }
        if let Some(s) = status {
            // A claimed account becomes a registered one now (others keep their date).
            let registered = Expr::col(user::Column::RegisteredAt).if_null(Expr::value(now));
            q = q
                .col_expr(user::Column::Status, Expr::value(s))
                .col_expr(user::Column::RegisteredAt, registered);
        }
        if q.exec(&txn).await?.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        self.events_insert_on(&txn, events).await?;
        txn.commit().await?;
        self.forget_user(user_id);
        Ok(true)
    }

    /// Token metadata of a user (never the digests), for the data export.
    pub async fn tokens_of_user(&self, user: UserId) -> DbResult<Vec<TokenRow>> {
        Ok(self
            .find::<user_token::Entity>()
            .filter(user_token::Column::UserId.eq(user.0))
            .all(&self.db.conn)
            .await?)
    }

    /// Voids every unused token of the user (password change, deletion).
    pub async fn tokens_void_all(&self, user: UserId, now: DateTime<Utc>) -> DbResult<()> {
        void(self, &self.db.writer, user, None, now).await
    }
}
