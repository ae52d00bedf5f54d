//! The wasmtime side of the host: one [`Engine`] and [`Linker`] for every provider, each
//! provider compiled once into an `InstancePre`, and a fresh `Store` per call with a memory
//! limit, an epoch deadline and the call's outbound allow-list.
//!
//! Generated bindings never leave this module: each contract version has one `since_v*` module
//! holding its bindgen and its conversions to core's types (as Zed's extension host keeps one
//! module per extension API version), and [`Provider`] takes and returns core types only.

pub mod keyvalue;
pub mod outbound;
pub mod provider;
mod since_v0_1_0;
mod since_v0_2_0;
mod since_v0_3_0;
pub mod state;
mod unchanged;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use provider::{CallContext, Provider};
use state::HostState;

/// How often the epoch advances; a call's deadline is checked at this granularity, and a busy
/// guest yields to other tasks this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Runtime limits and tuning: the `[runtime]` table of the config, with one default per setting.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSettings {
    /// Pre-reserve instance slots (fast instantiation) instead of allocating per call.
    pub pooling: bool,
    /// Most linear memory one call may use (`memory_limit_mb` in the config).
    #[serde(rename = "memory_limit_mb", deserialize_with = "crate::config::mebibytes")]
    pub memory_limit_bytes: usize,
    /// Longest one call may take, HTTP waits included (`call_timeout_secs`).
    #[serde(rename = "call_timeout_secs", deserialize_with = "crate::config::seconds")]
    pub call_timeout: Duration,
    /// Instances alive at once (pooling slots).
    pub max_instances: u32,
    /// PEM files of CA certificates to trust besides the public roots (an internal CA in front of
    /// on-premises Exchange, a TLS-inspecting proxy); relative paths start at the config file.
    pub extra_ca_certificates: Vec<std::path::PathBuf>,
    /// Fixed addresses for upstream host names, used before DNS (like `curl --resolve`):
    /// `resolve = { "graph.microsoft.us" = "10.0.0.5:443" }`. TLS still verifies the name.
    pub resolve: std::collections::HashMap<String, std::net::SocketAddr>,
    /// Keep compiled components on disk (wasmtime's cache), so that a restart loads them instead
    /// of compiling.
    pub compile_cache: bool,
    /// Where; `None` is wasmtime's per-user cache directory.
    pub compile_cache_dir: Option<std::path::PathBuf>,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            pooling: true,
            memory_limit_bytes: 64 << 20,
            call_timeout: Duration::from_secs(30),
            max_instances: 256,
            extra_ca_certificates: Vec::new(),
            resolve: std::collections::HashMap::new(),
            compile_cache: true,
            compile_cache_dir: None,
        }
    }
}

/// Advances the engine's epoch until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("freebusy-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawn epoch thread");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub(crate) struct Shared {
    pub engine: Engine,
    pub egress: outbound::Egress,
    pub linker: Linker<HostState>,
    pub settings: RuntimeSettings,
    _ticker: EpochTicker,
}

/// Loads and runs provider components.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

impl Runtime {
    /// A runtime with its engine, linker and epoch ticker.
    pub fn new(settings: RuntimeSettings) -> anyhow::Result<Runtime> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true).epoch_interruption(true);
        if settings.pooling {
            let mut pool = PoolingAllocationConfig::new();
            let n = settings.max_instances;
            // A Rust provider is one component holding a few core instances (the program, the
            // WASI adapter, shims), two memories and a handful of tables.
            pool.total_component_instances(n)
                .total_core_instances(n * 8)
                .total_memories(n * 2)
                .total_tables(n * 8)
                .max_memory_size(settings.memory_limit_bytes);
            // A provider's tables are a few KiB: zeroing them in place (a plain memset, whatever
            // state their pages are in) is cheaper than handing the pages back and faulting them
            // in again (about 3 µs of a 28 µs call, in alternated runs with and without it).
            pool.table_keep_resident(64 << 10);
            // Linear memory is handed back with madvise and faults in again on the next call, a
            // third of a pooled call. Resetting only the written pages in place (`pagemap_scan`
            // with `linear_memory_keep_resident`) measured 12.8 µs against 25.8 (scripts/bench
            // --only calls at commit 22d7e42, benches/RESULTS.md at f093983), but wasmtime 48
            // skips written pages that are swapped out or mid-migration, leaving one call's data
            // for the next (bytecodealliance/wasmtime#14357, open); batching decommits holds
            // freed slots' memory until a batch fills; a blind memset would rewrite the Rust
            // stack's whole first MiB every call. None is used.
            wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        if settings.compile_cache {
            let mut cache = wasmtime::CacheConfig::new();
            if let Some(dir) = &settings.compile_cache_dir {
                cache.with_directory(dir);
            }
            let cache = wasmtime::Cache::new(cache).map_err(|e| anyhow::anyhow!("the compile cache: {e}"))?;
            wasm.cache(Some(cache));
        }
        let engine = Engine::new(&wasm).map_err(|e| anyhow::anyhow!("creating the wasmtime engine: {e}"))?;
        let mut linker = Linker::<HostState>::new(&engine);
        // WASI for what Rust's std imports (clocks, random, an empty environment); sockets and
        // files are switched off in each call's WasiCtx.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("{e}"))?;
        keyvalue::bindings::wasi::keyvalue::store::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let egress = outbound::Egress::new(&settings.extra_ca_certificates, &settings.resolve)?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Runtime { shared: Arc::new(Shared { engine, egress, linker, settings, _ticker: ticker }) })
    }

    /// The runtime's settings.
    pub fn settings(&self) -> &RuntimeSettings {
        &self.shared.settings
    }

    /// Compile and pre-instantiate a provider component from a file, and ask it to describe
    /// itself.
    pub async fn load_file(&self, path: &Path) -> anyhow::Result<Provider> {
        let bytes = std::fs::read(path).with_context(|| format!("reading provider component {}", path.display()))?;
        self.load(&bytes).await.with_context(|| format!("loading provider component {}", path.display()))
    }

    /// Compile and pre-instantiate a provider component.
    pub async fn load(&self, bytes: &[u8]) -> anyhow::Result<Provider> {
        let component = Component::new(&self.shared.engine, bytes).map_err(|e| anyhow::anyhow!("compiling: {e}"))?;
        Provider::new(self.shared.clone(), &component).await
    }
}
