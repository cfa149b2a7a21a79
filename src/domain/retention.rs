//! The retention job: deletes what has outlived its period — each flock's events (by
//! type, `settings.retention`) and finished webhook deliveries, and across flocks the
//! one-time tokens used or expired and the mails delivered more than
//! `retention.tokens_days` ago — in batches of `retention.batch` rows, each batch its
//! own short statement with a pause between, so sign-ins never wait on it. The last
//! run (when, how long, how much it removed) is kept in the KV store (every replica sees
//! it), answered by `GET /platform/v1/maintenance/retention`, and exported in `/metrics`.
use super::flocks::FlockService;
use super::InfraError;
use crate::db::Db;
use crate::infra::clock::Clock;
use crate::infra::kv::Kv;
use crate::infra::metrics::Metrics;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What a run removed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Removed {
    pub events: u64,
    pub deliveries: u64,
    pub tokens: u64,
    pub mail: u64,
}

/// A run of the job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetentionRun {
    pub ran_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub flocks: u64,
    pub batches: u64,
    pub removed: Removed,
}

const LAST_RUN: &str = "maintenance:retention";

#[derive(Clone)]
pub struct RetentionService {
    db: Db,
    kv: Kv,
    clock: Clock,
    flocks: FlockService,
    metrics: Metrics,
    batch: u64,
    pause: std::time::Duration,
    tokens_days: i64,
}

