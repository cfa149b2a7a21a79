//! The durable mail outbox: rows are written in the transaction of the change that caused
//! them (`impl FlockDb`) and delivered later by the mail worker, with retries. The worker
//! serves every flock, so its queue is the one place that reads across flocks on purpose:
//! [`CrossFlock`], reached by [`Db::cross_flock`](super::Db::cross_flock).
use super::{Db, DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::mail_outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub use entity::mail_outbox::Model as MailRow;

/// A mail about to be queued; the gateway adds the flock. Its first attempt is due at
/// `created_at`.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub id: Uuid,
    pub user: Option<UserId>,
    /// `activation`, `reset`, `existing_account`, …
    pub kind: String,
    pub to_addr: String,
    pub from_addr: Option<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl NewMail {
    pub(super) fn into_active(self) -> mail_outbox::ActiveModel {
        mail_outbox::ActiveModel {
            id: Set(self.id),
            user_id: Set(self.user.map(|u| u.0)),
            kind: Set(self.kind),
            to_addr: Set(self.to_addr),
            from_addr: Set(self.from_addr),
            subject: Set(self.subject),
            text_body: Set(self.text_body),
            html_body: Set(self.html_body),
            attempts: Set(0),
            next_attempt_at: Set(self.created_at),
            sent_at: Set(None),
            last_error: Set(None),
            created_at: Set(self.created_at),
            ..Default::default()
        }
    }
}

impl FlockDb<'_> {
    pub async fn mail_enqueue(&self, mail: NewMail) -> DbResult<()> {
        mail_outbox::Entity::insert(self.own(mail.into_active()))
            .exec(&self.db.writer)
            .await?;
        Ok(())
    }

    pub async fn mail_of_user(&self, user: UserId) -> DbResult<Vec<MailRow>> {
        Ok(self
            .find::<mail_outbox::Entity>()
            .filter(mail_outbox::Column::UserId.eq(user.0))
            .order_by_asc(mail_outbox::Column::CreatedAt)
            .all(&self.db.conn)
            .await?)
    }

    /// Whether a mail of `kind` was queued for the user since `since` (to throttle
    /// notices).
    pub async fn mail_recent_exists(
        &self,
        user: UserId,
        kind: &str,
        since: DateTime<Utc>,
    ) -> DbResult<bool> {
        Ok(self
            .find::<mail_outbox::Entity>()
            .filter(mail_outbox::Column::UserId.eq(user.0))
            .filter(mail_outbox::Column::Kind.eq(kind))
            .filter(mail_outbox::Column::CreatedAt.gte(since))
            .one(&self.db.conn)
            .await?
            .is_some())
    }
}

/// The mail worker's queue, across every flock (see the module doc).
pub struct CrossFlock<'a> {
    pub(super) db: &'a Db,
}

impl CrossFlock<'_> {
    /// Unsent mail of every flock whose next attempt is due and that has attempts left,
    /// oldest first.
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
            .all(&self.db.conn)
            .await?)
    }

    /// Leases a due row (by its id, whatever its flock) to this worker until
    /// `lease_until`: true when no other worker got it first (compare-and-set on the
    /// attempt count).
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
            .exec(&self.db.writer)
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
            .exec(&self.db.writer)
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
            .exec(&self.db.writer)
            .await?;
        Ok(())
    }
}
