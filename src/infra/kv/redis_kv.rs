//! The Redis backend. Compound operations are single Lua scripts, so they are atomic
//! across every replica sharing the Redis.
use super::{KvError, KvResult, Step};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct RedisKv {
    conn: ConnectionManager,
    /// Until when (ms on [`Self::epoch`]) calls fail at once: set when Redis could not be
    /// reached or did not answer in time, so a request that makes several calls waits
    /// for one timeout, not one per call; the first call after it probes Redis again.
    down_until: Arc<AtomicU64>,
    epoch: Instant,
    timeout: Duration,
    prefix: Arc<str>,
    incr: Arc<Script>,
    cas: Arc<Script>,
    incr_capped: Arc<Script>,
    apply: Arc<Script>,
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

/// `Kv::apply`: the steps are read from ARGV (kind, then its arguments) and KEYS (one
/// key per step, two for `ic`); checked in order against the values the earlier steps
/// would leave, then written only if none refused. Returns 0, or the 1-based index of
/// the refused step.
const APPLY: &str = r"
local steps, k, a = {}, 1, 1
while a <= #ARGV do
  local kind = ARGV[a]
  if kind == 'ic' then
    steps[#steps + 1] = {kind, KEYS[k], KEYS[k + 1], ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), ARGV[a + 4]}
    k = k + 2; a = a + 5
  elseif kind == 'cas' then
    steps[#steps + 1] = {kind, KEYS[k], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]}
    k = k + 1; a = a + 6
  else
    steps[#steps + 1] = {kind, KEYS[k], ARGV[a + 1], ARGV[a + 2]}
    k = k + 1; a = a + 3
  end
end
local after = {}
local function get(key)
  local v = after[key]
  if v == nil then v = redis.call('GET', key) end
  return v
end
for i, s in ipairs(steps) do
  if s[1] == 'ic' then
    local cur = tonumber(get(s[2]) or '0') or 0
    local other = 0
    if s[4] == '1' then other = tonumber(get(s[3]) or '0') or 0 end
    if cur + other + s[5] > s[6] then return i end
    after[s[2]] = tostring(cur + s[5])
  elseif s[1] == 'cas' then
    local c = get(s[2])
    if s[3] == '1' then
      if c ~= s[4] then return i end
    elseif c then
      return i
    end
    if s[5] == '1' then after[s[2]] = s[6] else after[s[2]] = false end
  elseif s[1] == 'set' then
    after[s[2]] = s[3]
  elseif s[1] == 'del' then
    after[s[2]] = false
  end
end
for _, s in ipairs(steps) do
  if s[1] == 'ic' then
    redis.call('INCRBY', s[2], s[5])
    if redis.call('PTTL', s[2]) < 0 then redis.call('PEXPIRE', s[2], s[7]) end
  elseif s[1] == 'cas' then
    if s[5] == '1' then redis.call('SET', s[2], s[6], 'PX', s[7]) else redis.call('DEL', s[2]) end
  elseif s[1] == 'set' then
    redis.call('SET', s[2], s[3], 'PX', s[4])
  elseif s[1] == 'del' then
    redis.call('DEL', s[2])
  else
    redis.call('SADD', s[2], s[3])
    redis.call('PEXPIRE', s[2], s[4])
  end
end
return 0";

fn unavailable(e: redis::RedisError) -> KvError {
    KvError::Unavailable(e.to_string())
}

fn ms(ttl: Duration) -> u64 {
    ttl.as_millis().clamp(1, u64::MAX as u128) as u64
}

impl RedisKv {
    /// Connects lazily: the server starts while Redis is down and answers 503 until it is up.
    /// `timeout` bounds each call and each connection attempt (`kv.timeout_ms`).
    pub fn connect(url: &str, prefix: &str, timeout: Duration) -> KvResult<Self> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(Self {
            conn,
            down_until: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
            timeout,
            prefix: prefix.into(),
            incr: Arc::new(Script::new(INCR)),
            cas: Arc::new(Script::new(CAS)),
            incr_capped: Arc::new(Script::new(INCR_CAPPED)),
            apply: Arc::new(Script::new(APPLY)),
        })
    }

    /// Logs a warning when Redis keeps nothing across its own restart: sessions, refresh
    /// tokens and limits live here, so without the append-only file a Redis restart signs
    /// every user out. `CONFIG GET` may be refused (managed services); then nothing is said
    /// beyond a note. Returns whether the warning was given.
    pub async fn warn_without_persistence(&self) -> bool {
        let mut c = self.conn.clone();
        let answer: Result<Vec<String>, _> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("appendonly")
            .query_async(&mut c)
            .await;
        match answer.as_deref() {
            Ok([_, value]) if value == "no" => {
                tracing::warn!(
                    "Redis persistence is off (appendonly no): a Redis restart loses every \
                     session, refresh token and limit, signing every user out; set \
                     `appendonly yes` and `appendfsync everysec` (docs/DURABILITY.md)"
                );
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::info!("could not read the Redis persistence setting ({e}); make sure appendonly is on");
                false
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Refuses at once while Redis is known to be unreachable.
    pub(super) fn admit(&self) -> KvResult<()> {
        if self.now_ms() < self.down_until.load(Ordering::Relaxed) {
            return Err(KvError::Unavailable(
                "Redis did not answer moments ago; not retried yet".into(),
            ));
        }
        Ok(())
    }

    /// A failed call: an unreachable or silent Redis holds later calls off for one
    /// timeout (at least 250 ms); other errors (a script's) do not.
    fn fail(&self, e: redis::RedisError) -> KvError {
        use redis::{ErrorKind, ServerErrorKind};
        let unreachable = match e.kind() {
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::TryAgain,
            ) => true,
            ErrorKind::Server(_) | ErrorKind::Parse | ErrorKind::UnexpectedReturnType => false,
            _ => true,
        };
        if unreachable {
            let hold = self.timeout.max(Duration::from_millis(250)).as_millis() as u64;
            self.down_until
                .store(self.now_ms() + hold, Ordering::Relaxed);
        }
        unavailable(e)
    }

    fn k(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub async fn ping(&self) -> KvResult<()> {
        let mut c = self.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut c)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        let mut c = self.conn.clone();
        c.get(self.k(key)).await.map_err(|e| self.fail(e))
    }

    pub async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> KvResult<()> {
        let mut c = self.conn.clone();
        c.pset_ex(self.k(key), value, ms(ttl))
            .await
            .map_err(|e| self.fail(e))
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
            .map_err(|e| self.fail(e))?;
        Ok(r.is_some())
    }

    pub async fn del(&self, key: &str) -> KvResult<bool> {
        let mut c = self.conn.clone();
        let n: i64 = c.del(self.k(key)).await.map_err(|e| self.fail(e))?;
        Ok(n > 0)
    }

    pub async fn take(&self, key: &str) -> KvResult<Option<Vec<u8>>> {
        let mut c = self.conn.clone();
        c.get_del(self.k(key)).await.map_err(|e| self.fail(e))
    }

    pub async fn incr(&self, key: &str, by: i64, ttl: Duration) -> KvResult<i64> {
        let mut c = self.conn.clone();
        self.incr
            .key(self.k(key))
            .arg(by)
            .arg(ms(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(|e| self.fail(e))
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
            .map_err(|e| self.fail(e))?;
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
            .map_err(|e| self.fail(e))?;
        Ok(r == 1)
    }

    pub async fn apply(&self, steps: Vec<Step>) -> KvResult<Option<usize>> {
        if steps.is_empty() {
            return Ok(None);
        }
        let mut c = self.conn.clone();
        let mut inv = self.apply.prepare_invoke();
        for step in &steps {
            match step {
                Step::IncrCapped {
                    key,
                    also,
                    by,
                    cap,
                    ttl,
                } => {
                    inv.key(self.k(key))
                        .key(self.k(also.as_deref().unwrap_or(key)))
                        .arg("ic")
                        .arg(if also.is_some() { "1" } else { "0" })
                        .arg(*by)
                        .arg(*cap)
                        .arg(ms(*ttl));
                }
                Step::Cas {
                    key,
                    expected,
                    new,
                    ttl,
                } => {
                    inv.key(self.k(key))
                        .arg("cas")
                        .arg(if expected.is_some() { "1" } else { "0" })
                        .arg(expected.as_deref().unwrap_or_default())
                        .arg(if new.is_some() { "1" } else { "0" })
                        .arg(new.as_deref().unwrap_or_default())
                        .arg(ms(*ttl));
                }
                Step::Set { key, value, ttl } => {
                    inv.key(self.k(key))
                        .arg("set")
                        .arg(value.as_slice())
                        .arg(ms(*ttl));
                }
                Step::Del { key } => {
                    // Same shape as `set` (kind, two arguments) for the script's reader.
                    inv.key(self.k(key)).arg("del").arg("").arg(0);
                }
                Step::Sadd { key, member, ttl } => {
                    inv.key(self.k(key))
                        .arg("sadd")
                        .arg(member.as_str())
                        .arg(ms(*ttl));
                }
            }
        }
        let r: i64 = inv.invoke_async(&mut c).await.map_err(|e| self.fail(e))?;
        Ok(usize::try_from(r).ok().filter(|i| *i > 0).map(|i| i - 1))
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
            .map_err(|e| self.fail(e))
    }

    pub async fn srem(&self, key: &str, member: &str) -> KvResult<()> {
        let mut c = self.conn.clone();
        let _: i64 = c
            .srem(self.k(key), member)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    pub async fn smembers(&self, key: &str) -> KvResult<Vec<String>> {
        let mut c = self.conn.clone();
        c.smembers(self.k(key)).await.map_err(|e| self.fail(e))
    }
}
