//! Who is calling: the client's IP — the socket peer, or, only when that peer is a
//! configured trusted proxy, the nearest untrusted address in `X-Forwarded-For` (spoofed
//! headers from anyone else change nothing: not identity, not rate-limit keys) — and, for
//! the operations that open sessions, its user agent ([`Client`]).
use super::error::ApiError;
use crate::domain::sessions::SessionMeta;
use poem::{FromRequest, Request, RequestBody, Result};
use poem_openapi::registry::{MetaParamIn, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<'a> FromRequest<'a> for ClientIp {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> Result<Self> {
        req.data::<ClientIp>()
            .copied()
            .ok_or_else(|| ApiError::internal().into())
    }
}

/// The client of a sign-in: its IP and the optional `User-Agent` header parameter (name
/// the argument `#[oai(name = "User-Agent")]`). Both are kept with the session opened.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

impl Client {
    /// Where a session is opened from; the user agent is cut to 256 characters.
    pub fn meta(self, source: Option<String>) -> SessionMeta {
        SessionMeta {
            ip: Some(self.ip.to_string()),
            user_agent: self.user_agent.map(|u| u.chars().take(256).collect()),
            source,
        }
    }
}

impl<'a> ApiExtractor<'a> for Client {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::Parameter];
    const PARAM_IS_REQUIRED: bool = false;
    type ParamType = String;
    type ParamRawType = String;

    fn register(registry: &mut Registry) {
        <String as Type>::register(registry);
    }

    fn param_in() -> Option<MetaParamIn> {
        Some(MetaParamIn::Header)
    }

    fn param_schema_ref() -> Option<MetaSchemaRef> {
        Some(String::schema_ref())
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        opts: ExtractParamOptions<String>,
    ) -> Result<Self> {
        let ClientIp(ip) = <ClientIp as FromRequest>::from_request(req, body).await?;
        let user_agent = req
            .headers()
            .get(opts.name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self { ip, user_agent })
    }
}

/// Computes the client IP of `req` given the trusted proxies.
pub fn resolve(req: &Request, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req
        .remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_canonical())?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    // Walk the chain from the right: the first hop that is not a trusted proxy is the client.
    let chain: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    Some(
        chain
            .iter()
            .rev()
            .map(|ip| ip.to_canonical())
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}
