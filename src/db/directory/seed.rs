//! Batched inserts of many users at once, for seeding large directories (`fold users
//! seed`, the benchmarks): one statement per batch, no mail, no per-row checks.
use super::super::user::NewUser;
use super::super::{DbResult, FlockDb};
use entity::user;
use sea_orm::EntityTrait;

impl FlockDb<'_> {
    /// Inserts `rows` in one statement (the caller keeps batches to a few hundred rows:
    /// SQLite binds at most 32,766 parameters).
    pub async fn users_insert_many(&self, rows: Vec<NewUser>) -> DbResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = rows.into_iter().map(|r| self.own(r.into_active()));
        user::Entity::insert_many(rows).exec(&self.db.conn).await?;
        Ok(())
    }
}
