//! Outbound HTTP to identity providers (discovery, keys, token and userinfo endpoints).
//!
//! Flock administrators choose provider URLs, so every request is guarded against
//! server-side request forgery: https only, no redirects followed, a short timeout, a
//! capped answer size, and every address a name resolves to (checked at connection time,
//! so DNS rebinding gains nothing) must be a public one — not loopback, private,
//! link-local (cloud metadata), shared, multicast or unspecified. A deployment that
//! runs its own provider inside its network (and the test suite) sets
//! `federation.allow_private_networks`, which also allows plain http.
//!
//! `federation.rewrite` maps URL prefixes to others (an egress proxy, or the local
//! stand-ins the tests run for Google and Apple); the issuer a token must carry is never
//! rewritten.
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Largest provider answer read (discovery documents and key sets are a few KiB).
const MAX_BODY: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The URL is not one Fold may call (scheme, host, a private address).
    #[error("{0}")]
    Refused(String),
    /// The provider could not be reached or answered garbage.
    #[error("{0}")]
    Failed(String),
}

#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_private: bool,
    rewrite: Arc<BTreeMap<String, String>>,
}

/// A response: status, the `Cache-Control: max-age` and `Retry-After` (seconds) if any,
/// and the body.
pub struct Answer {
    pub status: u16,
    pub max_age: Option<Duration>,
    pub retry_after: Option<Duration>,
    pub body: bytes::Bytes,
}

impl Answer {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, OutboundError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| OutboundError::Failed(format!("provider answered invalid JSON: {e}")))
    }
}

struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| allow || is_public(a.ip()))
                .collect();
            if ok.is_empty() {
                return Err("the provider's address is not one Fold may call".into());
            }
            let it: Addrs = Box::new(ok.into_iter());
            Ok(it)
        })
    }
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // Only global unicast (2000::/3) counts, less the ranges that embed or reach
            // other networks: 6to4, Teredo, documentation, NAT64 (under 64:ff9b::/16).
            (s[0] & 0xe000) == 0x2000
                && s[0] != 0x2002
                && !(s[0] == 0x2001 && (s[1] == 0 || s[1] == 0xdb8))
        }
    }
}

