//! Addresses and their change requests (`impl FlockDb`).
use super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::{address, address_request};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

pub use entity::address::Model as AddressRow;
pub use entity::address_request::Model as RequestRow;

/// How a decision on a request went.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    Done(RequestRow),
    /// No such request in this flock.
    Unknown,
    /// Already accepted or rejected.
    NotPending(RequestRow),
    /// Accepted, but the address was deleted meanwhile: the request is rejected.
    AddressGone(RequestRow),
}

impl FlockDb<'_> {
    pub async fn address_create(
        &self,
        user: UserId,
        kind: &str,
        fields: Value,
        now: DateTime<Utc>,
    ) -> DbResult<AddressRow> {
        let row = self.own(address::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user.0),
            kind: Set(kind.to_owned()),
            fields: Set(fields),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        Ok(address::Entity::insert(row)
            .exec_with_returning(&self.db.writer)
            .await?)
    }

    /// A user's addresses (of one type, if given), oldest first.
    pub async fn addresses_of(
        &self,
        user: UserId,
        kind: Option<&str>,
    ) -> DbResult<Vec<AddressRow>> {
        let mut q = self
            .find::<address::Entity>()
            .filter(address::Column::UserId.eq(user.0));
        if let Some(k) = kind {
            q = q.filter(address::Column::Kind.eq(k));
        }
        Ok(q.order_by_asc(address::Column::CreatedAt)
            .order_by_asc(address::Column::Id)
            .limit(100)
            .all(&self.db.conn)
            .await?)
    }

    /// One of a user's addresses.
    pub async fn address(&self, user: UserId, id: Uuid) -> DbResult<Option<AddressRow>> {
        Ok(self
            .find::<address::Entity>()
            .filter(address::Column::UserId.eq(user.0))
            .filter(address::Column::Id.eq(id))
            .one(&self.db.conn)
            .await?)
    }

    /// How many addresses a user holds.
    pub async fn address_count(&self, user: UserId) -> DbResult<u64> {
        use sea_orm::PaginatorTrait;
        Ok(self
            .find::<address::Entity>()
            .filter(address::Column::UserId.eq(user.0))
            .count(&self.db.conn)
            .await?)
    }

    pub async fn address_update(
        &self,
        user: UserId,
        id: Uuid,
        fields: Value,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let r = self
            .update::<address::Entity>()
            .col_expr(address::Column::Fields, Expr::value(fields))
            .col_expr(address::Column::UpdatedAt, Expr::value(now))
            .filter(address::Column::UserId.eq(user.0))
            .filter(address::Column::Id.eq(id))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Deletes an address; its pending requests are rejected (nothing is left to change).
    pub async fn address_delete(
        &self,
        user: UserId,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let txn = self.db.write().await?;
        let gone = self
            .delete::<address::Entity>()
            .filter(address::Column::UserId.eq(user.0))
            .filter(address::Column::Id.eq(id))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if gone {
            self.update::<address_request::Entity>()
                .col_expr(address_request::Column::Status, Expr::value("rejected"))
                .col_expr(address_request::Column::DecidedAt, Expr::value(Some(now)))
                .filter(address_request::Column::AddressId.eq(id))
                .filter(address_request::Column::Status.eq("pending"))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(gone)
    }

    /// A pending request to change `address` from `old` to `new`; an earlier pending
    /// request for the same address is superseded (rejected).
    pub async fn request_create(
        &self,
        user: UserId,
        address: Uuid,
        old: Value,
        new: Value,
        now: DateTime<Utc>,
    ) -> DbResult<RequestRow> {
        let txn = self.db.write().await?;
        self.update::<address_request::Entity>()
            .col_expr(address_request::Column::Status, Expr::value("rejected"))
            .col_expr(address_request::Column::DecidedAt, Expr::value(Some(now)))
            .filter(address_request::Column::AddressId.eq(address))
            .filter(address_request::Column::Status.eq("pending"))
            .exec(&txn)
            .await?;
        let row = self.own(address_request::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user.0),
            address_id: Set(address),
            status: Set("pending".to_owned()),
            old_fields: Set(old),
            new_fields: Set(new),
            created_at: Set(now),
            decided_at: Set(None),
            ..Default::default()
        });
        let row = address_request::Entity::insert(row)
            .exec_with_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok(row)
    }

    /// A user's requests, newest first (at most 100).
    pub async fn requests_of(&self, user: UserId) -> DbResult<Vec<RequestRow>> {
        Ok(self
            .find::<address_request::Entity>()
            .filter(address_request::Column::UserId.eq(user.0))
            .order_by_desc(address_request::Column::CreatedAt)
            .order_by_desc(address_request::Column::Id)
            .limit(100)
            .all(&self.db.conn)
            .await?)
    }

    /// A page of the flock's requests in `status`, oldest first, after (created, id).
    pub async fn requests_page(
        &self,
        status: &str,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> DbResult<Vec<RequestRow>> {
        let mut q = self
            .find::<address_request::Entity>()
            .filter(address_request::Column::Status.eq(status));
        if let Some((t, id)) = after {
            let cols = Expr::tuple([
                Expr::col(address_request::Column::CreatedAt),
                Expr::col(address_request::Column::Id),
            ]);
            let vals = Expr::tuple([Expr::value(t), Expr::value(id)]);
            q = q.filter(Condition::all().add(cols.gt(vals)));
        }
        Ok(q.order_by_asc(address_request::Column::CreatedAt)
            .order_by_asc(address_request::Column::Id)
            .limit(limit)
            .all(&self.db.conn)
            .await?)
    }

    /// Accepts (the address takes the new fields) or rejects a pending request, in one
    /// transaction.
    pub async fn request_decide(
        &self,
        id: Uuid,
        accept: bool,
        now: DateTime<Utc>,
    ) -> DbResult<Decided> {
        let txn = self.db.write().await?;
        let Some(req) = self
            .find::<address_request::Entity>()
            .filter(address_request::Column::Id.eq(id))
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Ok(Decided::Unknown);
        };
        if req.status != "pending" {
            txn.rollback().await?;
            return Ok(Decided::NotPending(req));
        }
        let mut status = if accept { "accepted" } else { "rejected" };
        let mut gone = false;
        if accept {
            let current = self
                .find::<address::Entity>()
                .filter(address::Column::Id.eq(req.address_id))
                .filter(address::Column::UserId.eq(req.user_id))
                .one(&txn)
                .await?;
            match current {
                Some(a) => {
                    let fields = three_way(&a.fields, &req.old_fields, &req.new_fields);
                    self.update::<address::Entity>()
                        .col_expr(address::Column::Fields, Expr::value(fields))
                        .col_expr(address::Column::UpdatedAt, Expr::value(now))
                        .filter(address::Column::Id.eq(a.id))
                        .exec(&txn)
                        .await?;
                }
                None => {
                    status = "rejected";
                    gone = true;
                }
            }
        }
        self.update::<address_request::Entity>()
            .col_expr(address_request::Column::Status, Expr::value(status))
            .col_expr(address_request::Column::DecidedAt, Expr::value(Some(now)))
            .filter(address_request::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        let row = RequestRow {
            status: status.to_owned(),
            decided_at: Some(now),
            ..req
        };
        Ok(if gone {
            Decided::AddressGone(row)
        } else {
            Decided::Done(row)
        })
    }
}

