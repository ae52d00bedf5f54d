//! Tenants and the scheduler: a free/busy request is answered from the tenant's cache where it
//! can be, and the rest becomes provider calls within the provider's limits (mailboxes per call,
//! days per window), run concurrently within the tenant's cap, retried after throttling as the
//! upstream asked, shared with identical concurrent requests, and put back together per mailbox.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use freebusy_core::api::{
    DirectoryEntry, DirectoryRequest, DirectoryResponse, EntryKind, FreeBusyRequest, FreeBusyResponse,
};
use freebusy_core::model::MailboxError;
use freebusy_core::plan::{
    join, plan, respond, throttle_retry_delay_ms, MailboxOutcome, MailboxSchedule, Piece, PieceResult, ProviderFailure,
};
use futures::future::{BoxFuture, FutureExt, Shared};
use tokio::sync::Semaphore;

use crate::cache::{days_of, window_of, Cache};
use crate::config::LoadedConfig;
use crate::metrics::Metrics;
use crate::runtime::bindings::freebusy::provider::types as wit;
use crate::runtime::convert::{answer, failure, query};
use crate::runtime::outbound::normalize_origin;
use crate::runtime::{keyvalue, CallContext, CallError, Provider, Runtime};

/// A tenant ready to serve.
pub struct Tenant {
    /// Name from the config.
    pub name: String,
    /// Its provider.
    pub provider: Arc<Provider>,
    ctx: CallContext,
    max_mailboxes: u32,
    max_window_days: u32,
    calls: Semaphore,
    /// Settings read from files, with the value last written: a provider that replaces one
    /// (a rotated refresh token) has it written back.
    file_settings: Vec<FileSetting>,
    /// When the credential expires, if configured.
    pub secret_expires: Option<chrono::NaiveDate>,
    /// Set after the first successful call. Until then a request's first piece runs alone, so
    /// that what it caches (the access token, a known mailbox) serves the pieces after it
    /// instead of every concurrent piece fetching its own token.
    warm: std::sync::atomic::AtomicBool,
    /// Answers by mailbox and day.
    cache: Cache,
    /// Where calls, cache lookups and errors are counted.
    metrics: Arc<Metrics>,
    /// Upstream fetches under way, shared by identical concurrent requests.
    in_flight: std::sync::Mutex<HashMap<String, SharedFetch>>,
}

/// A fetch from the provider that several requests await.
type SharedFetch = Shared<BoxFuture<'static, Vec<MailboxOutcome>>>;

impl Tenant {
    /// The call context (settings, allow-list, key-value store).
    pub fn context(&self) -> &CallContext {
        &self.ctx
    }
}

/// A setting kept in a file.
struct FileSetting {
    name: String,
    path: std::path::PathBuf,
    written: std::sync::Mutex<String>,
}

/// Write `value` to `path` readable by its owner only, replacing it atomically.
pub fn write_private_file(path: &std::path::Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(value.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Errors a request can meet before any provider is called.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The tenant named in the URL is not configured.
    #[error("no tenant named '{0}' is configured")]
    UnknownTenant(String),
    /// Several tenants and no `default_tenant`.
    #[error("several tenants are configured and no default_tenant; use /v1/tenants/{{tenant}}/freebusy")]
    NoDefaultTenant,
}

/// Every configured tenant.
pub struct Service {
    tenants: BTreeMap<String, Arc<Tenant>>,
    default_tenant: Option<String>,
    metrics: Arc<Metrics>,
}

impl Service {
    /// Load every provider component once and set up each tenant.
    pub async fn from_config(loaded: &LoadedConfig, runtime: &Runtime) -> anyhow::Result<Service> {
        let mut providers: HashMap<String, Arc<Provider>> = HashMap::new();
        let mut tenants = BTreeMap::new();
        let metrics = Arc::new(Metrics::default());
        for (name, section) in &loaded.config.tenants {
            let provider = match providers.get(&section.provider) {
                Some(p) => p.clone(),
                None => {
                    let path = loaded.component_path(&section.provider).expect("validated provider");
                    let p = Arc::new(runtime.load_file(&path).await?);
                    providers.insert(section.provider.clone(), p.clone());
                    p
                }
            };
            let tenant = build_tenant(name, section, provider, loaded, metrics.clone())
                .with_context(|| format!("tenant '{name}'"))?;
            tenants.insert(name.clone(), Arc::new(tenant));
        }
        let default_tenant = loaded
            .config
            .default_tenant
            .clone()
            .or_else(|| (tenants.len() == 1).then(|| tenants.keys().next().cloned()).flatten());
        Ok(Service { tenants, default_tenant, metrics })
    }

    /// The host's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A tenant by name, or the default one.
    pub fn tenant(&self, name: Option<&str>) -> Result<&Arc<Tenant>, ServiceError> {
        match name {
            Some(n) => self.tenants.get(n).ok_or_else(|| ServiceError::UnknownTenant(n.to_string())),
            None => {
                self.default_tenant.as_deref().and_then(|n| self.tenants.get(n)).ok_or(ServiceError::NoDefaultTenant)
            }
        }
    }

    /// Every tenant.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.tenants.values()
    }

    /// Answer a free/busy request for a tenant.
    pub async fn freebusy(
        &self,
        tenant: Option<&str>,
        req: &FreeBusyRequest,
    ) -> Result<FreeBusyResponse, ServiceError> {
        let tenant = self.tenant(tenant)?;
        Ok(tenant.freebusy(req).await)
    }
}