impl RetentionService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        kv: Kv,
        clock: Clock,
        flocks: FlockService,
        metrics: Metrics,
        batch: u64,
        pause_ms: u64,
        tokens_days: u64,
    ) -> Self {
        Self {
            db,
            kv,
            clock,
            flocks,
            metrics,
            batch: batch.clamp(1, 10_000),
            pause: std::time::Duration::from_millis(pause_ms),
            tokens_days: tokens_days.clamp(1, 36_500) as i64,
        }
    }

    pub fn start(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let s = self.clone();
        tokio::spawn(async move {
            // The first run comes one interval after start, not at once: a restart (or a
            // rolling deploy) does not start a purge while the server warms up.
            let first = tokio::time::Instant::now() + every;
            let mut tick = tokio::time::interval_at(first, every);
            loop {
                tick.tick().await;
                if let Err(e) = s.run_once().await {
                    tracing::warn!(error = %e, "retention run failed");
                }
            }
        })
    }

    /// Deletes batches until `step` returns less than a batch; how many rows and batches.
    async fn drain<F, Fut>(&self, mut step: F) -> Result<(u64, u64), InfraError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = crate::db::DbResult<u64>>,
    {
        let (mut rows, mut batches) = (0, 0);
        loop {
            let started = tokio::time::Instant::now();
            let n = step().await?;
            rows += n;
            batches += 1;
            if n < self.batch {
                return Ok((rows, batches));
            }
            // Rest at least as long as the batch took (and `pause`): the job never holds
            // the database more than half the time, so writers waiting on SQLite's single
            // write lock (which is not queued fairly) get their turn.
            tokio::time::sleep(self.pause.max(started.elapsed())).await;
        }
    }

    /// One run over every flock and the cross-flock tables.
    pub async fn run_once(&self) -> Result<RetentionRun, InfraError> {
        let started = tokio::time::Instant::now();
        let now = self.clock.now();
        let mut removed = Removed::default();
        let (mut batches, mut flocks) = (0, 0);
        let mut after: Option<String> = None;
        loop {
            let page = self
                .flocks
                .list(after.as_deref(), 100)
                .await
                .map_err(|e| InfraError::Internal(e.to_string()))?;
            let Some(last) = page.last() else { break };
            after = Some(last.slug.clone());
            for f in &page {
                flocks += 1;
                // One flock's failure is logged and the run goes on to the others.
                match self.purge_flock(f, now).await {
                    Ok((r, b)) => {
                        removed.events += r.events;
                        removed.deliveries += r.deliveries;
                        batches += b;
                    }
                    Err(e) => {
                        tracing::warn!(flock = %f.slug, error = %e, "retention of a flock failed")
                    }
                }
            }
            if page.len() < 100 {
                break;
            }
        }
        let cross = self.db.cross_flock();
        let cutoff = now - Duration::days(self.tokens_days);
        let (n, b) = self
            .drain(|| cross.tokens_purge_batch(cutoff, self.batch))
            .await?;
        removed.tokens = n;
        batches += b;
        let (n, b) = self
            .drain(|| cross.mail_purge_batch(cutoff, self.batch))
            .await?;
        removed.mail = n;
        batches += b;
        let run = RetentionRun {
            ran_at: now,
            duration_ms: started.elapsed().as_millis() as u64,
            flocks,
            batches,
            removed,
        };
        self.metrics.retention(
            now.timestamp(),
            [
                ("events", run.removed.events),
                ("deliveries", run.removed.deliveries),
                ("tokens", run.removed.tokens),
                ("mail", run.removed.mail),
            ],
        );
        let body = serde_json::to_vec(&run).map_err(|e| InfraError::Internal(e.to_string()))?;
        self.kv
            .set(
                LAST_RUN,
                &body,
                std::time::Duration::from_secs(365 * 86_400),
            )
            .await?;
        tracing::info!(?run, "retention run");
        Ok(run)
    }

    /// One flock's events (by type) and finished deliveries past their periods.
    async fn purge_flock(
        &self,
        f: &super::flocks::Flock,
        now: DateTime<Utc>,
    ) -> Result<(Removed, u64), InfraError> {
        let mut removed = Removed::default();
        let mut batches = 0;
        let r = &f.settings.retention;
        let db = self.db.scoped(f.id);
        let own: Vec<String> = r.event_days.keys().cloned().collect();
        for (kind, days) in &r.event_days {
            let cutoff = now - Duration::days(i64::from(*days));
            let (n, b) = self
                .drain(|| db.events_purge_batch(Some(kind), &[], cutoff, self.batch))
                .await?;
            removed.events += n;
            batches += b;
        }
        let cutoff = now - Duration::days(i64::from(r.events_days));
        let (n, b) = self
            .drain(|| db.events_purge_batch(None, &own, cutoff, self.batch))
            .await?;
        removed.events += n;
        batches += b;
        let cutoff = now - Duration::days(i64::from(r.deliveries_days));
        let (n, b) = self
            .drain(|| db.deliveries_purge_batch(cutoff, self.batch))
            .await?;
        removed.deliveries += n;
        batches += b;
        Ok((removed, batches))
    }

    /// The last run, if any.
    pub async fn last(&self) -> Result<Option<RetentionRun>, InfraError> {
        Ok(self
            .kv
            .get(LAST_RUN)
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }
}

/// Inserts `count` delivered `user.signed_in` events into `flock`, one millisecond apart,
/// the newest at `newest`, in batches of 1,000 (the retention benchmark's backlog). Not a
/// way to record real events.
pub async fn seed_old_events(
    db: &Db,
    flock: crate::ids::FlockId,
    count: u64,
    newest: DateTime<Utc>,
) -> Result<u64, InfraError> {
    const BATCH: u64 = 1000;
    let scoped = db.scoped(flock);
    let mut done = 0;
    while done < count {
        let n = BATCH.min(count - done);
        let events = (done..done + n)
            .map(|i| crate::db::webhooks::NewEvent {
                kind: "user.signed_in",
                data: serde_json::json!({"seeded": i}),
                at: newest - Duration::milliseconds((count - i) as i64),
                detail: Some("password".to_owned()),
                actor: Some("system".to_owned()),
                audit_only: true,
                ..Default::default()
            })
            .collect();
        scoped.events_insert_many(events).await?;
        done += n;
    }
    Ok(done)
}
