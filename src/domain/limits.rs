//! Rate limits shared by every replica: fixed-window counters in the KV store (Redis in
//! production), keyed by the injected clock, and the password sign-in throttle.
//!
//! A counter lives at `lim:{flock}:{kind}:{key}:{window_index}` where `window_index` is
//! the injected clock's unix time divided by the window length. [`Limits::hit`] adds one
//! atomically and refuses (without counting) once the cap is reached, so parallel callers
//! on any number of replicas can never push a counter past its cap. Keys that hold
//! personal data (emails, phone numbers, IPs) are stored as a digest.
use crate::ids::FlockId;
use crate::infra::clock::Clock;
use crate::infra::kv::{Kv, KvError, Step};
use crate::infra::secret::digest_hex;
use std::time::Duration;

/// A refusal: retry after this many seconds; `code` is the API's stable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter {
    pub secs: u64,
    pub code: &'static str,
}

/// One fixed-window limit: at most `cap` hits per `window_secs`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub kind: &'static str,
    pub cap: u32,
    pub window_secs: u64,
    /// Error code when refused.
    pub code: &'static str,
}

/// A counted hit, for [`Limits::undo`] (e.g. an SMS that could not be sent).
#[derive(Debug, Clone)]
pub struct Hit {
    key: String,
}

#[derive(Clone)]
pub struct Limits {
    kv: Kv,
    clock: Clock,
}

/// A short digest of a personal value used in a key.
pub fn key_digest(v: &str) -> String {
    digest_hex(v).chars().take(32).collect()
}

/// The rate-limit key of a client IP: the address for IPv4, its /64 network for IPv6
/// (one subscriber usually holds a whole /64, so per-address keys would be free to dodge).
pub fn ip_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or_else(|| ip.to_owned(), |v4| v4.to_string()),
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

impl Hit {
    /// The step that gives this hit back (for [`Kv::apply`] with other steps).
    pub fn undo(&self) -> Step {
        Step::IncrCapped {
            key: self.key.clone(),
            also: None,
            by: -1,
            cap: i64::MAX,
            ttl: Duration::from_secs(60),
        }
    }
}