/// The address as it is now, with the fields the request changed (those that differ
/// between `old` and `new`) set as requested: a change made meanwhile to another field
/// (by the back office) is kept.
fn three_way(current: &Value, old: &Value, new: &Value) -> Value {
    let mut out = current.as_object().cloned().unwrap_or_default();
    let (old, new) = (old.as_object(), new.as_object());
    let keys = old
        .into_iter()
        .chain(new)
        .flat_map(|m| m.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>();
    for k in keys {
        let (o, n) = (old.and_then(|m| m.get(&k)), new.and_then(|m| m.get(&k)));
        if o != n {
            match n {
                Some(v) if !v.is_null() => out.insert(k, v.clone()),
                _ => out.remove(&k),
            };
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::three_way;
    use serde_json::json;

    #[test]
    fn accepting_keeps_what_changed_meanwhile_and_applies_what_was_asked() {
        let old = json!({"city": "Paris", "zip": "75001", "phone": "+33100000000"});
        let new = json!({"city": "Lyon", "zip": "69001"});
        let now = json!({"city": "Paris", "zip": "75001", "phone": "+33100000000",
                         "street": "Rue X"});
        assert_eq!(
            three_way(&now, &old, &new),
            json!({"city": "Lyon", "zip": "69001", "street": "Rue X"})
        );
    }
}
