//! Admin groups, their members and grants (`impl FlockDb`).
use super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::{admin_grant, admin_group, admin_member};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

pub use entity::admin_grant::Model as GrantRow;
pub use entity::admin_group::Model as GroupRow;
pub use entity::admin_member::Model as MemberRow;

impl FlockDb<'_> {
    pub async fn admin_groups(&self) -> DbResult<Vec<GroupRow>> {
        Ok(self
            .find::<admin_group::Entity>()
            .order_by_asc(admin_group::Column::Name)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn admin_group(&self, id: Uuid) -> DbResult<Option<GroupRow>> {
        Ok(self
            .find::<admin_group::Entity>()
            .filter(admin_group::Column::Id.eq(id))
            .one(&self.db.conn)
            .await?)
    }

    pub async fn admin_group_named(&self, name: &str) -> DbResult<Option<GroupRow>> {
        Ok(self
            .find::<admin_group::Entity>()
            .filter(admin_group::Column::Name.eq(name))
            .one(&self.db.conn)
            .await?)
    }

    /// Every grant of the flock's groups (or of `group`).
    pub async fn admin_grants(&self, group: Option<Uuid>) -> DbResult<Vec<GrantRow>> {
        let mut q = self.find::<admin_grant::Entity>();
        if let Some(g) = group {
            q = q.filter(admin_grant::Column::GroupId.eq(g));
        }
        Ok(q.order_by_asc(admin_grant::Column::Operation)
            .all(&self.db.conn)
            .await?)
    }

    /// Members of the flock's groups (or of `group`).
    pub async fn admin_members(&self, group: Option<Uuid>) -> DbResult<Vec<MemberRow>> {
        let mut q = self.find::<admin_member::Entity>();
        if let Some(g) = group {
            q = q.filter(admin_member::Column::GroupId.eq(g));
        }
        Ok(q.order_by_asc(admin_member::Column::CreatedAt)
            .all(&self.db.conn)
            .await?)
    }

    /// The groups `user` belongs to.
    pub async fn admin_groups_of(&self, user: UserId) -> DbResult<Vec<Uuid>> {
        Ok(self
            .find::<admin_member::Entity>()
            .filter(admin_member::Column::UserId.eq(user.0))
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(|m| m.group_id)
            .collect())
    }

    /// A group with its grants, in one transaction (a `Conflict` for a taken name).
    pub async fn admin_group_insert(
        &self,
        id: Uuid,
        name: &str,
        builtin: bool,
        grants: &[(String, String)],
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let txn = self.db.write().await?;
        let row = admin_group::ActiveModel {
            id: Set(id),
            name: Set(name.to_owned()),
            builtin: Set(builtin),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        admin_group::Entity::insert(self.own(row))
            .exec(&txn)
            .await?;
        self.grants_insert_on(&txn, id, grants).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn grants_insert_on(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        group: Uuid,
        grants: &[(String, String)],
    ) -> DbResult<()> {
        if grants.is_empty() {
            return Ok(());
        }
        let rows = grants.iter().map(|(op, level)| {
            self.own(admin_grant::ActiveModel {
                group_id: Set(group),
                operation: Set(op.clone()),
                level: Set(level.clone()),
                ..Default::default()
            })
        });
        admin_grant::Entity::insert_many(rows).exec(txn).await?;
        Ok(())
    }

    /// Replaces a group's grants; whether the group exists.
    pub async fn admin_grants_replace(
        &self,
        group: Uuid,
        grants: &[(String, String)],
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let txn = self.db.write().await?;
        let r = self
            .update::<admin_group::Entity>()
            .filter(admin_group::Column::Id.eq(group))
            .col_expr(admin_group::Column::UpdatedAt, Expr::value(now))
            .exec(&txn)
            .await?;
        if r.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        self.delete::<admin_grant::Entity>()
            .filter(admin_grant::Column::GroupId.eq(group))
            .exec(&txn)
            .await?;
        self.grants_insert_on(&txn, group, grants).await?;
        txn.commit().await?;
        Ok(true)
    }

    pub async fn admin_group_delete(&self, group: Uuid) -> DbResult<bool> {
        let r = self
            .delete::<admin_group::Entity>()
            .filter(admin_group::Column::Id.eq(group))
            .filter(admin_group::Column::Builtin.eq(false))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// Adds a member (idempotent).
    pub async fn admin_member_add(
        &self,
        group: Uuid,
        user: UserId,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        let row = admin_member::ActiveModel {
            group_id: Set(group),
            user_id: Set(user.0),
            created_at: Set(now),
            ..Default::default()
        };
        let r = admin_member::Entity::insert(self.own(row))
            .on_conflict(
                sea_orm::sea_query::OnConflict::columns([
                    admin_member::Column::FlockId,
                    admin_member::Column::GroupId,
                    admin_member::Column::UserId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&self.db.writer)
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn admin_member_remove(&self, group: Uuid, user: UserId) -> DbResult<bool> {
        let r = self
            .delete::<admin_member::Entity>()
            .filter(admin_member::Column::GroupId.eq(group))
            .filter(admin_member::Column::UserId.eq(user.0))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// Removes the grants of operations not in `known`; what was removed.
    pub async fn admin_grants_cleanup(&self, known: &[&str]) -> DbResult<Vec<GrantRow>> {
        let txn = self.db.write().await?;
        let gone: Vec<GrantRow> = self
            .find::<admin_grant::Entity>()
            .filter(admin_grant::Column::Operation.is_not_in(known.iter().copied()))
            .all(&txn)
            .await?;
        if !gone.is_empty() {
            self.delete::<admin_grant::Entity>()
                .filter(admin_grant::Column::Operation.is_not_in(known.iter().copied()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(gone)
    }
}