impl Limits {
    pub fn new(kv: Kv, clock: Clock) -> Self {
        Self { kv, clock }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    fn window(&self, limit: &Limit) -> (u64, u64) {
        let now = self.clock.unix().max(0) as u64;
        let w = limit.window_secs.max(1);
        let index = now / w;
        let retry = (index + 1) * w - now;
        (index, retry.max(1))
    }

    fn key(&self, flock: FlockId, limit: &Limit, key: &str, index: u64) -> String {
        format!("lim:{flock}:{}:{}:{index}", limit.kind, key_digest(key))
    }

    /// Counts one hit; refuses (and counts nothing) when the current and the previous
    /// window together already hold `cap`. Summing two fixed windows makes the cap a
    /// sliding bound: no interval of `window_secs` ever holds more than `cap` hits (a
    /// single fixed window would allow 2 × cap across its boundary). The price: an
    /// abuser who spends the cap in one window gets nothing in the next.
    pub async fn hit(
        &self,
        flock: FlockId,
        limit: &Limit,
        key: &str,
    ) -> Result<Result<Hit, RetryAfter>, KvError> {
        let (step, hit, refusal) = self.step(flock, limit, key);
        Ok(match self.kv.apply(vec![step]).await? {
            None => Ok(hit),
            Some(_) => Err(refusal),
        })
    }

    /// How many hits the current fixed window holds.
    pub async fn count(&self, flock: FlockId, limit: &Limit, key: &str) -> Result<u32, KvError> {
        let (index, _) = self.window(limit);
        let raw = self.kv.get(&self.key(flock, limit, key, index)).await?;
        Ok(raw
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(0))
    }

    /// Gives a hit back (the thing it paid for did not happen).
    pub async fn undo(&self, hit: &Hit) -> Result<(), KvError> {
        self.kv.apply(vec![hit.undo()]).await.map(|_| ())
    }

    /// The step that counts one hit of `limit` (refused when the cap is reached), and the
    /// hit to give back, for [`Kv::apply`] with other steps.
    pub fn step(&self, flock: FlockId, limit: &Limit, key: &str) -> (Step, Hit, RetryAfter) {
        let (index, retry) = self.window(limit);
        let k = self.key(flock, limit, key, index);
        let prev = self.key(flock, limit, key, index.saturating_sub(1));
        // GC TTL on the real clock: this window and the next (where it is "previous").
        let ttl = Duration::from_secs(limit.window_secs.saturating_mul(2).saturating_add(60));
        let step = Step::IncrCapped {
            key: k.clone(),
            also: Some(prev),
            by: 1,
            cap: i64::from(limit.cap),
            ttl,
        };
        let refusal = RetryAfter {
            secs: retry,
            code: limit.code,
        };
        (step, Hit { key: k }, refusal)
    }

    /// Hits every limit at once (one atomic KV call): all counted, or none and the first
    /// refusal.
    pub async fn hit_all(
        &self,
        flock: FlockId,
        limits: &[(Limit, &str)],
    ) -> Result<Result<Vec<Hit>, RetryAfter>, KvError> {
        let (steps, hits, refusals) = self.steps(flock, limits);
        Ok(match self.kv.apply(steps).await? {
            None => Ok(hits),
            Some(i) => Err(refusals.into_iter().nth(i).unwrap_or(RetryAfter {
                secs: 1,
                code: "rate_limited",
            })),
        })
    }

    /// The steps of [`Self::hit_all`], for callers that add steps of their own.
    pub fn steps(
        &self,
        flock: FlockId,
        limits: &[(Limit, &str)],
    ) -> (Vec<Step>, Vec<Hit>, Vec<RetryAfter>) {
        let mut out = (Vec::new(), Vec::new(), Vec::new());
        for (limit, key) in limits {
            let (s, h, r) = self.step(flock, limit, key);
            out.0.push(s);
            out.1.push(h);
            out.2.push(r);
        }
        out
    }
}

/// Defaults of the password sign-in throttle (docs/SECURITY.md "failed password logins").
#[derive(Debug, Clone, Copy)]
pub struct LoginThrottleConfig {
    /// Consecutive failures per account before the growing delay starts.
    pub free_failures: u32,
    /// Failures per account per hour, whatever the delay.
    pub account_per_hour: u32,
    /// Failed attempts per client IP per hour.
    pub ip_per_hour: u32,
    /// Failed attempts per flock per hour.
    pub flock_per_hour: u32,
    /// Longest delay between attempts once throttled (seconds).
    pub max_delay_secs: u64,
}

impl Default for LoginThrottleConfig {
    fn default() -> Self {
        Self {
            free_failures: 10,
            account_per_hour: 100,
            ip_per_hour: 1000,
            flock_per_hour: 100_000,
            max_delay_secs: 900,
        }
    }
}

/// The password sign-in throttle. Use:
///
/// ```ignore
/// let attempt = throttle.begin(flock_id, &normalised_email, ip).await?; // Err(RetryAfter) → 429
/// match /* verify the password */ {
///     Ok(ok) => throttle.finish(attempt, ok).await?,      // checked: record the outcome
///     Err(_) => throttle.cancel(attempt).await?,          // never checked (busy): give back
/// }
/// ```
///
/// `begin` reserves the attempt in every counter before the password is checked, so 200
/// parallel attempts are counted as 200 (never more than the caps evaluate); `finish`
/// gives the reservations back on success and clears the account's consecutive count.
/// Per account: 10 consecutive failures free, then one attempt per growing delay (2, 4,
/// 8 … s, at most 15 min: a throttle, never a lock an attacker could make permanent),
/// and never more than 100 failures per hour; per IP and per flock hourly caps too.
#[derive(Clone)]
pub struct LoginThrottle {
    limits: Limits,
    cfg: LoginThrottleConfig,
}

/// How long a sign-in waits for other attempts of the same account still in flight
/// before it answers `server_busy`.
pub const LOGIN_WAIT: Duration = Duration::from_secs(5);

/// What one try of [`LoginThrottle::begin`] found.
enum Try {
    Admitted(LoginAttempt),
    Refused(RetryAfter),
    Wait,
}

/// A reserved sign-in attempt; hand it back to [`LoginThrottle::finish`].
#[derive(Debug)]
pub struct LoginAttempt {
    flock: FlockId,
    account: String,
    hits: Vec<Hit>,
}

impl LoginThrottle {
    pub fn new(limits: Limits, cfg: LoginThrottleConfig) -> Self {
        Self { limits, cfg }
    }

    fn consecutive_key(flock: FlockId, account: &str) -> String {
        format!("lim:{flock}:login_consecutive:{}", key_digest(account))
    }

