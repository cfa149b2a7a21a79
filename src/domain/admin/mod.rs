//! Administration: a flock's admin groups and what their members — the flock's managers
//! (role `manager` with `bo_access`) — may call with their own bearer token.
//!
//! A grant names an operation id of the spec and a level: `read` or `write`. Each
//! back-office operation's level comes from the spec itself (its HTTP method: GET is
//! `read`, anything else `write`; the list is handed over by the composition root), never
//! from a hand-kept list; a `write` grant covers `read`. The built-in `superadmin` group
//! holds every back-office operation by definition — one added by an upgrade too — and
//! has no stored grants. `cleanup` removes grants whose operation no longer exists.
use super::user::{Role, UserError, UserService};
use super::{InfraError, Invalid};
use crate::db::{Db, DbError};
use crate::ids::{FlockId, UserId};
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use uuid::Uuid;

pub const SUPERADMIN: &str = "superadmin";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Read,
    Write,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            _ => None,
        }
    }

    /// The level an operation needs, from its HTTP method.
    pub fn of_method(method: &str) -> Self {
        if method.eq_ignore_ascii_case("get") || method.eq_ignore_ascii_case("head") {
            Level::Read
        } else {
            Level::Write
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error("no such admin group")]
    GroupNotFound,
    #[error("an admin group with this name exists")]
    NameTaken,
    /// The built-in `superadmin` group's grants and existence are fixed.
    #[error("the superadmin group cannot be changed this way")]
    Builtin,
    /// Only managers (role `manager`) join admin groups.
    #[error("this user is not a manager")]
    NotAManager,
    #[error("no such user")]
    UserNotFound,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<DbError> for AdminError {
    fn from(e: DbError) -> Self {
        AdminError::Infra(e.into())
    }
}

impl From<UserError> for AdminError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::NotFound => AdminError::UserNotFound,
            UserError::Infra(i) => AdminError::Infra(i),
            other => AdminError::Infra(InfraError::Internal(other.to_string())),
        }
    }
}

/// An admin group.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: Uuid,
    pub name: String,
    pub builtin: bool,
    /// Operation → level (empty for `superadmin`, which holds everything).
    pub grants: BTreeMap<String, Level>,
    pub members: Vec<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a manager may call: the union of their groups' grants.
#[derive(Debug, Clone)]
pub struct ManagerGrants {
    pub flock: FlockId,
    pub user: UserId,
    pub superadmin: bool,
    grants: HashMap<String, Level>,
    levels: Arc<HashMap<&'static str, Level>>,
}

impl ManagerGrants {
    /// The manager, allowed to call `operation`, or `OperationForbidden`.
    pub fn allow(
        &self,
        operation: &'static str,
    ) -> Result<super::api_keys::ServerCaller, super::api_keys::KeyError> {
        if self.allows(operation) {
            Ok(super::api_keys::ServerCaller::new(
                self.flock,
                super::api_keys::Actor::Manager(self.user),
                operation,
            ))
        } else {
            Err(super::api_keys::KeyError::OperationForbidden(operation))
        }
    }

    /// Whether the manager may call `operation`.
    pub fn allows(&self, operation: &str) -> bool {
        let Some(needed) = self.levels.get(operation) else {
            return false;
        };
        self.superadmin || self.grants.get(operation).is_some_and(|l| l >= needed)
    }
}

