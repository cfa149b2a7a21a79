//! Anonymous visitors: issue a visitor token, check it, mark the visitor active or
//! online.
use crate::api::error::ApiResult;
use crate::api::frame::tenant;
use crate::api::ApiTags;
use crate::domain::sessions::{SessionError, SessionService, Visitor};
use crate::infra::clock::Clock;
use chrono::{DateTime, Utc};
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

/// An anonymous visitor.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct VisitorView {
    id: uuid::Uuid,
    created_at: DateTime<Utc>,
    last_active_at: DateTime<Utc>,
    /// Whether the visitor was marked online within the last minute.
    online: bool,
    /// Whether the visitor has signed in since (attached to a user).
    attached: bool,
    expires_at: DateTime<Utc>,
}

impl VisitorView {
    fn new(v: Visitor, now: DateTime<Utc>) -> Self {
        Self {
            id: v.id,
            created_at: v.created_at,
            last_active_at: v.last_active_at,
            online: v.online_until.is_some_and(|t| t > now),
            attached: v.user.is_some(),
            expires_at: v.expires_at,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NewVisitor {
    /// Opaque visitor token (`fold_vt_…`): send it as `X-Visitor-Token`.
    visitor_token: String,
    visitor: VisitorView,
}

pub struct VisitorsApi {
    pub sessions: SessionService,
    pub clock: Clock,
}

impl VisitorsApi {
    fn view(&self, v: Result<Visitor, SessionError>) -> ApiResult<Json<VisitorView>> {
        Ok(Json(VisitorView::new(v?, self.clock.now())))
    }
}

#[OpenApi(tag = "ApiTags::Sessions")]
impl VisitorsApi {
    /// A visitor token for an anonymous visitor (no credentials needed).
    #[oai(
        path = "/api/v1/:flock/visitor-tokens",
        method = "post",
        operation_id = "create_visitor_token"
    )]
    async fn create_visitor_token(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
    ) -> ApiResult<Json<NewVisitor>> {
        let (token, v) = self.sessions.issue_visitor(flock.id).await?;
        Ok(Json(NewVisitor {
            visitor_token: token,
            visitor: VisitorView::new(v, self.clock.now()),
        }))
    }

    /// Check a visitor token.
    #[oai(
        path = "/api/v1/:flock/visitor",
        method = "get",
        operation_id = "check_visitor"
    )]
    async fn check_visitor(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        /// The visitor token.
        #[oai(name = "X-Visitor-Token")]
        token: Header<String>,
    ) -> ApiResult<Json<VisitorView>> {
        self.view(self.sessions.check_visitor(flock.id, &token.0).await)
    }

    /// Mark a visitor active.
    #[oai(
        path = "/api/v1/:flock/visitor/active",
        method = "post",
        operation_id = "mark_visitor_active"
    )]
    async fn mark_visitor_active(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        /// The visitor token.
        #[oai(name = "X-Visitor-Token")]
        token: Header<String>,
    ) -> ApiResult<Json<VisitorView>> {
        self.view(self.sessions.mark_visitor_active(flock.id, &token.0).await)
    }

    /// Mark a visitor online for the next minute (presence).
    #[oai(
        path = "/api/v1/:flock/visitor/online",
        method = "post",
        operation_id = "mark_visitor_online"
    )]
    async fn mark_visitor_online(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        /// The visitor token.
        #[oai(name = "X-Visitor-Token")]
        token: Header<String>,
    ) -> ApiResult<Json<VisitorView>> {
        self.view(self.sessions.mark_visitor_online(flock.id, &token.0).await)
    }
}
