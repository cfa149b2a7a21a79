//! A flock's profile field schema: one versioned JSON document (groups and fields).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "profile_schemas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub flock_id: Uuid,
    pub version: i64,
    pub doc: Json,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
