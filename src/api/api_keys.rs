//! Flock API keys: create (shown once), list (no secrets), revoke — by a flock key that
//! holds the matching scope, or by the platform.
use super::error::ApiResult;
use super::frame::tenant;
use super::security::{PlatformAuth, ServerAuth};
use super::ApiTags;
use crate::db::api_keys::ApiKeyRow;
use crate::domain::api_keys::ApiKeyService;
use crate::domain::flocks::FlockService;
use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

pub struct ApiKeysApi {
    pub api_keys: ApiKeyService,
    /// Every operation id of the API: the names a scope may use.
    pub operations: &'static [&'static str],
}

#[derive(Object)]
#[oai(deny_unknown_fields, example, skip_serializing_if_is_none)]
struct CreateKeyRequest {
    /// A label for people (1–100 characters).
    #[oai(validator(max_length = 100))]
    name: String,
    /// Operation ids this key may call, or patterns: `*` (everything) or `prefix*`.
    /// Each must match a real operation. A flock key may only grant scopes it holds.
    #[oai(validator(max_items = 100))]
    scopes: Vec<String>,
}

impl poem_openapi::types::Example for CreateKeyRequest {
    fn example() -> Self {
        Self {
            name: "backend".into(),
            scopes: vec!["users_search".into(), "users_get".into()],
        }
    }
}

/// An API key, without its secret.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct KeyView {
    id: Uuid,
    name: String,
    /// The visible part of the key (`fold_fk_<prefix>_…`).
    prefix: String,
    scopes: Vec<String>,
    created_at: DateTime<Utc>,
    /// Minute granularity.
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for KeyView {
    fn from(m: ApiKeyRow) -> Self {
        Self {
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            scopes: serde_json::from_value(m.scopes).unwrap_or_default(),
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// A new key. `key` is shown this once; only its digest is stored.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct CreatedKey {
    /// The full key: send it as `X-Api-Key`. It cannot be shown again.
    key: String,
    #[oai(flatten)]
    view: KeyView,
}

#[derive(ApiResponse)]
enum CreateKeyResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<CreatedKey>),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct KeyList {
    keys: Vec<KeyView>,
}

#[derive(ApiResponse)]
enum RevokeKeyResponse {
    /// Revoked; the key is refused from the next call on.
    #[oai(status = 204)]
    Revoked,
}

#[OpenApi(tag = "ApiTags::ApiKeys")]
impl ApiKeysApi {
    /// Create an API key for this flock (scope `create_api_key`).
    #[oai(
        path = "/api/v1/:flock/api-keys",
        method = "post",
        operation_id = "create_api_key"
    )]
    async fn create(
        &self,
        auth: ServerAuth,
        /// The flock's slug.
        flock: tenant::Path,
        body: Json<CreateKeyRequest>,
    ) -> ApiResult<CreateKeyResponse> {
        let key = auth.0;
        key.allow("create_api_key")?;
        let b = body.0;
        let (row, full) = self
            .api_keys
            .create_checked(flock.id, &b.name, b.scopes, self.operations, Some(&key))
            .await?;
        Ok(CreateKeyResponse::Created(Json(CreatedKey {
            key: full,
            view: row.into(),
        })))
    }

    /// The flock's API keys, without secrets (scope `list_api_keys`).
    #[oai(
        path = "/api/v1/:flock/api-keys",
        method = "get",
        operation_id = "list_api_keys"
    )]
    async fn list(
        &self,
        auth: ServerAuth,
        /// The flock's slug.
        flock: tenant::Path,
    ) -> ApiResult<Json<KeyList>> {
        auth.0.allow("list_api_keys")?;
        let keys = self.api_keys.list(flock.id).await?;
        Ok(Json(KeyList {
            keys: keys.into_iter().map(KeyView::from).collect(),
        }))
    }

    /// Revoke an API key of this flock at once (scope `revoke_api_key`).
    #[oai(
        path = "/api/v1/:flock/api-keys/:key_id",
        method = "delete",
        operation_id = "revoke_api_key"
    )]
    async fn revoke(
        &self,
        auth: ServerAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The key's id.
        key_id: Path<Uuid>,
    ) -> ApiResult<RevokeKeyResponse> {
        auth.0.allow("revoke_api_key")?;
        self.api_keys.revoke(flock.id, key_id.0).await?;
        Ok(RevokeKeyResponse::Revoked)
    }
}

pub struct PlatformKeysApi {
    pub api_keys: ApiKeyService,
    pub flocks: FlockService,
    pub operations: &'static [&'static str],
}

#[OpenApi(prefix_path = "/platform/v1", tag = "ApiTags::Platform")]
impl PlatformKeysApi {
    /// Create an API key for a flock (platform key).
    #[oai(
        path = "/flocks/:slug/api-keys",
        method = "post",
        operation_id = "platform_create_api_key"
    )]
    async fn create(
        &self,
        _auth: PlatformAuth,
        /// The flock's slug.
        slug: Path<String>,
        body: Json<CreateKeyRequest>,
    ) -> ApiResult<CreateKeyResponse> {
        let flock = self.flocks.get(&slug.0).await?;
        let b = body.0;
        let (row, full) = self
            .api_keys
            .create_checked(flock.id, &b.name, b.scopes, self.operations, None)
            .await?;
        Ok(CreateKeyResponse::Created(Json(CreatedKey {
            key: full,
            view: row.into(),
        })))
    }

    /// A flock's API keys, without secrets (platform key).
    #[oai(
        path = "/flocks/:slug/api-keys",
        method = "get",
        operation_id = "platform_list_api_keys"
    )]
    async fn list(&self, _auth: PlatformAuth, slug: Path<String>) -> ApiResult<Json<KeyList>> {
        let flock = self.flocks.get(&slug.0).await?;
        let keys = self.api_keys.list(flock.id).await?;
        Ok(Json(KeyList {
            keys: keys.into_iter().map(KeyView::from).collect(),
        }))
    }

    /// Revoke a flock's API key at once (platform key).
    #[oai(
        path = "/flocks/:slug/api-keys/:key_id",
        method = "delete",
        operation_id = "platform_revoke_api_key"
    )]
    async fn revoke(
        &self,
        _auth: PlatformAuth,
        slug: Path<String>,
        key_id: Path<Uuid>,
    ) -> ApiResult<RevokeKeyResponse> {
        let flock = self.flocks.get(&slug.0).await?;
        self.api_keys.revoke(flock.id, key_id.0).await?;
        Ok(RevokeKeyResponse::Revoked)
    }
}
