//! Statistics of a flock: counts answered by indexes that start with the flock
//! (`users(flock_id, registered_at)`, `(flock_id, last_sign_in_at)`,
//! `(flock_id, status, …)`, `events(flock_id, type, occurred_at, …)`).
use super::{DbResult, FlockDb};
use chrono::{DateTime, Utc};
use entity::{event, user};
use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter, QuerySelect};

impl FlockDb<'_> {
    /// Users who became registered from `since` on.
    pub async fn count_registered_since(&self, since: DateTime<Utc>) -> DbResult<u64> {
        Ok(self
            .find::<user::Entity>()
            .filter(user::Column::RegisteredAt.gte(since))
            .count(&self.db.conn)
            .await?)
    }

    /// Users whose last sign-in is from `since` on.
    pub async fn count_signed_in_since(&self, since: DateTime<Utc>) -> DbResult<u64> {
        Ok(self
            .find::<user::Entity>()
            .filter(user::Column::LastSignInAt.gte(since))
            .count(&self.db.conn)
            .await?)
    }

    /// Users by status: `(status, count)`.
    pub async fn count_users_by_status(&self) -> DbResult<Vec<(String, i64)>> {
        Ok(self
            .find::<user::Entity>()
            .select_only()
            .column(user::Column::Status)
            .column_as(user::Column::Id.count(), "n")
            .group_by(user::Column::Status)
            .into_tuple()
            .all(&self.db.conn)
            .await?)
    }

    /// Sign-ins in `[from, to)` by method: `(method, count)`.
    pub async fn count_sign_ins_by_method(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> DbResult<Vec<(Option<String>, i64)>> {
        Ok(self
            .find::<event::Entity>()
            .select_only()
            .column(event::Column::Detail)
            .column_as(event::Column::Id.count(), "n")
            .filter(event::Column::Type.eq("user.signed_in"))
            .filter(event::Column::OccurredAt.gte(from))
            .filter(event::Column::OccurredAt.lt(to))
            .group_by(event::Column::Detail)
            .into_tuple()
            .all(&self.db.conn)
            .await?)
    }
}
