//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format: what admins alert on
//! (upstream throttling, authentication failures, provider timeouts, unreadable mailboxes) and
//! what the cache saves. Labels are tenant names, operations, routes and outcome codes only:
//! never a mailbox address, a subject or anything secret.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// An API request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template (`/v1/tenants/{tenant}/freebusy`), not the path.
    pub route: String,
    /// HTTP status code.
    pub status: u16,
}

/// A provider call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// Tenant name from the config.
    pub tenant: String,
    /// `get-schedules`, `search-directory` or `check`.
    pub operation: String,
    /// `ok`, or the error code the call's mailboxes get (`throttled`, `auth-failed`, ...).
    pub outcome: String,
}

/// Per tenant and operation, for call durations.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// Tenant name.
    pub tenant: String,
    /// Provider operation.
    pub operation: String,
}

/// A cache lookup for one mailbox.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// Tenant name.
    pub tenant: String,
    /// `hit`, `miss` or `stale` (served after its TTL because the upstream failed).
    pub result: String,
}

/// A mailbox answered with an error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Tenant name.
    pub tenant: String,
    /// The error code (`not-found`, `access-denied`, `throttled`, ...).
    pub code: String,
}

/// Per tenant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    /// Tenant name.
    pub tenant: String,
}

/// Every metric the host keeps.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    calls: Family<CallLabels, Counter>,
    call_seconds: Family<OperationLabels, Histogram>,
    cache: Family<CacheLabels, Counter>,
    mailbox_errors: Family<ErrorLabels, Counter>,
    retries: Family<TenantLabels, Counter>,
    circuits: Family<TenantLabels, Gauge>,
    shared_up: Gauge,
    shared_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("freebusy");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "API requests by route and status", requests.clone());
        let calls = Family::<CallLabels, Counter>::default();
        registry.register("provider_calls", "Provider component calls by tenant, operation and outcome", calls.clone());
        // 5 ms to about 40 s: a cached token and a near upstream up to a call near its deadline.
        let call_seconds = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        registry.register(
            "provider_call_seconds",
            "Provider call duration, upstream waits included",
            call_seconds.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register("cache_lookups", "Mailbox lookups in the free/busy cache by result", cache.clone());
        let mailbox_errors = Family::<ErrorLabels, Counter>::default();
        registry.register("mailbox_errors", "Mailboxes answered with an error, by code", mailbox_errors.clone());
        let retries = Family::<TenantLabels, Counter>::default();
        registry.register("throttle_retries", "Provider calls retried after the upstream throttled", retries.clone());
        let circuits = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "credential_circuit_open",
            "1 while a tenant's sign-ins are stopped after its credentials were refused",
            circuits.clone(),
        );
        let shared_up = Gauge::default();
        registry.register(
            "shared_store_up",
            "1 while the shared store (Redis) answers, 0 while this instance serves from its own memory",
            shared_up.clone(),
        );
        let shared_failures = Counter::default();
        registry.register(
            "shared_store_failures",
            "Shared store commands that failed or timed out (the instance carried on without them)",
            shared_failures.clone(),
        );
        Metrics {
            registry,
            requests,
            calls,
            call_seconds,
            cache,
            mailbox_errors,
            retries,
            circuits,
            shared_up,
            shared_failures,
        }
    }
}

impl Metrics {
    /// An API request was answered.
    pub fn request(&self, route: &str, status: u16) {
        self.requests.get_or_create(&RequestLabels { route: route.to_string(), status }).inc();
    }

    /// A provider call ended.
    pub fn call(&self, tenant: &str, operation: &str, outcome: &str, took: Duration) {
        let (tenant, operation) = (tenant.to_string(), operation.to_string());
        self.calls
            .get_or_create(&CallLabels {
                tenant: tenant.clone(),
                operation: operation.clone(),
                outcome: outcome.into(),
            })
            .inc();
        self.call_seconds.get_or_create(&OperationLabels { tenant, operation }).observe(took.as_secs_f64());
    }

    /// A mailbox was looked up in the cache.
    pub fn cache(&self, tenant: &str, result: &str) {
        self.cache_many(tenant, result, 1);
    }

    /// `n` mailboxes had the cache `result` (nothing is counted for none).
    pub fn cache_many(&self, tenant: &str, result: &str, n: u64) {
        if n > 0 {
            self.cache.get_or_create(&CacheLabels { tenant: tenant.into(), result: result.into() }).inc_by(n);
        }
    }

    /// A mailbox was answered with an error.
    pub fn mailbox_error(&self, tenant: &str, code: &str) {
        self.mailbox_errors.get_or_create(&ErrorLabels { tenant: tenant.into(), code: code.into() }).inc();
    }

    /// A throttled call is retried.
    pub fn retry(&self, tenant: &str) {
        self.retries.get_or_create(&TenantLabels { tenant: tenant.into() }).inc();
    }

    /// Whether a tenant's credential circuit is open.
    pub fn circuit(&self, tenant: &str, open: bool) {
        self.circuits.get_or_create(&TenantLabels { tenant: tenant.into() }).set(i64::from(open));
    }

    /// The shared store's state: up or not, and its failures so far.
    pub fn shared_store(&self, up: bool, failures: u64) {
        self.shared_up.set(i64::from(up));
        let counted = self.shared_failures.get();
        if failures > counted {
            self.shared_failures.inc_by(failures - counted);
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}
