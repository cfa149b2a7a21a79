//! Storage: the only place that builds SeaORM queries (clippy refuses them anywhere
//! else, see `clippy.toml`). Flock-owned data is reached only through
//! [`Db::scoped`], whose [`FlockDb`] adds the flock to every select, update and delete
//! and to every row it inserts; there are no unscoped finders. What is not flock-owned
//! says so by where it lives: the flocks themselves and platform keys (`flocks`,
//! `api_keys`), and the mail worker's delivery queue across flocks ([`Db::cross_flock`]).
//!
//! One file per area, each an `impl FlockDb` (or `impl Db` for platform data):
//! `flocks` (flocks), `api_keys` (flock and platform API keys), `signing` (signing keys),
//! `user` (users; `user::tokens` their one-time secrets), `directory` (the back office's
//! lookups, updates, search and seeding of users), `meta` (user meta), `groups` (groups and
//! members), `mail` (the outbox), `federation` (providers and identities), `admin` (admin groups, members, grants), `webhooks` (events, endpoints, deliveries).
pub mod addresses;
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod directory;
pub mod federation;
pub mod files;
pub mod flocks;
pub mod groups;
pub mod mail;
pub mod meta;
pub mod profile;
pub mod retention;
mod scope;
pub mod signing;
pub mod stats;
pub mod user;
pub mod webhooks;

pub use scope::{FlockDb, FlockId};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, DatabaseConnection, DbErr, SqlErr};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached; callers answer 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique constraint was violated (mapped to 409 by the caller's domain).
    #[error("unique constraint violated: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Other(String),
}

pub type DbResult<T> = Result<T, DbError>;

impl From<DbErr> for DbError {
    fn from(e: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(m)) = e.sql_err() {
            return DbError::Conflict(m);
        }
        match e {
            DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => DbError::Unavailable(e.to_string()),
            DbErr::Exec(ref r) | DbErr::Query(ref r) if is_io(r) => {
                DbError::Unavailable(e.to_string())
            }
            other => DbError::Other(other.to_string()),
        }
    }
}

fn is_io(r: &sea_orm::RuntimeErr) -> bool {
    match r {
        sea_orm::RuntimeErr::SqlxError(e) => matches!(
            e.as_ref(),
            sea_orm::sqlx::Error::Io(_)
                | sea_orm::sqlx::Error::PoolTimedOut
                | sea_orm::sqlx::Error::PoolClosed
                | sea_orm::sqlx::Error::WorkerCrashed
        ),
        _ => false,
    }
}

#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    /// Where writes go. On SQLite one connection of its own: SQLite admits one writer at
    /// a time, and writers that each hold a pooled connection and poll the file lock
    /// (the busy handler sleeps and retries) are served in no order, so one long writer
    /// (a retention batch) can starve a sign-in for seconds. Queued for one connection
    /// they are served first come, first served in the async runtime, and readers keep
    /// the other connections (WAL: readers never wait for the writer). On PostgreSQL the
    /// same pool as `conn`.
    writer: DatabaseConnection,
    /// (flock, user) → row, for the hot authenticated reads (`GET /user`). Entries live
    /// `USER_CACHE_TTL` at most and every user write in this layer drops its entry at
    /// once; another replica's write is seen within the TTL. Sessions, not this cache,
    /// decide who is signed in, so a stale entry never authorises anything.
    users: moka::sync::Cache<(FlockId, crate::ids::UserId), entity::user::Model>,
    /// (flock, user) → public meta pairs, under the same rules as `users`.
    public_meta: moka::sync::Cache<(FlockId, crate::ids::UserId), PublicMeta>,
    /// (flock, user) → public profile values (`flock_data`), under the same rules; a
    /// schema change drops every entry.
    public_profile: moka::sync::Cache<(FlockId, crate::ids::UserId), PublicProfile>,
    /// (flock, user) → the user's files (for `GET /user`), under the same rules.
    files: moka::sync::Cache<(FlockId, crate::ids::UserId), UserFiles>,
    /// A search filter matching at most this many users is answered from its own index
    /// (see `directory::search`).
    probe_cap: u64,
    /// Tells other replicas which cached user entries to drop (`infra::invalidate`).
    announce: crate::infra::invalidate::Invalidations,
}

/// A user's public meta pairs, as cached.
type PublicMeta = std::sync::Arc<Vec<(String, String)>>;
/// A user's public profile values, as cached.
type PublicProfile = std::sync::Arc<Vec<(String, serde_json::Value)>>;

/// A user's files, as cached.
type UserFiles = std::sync::Arc<Vec<entity::user_file::Model>>;

/// A cache of at most 100,000 entries, each served for `USER_CACHE_TTL` at most.
fn short_lived<K, V>() -> moka::sync::Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(USER_CACHE_TTL)
        .build()
}

/// How long a cached user row may be served (see `Db::users`).
pub const USER_CACHE_TTL: Duration = Duration::from_secs(2);

