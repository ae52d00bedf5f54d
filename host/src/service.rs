//! Every tenant the service serves, from the config file and the store, swapped whole when either
//! changes: a reload (SIGHUP, `POST /v1/admin/reload`) or another process writing the store
//! (`freebusy keys create`, `freebusy tenants add`, a `freebusy check` that succeeded) builds a new
//! [`Snapshot`] and swaps it in; requests in flight finish on the snapshot they started with.
//! Tenants whose definition did not change are carried over with their cache, circuit and
//! tokens; provider components are compiled once per file.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use freebusy_core::api::{FreeBusyRequest, FreeBusyResponse, Problem};

use crate::auth::keys::Keyring;
use crate::config::{LoadedConfig, TenantSection};
use crate::metrics::Metrics;
use crate::runtime::{Provider, Runtime};
use crate::store::Store;
use crate::tenant::setup::{self, BuildContext};
use crate::tenant::Tenant;

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

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::UnknownTenant(t) => Problem::unknown_tenant(&t),
            ServiceError::NoDefaultTenant => Problem::no_default_tenant(),
        }
    }
}

/// Where the configuration comes from, for reloads.
pub enum ConfigSource {
    /// A file, read again on every reload.
    File(PathBuf),
    /// A configuration given once (tests, the demo): reloads re-read only the store.
    Loaded(Box<LoadedConfig>),
}

impl ConfigSource {
    fn load(&self) -> anyhow::Result<LoadedConfig> {
        match self {
            ConfigSource::File(path) => LoadedConfig::from_file(path),
            ConfigSource::Loaded(loaded) => Ok((**loaded).clone()),
        }
    }
}

/// Every tenant at one moment.
pub struct Snapshot {
    /// The configuration it was built from.
    pub config: LoadedConfig,
    tenants: BTreeMap<String, Arc<Tenant>>,
    default_tenant: Option<String>,
}

impl Snapshot {
    /// A tenant by name, or the default one.
    pub fn tenant(&self, name: Option<&str>) -> Result<&Arc<Tenant>, ServiceError> {
        match name {
            Some(n) => self.tenants.get(n).ok_or_else(|| ServiceError::UnknownTenant(n.to_string())),
            None => {
                self.default_tenant.as_deref().and_then(|n| self.tenants.get(n)).ok_or(ServiceError::NoDefaultTenant)
            }
        }
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.tenants.values()
    }
}

/// What a reload changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReloadReport {
    /// Tenants served now that were not before.
    pub added: Vec<String>,
    /// Tenants whose definition changed (they start with an empty cache and a closed circuit).
    pub changed: Vec<String>,
    /// Tenants no longer served.
    pub removed: Vec<String>,
}

