//! The file store: a local directory (the embedded default) or an S3-compatible object
//! store, both through the `object_store` crate. Keys are `{flock}/{user}/{file}/…`, so
//! one flock's files never share a prefix with another's.
use crate::config::FilesConfig;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use secrecy::ExposeSecret;
use std::sync::Arc;

/// The store failed (unreachable, refused): callers answer 503.
#[derive(Debug, thiserror::Error)]
#[error("file store unavailable: {0}")]
pub struct StoreError(String);

impl From<object_store::Error> for StoreError {
    fn from(e: object_store::Error) -> Self {
        Self(e.to_string())
    }
}

/// No `Debug`: the S3 client holds its credentials.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<dyn ObjectStore>,
}

impl FileStore {
    pub fn from_config(c: &FilesConfig) -> Result<Self, String> {
        let inner: Arc<dyn ObjectStore> = match c.store.as_str() {
            "local" => {
                std::fs::create_dir_all(&c.dir)
                    .map_err(|e| format!("files.dir {}: {e}", c.dir.display()))?;
                Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(&c.dir)
                        .map_err(|e| format!("files.dir {}: {e}", c.dir.display()))?,
                )
            }
            "s3" => {
                // A store that does not answer costs a request seconds, not minutes:
                // two retries within 10 s, then 503.
                let retry = object_store::RetryConfig {
                    max_retries: 2,
                    retry_timeout: std::time::Duration::from_secs(10),
                    ..Default::default()
                };
                let client = object_store::ClientOptions::new()
                    .with_connect_timeout(std::time::Duration::from_secs(2))
                    .with_timeout(std::time::Duration::from_secs(30));
                let mut b = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&c.s3_bucket)
                    .with_region(&c.s3_region)
                    .with_retry(retry)
                    .with_client_options(client);
                if let Some(e) = &c.s3_endpoint {
                    b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
                }
                if let (Some(k), Some(s)) = (&c.s3_access_key_id, &c.s3_secret_access_key) {
                    b = b
                        .with_access_key_id(k)
                        .with_secret_access_key(s.expose_secret());
                }
                Arc::new(b.build().map_err(|e| format!("files (s3): {e}"))?)
            }
            other => return Err(format!("files.store: `local` or `s3`, not {other:?}")),
        };
        Ok(Self { inner })
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.inner
            .put(&Path::from(key), PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// The bytes at `key`; `None` when there are none.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self.inner.get(&Path::from(key)).await {
            Ok(r) => Ok(Some(r.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every object under `prefix` (a folder of the key space).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), StoreError> {
        let prefix = Path::from(prefix);
        let keys = self
            .inner
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .boxed();
        self.inner
            .delete_stream(keys)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }

    /// How many objects are under `prefix`.
    pub async fn count_under(&self, prefix: &str) -> Result<usize, StoreError> {
        let prefix = Path::from(prefix);
        Ok(self
            .inner
            .list(Some(&prefix))
            .try_collect::<Vec<_>>()
            .await?
            .len())
    }

    /// Whether the store answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.get("fold-readiness-probe").await.map(|_| ())
    }
}
