//! The request frame around every route: a request id (task-local and echoed in
//! `X-Request-Id`), resolution of the flock of tenant routes (once per request), the
//! JSON error shape for every error poem produces itself (malformed JSON, wrong content
//! type, unknown route, wrong method, missing credentials), metrics and the access log.
//! Query strings are never logged: they could carry secrets.
use super::client_ip::{self, ClientIp};
use super::error::{ApiError, ErrorBody, REQUEST_ID};
use super::payload_error;
use crate::domain::audit::AuditService;
use crate::domain::flocks::{Flock, FlockService};
use crate::infra::context::{self, RequestContext};
use crate::infra::ip_limit::IpLimiter;
use crate::infra::metrics::Metrics;
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Request, RequestBody, Response, Result};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaParamIn, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, OperationId};
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The flock of a tenant route: the `{flock}` path parameter, resolved by the frame
/// (once per request, before the handler runs) into the flock it names. Every tenant
/// operation takes one, as `flock: tenant::Path`.
#[derive(Clone)]
pub struct Tenant(pub Arc<Flock>);

/// The name handlers write [`Tenant`] by. poem-openapi's macro numbers path parameters by
/// position and counts only arguments whose type is written with a `Path` segment; so the
/// flock is written `tenant::Path`, and a later `Path<…>` (a key id, a session id) still
/// reads its own segment.
pub mod tenant {
    pub type Path = super::Tenant;
}

impl std::ops::Deref for Tenant {
    type Target = Flock;
    fn deref(&self) -> &Flock {
        &self.0
    }
}

impl<'a> ApiExtractor<'a> for Tenant {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = true;
    type ParamType = String;
    type ParamRawType = String;

    fn register(registry: &mut Registry) {
        <String as Type>::register(registry);
    }

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Path)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(String::schema_ref())
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<String>,
    ) -> Result<Self> {
        req.data::<Tenant>()
            .cloned()
            .ok_or_else(|| ApiError::internal().into())
    }
}

/// What the frame is configured with.
pub struct FrameConfig {
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Largest request body (bytes).
    pub body_limit: usize,
    /// Largest body of a file upload (`POST`/`PUT` under `…/files`), in bytes.
    pub upload_limit: usize,
    pub ip_limiter: IpLimiter,
    pub metrics: Metrics,
}

/// The frame's parts, as request data.
#[derive(Clone)]
pub struct FrameState(Arc<FrameParts>);

struct FrameParts {
    config: FrameConfig,
    flocks: FlockService,
    /// Where back-office and platform writes are recorded (`admin.request`).
    audit: AuditService,
    /// The spec, to name the field at fault in a refused body (built at the first such
    /// error, then kept).
    spec: Arc<dyn Fn() -> String + Send + Sync>,
    schemas: OnceLock<Map<String, Value>>,
    path_params: OnceLock<std::collections::HashMap<String, Vec<String>>>,
    bodies: OnceLock<payload_error::BodyRoutes>,
    methods: OnceLock<payload_error::PathMethods>,
}

impl FrameState {
    pub fn new(
        config: FrameConfig,
        flocks: FlockService,
        audit: AuditService,
        spec: Arc<dyn Fn() -> String + Send + Sync>,
    ) -> Self {
        Self(Arc::new(FrameParts {
            config,
            flocks,
            audit,
            spec,
            schemas: OnceLock::new(),
            path_params: OnceLock::new(),
            bodies: OnceLock::new(),
            methods: OnceLock::new(),
        }))
    }