    fn inflight_key(flock: FlockId, account: &str) -> String {
        format!("lim:{flock}:login_inflight:{}", key_digest(account))
    }

    fn until_key(flock: FlockId, account: &str) -> String {
        format!("lim:{flock}:login_until:{}", key_digest(account))
    }

    fn caps(&self) -> [Limit; 3] {
        [
            Limit {
                kind: "login_account_h",
                cap: self.cfg.account_per_hour,
                window_secs: 3600,
                code: "rate_limited",
            },
            Limit {
                kind: "login_ip_h",
                cap: self.cfg.ip_per_hour,
                window_secs: 3600,
                code: "rate_limited",
            },
            // A flood on the whole flock is no sign that this caller guesses: to them
            // the server is busy (503), never 429 for a password that may be right.
            Limit {
                kind: "login_flock_h",
                cap: self.cfg.flock_per_hour,
                window_secs: 3600,
                code: "server_busy",
            },
        ]
    }

    /// Reserves one attempt for `account` (the normalised identifier, known or not).
    ///
    /// The account's free slots count failures *and* attempts in flight, so parallel
    /// guesses never evaluate more than the free failures. An attempt that finds the
    /// slots taken while others are still in flight waits for them (a correct password
    /// gives its slot back), up to [`LOGIN_WAIT`]; then it answers `server_busy`. Only
    /// slots taken by finished failures lead to the growing delay (429).
    pub async fn begin(
        &self,
        flock: FlockId,
        account: &str,
        ip: Option<&str>,
    ) -> Result<Result<LoginAttempt, RetryAfter>, KvError> {
        let deadline = tokio::time::Instant::now() + LOGIN_WAIT;
        loop {
            match self.try_begin(flock, account, ip).await? {
                Try::Admitted(a) => return Ok(Ok(a)),
                Try::Refused(r) => return Ok(Err(r)),
                Try::Wait if tokio::time::Instant::now() >= deadline => {
                    return Ok(Err(RetryAfter {
                        secs: 1,
                        code: "server_busy",
                    }))
                }
                Try::Wait => {
                    let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0..20u64);
                    tokio::time::sleep(Duration::from_millis(10 + jitter)).await;
                }
            }
        }
    }

