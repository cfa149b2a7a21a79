//! The embedded backend: a redb file, so sessions and counters survive a restart with no
//! server to run.
//!
//! Group commit: every mutation is a job queued for one writer thread, which takes every
//! job waiting when its turn comes (up to `MAX_GROUP`), runs them one after the other in
//! one write transaction, commits it durably (one fsync for the group) and only then
//! answers each caller. Each job sees the effects of the jobs before it, so a job is as
//! atomic as a Redis script; throughput grows with the number of concurrent writers
//! while every acknowledged write is on disk.
use super::{KvError, KvResult, Step};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// Page cache of the embedded store.
const EMBEDDED_CACHE_BYTES: usize = 16 * 1024 * 1024;

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");

/// Most jobs one commit carries.
const MAX_GROUP: usize = 1024;

/// What a job tells its caller once the group's fate is known: `None` when the group was
/// committed, the reason otherwise.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;
/// One mutation: runs inside the group's transaction; true when it failed (the group is
/// then rolled back, since the failed job may have written half of what it meant to).
type Job = Box<dyn for<'t> FnOnce(&mut Table<'t>) -> (bool, Answer) + Send>;

#[derive(Clone)]
pub struct EmbeddedKv {
    db: Arc<Database>,
    /// The writer thread's queue. redb runs one write transaction at a time; one thread
    /// owning them keeps the waiting writers in the async runtime and lets a commit carry
    /// everyone who queued while the previous one was being written.
    jobs: mpsc::UnboundedSender<Job>,
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
        let db = Arc::new(db);
        {
            // Drop what expired while the server was down.
            let txn = db.begin_write().map_err(err)?;
            {
                let mut t = txn.open_table(TABLE).map_err(err)?;
                let now = now_ms();
                t.retain(|_, v| decode_exp(v).is_some_and(|e| e > now))
                    .map_err(err)?;
            }
            txn.commit().map_err(err)?;
        }
        let (jobs, queue) = mpsc::unbounded_channel();
        let owned = db.clone();
        std::thread::Builder::new()
            .name("fold-kv-writer".into())
            .spawn(move || writer(&owned, queue))
            .map_err(err)?;
        Ok(Self { db, jobs })
    }

    /// Queues `f` for the writer thread and waits until the group it ran in is durable.
    async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Table<'_>) -> KvResult<R> + Send + 'static,
    ) -> KvResult<R> {
        let (tx, rx) = oneshot::channel::<KvResult<R>>();
        let job: Job = Box::new(move |t| {
            let r = f(t);
            let failed = r.is_err();
            let answer: Answer = Box::new(move |lost| {
                let _ = tx.send(match lost {
                    None => r,
                    Some(why) => Err(KvError::Unavailable(why.to_owned())),
                });
            });
            (failed, answer)
        });
        self.jobs
            .send(job)
            .map_err(|_| err("the embedded store's writer has stopped"))?;
        rx.await
            .map_err(|_| err("the embedded store could not write"))?
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

    pub async fn apply(&self, steps: Vec<Step>) -> KvResult<Option<usize>> {
        self.write(move |t| {
            // What the steps would leave, key by key (encoded records; None = deleted),
            // so that each step sees the ones before it; written only if none refuses.
            let mut after: HashMap<&str, Option<Vec<u8>>> = HashMap::new();
            let current = |after: &HashMap<&str, Option<Vec<u8>>>, key: &str| {
                Ok::<_, KvError>(match after.get(key) {
                    Some(rec) => rec
                        .as_deref()
                        .and_then(decode)
                        .map(|(e, v)| (e, v.to_vec())),
                    None => live(t, key)?,
                })
            };
            let number = |v: Option<(u64, Vec<u8>)>| {
                v.and_then(|(_, v)| std::str::from_utf8(&v).ok()?.parse::<i64>().ok())
            };
            for (i, step) in steps.iter().enumerate() {
                match step {
                    Step::IncrCapped {
                        key,
                        also,
                        by,
                        cap,
                        ttl,
                    } => {
                        let other = match also {
                            Some(a) => number(current(&after, a)?).unwrap_or(0),
                            None => 0,
                        };
                        let cur = current(&after, key)?;
                        let exp = cur.as_ref().map_or_else(
                            || now_ms().saturating_add(ttl.as_millis() as u64),
                            |(e, _)| *e,
                        );
                        let next = number(cur).unwrap_or(0).saturating_add(*by);
                        if next.saturating_add(other) > *cap {
                            return Ok(Some(i));
                        }
                        let mut rec = exp.to_be_bytes().to_vec();
                        rec.extend_from_slice(next.to_string().as_bytes());
                        after.insert(key, Some(rec));
                    }
                    Step::Cas {
                        key,
                        expected,
                        new,
                        ttl,
                    } => {
                        if current(&after, key)?.map(|(_, v)| v) != *expected {
                            return Ok(Some(i));
                        }
                        after.insert(key, new.as_deref().map(|n| encode(n, *ttl)));
                    }
                    Step::Set { key, value, ttl } => {
                        after.insert(key, Some(encode(value, *ttl)));
                    }
                    Step::Del { key } => {
                        after.insert(key, None);
                    }
                    Step::Sadd { .. } => {}
                }
            }
            for (key, rec) in &after {
                match rec {
                    Some(rec) => t.insert(*key, rec.as_slice()).map(|_| ()),
                    None => t.remove(*key).map(|_| ()),
                }
                .map_err(err)?;
            }
            for step in &steps {
                if let Step::Sadd { key, member, ttl } = step {
                    let mut set = Self::read_set(t, key)?;
                    set.insert(member.clone());
                    let exp = now_ms().saturating_add(ttl.as_millis() as u64);
                    Self::write_set(t, key, &set, exp)?;
                }
            }
            Ok(None)
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

/// The writer thread: one group per turn, until every handle is dropped.
fn writer(db: &Database, mut queue: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(db, group);
    }
}

/// Runs `group` in one write transaction and commits it (one fsync); every job is
/// answered after the commit, or told that its write was lost.
fn commit_group(db: &Database, group: Vec<Job>) {
    // A job dropped unrun drops its caller's answer channel: the caller gets an
    // `Unavailable` error (503) and nothing was written.
    let refuse = |group: Vec<Job>, why: &str| {
        tracing::error!(
            error = why,
            jobs = group.len(),
            "embedded store: write failed"
        );
    };
    let txn = match db.begin_write() {
        Ok(t) => t,
        Err(e) => return refuse(group, &e.to_string()),
    };
    let mut answers = Vec::with_capacity(group.len());
    let mut failed = false;
    {
        let mut table = match txn.open_table(TABLE) {
            Ok(t) => t,
            Err(e) => return refuse(group, &e.to_string()),
        };
        for job in group {
            let (f, answer) = job(&mut table);
            failed |= f;
            answers.push(answer);
        }
    }
    let outcome = if failed {
        let _ = txn.abort();
        Err("a write of the group failed; the group was rolled back".to_owned())
    } else {
        txn.commit().map_err(|e| e.to_string())
    };
    crate::infra::counts::kv_commit();
    for answer in answers {
        answer(outcome.as_ref().err().map(String::as_str));
    }
}

fn decode_exp(raw: &[u8]) -> Option<u64> {
    raw.get(..8)
        .and_then(|h| h.try_into().ok())
        .map(u64::from_be_bytes)
}
