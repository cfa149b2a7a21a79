//! `ProviderKeys`: providers' discovery documents and key sets (JWKS), shared by every
//! flock (keyed by URL). A set is kept for its HTTP cache lifetime (`Cache-Control:
//! max-age`, held between a minute and a day; `federation.jwks_default_ttl_secs` when the
//! provider gives none) on the injected clock, so a request never fetches keys itself
//! unless the cache is cold or stale. A token signed with a key id the set lacks refetches
//! the set, at most once per `federation.jwks_refetch_secs` per URL (the first rotation is
//! seen at once; a flood of made-up key ids costs one fetch a minute). One fetch at a time
//! per URL. When a fetch fails the provider is not asked again for that long, and the keys
//! (and discovery documents) already held keep serving up to a day past their lifetime.
use super::FederationError;
use crate::infra::clock::Clock;
use crate::infra::outbound::Outbound;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The parts of an OpenID Connect discovery document Fold uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
}

struct KeySet {
    keys: Vec<Jwk>,
    /// When an unknown key id last made Fold fetch the set (None: never).
    forced_at: Option<DateTime<Utc>>,
    /// When a fetch last failed (the provider is not asked again before `refetch`).
    failed_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
}

/// How long past their lifetime keys (and discovery documents) serve while the provider
/// cannot be reached.
fn stale_limit() -> Duration {
    Duration::days(1)
}

struct Inner {
    outbound: Outbound,
    clock: Clock,
    refetch: Duration,
    default_ttl: Duration,
    sets: Mutex<HashMap<String, KeySet>>,
    docs: Mutex<HashMap<String, (Discovery, DateTime<Utc>)>>,
    /// One fetch at a time per URL (a slow provider holds up only its own sign-ins).
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Clone)]
pub struct ProviderKeys {
    inner: Arc<Inner>,
}

fn lifetime(max_age: Option<std::time::Duration>, default: Duration) -> Duration {
    let d = max_age
        .and_then(|a| Duration::from_std(a).ok())
        .unwrap_or(default);
    d.clamp(Duration::seconds(60), Duration::days(1))
}

fn find<'a>(keys: &'a [Jwk], kid: Option<&str>) -> Option<&'a Jwk> {
    match kid {
        Some(k) => keys.iter().find(|j| j.common.key_id.as_deref() == Some(k)),
        // No key id: only a set of exactly one key says which key it is.
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
}

