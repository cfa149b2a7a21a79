//! Flock API keys (`impl FlockDb`) and platform keys (`impl Db`: they belong to no flock).
use super::{Db, DbResult, FlockDb};
use chrono::{DateTime, Utc};
use entity::{api_key, platform_key};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, TryIntoModel,
};
use uuid::Uuid;

pub use entity::api_key::Model as ApiKeyRow;
pub use entity::platform_key::Model as PlatformKeyRow;

/// A flock key about to be stored (its digest only); the gateway adds the flock.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: Uuid,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub name: String,
    pub scopes: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl NewApiKey {
    pub(super) fn into_active(self) -> api_key::ActiveModel {
        api_key::ActiveModel {
            id: Set(self.id),
            prefix: Set(self.prefix),
            secret_hash: Set(self.secret_hash),
            name: Set(self.name),
            scopes: Set(self.scopes),
            created_at: Set(self.created_at),
            last_used_at: Set(None),
            revoked_at: Set(None),
            ..Default::default()
        }
    }
}

impl FlockDb<'_> {
    pub async fn api_key_insert(&self, key: NewApiKey) -> DbResult<ApiKeyRow> {
        let am = self.own(key.into_active());
        api_key::Entity::insert(am.clone())
            .exec(&self.db.writer)
            .await?;
        am.try_into_model().map_err(Into::into)
    }

    pub async fn api_key_by_prefix(&self, prefix: &str) -> DbResult<Option<ApiKeyRow>> {
        Ok(self
            .find::<api_key::Entity>()
            .filter(api_key::Column::Prefix.eq(prefix))
            .one(&self.db.conn)
            .await?)
    }

    pub async fn api_key_list(&self) -> DbResult<Vec<ApiKeyRow>> {
        Ok(self
            .find::<api_key::Entity>()
            .order_by_asc(api_key::Column::CreatedAt)
            .all(&self.db.conn)
            .await?)
    }

    /// Revokes a live key; false when there is none with this id in the flock.
    pub async fn api_key_revoke(&self, id: Uuid, now: DateTime<Utc>) -> DbResult<bool> {
        let r = self
            .update::<api_key::Entity>()
            .col_expr(api_key::Column::RevokedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected > 0)
    }

    pub async fn api_key_touch(&self, id: Uuid, now: DateTime<Utc>) -> DbResult<()> {
        self.update::<api_key::Entity>()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(id))
            .exec(&self.db.writer)
            .await?;
        Ok(())
    }
}

impl Db {
    pub async fn platform_key_insert(&self, row: PlatformKeyRow) -> DbResult<()> {
        platform_key::Entity::insert(row.into_active_model())
            .exec(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn platform_key_by_prefix(&self, prefix: &str) -> DbResult<Option<PlatformKeyRow>> {
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
