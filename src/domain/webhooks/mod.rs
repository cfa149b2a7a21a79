//! Webhooks: a flock's endpoints and the delivery of its events to them, following the
//! Standard Webhooks specification (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>` under a `whsec_`
//! secret, both secrets' signatures for a day after a rotation).
//!
//! Events are rows written in the transaction of their change (`db/webhooks.rs`): no event
//! without its change, no change without its event. `worker` fans them out to the
//! endpoints that take their type and delivers them — only 2xx is success, `410 Gone`
//! disables the endpoint, `Retry-After` is honoured, retries follow `SCHEDULE` with
//! jitter, then the delivery fails; an endpoint failing for `webhooks.disable_after_days`
//! is disabled. Every replica may run the worker: each delivery is leased by a
//! compare-and-set, and a worker killed mid-send leaves the lease to expire, so the event
//! is sent again under the same id (receivers deduplicate on `webhook-id`).
//!
//! By file: here the service (endpoints, test sends, deliveries, replays); `worker` the
//! delivery loop.
pub mod worker;

use super::{InfraError, Invalid};
use crate::db::webhooks::{
    DeliveryRow, EndpointPatch, EndpointRow, EventRow, NewEndpoint, NewEvent,
};
use crate::db::{Db, DbError};
use crate::ids::FlockId;
use crate::infra::clock::Clock;
use crate::infra::outbound::Outbound;
use crate::infra::sealed::{SealError, Sealer};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

/// The event types Fold emits.
pub const EVENT_TYPES: &[&str] = &[
    "user.created",
    "user.registered",
    "user.signed_in",
    "user.updated",
    "user.status_changed",
    "user.deleted",
    "session.revoked",
    "webhook.test",
];

/// Events kept for the audit log only (never offered to endpoints).
pub const AUDIT_ONLY_TYPES: &[&str] = &[
    "user.sign_in_failed",
    "user.password_changed",
    "otp.locked",
    "admin.request",
];

/// Every event type: the webhook types, then the audit-only ones.
pub fn all_types() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES.iter().chain(AUDIT_ONLY_TYPES).copied()
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error("no such endpoint")]
    EndpointNotFound,
    #[error("no such delivery")]
    DeliveryNotFound,
    #[error("the endpoint's secret cannot be opened")]
    SecretUnreadable,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<DbError> for WebhookError {
    fn from(e: DbError) -> Self {
        WebhookError::Infra(e.into())
    }
}

impl From<SealError> for WebhookError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Kv(k) => WebhookError::Infra(k.into()),
            _ => WebhookError::SecretUnreadable,
        }
    }
}

