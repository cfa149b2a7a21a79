//! Groups of users from the back office (flock API key, scopes `groups_*`).
use super::directory::views::UserPage;
use super::error::ApiResult;
use super::frame::tenant;
use super::security::BackOfficeAuth;
use super::ApiTags;
use crate::domain::groups::{Group, GroupService};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

pub struct GroupsApi {
    pub groups: GroupService,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct GroupRequest {
    /// 1 to 100 characters, unique in the flock.
    #[oai(validator(max_length = 100))]
    name: String,
}

/// A group.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct GroupView {
    id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        Self {
            id: g.id,
            name: g.name,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct GroupPage {
    groups: Vec<GroupView>,
    has_more: bool,
    next: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct GroupList {
    groups: Vec<GroupView>,
}

#[derive(ApiResponse)]
enum CreatedGroup {
    /// Created.
    #[oai(status = 201)]
    Created(Json<GroupView>),
}

#[derive(ApiResponse)]
enum Done {
    /// Done (idempotent).
    #[oai(status = 204)]
    Done,
}

#[OpenApi(tag = "ApiTags::Groups")]
impl GroupsApi {
    /// Create a group (scope `groups_create`); a taken name answers 409 `group_name_taken`.
    #[oai(
        path = "/api/v1/:flock/directory/groups",
        method = "post",
        operation_id = "groups_create"
    )]
    async fn create(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<GroupRequest>,
    ) -> ApiResult<CreatedGroup> {
        auth.allow("groups_create")?;
        let g = self.groups.create(&flock, &body.0.name).await?;
        Ok(CreatedGroup::Created(Json(g.into())))
    }

    /// The flock's groups by name (scope `groups_list`), a page at a time.
    #[oai(
        path = "/api/v1/:flock/directory/groups",
        method = "get",
        operation_id = "groups_list"
    )]
    async fn list(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// Page size, 1 to 1,000 (default 50).
        limit: Query<Option<u64>>,
        /// `next` of the previous page.
        #[oai(validator(max_length = 4096))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<GroupPage>> {
        auth.allow("groups_list")?;
        let page = self.groups.list(&flock, limit.0, cursor.0).await?;
        Ok(Json(GroupPage {
            groups: page.items.into_iter().map(GroupView::from).collect(),
            has_more: page.next.is_some(),
            next: page.next,
        }))
    }

    /// Rename a group (scope `groups_rename`).
    #[oai(
        path = "/api/v1/:flock/directory/groups/:group_id",
        method = "patch",
        operation_id = "groups_rename"
    )]
    async fn rename(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The group's id.
        group_id: Path<Uuid>,
        body: Json<GroupRequest>,
    ) -> ApiResult<Json<GroupView>> {
        auth.allow("groups_rename")?;
        let g = self.groups.rename(&flock, group_id.0, &body.0.name).await?;
        Ok(Json(g.into()))
    }

    /// Delete a group and its memberships (scope `groups_delete`).
    #[oai(
        path = "/api/v1/:flock/directory/groups/:group_id",
        method = "delete",
        operation_id = "groups_delete"
    )]
    async fn delete(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The group's id.
        group_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        auth.allow("groups_delete")?;
        self.groups.delete(&flock, group_id.0).await?;
        Ok(Done::Done)
    }

    /// Add a user to a group (scope `groups_add_member`); already a member is fine.
    #[oai(
        path = "/api/v1/:flock/directory/groups/:group_id/members/:user_id",
        method = "put",
        operation_id = "groups_add_member"
    )]
    async fn add(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The group's id.
        group_id: Path<Uuid>,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        auth.allow("groups_add_member")?;
        let user = UserId(user_id.0);
        self.groups.add_member(&flock, group_id.0, user).await?;
        Ok(Done::Done)
    }

    /// Remove a user from a group (scope `groups_remove_member`); not a member is fine.
    #[oai(
        path = "/api/v1/:flock/directory/groups/:group_id/members/:user_id",
        method = "delete",
        operation_id = "groups_remove_member"
    )]
    async fn remove(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The group's id.
        group_id: Path<Uuid>,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Done> {
        auth.allow("groups_remove_member")?;
        let user = UserId(user_id.0);
        self.groups.remove_member(&flock, group_id.0, user).await?;
        Ok(Done::Done)
    }

    /// A group's members, by id (scope `groups_list_members`), a page at a time.
    #[oai(
        path = "/api/v1/:flock/directory/groups/:group_id/members",
        method = "get",
        operation_id = "groups_list_members"
    )]
    async fn members(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The group's id.
        group_id: Path<Uuid>,
        /// Page size, 1 to 1,000 (default 50).
        limit: Query<Option<u64>>,
        /// `next` of the previous page.
        #[oai(validator(max_length = 4096))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<UserPage>> {
        auth.allow("groups_list_members")?;
        let page = self
            .groups
            .members(&flock, group_id.0, limit.0, cursor.0)
            .await?;
        Ok(Json(page.into()))
    }

    /// The groups a user belongs to, by name (scope `groups_of_user`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/groups",
        method = "get",
        operation_id = "groups_of_user"
    )]
    async fn of_user(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<GroupList>> {
        auth.allow("groups_of_user")?;
        let groups = self.groups.of_user(&flock, UserId(user_id.0)).await?;
        Ok(Json(GroupList {
            groups: groups.into_iter().map(GroupView::from).collect(),
        }))
    }
}
