//! A flock API key for server-to-server calls. Only a hash of the secret is stored.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub flock_id: Uuid,
    /// Public, non-secret lookup part shown in listings (`fk_<prefix>`).
    #[sea_orm(unique)]
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub name: String,
    /// JSON array of operation ids or patterns (`*`, `user_*`).
    pub scopes: Json,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
