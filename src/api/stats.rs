//! A flock's statistics (back office): registrations, users by status, active users and
//! sign-ins by method.
use super::error::{ApiError, ApiResult};
use super::frame::tenant;
use super::security::BackOfficeAuth;
use super::ApiTags;
use crate::domain::stats::{Stats, StatsError, StatsService};
use chrono::{DateTime, Utc};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use std::collections::BTreeMap;

pub struct StatsApi {
    pub stats: StatsService,
}

/// Registrations (accounts that became registered: self-registration, a code sign-up, a
/// claimed account) since the period began in the flock's time zone.
#[derive(Object)]
struct RegistrationsView {
    today: u64,
    /// Since Monday.
    this_week: u64,
    this_month: u64,
}

/// Users whose last sign-in is within the period.
#[derive(Object)]
struct ActiveUsersView {
    last_1_day: u64,
    last_7_days: u64,
    last_30_days: u64,
}

/// Sign-ins (sessions granted) over a period, by method.
#[derive(Object)]
struct SignInsView {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    total: u64,
    /// `password`, `otp`, `federated`, `activation`, `autologin`, …
    by_method: BTreeMap<String, u64>,
}

/// A flock's figures.
#[derive(Object)]
struct StatsView {
    /// The flock's time zone the periods begin in.
    timezone: String,
    /// When the figures were taken.
    at: DateTime<Utc>,
    registrations: RegistrationsView,
    /// Every account by status (`deleted` included).
    users_by_status: BTreeMap<String, u64>,
    users_total: u64,
    active_users: ActiveUsersView,
    sign_ins: SignInsView,
}

impl From<Stats> for StatsView {
    fn from(s: Stats) -> Self {
        Self {
            timezone: s.timezone,
            at: s.at,
            registrations: RegistrationsView {
                today: s.registrations_today,
                this_week: s.registrations_this_week,
                this_month: s.registrations_this_month,
            },
            users_total: s.users_by_status.values().sum(),
            users_by_status: s.users_by_status,
            active_users: ActiveUsersView {
                last_1_day: s.active_1_day,
                last_7_days: s.active_7_days,
                last_30_days: s.active_30_days,
            },
            sign_ins: SignInsView {
                from: s.sign_ins_from,
                to: s.sign_ins_to,
                total: s.sign_ins_by_method.values().sum(),
                by_method: s.sign_ins_by_method,
            },
        }
    }
}

impl From<StatsError> for ApiError {
    fn from(e: StatsError) -> Self {
        match e {
            StatsError::Invalid(i) => i.into(),
            StatsError::Infra(i) => i.into(),
        }
    }
}

#[OpenApi(tag = "ApiTags::Stats")]
impl StatsApi {
    /// The flock's statistics: registrations today, this week and this month (in the
    /// flock's `timezone` setting), users by status, active users over 1, 7 and 30 days,
    /// and sign-ins by method over `[from, to)` (default the last 30 days; at most 366
    /// days) (scope `get_stats`).
    #[oai(
        path = "/api/v1/:flock/stats",
        method = "get",
        operation_id = "get_stats"
    )]
    async fn get(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// Start of the sign-in period (inclusive).
        from: Query<Option<DateTime<Utc>>>,
        /// End of the sign-in period (exclusive; default now).
        to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<StatsView>> {
        auth.allow("get_stats")?;
        let s = self.stats.of(&flock, from.0, to.0).await?;
        Ok(Json(s.into()))
    }
}
