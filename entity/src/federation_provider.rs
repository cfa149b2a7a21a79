//! A sign-in provider of a flock: `name` is what URLs use (`google`, `apple`, or a name
//! the flock chooses for an `oidc` / `oauth2` provider). The client secret (or Apple's
//! signing key) is sealed (`secret_sealed`, never returned); `config` holds the rest by
//! kind (issuer, endpoints, claim mapping, scopes, trusted audiences, Apple team and key id).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "federation_providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub flock_id: Uuid,
    pub name: String,
    pub kind: String,
    pub client_id: String,
    pub secret_sealed: Option<String>,
    pub config: Json,
    pub enabled: bool,
    pub allow_signup: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
