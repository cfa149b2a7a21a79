//! Webhook endpoints of a flock: create (the secret shown once), list, change, rotate the
//! secret, test-send, the deliveries and their replay.
use super::error::{ApiError, ApiResult};
use super::frame::tenant;
use super::security::BackOfficeAuth;
use super::ApiTags;
use crate::domain::webhooks::{Delivery, Endpoint, EndpointInput, WebhookError, WebhookService};
use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use secrecy::ExposeSecret;
use uuid::Uuid;

pub struct WebhooksApi {
    pub webhooks: WebhookService,
}

/// An event type.
#[derive(Debug, Clone, Copy, Enum, PartialEq, Eq)]
enum EventType {
    #[oai(rename = "user.created")]
    UserCreated,
    #[oai(rename = "user.registered")]
    UserRegistered,
    #[oai(rename = "user.signed_in")]
    UserSignedIn,
    #[oai(rename = "user.updated")]
    UserUpdated,
    #[oai(rename = "user.status_changed")]
    UserStatusChanged,
    #[oai(rename = "user.deleted")]
    UserDeleted,
    #[oai(rename = "session.revoked")]
    SessionRevoked,
    #[oai(rename = "webhook.test")]
    WebhookTest,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserRegistered => "user.registered",
            EventType::UserSignedIn => "user.signed_in",
            EventType::UserUpdated => "user.updated",
            EventType::UserStatusChanged => "user.status_changed",
            EventType::UserDeleted => "user.deleted",
            EventType::SessionRevoked => "session.revoked",
            EventType::WebhookTest => "webhook.test",
        }
    }
}

/// A webhook endpoint (its secret is never shown again after creation or rotation).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct EndpointView {
    id: Uuid,
    url: String,
    /// The event types it takes (every type when empty).
    event_types: Vec<String>,
    enabled: bool,
    /// Why it was disabled: `gone` (the receiver answered 410) or `failing` (deliveries
    /// failed for days).
    disabled_reason: Option<String>,
    /// Deliveries have been failing since then.
    failing_since: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            event_types: e.event_types,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A new endpoint and its signing secret, shown once.
#[derive(Object)]
struct CreatedEndpoint {
    endpoint: EndpointView,
    /// `whsec_…`: verify each delivery's `webhook-signature` with it.
    secret: String,
}

#[derive(Object)]
struct EndpointList {
    items: Vec<EndpointView>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct NewEndpoint {
    /// https (a public address; checked again at every delivery).
    #[oai(validator(min_length = 1, max_length = 2048))]
    url: String,
    /// The types to deliver; all when absent or empty.
    #[oai(validator(max_items = 16))]
    event_types: Option<Vec<EventType>>,
    enabled: Option<bool>,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct EndpointPatch {
    #[oai(validator(min_length = 1, max_length = 2048))]
    url: Option<String>,
    #[oai(validator(max_items = 16))]
    event_types: Option<Vec<EventType>>,
    /// Enabling clears why it was disabled.
    enabled: Option<bool>,
}

/// A rotated secret, shown once; the previous one still signs (a second signature) for a
/// day.
#[derive(Object)]
struct RotatedSecret {
    secret: String,
}

/// `pending` (due again at `next_attempt_at`), `succeeded`, or `failed` (attempts spent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

/// A delivery of an event to the endpoint.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeliveryView {
    id: Uuid,
    /// The event (`webhook-id`: the same on every attempt).
    event_id: Uuid,
    event_type: String,
    status: DeliveryStatus,
    attempts: i32,
    /// When the next attempt is due (pending only).
    next_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status.
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: match d.status.as_str() {
                "succeeded" => DeliveryStatus::Succeeded,
                "failed" => DeliveryStatus::Failed,
                _ => DeliveryStatus::Pending,
            },
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct DeliveryList {
    items: Vec<DeliveryView>,
    /// Pass as `before` for the next (older) page.
    next: Option<Uuid>,
}

#[derive(Object)]
struct Queued {
    /// The delivery (test) or how many deliveries were queued (replay of a range).
    delivery_id: Option<Uuid>,
    queued: u64,
}

#[derive(Object)]
#[oai(deny_unknown_fields)]
struct ReplayRange {
    from: DateTime<Utc>,
    /// At most 31 days after `from`.
    to: DateTime<Utc>,
}

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Created(Json<CreatedEndpoint>),
}

#[derive(ApiResponse)]
enum Accepted {
    #[oai(status = 202)]
    Accepted(Json<Queued>),
}

#[derive(ApiResponse)]
enum Removed {
    #[oai(status = 204)]
    Done,
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Invalid(i) => i.into(),
            WebhookError::EndpointNotFound => {
                ApiError::not_found("webhook_endpoint_not_found", "no such webhook endpoint")
            }
            WebhookError::DeliveryNotFound => {
                ApiError::not_found("webhook_delivery_not_found", "no such delivery")
            }
            WebhookError::SecretUnreadable => ApiError::unavailable(
                "webhook_secret_unreadable",
                "the endpoint's secret cannot be opened (the sealing key changed); rotate it",
            ),
            WebhookError::Infra(i) => i.into(),
        }
    }
}