impl Outbound {
    pub fn new(
        allow_private: bool,
        timeout: Duration,
        rewrite: BTreeMap<String, String>,
    ) -> Result<Self, OutboundError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            // A proxy from the environment would resolve the target itself, past the guard.
            .no_proxy()
            .user_agent("fold")
            .build()
            .map_err(|e| OutboundError::Failed(e.to_string()))?;
        Ok(Self {
            client,
            allow_private,
            rewrite: Arc::new(rewrite),
        })
    }

    /// `url` after the deployment's rewrites (what Fold and browsers are sent to).
    pub fn effective(&self, url: &str) -> String {
        for (from, to) in self.rewrite.iter() {
            let from = from.trim_end_matches('/');
            if let Some(rest) = url.strip_prefix(from) {
                // Whole origins or path segments only: `https://a.com` is not `https://a.com.evil`.
                if rest.is_empty() || rest.starts_with(['/', '?']) {
                    return format!("{}{rest}", to.trim_end_matches('/'));
                }
            }
        }
        url.to_owned()
    }

    /// Refuses a URL Fold may not call (after rewriting): scheme, credentials in it, an
    /// IP literal that is not public.
    pub fn check(&self, url: &str) -> Result<url::Url, OutboundError> {
        let u = url::Url::parse(&self.effective(url))
            .map_err(|_| OutboundError::Refused("not an absolute URL".into()))?;
        let scheme_ok = u.scheme() == "https" || (self.allow_private && u.scheme() == "http");
        if !scheme_ok {
            return Err(OutboundError::Refused(
                "provider URLs must use https".into(),
            ));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(OutboundError::Refused(
                "provider URLs may not carry credentials".into(),
            ));
        }
        match u.host() {
            None => return Err(OutboundError::Refused("the URL has no host".into())),
            Some(url::Host::Ipv4(ip)) if !self.allow_private && !is_public(ip.into()) => {
                return Err(OutboundError::Refused("a private address".into()))
            }
            Some(url::Host::Ipv6(ip)) if !self.allow_private && !is_public(ip.into()) => {
                return Err(OutboundError::Refused("a private address".into()))
            }
            Some(url::Host::Domain(d))
                if !self.allow_private && d.eq_ignore_ascii_case("localhost") =>
            {
                return Err(OutboundError::Refused("a private address".into()))
            }
            _ => {}
        }
        Ok(u)
    }

    pub async fn get(&self, url: &str, bearer: Option<&str>) -> Result<Answer, OutboundError> {
        let u = self.check(url)?;
        let mut req = self.client.get(u).header("Accept", "application/json");
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    /// A form POST (token endpoints); `basic` is HTTP Basic client authentication.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Answer, OutboundError> {
        let u = self.check(url)?;
        let mut req = self
            .client
            .post(u)
            .header("Accept", "application/json")
            .form(form);
        if let Some((user, pass)) = basic {
            req = req.basic_auth(enc(user), Some(enc(pass)));
        }
        self.send(req).await
    }

    /// A JSON POST whose answer matters by its status and headers only (webhook
    /// deliveries: a large or slow body after a 2xx is still a success).
    pub async fn post_status(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, OutboundError> {
        let u = self.check(url)?;
        let mut req = self
            .client
            .post(u)
            .header("Content-Type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.map_err(|e| {
            OutboundError::Failed(format!("unreachable: {}", chain(&e.without_url())))
        })?;
        let retry_after = retry_after(resp.headers());
        Ok(Answer {
            status: resp.status().as_u16(),
            max_age: None,
            retry_after,
            body: bytes::Bytes::new(),
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Answer, OutboundError> {
        // The error's text names the URL and the cause, never the body sent (secrets).
        let mut resp = req.send().await.map_err(|e| {
            OutboundError::Failed(format!("unreachable: {}", chain(&e.without_url())))
        })?;
        let status = resp.status().as_u16();
        let max_age = resp
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let retry_after = retry_after(resp.headers());
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| {
            OutboundError::Failed(format!("provider answer cut: {}", e.without_url()))
        })? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(OutboundError::Failed("provider answer too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            max_age,
            retry_after,
            body: body.into(),
        })
    }
}

/// An error and its causes, `: `-joined (reqwest's own text is only "error sending
/// request"; the cause says why: refused, a private address, a timeout).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

/// RFC 6749 §2.3.1: client id and secret are form-encoded before Basic authentication.
fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `Retry-After` in seconds (the HTTP-date form is not read).
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// `max-age` of a `Cache-Control` value (`no-store`/`no-cache` count as 0).
fn max_age(v: &str) -> Option<Duration> {
    let mut age = None;
    for part in v.split(',').map(str::trim) {
        let lower = part.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(n) = lower.strip_prefix("max-age=") {
            age = n
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age_is_read() {
        assert_eq!(
            max_age("public, max-age=21600, must-revalidate"),
            Some(Duration::from_secs(21600))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connection_time() {
        let strict = GuardedResolver {
            allow_private: false,
        };
        let name: Name = "localhost"
            .parse()
            .map_err(|_| "name")
            .unwrap_or_else(|_| unreachable!());
        assert!(strict.resolve(name).await.is_err());
        let open = GuardedResolver {
            allow_private: true,
        };
        let name: Name = "localhost"
            .parse()
            .map_err(|_| "name")
            .unwrap_or_else(|_| unreachable!());
        assert!(open.resolve(name).await.is_ok());
    }

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "192.168.0.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "2001::1",
            "fec0::1",
            "100::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::from([127, 0, 0, 1]));
            assert!(!is_public(ip), "{ip}");
        }
        assert!(is_public(IpAddr::from([142, 250, 1, 1])));
        let google_v6: IpAddr = "2a00:1450:4007:80e::200e"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        assert!(is_public(google_v6));
    }
}
