//! User files: upload (the type sniffed from the bytes, checked against the flock's
//! limits; images decoded and resized on a bounded pool, metadata stripped), list,
//! reorder, replace, delete, download (authorised, or by a short-lived signed URL), and
//! erasure with the account.
//!
//! The bytes live in the file store under `{flock}/{user}/{file}/{version}/{part}`
//! (`part`: `original`, `s`, `m`, `l`); the database holds the metadata. Bytes are written
//! before their row and deleted before it, so a row never points at bytes of another
//! upload, and a deleted file's bytes are gone when the call returns.
mod image;
mod pool;
mod urls;

pub use image::{MAX_PIXELS, MAX_SIDE};
pub use urls::FileUrls;

use crate::db::files::{Added, FileMeta, FileRow};
use crate::db::Db;
use crate::domain::flocks::Flock;
use crate::domain::{InfraError, Invalid};
use crate::ids::{FlockId, UserId};
use crate::infra::clock::Clock;
use crate::infra::files::{FileStore, StoreError};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error("user not found")]
    UserNotFound,
    #[error("file not found")]
    NotFound,
    #[error("too many files")]
    TooMany { max: u32 },
    #[error("file too large")]
    TooLarge { max: u64 },
    #[error("the flock does not accept this type")]
    TypeNotAllowed { sniffed: &'static str },
    /// Every image worker is busy and the queue is full.
    #[error("busy")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<Invalid> for FileError {
    fn from(i: Invalid) -> Self {
        FileError::Invalid(i)
    }
}

impl From<FileError> for InfraError {
    /// For callers that only read files (`GET /user`): anything but an infrastructure
    /// failure is a bug there.
    fn from(e: FileError) -> Self {
        match e {
            FileError::Infra(i) => i,
            FileError::Store(s) => InfraError::Store(s),
            other => InfraError::Internal(other.to_string()),
        }
    }
}

impl From<crate::db::DbError> for FileError {
    fn from(e: crate::db::DbError) -> Self {
        FileError::Infra(e.into())
    }
}

/// One rendition as stored in the row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenditionMeta {
    pub name: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
}

/// A user's file, with signed paths to its bytes.
#[derive(Debug, Clone)]
pub struct UserFile {
    pub id: Uuid,
    pub user: UserId,
    pub position: i32,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub renditions: Vec<RenditionMeta>,
    /// `original`, and `s`, `m`, `l` for an image → a signed URL path.
    pub paths: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An upload as received.
pub struct Upload {
    /// The name the client gave.
    pub name: Option<String>,
    /// The type the client declared (checked against the sniffed one).
    pub declared_type: Option<String>,
    pub bytes: Bytes,
}

/// Bytes to send back.
pub struct Download {
    pub bytes: Bytes,
    pub content_type: String,
    pub name: String,
}

/// Which bytes of a file.
pub fn part_ok(part: &str) -> bool {
    matches!(part, "original" | "s" | "m" | "l")
}

#[derive(Clone)]
pub struct FileService {
    db: Db,
    clock: Clock,
    store: FileStore,
    urls: FileUrls,
    pool: pool::Pool,
}

fn key(flock: FlockId, user: UserId, file: Uuid) -> String {
    format!("{flock}/{}/{file}", user.0)
}

fn renditions_of(row: &FileRow) -> Vec<RenditionMeta> {
    serde_json::from_value(row.renditions.clone()).unwrap_or_default()
}

impl FileService {
    /// `workers`: images decoded at once; `queue`: uploads allowed to wait for one.
    pub fn new(
        db: Db,
        clock: Clock,
        store: FileStore,
        urls: FileUrls,
        workers: usize,
        queue: usize,
    ) -> std::io::Result<Self> {
        Ok(Self {
            db,
            clock,
            store,
            urls,
            pool: pool::Pool::new(workers, queue)?,
        })
    }

    pub fn store(&self) -> &FileStore {
        &self.store
    }

    /// An account of this flock that is not anonymised.
    async fn holder(&self, flock: &Flock, user: UserId) -> Result<(), FileError> {
        if self.db.scoped(flock.id).user_is_live(user).await? {
            Ok(())
        } else {
            Err(FileError::UserNotFound)
        }
    }

    async fn view(&self, flock: &Flock, row: FileRow) -> Result<UserFile, FileError> {
        let renditions = renditions_of(&row);
        let mut parts = vec!["original".to_owned()];
        parts.extend(renditions.iter().map(|r| r.name.clone()));
        let mut paths = BTreeMap::new();
        for part in parts {
            let p = self.urls.path(flock, row.id, row.version, &part).await?;
            paths.insert(part, p);
        }
        Ok(UserFile {
            id: row.id,
            user: UserId(row.user_id),
            position: row.position,
            name: row.name,
            content_type: row.content_type,
            size: row.size,
            width: row.width,
            height: row.height,
            renditions,
            paths,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    pub async fn views(
        &self,
        flock: &Flock,
        rows: Vec<FileRow>,
    ) -> Result<Vec<UserFile>, FileError> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.view(flock, r).await?);
        }
        Ok(out)
    }

