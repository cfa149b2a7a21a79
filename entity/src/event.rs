//! An event of a flock (`user.created`, …), written in the transaction of its change; the
//! webhook worker fans it out (`fanned_out`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub flock_id: Uuid,
    #[sea_orm(column_name = "type")]
    pub r#type: String,
    pub occurred_at: DateTimeUtc,
    pub data: Json,
    pub fanned_out: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
