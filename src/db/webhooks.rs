//! Events (the outbox of changes), webhook endpoints and deliveries. `impl FlockDb` for a
//! flock's own; `impl CrossFlock` for the worker, which serves every flock.
use super::mail::CrossFlock;
use super::scope::FlockId;
use super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::{event, webhook_delivery, webhook_endpoint};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

pub use entity::event::Model as EventRow;
pub use entity::webhook_delivery::Model as DeliveryRow;
pub use entity::webhook_endpoint::Model as EndpointRow;

/// An event to record with its change. Who acted and from where come from the request's
/// context (`infra::context`) unless `actor` says otherwise.
#[derive(Debug, Clone, Default)]
pub struct NewEvent {
    pub kind: &'static str,
    pub data: Value,
    pub at: DateTime<Utc>,
    /// The user the event is about.
    pub user: Option<Uuid>,
    /// A short word: a sign-in's method, a failure's reason.
    pub detail: Option<String>,
    /// Who acted, when the request's caller is not it (a user signing in).
    pub actor: Option<String>,
    /// For the audit log only: never offered to webhook endpoints.
    pub audit_only: bool,
}

/// `user.status_changed`: the account moved from one status to another.
pub fn status_changed(user: UserId, from: &str, to: &str, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        kind: "user.status_changed",
        data: serde_json::json!({"user_id": user.0, "from": from, "to": to}),
        at,
        user: Some(user.0),
        ..Default::default()
    }
}

/// `user.password_changed` (audit only): `via` is `change`, `reset`, `code` or
/// `back_office`. Never the password or its hash.
pub fn password_changed(user: UserId, via: &'static str, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        kind: "user.password_changed",
        data: serde_json::json!({"user_id": user.0, "via": via}),
        at,
        user: Some(user.0),
        detail: Some(via.to_owned()),
        audit_only: true,
        ..Default::default()
    }
}

/// `user.updated`: which fields changed (names only: never their values).
pub fn user_updated(user: UserId, fields: Vec<&'static str>, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        kind: "user.updated",
        data: serde_json::json!({"user_id": user.0, "fields": fields}),
        at,
        user: Some(user.0),
        ..Default::default()
    }
}

/// An endpoint as stored.
pub struct NewEndpoint {
    pub id: Uuid,
    pub url: String,
    pub event_types: Value,
    pub secret_sealed: String,
    pub enabled: bool,
    pub now: DateTime<Utc>,
}

/// What may change on an endpoint.
#[derive(Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub event_types: Option<Value>,
    pub enabled: Option<bool>,
    /// New secret (sealed) and the previous one kept until then.
    pub rotate: Option<(String, String, DateTime<Utc>)>,
}