fn types(t: Option<Vec<EventType>>) -> Option<Vec<String>> {
    t.map(|v| v.into_iter().map(|t| t.as_str().to_owned()).collect())
}

#[OpenApi(tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// The flock's webhook endpoints (scope `webhooks_list`).
    #[oai(
        path = "/api/v1/:flock/webhooks",
        method = "get",
        operation_id = "webhooks_list"
    )]
    async fn list(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
    ) -> ApiResult<Json<EndpointList>> {
        auth.allow("webhooks_list")?;
        let items = self.webhooks.endpoints(flock.id).await?;
        Ok(Json(EndpointList {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Create an endpoint; its signing secret is in the answer, once (scope
    /// `webhooks_create`).
    #[oai(
        path = "/api/v1/:flock/webhooks",
        method = "post",
        operation_id = "webhooks_create"
    )]
    async fn create(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        body: Json<NewEndpoint>,
    ) -> ApiResult<Created> {
        auth.allow("webhooks_create")?;
        let b = body.0;
        let input = EndpointInput {
            url: Some(b.url),
            event_types: types(b.event_types),
            enabled: b.enabled,
        };
        let (e, secret) = self.webhooks.create(flock.id, input).await?;
        Ok(Created::Created(Json(CreatedEndpoint {
            endpoint: e.into(),
            secret: secret.expose_secret().to_owned(),
        })))
    }

    /// One endpoint (scope `webhooks_get`).
    #[oai(
        path = "/api/v1/:flock/webhooks/:endpoint_id",
        method = "get",
        operation_id = "webhooks_get"
    )]
    async fn get(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        endpoint_id: Path<Uuid>,
    ) -> ApiResult<Json<EndpointView>> {
        auth.allow("webhooks_get")?;
        Ok(Json(
            self.webhooks
                .endpoint(flock.id, endpoint_id.0)
                .await?
                .into(),
        ))
    }

    /// Change an endpoint's URL, types or state (scope `webhooks_update`).
    #[oai(
        path = "/api/v1/:flock/webhooks/:endpoint_id",
        method = "patch",
        operation_id = "webhooks_update"
    )]
    async fn update(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        endpoint_id: Path<Uuid>,
        body: Json<EndpointPatch>,
    ) -> ApiResult<Json<EndpointView>> {
        auth.allow("webhooks_update")?;
        let b = body.0;
        let input = EndpointInput {
            url: b.url,
            event_types: types(b.event_types),
            enabled: b.enabled,
        };
        Ok(Json(
            self.webhooks
                .update(flock.id, endpoint_id.0, input)
                .await?
                .into(),
        ))
    }

    /// Remove an endpoint and its deliveries (scope `webhooks_delete`).
    #[oai(
        path = "/api/v1/:flock/webhooks/:endpoint_id",
        method = "delete",
        operation_id = "webhooks_delete"
    )]
    async fn delete(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        endpoint_id: Path<Uuid>,
    ) -> ApiResult<Removed> {
        auth.allow("webhooks_delete")?;
        self.webhooks.delete(flock.id, endpoint_id.0).await?;
        Ok(Removed::Done)
    }

    /// A new signing secret, shown once; deliveries carry both signatures for a day
    /// (scope `webhooks_rotate_secret`).
    #[oai(
        path = "/api/v1/:flock/webhooks/:endpoint_id/rotate-secret",
        method = "post",
        operation_id = "webhooks_rotate_secret"
    )]
    async fn rotate(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        endpoint_id: Path<Uuid>,
    ) -> ApiResult<Json<RotatedSecret>> {
        auth.allow("webhooks_rotate_secret")?;
        let s = self.webhooks.rotate_secret(flock.id, endpoint_id.0).await?;
        Ok(Json(RotatedSecret {
            secret: s.expose_secret().to_owned(),
        }))
    }

    /// Send a `webhook.test` event to this endpoint (scope `webhooks_test`).
    #[oai(
        path = "/api/v1/:flock/webhooks/:endpoint_id/test",
        method = "post",
        operation_id = "webhooks_test"
    )]
    async fn test(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        endpoint_id: Path<Uuid>,
    ) -> ApiResult<Accepted> {
        auth.allow("webhooks_test")?;
        let d = self.webhooks.test(flock.id, endpoint_id.0).await?;
        Ok(Accepted::Accepted(Json(Queued {
            delivery_id: Some(d),
            queued: 1,
        })))
    }

    /// The endpoint's deliveries, newest first (scope `webhooks_deliveries`).
    #[oai(
        path = "/api/v1/:flock/webhooks/:endpoint_id/deliveries",
        method = "get",
        operation_id = "webhooks_deliveries"
    )]
    async fn deliveries(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        endpoint_id: Path<Uuid>,
        /// `pending`, `succeeded` or `failed`.
        #[oai(validator(max_length = 16))]
        status: Query<Option<String>>,
        /// The last id of the previous page.
        before: Query<Option<Uuid>>,
        /// 1 to 100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<DeliveryList>> {
        auth.allow("webhooks_deliveries")?;
        let limit = limit.0.unwrap_or(50);
        let items = self
            .webhooks
            .deliveries(
                flock.id,
                endpoint_id.0,
                status.0.as_deref(),
                before.0,
                limit,
            )
            .await?;
        let next = (items.len() as u64 == limit)
            .then(|| items.last().map(|d| d.id))
            .flatten();
        Ok(Json(DeliveryList {
            items: items.into_iter().map(Into::into).collect(),
            next,
        }))
    }

    /// Send one delivery again now (scope `webhooks_replay`).
    #[oai(
        path = "/api/v1/:flock/webhooks/:endpoint_id/deliveries/:delivery_id/replay",
        method = "post",
        operation_id = "webhooks_replay"
    )]
    async fn replay(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        endpoint_id: Path<Uuid>,
        delivery_id: Path<Uuid>,
    ) -> ApiResult<Accepted> {
        auth.allow("webhooks_replay")?;
        self.webhooks
            .replay(flock.id, endpoint_id.0, delivery_id.0)
            .await?;
        Ok(Accepted::Accepted(Json(Queued {
            delivery_id: Some(delivery_id.0),
            queued: 1,
        })))
    }

    /// Send the flock's events of a time range to this endpoint again (scope
    /// `webhooks_replay_range`).
    #[oai(
        path = "/api/v1/:flock/webhooks/:endpoint_id/replay",
        method = "post",
        operation_id = "webhooks_replay_range"
    )]
    async fn replay_range(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        endpoint_id: Path<Uuid>,
        body: Json<ReplayRange>,
    ) -> ApiResult<Accepted> {
        auth.allow("webhooks_replay_range")?;
        let n = self
            .webhooks
            .replay_range(flock.id, endpoint_id.0, body.0.from, body.0.to)
            .await?;
        Ok(Accepted::Accepted(Json(Queued {
            delivery_id: None,
            queued: n,
        })))
    }
}
