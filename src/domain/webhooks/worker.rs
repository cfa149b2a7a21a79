//! The delivery loop: fan events out to endpoints, then send each due delivery once per
//! lease. `run_once` does one round (tests drive it on the injected clock); `start` runs
//! rounds every `webhooks.interval_ms`.
use super::{sign, WebhookService};
use crate::db::webhooks::{DeliveryRow, EndpointRow, EventRow, Outcome};
use crate::db::Db;
use crate::infra::clock::Clock;
use crate::infra::outbound::Outbound;
use chrono::Duration;
use rand::Rng;

/// Seconds before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (±10 % jitter).
pub const SCHEDULE: [i64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];

/// What one round did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Round {
    pub fanned_out: usize,
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

#[derive(Clone)]
pub struct WebhookWorker {
    db: Db,
    clock: Clock,
    service: WebhookService,
    outbound: Outbound,
    /// An endpoint failing this long is disabled.
    disable_after: Duration,
    /// How long a claimed delivery stays leased (past the send timeout).
    lease: Duration,
}

impl WebhookWorker {
    pub fn new(
        db: Db,
        clock: Clock,
        service: WebhookService,
        outbound: Outbound,
        disable_after_days: u64,
        timeout_secs: u64,
    ) -> Self {
        Self {
            db,
            clock,
            service,
            outbound,
            disable_after: Duration::days(disable_after_days.min(3650) as i64),
            lease: Duration::seconds(timeout_secs as i64 + 5),
        }
    }

    pub fn start(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let w = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = w.run_once().await {
                    tracing::warn!(error = %e, "webhook round failed");
                }
            }
        })
    }

    /// One round: every event fanned out, every due delivery attempted once.
    pub async fn run_once(&self) -> Result<Round, crate::db::DbError> {
        let mut r = Round::default();
        let q = self.db.cross_flock();
        loop {
            let events = q.events_unfanned(200).await?;
            if events.is_empty() {
                break;
            }
            for e in &events {
                q.event_fan_out(e, self.clock.now()).await?;
                r.fanned_out += 1;
            }
        }
        let now = self.clock.now();
        for (d, e, ep) in q.deliveries_due(now, 500).await? {
            // The lease runs from the claim (a round sends one delivery after another).
            let lease_until = self.clock.now() + self.lease;
            if !q.delivery_claim(d.id, d.attempts, lease_until).await? {
                continue; // another worker has it
            }
            match self.attempt(&d, &e, &ep).await? {
                Outcome::Succeeded => r.delivered += 1,
                Outcome::Retry(_) => r.retried += 1,
                Outcome::Failed => r.failed += 1,
            }
        }
        Ok(r)
    }

    /// Sends one delivery and records what happened.
    async fn attempt(
        &self,
        d: &DeliveryRow,
        e: &EventRow,
        ep: &EndpointRow,
    ) -> Result<Outcome, crate::db::DbError> {
        let q = self.db.cross_flock();
        let now = self.clock.now();
        let attempts = d.attempts + 1;
        let body = serde_json::json!({
            "id": e.id,
            "type": e.r#type,
            "flock": e.flock_id,
            "occurred_at": e.occurred_at,
            "data": e.data,
        })
        .to_string()
        .into_bytes();
        let id = e.id.to_string();
        let ts = self.clock.unix();
        let answer = match self.service.secrets(ep).await {
            Ok(secrets) => match sign(&secrets, &id, ts, &body) {
                Some(sig) => {
                    let headers = [
                        ("webhook-id", id.clone()),
                        ("webhook-timestamp", ts.to_string()),
                        ("webhook-signature", sig),
                    ];
                    self.outbound
                        .post_status(&ep.url, &headers, body)
                        .await
                        .map_err(|e| e.to_string())
                }
                None => Err("the endpoint's secret cannot sign".to_owned()),
            },
            Err(e) => Err(e.to_string()),
        };
        let (status, error, retry_after) = match &answer {
            Ok(a) if (200..300).contains(&a.status) => {
                q.delivery_done(
                    d.id,
                    attempts,
                    Outcome::Succeeded,
                    Some(a.status),
                    None,
                    now,
                )
                .await?;
                q.endpoint_failing(ep.id, false, now).await?;
                return Ok(Outcome::Succeeded);
            }
            Ok(a) if a.status == 410 => {
                // The receiver says the endpoint is gone: no more deliveries.
                q.endpoint_disable(ep.id, "gone", now).await?;
                q.delivery_done(
                    d.id,
                    attempts,
                    Outcome::Failed,
                    Some(410),
                    Some("410 Gone".into()),
                    now,
                )
                .await?;
                return Ok(Outcome::Failed);
            }
            Ok(a) => (
                Some(a.status),
                Some(format!("answered {}", a.status)),
                a.retry_after,
            ),
            Err(m) => (None, Some(m.chars().take(500).collect()), None),
        };
        q.endpoint_failing(ep.id, true, now).await?;
        if ep
            .failing_since
            .is_some_and(|since| now - since >= self.disable_after)
        {
            q.endpoint_disable(ep.id, "failing", now).await?;
        }
        let outcome = match SCHEDULE.get((attempts - 1).max(0) as usize) {
            None => Outcome::Failed,
            Some(secs) => {
                let jitter = rand::thread_rng().gen_range(0.9..1.1);
                let wait = Duration::milliseconds((*secs as f64 * 1000.0 * jitter) as i64);
                let asked = retry_after
                    .and_then(|r| Duration::from_std(r).ok())
                    .map(|r| r.min(Duration::days(1)));
                Outcome::Retry(now + asked.map_or(wait, |a| a.max(wait)))
            }
        };
        let out = match &outcome {
            Outcome::Retry(at) => Outcome::Retry(*at),
            Outcome::Failed => Outcome::Failed,
            Outcome::Succeeded => Outcome::Succeeded,
        };
        q.delivery_done(d.id, attempts, outcome, status, error, now)
            .await?;
        Ok(out)
    }
}