    /// Records `admin.request` for a write (not GET/HEAD/OPTIONS) that a flock API key,
    /// a manager or a platform key made to an operation of a flock: in the flock of the
    /// path (`/api/v1/{flock}/…`, or `/platform/v1/flocks/{slug}/…`).
    async fn record_admin_request(
        &self,
        ctx: &RequestContext,
        tenant: Option<crate::ids::FlockId>,
        method: &poem::http::Method,
        path: &str,
        op: &str,
        status: StatusCode,
    ) {
        use poem::http::Method;
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || op == "unmatched" {
            return;
        }
        if !ctx.actor.is_some_and(|a| a.is_back_office()) {
            return;
        }
        let flock = match tenant {
            Some(f) => Some(f),
            None => match platform_slug(path) {
                Some(slug) => self.0.flocks.get(slug).await.ok().map(|f| f.id),
                None => None,
            },
        };
        if let Some(flock) = flock {
            // In the request's context again: the event carries its actor and origin.
            let record =
                self.0
                    .audit
                    .record_request(flock, op, method.as_str(), path, status.as_u16());
            context::scope(ctx.clone(), record).await;
        }
    }

    /// The `Allow` value of a path: the methods the spec has for it.
    fn allow(&self, path: &str) -> String {
        self.0
            .methods
            .get_or_init(|| payload_error::PathMethods::of(&(self.0.spec)()))
            .allowed(path)
            .join(", ")
    }

    /// A JSON body that breaks the spec's types for its operation: (field, message).
    fn body_error(&self, method: &str, path: &str, body: &[u8]) -> Option<(String, String)> {
        // One read: a repeated key is refused on every route; a body that is not JSON at
        // all is left to poem-openapi's own answer.
        let value = match payload_error::read_body(body) {
            Ok(v) => v,
            Err(Some(key)) => {
                let message = format!("the key `{key}` appears more than once in the body");
                return Some((key, message));
            }
            Err(None) => return None,
        };
        let routes = self
            .0
            .bodies
            .get_or_init(|| payload_error::BodyRoutes::of(&(self.0.spec)()));
        let schema = routes.schema(method, path)?;
        payload_error::locate(self.schemas(), schema, &value)
    }

    /// The name of the `index`th path parameter of operation `op`.
    fn path_param(&self, op: &str, index: usize) -> Option<&str> {
        self.0
            .path_params
            .get_or_init(|| payload_error::path_params_of(&(self.0.spec)()))
            .get(op)?
            .get(index)
            .map(String::as_str)
    }

    fn schemas(&self) -> &Map<String, Value> {
        self.0
            .schemas
            .get_or_init(|| payload_error::schemas_of(&(self.0.spec)()))
    }
}

/// `/api/v1/{flock}/…` → the slug.
fn tenant_slug(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1/")?;
    let slug = rest.split('/').next()?;
    (!slug.is_empty()).then_some(slug)
}

/// The flock slug of a `/platform/v1/flocks/{slug}/…` path.
fn platform_slug(path: &str) -> Option<&str> {
    let slug = path
        .strip_prefix("/platform/v1/flocks/")?
        .split('/')
        .next()?;
    (!slug.is_empty()).then_some(slug)
}

