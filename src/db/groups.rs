//! Groups of users and their members (`impl FlockDb`).
use super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::{group_member, user_group};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub use entity::user_group::Model as GroupRow;

impl FlockDb<'_> {
    pub async fn group_create(
        &self,
        id: Uuid,
        name: &str,
        now: DateTime<Utc>,
    ) -> DbResult<GroupRow> {
        let row = self.own(user_group::ActiveModel {
            id: Set(id),
            name: Set(name.to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        user_group::Entity::insert(row)
            .exec(&self.db.writer)
            .await?;
        Ok(GroupRow {
            id,
            flock_id: self.flock.as_uuid(),
            name: name.to_owned(),
            created_at: now,
            updated_at: now,
        })
    }

    pub async fn group(&self, id: Uuid) -> DbResult<Option<GroupRow>> {
        Ok(self
            .find::<user_group::Entity>()
            .filter(user_group::Column::Id.eq(id))
            .one(&self.db.conn)
            .await?)
    }

    /// The flock's groups by name, after `after`.
    pub async fn group_list(&self, after: Option<&str>, limit: u64) -> DbResult<Vec<GroupRow>> {
        let mut q = self.find::<user_group::Entity>();
        if let Some(a) = after {
            q = q.filter(user_group::Column::Name.gt(a));
        }
        Ok(q.order_by_asc(user_group::Column::Name)
            .limit(limit)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn group_rename(&self, id: Uuid, name: &str, now: DateTime<Utc>) -> DbResult<bool> {
        use sea_orm::sea_query::Expr;
        let r = self
            .update::<user_group::Entity>()
            .col_expr(user_group::Column::Name, Expr::value(name))
            .col_expr(user_group::Column::UpdatedAt, Expr::value(now))
            .filter(user_group::Column::Id.eq(id))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Deletes the group; its memberships go with it (foreign key cascade).
    pub async fn group_delete(&self, id: Uuid) -> DbResult<bool> {
        let r = self
            .delete::<user_group::Entity>()
            .filter(user_group::Column::Id.eq(id))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Adds a member (idempotent: an existing membership is left as it is).
    pub async fn group_add(&self, group: Uuid, user: UserId, now: DateTime<Utc>) -> DbResult<()> {
        let row = self.own(group_member::ActiveModel {
            group_id: Set(group),
            user_id: Set(user.0),
            added_at: Set(now),
            ..Default::default()
        });
        group_member::Entity::insert(row)
            .on_conflict_do_nothing_on([
                group_member::Column::GroupId,
                group_member::Column::UserId,
            ])
            .exec(&self.db.writer)
            .await?;
        Ok(())
    }

    /// Removes a member (idempotent); whether there was one.
    pub async fn group_remove(&self, group: Uuid, user: UserId) -> DbResult<bool> {
        let r = self
            .delete::<group_member::Entity>()
            .filter(group_member::Column::GroupId.eq(group))
            .filter(group_member::Column::UserId.eq(user.0))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// Member ids of a group by id, after `after`.
    pub async fn group_member_ids(
        &self,
        group: Uuid,
        after: Option<Uuid>,
        limit: u64,
    ) -> DbResult<Vec<UserId>> {
        let mut q = self
            .find::<group_member::Entity>()
            .filter(group_member::Column::GroupId.eq(group));
        if let Some(a) = after {
            q = q.filter(group_member::Column::UserId.gt(a));
        }
        let rows = q
            .order_by_asc(group_member::Column::UserId)
            .limit(limit)
            .all(&self.db.conn)
            .await?;
        Ok(rows.into_iter().map(|r| UserId(r.user_id)).collect())
    }

    /// The groups a user belongs to, by name.
    pub async fn groups_of(&self, user: UserId) -> DbResult<Vec<GroupRow>> {
        let ids = self
            .find::<group_member::Entity>()
            .filter(group_member::Column::UserId.eq(user.0))
            .all(&self.db.conn)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self
            .find::<user_group::Entity>()
            .filter(user_group::Column::Id.is_in(ids.into_iter().map(|m| m.group_id)))
            .order_by_asc(user_group::Column::Name)
            .all(&self.db.conn)
            .await?)
    }
}
