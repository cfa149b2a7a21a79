//! Searching users: filters that each map to an index starting with `flock_id`, two sort
//! orders, keyset pagination (the caller passes the last row's sort key; no OFFSET, no
//! COUNT on this path), list by ids, and a capped count.
//!
//! A page is read along the sort's index, skipping users that fail the other filters.
//! That is quick while matches are common, and a walk through the whole flock when they
//! are rare (a small group, a rare meta value, the few managers of a million users): so
//! each filter that has its own index is first probed there, at most `probe_cap + 1` ids;
//! the first one matching at most `probe_cap` users turns the search into a sort of
//! those few (their sort keys read by id, sorted here, the page's rows read by id).
//! Either way the answer is the same rows in the same order (`directory/search.rs` in the
//! tests runs both).
use super::super::user::UserRow;
use super::super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::{group_member, profile_value, user, user_meta};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    SelectGetableTuple, Selector,
};
use std::collections::HashMap;
use uuid::Uuid;

/// The default of `database.search_probe_cap`.
pub const PROBE_CAP: u64 = 2000;

/// A probe: the ids matching one filter, read through that filter's own index.
type Probe = Selector<SelectGetableTuple<Uuid>>;

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
    /// A profile field and the search key of its value (exact).
    pub profile: Option<(String, String)>,
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
        // Memberships and meta are checked row by row (an EXISTS on their keys), so a
        // page walked along the sort's index costs a lookup per row read, never a list
        // of every holder built first.
        if let Some(g) = q.group {
            let member = Query::select()
                .expr(Expr::val(1))
                .from(group_member::Entity)
                .and_where(group_member::Column::FlockId.eq(self.flock.as_uuid()))
                .and_where(group_member::Column::GroupId.eq(g))
                .and_where(
                    Expr::col((group_member::Entity, group_member::Column::UserId))
                        .equals((user::Entity, user::Column::Id)),
                )
                .to_owned();
            s = s.filter(Expr::exists(member));
        }
        if let Some((key, value)) = &q.meta {
            let mut holds = Query::select()
                .expr(Expr::val(1))
                .from(user_meta::Entity)
                .and_where(user_meta::Column::FlockId.eq(self.flock.as_uuid()))
                .and_where(
                    Expr::col((user_meta::Entity, user_meta::Column::UserId))
                        .equals((user::Entity, user::Column::Id)),
                )
                .and_where(user_meta::Column::Key.eq(key.as_str()))
                .to_owned();
            if let Some(v) = value {
                holds.and_where(user_meta::Column::Value.eq(v.as_str()));
            }
            s = s.filter(Expr::exists(holds));
        }
        if let Some((field, key)) = &q.profile {
            let has = Query::select()
                .expr(Expr::val(1))
                .from(profile_value::Entity)
                .and_where(profile_value::Column::FlockId.eq(self.flock.as_uuid()))
                .and_where(
                    Expr::col((profile_value::Entity, profile_value::Column::UserId))
                        .equals((user::Entity, user::Column::Id)),
                )
                .and_where(profile_value::Column::Field.eq(field.as_str()))
                .and_where(profile_value::Column::SearchKey.eq(key.as_str()))
                .to_owned();
            s = s.filter(Expr::exists(has));
        }
        s
    }

    /// The probes of `q` under `sort`: each filter that has an index of its own and is
    /// not the sort's (most selective first).
    fn probes(&self, q: &UserQuery, sort: Sort) -> Vec<Probe> {
        let cap = self.db.probe_cap + 1;
        let ids = |s: Select<user::Entity>| {
            s.select_only()
                .column(user::Column::Id)
                .limit(cap)
                .into_tuple::<Uuid>()
        };
        let mut probes = Vec::new();
        if let Some(g) = q.group {
            probes.push(
                self.find::<group_member::Entity>()
                    .filter(group_member::Column::GroupId.eq(g))
                    .select_only()
                    .column(group_member::Column::UserId)
                    .limit(cap)
                    .into_tuple::<Uuid>(),
            );
        }
        if let Some((key, value)) = &q.meta {
            let mut m = self
                .find::<user_meta::Entity>()
                .filter(user_meta::Column::Key.eq(key.as_str()));
            if let Some(v) = value {
                m = m.filter(user_meta::Column::Value.eq(v.as_str()));
            }
            probes.push(
                m.select_only()
                    .column(user_meta::Column::UserId)
                    .limit(cap)
                    .into_tuple::<Uuid>(),
            );
        }
        if let Some((field, key)) = &q.profile {
            probes.push(
                self.find::<profile_value::Entity>()
                    .filter(profile_value::Column::Field.eq(field.as_str()))
                    .filter(profile_value::Column::SearchKey.eq(key.as_str()))
                    .select_only()
                    .column(profile_value::Column::UserId)
                    .limit(cap)
                    .into_tuple::<Uuid>(),
            );
        }
        let users = || self.find::<user::Entity>();
        if let Some(b) = q.business {
            probes.push(ids(users().filter(user::Column::BusinessId.eq(b.0))));
        }
        if let Some(p) = &q.email_prefix {
            probes.push(ids(users()
                .filter(user::Column::Email.gte(p.as_str()))
                .filter(user::Column::Email.lt(prefix_end(p)))));
        }
        if let (Some(p), false) = (&q.name_prefix, sort == Sort::Name) {
            probes.push(ids(users()
                .filter(user::Column::NameKey.gte(p.as_str()))
                .filter(user::Column::NameKey.lt(prefix_end(p)))));
        }
        if let Some(k) = &q.kind {
            probes.push(ids(users().filter(user::Column::Kind.eq(k.as_str()))));
        }
        if let Some(r) = &q.role {
            probes.push(ids(users().filter(user::Column::Role.eq(r.as_str()))));
        }
        // One status under a creation sort is the status index's own order.
        if !q.statuses.is_empty() && (sort == Sort::Name || q.statuses.len() > 1) {
            let st = q.statuses.iter().map(String::as_str);
            probes.push(ids(users().filter(user::Column::Status.is_in(st))));
        }
        if sort == Sort::Name && (q.created_from.is_some() || q.created_to.is_some()) {
            let mut c = users();
            if let Some(t) = q.created_from {
                c = c.filter(user::Column::CreatedAt.gte(t));
            }
            if let Some(t) = q.created_to {
                c = c.filter(user::Column::CreatedAt.lt(t));
            }
            probes.push(ids(c));
        }
        probes
    }

    /// The ids of the first probe matching at most `probe_cap` users, if any does.
    async fn narrowed(&self, q: &UserQuery, sort: Sort) -> DbResult<Option<Vec<Uuid>>> {
        for probe in self.probes(q, sort) {
            let ids = probe.all(&self.db.conn).await?;
            if ids.len() as u64 <= self.db.probe_cap {
                return Ok(Some(ids));
            }
        }
        Ok(None)
    }

    /// One page of users matching `q`, in `sort` order, after `after`.
    pub async fn user_search(
        &self,
        q: &UserQuery,
        sort: Sort,
        after: Option<&After>,
        limit: u64,
    ) -> DbResult<Vec<UserRow>> {
        if let Some(ids) = self.narrowed(q, sort).await? {
            return self.user_search_among(q, sort, after, limit, ids).await;
        }
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

    /// The page among a few candidate ids: their sort keys read by id (no ORDER BY, so
    /// no planner walks the sort's index instead), sorted here in the database's order
    /// (bytes of `name_key`, then of the id), then the page's rows read by id.
    async fn user_search_among(
        &self,
        q: &UserQuery,
        sort: Sort,
        after: Option<&After>,
        limit: u64,
        ids: Vec<Uuid>,
    ) -> DbResult<Vec<UserRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut keys: Vec<(Uuid, DateTime<Utc>, String)> = self
            .user_filter(q)
            .filter(user::Column::Id.is_in(ids))
            .select_only()
            .columns([
                user::Column::Id,
                user::Column::CreatedAt,
                user::Column::NameKey,
            ])
            .into_tuple()
            .all(&self.db.conn)
            .await?;
        match sort {
            Sort::Created => keys.sort_by_key(|k| (k.1, k.0)),
            Sort::CreatedDesc => keys.sort_by_key(|k| std::cmp::Reverse((k.1, k.0))),
            Sort::Name => keys.sort_by(|a, b| (&a.2, a.0).cmp(&(&b.2, b.0))),
        }
        let page: Vec<Uuid> = keys
            .iter()
            .filter(|(id, t, n)| match after {
                None => true,
                Some(After::Created(at, ai)) if sort == Sort::CreatedDesc => (*t, *id) < (*at, *ai),
                Some(After::Created(at, ai)) => (*t, *id) > (*at, *ai),
                Some(After::Name(an, ai)) => (n, *id) > (an, *ai),
            })
            .take(limit as usize)
            .map(|k| k.0)
            .collect();
        let mut rows: HashMap<Uuid, UserRow> = self
            .find::<user::Entity>()
            .filter(user::Column::Id.is_in(page.iter().copied()))
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        Ok(page.iter().filter_map(|id| rows.remove(id)).collect())
    }

    /// How many users match `q`, counting at most `cap` (a separate, bounded operation:
    /// never on the search path).
    pub async fn user_count(&self, q: &UserQuery, cap: u64) -> DbResult<u64> {
        let mut s = self.user_filter(q);
        if let Some(ids) = self.narrowed(q, Sort::Created).await? {
            if ids.is_empty() {
                return Ok(0);
            }
            s = s.filter(user::Column::Id.is_in(ids));
        }
        let capped = s.select_only().column(user::Column::Id).limit(cap);
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
