//! User files: the user's own (bearer) under `/user/files`, any user's from the back
//! office (flock API key, scopes `users_files_*`), and signed download URLs
//! (`/files/{id}/{part}`, no credential: the signature is one).
mod download;
mod settings;

pub(in crate::api) use settings::{FileSettingsPatch, FileSettingsView};

use super::error::ApiResult;
use super::frame::tenant;
use super::security::{BackOfficeAuth, UserAuth};
use super::ApiTags;
use crate::domain::files::{part_ok, FileService, Upload as FileUpload, UserFile};
use crate::domain::Invalid;
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use download::FileBytes;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, Object, OpenApi};
use std::collections::BTreeMap;
use uuid::Uuid;

pub struct FilesApi {
    pub files: FileService,
}

/// A file to upload.
#[derive(Multipart)]
struct UploadForm {
    /// The file: JPEG, PNG, WebP, GIF or PDF (as the flock allows). Its type is read
    /// from its bytes; a declared type that differs is refused.
    file: Upload,
    /// The name to keep (default: the uploaded file's name); cleaned, and given the
    /// extension of the type.
    name: Option<String>,
}

impl UploadForm {
    async fn into_upload(self) -> Result<FileUpload, Invalid> {
        let name = self
            .name
            .or_else(|| self.file.file_name().map(str::to_owned));
        let declared_type = self.file.content_type().map(str::to_owned);
        let bytes = self
            .file
            .into_vec()
            .await
            .map_err(|_| Invalid::new("invalid_file", "file", "the file could not be read"))?;
        Ok(FileUpload {
            name,
            declared_type,
            bytes: bytes.into(),
        })
    }
}

/// One rendition of an image.
#[derive(Object)]
struct RenditionView {
    /// `s`, `m` or `l`.
    name: String,
    content_type: String,
    width: u32,
    height: u32,
}

