//! A flock's JWT signing key pair (Ed25519). `retired_at` marks keys that no longer sign
//! but still verify until their tokens have expired.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub flock_id: Uuid,
    /// Key id published in the JWKS and in the JWT header.
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 DER private key.
    pub private_der: Vec<u8>,
    /// Raw 32-byte public key.
    pub public_raw: Vec<u8>,
    pub created_at: DateTimeUtc,
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
