//! The Redis backend. Compound operations are single Lua scripts, so they are atomic
//! across every replica sharing the Redis.
use super::{KvError, KvResult};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct RedisKv {
    conn: ConnectionManager,
    prefix: Arc<str>,
    incr: Arc<Script>,
    cas: Arc<Script>,
    incr_capped: Arc<Script>,
}

const INCR: &str = r"
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v";

const INCR_CAPPED: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local other = 0
if KEYS[2] then other = tonumber(redis.call('GET', KEYS[2]) or '0') end
local by = tonumber(ARGV[1])
if cur + other + by > tonumber(ARGV[2]) then return -1 end
local v = redis.call('INCRBY', KEYS[1], by)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return v";

const CAS: &str = r"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
else
  if cur then return 0 end
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
else
  redis.call('DEL', KEYS[1])
end
return 1";

fn unavailable(e: redis::RedisError) -> KvError {
    KvError::Unavailable(e.to_string())
}

fn ms(ttl: Duration) -> u64 {
    ttl.as_millis().clamp(1, u64::MAX as u128) as u64
}

impl RedisKv {
    /// Connects lazily: the server starts while Redis is down and answers 503 until it is up.
    pub fn connect(url: &str, prefix: &str) -> KvResult<Self> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(1000)))
            .set_response_timeout(Some(Duration::from_millis(1000)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(Self {
            conn,
            prefix: prefix.into(),
            incr: Arc::new(Script::new(INCR)),
            cas: Arc::new(Script::new(CAS)),
            incr_capped: Arc::new(Script::new(INCR_CAPPED)),
        })
    }

    fn k(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub async fn ping(&self) -> KvResult<()> {
        let mut c = self.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        let mut c = self.conn.clone();
        c.get(self.k(key)).await.map_err(unavailable)
    }

    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> KvResult<()> {
        let mut c = self.conn.clone();
        c.pset_ex(self.k(key), value, ms(ttl))
            .await
            .map_err(unavailable)
    }

    pub async fn set_nx(&self, key: &str, value: &[u8], ttl: Duration) -> KvResult<bool> {
        let mut c = self.conn.clone();
        let r: Option<String> = redis::cmd("SET")
            .arg(self.k(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ms(ttl))
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(r.is_some())
    }

    pub async fn del(&self, key: &str) -> KvResult<bool> {
        let mut c = self.conn.clone();
        let n: i64 = c.del(self.k(key)).await.map_err(unavailable)?;
        Ok(n > 0)
    }

    pub async fn take(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        let mut c = self.conn.clone();
        c.get_del(self.k(key)).await.map_err(unavailable)
    }

    pub async fn incr(&self, key: &str, by: i64, ttl: Duration) -> KvResult<i64> {
        let mut c = self.conn.clone();
        self.incr
            .key(self.k(key))
            .arg(by)
            .arg(ms(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)
    }

    pub async fn incr_capped(
        &self,
        key: &str,
        also: Option<&str>,
        by: i64,
        cap: i64,
        ttl: Duration,
    ) -> KvResult<Option<i64>> {
        let mut c = self.conn.clone();
        let mut inv = self.incr_capped.key(self.k(key));
        if let Some(a) = also {
            inv.key(self.k(a));
        }
        let v: i64 = inv
            .arg(by)
            .arg(cap)
            .arg(ms(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        // Counters never go negative here, so -1 is free to mean "refused".
        Ok((v >= 0).then_some(v))
    }

    pub async fn cas(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        ttl: Duration,
    ) -> KvResult<bool> {
        let mut c = self.conn.clone();
        let r: i64 = self
            .cas
            .key(self.k(key))
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(if new.is_some() { "1" } else { "0" })
            .arg(new.unwrap_or_default())
            .arg(ms(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(r == 1)
    }

    pub async fn sadd(&self, key: &str, member: &str, ttl: Duration) -> KvResult<()> {
        let mut c = self.conn.clone();
        let k = self.k(key);
        redis::pipe()
            .atomic()
            .sadd(&k, member)
            .ignore()
            .pexpire(&k, ms(ttl) as i64)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(unavailable)
    }

    pub async fn srem(&self, key: &str, member: &str) -> KvResult<()> {
        let mut c = self.conn.clone();
        let _: i64 = c.srem(self.k(key), member).await.map_err(unavailable)?;
        Ok(())
    }

    pub async fn smembers(&self, key: &str) -> KvResult<Vec<String>> {
        let mut c = self.conn.clone();
        c.smembers(self.k(key)).await.map_err(unavailable)
    }
}