/// A user's file.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(in crate::api) struct FileView {
    id: Uuid,
    user_id: Uuid,
    /// Place in the user's list, from 0.
    position: i32,
    name: String,
    /// As sniffed from the bytes.
    content_type: String,
    /// Bytes of the original (metadata stripped).
    size: i64,
    width: Option<i32>,
    height: Option<i32>,
    /// The image renditions (none for other files).
    renditions: Vec<RenditionView>,
    /// Signed URL paths (relative to the deployment) of `original` and each rendition,
    /// valid for at least `files.url_ttl_secs`; no credential needed.
    paths: BTreeMap<String, String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<UserFile> for FileView {
    fn from(f: UserFile) -> Self {
        Self {
            id: f.id,
            user_id: f.user.0,
            position: f.position,
            name: f.name,
            content_type: f.content_type,
            size: f.size,
            width: f.width,
            height: f.height,
            renditions: f
                .renditions
                .into_iter()
                .map(|r| RenditionView {
                    name: r.name,
                    content_type: r.content_type,
                    width: r.width,
                    height: r.height,
                })
                .collect(),
            paths: f.paths,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

/// A user's files, in order.
#[derive(Object)]
struct FileList {
    files: Vec<FileView>,
}

fn list(files: Vec<UserFile>) -> Json<FileList> {
    Json(FileList {
        files: files.into_iter().map(Into::into).collect(),
    })
}

/// The new order of a user's files.
#[derive(Object)]
#[oai(deny_unknown_fields)]
struct OrderBody {
    /// Every one of the user's file ids once, in the order wanted (position 0 first).
    #[oai(validator(max_items = 1000))]
    order: Vec<Uuid>,
}

#[derive(ApiResponse)]
enum Uploaded {
    /// Stored (with its renditions, for an image).
    #[oai(status = 201)]
    Created(Json<FileView>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted, bytes and renditions.
    #[oai(status = 204)]
    Deleted,
}

fn checked_part(part: Option<String>) -> Result<String, Invalid> {
    let part = part.unwrap_or_else(|| "original".to_owned());
    if part_ok(&part) {
        Ok(part)
    } else {
        Err(Invalid::new(
            "invalid_part",
            "part",
            "part is original, s, m or l",
        ))
    }
}

#[OpenApi(tag = "ApiTags::Files")]
impl FilesApi {
    /// The signed-in user's files, in order.
    #[oai(
        path = "/api/v1/:flock/user/files",
        method = "get",
        operation_id = "user_files_list"
    )]
    async fn mine(&self, flock: tenant::Path, auth: UserAuth) -> ApiResult<Json<FileList>> {
        Ok(list(self.files.list(&flock, auth.0.user).await?))
    }

    /// Upload a file (multipart, field `file`): 413 `file_too_large` over the flock's
    /// `files.max_bytes`, 409 `too_many_files` at `files.max_count`, 400
    /// `unsupported_file_type` / `file_type_not_allowed` / `content_type_mismatch` /
    /// `image_too_large` (over 16,384 px a side or 40 MP).
    #[oai(
        path = "/api/v1/:flock/user/files",
        method = "post",
        operation_id = "user_files_upload"
    )]
    async fn upload_mine(
        &self,
        flock: tenant::Path,
        auth: UserAuth,
        form: UploadForm,
    ) -> ApiResult<Uploaded> {
        let up = form.into_upload().await?;
        let f = self.files.upload(&flock, auth.0.user, up).await?;
        Ok(Uploaded::Created(Json(f.into())))
    }

    /// Put the signed-in user's files in a new order.
    #[oai(
        path = "/api/v1/:flock/user/files/order",
        method = "put",
        operation_id = "user_files_reorder"
    )]
    async fn reorder_mine(
        &self,
        flock: tenant::Path,
        auth: UserAuth,
        body: Json<OrderBody>,
    ) -> ApiResult<Json<FileList>> {
        let files = self
            .files
            .reorder(&flock, auth.0.user, &body.0.order)
            .await?;
        Ok(list(files))
    }

    /// Replace a file's bytes (multipart, as upload): same id and place; the old bytes
    /// and their URLs stop working.
    #[oai(
        path = "/api/v1/:flock/user/files/:file_id",
        method = "put",
        operation_id = "user_files_replace"
    )]
    async fn replace_mine(
        &self,
        flock: tenant::Path,
        auth: UserAuth,
        /// The file's id.
        file_id: Path<Uuid>,
        form: UploadForm,
    ) -> ApiResult<Json<FileView>> {
        let up = form.into_upload().await?;
        let f = self
            .files
            .replace(&flock, auth.0.user, file_id.0, up)
            .await?;
        Ok(Json(f.into()))
    }

    /// Delete a file.
    #[oai(
        path = "/api/v1/:flock/user/files/:file_id",
        method = "delete",
        operation_id = "user_files_delete"
    )]
    async fn delete_mine(
        &self,
        flock: tenant::Path,
        auth: UserAuth,
        /// The file's id.
        file_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        self.files.delete(&flock, auth.0.user, file_id.0).await?;
        Ok(Deleted::Deleted)
    }

    /// Download a file of the signed-in user (`part`: `original`, or the rendition `s`,
    /// `m`, `l` of an image).
    #[oai(
        path = "/api/v1/:flock/user/files/:file_id/content",
        method = "get",
        operation_id = "user_files_download"
    )]
    async fn download_mine(
        &self,
        flock: tenant::Path,
        auth: UserAuth,
        /// The file's id.
        file_id: Path<Uuid>,
        /// `original` (default), `s`, `m` or `l`.
        #[oai(validator(max_length = 16))]
        part: Query<Option<String>>,
    ) -> ApiResult<FileBytes> {
        let part = checked_part(part.0)?;
        let d = self
            .files
            .download(&flock, auth.0.user, file_id.0, &part)
            .await?;
        Ok(FileBytes(d))
    }

    /// A user's files (scope `users_files_list`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/files",
        method = "get",
        operation_id = "users_files_list"
    )]
    async fn list(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<FileList>> {
        auth.allow("users_files_list")?;
        Ok(list(self.files.list(&flock, UserId(user_id.0)).await?))
    }

    /// Upload a file for a user (scope `users_files_upload`; as the user's upload).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/files",
        method = "post",
        operation_id = "users_files_upload"
    )]
    async fn upload(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        form: UploadForm,
    ) -> ApiResult<Uploaded> {
        auth.allow("users_files_upload")?;
        let up = form.into_upload().await?;
        let f = self.files.upload(&flock, UserId(user_id.0), up).await?;
        Ok(Uploaded::Created(Json(f.into())))
    }

    /// Put a user's files in a new order (scope `users_files_reorder`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/files/order",
        method = "put",
        operation_id = "users_files_reorder"
    )]
    async fn reorder(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        body: Json<OrderBody>,
    ) -> ApiResult<Json<FileList>> {
        auth.allow("users_files_reorder")?;
        let files = self
            .files
            .reorder(&flock, UserId(user_id.0), &body.0.order)
            .await?;
        Ok(list(files))
    }

    /// Replace a user's file (scope `users_files_replace`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/files/:file_id",
        method = "put",
        operation_id = "users_files_replace"
    )]
    async fn replace(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        /// The file's id.
        file_id: Path<Uuid>,
        form: UploadForm,
    ) -> ApiResult<Json<FileView>> {
        auth.allow("users_files_replace")?;
        let up = form.into_upload().await?;
        let f = self
            .files
            .replace(&flock, UserId(user_id.0), file_id.0, up)
            .await?;
        Ok(Json(f.into()))
    }

    /// Delete a user's file (scope `users_files_delete`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/files/:file_id",
        method = "delete",
        operation_id = "users_files_delete"
    )]
    async fn delete(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        /// The file's id.
        file_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        auth.allow("users_files_delete")?;
        self.files
            .delete(&flock, UserId(user_id.0), file_id.0)
            .await?;
        Ok(Deleted::Deleted)
    }

    /// Download a user's file (scope `users_files_download`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/files/:file_id/content",
        method = "get",
        operation_id = "users_files_download"
    )]
    async fn download(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        /// The file's id.
        file_id: Path<Uuid>,
        /// `original` (default), `s`, `m` or `l`.
        #[oai(validator(max_length = 16))]
        part: Query<Option<String>>,
    ) -> ApiResult<FileBytes> {
        auth.allow("users_files_download")?;
        let part = checked_part(part.0)?;
        let d = self
            .files
            .download(&flock, UserId(user_id.0), file_id.0, &part)
            .await?;
        Ok(FileBytes(d))
    }

    /// A file by its signed URL (a `paths` entry of the file): no credential; an
    /// expired, altered or replaced file's URL is 404 `file_not_found`.
    #[oai(
        path = "/api/v1/:flock/files/:file_id/:part",
        method = "get",
        operation_id = "files_signed_get"
    )]
    async fn signed(
        &self,
        flock: tenant::Path,
        /// The file's id.
        file_id: Path<Uuid>,
        /// `original`, `s`, `m` or `l`.
        #[oai(validator(max_length = 16))]
        part: Path<String>,
        /// The file's version.
        v: Query<Uuid>,
        /// Unix seconds.
        expires: Query<i64>,
        #[oai(validator(max_length = 128))] signature: Query<String>,
    ) -> ApiResult<FileBytes> {
        if !part_ok(&part.0) {
            return Err(crate::domain::files::FileError::NotFound.into());
        }
        let d = self
            .files
            .signed(&flock, file_id.0, &part.0, v.0, expires.0, &signature.0)
            .await?;
        Ok(FileBytes(d))
    }
}
