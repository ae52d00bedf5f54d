//! State shared by every freebusy instance: cached answers, leases that make one instance fetch
//! what several want, the per-mailbox concurrency limit, and providers' key-value entries
//! (access tokens), in Redis or Valkey (`[shared] url`).
//!
//! Every instance keeps its own memory too (the cache, the single flight, the limiter, the
//! key-value store), and that is all there is without `[shared]`: the demo and a single instance
//! need no server. With it, each capability asks Redis as well, and any Redis failure (down, slow,
//! unreachable) makes that instance carry on with its memory alone: [`Shared`]'s methods return
//! `None` then, logged once, counted in `/metrics` and shown in `/readyz`, and Redis is tried
//! again after `retry_secs`. A request never fails because of the shared store.
//!
//! Only commands Redis 7.0 and Valkey 7 both have are used (GET, SET with NX and PX, MGET, DEL,
//! EVALSHA/EVAL of two small Lua scripts with ZADD, ZCARD, ZREM, ZREMRANGEBYSCORE, PEXPIRE, TIME),
//! through the `redis` crate's connection manager (it reconnects by itself).

mod redis_store;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use redis_store::RedisStore;

/// The `[shared]` table.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedSettings {
    /// `redis://[user:password@]host:port[/db]` or `rediss://` for TLS; absent: memory only.
    pub url: Option<String>,
    /// Prefix of every key, so that several deployments can share one Redis.
    pub prefix: String,
    /// Longest wait for one Redis command before carrying on without it.
    #[serde(rename = "timeout_ms", deserialize_with = "crate::config::milliseconds")]
    pub timeout: Duration,
    /// After a failure, how long to carry on from memory before asking Redis again.
    #[serde(rename = "retry_secs", deserialize_with = "crate::config::seconds")]
    pub retry: Duration,
    /// How long a fetch lease holds when its holder dies (`kill -9`) before another instance
    /// fetches; a waiting request waits at most this long.
    #[serde(rename = "lease_secs", deserialize_with = "crate::config::seconds")]
    pub lease: Duration,
    /// Calls in flight at once for one mailbox of one tenant, across every instance (Graph allows
    /// four per app and mailbox).
    pub mailbox_concurrency: u32,
}

impl Default for SharedSettings {
    fn default() -> Self {
        SharedSettings {
            url: None,
            prefix: "freebusy:".into(),
            timeout: Duration::from_millis(250),
            retry: Duration::from_secs(5),
            lease: Duration::from_secs(35),
            mailbox_concurrency: 4,
        }
    }
}

/// Whether the shared store is usable, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SharedStatus {
    /// No `[shared] url`: memory only, as configured.
    NotConfigured,
    /// Redis answers.
    Up,
    /// Redis failed; this instance serves from its own memory until it answers again.
    Down,
}

/// The shared store, or `None` everywhere when not configured or not answering.
pub struct Shared {
    redis: RedisStore,
    prefix: String,
    timeout: Duration,
    retry: Duration,
    /// Set while Redis is failing, with when to try it again.
    down: Mutex<Option<Instant>>,
    logged_down: AtomicBool,
    /// Commands that failed or timed out.
    pub failures: AtomicU64,
    /// The lease time.
    pub lease: Duration,
}

impl Shared {
    /// Connect lazily (the first command connects), so that a Redis that is down at start does
    /// not stop the service.
    pub fn new(settings: &SharedSettings) -> anyhow::Result<Option<Arc<Shared>>> {
        let Some(url) = settings.url.as_deref() else { return Ok(None) };
        let redis = RedisStore::connect(url, settings.timeout)?;
        Ok(Some(Arc::new(Shared {
            redis,
            prefix: settings.prefix.clone(),
            timeout: settings.timeout,
            retry: settings.retry,
            down: Mutex::new(None),
            logged_down: AtomicBool::new(false),
            failures: AtomicU64::new(0),
            lease: settings.lease,
        })))
    }

    /// The key `name` under this deployment's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Up or down.
    pub fn status(&self) -> SharedStatus {
        match *self.down.lock().expect("shared state") {
            Some(_) => SharedStatus::Down,
            None => SharedStatus::Up,
        }
    }

    /// Run one Redis operation within the timeout; `None` when Redis is (or just went) down.
    async fn run<T, F>(&self, what: &str, op: F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if let Some(retry_at) = *self.down.lock().expect("shared state") {
            if Instant::now() < retry_at {
                return None;
            }
        }
        let outcome = match tokio::time::timeout(self.timeout, op).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        };
        match outcome {
            Ok(value) => {
                let was_down = self.down.lock().expect("shared state").take().is_some();
                if was_down {
                    self.logged_down.store(false, Ordering::Relaxed);
                    tracing::info!("the shared store answers again; instances share state again");
                }
                Some(value)
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                *self.down.lock().expect("shared state") = Some(Instant::now() + self.retry);
                if !self.logged_down.swap(true, Ordering::Relaxed) {
                    // The URL may carry a password: only the error, never the URL.
                    tracing::warn!(
                        operation = what,
                        error = error.as_str(),
                        retry_secs = self.retry.as_secs(),
                        "the shared store failed; serving from this instance's memory until it answers"
                    );
                }
                None
            }
        }
    }

    /// Values of several keys (missing ones `None`).
    pub async fn get_many(&self, keys: &[String]) -> Option<Vec<Option<Vec<u8>>>> {
        self.run("get", self.redis.get_many(keys)).await
    }

    /// One value.
    pub async fn get(&self, key: &str) -> Option<Option<Vec<u8>>> {
        self.get_many(std::slice::from_ref(&key.to_string())).await.map(|mut v| v.pop().flatten())
    }

    /// Set several values, each expiring after `ttl`.
    pub async fn set_many(&self, entries: &[(String, Vec<u8>)], ttl: Duration) -> Option<()> {
        self.run("set", self.redis.set_many(entries, ttl)).await
    }

    /// Delete a key.
    pub async fn delete(&self, key: &str) -> Option<()> {
        self.run("delete", self.redis.delete(key)).await
    }

    /// Take the lease `key` for `holder` unless someone holds it.
    pub async fn try_lease(&self, key: &str, holder: &str, ttl: Duration) -> Option<bool> {
        self.run("lease", self.redis.try_lease(key, holder, ttl)).await
    }

    /// Give the lease back if `holder` still holds it.
    pub async fn release_lease(&self, key: &str, holder: &str) -> Option<()> {
        self.run("release lease", self.redis.release_lease(key, holder)).await
    }

    /// One place for `holder` under each of `keys`, all or none, where each holds fewer than
    /// `limit`; places older than `ttl` (a holder that died) do not count.
    pub async fn try_places(&self, keys: &[String], holder: &str, limit: u32, ttl: Duration) -> Option<bool> {
        self.run("limit", self.redis.try_places(keys, holder, limit, ttl)).await
    }

    /// Give `holder`'s places back.
    pub async fn release_places(&self, keys: &[String], holder: &str) -> Option<()> {
        self.run("release limit", self.redis.release_places(keys, holder)).await
    }
}

/// A name for this process's leases and places: unique per process, readable in Redis.
pub fn holder_id() -> String {
    static PROCESS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let process = PROCESS.get_or_init(|| {
        let mut random = [0u8; 8];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
        format!("{}-{}", std::process::id(), random.iter().map(|b| format!("{b:02x}")).collect::<String>())
    });
    format!("{process}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
