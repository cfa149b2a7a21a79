//! User meta: key/value pairs per user, public or private (`impl FlockDb`).
use super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::user_meta;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

pub use entity::user_meta::Model as MetaRow;

/// One pair to write.
#[derive(Debug, Clone)]
pub struct MetaPair {
    pub key: String,
    pub value: String,
    pub public: bool,
}

/// Where a page of users by meta ended: the last (value, user).
pub type MetaAfter = (String, uuid::Uuid);

impl FlockDb<'_> {
    /// Inserts or replaces `pairs` on the user, in one transaction that undoes the whole
    /// write (and answers false) when the user would hold more than `max_keys` keys.
    pub async fn meta_upsert(
        &self,
        user: UserId,
        pairs: Vec<MetaPair>,
        max_keys: u64,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let txn = self.db.write().await?;
        let rows = pairs.into_iter().map(|p| {
            self.own(user_meta::ActiveModel {
                user_id: Set(user.0),
                key: Set(p.key),
                value: Set(p.value),
                public: Set(p.public),
                updated_at: Set(now),
                ..Default::default()
            })
        });
        user_meta::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([user_meta::Column::UserId, user_meta::Column::Key])
                    .update_columns([
                        user_meta::Column::Value,
                        user_meta::Column::Public,
                        user_meta::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
        let held = self
            .find::<user_meta::Entity>()
            .filter(user_meta::Column::UserId.eq(user.0))
            .count(&txn)
            .await?;
        if held > max_keys {
            txn.rollback().await?;
            return Ok(false);
        }
        txn.commit().await?;
        self.forget_meta(user);
        Ok(true)
    }

    /// A user's pairs, by key; only the public ones when `public_only`.
    pub async fn meta_of(&self, user: UserId, public_only: bool) -> DbResult<Vec<MetaRow>> {
        let mut q = self
            .find::<user_meta::Entity>()
            .filter(user_meta::Column::UserId.eq(user.0));
        if public_only {
            q = q.filter(user_meta::Column::Public.eq(true));
        }
        Ok(q.order_by_asc(user_meta::Column::Key)
            .all(&self.db.conn)
            .await?)
    }

    /// The public pairs of a user through the short-lived cache (the hot path of
    /// `GET /user` and every sign-in answer); writes in this layer drop the entry.
    pub async fn public_meta_cached(&self, user: UserId) -> DbResult<Vec<(String, String)>> {
        if let Some(m) = self.db.public_meta.get(&(self.flock, user)) {
            return Ok(m.as_ref().clone());
        }
        let pairs: Vec<(String, String)> = self
            .meta_of(user, true)
            .await?
            .into_iter()
            .map(|m| (m.key, m.value))
            .collect();
        self.db
            .public_meta
            .insert((self.flock, user), std::sync::Arc::new(pairs.clone()));
        Ok(pairs)
    }

    fn forget_meta(&self, user: UserId) {
        self.forget_user(user);
    }

    /// Deletes a user's key (only when it holds `value`, if given); whether it did.
    pub async fn meta_delete(
        &self,
        user: UserId,
        key: &str,
        value: Option<&str>,
    ) -> DbResult<bool> {
        let mut q = self
            .delete::<user_meta::Entity>()
            .filter(user_meta::Column::UserId.eq(user.0))
            .filter(user_meta::Column::Key.eq(key));
        if let Some(v) = value {
            q = q.filter(user_meta::Column::Value.eq(v));
        }
        let deleted = q.exec(&self.db.writer).await?.rows_affected > 0;
        self.forget_meta(user);
        Ok(deleted)
    }

    /// The pairs holding `key` (and `value`, if given) across the flock's users, in the
    /// order of the (flock, key, value, user) index, after `after`.
    pub async fn meta_holders(
        &self,
        key: &str,
        value: Option<&str>,
        after: Option<&MetaAfter>,
        limit: u64,
    ) -> DbResult<Vec<MetaRow>> {
        let mut q = self
            .find::<user_meta::Entity>()
            .filter(user_meta::Column::Key.eq(key));
        if let Some(v) = value {
            q = q.filter(user_meta::Column::Value.eq(v));
        }
        match (value, after) {
            // One value: the index is already at it, the keyset is the user id alone (a
            // row-value compare here makes SQLite sort the range instead).
            (Some(_), Some((_, u))) => q = q.filter(user_meta::Column::UserId.gt(*u)),
            (None, Some((v, u))) => {
                use sea_orm::sea_query::{Expr, ExprTrait};
                let cols = Expr::tuple([
                    Expr::col(user_meta::Column::Value),
                    Expr::col(user_meta::Column::UserId),
                ]);
                let vals = Expr::tuple([Expr::value(v.clone()), Expr::value(*u)]);
                q = q.filter(cols.gt(vals));
            }
            (_, None) => {}
        }
        Ok(q.order_by_asc(user_meta::Column::Value)
            .order_by_asc(user_meta::Column::UserId)
            .limit(limit)
            .all(&self.db.conn)
            .await?)
    }
}
