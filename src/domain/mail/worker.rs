//! Delivers the outbox: due rows are leased, sent through the [`Mailer`], and marked sent
//! or rescheduled with exponential backoff. Runs as a background task (`start`) and can be
//! driven step by step (`run_once`), which tests do.
use crate::db::Db;
use crate::infra::clock::Clock;
use crate::infra::mail::{MailError, Mailer, OutgoingMail};
use chrono::Duration;

/// Attempts before a mail is given up (its `last_error` says why).
pub const MAX_ATTEMPTS: i32 = 8;
/// How long a leased row is reserved for the worker that took it.
const LEASE_SECS: i64 = 300;

#[derive(Clone)]
pub struct MailWorker {
    db: Db,
    mailer: Mailer,
    clock: Clock,
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub failed: usize,
}

/// Delay before attempt `n + 1` after `n` failed ones: 30 s doubling, at most 1 h.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 8) - 1;
    Duration::seconds((30_i64 << exp).min(3600))
}

impl MailWorker {
    pub fn new(db: Db, mailer: Mailer, clock: Clock) -> Self {
        Self { db, mailer, clock }
    }

    /// Delivers every due mail once. Database errors end the pass (the next one retries).
    pub async fn run_once(&self) -> Result<Pass, crate::db::DbError> {
        let mut pass = Pass::default();
        let now = self.clock.now();
        for row in self
            .db
            .cross_flock()
            .mail_due(now, MAX_ATTEMPTS, 100)
            .await?
        {
            if !self
                .db
                .cross_flock()
                .mail_claim(row.id, row.attempts, now + Duration::seconds(LEASE_SECS))
                .await?
            {
                continue; // another worker has it
            }
            let mail = OutgoingMail {
                to: row.to_addr.clone(),
                from: row.from_addr.clone(),
                subject: row.subject.clone(),
                text: row.text_body.clone(),
                html: row.html_body.clone(),
            };
            match self.mailer.send(&mail).await {
                Ok(()) => {
                    self.db
                        .cross_flock()
                        .mail_mark_sent(row.id, self.clock.now())
                        .await?;
                    pass.sent += 1;
                }
                Err(e) => {
                    let attempts = row.attempts + 1;
                    let next = match e {
                        // Retrying cannot fix a malformed message: park it for good.
                        MailError::Invalid(_) => self.clock.now() + Duration::days(36_500),
                        MailError::Unavailable(_) => self.clock.now() + backoff(attempts),
                    };
                    tracing::warn!(mail = %row.id, attempts, error = %e, "mail delivery failed");
                    self.db
                        .cross_flock()
                        .mail_mark_failed(row.id, &e.to_string(), next)
                        .await?;
                    pass.failed += 1;
                }
            }
        }
        Ok(pass)
    }

    /// Polls the outbox every `every` until the process ends.
    pub fn start(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let w = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = w.run_once().await {
                    tracing::warn!(error = %e, "mail worker pass failed");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        assert_eq!(backoff(1).num_seconds(), 30);
        assert_eq!(backoff(2).num_seconds(), 60);
        assert_eq!(backoff(3).num_seconds(), 120);
        assert_eq!(backoff(8).num_seconds(), 3600);
        assert_eq!(backoff(50).num_seconds(), 3600);
    }
}