impl ProviderKeys {
    pub fn new(outbound: Outbound, clock: Clock, refetch_secs: u64, default_ttl_secs: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                outbound,
                clock,
                refetch: Duration::seconds(refetch_secs as i64),
                default_ttl: Duration::seconds(default_ttl_secs as i64),
                sets: Mutex::new(HashMap::new()),
                docs: Mutex::new(HashMap::new()),
                fetching: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// What the cache says: the key, "fetch", "unknown key (refetched too recently)", or
    /// "down" (the last fetch failed moments ago and no usable key is held).
    fn cached(&self, url: &str, kid: Option<&str>) -> Lookup {
        let now = self.inner.clock.now();
        let sets = self.inner.sets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(s) = sets.get(url) else {
            return Lookup::Fetch;
        };
        let backing_off = s.failed_at.is_some_and(|f| now - f < self.inner.refetch);
        if backing_off {
            return match find(&s.keys, kid) {
                Some(k) if now < s.expires_at + stale_limit() => Lookup::Hit(Box::new(k.clone())),
                _ => Lookup::Down,
            };
        }
        if now >= s.expires_at {
            return Lookup::Fetch;
        }
        match find(&s.keys, kid) {
            Some(k) => Lookup::Hit(Box::new(k.clone())),
            None if s.forced_at.is_none_or(|f| now - f >= self.inner.refetch) => Lookup::Fetch,
            None => Lookup::Unknown,
        }
    }

    fn lookup(&self, url: &str, kid: Option<&str>) -> Option<Result<Jwk, FederationError>> {
        match self.cached(url, kid) {
            Lookup::Hit(k) => Some(Ok(*k)),
            Lookup::Unknown => Some(Err(unknown_key())),
            Lookup::Down => Some(Err(FederationError::ProviderDown(
                "the provider's keys cannot be fetched".into(),
            ))),
            Lookup::Fetch => None,
        }
    }

    /// The key `kid` of the set at `url`.
    pub async fn key(&self, url: &str, kid: Option<&str>) -> Result<Jwk, FederationError> {
        if let Some(r) = self.lookup(url, kid) {
            return r;
        }
        let lock = {
            let mut m = self
                .inner
                .fetching
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            m.entry(url.to_owned()).or_default().clone()
        };
        let _turn = lock.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(r) = self.lookup(url, kid) {
            return r;
        }
        let fetched = self.fetch_set(url).await;
        let now = self.inner.clock.now();
        let mut sets = self.inner.sets.lock().unwrap_or_else(|p| p.into_inner());
        // Fetched for a key id the fresh set lacked: that counts against the rate limit.
        let forced = sets.get(url).filter(|s| now < s.expires_at).map(|_| now);
        match fetched {
            Ok((keys, ttl)) => {
                let found = find(&keys, kid).cloned();
                let forced_at = forced.or_else(|| sets.get(url).and_then(|s| s.forced_at));
                sets.insert(
                    url.to_owned(),
                    KeySet {
                        keys,
                        forced_at,
                        failed_at: None,
                        expires_at: now + ttl,
                    },
                );
                found.ok_or_else(unknown_key)
            }
            Err(e) => {
                let set = sets.entry(url.to_owned()).or_insert(KeySet {
                    keys: Vec::new(),
                    forced_at: None,
                    failed_at: None,
                    expires_at: now,
                });
                set.failed_at = Some(now);
                match find(&set.keys, kid) {
                    Some(k) if now < set.expires_at + stale_limit() => Ok(k.clone()),
                    _ => Err(e),
                }
            }
        }
    }

    async fn fetch_set(&self, url: &str) -> Result<(Vec<Jwk>, Duration), FederationError> {
        let a = self.inner.outbound.get(url, None).await?;
        if a.status != 200 {
            return Err(FederationError::ProviderDown(format!(
                "key set answered {}",
                a.status
            )));
        }
        let doc: serde_json::Value = a.json()?;
        let Some(list) = doc.get("keys").and_then(|k| k.as_array()) else {
            return Err(FederationError::ProviderDown("key set without keys".into()));
        };
        // Keys Fold cannot use (unknown types, symmetric keys) are skipped, not fatal.
        let keys: Vec<Jwk> = list
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .filter(|k| {
                !matches!(
                    k.algorithm,
                    jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
                        | jsonwebtoken::jwk::AlgorithmParameters::Other(_)
                )
            })
            .collect();
        Ok((keys, lifetime(a.max_age, self.inner.default_ttl)))
    }

    /// The discovery document of `issuer`, which must name exactly that issuer.
    pub async fn discover(&self, issuer: &str) -> Result<Discovery, FederationError> {
        let now = self.inner.clock.now();
        {
            let docs = self.inner.docs.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((d, until)) = docs.get(issuer) {
                if now < *until {
                    return Ok(d.clone());
                }
            }
        }
        match self.fetch_discovery(issuer).await {
            Ok(d) => Ok(d),
            // The provider is down: a document held less than a day past its lifetime
            // keeps serving (not asked again before `refetch`).
            Err(FederationError::ProviderDown(m)) => {
                let mut docs = self.inner.docs.lock().unwrap_or_else(|p| p.into_inner());
                match docs.get_mut(issuer) {
                    Some((d, until)) if now < *until + stale_limit() => {
                        *until = now + self.inner.refetch;
                        Ok(d.clone())
                    }
                    _ => Err(FederationError::ProviderDown(m)),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn fetch_discovery(&self, issuer: &str) -> Result<Discovery, FederationError> {
        let now = self.inner.clock.now();
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let a = self.inner.outbound.get(&url, None).await?;
        if a.status != 200 {
            return Err(FederationError::ProviderDown(format!(
                "discovery answered {}",
                a.status
            )));
        }
        let d: Discovery = a.json()?;
        if d.issuer != issuer {
            return Err(FederationError::Rejected(
                "issuer_mismatch",
                format!(
                    "the discovery document names issuer {:?}, not {issuer:?}",
                    d.issuer
                ),
            ));
        }
        for u in [&d.authorization_endpoint, &d.token_endpoint, &d.jwks_uri] {
            self.inner.outbound.check(u)?;
        }
        if let Some(u) = &d.userinfo_endpoint {
            self.inner.outbound.check(u)?;
        }
        let ttl = lifetime(a.max_age, self.inner.default_ttl);
        let mut docs = self.inner.docs.lock().unwrap_or_else(|p| p.into_inner());
        docs.insert(issuer.to_owned(), (d.clone(), now + ttl));
        Ok(d)
    }
}

enum Lookup {
    Hit(Box<Jwk>),
    Fetch,
    Unknown,
    Down,
}

fn unknown_key() -> FederationError {
    FederationError::Rejected(
        "unknown_signing_key",
        "the token is signed with a key the provider does not publish".into(),
    )
}