fn build_tenant(
    name: &str,
    section: &crate::config::TenantSection,
    provider: Arc<Provider>,
    loaded: &LoadedConfig,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Tenant> {
    let info = provider.info();
    let mut settings = Vec::new();
    let mut file_settings = Vec::new();
    for (key, value) in &section.settings {
        let Some(spec) = info.settings.iter().find(|s| &s.name == key) else {
            let known: Vec<&str> = info.settings.iter().map(|s| s.name.as_str()).collect();
            bail!("setting '{key}' is not one the {} provider knows ({})", info.name, known.join(", "));
        };
        if spec.secret && value.is_literal() {
            tracing::warn!(
                tenant = name,
                setting = key.as_str(),
                "secret written into the config file; prefer {{ env = \"...\" }} or {{ file = \"...\" }}"
            );
        }
        let resolved = value.resolve(&loaded.base_dir).with_context(|| format!("setting '{key}'"))?;
        if let crate::config::SettingValue::File { file } = value {
            let path = loaded.base_dir.join(file);
            file_settings.push(FileSetting {
                name: key.clone(),
                path,
                written: std::sync::Mutex::new(resolved.clone()),
            });
        }
        settings.push((key.clone(), resolved));
    }
    for spec in info.settings.iter().filter(|s| s.required) {
        if !settings.iter().any(|(k, _)| k == &spec.name) {
            bail!("setting '{}' is required by the {} provider: {}", spec.name, info.name, spec.description);
        }
    }
    // The provider may reach the origins of its endpoint settings (or their defaults), plus
    // what the admin listed.
    let mut allowed = Vec::new();
    for endpoint in &info.endpoint_settings {
        let configured = settings.iter().find(|(k, _)| k == endpoint).map(|(_, v)| v.clone());
        let default = info.settings.iter().find(|s| &s.name == endpoint).and_then(|s| s.default_value.clone());
        if let Some(url) = configured.or(default) {
            allowed
                .push(normalize_origin(&url).with_context(|| format!("setting '{endpoint}' is not an http(s) URL"))?);
        }
    }
    for host in &section.allowed_hosts {
        allowed.push(
            normalize_origin(host).with_context(|| format!("allowed_hosts entry '{host}' is not an http(s) origin"))?,
        );
    }
    let max_mailboxes = match section.max_mailboxes_per_call {
        None => info.limits.max_mailboxes,
        Some(m) if (1..=info.limits.upstream_max_mailboxes).contains(&m) => m,
        Some(m) => bail!(
            "max_mailboxes_per_call = {m}: the {} provider's upstream accepts 1 to {} mailboxes per call",
            info.name,
            info.limits.upstream_max_mailboxes
        ),
    };
    Ok(Tenant {
        name: name.to_string(),
        ctx: CallContext { settings, allowed_origins: allowed, kv: keyvalue::Store::default() },
        max_mailboxes,
        max_window_days: info.limits.max_window_days,
        calls: Semaphore::new(section.max_concurrent_calls),
        warm: std::sync::atomic::AtomicBool::new(false),
        cache: Cache::new(loaded.config.cache.settings()),
        metrics,
        in_flight: std::sync::Mutex::new(HashMap::new()),
        file_settings,
        secret_expires: section.secret_expires,
        provider,
    })
}

/// Days before a secret's expiry from which it is reported.
pub const SECRET_WARNING_DAYS: i64 = 30;

/// A tenant's credential health, for `freebusy check` and `/readyz`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantHealth {
    /// Tenant name.
    pub tenant: String,
    /// Credentials work and nothing needed is missing.
    pub ok: bool,
    /// One line for an admin.
    pub summary: String,
    /// Permissions the credential carries.
    pub granted: Vec<String>,
    /// Permissions it lacks.
    pub missing: Vec<String>,
    /// The configured secret expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_expires: Option<chrono::NaiveDate>,
    /// Things to act on soon (an expiring secret).
    pub warnings: Vec<String>,
}