pub async fn frame<E: Endpoint>(ep: Arc<E>, mut req: Request) -> Result<Response> {
    let request_id = crate::infra::secret::request_id();
    REQUEST_ID
        .scope(request_id.clone(), async move {
            let started = Instant::now();
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            let state = req.data::<FrameState>().cloned();
            let ip = state
                .as_ref()
                .and_then(|s| client_ip::resolve(&req, &s.0.config.trusted_proxies));
            if let Some(ip) = ip {
                req.set_data(ClientIp(ip));
            }
            let ctx = RequestContext::new(
                ip,
                req.headers()
                    .get(poem::http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok()),
            );
            // Set when an undeclared (chunked) body runs past the limit while it is read
            // (only such a body gets the flag).
            let mut over = None;
            let ((mut resp, op, tenant_id), ctx) = context::scope(ctx, async {
                let throttled = match (&state, ip) {
                    (Some(s), Some(ip)) => s.0.config.ip_limiter.check(ip).err(),
                    _ => None,
                };

                let mut tenant_id = None;
                let (resp, op) = if let Some(wait) = throttled {
                    let secs = wait.as_secs().max(1);
                    let body = ErrorBody::new(
                        "rate_limited",
                        format!("too many requests from this address; retry in {secs} s"),
                        None,
                    );
                    (
                        ApiError::TooManyRequests(Json(body), secs).into_response(),
                        "ip_limit",
                    )
                } else if let Some(resp) = limit_body(&mut req, state.as_ref(), &mut over) {
                    (resp, "body_limit")
                } else if let Some(resp) = strict_json_type(&req) {
                    (resp, "content_type")
                } else {
                    match resolve_tenant(&mut req, state.as_ref(), &path).await {
                        Err(resp) => (resp, "tenant"),
                        Ok(()) => {
                            tenant_id = req.data::<Tenant>().map(|t| t.0.id);
                            let body = keep_json_body(&mut req).await;
                            let bad = match (&body, &state) {
                                (Some(b), Some(st)) => st.body_error(method.as_str(), &path, b),
                                _ => None,
                            };
                            if let Some((field, message)) = bad {
                                let body = ErrorBody::new("invalid_request", message, Some(&field));
                                let resp = Response::builder()
                                    .status(StatusCode::BAD_REQUEST)
                                    .content_type("application/json; charset=utf-8")
                                    .body(body.to_json_string());
                                (resp, "invalid_body")
                            } else {
                                match ep.call(req).await {
                                    Ok(r) => {
                                        let r = r.into_response();
                                        let op =
                                            r.data::<OperationId>().map_or("unmatched", |o| o.0);
                                        (r, op)
                                    }
                                    Err(e) => {
                                        let op =
                                            e.data::<OperationId>().map_or("unmatched", |o| o.0);
                                        let resp = match path_error(&e, op, state.as_ref()) {
                                            Some(r) => r,
                                            None => error_response_with_body(
                                                e,
                                                body.as_deref(),
                                                state.as_ref(),
                                            ),
                                        };
                                        (resp, op)
                                    }
                                }
                            }
                        }
                    }
                };
                (resp, op, tenant_id)
            })
            .await;
            if over.is_some_and(|o| o.load(Ordering::Relaxed)) {
                resp = error_response(poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE));
            }
            if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
                if let Some(allow) = state.as_ref().map(|s| s.allow(&path)) {
                    if let Ok(v) = HeaderValue::from_str(&allow) {
                        resp.headers_mut().insert(poem::http::header::ALLOW, v);
                    }
                }
            }
            let status = resp.status();
            if let Some(state) = &state {
                state
                    .record_admin_request(&ctx, tenant_id, &method, &path, op, status)
                    .await;
            }
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                resp.headers_mut().insert("x-request-id", v);
            }
            let elapsed = started.elapsed();
            if let Some(state) = &state {
                state
                    .0
                    .config
                    .metrics
                    .observe(op, status.as_u16(), elapsed.as_secs_f64());
            }
            tracing::info!(
                target: "fold::access",
                %request_id, %method, path = %path, operation = op,
                status = status.as_u16(), micros = elapsed.as_micros() as u64,
            );
            Ok(resp)
        })
        .await
}

/// A file upload or replacement: `POST …/files` or `PUT …/files/{id}` under a tenant
/// (not `…/files/order`, a JSON body, nor a flock whose slug happens to hold "files").
fn is_upload(method: &poem::http::Method, path: &str) -> bool {
    if !path.starts_with("/api/v1/") {
        return false;
    }
    let mut segs = path.trim_end_matches('/').rsplit('/');
    let (last, before) = (segs.next().unwrap_or(""), segs.next().unwrap_or(""));
    match *method {
        poem::http::Method::POST => last == "files" && path.matches('/').count() >= 5,
        poem::http::Method::PUT => before == "files" && last != "order",
        _ => false,
    }
}

