//! Searching users: filters that each map to an index starting with `flock_id`, two sort
//! orders, keyset pagination (the caller passes the last row's sort key; no OFFSET, no
//! COUNT on this path), list by ids, and a capped count.
use super::super::user::UserRow;
use super::super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::{group_member, user, user_meta};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

/// What to look for; every field narrows the search. Text values are already normalised
/// (emails and prefixes lowercase, phones E.164).
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub email: Option<String>,
    pub email_prefix: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub username: Option<String>,
    pub name_prefix: Option<String>,
    /// Empty: every status but `deleted`.
    pub statuses: Vec<String>,
    pub role: Option<String>,
    pub kind: Option<String>,
    pub business: Option<UserId>,
    pub group: Option<Uuid>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// A meta key, and optionally its value.
    pub meta: Option<(String, Option<String>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Oldest first.
    Created,
    /// Newest first.
    CreatedDesc,
    /// By the name key (lowercase "first last", or the company), then id.
    Name,
}

/// Where the previous page ended: the sort key of its last row.
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    Created(DateTime<Utc>, Uuid),
    Name(String, Uuid),
}

/// The smallest string above every string that starts with `prefix` (in byte order).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

impl FlockDb<'_> {
    fn user_filter(&self, q: &UserQuery) -> Select<user::Entity> {
        let mut s = self.find::<user::Entity>();
        if let Some(v) = &q.email {
            s = s.filter(user::Column::Email.eq(v.as_str()));
        }
        if let Some(p) = &q.email_prefix {
            s = s
                .filter(user::Column::Email.gte(p.as_str()))
                .filter(user::Column::Email.lt(prefix_end(p)));
        }
        if let Some(v) = &q.phone {
            s = s.filter(user::Column::Phone.eq(v.as_str()));
        }
        if let Some(v) = &q.external_id {
            s = s.filter(user::Column::ExternalId.eq(v.as_str()));
        }
        if let Some(v) = &q.username {
            s = s.filter(user::Column::Username.eq(v.as_str()));
        }
        if let Some(p) = &q.name_prefix {
            s = s
                .filter(user::Column::NameKey.gte(p.as_str()))
                .filter(user::Column::NameKey.lt(prefix_end(p)));
        }
        s = if q.statuses.is_empty() {
            s.filter(user::Column::Status.ne("deleted"))
        } else {
            s.filter(user::Column::Status.is_in(q.statuses.iter().map(String::as_str)))
        };
        if let Some(v) = &q.role {
            s = s.filter(user::Column::Role.eq(v.as_str()));
        }
        if let Some(v) = &q.kind {
            s = s.filter(user::Column::Kind.eq(v.as_str()));
        }
        if let Some(b) = q.business {
            s = s.filter(user::Column::BusinessId.eq(b.0));
        }
        if let Some(t) = q.created_from {
            s = s.filter(user::Column::CreatedAt.gte(t));
        }
        if let Some(t) = q.created_to {
            s = s.filter(user::Column::CreatedAt.lt(t));
        }
        if let Some(g) = q.group {
            let members = Query::select()
                .column(group_member::Column::UserId)
                .from(group_member::Entity)
                .and_where(group_member::Column::FlockId.eq(self.flock.as_uuid()))
                .and_where(group_member::Column::GroupId.eq(g))
                .to_owned();
            s = s.filter(user::Column::Id.in_subquery(members));
        }
        if let Some((key, value)) = &q.meta {
            let mut holders = Query::select()
                .column(user_meta::Column::UserId)
                .from(user_meta::Entity)
                .and_where(user_meta::Column::FlockId.eq(self.flock.as_uuid()))
                .and_where(user_meta::Column::Key.eq(key.as_str()))
                .to_owned();
            if let Some(v) = value {
                holders.and_where(user_meta::Column::Value.eq(v.as_str()));
            }
            s = s.filter(user::Column::Id.in_subquery(holders));
        }
        s
    }

    /// One page of users matching `q`, in `sort` order, after `after`.
    pub async fn user_search(
        &self,
        q: &UserQuery,
        sort: Sort,
        after: Option<&After>,
        limit: u64,
    ) -> DbResult<Vec<UserRow>> {
        let mut s = self.user_filter(q);
        let (col, id) = (user::Column::CreatedAt, user::Column::Id);
        s = match sort {
            Sort::Created => s.order_by_asc(col).order_by_asc(id),
            Sort::CreatedDesc => s.order_by_desc(col).order_by_desc(id),
            Sort::Name => s.order_by_asc(user::Column::NameKey).order_by_asc(id),
        };
        if let Some(a) = after {
            let (cols, vals) = match a {
                After::Created(t, i) => (
                    Expr::tuple([Expr::col(col), Expr::col(id)]),
                    Expr::tuple([Expr::value(*t), Expr::value(*i)]),
                ),
                After::Name(n, i) => (
                    Expr::tuple([Expr::col(user::Column::NameKey), Expr::col(id)]),
                    Expr::tuple([Expr::value(n.clone()), Expr::value(*i)]),
                ),
            };
            let cmp = if sort == Sort::CreatedDesc {
                cols.lt(vals)
            } else {
                cols.gt(vals)
            };
            s = s.filter(Condition::all().add(cmp));
        }
        Ok(s.limit(limit).all(&self.db.conn).await?)
    }

    /// How many users match `q`, counting at most `cap` (a separate, bounded operation:
    /// never on the search path).
    pub async fn user_count(&self, q: &UserQuery, cap: u64) -> DbResult<u64> {
        let capped = self
            .user_filter(q)
            .select_only()
            .column(user::Column::Id)
            .limit(cap);
        Ok(capped.count(&self.db.conn).await?)
    }

    /// Users among `ids`, by id, after `after`; `deleted` ones never, `inactive` ones only
    /// when asked.
    pub async fn users_by_ids(
        &self,
        ids: &[UserId],
        include_inactive: bool,
        after: Option<Uuid>,
        limit: u64,
    ) -> DbResult<Vec<UserRow>> {
        let mut excluded = vec!["deleted"];
        if !include_inactive {
            excluded.push("inactive");
        }
        let mut s = self
            .find::<user::Entity>()
            .filter(user::Column::Id.is_in(ids.iter().map(|i| i.0)))
            .filter(user::Column::Status.is_not_in(excluded));
        if let Some(a) = after {
            s = s.filter(user::Column::Id.gt(a));
        }
        Ok(s.order_by_asc(user::Column::Id)
            .limit(limit)
            .all(&self.db.conn)
            .await?)
    }
}
