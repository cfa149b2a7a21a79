//! Administration: a flock's admin groups, their grants and members (flock API key: a
//! manager cannot hand out grants), the back-office operations a grant may name, and a
//! manager's own grants.
use super::error::{ApiError, ApiResult};
use super::frame::tenant;
use super::security::{ManagerAuth, ServerAuth};
use super::ApiTags;
use crate::domain::admin::{AdminError, AdminService, Group, Level};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

pub struct AdminApi {
    pub admin: AdminService,
}

#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
enum GrantLevel {
    /// GET-like operations.
    Read,
    /// Everything else (covers `read`).
    Write,
}

impl From<Level> for GrantLevel {
    fn from(l: Level) -> Self {
        match l {
            Level::Read => GrantLevel::Read,
            Level::Write => GrantLevel::Write,
        }
    }
}

/// A grant: an operation id of the spec and a level.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct AdminGrant {
    #[oai(validator(min_length = 1, max_length = 100))]
    operation: String,
    level: GrantLevel,
}

fn grants_in(g: Vec<AdminGrant>) -> Vec<(String, String)> {
    g.into_iter()
        .map(|g| {
            let l = match g.level {
                GrantLevel::Read => Level::Read,
                GrantLevel::Write => Level::Write,
            };
            (g.operation, l.as_str().to_owned())
        })
        .collect()
}

/// An admin group.
#[derive(Object)]
struct AdminGroupView {
    id: Uuid,
    name: String,
    /// `superadmin`: built in, holds every back-office operation (also ones added later).
    builtin: bool,
    grants: Vec<AdminGrant>,
    /// The managers in the group.
    members: Vec<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Group> for AdminGroupView {
    fn from(g: Group) -> Self {
        Self {
            id: g.id,
            name: g.name,
            builtin: g.builtin,
            grants: g
                .grants
                .into_iter()
                .map(|(operation, l)| AdminGrant {
                    operation,
                    level: l.into(),
                })
                .collect(),
            members: g.members.into_iter().map(|u| u.0).collect(),
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

#[derive(Object)]
struct AdminGroupList {
    items: Vec<AdminGroupView>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct NewAdminGroup {
    /// 1 to 64 of a-z, 0-9, `-`, `_`.
    #[oai(validator(min_length = 1, max_length = 64))]
    name: String,
    #[oai(validator(max_items = 500))]
    grants: Option<Vec<AdminGrant>>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct AdminGrants {
    /// The group's grants, replacing the ones it had.
    #[oai(validator(max_items = 500))]
    grants: Vec<AdminGrant>,
}

/// A back-office operation and the level it needs.
#[derive(Object)]
struct AdminOperation {
    operation: String,
    level: GrantLevel,
}

#[derive(Object)]
struct AdminOperationList {
    items: Vec<AdminOperation>,
}

/// What a cleanup removed.
#[derive(Object)]
struct RemovedGrant {
    group: String,
    operation: String,
}

#[derive(Object)]
struct AdminCleanupReport {
    removed: Vec<RemovedGrant>,
}

/// The calling manager's grants.
#[derive(Object)]
struct ManagerGrantsView {
    user_id: Uuid,
    /// In the `superadmin` group: every back-office operation.
    superadmin: bool,
    /// The operations the manager may call (all of them for a superadmin).
    operations: Vec<AdminOperation>,
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Created(Json<AdminGroupView>),
}

#[derive(ApiResponse)]
enum Deleted {
    #[oai(status = 204)]
    Done,
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(i) => i.into(),
            AdminError::GroupNotFound => {
                ApiError::not_found("admin_group_not_found", "no such admin group")
            }
            AdminError::NameTaken => ApiError::conflict(
                "admin_group_name_taken",
                "an admin group with this name exists",
                Some("name"),
            ),
            AdminError::Builtin => ApiError::forbidden(
                "admin_group_builtin",
                "the superadmin group holds every operation and cannot be changed or removed",
            ),
            AdminError::NotAManager => ApiError::bad_request(
                "not_a_manager",
                "only managers (role manager) join admin groups",
                Some("user_id"),
            ),
            AdminError::UserNotFound => ApiError::not_found("user_not_found", "no such user"),
            AdminError::Infra(i) => i.into(),
        }
    }
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// The back-office operations a grant may name, with the level each needs (from the
    /// spec: GET is `read`, anything else `write`). Scope `admin_operations_list`.
    #[oai(
        path = "/api/v1/:flock/admin/operations",
        method = "get",
        operation_id = "admin_operations_list"
    )]
    async fn operations(
        &self,
        auth: ServerAuth,
        flock: tenant::Path,
    ) -> ApiResult<Json<AdminOperationList>> {
        auth.0.allow("admin_operations_list")?;
        let _ = flock;
        Ok(Json(AdminOperationList {
            items: self
                .admin
                .operations()
                .into_iter()
                .map(|(op, l)| AdminOperation {
                    operation: op.to_owned(),
                    level: l.into(),
                })
                .collect(),
        }))
    }

    /// The flock's admin groups (`superadmin` included). Scope `admin_groups_list`.
    #[oai(
        path = "/api/v1/:flock/admin/groups",
        method = "get",
        operation_id = "admin_groups_list"
    )]
    async fn list(&self, auth: ServerAuth, flock: tenant::Path) -> ApiResult<Json<AdminGroupList>> {
        auth.0.allow("admin_groups_list")?;
        let items = self.admin.groups(flock.id).await?;
        Ok(Json(AdminGroupList {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Create an admin group with its grants. Scope `admin_groups_create`.
    #[oai(
        path = "/api/v1/:flock/admin/groups",
        method = "post",
        operation_id = "admin_groups_create"
    )]
    async fn create(
        &self,
        auth: ServerAuth,
        flock: tenant::Path,
        body: Json<NewAdminGroup>,
    ) -> ApiResult<Created> {
        auth.0.allow("admin_groups_create")?;
        let b = body.0;
        let grants = grants_in(b.grants.unwrap_or_default());
        let g = self.admin.create_group(flock.id, &b.name, &grants).await?;
        Ok(Created::Created(Json(g.into())))
    }

    /// One admin group. Scope `admin_groups_get`.
    #[oai(
        path = "/api/v1/:flock/admin/groups/:group_id",
        method = "get",
        operation_id = "admin_groups_get"
    )]
    async fn get(
        &self,
        auth: ServerAuth,
        flock: tenant::Path,
        group_id: Path<Uuid>,
    ) -> ApiResult<Json<AdminGroupView>> {
        auth.0.allow("admin_groups_get")?;
        Ok(Json(self.admin.group(flock.id, group_id.0).await?.into()))
    }

