//! The shared token buckets of global rate limits, on Redis (`[redis]`):
//! one hash per limited key holding its tokens and the time they were
//! counted, changed only by one Lua script that refills the bucket at the
//! limit's rate (Redis's own clock, so instances' clocks do not matter),
//! grants at most what it holds, and answers how long until the next token
//! when it runs dry. Token bucket rather than a fixed window: no burst at a
//! window's edge. The request path never calls this: the leases of
//! [`authgate_core::limits_global`] do, in the background.
//!
//! The connection is made on first use and re-made by redis-rs's
//! connection manager after a failure; every call is bounded by
//! `[redis] timeout`, and any error or timeout reads as an outage.

use async_trait::async_trait;
use authgate_core::limits::LimitSpec;
use authgate_core::limits_global::{Grant, SharedBuckets};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use tokio::sync::Mutex;

/// The bucket script: KEYS[1] the bucket; ARGV rate (tokens per ms),
/// burst, want. Returns `{granted, wait_ms}`.
const TAKE: &str = r#"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local b = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
local wait = 0
if granted < want and tokens < 1 then
  wait = math.ceil((1 - tokens) / rate)
end
return {granted, wait}
"#;

/// Global rate-limit buckets on one Redis server.
pub struct RedisBuckets {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    script: redis::Script,
    conn: Mutex<Option<ConnectionManager>>,
}

impl std::fmt::Debug for RedisBuckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("RedisBuckets")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisBuckets {
    /// Buckets on the server at `url` (`redis://host:port/db`), keys under
    /// `prefix`, each call bounded by `timeout`. Connects on first use.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("not a Redis URL: {e}"))?;
        Ok(Self {
            client,
            prefix: prefix.to_string(),
            timeout,
            script: redis::Script::new(TAKE),
            conn: Mutex::new(None),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, String> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let c = ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(|e| format!("cannot connect to Redis: {e}"))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// The Redis key of bucket `key` of `limit`.
    pub fn bucket_key(&self, limit: &str, key: &str) -> String {
        format!("{}rl:{limit}:{key}", self.prefix)
    }
}

#[async_trait]
impl SharedBuckets for RedisBuckets {
    async fn take(&self, key: &str, want: u32, spec: &LimitSpec) -> Result<Grant, String> {
        let call = async {
            let mut conn = self.connection().await?;
            let per_ms = spec.per.as_secs_f64() * 1000.0;
            let rate = f64::from(spec.rate.max(1)) / per_ms.max(f64::MIN_POSITIVE);
            let (granted, wait): (u32, u64) = self
                .script
                .key(self.bucket_key(&spec.name, key))
                .arg(rate)
                .arg(spec.burst.max(1))
                .arg(want)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| format!("Redis: {e}"))?;
            Ok(Grant {
                granted: granted.min(want),
                wait: Duration::from_millis(wait),
            })
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(format!("Redis: no answer within {:?}", self.timeout)),
        }
    }
}
