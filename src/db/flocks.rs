//! Flocks. The flocks table is the one table not scoped by a flock: it *is* the flocks,
//! so these are `impl Db`, for platform operations and tenant resolution.
use super::api_keys::NewApiKey;
use super::signing::NewSigningKey;
use super::{Db, DbResult, FlockId};
use chrono::{DateTime, Utc};
use entity::{api_key, flock, signing_key};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

/// A flock as stored: its id typed, the rest as the columns hold it.
#[derive(Debug, Clone)]
pub struct FlockRecord {
    pub id: FlockId,
    pub slug: String,
    pub name: String,
    pub status: String,
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<flock::Model> for FlockRecord {
    fn from(m: flock::Model) -> Self {
        Self {
            id: FlockId::from_stored(m.id),
            slug: m.slug,
            name: m.name,
            status: m.status,
            settings: m.settings,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl From<FlockRecord> for flock::Model {
    fn from(r: FlockRecord) -> Self {
        Self {
            id: r.id.as_uuid(),
            slug: r.slug,
            name: r.name,
            status: r.status,
            settings: r.settings,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl Db {
    /// Creates the flock with its first signing key and admin API key, atomically.
    pub async fn flock_create(
        &self,
        record: FlockRecord,
        key: NewSigningKey,
        admin_key: NewApiKey,
    ) -> DbResult<()> {
        let scope = self.scoped(record.id);
        let txn = self.write().await?;
        flock::Entity::insert(flock::Model::from(record).into_active_model())
            .exec(&txn)
            .await?;
        signing_key::Entity::insert(scope.own(key.into_active()))
            .exec(&txn)
            .await?;
        api_key::Entity::insert(scope.own(admin_key.into_active()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn flock_by_slug(&self, slug: &str) -> DbResult<Option<FlockRecord>> {
        Ok(flock::Entity::find()
            .filter(flock::Column::Slug.eq(slug))
            .one(&self.conn)
            .await?
            .map(FlockRecord::from))
    }

    /// Flocks ordered by slug, starting after `after` (cursor pagination).
    pub async fn flock_list(&self, after: Option<&str>, limit: u64) -> DbResult<Vec<FlockRecord>> {
        let mut q = flock::Entity::find().order_by_asc(flock::Column::Slug);
        if let Some(after) = after {
            q = q.filter(flock::Column::Slug.gt(after));
        }
        let rows = q.limit(limit).all(&self.conn).await?;
        Ok(rows.into_iter().map(FlockRecord::from).collect())
    }

    /// Writes name, status and settings of an existing flock.
    pub async fn flock_update(&self, record: FlockRecord) -> DbResult<FlockRecord> {
        let row = flock::Model::from(record);
        let mut am = row.clone().into_active_model();
        am.name = Set(row.name);
        am.status = Set(row.status);
        am.settings = Set(row.settings);
        am.updated_at = Set(row.updated_at);
        Ok(am.update(&self.writer).await?.into())
    }

    /// Deletes the flock; every flock-owned row goes with it (foreign keys cascade).
    pub async fn flock_delete(&self, id: FlockId) -> DbResult<bool> {
        let r = flock::Entity::delete_by_id(id.as_uuid())
            .exec(&self.writer)
            .await?;
        Ok(r.rows_affected > 0)
    }
}
