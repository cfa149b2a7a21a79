//! Short-lived state (sessions, codes, counters): Redis in production, an embedded
//! on-disk store by default. A closed enum: both backends give the same atomic
//! operations, so domain code never knows which one it runs on.
//!
//! Expiry here is garbage collection on the real clock. Domain rules that depend on time
//! (a code older than 5 minutes, a session past its idle limit) store their own
//! deadlines and check them against the injected clock.
mod embedded;
mod redis_kv;

pub use embedded::EmbeddedKv;
pub use redis_kv::RedisKv;

use crate::infra::counts::{kv_op as count, KvOp};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The store cannot be reached or failed; callers answer 503.
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
}

pub type KvResult<T> = Result<T, KvError>;

/// One step of [`Kv::apply`].
#[derive(Debug, Clone)]
pub enum Step {
    /// As [`Kv::incr_capped`]: refused when the counter (plus `also`) would pass `cap`.
    IncrCapped {
        key: String,
        also: Option<String>,
        by: i64,
        cap: i64,
        ttl: Duration,
    },
    /// As [`Kv::cas`]: refused unless the current value is `expected`.
    Cas {
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
        ttl: Duration,
    },
    /// As [`Kv::set`]: never refused.
    Set {
        key: String,
        value: Vec<u8>,
        ttl: Duration,
    },
    /// As [`Kv::del`]: never refused.
    Del { key: String },
    /// As [`Kv::sadd`]: never refused.
    Sadd {
        key: String,
        member: String,
        ttl: Duration,
    },
}

#[derive(Clone)]
pub enum Kv {
    Redis(RedisKv),
    Embedded(EmbeddedKv),
}

macro_rules! dispatch {
    ($self:ident, $kv:ident => $e:expr) => {
        match $self {
            Kv::Redis($kv) => {
                $kv.admit()?;
                $e
            }
            Kv::Embedded($kv) => $e,
        }
    };
}

impl Kv {
    pub fn backend_name(&self) -> &'static str {
        match self {
            Kv::Redis(_) => "redis",
            Kv::Embedded(_) => "embedded",
        }
    }

    pub async fn ping(&self) -> KvResult<()> {
        dispatch!(self, kv => kv.ping().await)
    }

    pub async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        count(KvOp::Get);
        dispatch!(self, kv => kv.get(key).await)
    }

    /// Set `key` to `value`, expiring after `ttl`.
    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> KvResult<()> {
        count(KvOp::Set);
        dispatch!(self, kv => kv.set(key, value, ttl).await)
    }

    /// Set only when absent; true when this call created the key.
    pub async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> KvResult<bool> {
        count(KvOp::SetNx);
        dispatch!(self, kv => kv.set_nx(key, value, ttl).await)
    }

    /// Delete; true when the key existed.
    pub async fn del(&self, key: &str) -> KvResult<bool> {
        count(KvOp::Del);
        dispatch!(self, kv => kv.del(key).await)
    }

    /// Get and delete in one atomic step (single use).
    pub async fn take(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        count(KvOp::Take);
        dispatch!(self, kv => kv.take(key).await)
    }

    /// Add `by` to a counter; a new counter expires after `ttl`. Returns the new value.
    pub async fn incr(&self, key: &str, by: i64, ttl: Duration) -> KvResult<i64> {
        count(KvOp::Incr);
        dispatch!(self, kv => kv.incr(key, by, ttl).await)
    }

    /// Add `by` to a counter only when the result (plus the value of the counter `also`,
    /// when given) stays at or below `cap`; a new counter expires after `ttl`.
    /// `Some(new value)` when added, `None` (unchanged) when refused. Atomic: parallel
    /// callers can never push the sum past `cap`.
    pub async fn incr_capped(
        &self,
        key: &str,
        also: Option<&str>,
        by: i64,
        cap: i64,
        ttl: Duration,
    ) -> KvResult<Option<i64>> {
        count(KvOp::IncrCapped);
        dispatch!(self, kv => kv.incr_capped(key, also, by, cap, ttl).await)
    }

    /// Compare-and-swap: when the current value equals `expected` (`None` = absent),
    /// replace it with `new` (`None` = delete) and return true.
    pub async fn cas(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl: Duration,
    ) -> KvResult<bool> {
        count(KvOp::Cas);
        dispatch!(self, kv => kv.cas(key, expected, new, ttl).await)
    }

    /// Several steps as one atomic operation (one Lua script on Redis, one job of a group
    /// commit on the embedded store): either every step happens or none does. The steps
    /// are checked in order, each seeing the effects of the ones before it; `Some(i)`
    /// names the first step refused (and nothing was written), `None` means all were
    /// applied. What several calls did before, in one round trip.
    pub async fn apply(&self, steps: Vec<Step>) -> KvResult<Option<usize>> {
        count(KvOp::Batch);
        dispatch!(self, kv => kv.apply(steps).await)
    }

    /// Add a member to a set, (re)setting the set's expiry to `ttl`.
    pub async fn sadd(&self, key: &str, member: &str, ttl: Duration) -> KvResult<()> {
        count(KvOp::Sadd);
        dispatch!(self, kv => kv.sadd(key, member, ttl).await)
    }

    pub async fn srem(&self, key: &str, member: &str) -> KvResult<()> {
        count(KvOp::Srem);
        dispatch!(self, kv => kv.srem(key, member).await)
    }

    pub async fn smembers(&self, key: &str) -> KvResult<Vec<String>> {
        count(KvOp::Smembers);
        dispatch!(self, kv => kv.smembers(key).await)
    }

    /// Make pending writes durable (embedded store); a no-op for Redis.
    pub async fn flush(&self) -> KvResult<()> {
        match self {
            Kv::Redis(_) => Ok(()),
            Kv::Embedded(kv) => kv.flush().await,
        }
    }
}
