//! The audit log's queries: a flock's events by user, actor, type and time, newest first,
//! in keyset pages on `(occurred_at, id)` (each filter has an index starting with the
//! flock and ending in those two).
use super::{DbResult, FlockDb};
use chrono::{DateTime, Utc};
use entity::event;
use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub use entity::event::Model as AuditRow;

/// What to select; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<Uuid>,
    pub actor: Option<String>,
    /// Any of these types (empty: every type).
    pub kinds: Vec<String>,
    /// From this instant (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Up to this instant (exclusive).
    pub to: Option<DateTime<Utc>>,
}

impl FlockDb<'_> {
    /// Up to `limit` events matching `f`, newest first, after the keyset position `after`
    /// (the last `(occurred_at, id)` of the previous page).
    pub async fn audit_page(
        &self,
        f: &AuditFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> DbResult<Vec<AuditRow>> {
        let mut q = self.find::<event::Entity>();
        if let Some(u) = f.user {
            q = q.filter(event::Column::UserId.eq(u));
        }
        if let Some(a) = &f.actor {
            q = q.filter(event::Column::Actor.eq(a.as_str()));
        }
        if !f.kinds.is_empty() {
            q = q.filter(event::Column::Type.is_in(f.kinds.iter().cloned()));
        }
        if let Some(t) = f.from {
            q = q.filter(event::Column::OccurredAt.gte(t));
        }
        if let Some(t) = f.to {
            q = q.filter(event::Column::OccurredAt.lt(t));
        }
        if let Some((at, id)) = after {
            q = q.filter(
                Condition::any().add(event::Column::OccurredAt.lt(at)).add(
                    Condition::all()
                        .add(event::Column::OccurredAt.eq(at))
                        .add(event::Column::Id.lt(id)),
                ),
            );
        }
        Ok(q.order_by_desc(event::Column::OccurredAt)
            .order_by_desc(event::Column::Id)
            .limit(limit)
            .all(&self.db.conn)
            .await?)
    }
}