    /// Checks an upload against the flock's limits and prepares it on the pool.
    async fn prepare(
        &self,
        flock: &Flock,
        up: Upload,
    ) -> Result<(FileMeta, image::Prepared), FileError> {
        let limits = &flock.settings.files;
        if up.bytes.len() as u64 > limits.max_bytes {
            return Err(FileError::TooLarge {
                max: limits.max_bytes,
            });
        }
        if up.bytes.is_empty() {
            return Err(Invalid::new("empty_file", "file", "the file is empty").into());
        }
        let Some(sniffed) = image::sniff(&up.bytes) else {
            return Err(Invalid::new(
                "unsupported_file_type",
                "file",
                "the bytes are not a JPEG, PNG, WebP, GIF or PDF file",
            )
            .into());
        };
        if let Some(declared) = up.declared_type.as_deref() {
            let declared = declared
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let generic = declared.is_empty() || declared == "application/octet-stream";
            let same = declared == sniffed || (declared == "image/jpg" && sniffed == "image/jpeg");
            if !generic && !same {
                return Err(Invalid::new(
                    "content_type_mismatch",
                    "file",
                    format!("the file was declared {declared} but its bytes are {sniffed}"),
                )
                .into());
            }
        }
        if !limits.content_types.iter().any(|t| t == sniffed) {
            return Err(FileError::TypeNotAllowed { sniffed });
        }

        let sizes = [limits.rendition_s, limits.rendition_m, limits.rendition_l];
        let (bytes, up_name) = (up.bytes, up.name);
        let prepared = self
            .pool
            .run(move || image::prepare(bytes, sniffed, sizes))
            .await
            .map_err(|e| match e {
                pool::PoolError::Full => FileError::Busy,
                pool::PoolError::Crashed => {
                    tracing::error!(content_type = sniffed, "an image decoder panicked");
                    Invalid::new("invalid_image", "file", "the image cannot be decoded").into()
                }
            })??;
        let renditions: Vec<RenditionMeta> = prepared
            .renditions
            .iter()
            .map(|r| RenditionMeta {
                name: r.name.to_owned(),
                content_type: r.content_type.to_owned(),
                width: r.width,
                height: r.height,
            })
            .collect();
        let meta = FileMeta {
            // The extension of what is stored (a GIF or WebP is stored as PNG).
            name: image::clean_name(up_name.as_deref(), prepared.content_type),
            content_type: prepared.content_type.to_owned(),
            size: prepared.original.len() as i64,
            width: prepared.width.map(|w| w as i32),
            height: prepared.height.map(|h| h as i32),
            renditions: serde_json::to_value(renditions)
                .map_err(|e| InfraError::Internal(e.to_string()))?,
            version: Uuid::now_v7(),
        };
        Ok((meta, prepared))
    }

    /// Writes every part of a prepared upload under `base/{version}/`.
    async fn put_parts(
        &self,
        base: &str,
        version: Uuid,
        p: image::Prepared,
    ) -> Result<(), FileError> {
        self.store
            .put(&format!("{base}/{version}/original"), p.original)
            .await?;
        for r in p.renditions {
            self.store
                .put(&format!("{base}/{version}/{}", r.name), r.bytes)
                .await?;
        }
        Ok(())
    }

    pub async fn upload(
        &self,
        flock: &Flock,
        user: UserId,
        up: Upload,
    ) -> Result<UserFile, FileError> {
        self.holder(flock, user).await?;
        let db = self.db.scoped(flock.id);
        let max = flock.settings.files.max_count;
        if db.files_of(user).await?.len() as u32 >= max {
            return Err(FileError::TooMany { max });
        }
        let (meta, prepared) = self.prepare(flock, up).await?;
        let id = Uuid::now_v7();
        let base = key(flock.id, user, id);
        let version = meta.version;
        if let Err(e) = self.put_parts(&base, version, prepared).await {
            let _ = self.store.delete_prefix(&base).await;
            return Err(e);
        }
        match db.file_add(user, id, meta, max, self.clock.now()).await {
            Ok(Added::Done(row)) => self.view(flock, *row).await,
            Ok(Added::Full) => {
                self.store.delete_prefix(&base).await?;
                Err(FileError::TooMany { max })
            }
            Ok(Added::Gone) => {
                self.store.delete_prefix(&base).await?;
                Err(FileError::UserNotFound)
            }
            Err(e) => {
                let _ = self.store.delete_prefix(&base).await;
                Err(e.into())
            }
        }
    }

    pub async fn list(&self, flock: &Flock, user: UserId) -> Result<Vec<UserFile>, FileError> {
        self.holder(flock, user).await?;
        let rows = self.db.scoped(flock.id).files_of(user).await?;
        self.views(flock, rows).await
    }

    /// The user's files through the short-lived cache (`GET /user`, the card).
    pub async fn list_cached(
        &self,
        flock: &Flock,
        user: UserId,
    ) -> Result<Vec<UserFile>, FileError> {
        let rows = self.db.scoped(flock.id).files_cached(user).await?;
        self.views(flock, rows).await
    }

