//! Liveness, readiness and Prometheus metrics.
use super::error::ApiError;
use super::ApiTags;
use crate::db::Db;
use crate::infra::kv::Kv;
use crate::infra::metrics::Metrics;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

/// What readiness and metrics read. These probes are the one place the API reaches the
/// storage layers directly: a ping has no business rule to go through.
#[derive(Clone)]
pub struct Probes {
    pub db: Db,
    pub kv: Kv,
    pub metrics: Metrics,
}

pub struct OpsApi {
    pub probes: Probes,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Health {
    status: HealthStatus,
}

/// `ok` when the process is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum HealthStatus {
    Ok,
}

/// `ready`, or `unavailable` when the database or the key-value store does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum ReadinessStatus {
    Ready,
    Unavailable,
}

/// Which key-value store the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum KvBackend {
    Redis,
    Embedded,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Readiness {
    status: ReadinessStatus,
    /// Whether the database answered.
    database: bool,
    /// Whether the key-value store answered.
    kv: bool,
    kv_backend: KvBackend,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// The database and the key-value store answer.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// A dependency does not answer.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

#[OpenApi(tag = "ApiTags::Ops")]
impl OpsApi {
    /// Liveness: the process is up.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health {
            status: HealthStatus::Ok,
        })
    }

    /// Readiness: the database and the key-value store are reachable.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self) -> ReadyResponse {
        let (db, kv) = tokio::join!(self.probes.db.ping(), self.probes.kv.ping());
        let r = Readiness {
            status: if db.is_ok() && kv.is_ok() {
                ReadinessStatus::Ready
            } else {
                ReadinessStatus::Unavailable
            },
            database: db.is_ok(),
            kv: kv.is_ok(),
            kv_backend: match self.probes.kv.backend_name() {
                "redis" => KvBackend::Redis,
                _ => KvBackend::Embedded,
            },
        };
        if r.database && r.kv {
            ReadyResponse::Ready(Json(r))
        } else {
            ReadyResponse::NotReady(Json(r))
        }
    }

    /// Prometheus metrics: requests by operation and status, latency histogram.
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self) -> Result<PlainText<String>, ApiError> {
        Ok(PlainText(self.probes.metrics.render()))
    }
}
