//! The durable mail outbox: rows are written in the transaction of the change that caused
//! them and delivered later by the mail worker, with retries.
use super::{Db, DbResult};
use crate::ids::{FlockId, UserId};
use chrono::{DateTime, Utc};
use entity::mail_outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub use entity::mail_outbox::Model as MailRow;

impl Db {
    pub async fn mail_enqueue(&self, row: MailRow) -> DbResult<()> {
        mail_outbox::Entity::insert(row.into_active_model())
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    /// Unsent mail whose next attempt is due and that has attempts left, oldest first.
    /// (The worker is not per flock: it delivers for every flock.)
    pub async fn mail_due(
        &self,
        now: DateTime<Utc>,
        max_attempts: i32,
        limit: u64,
    ) -> DbResult<Vec<MailRow>> {
        Ok(mail_outbox::Entity::find()
            .filter(mail_outbox::Column::SentAt.is_null())
            .filter(mail_outbox::Column::NextAttemptAt.lte(now))
            .filter(mail_outbox::Column::Attempts.lt(max_attempts))
            .order_by_asc(mail_outbox::Column::CreatedAt)
            .limit(limit)
            .all(&self.conn)
            .await?)
    }

    /// Leases a due row to this worker until `lease_until`: true when no other worker got
    /// it first (compare-and-set on the attempt count).
    pub async fn mail_claim(
        &self,
        id: Uuid,
        attempts: i32,
        lease_until: DateTime<Utc>,
    ) -> DbResult<bool> {
        let r = mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::Attempts, Expr::value(attempts + 1))
            .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(lease_until))
            .filter(mail_outbox::Column::Id.eq(id))
            .filter(mail_outbox::Column::Attempts.eq(attempts))
            .filter(mail_outbox::Column::SentAt.is_null())
            .exec(&self.conn)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Marks a mail delivered and drops its bodies: they carry one-time secrets, which
    /// must not outlive delivery in plaintext (the digests stay in `user_tokens`).
    pub async fn mail_mark_sent(&self, id: Uuid, now: DateTime<Utc>) -> DbResult<()> {
        mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::SentAt, Expr::value(Some(now)))
            .col_expr(mail_outbox::Column::TextBody, Expr::value(""))
            .col_expr(
                mail_outbox::Column::HtmlBody,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                mail_outbox::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(mail_outbox::Column::Id.eq(id))
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    pub async fn mail_mark_failed(
        &self,
        id: Uuid,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> DbResult<()> {
        mail_outbox::Entity::update_many()
            .col_expr(
                mail_outbox::Column::LastError,
                Expr::value(Some(error.to_owned())),
            )
            .col_expr(
                mail_outbox::Column::NextAttemptAt,
                Expr::value(next_attempt_at),
            )
            .filter(mail_outbox::Column::Id.eq(id))
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    pub async fn mail_of_user(&self, flock: FlockId, user: UserId) -> DbResult<Vec<MailRow>> {
        Ok(mail_outbox::Entity::find()
            .filter(mail_outbox::Column::FlockId.eq(flock.0))
            .filter(mail_outbox::Column::UserId.eq(user.0))
            .order_by_asc(mail_outbox::Column::CreatedAt)
            .all(&self.conn)
            .await?)
    }

    /// Whether a mail of `kind` was queued for the user since `since` (to throttle
    /// notices).
    pub async fn mail_recent_exists(
        &self,
        flock: FlockId,
        user: UserId,
        kind: &str,
        since: DateTime<Utc>,
    ) -> DbResult<bool> {
        Ok(mail_outbox::Entity::find()
            .filter(mail_outbox::Column::FlockId.eq(flock.0))
            .filter(mail_outbox::Column::UserId.eq(user.0))
            .filter(mail_outbox::Column::Kind.eq(kind))
            .filter(mail_outbox::Column::CreatedAt.gte(since))
            .one(&self.conn)
            .await?
            .is_some())
    }
}