impl Tenant {
    /// Check credentials through the provider and the secret's expiry date.
    pub async fn health(&self, today: chrono::NaiveDate) -> TenantHealth {
        let mut warnings = Vec::new();
        let mut expired = false;
        if let Some(expires) = self.secret_expires {
            let days = (expires - today).num_days();
            if days < 0 {
                expired = true;
                warnings
                    .push(format!("the client secret expired on {expires}: create a new one and update the config"));
            } else if days <= SECRET_WARNING_DAYS {
                warnings.push(format!(
                    "the client secret expires on {expires}, in {days} days: create a new one before then"
                ));
            }
        }
        let checked = {
            let _permit = self.calls.acquire().await.expect("semaphore never closed");
            let started = Instant::now();
            let checked = self.provider.check(&self.ctx).await;
            self.observe("check", started, &checked);
            checked
        };
        self.persist_updated_settings();
        let (ok, summary, granted, missing) = match checked {
            Ok(h) => (h.missing.is_empty(), h.summary, h.granted, h.missing),
            Err(e) => (false, e.to_string(), Vec::new(), Vec::new()),
        };
        TenantHealth {
            tenant: self.name.clone(),
            ok: ok && !expired,
            summary,
            granted,
            missing,
            secret_expires: self.secret_expires,
            warnings,
        }
    }

    /// Write back settings the provider replaced (key `setting:<name>` in its store).
    fn persist_updated_settings(&self) {
        for setting in &self.file_settings {
            let Some(value) =
                self.ctx.kv.get(&format!("setting:{}", setting.name)).and_then(|v| String::from_utf8(v).ok())
            else {
                continue;
            };
            let mut written = setting.written.lock().expect("setting lock");
            if *written == value {
                continue;
            }
            match write_private_file(&setting.path, &value) {
                Ok(()) => {
                    tracing::info!(
                        tenant = self.name.as_str(),
                        setting = setting.name.as_str(),
                        "stored the provider's new value"
                    );
                    *written = value;
                }
                Err(e) => {
                    tracing::error!(tenant = self.name.as_str(), setting = setting.name.as_str(), error = %e, "could not store the provider's new value")
                }
            }
        }
    }

    /// People or rooms by prefix, through the provider. A provider failure is the error.
    pub async fn search_directory(&self, req: &DirectoryRequest) -> Result<DirectoryResponse, MailboxError> {
        let kind = match req.kind {
            EntryKind::Person => wit::EntryKind::Person,
            EntryKind::Room => wit::EntryKind::Room,
        };
        let found = {
            let _permit = self.calls.acquire().await.expect("semaphore never closed");
            let started = Instant::now();
            let found = self.provider.search_directory(&self.ctx, req.prefix.clone(), kind, req.max).await;
            self.observe("search-directory", started, &found);
            found
        };
        self.persist_updated_settings();
        let entries = found.map_err(|e| call_error(&e))?;
        Ok(DirectoryResponse {
            entries: entries
                .into_iter()
                .take(req.max as usize)
                .map(|e| DirectoryEntry {
                    kind: match e.kind {
                        wit::EntryKind::Person => EntryKind::Person,
                        wit::EntryKind::Room => EntryKind::Room,
                    },
                    display_name: e.display_name,
                    address: e.address,
                    capacity: e.capacity,
                    building: e.building,
                })
                .collect(),
        })
    }

