//! An event of a flock (`user.created`, …), written in the transaction of its change; the
//! webhook worker fans it out (`fanned_out`). The same rows are the flock's audit log.
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
    /// The user the event is about, if any.
    pub user_id: Option<Uuid>,
    /// Who acted: `user:<id>`, `manager:<id>`, `api_key:<id>`, `platform:<id>`, `system`.
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A short word: a sign-in's method, a failure's reason.
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
