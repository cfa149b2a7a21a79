//! The embedded backend: a redb file, so sessions and counters survive a restart with no
//! server to run. Every mutation is one serialised write transaction (atomic like a Redis
//! script) committed durably before the call returns.
use super::{KvError, KvResult};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Page cache of the embedded store.
const EMBEDDED_CACHE_BYTES: usize = 16 * 1024 * 1024;

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");

#[derive(Clone)]
pub struct EmbeddedKv {
    db: Arc<Database>,
    /// redb runs one write transaction at a time anyway; taking turns here keeps the
    /// waiting writers in the async runtime instead of parking one blocking thread each
    /// (with its own stack and allocator heap) under load.
    writer: Arc<tokio::sync::Mutex<()>>,
}

fn err(e: impl std::fmt::Display) -> KvError {
    KvError::Unavailable(e.to_string())
}

/// Real time in ms: expiry here is garbage collection, not a domain rule.
#[allow(clippy::disallowed_methods)]
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Stored value: 8 bytes of expiry (unix ms, big-endian) then the payload.
fn encode(value: &[u8], ttl: Duration) -> Vec<u8> {
    let exp = now_ms().saturating_add(ttl.as_millis() as u64);
    let mut v = Vec::with_capacity(8 + value.len());
    v.extend_from_slice(&exp.to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// The payload if the record has not expired.
fn decode(raw: &[u8]) -> Option<(u64, &[u8])> {
    let (head, body) = raw.split_at_checked(8)?;
    let exp = u64::from_be_bytes(head.try_into().ok()?);
    (exp > now_ms()).then_some((exp, body))
}

type Table<'t> = redb::Table<'t, &'static str, &'static [u8]>;

/// A counter's deadline and value; a missing one starts at 0 and lives `ttl`.
fn counter(t: &Table<'_>, key: &str, ttl: Duration) -> KvResult<(u64, i64)> {
    Ok(match live(t, key)? {
        Some((exp, v)) => (
            exp,
            std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0),
        ),
        None => (now_ms().saturating_add(ttl.as_millis() as u64), 0),
    })
}

fn live(table: &Table<'_>, key: &str) -> KvResult<Option<(u64, Vec<u8>)>> {
    let got = table.get(key).map_err(err)?;
    Ok(got.and_then(|g| decode(g.value()).map(|(e, v)| (e, v.to_vec()))))
}

impl EmbeddedKv {
    pub fn open(path: &Path) -> KvResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        // A bounded page cache: the store holds short-lived records, and redb's default
        // cache (1 GiB) would let the server's memory grow with the write volume.
        let db = Database::builder()
            .set_cache_size(EMBEDDED_CACHE_BYTES)
            .create(path)
            .map_err(err)?;
        let kv = Self {
            db: Arc::new(db),
            writer: Arc::new(tokio::sync::Mutex::new(())),
        };
        kv.write_sync(|t| {
            // Drop what expired while the server was down.
            let now = now_ms();
            t.retain(|_, v| decode_exp(v).is_some_and(|e| e > now))
                .map_err(err)
        })?;
        Ok(kv)
    }

    fn write_sync<R>(&self, f: impl FnOnce(&mut Table<'_>) -> KvResult<R>) -> KvResult<R> {
        let txn = self.db.begin_write().map_err(err)?;
        let r = {
            let mut table = txn.open_table(TABLE).map_err(err)?;
            f(&mut table)?
        };
        txn.commit().map_err(err)?;
        Ok(r)
    }

    async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Table<'_>) -> KvResult<R> + Send + 'static,
    ) -> KvResult<R> {
        let _turn = self.writer.lock().await;
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.write_sync(f))
            .await
            .map_err(err)?
    }

    pub async fn ping(&self) -> KvResult<()> {
        self.db.begin_read().map_err(err).map(|_| ())
    }

    pub async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = match txn.open_table(TABLE) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        let got = table.get(key).map_err(err)?;
        Ok(got.and_then(|g| decode(g.value()).map(|(_, v)| v.to_vec())))
    }

    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> KvResult<()> {
        let (key, rec) = (key.to_owned(), encode(value, ttl));
        self.write(move |t| {
            t.insert(key.as_str(), rec.as_slice())
                .map(|_| ())
                .map_err(err)
        })
        .await
    }

    pub async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> KvResult<bool> {
        let (key, rec) = (key.to_owned(), encode(value, ttl));
        self.write(move |t| {
            if live(t, &key)?.is_some() {
                return Ok(false);
            }
            t.insert(key.as_str(), rec.as_slice()).map_err(err)?;
            Ok(true)
        })
        .await
    }

    pub async fn del(&self, key: &str) -> KvResult<bool> {
        let key = key.to_owned();
        self.write(move |t| {
            let existed = live(t, &key)?.is_some();
            t.remove(key.as_str()).map_err(err)?;
            Ok(existed)
        })
        .await
    }

    pub async fn take(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        let key = key.to_owned();
        self.write(move |t| {
            let cur = live(t, &key)?;
            t.remove(key.as_str()).map_err(err)?;
            Ok(cur.map(|(_, v)| v))
        })
        .await
    }

    pub async fn incr_capped(
        &self,
        key: &str,
        also: Option<&str>,
        by: i64,
        cap: i64,
        ttl: Duration,
    ) -> KvResult<Option<i64>> {
        let key = key.to_owned();
        let also = also.map(str::to_owned);
        self.write(move |t| {
            let other = match &also {
                Some(a) => live(t, a)?
                    .and_then(|(_, v)| std::str::from_utf8(&v).ok()?.parse::<i64>().ok())
                    .unwrap_or(0),
                None => 0,
            };
            let (exp, cur) = counter(t, &key, ttl)?;
            let next = cur.saturating_add(by);
            if next.saturating_add(other) > cap {
                return Ok(None);
            }
            let mut rec = exp.to_be_bytes().to_vec();
            rec.extend_from_slice(next.to_string().as_bytes());
            t.insert(key.as_str(), rec.as_slice()).map_err(err)?;
            Ok(Some(next))
        })
        .await
    }

    pub async fn incr(&self, key: &str, by: i64, ttl: Duration) -> KvResult<i64> {
        let key = key.to_owned();
        self.write(move |t| {
            let (exp, cur) = counter(t, &key, ttl)?;
            let next = cur.saturating_add(by);
            let mut rec = exp.to_be_bytes().to_vec();
            rec.extend_from_slice(next.to_string().as_bytes());
            t.insert(key.as_str(), rec.as_slice()).map_err(err)?;
            Ok(next)
        })
        .await
    }

    pub async fn cas(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl: Duration,
    ) -> KvResult<bool> {
        let key = key.to_owned();
        let expected = expected.map(<[u8]>::to_vec);
        let rec = new.map(|n| encode(n, ttl));
        self.write(move |t| {
            let cur = live(t, &key)?.map(|(_, v)| v);
            if cur != expected {
                return Ok(false);
            }
            match rec {
                Some(rec) => t.insert(key.as_str(), rec.as_slice()).map(|_| ()),
                None => t.remove(key.as_str()).map(|_| ()),
            }
            .map_err(err)?;
            Ok(true)
        })
        .await
    }

    fn read_set(t: &Table<'_>, key: &str) -> KvResult<BTreeSet<String>> {
        Ok(live(t, key)?
            .and_then(|(_, v)| serde_json::from_slice(&v).ok())
            .unwrap_or_default())
    }

    fn write_set(t: &mut Table<'_>, key: &str, set: &BTreeSet<String>, exp: u64) -> KvResult<()> {
        if set.is_empty() {
            t.remove(key).map_err(err)?;
            return Ok(());
        }
        let mut rec = exp.to_be_bytes().to_vec();
        rec.extend_from_slice(&serde_json::to_vec(set).map_err(err)?);
        t.insert(key, rec.as_slice()).map_err(err)?;
        Ok(())
    }

    pub async fn sadd(&self, key: &str, member: &str, ttl: Duration) -> KvResult<()> {
        let (key, member) = (key.to_owned(), member.to_owned());
        self.write(move |t| {
            let mut set = Self::read_set(t, &key)?;
            set.insert(member);
            Self::write_set(
                t,
                &key,
                &set,
                now_ms().saturating_add(ttl.as_millis() as u64),
            )
        })
        .await
    }

    pub async fn srem(&self, key: &str, member: &str) -> KvResult<()> {
        let (key, member) = (key.to_owned(), member.to_owned());
        self.write(move |t| {
            let Some((exp, _)) = live(t, &key)? else {
                return Ok(());
            };
            let mut set = Self::read_set(t, &key)?;
            set.remove(&member);
            Self::write_set(t, &key, &set, exp)
        })
        .await
    }

    pub async fn smembers(&self, key: &str) -> KvResult<Vec<String>> {
        let raw = self.get(key).await?;
        Ok(raw
            .and_then(|v| serde_json::from_slice::<Vec<String>>(&v).ok())
            .unwrap_or_default())
    }

    /// Commits are already durable; this sweeps expired records.
    pub async fn flush(&self) -> KvResult<()> {
        self.write(|t| {
            let now = now_ms();
            t.retain(|_, v| decode_exp(v).is_some_and(|e| e > now))
                .map_err(err)
        })
        .await
    }
}

fn decode_exp(raw: &[u8]) -> Option<u64> {
    raw.get(..8)
        .and_then(|h| h.try_into().ok())
        .map(u64::from_be_bytes)
}