/// Refuses a declared body over the limit; caps an undeclared (chunked) one.
/// `Some(answer)` when the request is refused.
fn limit_body(
    req: &mut Request,
    state: Option<&FrameState>,
    over: &mut Option<Arc<AtomicBool>>,
) -> Option<Response> {
    let config = &state?.0.config;
    let upload = is_upload(req.method(), req.uri().path());
    let limit = if upload {
        config.upload_limit
    } else {
        config.body_limit
    };
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(n) if n > limit && upload => Some(
            ApiError::PayloadTooLarge(Json(ErrorBody::new(
                "file_too_large",
                format!("uploads are at most {limit} bytes on this deployment"),
                Some("file"),
            )))
            .into_response(),
        ),
        Some(n) if n > limit => Some(error_response(poem::Error::from_status(
            StatusCode::PAYLOAD_TOO_LARGE,
        ))),
        Some(_) => None,
        None if req.method() == poem::http::Method::GET => None,
        None => {
            let flag = Arc::new(AtomicBool::new(false));
            *over = Some(flag.clone());
            let body = Capped {
                inner: req.take_body().into_async_read(),
                left: limit as u64,
                over: flag,
            };
            req.set_body(poem::Body::from_async_read(body));
            None
        }
    }
}

/// A body read that fails (and says so in `over`) once it passes `left` bytes.
struct Capped<R> {
    inner: R,
    left: u64,
    over: Arc<AtomicBool>,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Capped<R> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match std::pin::Pin::new(&mut this.inner).poll_read(cx, buf) {
            std::task::Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                if n > this.left {
                    this.over.store(true, Ordering::Relaxed);
                    return std::task::Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "request body over the limit",
                    )));
                }
                this.left -= n;
                std::task::Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// A JSON body declared with anything but `application/json` (optionally with
