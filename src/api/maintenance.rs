//! Maintenance (platform key): the retention job's last run, and running it now.
use super::error::ApiResult;
use super::security::PlatformAuth;
use super::ApiTags;
use crate::domain::retention::{RetentionRun, RetentionService};
use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

pub struct MaintenanceApi {
    pub retention: RetentionService,
}

/// Rows a run deleted, by kind.
#[derive(Object)]
struct RemovedView {
    events: u64,
    deliveries: u64,
    /// One-time tokens used or expired.
    tokens: u64,
    /// Delivered mails.
    mail: u64,
}

/// A run of the retention job.
#[derive(Object)]
struct RetentionRunView {
    ran_at: DateTime<Utc>,
    duration_ms: u64,
    flocks: u64,
    /// Delete statements issued (each at most `retention.batch` rows).
    batches: u64,
    removed: RemovedView,
}

/// The last run, if the job has run.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RetentionStatus {
    last_run: Option<RetentionRunView>,
}

impl From<RetentionRun> for RetentionRunView {
    fn from(r: RetentionRun) -> Self {
        Self {
            ran_at: r.ran_at,
            duration_ms: r.duration_ms,
            flocks: r.flocks,
            batches: r.batches,
            removed: RemovedView {
                events: r.removed.events,
                deliveries: r.removed.deliveries,
                tokens: r.removed.tokens,
                mail: r.removed.mail,
            },
        }
    }
}

#[OpenApi(tag = "ApiTags::Platform")]
impl MaintenanceApi {
    /// When the retention job last ran and what it removed.
    #[oai(
        path = "/platform/v1/maintenance/retention",
        method = "get",
        operation_id = "retention_status"
    )]
    async fn status(&self, _auth: PlatformAuth) -> ApiResult<Json<RetentionStatus>> {
        Ok(Json(RetentionStatus {
            last_run: self.retention.last().await?.map(Into::into),
        }))
    }

    /// Run the retention job now (it also runs every `retention.interval_secs`).
    #[oai(
        path = "/platform/v1/maintenance/retention",
        method = "post",
        operation_id = "retention_run"
    )]
    async fn run(&self, _auth: PlatformAuth) -> ApiResult<Json<RetentionRunView>> {
        Ok(Json(self.retention.run_once().await?.into()))
    }
}
