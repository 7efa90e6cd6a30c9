//! Counters shared by several gateway instances, in Redis.
//!
//! A reservation is one Lua script call: it reads the server's clock
//! (`TIME`), computes every charge's window usage, and adds all amounts only
//! if all fit, atomically, so concurrent requests on any instance cannot
//! overshoot. Buckets are `<key>:<bucket>` strings holding a float, with a
//! TTL. Every call has a timeout: a slow or dead Redis fails fast and the
//! caller falls back (see the gateway's limits module).
//!
//! The script builds bucket names from the keys it is given, so it targets a
//! single Redis server (or a cluster with all of a request's keys in one
//! hash slot), not an arbitrary cluster.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Adjustment, Charge, CounterError, Counters, Reservation, Slot, Window};

const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS
local out = {}
local allowed = 1
local wait = 0
local buckets = {}
for i = 1, n do
  local base = (i - 1) * 6
  local limit = tonumber(ARGV[base + 1])
  local kind = ARGV[base + 2]
  local wms = tonumber(ARGV[base + 3])
  local fixed = tonumber(ARGV[base + 4])
  local floor = tonumber(ARGV[base + 6])
  local used, bucket, reset, w
  if kind == 's' then
    bucket = math.floor(now / wms)
    local cur = tonumber(redis.call('GET', KEYS[i] .. ':' .. bucket) or '0')
    local prev = tonumber(redis.call('GET', KEYS[i] .. ':' .. (bucket - 1)) or '0')
    local into = (now % wms) / wms
    used = cur + prev * (1 - into)
    reset = wms - (now % wms)
    local room = limit - floor
    if room < 0 then
      w = wms
    elseif cur <= room and prev > 0 and (cur + prev * (1 - into)) > room then
      local tt = wms * (1 - (room - cur) / prev)
      w = math.ceil(tt - (now % wms))
    elseif cur <= room then
      w = reset
    else
      w = math.ceil(reset + wms * (1 - room / cur))
    end
  else
    bucket = fixed
    used = tonumber(redis.call('GET', KEYS[i] .. ':' .. bucket) or '0')
    reset = wms
    w = wms
  end
  if used + floor > limit + 1e-9 then
    allowed = 0
    if w > wait then wait = w end
  end
  buckets[i] = bucket
  out[i] = {used, bucket, reset, 0}
end
if allowed == 1 then
  for i = 1, n do
    local base = (i - 1) * 6
    local limit = tonumber(ARGV[base + 1])
    local kind = ARGV[base + 2]
    local wms = tonumber(ARGV[base + 3])
    local amount = tonumber(ARGV[base + 5])
    local floor = tonumber(ARGV[base + 6])
    local room = limit - out[i][1]
    if room < floor then room = floor end
    if amount > room then amount = room end
    local k = KEYS[i] .. ':' .. buckets[i]
    redis.call('INCRBYFLOAT', k, amount)
    local ttl = wms
    if kind == 's' then ttl = 2 * wms end
    if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
    out[i][1] = out[i][1] + amount
    out[i][4] = amount
  end
end
local reply = {tostring(allowed), tostring(wait)}
for i = 1, n do
  reply[#reply + 1] = tostring(out[i][1])
  reply[#reply + 1] = tostring(out[i][2])
  reply[#reply + 1] = tostring(out[i][3])
  reply[#reply + 1] = tostring(out[i][4])
end
return reply
";

const ADJUST: &str = r"
for i = 1, #KEYS do
  local k = KEYS[i]
  local delta = tonumber(ARGV[(i - 1) * 2 + 1])
  local ttl = tonumber(ARGV[(i - 1) * 2 + 2])
  local v = tonumber(redis.call('INCRBYFLOAT', k, delta))
  if v < 0 then redis.call('SET', k, '0') end
  if redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, ttl) end
end
return 1
";

/// Counters in Redis.
#[derive(Clone)]
pub struct RedisCounters {
    conn: ConnectionManager,
    reserve: redis::Script,
    adjust: redis::Script,
    timeout: Duration,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters")
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn unavailable(e: impl std::fmt::Display) -> CounterError {
    CounterError(e.to_string())
}

impl RedisCounters {
    /// Connects to `url` (`redis://host:port/db`). Every command is bounded
    /// by `timeout`; reconnection happens in the background.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, CounterError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            timeout * 4,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| CounterError("timed out connecting to Redis".into()))?
        .map_err(unavailable)?;
        Ok(Self {
            conn,
            reserve: redis::Script::new(RESERVE),
            adjust: redis::Script::new(ADJUST),
            timeout,
        })
    }

    async fn bounded<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CounterError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(unavailable),
            Err(_) => Err(CounterError("Redis did not answer in time".into())),
        }
    }

    /// Whether Redis answers a `PING` within the timeout.
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        self.bounded(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .is_ok()
    }
}

fn parse_f64(s: &str) -> f64 {
    s.parse().unwrap_or(0.0)
}

#[async_trait]
impl Counters for RedisCounters {
    async fn reserve(&self, charges: &[Charge]) -> Result<Reservation, CounterError> {
        let mut inv = self.reserve.prepare_invoke();
        for c in charges {
            let (kind, wms, fixed) = match c.window {
                Window::Sliding { ms } => ("s", ms, 0),
                Window::Fixed { id, ttl_ms } => ("f", ttl_ms, id),
            };
            inv.key(&c.key)
                .arg(c.limit)
                .arg(kind)
                .arg(wms)
                .arg(fixed)
                .arg(c.amount)
                .arg(c.floor);
        }
        let mut conn = self.conn.clone();
        let reply: Vec<String> = self.bounded(inv.invoke_async(&mut conn)).await?;
        if reply.len() != 2 + 4 * charges.len() {
            return Err(CounterError(
                "unexpected reply from the reservation script".into(),
            ));
        }
        let allowed = reply[0] == "1";
        let retry_after_ms = parse_f64(&reply[1]).max(0.0) as u64;
        let slots = charges
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let used = parse_f64(&reply[2 + 4 * i]);
                Slot {
                    used,
                    remaining: (c.limit - used).max(0.0),
                    bucket: parse_f64(&reply[3 + 4 * i]) as u64,
                    reset_ms: parse_f64(&reply[4 + 4 * i]).max(0.0) as u64,
                    charged: parse_f64(&reply[5 + 4 * i]),
                }
            })
            .collect();
        Ok(Reservation {
            allowed,
            slots,
            retry_after_ms,
        })
    }

    async fn adjust(&self, adjustments: &[Adjustment]) -> Result<(), CounterError> {
        if adjustments.is_empty() {
            return Ok(());
        }
        let mut inv = self.adjust.prepare_invoke();
        for a in adjustments {
            inv.key(format!("{}:{}", a.key, a.bucket))
                .arg(a.delta)
                .arg(a.ttl_ms);
        }
        let mut conn = self.conn.clone();
        let _: i64 = self.bounded(inv.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn seed(
        &self,
        key: &str,
        bucket: u64,
        ttl_ms: u64,
        value: f64,
    ) -> Result<(), CounterError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{key}:{bucket}"))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms.max(1));
        let _: Option<String> = self.bounded(cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    async fn read(&self, key: &str, bucket: u64) -> Result<f64, CounterError> {
        let mut conn = self.conn.clone();
        let v: Option<String> = self
            .bounded(
                redis::cmd("GET")
                    .arg(format!("{key}:{bucket}"))
                    .query_async(&mut conn),
            )
            .await?;
        Ok(v.as_deref().map_or(0.0, parse_f64))
    }
}