    /// Replace a group's grants (not `superadmin`'s). Scope `admin_groups_set_grants`.
    #[oai(
        path = "/api/v1/:flock/admin/groups/:group_id/grants",
        method = "put",
        operation_id = "admin_groups_set_grants"
    )]
    async fn set_grants(
        &self,
        auth: ServerAuth,
        flock: tenant::Path,
        group_id: Path<Uuid>,
        body: Json<AdminGrants>,
    ) -> ApiResult<Json<AdminGroupView>> {
        auth.0.allow("admin_groups_set_grants")?;
        let grants = grants_in(body.0.grants);
        let g = self.admin.set_grants(flock.id, group_id.0, &grants).await?;
        Ok(Json(g.into()))
    }

    /// Remove a group (not `superadmin`). Scope `admin_groups_delete`.
    #[oai(
        path = "/api/v1/:flock/admin/groups/:group_id",
        method = "delete",
        operation_id = "admin_groups_delete"
    )]
    async fn delete(
        &self,
        auth: ServerAuth,
        flock: tenant::Path,
        group_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        auth.0.allow("admin_groups_delete")?;
        self.admin.delete_group(flock.id, group_id.0).await?;
        Ok(Deleted::Done)
    }

    /// Add a manager to a group. Scope `admin_groups_add_member`.
    #[oai(
        path = "/api/v1/:flock/admin/groups/:group_id/members/:user_id",
        method = "put",
        operation_id = "admin_groups_add_member"
    )]
    async fn add_member(
        &self,
        auth: ServerAuth,
        flock: tenant::Path,
        group_id: Path<Uuid>,
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<AdminGroupView>> {
        auth.0.allow("admin_groups_add_member")?;
        let g = self
            .admin
            .add_member(flock.id, group_id.0, UserId(user_id.0))
            .await?;
        Ok(Json(g.into()))
    }

    /// Remove a manager from a group. Scope `admin_groups_remove_member`.
    #[oai(
        path = "/api/v1/:flock/admin/groups/:group_id/members/:user_id",
        method = "delete",
        operation_id = "admin_groups_remove_member"
    )]
    async fn remove_member(
        &self,
        auth: ServerAuth,
        flock: tenant::Path,
        group_id: Path<Uuid>,
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<AdminGroupView>> {
        auth.0.allow("admin_groups_remove_member")?;
        let g = self
            .admin
            .remove_member(flock.id, group_id.0, UserId(user_id.0))
            .await?;
        Ok(Json(g.into()))
    }

    /// Remove grants whose operation no longer exists (after an upgrade); what was
    /// removed. Scope `admin_grants_cleanup`.
    #[oai(
        path = "/api/v1/:flock/admin/cleanup",
        method = "post",
        operation_id = "admin_grants_cleanup"
    )]
    async fn cleanup(
        &self,
        auth: ServerAuth,
        flock: tenant::Path,
    ) -> ApiResult<Json<AdminCleanupReport>> {
        auth.0.allow("admin_grants_cleanup")?;
        let removed = self.admin.cleanup(flock.id).await?;
        Ok(Json(AdminCleanupReport {
            removed: removed
                .into_iter()
                .map(|(group, operation)| RemovedGrant { group, operation })
                .collect(),
        }))
    }

    /// The calling manager's grants (a manager's token).
    #[oai(
        path = "/api/v1/:flock/admin/me",
        method = "get",
        operation_id = "admin_my_grants"
    )]
    async fn me(
        &self,
        auth: ManagerAuth,
        flock: tenant::Path,
    ) -> ApiResult<Json<ManagerGrantsView>> {
        let _ = flock;
        let m = auth.0;
        let operations = self
            .admin
            .operations()
            .into_iter()
            .filter(|(op, _)| m.allows(op))
            .map(|(op, l)| AdminOperation {
                operation: op.to_owned(),
                level: l.into(),
            })
            .collect();
        Ok(Json(ManagerGrantsView {
            user_id: m.user.0,
            superadmin: m.superadmin,
            operations,
        }))
    }
}