    /// Answer a free/busy request: each mailbox from the cache while its days are fresh, the
    /// others from the provider (stored for the next request); an upstream failure is answered
    /// with an expired entry, marked stale, while the stale-if-error allowance lasts.
    pub async fn freebusy(self: &Arc<Self>, req: &FreeBusyRequest) -> FreeBusyResponse {
        if !self.cache.serves(req.details, req.upstream_view) {
            let resp = respond(req, self.fetch(req).await);
            self.count_errors(&resp);
            return resp;
        }
        let days = days_of(req.window);
        let now = chrono::Utc::now().timestamp_millis();
        let age = |fetched_at: i64| u64::try_from((now - fetched_at) / 1000).unwrap_or(0);
        let from_cache =
            |hit: crate::cache::Cached| MailboxSchedule::of_blocks(hit.blocks).with_working_hours(hit.working_hours);
        let n = req.mailboxes.len();
        let mut outcomes: Vec<Option<MailboxOutcome>> = vec![None; n];
        let mut ages: Vec<Option<u64>> = vec![None; n];
        let mut stale: Vec<Option<MailboxError>> = vec![None; n];
        let mut missing = Vec::new();
        for (i, mailbox) in req.mailboxes.iter().enumerate() {
            match self.cache.fresh(mailbox, &days, req.details) {
                Some(hit) => {
                    self.metrics.cache(&self.name, "hit");
                    ages[i] = Some(age(hit.fetched_at));
                    outcomes[i] = Some(Ok(from_cache(hit)));
                }
                None => {
                    self.metrics.cache(&self.name, "miss");
                    missing.push(i);
                }
            }
        }
        if !missing.is_empty() {
            // Whole days, so that the answer serves every window within them.
            let sub = FreeBusyRequest {
                mailboxes: missing.iter().map(|&i| req.mailboxes[i].clone()).collect(),
                window: window_of(&days),
                interval_minutes: None,
                details: req.details,
                upstream_view: false,
            };
            for (&i, outcome) in missing.iter().zip(self.fetch_shared(sub, days.clone()).await) {
                let mailbox = &req.mailboxes[i];
                outcomes[i] = Some(outcome.or_else(|e| {
                    match self.cache.stale(mailbox, &days, req.details).filter(|_| upstream_trouble(&e)) {
                        Some(hit) => {
                            self.metrics.cache(&self.name, "stale");
                            ages[i] = Some(age(hit.fetched_at));
                            stale[i] = Some(e);
                            Ok(from_cache(hit))
                        }
                        None => Err(e),
                    }
                }));
            }
        }
        let mut resp = respond(req, outcomes.into_iter().map(|o| o.expect("every mailbox answered")).collect());
        for ((result, age), stale) in resp.mailboxes.iter_mut().zip(ages).zip(stale) {
            result.cache_age_seconds = age;
            result.stale = stale;
        }
        self.count_errors(&resp);
        resp
    }

    /// [`Self::fetch`] over whole `days`, shared with identical requests already under way, its
    /// answers stored in the cache. The fetch runs as its own task, so a client that hangs up
    /// abandons neither the others waiting for it nor the cache.
    async fn fetch_shared(self: &Arc<Self>, req: FreeBusyRequest, days: std::ops::Range<i64>) -> Vec<MailboxOutcome> {
        let key = format!(
            "{}|{}|{}|{}",
            req.details,
            req.window.start,
            req.window.end,
            req.mailboxes.iter().map(|m| m.to_ascii_lowercase()).collect::<Vec<_>>().join(",")
        );
        let flight = {
            let mut in_flight = self.in_flight.lock().expect("in-flight lock");
            in_flight
                .entry(key.clone())
                .or_insert_with(|| {
                    let tenant = self.clone();
                    let mailboxes = req.mailboxes.len();
                    // The task removes its entry when done; it cannot before this lock is released.
                    let task = tokio::spawn(async move {
                        let outcomes = tenant.fetch(&req).await;
                        for (mailbox, outcome) in req.mailboxes.iter().zip(&outcomes) {
                            if let Ok(s) = outcome {
                                tenant.cache.store(mailbox, &days, req.details, &s.blocks, s.working_hours.as_ref());
                            }
                        }
                        tenant.in_flight.lock().expect("in-flight lock").remove(&key);
                        outcomes
                    });
                    async move {
                        task.await.unwrap_or_else(|e| {
                            let fault = MailboxError::new("provider-fault", format!("the fetch failed: {e}"));
                            vec![Err(fault); mailboxes]
                        })
                    }
                    .boxed()
                    .shared()
                })
                .clone()
        };
        flight.await
    }

