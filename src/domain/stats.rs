//! A flock's statistics: registrations today, this week (from Monday) and this month in
//! the flock's time zone, users by status, active users over 1, 7 and 30 days (by their
//! last sign-in), and sign-ins by method over a period. Each figure is one indexed count
//! (see `db/stats.rs`); nothing is kept beside the rows, so nothing drifts.
use super::flocks::Flock;
use super::{InfraError, Invalid};
use crate::db::stats::UserCol;
use crate::db::Db;
use crate::infra::clock::Clock;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<crate::db::DbError> for StatsError {
    fn from(e: crate::db::DbError) -> Self {
        StatsError::Infra(e.into())
    }
}

#[derive(Debug, Clone)]
pub struct Stats {
    pub timezone: String,
    pub at: DateTime<Utc>,
    pub registrations_today: u64,
    pub registrations_this_week: u64,
    pub registrations_this_month: u64,
    pub users_by_status: BTreeMap<String, u64>,
    pub active_1_day: u64,
    pub active_7_days: u64,
    pub active_30_days: u64,
    pub sign_ins_from: DateTime<Utc>,
    pub sign_ins_to: DateTime<Utc>,
    pub sign_ins_by_method: BTreeMap<String, u64>,
}

/// The longest sign-in period asked at once.
const MAX_PERIOD_DAYS: i64 = 366;

#[derive(Clone)]
pub struct StatsService {
    db: Db,
    clock: Clock,
}

/// Midnight of `day` in `tz`, as an instant (the earliest, should the clocks go back
/// over it; the first instant after, should they jump over it).
fn midnight<Z: TimeZone>(tz: &Z, day: NaiveDate) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&naive).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => (1..=24)
            .find_map(|h| {
                tz.from_local_datetime(&(naive + Duration::hours(h)))
                    .earliest()
            })
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// When today, this week (Monday) and this month began in `tz`, at `now`.
pub fn period_starts<Z: TimeZone>(
    tz: &Z,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    let today = now.with_timezone(tz).date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let first = today.with_day(1).unwrap_or(today);
    (
        midnight(tz, today),
        midnight(tz, monday),
        midnight(tz, first),
    )
}

impl StatsService {
    pub fn new(db: Db, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// The flock's figures; sign-ins over `[from, to)` (default the last 30 days, at most
    /// 366 days).
    pub async fn of(
        &self,
        flock: &Flock,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Stats, StatsError> {
        let now = self.clock.now();
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - Duration::days(30));
        if from > to || to - from > Duration::days(MAX_PERIOD_DAYS) {
            return Err(StatsError::Invalid(Invalid::new(
                "invalid_range",
                "from",
                "from must be before to, at most 366 days apart",
            )));
        }
        let tz = flock.settings.tz().unwrap_or(chrono_tz::UTC);
        let (today, week, month) = period_starts(&tz, now);
        let db = self.db.scoped(flock.id);
        // Four independent scans, run side by side (each on its own pooled connection).
        let periods = [today, week, month];
        let windows = [1, 7, 30].map(|d| now - Duration::days(d));
        let (registered, active, statuses, methods) = tokio::try_join!(
            db.count_users_since(UserCol::RegisteredAt, &periods),
            db.count_users_since(UserCol::LastSignInAt, &windows),
            db.count_users_by_status(),
            db.count_sign_ins_by_method(from, to),
        )?;
        let mut by_status = BTreeMap::new();
        for (s, n) in statuses {
            by_status.insert(s, u64::try_from(n).unwrap_or(0));
        }
        let mut by_method = BTreeMap::new();
        for (m, n) in methods {
            let m = m.unwrap_or_else(|| "other".to_owned());
            *by_method.entry(m).or_insert(0) += u64::try_from(n).unwrap_or(0);
        }
        Ok(Stats {
            timezone: tz.name().to_owned(),
            at: now,
            registrations_today: registered[0],
            registrations_this_week: registered[1],
            registrations_this_month: registered[2],
            users_by_status: by_status,
            active_1_day: active[0],
            active_7_days: active[1],
            active_30_days: active[2],
            sign_ins_from: from,
            sign_ins_to: to,
            sign_ins_by_method: by_method,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn periods_begin_at_local_midnight_monday_and_the_first() {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        // Wednesday 2026-12-02 00:30 in Paris is Tuesday 23:30 UTC.
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 23, 30, 0).unwrap();
        let (today, week, month) = period_starts(&tz, now);
        assert_eq!(today, Utc.with_ymd_and_hms(2026, 12, 1, 23, 0, 0).unwrap());
        assert_eq!(week, Utc.with_ymd_and_hms(2026, 11, 29, 23, 0, 0).unwrap());
        assert_eq!(month, Utc.with_ymd_and_hms(2026, 11, 30, 23, 0, 0).unwrap());
    }

    #[test]
    fn a_midnight_skipped_by_the_clocks_begins_at_the_first_instant_after() {
        // Santiago skips 00:00-01:00 on 2026-09-06 (clocks go forward at midnight).
        let tz: chrono_tz::Tz = "America/Santiago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let t = midnight(&tz, day);
        assert_eq!(t.with_timezone(&tz).date_naive(), day);
    }
}
