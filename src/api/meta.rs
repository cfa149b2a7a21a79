//! User meta from the back office (flock API key, scopes `user_meta_*`): set pairs, list
//! a user's pairs, delete a key, find users by key (and value).
use super::error::ApiResult;
use super::frame::tenant;
use super::security::BackOfficeAuth;
use super::ApiTags;
use crate::domain::meta::{Meta, MetaService};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

pub struct MetaApi {
    pub meta: MetaService,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct MetaPairRequest {
    /// 1 to 64 lowercase letters, digits, `_`, `.`, `:`, `-`.
    #[oai(validator(max_length = 64))]
    key: String,
    /// At most 1,024 characters.
    #[oai(validator(max_length = 1024))]
    value: String,
    /// Shown to the user (sign-in answer, `GET /user`); default false (back office only).
    public: Option<bool>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct UpsertMetaRequest {
    /// 1 to 100 pairs, set together or not at all; a user holds at most 100 keys.
    #[oai(validator(min_items = 1, max_items = 100))]
    meta: Vec<MetaPairRequest>,
}

/// One pair.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MetaView {
    user_id: Uuid,
    key: String,
    value: String,
    public: bool,
    updated_at: DateTime<Utc>,
}

impl From<Meta> for MetaView {
    fn from(m: Meta) -> Self {
        Self {
            user_id: m.user.0,
            key: m.key,
            value: m.value,
            public: m.public,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MetaList {
    meta: Vec<MetaView>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct MetaPage {
    meta: Vec<MetaView>,
    has_more: bool,
    next: Option<String>,
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
}

fn list(items: Vec<Meta>) -> Json<MetaList> {
    Json(MetaList {
        meta: items.into_iter().map(MetaView::from).collect(),
    })
}

#[OpenApi(tag = "ApiTags::Directory")]
impl MetaApi {
    /// Set meta pairs on a user (scope `user_meta_upsert`): new keys are added, existing
    /// ones replaced; all or nothing. Answers every pair of the user.
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/meta",
        method = "put",
        operation_id = "user_meta_upsert"
    )]
    async fn upsert(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        body: Json<UpsertMetaRequest>,
    ) -> ApiResult<Json<MetaList>> {
        auth.allow("user_meta_upsert")?;
        let pairs = body
            .0
            .meta
            .into_iter()
            .map(|p| (p.key, p.value, p.public.unwrap_or(false)))
            .collect();
        let all = self.meta.upsert(&flock, UserId(user_id.0), pairs).await?;
        Ok(list(all))
    }

    /// Every meta pair of a user, public and private (scope `user_meta_list`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/meta",
        method = "get",
        operation_id = "user_meta_list"
    )]
    async fn list(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<MetaList>> {
        auth.allow("user_meta_list")?;
        Ok(list(self.meta.list(&flock, UserId(user_id.0)).await?))
    }

    /// Delete a meta key of a user (scope `user_meta_delete`); with `value`, only when
    /// the key holds that value. 404 when there is nothing to delete.
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/meta/:key",
        method = "delete",
        operation_id = "user_meta_delete"
    )]
    async fn delete(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        /// The meta key.
        key: Path<String>,
        /// Delete only when the key holds this value.
        #[oai(validator(max_length = 1024))]
        value: Query<Option<String>>,
    ) -> ApiResult<Deleted> {
        auth.allow("user_meta_delete")?;
        let user = UserId(user_id.0);
        self.meta
            .delete(&flock, user, &key.0, value.0.as_deref())
            .await?;
        Ok(Deleted::Deleted)
    }

    /// The users holding a meta key, or a key=value pair (scope `user_meta_find_users`),
    /// a page at a time (cursor `next`).
    #[oai(
        path = "/api/v1/:flock/directory/meta",
        method = "get",
        operation_id = "user_meta_find_users"
    )]
    async fn find_users(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The meta key (named so: a `key` query parameter would read as a credential).
        #[oai(validator(max_length = 64))]
        meta_key: Query<String>,
        /// Only users whose key holds this value.
        #[oai(validator(max_length = 1024))]
        meta_value: Query<Option<String>>,
        /// Page size, 1 to 1,000 (default 50).
        limit: Query<Option<u64>>,
        /// `next` of the previous page (same key and value).
        #[oai(validator(max_length = 4096))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<MetaPage>> {
        auth.allow("user_meta_find_users")?;
        let page = self
            .meta
            .holders(&flock, &meta_key.0, meta_value.0, limit.0, cursor.0)
            .await?;
        Ok(Json(MetaPage {
            meta: page.items.into_iter().map(MetaView::from).collect(),
            has_more: page.next.is_some(),
            next: page.next,
        }))
    }
}
