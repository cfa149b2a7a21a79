//! User files' metadata (`impl FlockDb`); the bytes are in the file store.
use super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::user_file;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use uuid::Uuid;

pub use entity::user_file::Model as FileRow;

/// What is stored about a file's bytes.
#[derive(Debug, Clone)]
pub struct FileMeta {
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub renditions: Value,
    /// The store keys of these bytes end in this version.
    pub version: Uuid,
}

/// How adding a file went.
pub enum Added {
    Done(Box<FileRow>),
    /// The user already holds the flock's maximum.
    Full,
    /// The account is gone (erased meanwhile).
    Gone,
}

impl FlockDb<'_> {
    /// Adds a file at the end of the user's list, unless they hold `max` already (counted
    /// in the same write transaction, so parallel uploads cannot pass the cap).
    pub async fn file_add(
        &self,
        user: UserId,
        id: Uuid,
        meta: FileMeta,
        max: u32,
        now: DateTime<Utc>,
    ) -> DbResult<Added> {
        let txn = self.db.write().await?;
        if !self.lock_live_user(&txn, user).await? {
            txn.rollback().await?;
            return Ok(Added::Gone);
        }
        let held = self
            .find::<user_file::Entity>()
            .filter(user_file::Column::UserId.eq(user.0))
            .order_by_desc(user_file::Column::Position)
            .all(&txn)
            .await?;
        if held.len() as u32 >= max {
            txn.rollback().await?;
            return Ok(Added::Full);
        }
        let position = held.first().map_or(0, |f| f.position + 1);
        let row = self.own(user_file::ActiveModel {
            id: Set(id),
            user_id: Set(user.0),
            position: Set(position),
            name: Set(meta.name),
            content_type: Set(meta.content_type),
            size: Set(meta.size),
            width: Set(meta.width),
            height: Set(meta.height),
            renditions: Set(meta.renditions),
            version: Set(meta.version),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        let row = user_file::Entity::insert(row)
            .exec_with_returning(&txn)
            .await?;
        txn.commit().await?;
        self.forget_user(user);
        Ok(Added::Done(Box::new(row)))
    }

    /// A user's files in their order.
    pub async fn files_of(&self, user: UserId) -> DbResult<Vec<FileRow>> {
        Ok(self
            .find::<user_file::Entity>()
            .filter(user_file::Column::UserId.eq(user.0))
            .order_by_asc(user_file::Column::Position)
            .order_by_asc(user_file::Column::Id)
            .all(&self.db.conn)
            .await?)
    }

    /// A user's files through the short-lived cache (what `GET /user` shows).
    pub async fn files_cached(&self, user: UserId) -> DbResult<Vec<FileRow>> {
        if let Some(v) = self.db.files.get(&(self.flock, user)) {
            return Ok(v.as_ref().clone());
        }
        let rows = self.files_of(user).await?;
        self.db
            .files
            .insert((self.flock, user), std::sync::Arc::new(rows.clone()));
        Ok(rows)
    }

    /// One of a user's files.
    pub async fn file(&self, user: UserId, id: Uuid) -> DbResult<Option<FileRow>> {
        Ok(self
            .find::<user_file::Entity>()
            .filter(user_file::Column::UserId.eq(user.0))
            .filter(user_file::Column::Id.eq(id))
            .one(&self.db.conn)
            .await?)
    }

    /// A file by id alone (a signed URL names no user).
    pub async fn file_by_id(&self, id: Uuid) -> DbResult<Option<FileRow>> {
        Ok(self
            .find::<user_file::Entity>()
            .filter(user_file::Column::Id.eq(id))
            .one(&self.db.conn)
            .await?)
    }

    /// New bytes for a file (same id and place); the row as it was before, if any.
    pub async fn file_replace(
        &self,
        user: UserId,
        id: Uuid,
        meta: FileMeta,
        now: DateTime<Utc>,
    ) -> DbResult<Option<(FileRow, FileRow)>> {
        let txn = self.db.write().await?;
        if !self.lock_live_user(&txn, user).await? {
            txn.rollback().await?;
            return Ok(None);
        }
        let Some(old) = self
            .find::<user_file::Entity>()
            .filter(user_file::Column::UserId.eq(user.0))
            .filter(user_file::Column::Id.eq(id))
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Ok(None);
        };
        self.update::<user_file::Entity>()
            .col_expr(user_file::Column::Name, Expr::value(meta.name.clone()))
            .col_expr(
                user_file::Column::ContentType,
                Expr::value(meta.content_type.clone()),
            )
            .col_expr(user_file::Column::Size, Expr::value(meta.size))
            .col_expr(user_file::Column::Width, Expr::value(meta.width))
            .col_expr(user_file::Column::Height, Expr::value(meta.height))
            .col_expr(
                user_file::Column::Renditions,
                Expr::value(meta.renditions.clone()),
            )
            .col_expr(user_file::Column::Version, Expr::value(meta.version))
            .col_expr(user_file::Column::UpdatedAt, Expr::value(now))
            .filter(user_file::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.forget_user(user);
        let new = FileRow {
            name: meta.name,
            content_type: meta.content_type,
            size: meta.size,
            width: meta.width,
            height: meta.height,
            renditions: meta.renditions,
            version: meta.version,
            updated_at: now,
            ..old.clone()
        };
        Ok(Some((old, new)))
    }

    /// Deletes a file's row; the row it was, if any.
    pub async fn file_delete(&self, user: UserId, id: Uuid) -> DbResult<Option<FileRow>> {
        let txn = self.db.write().await?;
        self.lock_live_user(&txn, user).await?;
        let Some(old) = self
            .find::<user_file::Entity>()
            .filter(user_file::Column::UserId.eq(user.0))
            .filter(user_file::Column::Id.eq(id))
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Ok(None);
        };
        self.delete::<user_file::Entity>()
            .filter(user_file::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.forget_user(user);
        Ok(Some(old))
    }

    /// Puts the user's files in the order of `ids` (which must name each of them once):
    /// `false` when it does not.
    pub async fn files_reorder(
        &self,
        user: UserId,
        ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> DbResult<bool> {
        let txn = self.db.write().await?;
        self.lock_live_user(&txn, user).await?;
        let held = self
            .find::<user_file::Entity>()
            .filter(user_file::Column::UserId.eq(user.0))
            .all(&txn)
            .await?;
        let mut want: Vec<Uuid> = ids.to_vec();
        let mut have: Vec<Uuid> = held.iter().map(|f| f.id).collect();
        want.sort();
        have.sort();
        if want != have {
            txn.rollback().await?;
            return Ok(false);
        }
        for (position, id) in ids.iter().enumerate() {
            self.update::<user_file::Entity>()
                .col_expr(user_file::Column::Position, Expr::value(position as i32))
                .col_expr(user_file::Column::UpdatedAt, Expr::value(now))
                .filter(user_file::Column::Id.eq(*id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        self.forget_user(user);
        Ok(true)
    }
}
