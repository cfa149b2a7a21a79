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
        user::Entity::insert_many(rows)
            .exec(&self.db.writer)
            .await?;
        Ok(())
    }
}

impl FlockDb<'_> {
    /// Inserts meta pairs `(user, key, value, public)` in one statement (seeding).
    pub async fn meta_insert_many(
        &self,
        rows: Vec<(crate::ids::UserId, String, String, bool)>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> DbResult<()> {
        use sea_orm::ActiveValue::Set;
        if rows.is_empty() {
            return Ok(());
        }
        let rows = rows.into_iter().map(|(user, key, value, public)| {
            self.own(entity::user_meta::ActiveModel {
                user_id: Set(user.0),
                key: Set(key),
                value: Set(value),
                public: Set(public),
                updated_at: Set(now),
                ..Default::default()
            })
        });
        entity::user_meta::Entity::insert_many(rows)
            .exec(&self.db.writer)
            .await?;
        Ok(())
    }
}
