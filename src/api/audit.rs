//! The audit log of a flock: a page of events (newest first, by user, actor, type and
//! time) and the whole selection as streamed NDJSON. Back-office operations: a flock API
//! key, or a manager whose groups grant them.
use super::error::{ApiError, ApiResult};
use super::frame::tenant;
use super::security::BackOfficeAuth;
use super::ApiTags;
use crate::db::audit::AuditRow;
use crate::domain::audit::{AuditError, AuditQuery, AuditService};
use chrono::{DateTime, Utc};
use poem::IntoResponse;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::registry::{
    MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

pub struct AuditApi {
    pub audit: AuditService,
}

/// One event of the audit log.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AuditEventView {
    id: Uuid,
    /// `user.signed_in`, `user.sign_in_failed`, `admin.request`, … (see the docs' list).
    #[oai(rename = "type")]
    kind: String,
    occurred_at: DateTime<Utc>,
    /// The user the event is about.
    user_id: Option<Uuid>,
    /// Who acted: `user:<id>`, `manager:<id>`, `api_key:<id>`, `platform:<id>`,
    /// `anonymous` or `system`.
    actor: Option<String>,
    /// The caller's address.
    ip: Option<String>,
    user_agent: Option<String>,
    /// A short word: a sign-in's method, a failure's reason, a request's operation.
    detail: Option<String>,
    /// The event's details (ids, field names, states; never a secret).
    data: serde_json::Value,
}

impl From<AuditRow> for AuditEventView {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            kind: r.r#type,
            occurred_at: r.occurred_at,
            user_id: r.user_id,
            actor: r.actor,
            ip: r.ip,
            user_agent: r.user_agent,
            detail: r.detail,
            data: r.data,
        }
    }
}

/// A page of the log.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct AuditPage {
    items: Vec<AuditEventView>,
    /// The cursor of the next page (absent on the last).
    next: Option<String>,
}

/// The selection as NDJSON: one `AuditEvent` object per line, newest first.
pub struct Ndjson(poem::Body);

impl IntoResponse for Ndjson {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type("application/x-ndjson")
            .header("Cache-Control", "no-store")
            .header("X-Content-Type-Options", "nosniff")
            .body(self.0)
    }
}

impl ApiResponse for Ndjson {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "One JSON object per line (the fields of `AuditEventView`), newest first, streamed.",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: "application/x-ndjson",
                    schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Invalid(i) => i.into(),
            AuditError::Infra(i) => i.into(),
        }
    }
}

#[OpenApi(tag = "ApiTags::Audit")]
impl AuditApi {
    /// The flock's audit log, newest first: sign-ins and their failures, sign-outs and
    /// revocations, password changes, profile and status changes, locked one-time codes,
    /// back-office and admin writes. Filters narrow; `next` is the cursor of the next
    /// page (scope `list_audit_events`).
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/api/v1/:flock/audit/events",
        method = "get",
        operation_id = "list_audit_events"
    )]
    async fn list(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// Only events about this user.
        user_id: Query<Option<Uuid>>,
        /// Only events by this actor (`user:<id>`, `manager:<id>`, `api_key:<id>`,
        /// `platform:<id>`, `anonymous`, `system`).
        #[oai(validator(max_length = 80))]
        actor: Query<Option<String>>,
        /// Only these event types (comma-separated).
        #[oai(name = "type", validator(max_length = 1000))]
        kind: Query<Option<String>>,
        /// From this instant (inclusive).
        from: Query<Option<DateTime<Utc>>>,
        /// Up to this instant (exclusive).
        to: Query<Option<DateTime<Utc>>>,
        /// `next` of the previous page.
        #[oai(validator(max_length = 4096))]
        cursor: Query<Option<String>>,
        /// 1 to 1,000 (default 50).
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<AuditPage>> {
        auth.allow("list_audit_events")?;
        let q = AuditQuery {
            user: user_id.0,
            actor: actor.0,
            types: kind.0,
            from: from.0,
            to: to.0,
        };
        let page = self
            .audit
            .list(flock.id, &q, cursor.0.as_deref(), limit.0)
            .await?;
        Ok(Json(AuditPage {
            items: page.items.into_iter().map(Into::into).collect(),
            next: page.next,
        }))
    }

    /// The whole selection as NDJSON, streamed a page at a time (for big ranges; the
    /// same filters as the list) (scope `export_audit_events`).
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/api/v1/:flock/audit/events/export",
        method = "get",
        operation_id = "export_audit_events"
    )]
    async fn export(
        &self,
        auth: BackOfficeAuth,
        flock: tenant::Path,
        /// Only events about this user.
        user_id: Query<Option<Uuid>>,
        /// Only events by this actor.
        #[oai(validator(max_length = 80))]
        actor: Query<Option<String>>,
        /// Only these event types (comma-separated).
        #[oai(name = "type", validator(max_length = 1000))]
        kind: Query<Option<String>>,
        /// From this instant (inclusive).
        from: Query<Option<DateTime<Utc>>>,
        /// Up to this instant (exclusive).
        to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Ndjson> {
        auth.allow("export_audit_events")?;
        let q = AuditQuery {
            user: user_id.0,
            actor: actor.0,
            types: kind.0,
            from: from.0,
            to: to.0,
        };
        let filter = self.audit.export_filter(&q)?;
        let audit = self.audit.clone();
        let flock = flock.id;
        // (position, finished): each step reads one chunk and answers it as lines.
        let start: (Option<(DateTime<Utc>, Uuid)>, bool) = (None, false);
        let stream = futures::stream::unfold(start, move |(after, done)| {
            let audit = audit.clone();
            let filter = filter.clone();
            async move {
                if done {
                    return None;
                }
                match audit.export_chunk(flock, &filter, after).await {
                    Ok(rows) if rows.is_empty() => None,
                    Ok(rows) => {
                        let last = rows.last().map(|r| (r.occurred_at, r.id));
                        let mut buf = Vec::with_capacity(rows.len() * 256);
                        for r in rows {
                            // The list's own JSON form: one shape in both answers.
                            let v = poem_openapi::types::ToJSON::to_json(&AuditEventView::from(r));
                            if let Some(v) = v {
                                if serde_json::to_writer(&mut buf, &v).is_ok() {
                                    buf.push(b'\n');
                                }
                            }
                        }
                        Some((
                            Ok::<_, std::io::Error>(bytes::Bytes::from(buf)),
                            (last, false),
                        ))
                    }
                    Err(e) => {
                        // The status has gone: the stream ends early, the cause is logged.
                        tracing::warn!(error = %e, "audit export ended early");
                        Some((
                            Err(std::io::Error::other("audit export failed")),
                            (None, true),
                        ))
                    }
                }
            }
        });
        Ok(Ndjson(poem::Body::from_bytes_stream(stream)))
    }
}