    /// New bytes for a file: same id and place; the old bytes (and their URLs) are gone.
    pub async fn replace(
        &self,
        flock: &Flock,
        user: UserId,
        id: Uuid,
        up: Upload,
    ) -> Result<UserFile, FileError> {
        self.holder(flock, user).await?;
        let db = self.db.scoped(flock.id);
        if db.file(user, id).await?.is_none() {
            return Err(FileError::NotFound);
        }
        let (meta, prepared) = self.prepare(flock, up).await?;
        let base = key(flock.id, user, id);
        let version = meta.version;
        if let Err(e) = self.put_parts(&base, version, prepared).await {
            let _ = self.store.delete_prefix(&format!("{base}/{version}")).await;
            return Err(e);
        }
        match db.file_replace(user, id, meta, self.clock.now()).await {
            Ok(Some((old, new))) => {
                self.store
                    .delete_prefix(&format!("{base}/{}", old.version))
                    .await?;
                self.view(flock, new).await
            }
            Ok(None) => {
                self.store.delete_prefix(&base).await?;
                Err(FileError::NotFound)
            }
            Err(e) => {
                let _ = self.store.delete_prefix(&format!("{base}/{version}")).await;
                Err(e.into())
            }
        }
    }

    /// Deletes a file: its bytes first (a store that is down leaves everything as it
    /// was), then its row.
    pub async fn delete(&self, flock: &Flock, user: UserId, id: Uuid) -> Result<(), FileError> {
        self.holder(flock, user).await?;
        let db = self.db.scoped(flock.id);
        if db.file(user, id).await?.is_none() {
            return Err(FileError::NotFound);
        }
        self.store.delete_prefix(&key(flock.id, user, id)).await?;
        db.file_delete(user, id).await?;
        Ok(())
    }

    /// Puts the user's files in the order given (every file once).
    pub async fn reorder(
        &self,
        flock: &Flock,
        user: UserId,
        ids: &[Uuid],
    ) -> Result<Vec<UserFile>, FileError> {
        self.holder(flock, user).await?;
        let db = self.db.scoped(flock.id);
        if !db.files_reorder(user, ids, self.clock.now()).await? {
            return Err(Invalid::new(
                "invalid_order",
                "order",
                "name each of the user's files exactly once",
            )
            .into());
        }
        let rows = db.files_of(user).await?;
        self.views(flock, rows).await
    }

    /// A part of a user's file, for the user or the back office.
    pub async fn download(
        &self,
        flock: &Flock,
        user: UserId,
        id: Uuid,
        part: &str,
    ) -> Result<Download, FileError> {
        self.holder(flock, user).await?;
        let row = self
            .db
            .scoped(flock.id)
            .file(user, id)
            .await?
            .ok_or(FileError::NotFound)?;
        self.bytes_of(flock, row, part).await
    }

    /// A part of a file by a signed URL: valid signature, not expired, the file's
    /// current version; anything else reads as not found.
    pub async fn signed(
        &self,
        flock: &Flock,
        id: Uuid,
        part: &str,
        version: Uuid,
        expires: i64,
        signature: &str,
    ) -> Result<Download, FileError> {
        if !self
            .urls
            .verify(flock, id, version, part, expires, signature)
            .await?
        {
            return Err(FileError::NotFound);
        }
        let row = self
            .db
            .scoped(flock.id)
            .file_by_id(id)
            .await?
            .filter(|r| r.version == version)
            .ok_or(FileError::NotFound)?;
        self.bytes_of(flock, row, part).await
    }

    async fn bytes_of(
        &self,
        flock: &Flock,
        row: FileRow,
        part: &str,
    ) -> Result<Download, FileError> {
        let content_type = if part == "original" {
            row.content_type.clone()
        } else {
            renditions_of(&row)
                .into_iter()
                .find(|r| r.name == part)
                .ok_or(FileError::NotFound)?
                .content_type
        };
        let k = format!(
            "{}/{}/{part}",
            key(flock.id, UserId(row.user_id), row.id),
            row.version
        );
        let bytes = self.store.get(&k).await?.ok_or(FileError::NotFound)?;
        let name = if part == "original" {
            row.name
        } else {
            let stem = row
                .name
                .rsplit_once('.')
                .map_or(row.name.as_str(), |(s, _)| s);
            let ext = if content_type == "image/png" {
                "png"
            } else {
                "jpg"
            };
            format!("{stem}-{part}.{ext}")
        };
        Ok(Download {
            bytes,
            content_type,
            name,
        })
    }

    /// Deletes every file of a user from the store (erasure: before the rows go, so a
    /// store that is down stops the erasure rather than leaving bytes behind).
    pub async fn erase(&self, flock: FlockId, user: UserId) -> Result<(), InfraError> {
        Ok(self
            .store
            .delete_prefix(&format!("{flock}/{}", user.0))
            .await?)
    }
}