/// The service.
pub struct Service {
    runtime: Runtime,
    metrics: Arc<Metrics>,
    source: ConfigSource,
    store: Arc<Store>,
    keyring: Arc<Keyring>,
    current: ArcSwap<Snapshot>,
    providers: tokio::sync::Mutex<HashMap<PathBuf, Arc<Provider>>>,
    reloading: tokio::sync::Mutex<()>,
    store_version: AtomicI64,
    /// Keys that opened a request since the last flush, with when.
    key_use: Mutex<HashMap<String, i64>>,
    /// State shared with other instances (`[shared]`, read at start).
    shared: Option<Arc<crate::shared::Shared>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Service {
    /// Load the configuration, open the store, compile each provider component once and set up
    /// every tenant.
    pub async fn new(source: ConfigSource, runtime: &Runtime) -> anyhow::Result<Service> {
        let loaded = source.load()?;
        let store = Arc::new(loaded.open_store()?);
        let keyring = Arc::new(Keyring::default());
        keyring.replace_all(store.keys()?);
        let version = store.data_version()?;
        let metrics = Arc::new(Metrics::default());
        let shared = crate::shared::Shared::new(&loaded.config.shared)?;
        let empty = Snapshot { config: loaded.clone(), tenants: BTreeMap::new(), default_tenant: None };
        let service = Service {
            runtime: runtime.clone(),
            metrics,
            source,
            store,
            keyring,
            current: ArcSwap::from_pointee(empty),
            providers: Default::default(),
            reloading: Default::default(),
            store_version: AtomicI64::new(version),
            key_use: Default::default(),
            shared,
        };
        let snapshot = service.build(loaded).await?.0;
        service.current.store(Arc::new(snapshot));
        Ok(service)
    }

    /// [`Service::new`] for a configuration already loaded (reloads re-read only the store).
    pub async fn from_config(loaded: &LoadedConfig, runtime: &Runtime) -> anyhow::Result<Service> {
        Service::new(ConfigSource::Loaded(Box::new(loaded.clone())), runtime).await
    }

    /// The host's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The shared store, when configured.
    pub fn shared(&self) -> Option<&Arc<crate::shared::Shared>> {
        self.shared.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Every API key, in memory.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The tenants now. Hold the snapshot for the length of one request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// A tenant by name, or the default one, as of now.
    pub fn tenant(&self, name: Option<&str>) -> Result<Arc<Tenant>, ServiceError> {
        self.snapshot().tenant(name).cloned()
    }

    /// Every tenant, as of now.
    pub fn tenants(&self) -> Vec<Arc<Tenant>> {
        self.snapshot().tenants().cloned().collect()
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

    /// Note that key `id` opened a request now (written to the store by [`Service::maintain`]).
    pub fn key_used(&self, id: &str) {
        self.key_use.lock().expect("key use lock").insert(id.to_string(), now_ms());
    }

    /// Re-read the configuration file (when there is one) and the store, and serve what they say.
    /// An invalid file is refused with its error and the running configuration stays.
    pub async fn reload(&self) -> anyhow::Result<ReloadReport> {
        let loaded = self.source.load()?;
        self.reload_with(loaded).await
    }

    /// Re-read the store only, keeping the configuration the current snapshot was built from.
    pub async fn reload_store(&self) -> anyhow::Result<ReloadReport> {
        let loaded = self.snapshot().config.clone();
        self.reload_with(loaded).await
    }

    async fn reload_with(&self, loaded: LoadedConfig) -> anyhow::Result<ReloadReport> {
        let _one_at_a_time = self.reloading.lock().await;
        self.keyring.replace_all(self.store.keys()?);
        let (snapshot, report) = self.build(loaded).await?;
        self.current.store(Arc::new(snapshot));
        if report != ReloadReport::default() {
            tracing::info!(added = ?report.added, changed = ?report.changed, removed = ?report.removed, "reloaded");
        }
        Ok(report)
    }

    /// Build a snapshot from `loaded` and the store's tenants, reusing unchanged tenants of the
    /// current one.
    async fn build(&self, loaded: LoadedConfig) -> anyhow::Result<(Snapshot, ReloadReport)> {
        let mut sections: BTreeMap<String, TenantSection> = loaded.config.tenants.clone();
        for stored in self.store.tenants()? {
            if sections.contains_key(&stored.name) {
                anyhow::bail!(
                    "tenant '{}' is configured in the file and kept in the store ({}): remove one \
                     (freebusy tenants remove {} removes the stored one)",
                    stored.name,
                    self.store.path().display(),
                    stored.name
                );
            }
            sections.insert(stored.name.clone(), stored.section);
        }
        let previous = self.snapshot();
        let ctx = BuildContext {
            base_dir: loaded.base_dir.clone(),
            cache: loaded.config.cache.clone(),
            metrics: self.metrics.clone(),
            store: self.store.clone(),
            probe_interval: loaded.config.circuit.probe_interval,
            shared: self.shared.clone(),
            mailbox_concurrency: loaded.config.shared.mailbox_concurrency,
            call_timeout: self.runtime.settings().call_timeout,
        };
        let mut tenants = BTreeMap::new();
        let mut report = ReloadReport::default();
        for (name, section) in &sections {
            let path = loaded.component_path(&section.provider).with_context(|| {
                format!(
                    "tenant '{name}' uses provider '{}', which has no [providers.{}] entry",
                    section.provider, section.provider
                )
            })?;
            let provider = self.provider(&path).await?;
            let definition = setup::definition(name, section, &path, &ctx)?;
            match previous.tenants.get(name) {
                Some(t) if t.definition == definition => {
                    tenants.insert(name.clone(), t.clone());
                    continue;
                }
                Some(_) => report.changed.push(name.clone()),
                None => report.added.push(name.clone()),
            }
            let tenant = setup::build(name, section, provider, &path, definition, &ctx)
                .with_context(|| format!("tenant '{name}'"))?;
            tenants.insert(name.clone(), Arc::new(tenant));
        }
        report.removed = previous.tenants.keys().filter(|n| !tenants.contains_key(*n)).cloned().collect();
        if tenants.is_empty() && self.store.tenants()?.is_empty() && loaded.config.tenants.is_empty() {
            tracing::warn!("no tenants configured: add [tenants.<name>] to the config or use freebusy tenants add");
        }
        let default_tenant = loaded
            .config
            .default_tenant
            .clone()
            .or_else(|| (tenants.len() == 1).then(|| tenants.keys().next().cloned()).flatten());
        Ok((Snapshot { config: loaded, tenants, default_tenant }, report))
    }

    /// The compiled component at `path`, compiling it the first time.
    async fn provider(&self, path: &std::path::Path) -> anyhow::Result<Arc<Provider>> {
        let mut providers = self.providers.lock().await;
        if let Some(p) = providers.get(path) {
            return Ok(p.clone());
        }
        let p = Arc::new(self.runtime.load_file(path).await?);
        providers.insert(path.to_path_buf(), p.clone());
        Ok(p)
    }

    /// Background upkeep, every `every`: notice what other processes wrote to the store (keys,
    /// tenants, successful checks) and write down which keys were used. Runs until dropped.
    pub async fn maintain(self: Arc<Self>, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_flush = std::time::Instant::now();
        loop {
            ticks.tick().await;
            if let Err(e) = self.notice_store_changes().await {
                tracing::warn!(error = %format!("{e:#}"), "reading the store's changes failed");
            }
            if last_flush.elapsed() >= Duration::from_secs(60) {
                last_flush = std::time::Instant::now();
                self.flush_key_use();
            }
        }
    }

    /// Reload from the store when another process changed it.
    pub async fn notice_store_changes(&self) -> anyhow::Result<()> {
        let version = self.store.data_version()?;
        if self.store_version.swap(version, Ordering::SeqCst) == version {
            return Ok(());
        }
        self.reload_store().await?;
        let health = self.store.health()?;
        let now = now_ms();
        for tenant in self.tenants() {
            tenant.circuit.close_if_checked(&health, now);
        }
        Ok(())
    }

    /// Write down when keys were last used.
    pub fn flush_key_use(&self) {
        let used: Vec<(String, i64)> = self.key_use.lock().expect("key use lock").drain().collect();
        if !used.is_empty() {
            if let Err(e) = self.store.touch_keys(&used) {
                tracing::warn!(error = %e, "could not record when keys were used");
            }
        }
    }
}
