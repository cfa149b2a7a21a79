//! Statistics of a flock: counts answered by indexes that start with the flock
//! (`users(flock_id, registered_at, …)`, `(flock_id, last_sign_in_at)`,
//! `(flock_id, status, …)`, `events(flock_id, type, occurred_at, …)`). Several windows
//! of one column are counted in one range scan (the widest), each as a `CASE` sum.
use super::{DbResult, FlockDb};
use chrono::{DateTime, Utc};
use entity::{event, user};
use sea_orm::sea_query::{Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};

/// The user columns statistics count on.
pub use entity::user::Column as UserCol;

/// `SUM(CASE WHEN col >= since THEN 1 ELSE 0 END)`.
fn count_since(col: user::Column, since: DateTime<Utc>) -> SimpleExpr {
    Func::sum(Expr::case(Expr::col(col).gte(since), 1).finally(0)).into()
}

impl FlockDb<'_> {
    /// For each of three instants, the users whose `col` (`registered_at` or
    /// `last_sign_in_at`) is from then on; one index range scan from the earliest.
    pub async fn count_users_since(
        &self,
        col: user::Column,
        since: &[DateTime<Utc>; 3],
    ) -> DbResult<[u64; 3]> {
        let earliest = since.iter().min().copied().unwrap_or(since[0]);
        let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = self
            .find::<user::Entity>()
            .select_only()
            .filter(col.gte(earliest))
            .column_as(count_since(col, since[0]), "n0")
            .column_as(count_since(col, since[1]), "n1")
            .column_as(count_since(col, since[2]), "n2")
            .into_tuple()
            .one(&self.db.conn)
            .await?;
        let n = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok()).unwrap_or(0);
        Ok(row.map_or([0; 3], |(a, b, c)| [n(a), n(b), n(c)]))
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
