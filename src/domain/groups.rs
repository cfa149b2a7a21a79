//! Groups of users (seed 000): any grouping the flock finds useful. Create, rename,
//! delete; add and remove members (idempotent); a group's members and a user's groups.
use super::flocks::Flock;
use super::pages::{self, Cursors, Page};
use super::user::User;
use super::{InfraError, Invalid};
use crate::db::groups::GroupRow;
use crate::db::{Db, DbError};
use crate::ids::UserId;
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error("no such group")]
    NotFound,
    #[error("no such user")]
    UserNotFound,
    #[error("a group with this name already exists")]
    NameTaken,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<DbError> for GroupError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Conflict(_) => GroupError::NameTaken,
            e => GroupError::Infra(e.into()),
        }
    }
}

impl From<Invalid> for GroupError {
    fn from(i: Invalid) -> Self {
        GroupError::Invalid(i)
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<GroupRow> for Group {
    fn from(r: GroupRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A group name: 1 to 100 printable characters (trimmed).
fn name(v: &str) -> Result<String, Invalid> {
    crate::domain::user::fields::optional_text(Some(v.to_owned()), "name", 100)?
        .ok_or_else(|| Invalid::new("invalid_name", "name", "name must be 1 to 100 characters"))
}

#[derive(Clone)]
pub struct GroupService {
    db: Db,
    clock: Clock,
    cursors: Cursors,
}

impl GroupService {
    pub fn new(db: Db, clock: Clock, cursors: Cursors) -> Self {
        Self { db, clock, cursors }
    }

    pub async fn create(&self, flock: &Flock, group_name: &str) -> Result<Group, GroupError> {
        let n = name(group_name)?;
        let db = self.db.scoped(flock.id);
        let row = db
            .group_create(Uuid::now_v7(), &n, self.clock.now())
            .await?;
        Ok(row.into())
    }

    pub async fn get(&self, flock: &Flock, id: Uuid) -> Result<Group, GroupError> {
        let row = self.db.scoped(flock.id).group(id).await?;
        Ok(row.ok_or(GroupError::NotFound)?.into())
    }

    /// The flock's groups by name, a page at a time.
    pub async fn list(
        &self,
        flock: &Flock,
        limit: Option<u64>,
        cursor: Option<String>,
    ) -> Result<Page<Group>, GroupError> {
        let limit = pages::limit(limit)?;
        let after: Option<String> = match cursor {
            Some(c) => Some(self.cursors.open(flock.id, "groups", &c).await??),
            None => None,
        };
        let db = self.db.scoped(flock.id);
        let mut rows = db.group_list(after.as_deref(), limit + 1).await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next = match (more, rows.last()) {
            (true, Some(last)) => Some(self.cursors.seal(flock.id, "groups", &last.name).await?),
            _ => None,
        };
        Ok(Page {
            items: rows.into_iter().map(Group::from).collect(),
            next,
        })
    }

    pub async fn rename(&self, flock: &Flock, id: Uuid, new: &str) -> Result<Group, GroupError> {
        let n = name(new)?;
        let db = self.db.scoped(flock.id);
        if !db.group_rename(id, &n, self.clock.now()).await? {
            return Err(GroupError::NotFound);
        }
        self.get(flock, id).await
    }

    pub async fn delete(&self, flock: &Flock, id: Uuid) -> Result<(), GroupError> {
        if self.db.scoped(flock.id).group_delete(id).await? {
            Ok(())
        } else {
            Err(GroupError::NotFound)
        }
    }

    /// A user of this flock that may be grouped (not deleted).
    async fn member(&self, flock: &Flock, user: UserId) -> Result<(), GroupError> {
        if self.db.scoped(flock.id).user_is_live(user).await? {
            Ok(())
        } else {
            Err(GroupError::UserNotFound)
        }
    }

    pub async fn add_member(
        &self,
        flock: &Flock,
        group: Uuid,
        user: UserId,
    ) -> Result<(), GroupError> {
        self.get(flock, group).await?;
        self.member(flock, user).await?;
        let db = self.db.scoped(flock.id);
        Ok(db.group_add(group, user, self.clock.now()).await?)
    }

    pub async fn remove_member(
        &self,
        flock: &Flock,
        group: Uuid,
        user: UserId,
    ) -> Result<(), GroupError> {
        self.get(flock, group).await?;
        self.db.scoped(flock.id).group_remove(group, user).await?;
        Ok(())
    }

    /// A group's members, by id, a page at a time.
    pub async fn members(
        &self,
        flock: &Flock,
        group: Uuid,
        limit: Option<u64>,
        cursor: Option<String>,
    ) -> Result<Page<User>, GroupError> {
        self.get(flock, group).await?;
        let limit = pages::limit(limit)?;
        let list = format!("members|{group}");
        let after: Option<Uuid> = match cursor {
            Some(c) => Some(self.cursors.open(flock.id, &list, &c).await??),
            None => None,
        };
        let db = self.db.scoped(flock.id);
        let mut ids = db.group_member_ids(group, after, limit + 1).await?;
        let more = ids.len() as u64 > limit;
        ids.truncate(limit as usize);
        let next = match (more, ids.last()) {
            (true, Some(last)) => Some(self.cursors.seal(flock.id, &list, &last.0).await?),
            _ => None,
        };
        let rows = db.users_by_ids(&ids, true, None, limit).await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(|r| User::from_row(flock.id, r))
                .collect(),
            next,
        })
    }

    /// The groups of a user, by name.
    pub async fn of_user(&self, flock: &Flock, user: UserId) -> Result<Vec<Group>, GroupError> {
        self.member(flock, user).await?;
        let rows = self.db.scoped(flock.id).groups_of(user).await?;
        Ok(rows.into_iter().map(Group::from).collect())
    }
}