/// `charset=utf-8`): 415, before the body is read. (Bodies are UTF-8 JSON; another
/// charset or a look-alike type would be read differently by different parsers.)
fn strict_json_type(req: &Request) -> Option<Response> {
    let ct = req
        .headers()
        .get(poem::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    let lower = ct.to_ascii_lowercase();
    let mut parts = lower.split(';').map(str::trim);
    if parts.next()? != "application/json" {
        return None;
    }
    let params_ok = parts.all(|p| {
        p.split_once('=')
            .is_some_and(|(k, v)| k.trim() == "charset" && v.trim().trim_matches('"') == "utf-8")
    });
    if params_ok {
        return None;
    }
    let body = ErrorBody::new(
        "unsupported_content_type",
        format!("`{ct}` is not accepted; send `application/json` (optionally `; charset=utf-8`)"),
        None,
    );
    Some(
        Response::builder()
            .status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .content_type("application/json; charset=utf-8")
            .body(body.to_json_string()),
    )
}

async fn resolve_tenant(
    req: &mut Request,
    state: Option<&FrameState>,
    path: &str,
) -> std::result::Result<(), Response> {
    let Some(slug) = tenant_slug(path) else {
        return Ok(());
    };
    let Some(state) = state else {
        return Err(ApiError::internal().into_response());
    };
    match state.0.flocks.resolve(slug).await {
        Ok(flock) => {
            req.set_data(Tenant(flock));
            Ok(())
        }
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

/// A copy of a JSON request body (cheap: reference-counted), so a parse error can name
/// the field at fault.
async fn keep_json_body(req: &mut Request) -> Option<bytes::Bytes> {
    let json = req
        .content_type()
        .is_some_and(|c| c.starts_with("application/json"));
    if !json {
        return None;
    }
    let bytes = req.take_body().into_bytes().await.ok()?;
    req.set_body(bytes.clone());
    Some(bytes)
}

/// A path parameter that does not parse, named as in the spec (poem-openapi says
/// `param1`): 400 `invalid_parameter` with the parameter's name as the field.
fn path_error(e: &poem::Error, op: &str, state: Option<&FrameState>) -> Option<Response> {
    let p = e.downcast_ref::<ParsePathError>()?;
    let index: usize = p.name.strip_prefix("param")?.parse().ok()?;
    let name = state?.path_param(op, index)?;
    let message = format!("the path parameter `{name}` is not valid: {}", p.reason);
    let body = ErrorBody::new("invalid_parameter", message, Some(name));
    Some(
        Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .content_type("application/json; charset=utf-8")
            .body(body.to_json_string()),
    )
}

fn error_response_with_body(
    e: poem::Error,
    body: Option<&[u8]>,
    state: Option<&FrameState>,
) -> Response {
    if let (Some(p), Some(body), Some(state)) =
        (e.downcast_ref::<ParseRequestPayloadError>(), body, state)
    {
        let located = payload_error::type_name(&p.reason).and_then(|ty| {
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            payload_error::locate(state.schemas(), ty, &value)
        });
        if let Some((field, message)) = located {
            let body = ErrorBody::new("invalid_request", message, Some(&field));
            return Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .content_type("application/json; charset=utf-8")
                .body(body.to_json_string());
        }
    }
    error_response(e)
}

/// The error poem or poem-openapi raised, in the API's error shape.
fn error_response(e: poem::Error) -> Response {
    if e.is_from_response() {
        return e.into_response();
    }
    let status = e.status();
    let (code, message, field): (&str, String, Option<String>) =
        if let Some(p) = e.downcast_ref::<ParseRequestPayloadError>() {
            ("invalid_request", p.reason.clone(), field_of(&p.reason))
        } else if let Some(p) = e.downcast_ref::<ParseParamError>() {
            ("invalid_parameter", p.to_string(), Some(p.name.to_owned()))
        } else if let Some(p) = e.downcast_ref::<ParsePathError>() {
            ("invalid_parameter", p.to_string(), Some(p.name.to_owned()))
        } else if let Some(c) = e.downcast_ref::<ContentTypeError>() {
            ("unsupported_content_type", c.to_string(), None)
        } else if e.is::<AuthorizationError>() {
            (
                "unauthorized",
                "missing or invalid credentials".into(),
                None,
            )
        } else {
            match status {
                StatusCode::NOT_FOUND => ("not_found", "no such route".into(), None),
                StatusCode::METHOD_NOT_ALLOWED => (
                    "method_not_allowed",
                    "method not allowed on this route".into(),
                    None,
                ),
                StatusCode::PAYLOAD_TOO_LARGE => (
                    "payload_too_large",
                    "the request body is too large".into(),
                    None,
                ),
                s if s.is_client_error() => {
                    tracing::debug!(error = %e, "client error");
                    ("bad_request", "the request is not valid".into(), None)
                }
                _ => {
                    tracing::error!(error = %e, "unhandled error");
                    (
                        "internal_error",
                        "an unexpected error occurred".into(),
                        None,
                    )
                }
            }
        };
    let status = if status.is_server_error() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        status
    };
    let body = ErrorBody::new(code, message, field.as_deref());
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_json_string())
}

/// The field named in a payload parse error (`…field `email`…` or `… "email" …`).
fn field_of(reason: &str) -> Option<String> {
    for (open, close) in [('`', '`'), ('"', '"')] {
        if let Some(start) = reason.find(open) {
            let rest = &reason[start + 1..];
            if let Some(end) = rest.find(close) {
                let f = &rest[..end];
                if !f.is_empty()
                    && f.len() <= 64
                    && f.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    return Some(f.to_owned());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_slug_is_the_segment_after_api_v1() {
        assert_eq!(tenant_slug("/api/v1/acme/user"), Some("acme"));
        assert_eq!(tenant_slug("/api/v1/acme"), Some("acme"));
        assert_eq!(tenant_slug("/api/v1/"), None);
        assert_eq!(tenant_slug("/platform/v1/flocks"), None);
    }
}

#[cfg(test)]
mod upload_tests {
    use super::is_upload;
    use poem::http::Method;

    #[test]
    fn only_upload_routes_take_the_upload_limit() {
        assert!(is_upload(&Method::POST, "/api/v1/acme/user/files"));
        assert!(is_upload(
            &Method::POST,
            "/api/v1/acme/directory/users/u/files"
        ));
        assert!(is_upload(&Method::PUT, "/api/v1/acme/user/files/0190"));
        assert!(!is_upload(&Method::PUT, "/api/v1/acme/user/files/order"));
        assert!(!is_upload(&Method::POST, "/api/v1/files-co/user/auth"));
        assert!(!is_upload(&Method::POST, "/api/v1/files"));
        assert!(!is_upload(&Method::GET, "/api/v1/acme/user/files"));
        assert!(!is_upload(&Method::POST, "/platform/v1/flocks/files"));
    }
}