impl FlockDb<'_> {
    /// Records events on `c` (the change's transaction).
    pub(in crate::db) async fn events_insert_on<C: ConnectionTrait>(
        &self,
        c: &C,
        events: Vec<NewEvent>,
    ) -> DbResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let ctx = crate::infra::context::current();
        // The types the flock's enabled endpoints take, read in the same transaction: an
        // event no endpoint takes is stored as fanned out already (the worker has nothing
        // to do for it; it stays in the audit log).
        let wanted: Option<Vec<Vec<String>>> = if events.iter().all(|e| e.audit_only) {
            None
        } else {
            let eps = self
                .find::<webhook_endpoint::Entity>()
                .filter(webhook_endpoint::Column::Enabled.eq(true))
                .all(c)
                .await?;
            Some(
                eps.into_iter()
                    .map(|e| serde_json::from_value(e.event_types).unwrap_or_default())
                    .collect(),
            )
        };
        let offered = |kind: &str| {
            wanted.as_ref().is_some_and(|eps| {
                eps.iter()
                    .any(|types| types.is_empty() || types.iter().any(|t| t == kind))
            })
        };
        let rows = events.into_iter().map(|e| {
            let actor = e.actor.unwrap_or_else(|| {
                crate::infra::context::RequestContext::actor_or_default(ctx.as_ref())
            });
            self.own(event::ActiveModel {
                id: Set(Uuid::now_v7()),
                r#type: Set(e.kind.to_owned()),
                occurred_at: Set(e.at),
                data: Set(e.data),
                fanned_out: Set(e.audit_only || !offered(e.kind)),
                user_id: Set(e.user),
                actor: Set(Some(actor)),
                ip: Set(ctx.as_ref().and_then(|c| c.ip).map(|ip| ip.to_string())),
                user_agent: Set(ctx.as_ref().and_then(|c| c.user_agent.clone())),
                detail: Set(e.detail),
                ..Default::default()
            })
        });
        event::Entity::insert_many(rows).exec(c).await?;
        Ok(())
    }

    /// Records events in one statement (seeding the retention benchmark's backlog).
    pub async fn events_insert_many(&self, events: Vec<NewEvent>) -> DbResult<()> {
        self.events_insert_on(&self.db.writer, events).await
    }

    /// Records an event that has no transaction of its own (a sign-in, a revocation).
    pub async fn event_insert(&self, e: NewEvent) -> DbResult<()> {
        self.events_insert_on(&self.db.writer, vec![e]).await
    }

    pub async fn endpoints(&self) -> DbResult<Vec<EndpointRow>> {
        Ok(self
            .find::<webhook_endpoint::Entity>()
            .order_by_asc(webhook_endpoint::Column::CreatedAt)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn endpoint(&self, id: Uuid) -> DbResult<Option<EndpointRow>> {
        Ok(self
            .find::<webhook_endpoint::Entity>()
            .filter(webhook_endpoint::Column::Id.eq(id))
            .one(&self.db.conn)
            .await?)
    }

    pub async fn endpoint_insert(&self, e: NewEndpoint) -> DbResult<()> {
        let row = webhook_endpoint::ActiveModel {
            id: Set(e.id),
            url: Set(e.url),
            event_types: Set(e.event_types),
            secret_sealed: Set(e.secret_sealed),
            previous_secret_sealed: Set(None),
            previous_until: Set(None),
            enabled: Set(e.enabled),
            disabled_reason: Set(None),
            failing_since: Set(None),
            created_at: Set(e.now),
            updated_at: Set(e.now),
            ..Default::default()
        };
        webhook_endpoint::Entity::insert(self.own(row))
            .exec(&self.db.writer)
            .await?;
        Ok(())
    }

    /// Changes an endpoint; whether it exists. Enabling it clears why it was disabled.
    pub async fn endpoint_update(
        &self,
        id: Uuid,
        p: EndpointPatch,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let mut q = self
            .update::<webhook_endpoint::Entity>()
            .filter(webhook_endpoint::Column::Id.eq(id))
            .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now));
        if let Some(u) = p.url {
            q = q.col_expr(webhook_endpoint::Column::Url, Expr::value(u));
        }
        if let Some(t) = p.event_types {
            q = q.col_expr(webhook_endpoint::Column::EventTypes, Expr::value(t));
        }
        if let Some(e) = p.enabled {
            q = q.col_expr(webhook_endpoint::Column::Enabled, Expr::value(e));
            if e {
                q = q
                    .col_expr(
                        webhook_endpoint::Column::DisabledReason,
                        Expr::value(Option::<String>::None),
                    )
                    .col_expr(
                        webhook_endpoint::Column::FailingSince,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    );
            }
        }
        if let Some((new, old, until)) = p.rotate {
            q = q
                .col_expr(webhook_endpoint::Column::SecretSealed, Expr::value(new))
                .col_expr(
                    webhook_endpoint::Column::PreviousSecretSealed,
                    Expr::value(Some(old)),
                )
                .col_expr(
                    webhook_endpoint::Column::PreviousUntil,
                    Expr::value(Some(until)),
                );
        }
        Ok(q.exec(&self.db.writer).await?.rows_affected > 0)
    }

    pub async fn endpoint_delete(&self, id: Uuid) -> DbResult<bool> {
        let r = self
            .delete::<webhook_endpoint::Entity>()
            .filter(webhook_endpoint::Column::Id.eq(id))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// An endpoint's deliveries, newest first, after the id `before` (keyset).
    pub async fn deliveries(
        &self,
        endpoint: Uuid,
        status: Option<&str>,
        before: Option<Uuid>,
        limit: u64,
    ) -> DbResult<Vec<(DeliveryRow, Option<EventRow>)>> {
        let mut q = self
            .find::<webhook_delivery::Entity>()
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint));
        if let Some(s) = status {
            q = q.filter(webhook_delivery::Column::Status.eq(s));
        }
        if let Some(b) = before {
            q = q.filter(webhook_delivery::Column::Id.lt(b));
        }
        let rows = q
            .order_by_desc(webhook_delivery::Column::Id)
            .limit(limit)
            .all(&self.db.conn)
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|d| d.event_id).collect();
        let events = self
            .find::<event::Entity>()
            .filter(event::Column::Id.is_in(ids))
            .all(&self.db.conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|d| {
                let e = events.iter().find(|e| e.id == d.event_id).cloned();
                (d, e)
            })
            .collect())
    }

    /// Makes one finished (succeeded or failed) delivery due now again (a manual replay);
    /// whether there was such a delivery.
    pub async fn delivery_replay(
        &self,
        endpoint: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let r = self
            .update::<webhook_delivery::Entity>()
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint))
            .filter(webhook_delivery::Column::Id.eq(id))
            // A pending one is due (or being sent) already: resetting it could send twice.
            .filter(webhook_delivery::Column::Status.ne("pending"))
            .col_expr(webhook_delivery::Column::Status, Expr::value("pending"))
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(0))
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// New deliveries to `endpoint` of the flock's events in `[from, to)` of `types`
    /// (all when empty); how many.
    pub async fn deliveries_replay_range(
        &self,
        endpoint: Uuid,
        types: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DbResult<u64> {
        let txn = self.db.write().await?;
        let mut q = self
            .find::<event::Entity>()
            .filter(event::Column::OccurredAt.gte(from))
            .filter(event::Column::OccurredAt.lt(to));
        if !types.is_empty() {
            q = q.filter(event::Column::Type.is_in(types.iter().cloned()));
        }
        let events = q.limit(10_000).all(&txn).await?;
        let n = events.len() as u64;
        self.deliveries_insert_on(&txn, endpoint, events.iter().map(|e| e.id), now)
            .await?;
        txn.commit().await?;
        Ok(n)
    }

    async fn deliveries_insert_on<C: ConnectionTrait>(
        &self,
        c: &C,
        endpoint: Uuid,
        events: impl Iterator<Item = Uuid>,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let rows: Vec<webhook_delivery::ActiveModel> = events
            .map(|e| {
                self.own(webhook_delivery::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    endpoint_id: Set(endpoint),
                    event_id: Set(e),
                    status: Set("pending".into()),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    last_status: Set(None),
                    last_error: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        for chunk in rows.chunks(500) {
            webhook_delivery::Entity::insert_many(chunk.to_vec())
                .exec(c)
                .await?;
        }
        Ok(())
    }

    /// One event only for `endpoint` (a test send); the delivery's id.
    pub async fn event_for_endpoint(&self, endpoint: Uuid, e: NewEvent) -> DbResult<Uuid> {
        let txn = self.db.write().await?;
        let id = Uuid::now_v7();
        let row = self.own(event::ActiveModel {
            id: Set(id),
            r#type: Set(e.kind.to_owned()),
            occurred_at: Set(e.at),
            data: Set(e.data),
            // Not fanned out to the other endpoints.
            fanned_out: Set(true),
            ..Default::default()
        });
        event::Entity::insert(row).exec(&txn).await?;
        self.deliveries_insert_on(&txn, endpoint, std::iter::once(id), e.at)
            .await?;
        txn.commit().await?;
        let d = self
            .find::<webhook_delivery::Entity>()
            .filter(webhook_delivery::Column::EventId.eq(id))
            .one(&self.db.conn)
            .await?;
        Ok(d.map(|d| d.id).unwrap_or(id))
    }
}

/// What the worker does with a delivery after an attempt.
pub enum Outcome {
    Succeeded,
    Retry(DateTime<Utc>),
    Failed,
}

impl CrossFlock<'_> {
    /// Events not fanned out yet, oldest first.
    pub async fn events_unfanned(&self, limit: u64) -> DbResult<Vec<EventRow>> {
        Ok(event::Entity::find()
            .filter(event::Column::FannedOut.eq(false))
            .order_by_asc(event::Column::Id)
            .limit(limit)
            .all(&self.db.conn)
            .await?)
    }

    /// A delivery per enabled endpoint of the event's flock that takes its type, and the
    /// event marked fanned out, in one transaction (a second worker finds it done).
    pub async fn event_fan_out(&self, e: &EventRow, now: DateTime<Utc>) -> DbResult<()> {
        let flock = FlockDb {
            db: self.db,
            flock: FlockId::from_stored(e.flock_id),
        };
        let txn = self.db.write().await?;
        let r = event::Entity::update_many()
            .col_expr(event::Column::FannedOut, Expr::value(true))
            .filter(event::Column::Id.eq(e.id))
            .filter(event::Column::FannedOut.eq(false))
            .exec(&txn)
            .await?;
        if r.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(());
        }
        let endpoints = flock
            .find::<webhook_endpoint::Entity>()
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .all(&txn)
            .await?;
        for ep in endpoints {
            let types: Vec<String> =
                serde_json::from_value(ep.event_types.clone()).unwrap_or_default();
            if types.is_empty() || types.iter().any(|t| t == &e.r#type) {
                flock
                    .deliveries_insert_on(&txn, ep.id, std::iter::once(e.id), now)
                    .await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// Pending deliveries that are due, oldest first, with their event and endpoint.
    pub async fn deliveries_due(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> DbResult<Vec<(DeliveryRow, EventRow, EndpointRow)>> {
        // Only to enabled endpoints: a disabled one (410, failing, or by hand) gets
        // nothing until it is enabled again.
        let enabled = sea_orm::sea_query::Query::select()
            .column(webhook_endpoint::Column::Id)
            .from(webhook_endpoint::Entity)
            .and_where(webhook_endpoint::Column::Enabled.eq(true))
            .to_owned();
        let due = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.eq("pending"))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
            .filter(webhook_delivery::Column::EndpointId.in_subquery(enabled))
            .order_by_asc(webhook_delivery::Column::NextAttemptAt)
            .limit(limit)
            .all(&self.db.conn)
            .await?;
        let mut out = Vec::with_capacity(due.len());
        for d in due {
            let e = event::Entity::find()
                .filter(event::Column::Id.eq(d.event_id))
                .one(&self.db.conn)
                .await?;
            let ep = webhook_endpoint::Entity::find()
                .filter(webhook_endpoint::Column::Id.eq(d.endpoint_id))
                .one(&self.db.conn)
                .await?;
            if let (Some(e), Some(ep)) = (e, ep) {
                out.push((d, e, ep));
            }
        }
        Ok(out)
    }

    /// Leases a due delivery to this worker until `lease_until` (compare-and-set on its
    /// attempt count): true when no other worker got it first. A worker killed mid-send
    /// leaves the lease to expire; the delivery is sent again with the same event id.
    pub async fn delivery_claim(
        &self,
        id: Uuid,
        attempts: i32,
        lease_until: DateTime<Utc>,
    ) -> DbResult<bool> {
        let r = webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::Attempts,
                Expr::value(attempts + 1),
            )
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(lease_until),
            )
            .filter(webhook_delivery::Column::Id.eq(id))
            .filter(webhook_delivery::Column::Attempts.eq(attempts))
            .filter(webhook_delivery::Column::Status.eq("pending"))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Records an attempt's result — only if the delivery is still the claim this worker
    /// made (`attempts` as claimed): a stale worker changes nothing.
    pub async fn delivery_done(
        &self,
        id: Uuid,
        attempts: i32,
        outcome: Outcome,
        status: Option<u16>,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let (state, next) = match outcome {
            Outcome::Succeeded => ("succeeded", now),
            Outcome::Retry(at) => ("pending", at),
            Outcome::Failed => ("failed", now),
        };
        webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Status, Expr::value(state))
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
            .col_expr(
                webhook_delivery::Column::LastStatus,
                Expr::value(status.map(i32::from)),
            )
            .col_expr(webhook_delivery::Column::LastError, Expr::value(error))
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_delivery::Column::Id.eq(id))
            .filter(webhook_delivery::Column::Attempts.eq(attempts))
            .exec(&self.db.writer)
            .await?;
        Ok(())
    }

    /// The endpoint's failure streak: started (if not yet) or ended.
    pub async fn endpoint_failing(
        &self,
        id: Uuid,
        failing: bool,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let mut q =
            webhook_endpoint::Entity::update_many().filter(webhook_endpoint::Column::Id.eq(id));
        if failing {
            q = q
                .filter(webhook_endpoint::Column::FailingSince.is_null())
                .col_expr(
                    webhook_endpoint::Column::FailingSince,
                    Expr::value(Some(now)),
                );
        } else {
            q = q
                .filter(webhook_endpoint::Column::FailingSince.is_not_null())
                .col_expr(
                    webhook_endpoint::Column::FailingSince,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
        }
        q.exec(&self.db.writer).await?;
        Ok(())
    }

    pub async fn endpoint_disable(
        &self,
        id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::Enabled, Expr::value(false))
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(Some(reason.to_owned())),
            )
            .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_endpoint::Column::Id.eq(id))
            .exec(&self.db.writer)
            .await?;
        Ok(())
    }
}
