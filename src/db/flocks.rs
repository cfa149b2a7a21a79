//! Flocks. The flocks table is the one table not scoped by a flock: it *is* the flocks.
use super::{Db, DbResult};
use crate::ids::FlockId;
use entity::{api_key, flock, signing_key};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};

pub use entity::flock::Model as FlockRow;

impl Db {
    /// Creates the flock with its first signing key and admin API key, atomically.
    pub async fn flock_create(
        &self,
        row: flock::Model,
        key: signing_key::Model,
        admin_key: api_key::Model,
    ) -> DbResult<()> {
        let txn = self.conn.begin().await?;
        flock::Entity::insert(row.into_active_model())
            .exec(&txn)
            .await?;
        signing_key::Entity::insert(key.into_active_model())
            .exec(&txn)
            .await?;
        api_key::Entity::insert(admin_key.into_active_model())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn flock_by_slug(&self, slug: &str) -> DbResult<Option<flock::Model>> {
        Ok(flock::Entity::find()
            .filter(flock::Column::Slug.eq(slug))
            .one(&self.conn)
            .await?)
    }

    pub async fn flock_by_id(&self, id: FlockId) -> DbResult<Option<flock::Model>> {
        Ok(flock::Entity::find_by_id(id.0).one(&self.conn).await?)
    }

    /// Flocks ordered by slug, starting after `after` (cursor pagination).
    pub async fn flock_list(&self, after: Option<&str>, limit: u64) -> DbResult<Vec<flock::Model>> {
        let mut q = flock::Entity::find().order_by_asc(flock::Column::Slug);
        if let Some(after) = after {
            q = q.filter(flock::Column::Slug.gt(after));
        }
        Ok(q.limit(limit).all(&self.conn).await?)
    }

    /// Writes name, status and settings of an existing flock.
    pub async fn flock_update(&self, row: flock::Model) -> DbResult<flock::Model> {
        let mut am = row.clone().into_active_model();
        am.name = Set(row.name);
        am.status = Set(row.status);
        am.settings = Set(row.settings);
        am.updated_at = Set(row.updated_at);
        Ok(am.update(&self.conn).await?)
    }

    /// Deletes the flock; every flock-owned row goes with it (foreign keys cascade).
    pub async fn flock_delete(&self, id: FlockId) -> DbResult<bool> {
        let r = flock::Entity::delete_by_id(id.0).exec(&self.conn).await?;
        Ok(r.rows_affected > 0)
    }
}
