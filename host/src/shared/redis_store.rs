//! The Redis (or Valkey) commands behind [`super::Shared`]: plain values with an expiry, leases
//! (`SET NX PX`, released only by their holder), and a counting limiter as one sorted set per
//! key whose members are holders scored by when they took their place (the pattern of
//! redis.io's "distributed counting semaphore"; stale members are dropped before counting).

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

/// Release a lease only if it is still ours: a holder whose lease expired must not release the
/// next holder's.
const RELEASE_LEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Take one place under every key, all or none. ARGV: holder, limit, ttl in ms. The server's
/// clock scores places, so instances with skewed clocks agree.
const TAKE_PLACES: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - ttl)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2]) then
    return 0
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, ttl)
end
return 1
"#;

/// A connection (manager) to one Redis.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    release_lease: std::sync::Arc<Script>,
    take_places: std::sync::Arc<Script>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// A lazily connecting manager for `url`.
    pub fn connect(url: &str, timeout: Duration) -> anyhow::Result<RedisStore> {
        // Never echo the URL: it may hold the password.
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("[shared] url is not a Redis URL: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("[shared] url: {e}"))?;
        Ok(RedisStore {
            connection,
            release_lease: std::sync::Arc::new(Script::new(RELEASE_LEASE)),
            take_places: std::sync::Arc::new(Script::new(TAKE_PLACES)),
        })
    }

    pub(super) async fn get_many(&self, keys: &[String]) -> redis::RedisResult<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.connection.clone();
        redis::cmd("MGET").arg(keys).query_async(&mut c).await
    }

    pub(super) async fn set_many(&self, entries: &[(String, Vec<u8>)], ttl: Duration) -> redis::RedisResult<()> {
        let mut c = self.connection.clone();
        let mut pipe = redis::pipe();
        for (key, value) in entries {
            pipe.cmd("SET").arg(key).arg(value.as_slice()).arg("PX").arg(millis(ttl)).ignore();
        }
        pipe.query_async(&mut c).await
    }

    pub(super) async fn delete(&self, key: &str) -> redis::RedisResult<()> {
        let mut c = self.connection.clone();
        c.del(key).await
    }

    pub(super) async fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> redis::RedisResult<bool> {
        let mut c = self.connection.clone();
        let set: Option<String> =
            redis::cmd("SET").arg(key).arg(holder).arg("NX").arg("PX").arg(millis(ttl)).query_async(&mut c).await?;
        Ok(set.is_some())
    }

    pub(super) async fn release_lease(&self, key: &str, holder: &str) -> redis::RedisResult<()> {
        let mut c = self.connection.clone();
        let _: i64 = self.release_lease.key(key).arg(holder).invoke_async(&mut c).await?;
        Ok(())
    }

    pub(super) async fn try_places(
        &self,
        keys: &[String],
        holder: &str,
        limit: u32,
        ttl: Duration,
    ) -> redis::RedisResult<bool> {
        if keys.is_empty() {
            return Ok(true);
        }
        let mut c = self.connection.clone();
        let mut invocation = self.take_places.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        let taken: i64 = invocation.arg(holder).arg(limit).arg(millis(ttl)).invoke_async(&mut c).await?;
        Ok(taken == 1)
    }

    pub(super) async fn release_places(&self, keys: &[String], holder: &str) -> redis::RedisResult<()> {
        let mut c = self.connection.clone();
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("ZREM").arg(key).arg(holder).ignore();
        }
        pipe.query_async(&mut c).await
    }
}