/// Why a bearer may not use the back office.
#[derive(Debug, thiserror::Error)]
pub enum ManagerRefusal {
    #[error("only managers with back-office access may call back-office operations")]
    NotAManager,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[derive(Clone)]
pub struct AdminService {
    db: Db,
    clock: Clock,
    users: UserService,
    /// Every back-office operation of the spec and the level it needs.
    levels: Arc<HashMap<&'static str, Level>>,
}

const MAX_GRANTS: usize = 500;

impl AdminService {
    pub fn new(
        db: Db,
        clock: Clock,
        users: UserService,
        operations: impl IntoIterator<Item = (&'static str, Level)>,
    ) -> Self {
        Self {
            db,
            clock,
            users,
            levels: Arc::new(operations.into_iter().collect()),
        }
    }

    /// The back-office operations and their levels, by id.
    pub fn operations(&self) -> BTreeMap<&'static str, Level> {
        self.levels.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Checks grants: known back-office operations, a level each, no duplicates.
    fn check_grants(
        &self,
        grants: &[(String, String)],
    ) -> Result<Vec<(String, String)>, AdminError> {
        if grants.len() > MAX_GRANTS {
            return Err(AdminError::Invalid(Invalid::new(
                "too_many_grants",
                "grants",
                format!("at most {MAX_GRANTS} grants"),
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, (op, level)) in grants.iter().enumerate() {
            if !self.levels.contains_key(op.as_str()) {
                return Err(AdminError::Invalid(Invalid::at(
                    "unknown_operation",
                    format!("grants[{i}].operation"),
                    format!("{op:?} is not a back-office operation of this API"),
                )));
            }
            let Some(l) = Level::parse(level) else {
                return Err(AdminError::Invalid(Invalid::at(
                    "invalid_level",
                    format!("grants[{i}].level"),
                    "level is read or write",
                )));
            };
            if self
                .levels
                .get(op.as_str())
                .is_some_and(|needed| l < *needed)
            {
                return Err(AdminError::Invalid(Invalid::at(
                    "level_too_low",
                    format!("grants[{i}].level"),
                    format!("{op} is a write operation: a read grant would not allow it"),
                )));
            }
            if !seen.insert(op.as_str()) {
                return Err(AdminError::Invalid(Invalid::at(
                    "duplicate_grant",
                    format!("grants[{i}].operation"),
                    format!("{op} is granted twice"),
                )));
            }
        }
        Ok(grants.to_vec())
    }

    fn check_name(name: &str) -> Result<(), AdminError> {
        let mut b = name.bytes();
        let ok = matches!(b.next(), Some(c) if c.is_ascii_lowercase())
            && name.len() <= 64
            && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_');
        if !ok {
            return Err(AdminError::Invalid(Invalid::new(
                "invalid_group_name",
                "name",
                "a group name is 1 to 64 of a-z, 0-9, - and _, starting with a letter",
            )));
        }
        Ok(())
    }

    /// The `superadmin` group, created on first use.
    async fn superadmin(&self, flock: FlockId) -> Result<Uuid, AdminError> {
        let db = self.db.scoped(flock);
        if let Some(g) = db.admin_group_named(SUPERADMIN).await? {
            return Ok(g.id);
        }
        let id = Uuid::now_v7();
        match db
            .admin_group_insert(id, SUPERADMIN, true, &[], self.clock.now())
            .await
        {
            Ok(()) => Ok(id),
            // Made in parallel: use that one.
            Err(DbError::Conflict(_)) => db
                .admin_group_named(SUPERADMIN)
                .await?
                .map(|g| g.id)
                .ok_or(AdminError::GroupNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Every group of the flock (`superadmin` first made if missing), with grants and
    /// members.
    pub async fn groups(&self, flock: FlockId) -> Result<Vec<Group>, AdminError> {
        self.superadmin(flock).await?;
        let db = self.db.scoped(flock);
        let (groups, grants, members) = (
            db.admin_groups().await?,
            db.admin_grants(None).await?,
            db.admin_members(None).await?,
        );
        Ok(groups
            .into_iter()
            .map(|g| Group {
                grants: grants
                    .iter()
                    .filter(|r| r.group_id == g.id)
                    .filter_map(|r| Level::parse(&r.level).map(|l| (r.operation.clone(), l)))
                    .collect(),
                members: members
                    .iter()
                    .filter(|m| m.group_id == g.id)
                    .map(|m| UserId(m.user_id))
                    .collect(),
                id: g.id,
                name: g.name,
                builtin: g.builtin,
                created_at: g.created_at,
                updated_at: g.updated_at,
            })
            .collect())
    }

    pub async fn group(&self, flock: FlockId, id: Uuid) -> Result<Group, AdminError> {
        self.groups(flock)
            .await?
            .into_iter()
            .find(|g| g.id == id)
            .ok_or(AdminError::GroupNotFound)
    }

    pub async fn create_group(
        &self,
        flock: FlockId,
        name: &str,
        grants: &[(String, String)],
    ) -> Result<Group, AdminError> {
        Self::check_name(name)?;
        if name == SUPERADMIN {
            return Err(AdminError::NameTaken);
        }
        let grants = self.check_grants(grants)?;
        let id = Uuid::now_v7();
        match self
            .db
            .scoped(flock)
            .admin_group_insert(id, name, false, &grants, self.clock.now())
            .await
        {
            Ok(()) => {}
            Err(DbError::Conflict(_)) => return Err(AdminError::NameTaken),
            Err(e) => return Err(e.into()),
        }
        self.group(flock, id).await
    }

    /// Replaces a group's grants (not `superadmin`'s: it holds everything).
    pub async fn set_grants(
        &self,
        flock: FlockId,
        id: Uuid,
        grants: &[(String, String)],
    ) -> Result<Group, AdminError> {
        let g = self.group(flock, id).await?;
        if g.builtin {
            return Err(AdminError::Builtin);
        }
        let grants = self.check_grants(grants)?;
        if !self
            .db
            .scoped(flock)
            .admin_grants_replace(id, &grants, self.clock.now())
            .await?
        {
            return Err(AdminError::GroupNotFound);
        }
        self.group(flock, id).await
    }

    pub async fn delete_group(&self, flock: FlockId, id: Uuid) -> Result<(), AdminError> {
        let g = self.group(flock, id).await?;
        if g.builtin {
            return Err(AdminError::Builtin);
        }
        if !self.db.scoped(flock).admin_group_delete(id).await? {
            return Err(AdminError::GroupNotFound);
        }
        Ok(())
    }

    /// Adds a manager to a group.
    pub async fn add_member(
        &self,
        flock: FlockId,
        id: Uuid,
        user: UserId,
    ) -> Result<Group, AdminError> {
        self.group(flock, id).await?;
        let u = self.users.get(flock, user).await?;
        if u.role != Role::Manager {
            return Err(AdminError::NotAManager);
        }
        self.db
            .scoped(flock)
            .admin_member_add(id, user, self.clock.now())
            .await?;
        self.group(flock, id).await
    }

    pub async fn remove_member(
        &self,
        flock: FlockId,
        id: Uuid,
        user: UserId,
    ) -> Result<Group, AdminError> {
        self.group(flock, id).await?;
        self.db.scoped(flock).admin_member_remove(id, user).await?;
        self.group(flock, id).await
    }

    /// Removes grants of operations that no longer exist; (group name, operation) of each.
    pub async fn cleanup(&self, flock: FlockId) -> Result<Vec<(String, String)>, AdminError> {
        let known: Vec<&str> = self.levels.keys().copied().collect();
        let db = self.db.scoped(flock);
        let gone = db.admin_grants_cleanup(&known).await?;
        let names: HashMap<Uuid, String> = db
            .admin_groups()
            .await?
            .into_iter()
            .map(|g| (g.id, g.name))
            .collect();
        Ok(gone
            .into_iter()
            .map(|g| {
                let name = names.get(&g.group_id).cloned().unwrap_or_default();
                (name, g.operation)
            })
            .collect())
    }

    /// Whether `user` is a manager of the flock (a target only a superadmin may act on).
    pub async fn is_manager(&self, flock: FlockId, user: UserId) -> Result<bool, InfraError> {
        match self.users.get_fresh(flock, user).await {
            Ok(u) => Ok(u.role == Role::Manager),
            Err(UserError::Infra(i)) => Err(i),
            Err(_) => Ok(false),
        }
    }

    /// What the manager `user` (a verified session of role manager) may call.
    pub async fn grants_of(
        &self,
        flock: FlockId,
        user: UserId,
    ) -> Result<ManagerGrants, ManagerRefusal> {
        // Fresh, not the cached row: revoking bo_access or the role takes effect at once.
        let u = match self.users.get_fresh(flock, user).await {
            Ok(u) => u,
            Err(UserError::Infra(i)) => return Err(ManagerRefusal::Infra(i)),
            Err(_) => return Err(ManagerRefusal::NotAManager),
        };
        if u.role != Role::Manager || !u.directory.bo_access {
            return Err(ManagerRefusal::NotAManager);
        }
        let db = self.db.scoped(flock);
        let groups = db.admin_groups_of(user).await.map_err(InfraError::from)?;
        let mut grants: HashMap<String, Level> = HashMap::new();
        let mut superadmin = false;
        if !groups.is_empty() {
            let all = db.admin_groups().await.map_err(InfraError::from)?;
            superadmin = all
                .iter()
                .any(|g| g.builtin && g.name == SUPERADMIN && groups.contains(&g.id));
            for r in db.admin_grants(None).await.map_err(InfraError::from)? {
                if !groups.contains(&r.group_id) {
                    continue;
                }
                if let Some(l) = Level::parse(&r.level) {
                    let e = grants.entry(r.operation).or_insert(l);
                    *e = (*e).max(l);
                }
            }
        }
        Ok(ManagerGrants {
            flock,
            user,
            superadmin,
            grants,
            levels: self.levels.clone(),
        })
    }
}
