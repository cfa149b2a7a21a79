//! Prometheus metrics: requests by operation and status, a latency histogram, and the
//! retention job's last run and removals.
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    retention_last_run: IntGauge,
    retention_removed: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "fold_http_requests_total",
                "HTTP requests by operation and status",
            ),
            &["operation", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("fold_http_request_duration_seconds", "HTTP request latency")
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
            &["operation"],
        )?;
        let retention_last_run = IntGauge::new(
            "fold_retention_last_run_timestamp_seconds",
            "When the retention job last finished (Unix time)",
        )?;
        let retention_removed = IntCounterVec::new(
            Opts::new(
                "fold_retention_removed_total",
                "Rows the retention job deleted, by kind",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(retention_last_run.clone()))?;
        registry.register(Box::new(retention_removed.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            retention_last_run,
            retention_removed,
        })
    }

    pub fn observe(&self, operation: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[operation, status.to_string().as_str()])
            .inc();
        self.latency
            .with_label_values(&[operation])
            .observe(seconds);
    }

    /// A finished retention run: when, and what it removed by kind.
    pub fn retention<'a>(&self, at: i64, removed: impl IntoIterator<Item = (&'a str, u64)>) {
        self.retention_last_run.set(at);
        for (kind, n) in removed {
            self.retention_removed.with_label_values(&[kind]).inc_by(n);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        let mut text = String::from_utf8(out).unwrap_or_default();
        text.push_str(&super::counts::render());
        text
    }
}