    /// Split by the provider's limits, call (concurrently, within the tenant's cap), retry
    /// throttled calls, and join the answers per mailbox.
    async fn fetch(&self, req: &FreeBusyRequest) -> Vec<MailboxOutcome> {
        use std::sync::atomic::Ordering;
        let pieces = plan(req, self.max_mailboxes, self.max_window_days);
        let mut results = Vec::with_capacity(pieces.len());
        let mut rest = &pieces[..];
        if !self.warm.load(Ordering::Relaxed) && pieces.len() > 1 {
            results.push(self.call_with_retries(&pieces[0], req).await);
            rest = &pieces[1..];
        }
        results.extend(futures::future::join_all(rest.iter().map(|p| self.call_with_retries(p, req))).await);
        if results.iter().any(Result::is_ok) {
            self.warm.store(true, Ordering::Relaxed);
        }
        self.persist_updated_settings();
        join(req, &pieces, results)
    }

    /// Count a finished provider call by its outcome.
    fn observe<T>(&self, operation: &str, started: Instant, result: &Result<T, CallError>) {
        let outcome = match result {
            Ok(_) => "ok".to_string(),
            Err(e) => call_error(e).code,
        };
        self.metrics.call(&self.name, operation, &outcome, started.elapsed());
    }

    /// Count the mailboxes a response could not read.
    fn count_errors(&self, resp: &FreeBusyResponse) {
        for error in resp.mailboxes.iter().filter_map(|m| m.error.as_ref()) {
            self.metrics.mailbox_error(&self.name, &error.code);
        }
    }

    async fn call_with_retries(&self, piece: &Piece, req: &FreeBusyRequest) -> PieceResult {
        let query = query(piece, req);
        let mut attempt = 0;
        loop {
            let result = {
                let _permit = self.calls.acquire().await.expect("semaphore never closed");
                let started = Instant::now();
                let result = self.provider.get_schedules(&self.ctx, query.clone()).await;
                self.observe("get-schedules", started, &result);
                result
            };
            match result {
                Ok(schedules) => return Ok(schedules.iter().map(answer).collect()),
                Err(CallError::Provider(wit::ProviderError::Throttled(after))) => {
                    match throttle_retry_delay_ms(attempt, after) {
                        Some(ms) => {
                            tracing::info!(tenant = self.name.as_str(), wait_ms = ms, "upstream throttled; retrying");
                            self.metrics.retry(&self.name);
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                            attempt += 1;
                        }
                        None => return Err(ProviderFailure::Throttled(after).to_mailbox_error()),
                    }
                }
                Err(e) => {
                    tracing::warn!(tenant = self.name.as_str(), error = %e, "provider call failed");
                    return Err(call_error(&e));
                }
            }
        }
    }
}

/// Failures of the upstream or the provider, during which a stale answer beats none; not an
/// unknown mailbox or a refused permission, which an old answer would hide.
fn upstream_trouble(e: &MailboxError) -> bool {
    matches!(e.code.as_str(), "throttled" | "unavailable" | "provider-timeout" | "provider-fault")
}

/// A whole-call failure as the error of each mailbox in the call.
fn call_error(e: &CallError) -> MailboxError {
    match e {
        CallError::Provider(p) => failure(p).to_mailbox_error(),
        CallError::OutboundDenied { .. } => MailboxError::new("outbound-denied", e.to_string()),
        CallError::Timeout(_) => MailboxError::new("provider-timeout", e.to_string()),
        CallError::Trap(_) => MailboxError::new("provider-fault", e.to_string()),
    }
}
