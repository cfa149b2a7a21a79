//! A flock's signing keys (`impl FlockDb`).
use super::{DbResult, FlockDb};
use chrono::{DateTime, Utc};
use entity::signing_key;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub use entity::signing_key::Model as SigningKeyRow;

/// A key pair about to be stored; the gateway adds the flock.
#[derive(Debug, Clone)]
pub struct NewSigningKey {
    pub id: Uuid,
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 DER private key.
    pub private_der: Vec<u8>,
    /// Raw 32-byte public key.
    pub public_raw: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl NewSigningKey {
    pub(super) fn into_active(self) -> signing_key::ActiveModel {
        signing_key::ActiveModel {
            id: Set(self.id),
            kid: Set(self.kid),
            algorithm: Set(self.algorithm),
            private_der: Set(self.private_der),
            public_raw: Set(self.public_raw),
            created_at: Set(self.created_at),
            retired_at: Set(None),
            ..Default::default()
        }
    }
}

impl FlockDb<'_> {
    /// The flock's keys, newest first.
    pub async fn signing_keys(&self) -> DbResult<Vec<SigningKeyRow>> {
        Ok(self
            .find::<signing_key::Entity>()
            .order_by_desc(signing_key::Column::CreatedAt)
            .all(&self.db.conn)
            .await?)
    }

    /// Adds a new signing key and retires the flock's current ones, atomically.
    pub async fn signing_key_rotate(&self, key: NewSigningKey, now: DateTime<Utc>) -> DbResult<()> {
        let txn = self.db.write().await?;
        self.update::<signing_key::Entity>()
            .col_expr(signing_key::Column::RetiredAt, Expr::value(now))
            .filter(signing_key::Column::RetiredAt.is_null())
            .exec(&txn)
            .await?;
        signing_key::Entity::insert(self.own(key.into_active()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}
