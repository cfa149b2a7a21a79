//! The client's IP: the socket peer, or — only when that peer is a configured trusted
//! proxy — the nearest untrusted address in `X-Forwarded-For`. Spoofed headers from
//! anyone else change nothing (not identity, not rate-limit keys).
use super::error::ApiError;
use poem::{FromRequest, Request, RequestBody, Result};
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
