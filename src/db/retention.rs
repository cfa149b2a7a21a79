//! Deleting what has outlived its retention, a small batch at a time (each batch its own
//! short transaction, so nothing waits long on a lock: Keycloak locked its events table
//! deleting millions of rows at once).
use super::mail::CrossFlock;
use super::{DbResult, FlockDb};
use chrono::{DateTime, Utc};
use entity::{event, mail_outbox, user_token, webhook_delivery};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

impl FlockDb<'_> {
    /// Deletes up to `batch` events older than `cutoff`, of type `kind` (or of every type
    /// but `except` when `kind` is None); how many.
    pub async fn events_purge_batch(
        &self,
        kind: Option<&str>,
        except: &[String],
        cutoff: DateTime<Utc>,
        batch: u64,
    ) -> DbResult<u64> {
        // Never an event still on its way: not fanned out yet, or with a pending delivery
        // (deliveries go with their event).
        let pending = sea_orm::sea_query::Query::select()
            .column(webhook_delivery::Column::EventId)
            .from(webhook_delivery::Entity)
            .and_where(webhook_delivery::Column::Status.eq("pending"))
            .to_owned();
        let mut q = self
            .find::<event::Entity>()
            .select_only()
            .column(event::Column::Id)
            .filter(event::Column::OccurredAt.lt(cutoff))
            .filter(event::Column::FannedOut.eq(true))
            .filter(event::Column::Id.not_in_subquery(pending));
        q = match kind {
            Some(k) => q.filter(event::Column::Type.eq(k)),
            None if except.is_empty() => q,
            None => q.filter(event::Column::Type.is_not_in(except.iter().cloned())),
        };
        let ids: Vec<Uuid> = q
            .order_by_asc(event::Column::OccurredAt)
            .limit(batch)
            .into_tuple()
            .all(&self.db.conn)
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let r = self
            .delete::<event::Entity>()
            .filter(event::Column::Id.is_in(ids))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected)
    }

    /// Deletes up to `batch` finished (succeeded or failed) deliveries older than `cutoff`.
    pub async fn deliveries_purge_batch(&self, cutoff: DateTime<Utc>, batch: u64) -> DbResult<u64> {
        let ids: Vec<Uuid> = self
            .find::<webhook_delivery::Entity>()
            .select_only()
            .column(webhook_delivery::Column::Id)
            .filter(webhook_delivery::Column::Status.ne("pending"))
            .filter(webhook_delivery::Column::UpdatedAt.lt(cutoff))
            .limit(batch)
            .into_tuple()
            .all(&self.db.conn)
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let r = self
            .delete::<webhook_delivery::Entity>()
            .filter(webhook_delivery::Column::Id.is_in(ids))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected)
    }
}

impl CrossFlock<'_> {
    /// Deletes up to `batch` one-time tokens (activation, reset, claim) used or expired
    /// before `cutoff`.
    pub async fn tokens_purge_batch(&self, cutoff: DateTime<Utc>, batch: u64) -> DbResult<u64> {
        let ids: Vec<Uuid> = user_token::Entity::find()
            .select_only()
            .column(user_token::Column::Id)
            .filter(
                Condition::any()
                    .add(user_token::Column::ExpiresAt.lt(cutoff))
                    .add(user_token::Column::UsedAt.lt(cutoff)),
            )
            .limit(batch)
            .into_tuple()
            .all(&self.db.conn)
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let r = user_token::Entity::delete_many()
            .filter(user_token::Column::Id.is_in(ids))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected)
    }

    /// Deletes up to `batch` mails delivered before `cutoff` (their bodies went at
    /// delivery).
    pub async fn mail_purge_batch(&self, cutoff: DateTime<Utc>, batch: u64) -> DbResult<u64> {
        let ids: Vec<Uuid> = mail_outbox::Entity::find()
            .select_only()
            .column(mail_outbox::Column::Id)
            .filter(mail_outbox::Column::SentAt.lt(cutoff))
            .limit(batch)
            .into_tuple()
            .all(&self.db.conn)
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let r = mail_outbox::Entity::delete_many()
            .filter(mail_outbox::Column::Id.is_in(ids))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected)
    }
}