/// An endpoint as the API shows it (never its secret).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Self {
        Self {
            id: r.id,
            url: r.url,
            event_types: serde_json::from_value(r.event_types).unwrap_or_default(),
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            failing_since: r.failing_since,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A delivery with its event.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<(DeliveryRow, Option<EventRow>)> for Delivery {
    fn from((d, e): (DeliveryRow, Option<EventRow>)) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: e.map(|e| e.r#type).unwrap_or_default(),
            next_attempt_at: (d.status == "pending").then_some(d.next_attempt_at),
            status: d.status,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// What may change on an endpoint.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

#[derive(Clone)]
pub struct WebhookService {
    db: Db,
    clock: Clock,
    sealer: Sealer,
    outbound: Outbound,
}

fn bad(code: &'static str, field: &'static str, m: &str) -> WebhookError {
    WebhookError::Invalid(Invalid::new(code, field, m))
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
fn new_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(b)
    )
}

impl WebhookService {
    pub fn new(db: Db, clock: Clock, sealer: Sealer, outbound: Outbound) -> Self {
        Self {
            db,
            clock,
            sealer,
            outbound,
        }
    }

    pub(crate) fn owner(flock: FlockId, endpoint: Uuid) -> String {
        format!("webhook:{flock}:{endpoint}")
    }

    fn check_url(&self, url: &str) -> Result<(), WebhookError> {
        if url.len() > 2048 {
            return Err(bad("invalid_url", "url", "url is at most 2,048 characters"));
        }
        self.outbound.check(url).map_err(|e| {
            WebhookError::Invalid(Invalid::new(
                "webhook_url_refused",
                "url",
                format!("Fold may not deliver to this URL: {e}"),
            ))
        })?;
        Ok(())
    }

    fn check_types(types: &[String]) -> Result<(), WebhookError> {
        if types.len() > EVENT_TYPES.len()
            || !types.iter().all(|t| EVENT_TYPES.contains(&t.as_str()))
        {
            return Err(bad(
                "unknown_event_type",
                "event_types",
                &format!("event types are {}", EVENT_TYPES.join(", ")),
            ));
        }
        Ok(())
    }

    pub async fn endpoints(&self, flock: FlockId) -> Result<Vec<Endpoint>, WebhookError> {
        let rows = self.db.scoped(flock).endpoints().await?;
        Ok(rows.into_iter().map(Endpoint::from).collect())
    }

    pub async fn endpoint(&self, flock: FlockId, id: Uuid) -> Result<Endpoint, WebhookError> {
        let row = self.db.scoped(flock).endpoint(id).await?;
        row.map(Endpoint::from)
            .ok_or(WebhookError::EndpointNotFound)
    }

    /// Creates an endpoint; it and its secret (shown once).
    pub async fn create(
        &self,
        flock: FlockId,
        input: EndpointInput,
    ) -> Result<(Endpoint, SecretString), WebhookError> {
        let url = input.url.unwrap_or_default();
        self.check_url(&url)?;
        let types = input.event_types.unwrap_or_default();
        Self::check_types(&types)?;
        let id = Uuid::now_v7();
        let secret = SecretString::from(new_secret());
        let sealed = self.sealer.seal(&Self::owner(flock, id), &secret).await?;
        self.db
            .scoped(flock)
            .endpoint_insert(NewEndpoint {
                id,
                url,
                event_types: serde_json::json!(types),
                secret_sealed: sealed,
                enabled: input.enabled.unwrap_or(true),
                now: self.clock.now(),
            })
            .await?;
        Ok((self.endpoint(flock, id).await?, secret))
    }

    pub async fn update(
        &self,
        flock: FlockId,
        id: Uuid,
        input: EndpointInput,
    ) -> Result<Endpoint, WebhookError> {
        if let Some(u) = &input.url {
            self.check_url(u)?;
        }
        if let Some(t) = &input.event_types {
            Self::check_types(t)?;
        }
        let patch = EndpointPatch {
            url: input.url,
            event_types: input.event_types.map(|t| serde_json::json!(t)),
            enabled: input.enabled,
            rotate: None,
        };
        if !self
            .db
            .scoped(flock)
            .endpoint_update(id, patch, self.clock.now())
            .await?
        {
            return Err(WebhookError::EndpointNotFound);
        }
        self.endpoint(flock, id).await
    }

    /// A new secret; the old one still signs (a second signature) for a day.
    pub async fn rotate_secret(
        &self,
        flock: FlockId,
        id: Uuid,
    ) -> Result<SecretString, WebhookError> {
        let db = self.db.scoped(flock);
        let row = db
            .endpoint(id)
            .await?
            .ok_or(WebhookError::EndpointNotFound)?;
        let secret = SecretString::from(new_secret());
        let sealed = self.sealer.seal(&Self::owner(flock, id), &secret).await?;
        let now = self.clock.now();
        let patch = EndpointPatch {
            rotate: Some((sealed, row.secret_sealed, now + chrono::Duration::days(1))),
            ..EndpointPatch::default()
        };
        db.endpoint_update(id, patch, now).await?;
        Ok(secret)
    }

    pub async fn delete(&self, flock: FlockId, id: Uuid) -> Result<(), WebhookError> {
        if !self.db.scoped(flock).endpoint_delete(id).await? {
            return Err(WebhookError::EndpointNotFound);
        }
        Ok(())
    }

    /// Sends a `webhook.test` event to this endpoint only; its delivery id.
    pub async fn test(&self, flock: FlockId, id: Uuid) -> Result<Uuid, WebhookError> {
        self.endpoint(flock, id).await?;
        let e = NewEvent {
            kind: "webhook.test",
            data: serde_json::json!({"endpoint_id": id}),
            at: self.clock.now(),
            ..Default::default()
        };
        Ok(self.db.scoped(flock).event_for_endpoint(id, e).await?)
    }

    pub async fn deliveries(
        &self,
        flock: FlockId,
        id: Uuid,
        status: Option<&str>,
        before: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<Delivery>, WebhookError> {
        self.endpoint(flock, id).await?;
        if let Some(s) = status {
            if !matches!(s, "pending" | "succeeded" | "failed") {
                return Err(bad(
                    "invalid_status",
                    "status",
                    "status is pending, succeeded or failed",
                ));
            }
        }
        let rows = self
            .db
            .scoped(flock)
            .deliveries(id, status, before, limit.clamp(1, 100))
            .await?;
        Ok(rows.into_iter().map(Delivery::from).collect())
    }

    /// Sends one delivery again now.
    pub async fn replay(
        &self,
        flock: FlockId,
        id: Uuid,
        delivery: Uuid,
    ) -> Result<(), WebhookError> {
        if !self
            .db
            .scoped(flock)
            .delivery_replay(id, delivery, self.clock.now())
            .await?
        {
            return Err(WebhookError::DeliveryNotFound);
        }
        Ok(())
    }

    /// Sends the flock's events of `[from, to)` (of the endpoint's types) to the endpoint
    /// again, as new deliveries; how many.
    pub async fn replay_range(
        &self,
        flock: FlockId,
        id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64, WebhookError> {
        let ep = self.endpoint(flock, id).await?;
        if to <= from || to - from > chrono::Duration::days(31) {
            return Err(bad(
                "invalid_range",
                "to",
                "to is after from, at most 31 days later",
            ));
        }
        Ok(self
            .db
            .scoped(flock)
            .deliveries_replay_range(id, &ep.event_types, from, to, self.clock.now())
            .await?)
    }

    /// The endpoint's secrets (current, and the previous one while it still signs).
    pub(crate) async fn secrets(
        &self,
        ep: &EndpointRow,
    ) -> Result<Vec<SecretString>, WebhookError> {
        let owner = format!("webhook:{}:{}", ep.flock_id, ep.id);
        let mut out = vec![self.sealer.open(&owner, &ep.secret_sealed).await?];
        if let (Some(prev), Some(until)) = (&ep.previous_secret_sealed, ep.previous_until) {
            if self.clock.now() < until {
                out.push(self.sealer.open(&owner, prev).await?);
            }
        }
        Ok(out)
    }
}

/// Signs `body` for one delivery: the `webhook-signature` header (one `v1,` signature per
/// secret).
pub fn sign(secrets: &[SecretString], id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut sigs = Vec::new();
    for s in secrets {
        let wh = standardwebhooks::Webhook::new(s.expose_secret()).ok()?;
        sigs.push(wh.sign(id, timestamp, body).ok()?);
    }
    Some(sigs.join(" "))
}