/// SQLite: copies the write-ahead log back into the database once a second, beside the
/// writer (a passive checkpoint never blocks it), instead of inside a writer's commit.
/// Ends when the pool is closed.
async fn checkpoints(conn: DatabaseConnection) {
    use sea_orm::ConnectionTrait;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Err(e) = conn
            .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await
        {
            if matches!(e, sea_orm::DbErr::ConnectionAcquire(_)) || conn.ping().await.is_err() {
                return;
            }
            tracing::warn!(error = %e, "SQLite checkpoint failed");
        }
    }
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> DbResult<Self> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .map(|p| p.split('?').next().unwrap_or(p))
        {
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| DbError::Other(e.to_string()))?;
                }
            }
        }
        let sqlite = url.starts_with("sqlite:");
        let options = |connections: u32, wait: Duration, checkpoint: bool| {
            let mut opts = ConnectOptions::new(url.to_owned());
            opts.max_connections(connections)
                .min_connections(1)
                .connect_timeout(Duration::from_secs(5))
                .acquire_timeout(wait)
                .sqlx_logging(false);
            if sqlite {
                // WAL: readers never wait for the writer, and a commit is a write to the
                // log without an fsync (`synchronous = NORMAL`): a committed transaction
                // survives a crash of the process (kill -9); a power loss may take the
                // last commits back, never corrupting the file (docs/DURABILITY.md).
                opts.map_sqlx_sqlite_opts(move |o| {
                    let o = o
                        .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .busy_timeout(Duration::from_secs(10))
                        .foreign_keys(true)
                        .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal);
                    // The writer does not copy the log back into the database itself
                    // (SQLite's default every 1,000 pages, inside whichever commit
                    // crosses the mark, with an fsync): `checkpoints` does it beside.
                    if checkpoint {
                        o
                    } else {
                        o.pragma("wal_autocheckpoint", "0")
                    }
                });
            }
            opts
        };
        let count = |mut c: DatabaseConnection| {
            c.set_metric_callback(|_| crate::infra::counts::db_statement());
            c
        };
        let conn = count(
            sea_orm::Database::connect(options(max_connections, Duration::from_secs(5), true))
                .await?,
        );
        // The writers' queue may be long under load; it is served in order, so waiting
        // in it is bounded by the work ahead, not by luck (as long as a busy timeout).
        let writer = if sqlite {
            {
                let w = count(
                    sea_orm::Database::connect(options(1, Duration::from_secs(10), false)).await?,
                );
                tokio::spawn(checkpoints(conn.clone()));
                w
            }
        } else {
            conn.clone()
        };
        Ok(Self {
            conn,
            writer,
            users: short_lived(),
            public_meta: short_lived(),
            public_profile: short_lived(),
            files: short_lived(),
            probe_cap: directory::PROBE_CAP,
            announce: Default::default(),
        })
    }

    /// A write transaction. On SQLite it takes the write lock at `BEGIN` (IMMEDIATE),
    /// waiting up to the busy timeout: a deferred transaction that reads and then writes
    /// fails at once with "database is locked" when another writer went first, since
    /// SQLite cannot wait for an upgrade without risking a deadlock. PostgreSQL ignores
    /// the mode.
    pub(crate) async fn write(&self) -> DbResult<sea_orm::DatabaseTransaction> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        let opts = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        crate::infra::counts::db_write_transaction();
        Ok(self.writer.begin_with_options(opts).await?)
    }

    /// The same database with another search probe cap (`database.search_probe_cap`).
    pub fn with_probe_cap(mut self, cap: u64) -> Self {
        self.probe_cap = cap;
        self
    }

    /// The same database announcing its user-cache invalidations to other replicas.
    pub fn with_invalidations(mut self, announce: crate::infra::invalidate::Invalidations) -> Self {
        self.announce = announce;
        self
    }

    /// The announcer of this database's cache invalidations.
    pub fn invalidations(&self) -> &crate::infra::invalidate::Invalidations {
        &self.announce
    }

    /// Tells the other replicas to drop what `topic` names (this one already did).
    pub fn announce(&self, topic: crate::infra::invalidate::Topic) {
        self.announce.publish(topic);
    }

    /// Drops this replica's cached entries of a user (another replica changed it).
    pub fn forget_user_here(&self, flock: FlockId, user: crate::ids::UserId) {
        let k = (flock, user);
        self.users.invalidate(&k);
        self.public_meta.invalidate(&k);
        self.public_profile.invalidate(&k);
        self.files.invalidate(&k);
    }

    /// Drops every cached public profile of this replica (a flock's profile schema
    /// changed elsewhere: what its values mean may have changed), as a schema write does
    /// on the replica that made it.
    pub fn forget_profiles_here(&self) {
        self.public_profile.invalidate_all();
    }

    /// Drops every cached user entry of this replica (invalidations may have been
    /// missed).
    pub fn forget_users_here(&self) {
        self.users.invalidate_all();
        self.public_meta.invalidate_all();
        self.public_profile.invalidate_all();
        self.files.invalidate_all();
    }

    /// The database of one flock: every query it builds is scoped to `flock`.
    pub fn scoped(&self, flock: FlockId) -> FlockDb<'_> {
        FlockDb { db: self, flock }
    }

    /// The few queries that span flocks on purpose (the mail worker's queue), named so.
    pub fn cross_flock(&self) -> mail::CrossFlock<'_> {
        mail::CrossFlock { db: self }
    }

    pub async fn migrate(&self) -> DbResult<()> {
        Migrator::up(&self.conn, None).await?;
        Ok(())
    }

    /// Refreshes the planner's statistics. SQLite keeps none by itself, and without them
    /// it takes `flock_id = ?` for a rare value and walks a whole flock where a few index
    /// seeks would do; `ANALYZE` under an analysis limit samples each index (milliseconds
    /// at a million rows). PostgreSQL's autovacuum keeps its own; a bulk load asks it
    /// here too.
    pub async fn refresh_stats(&self) -> DbResult<()> {
        use sea_orm::ConnectionTrait;
        let sql = match self.conn.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => "PRAGMA analysis_limit = 1000; ANALYZE;",
            _ => "ANALYZE users, user_meta, group_members",
        };
        self.conn.execute_unprepared(sql).await?;
        Ok(())
    }

    pub async fn ping(&self) -> DbResult<()> {
        self.conn.ping().await?;
        Ok(())
    }

    pub async fn close(self) {
        let _ = self.writer.close().await;
        let _ = self.conn.close().await;
    }
}
