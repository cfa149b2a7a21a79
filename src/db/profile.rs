//! Profile data (`impl FlockDb`): the flock's field schema (one versioned document) and
//! the users' values, with their search keys and `public` flags.
use super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::{profile_schema, profile_value};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

pub use entity::profile_value::Model as ValueRow;

/// A value to store: the field, its JSON, its search key, whether it is public.
#[derive(Debug, Clone, PartialEq)]
pub struct NewValue {
    pub field: String,
    pub value: Value,
    pub key: Option<String>,
    pub public: bool,
}

/// A schema change as the database applies it, in one transaction.
#[derive(Debug, Clone, Default)]
pub struct SchemaWrite {
    pub doc: Value,
    /// (field, public) for every field the new schema defines.
    pub public: Vec<(String, bool)>,
    /// Fields the schema no longer defines: their values stay, hidden (`public` off).
    pub retired: Vec<String>,
    /// (field, users) whose values the change drops (`drop_invalid`).
    pub drop: Vec<(String, Vec<Uuid>)>,
    /// Values normalised to their field's new definition (value and search key).
    pub rewrite: Vec<(Uuid, NewValue)>,
}

impl FlockDb<'_> {
    /// Drops every cached public profile here (values of any user may have changed
    /// meaning), and tells the other replicas the flock's schema changed.
    fn forget_schema(&self) {
        self.db.public_profile.invalidate_all();
        self.db
            .announce
            .publish(crate::infra::invalidate::Topic::Schema(self.flock));
    }

    /// The flock's schema: (version, document), or None when never defined.
    pub async fn profile_schema(&self) -> DbResult<Option<(i64, Value)>> {
        Ok(self
            .find::<profile_schema::Entity>()
            .one(&self.db.conn)
            .await?
            .map(|r| (r.version, r.doc)))
    }

    /// Writes the schema as version `expected + 1` if the stored version is still
    /// `expected` (None otherwise: someone changed it meanwhile), with its effects on the
    /// values, all in one transaction.
    pub async fn profile_schema_put(
        &self,
        expected: i64,
        w: SchemaWrite,
        now: DateTime<Utc>,
    ) -> DbResult<Option<i64>> {
        let txn = self.db.write().await?;
        let current = self
            .find::<profile_schema::Entity>()
            .one(&txn)
            .await?
            .map_or(0, |r| r.version);
        if current != expected {
            txn.rollback().await?;
            return Ok(None);
        }
        let version = expected + 1;
        let row = self.own(profile_schema::ActiveModel {
            version: Set(version),
            doc: Set(w.doc),
            updated_at: Set(now),
            ..Default::default()
        });
        profile_schema::Entity::insert(row)
            .on_conflict(
                OnConflict::column(profile_schema::Column::FlockId)
                    .update_columns([
                        profile_schema::Column::Version,
                        profile_schema::Column::Doc,
                        profile_schema::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
        let flags = w
            .public
            .into_iter()
            .chain(w.retired.into_iter().map(|f| (f, false)));
        for (field, public) in flags {
            self.update::<profile_value::Entity>()
                .col_expr(
                    profile_value::Column::Public,
                    sea_orm::sea_query::Expr::value(public),
                )
                .filter(profile_value::Column::Field.eq(field))
                .filter(profile_value::Column::Public.ne(public))
                .exec(&txn)
                .await?;
        }
        for chunk in w.rewrite.chunks(500) {
            self.profile_rows_upsert_on(&txn, chunk.to_vec(), now)
                .await?;
        }
        for (field, users) in w.drop {
            for chunk in users.chunks(500) {
                self.delete::<profile_value::Entity>()
                    .filter(profile_value::Column::Field.eq(field.as_str()))
                    .filter(profile_value::Column::UserId.is_in(chunk.iter().copied()))
                    .exec(&txn)
                    .await?;
            }
        }
        txn.commit().await?;
        self.forget_schema();
        Ok(Some(version))
    }

    /// A page of a field's values, by user id after `after` (for checking them all).
    pub async fn profile_field_values(
        &self,
        field: &str,
        after: Option<Uuid>,
        limit: u64,
    ) -> DbResult<Vec<(Uuid, Value)>> {
        let mut q = self
            .find::<profile_value::Entity>()
            .filter(profile_value::Column::Field.eq(field));
        if let Some(a) = after {
            q = q.filter(profile_value::Column::UserId.gt(a));
        }
        Ok(q.select_only()
            .columns([profile_value::Column::UserId, profile_value::Column::Value])
            .order_by_asc(profile_value::Column::UserId)
            .limit(limit)
            .into_tuple()
            .all(&self.db.conn)
            .await?)
    }

    /// Deletes every value of `field`; how many.
    pub async fn profile_values_purge(&self, field: &str) -> DbResult<u64> {
        let n = self
            .delete::<profile_value::Entity>()
            .filter(profile_value::Column::Field.eq(field))
            .exec(&self.db.writer)
            .await?
            .rows_affected;
        self.forget_schema();
        Ok(n)
    }

    /// Every value of a user (of fields defined or retired).
    pub async fn profile_values_of(&self, user: UserId) -> DbResult<Vec<ValueRow>> {
        Ok(self
            .find::<profile_value::Entity>()
            .filter(profile_value::Column::UserId.eq(user.0))
            .order_by_asc(profile_value::Column::Field)
            .all(&self.db.conn)
            .await?)
    }

    /// Sets (`Some`) or clears (`None`) values of a user, all in one transaction.
    pub async fn profile_values_write(
        &self,
        user: UserId,
        values: Vec<(String, Option<NewValue>)>,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let txn = self.db.write().await?;
        let (set, clear): (Vec<_>, Vec<_>) = values.into_iter().partition(|(_, v)| v.is_some());
        self.profile_values_insert_on(
            &txn,
            user,
            set.into_iter().filter_map(|(_, v)| v).collect(),
            now,
        )
        .await?;
        let clear: Vec<String> = clear.into_iter().map(|(f, _)| f).collect();
        if !clear.is_empty() {
            self.delete::<profile_value::Entity>()
                .filter(profile_value::Column::UserId.eq(user.0))
                .filter(profile_value::Column::Field.is_in(clear))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        self.forget_user(user);
        Ok(())
    }

    /// Inserts or replaces values of a user on `c` (an account's creation uses the
    /// transaction that creates it).
    pub(in crate::db) async fn profile_values_insert_on<C: ConnectionTrait>(
        &self,
        c: &C,
        user: UserId,
        values: Vec<NewValue>,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let rows = values.into_iter().map(|v| (user.0, v)).collect();
        self.profile_rows_upsert_on(c, rows, now).await
    }

    /// Inserts or replaces (user, value) rows on `c`.
    async fn profile_rows_upsert_on<C: ConnectionTrait>(
        &self,
        c: &C,
        rows: Vec<(Uuid, NewValue)>,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = rows.into_iter().map(|(user, v)| {
            self.own(profile_value::ActiveModel {
                user_id: Set(user),
                field: Set(v.field),
                value: Set(v.value),
                search_key: Set(v.key),
                public: Set(v.public),
                updated_at: Set(now),
                ..Default::default()
            })
        });
        profile_value::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([profile_value::Column::UserId, profile_value::Column::Field])
                    .update_columns([
                        profile_value::Column::Value,
                        profile_value::Column::SearchKey,
                        profile_value::Column::Public,
                        profile_value::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(c)
            .await?;
        Ok(())
    }

    /// The user's public values (`flock_data`), through the short-lived cache.
    pub async fn public_profile_cached(&self, user: UserId) -> DbResult<Vec<(String, Value)>> {
        if let Some(v) = self.db.public_profile.get(&(self.flock, user)) {
            return Ok(v.as_ref().clone());
        }
        let values: Vec<(String, Value)> = self
            .find::<profile_value::Entity>()
            .filter(profile_value::Column::UserId.eq(user.0))
            .filter(profile_value::Column::Public.eq(true))
            .select_only()
            .columns([profile_value::Column::Field, profile_value::Column::Value])
            .into_tuple()
            .all(&self.db.conn)
            .await?;
        self.db
            .public_profile
            .insert((self.flock, user), std::sync::Arc::new(values.clone()));
        Ok(values)
    }
}