    async fn try_begin(
        &self,
        flock: FlockId,
        account: &str,
        ip: Option<&str>,
    ) -> Result<Try, KvError> {
        let kv = self.limits.kv();
        let now_ms = self.limits.clock().now().timestamp_millis();
        let until_key = Self::until_key(flock, account);
        let until = kv.get(&until_key).await?;
        if let Some(ms) = until
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|s| s.parse::<i64>().ok())
        {
            if ms > now_ms {
                return Ok(Try::Refused(RetryAfter {
                    secs: ((ms - now_ms + 999) / 1000).max(1) as u64,
                    code: "rate_limited",
                }));
            }
        }
        let [account_cap, ip_cap, flock_cap] = self.caps();
        let ip = ip_key(ip.unwrap_or("unknown"));
        let limits = [
            (account_cap, account),
            (ip_cap, ip.as_str()),
            (flock_cap, "all"),
        ];
        let ckey = Self::consecutive_key(flock, account);
        let inflight_key = Self::inflight_key(flock, account);
        let day = Duration::from_secs(86_400);
        // Free slots first: the hourly caps, a slot of the free failures and the
        // in-flight mark, all or none.
        let (mut steps, hits, refusals) = self.limits.steps(flock, &limits);
        steps.push(Step::IncrCapped {
            key: ckey.clone(),
            also: None,
            by: 1,
            cap: i64::from(self.cfg.free_failures),
            ttl: day,
        });
        steps.push(Self::inflight_step(&inflight_key, 1));
        let refused = match kv.apply(steps).await? {
            None => {
                return Ok(Try::Admitted(LoginAttempt {
                    flock,
                    account: account.to_owned(),
                    hits,
                }))
            }
            Some(i) => i,
        };
        // Refused while attempts of this account are in flight: they may succeed and give
        // their slots back, so wait for them instead of counting them as failures.
        let in_flight = kv
            .get(&inflight_key)
            .await?
            .as_deref()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|s| s.parse::<i64>().ok())
            .is_some_and(|n| n > 0);
        if in_flight {
            return Ok(Try::Wait);
        }
        if let Some(r) = refusals.into_iter().nth(refused) {
            return Ok(Try::Refused(r));
        }
        // The free failures are spent (and none in flight): one attempt per delay, won by
        // compare-and-swap so parallel attempts cannot share one slot.
        let hits = match self.limits.hit_all(flock, &limits).await? {
            Ok(h) => h,
            Err(r) => return Ok(Try::Refused(r)),
        };
        let n = kv.incr(&ckey, 1, day).await?;
        let exp = (n - i64::from(self.cfg.free_failures)).clamp(1, 20) as u32;
        let delay = 2u64.saturating_pow(exp).min(self.cfg.max_delay_secs);
        let next = now_ms + (delay as i64) * 1000;
        let won = kv
            .cas(
                &until_key,
                until.as_deref(),
                Some(next.to_string().as_bytes()),
                day,
            )
            .await?;
        if !won {
            let mut steps = vec![Self::counter_step(&ckey, -1, day)];
            steps.extend(hits.iter().map(Hit::undo));
            kv.apply(steps).await?;
            return Ok(Try::Refused(RetryAfter {
                secs: delay.max(1),
                code: "rate_limited",
            }));
        }
        kv.apply(vec![Self::inflight_step(&inflight_key, 1)])
            .await?;
        Ok(Try::Admitted(LoginAttempt {
            flock,
            account: account.to_owned(),
            hits,
        }))
    }

    /// Moves the account's in-flight count by `by` (kept a minute at most: a crashed
    /// request's mark only makes others wait, never lets a guess through).
    fn inflight_step(key: &str, by: i64) -> Step {
        Self::counter_step(key, by, Duration::from_secs(60))
    }

    /// Moves a counter by `by`, whatever its value.
    fn counter_step(key: &str, by: i64, ttl: Duration) -> Step {
        Step::IncrCapped {
            key: key.to_owned(),
            also: None,
            by,
            cap: i64::MAX,
            ttl,
        }
    }

    /// The password was never checked (e.g. the hash pool was busy): gives the attempt
    /// back as if it had not been made.
    pub async fn cancel(&self, attempt: LoginAttempt) -> Result<(), KvError> {
        let mut steps = vec![Self::counter_step(
            &Self::consecutive_key(attempt.flock, &attempt.account),
            -1,
            Duration::from_secs(86_400),
        )];
        steps.extend(attempt.hits.iter().map(Hit::undo));
        steps.push(Self::inflight_step(
            &Self::inflight_key(attempt.flock, &attempt.account),
            -1,
        ));
        self.limits.kv().apply(steps).await.map(|_| ())
    }

    /// Forgets the consecutive failures of `account` (the owner proved control another
    /// way, e.g. a password reset by mail), so the delay ends at once.
    pub async fn clear(&self, flock: FlockId, account: &str) -> Result<(), KvError> {
        self.limits
            .kv()
            .apply(Self::forget(flock, account))
            .await
            .map(|_| ())
    }

    fn forget(flock: FlockId, account: &str) -> Vec<Step> {
        vec![
            Step::Del {
                key: Self::consecutive_key(flock, account),
            },
            Step::Del {
                key: Self::until_key(flock, account),
            },
        ]
    }

    /// The throttle's key for a password sign-in identifier.
    pub fn account_key(kind: &str, identifier: &str) -> String {
        format!("{kind}:{}", identifier.trim().to_lowercase())
    }

    /// Records the outcome: a success clears the consecutive count and gives the
    /// reservations back; a failure keeps them.
    pub async fn finish(&self, attempt: LoginAttempt, ok: bool) -> Result<(), KvError> {
        let done = Self::inflight_step(&Self::inflight_key(attempt.flock, &attempt.account), -1);
        if !ok {
            return self.limits.kv().apply(vec![done]).await.map(|_| ());
        }
        // One atomic step: the consecutive count and the delay forgotten, the
        // reservations given back, the attempt no longer in flight.
        let mut steps = Self::forget(attempt.flock, &attempt.account);
        steps.extend(attempt.hits.iter().map(Hit::undo));
        steps.push(done);
        self.limits.kv().apply(steps).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::ip_key;

    #[test]
    fn ipv6_clients_are_limited_per_64_and_ipv4_per_address() {
        assert_eq!(ip_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(
            ip_key("2001:db8:1:2:aaaa::1"),
            ip_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(ip_key("2001:db8:1:2::1"), ip_key("2001:db8:1:3::1"));
        assert_eq!(ip_key("::ffff:203.0.113.7"), "203.0.113.7");
    }
}
