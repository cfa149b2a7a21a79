//! Signing keys, flock API keys and platform keys.
use super::{Db, DbResult};
use crate::ids::FlockId;
use chrono::{DateTime, Utc};
use entity::{api_key, platform_key, signing_key};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

impl Db {
    pub async fn signing_keys(&self, flock: FlockId) -> DbResult<Vec<signing_key::Model>> {
        Ok(signing_key::Entity::find()
            .filter(signing_key::Column::FlockId.eq(flock.0))
            .order_by_desc(signing_key::Column::CreatedAt)
            .all(&self.conn)
            .await?)
    }

    /// Adds a new signing key and retires the flock's current ones, atomically.
    pub async fn signing_key_rotate(
        &self,
        flock: FlockId,
        key: signing_key::Model,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        use sea_orm::TransactionTrait;
        let txn = self.conn.begin().await?;
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::RetiredAt, Expr::value(now))
            .filter(signing_key::Column::FlockId.eq(flock.0))
            .filter(signing_key::Column::RetiredAt.is_null())
            .exec(&txn)
            .await?;
        signing_key::Entity::insert(key.into_active_model())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    pub async fn api_key_insert(&self, row: api_key::Model) -> DbResult<()> {
        api_key::Entity::insert(row.into_active_model())
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    pub async fn api_key_by_prefix(
        &self,
        flock: FlockId,
        prefix: &str,
    ) -> DbResult<Option<api_key::Model>> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::FlockId.eq(flock.0))
            .filter(api_key::Column::Prefix.eq(prefix))
            .one(&self.conn)
            .await?)
    }

    pub async fn api_key_list(&self, flock: FlockId) -> DbResult<Vec<api_key::Model>> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::FlockId.eq(flock.0))
            .order_by_asc(api_key::Column::CreatedAt)
            .all(&self.conn)
            .await?)
    }

    pub async fn api_key_revoke(
        &self,
        flock: FlockId,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let r = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(now))
            .filter(api_key::Column::FlockId.eq(flock.0))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.conn)
            .await?;
        Ok(r.rows_affected > 0)
    }

    pub async fn api_key_touch(
        &self,
        flock: FlockId,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::FlockId.eq(flock.0))
            .filter(api_key::Column::Id.eq(id))
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    pub async fn platform_key_insert(&self, row: platform_key::Model) -> DbResult<()> {
        platform_key::Entity::insert(row.into_active_model())
            .exec(&self.conn)
            .await?;
        Ok(())
    }

    pub async fn platform_key_by_prefix(
        &self,
        prefix: &str,
    ) -> DbResult<Option<platform_key::Model>> {
        Ok(platform_key::Entity::find()
            .filter(platform_key::Column::Prefix.eq(prefix))
            .one(&self.conn)
            .await?)
    }

    pub async fn platform_key_count(&self) -> DbResult<u64> {
        Ok(platform_key::Entity::find()
            .filter(platform_key::Column::RevokedAt.is_null())
            .count(&self.conn)
            .await?)
    }
}
