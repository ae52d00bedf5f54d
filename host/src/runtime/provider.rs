//! A loaded provider component and its calls, in core's types: whatever contract version the
//! component exports, callers see [`Query`], [`MailboxAnswer`] and [`CallFailure`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use freebusy_core::api::{DirectoryEntry, EntryKind};
use freebusy_core::provider::{CallFailure, Health, Limits, MailboxAnswer, ProviderInfo, Query, SignIn};
use wasmtime::component::Component;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};

use super::keyvalue;
use super::outbound::AllowList;
use super::state::HostState;
use super::{since_v0_1_0, since_v0_2_0, since_v0_3_0, Shared};

/// What a call needs besides its arguments.
#[derive(Clone)]
pub struct CallContext {
    /// Settings passed to the provider.
    pub settings: Vec<(String, String)>,
    /// Normalized origins (`https://host:443`) the provider may reach.
    pub allowed_origins: Vec<String>,
    /// The tenant's key-value store.
    pub kv: keyvalue::Store,
}

impl CallContext {
    /// No settings, no outbound hosts, an empty store (for `describe` and tests).
    pub fn empty() -> Self {
        CallContext { settings: Vec::new(), allowed_origins: Vec::new(), kv: keyvalue::Store::default() }
    }
}

/// A compiled, pre-instantiated provider, bound to the contract version it exports.
pub struct Provider {
    shared: Arc<Shared>,
    component: Versioned,
    info: ProviderInfo,
}

/// The contract version a component exports (one variant per `since_v*` module, newest first).
enum Versioned {
    V0_3(since_v0_3_0::Component),
    V0_2(since_v0_2_0::Component),
    V0_1(since_v0_1_0::Component),
}

/// What a call runs once its store is ready: instantiate, call, convert.
type CallBody<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = wasmtime::Result<Result<T, CallFailure>>> + Send + 'a>>;

impl Provider {
    pub(crate) async fn new(shared: Arc<Shared>, component: &Component) -> anyhow::Result<Provider> {
        let pre = shared.linker.instantiate_pre(component).map_err(|e| anyhow::anyhow!("linking: {e}"))?;
        let component = if let Ok(c) = since_v0_3_0::Component::new(pre.clone()) {
            Versioned::V0_3(c)
        } else if let Ok(c) = since_v0_2_0::Component::new(pre.clone()) {
            Versioned::V0_2(c)
        } else {
            match since_v0_1_0::Component::new(pre.clone()) {
                Ok(c) => Versioned::V0_1(c),
                Err(_) => {
                    let why = since_v0_3_0::Component::new(pre).err().map(|e| e.to_string()).unwrap_or_default();
                    anyhow::bail!(
                        "the component exports no supported freebusy:provider version (0.3.0: {why}; 0.2.0 and 0.1.0 neither)"
                    )
                }
            }
        };
        let placeholder = ProviderInfo {
            name: String::new(),
            version: String::new(),
            description: String::new(),
            limits: Limits { max_mailboxes: 1, max_window_days: 1, upstream_max_mailboxes: 1 },
            settings: Vec::new(),
            endpoint_settings: Vec::new(),
        };
        let mut provider = Provider { shared, component, info: placeholder };
        provider.info = provider
            .call(&CallContext::empty(), |component, store| {
                Box::pin(async move {
                    Ok(Ok(match component {
                        Versioned::V0_3(c) => c.describe(store).await?,
                        Versioned::V0_2(c) => c.describe(store).await?,
                        Versioned::V0_1(c) => c.describe(store).await?,
                    }))
                })
            })
            .await
            .map_err(|e| anyhow::anyhow!("describe failed: {e}"))?;
        Ok(provider)
    }

    /// The contract version the component was built against.
    pub fn contract_version(&self) -> &'static str {
        match self.component {
            Versioned::V0_3(_) => "0.3.0",
            Versioned::V0_2(_) => "0.2.0",
            Versioned::V0_1(_) => "0.1.0",
        }
    }

    /// What the provider said about itself when loaded.
    pub fn info(&self) -> &ProviderInfo {
        &self.info
    }

    /// Free/busy for a query within the provider's limits.
    pub async fn get_schedules(&self, ctx: &CallContext, query: Query) -> Result<Vec<MailboxAnswer>, CallFailure> {
        let settings = ctx.settings.clone();
        self.call(ctx, move |component, store| {
            Box::pin(async move {
                match component {
                    Versioned::V0_3(c) => c.get_schedules(store, &settings, &query).await,
                    Versioned::V0_2(c) => c.get_schedules(store, &settings, &query).await,
                    Versioned::V0_1(c) => c.get_schedules(store, &settings, &query).await,
                }
            })
        })
        .await
    }

    /// Validate settings and credentials.
    pub async fn check(&self, ctx: &CallContext) -> Result<Health, CallFailure> {
        let settings = ctx.settings.clone();
        self.call(ctx, move |component, store| {
            Box::pin(async move {
                match component {
                    Versioned::V0_3(c) => c.check(store, &settings).await,
                    Versioned::V0_2(c) => c.check(store, &settings).await,
                    Versioned::V0_1(c) => c.check(store, &settings).await,
                }
            })
        })
        .await
    }

    /// People or rooms by prefix.
    pub async fn search_directory(
        &self,
        ctx: &CallContext,
        prefix: String,
        kind: EntryKind,
        max: u32,
    ) -> Result<Vec<DirectoryEntry>, CallFailure> {
        let settings = ctx.settings.clone();
        self.call(ctx, move |component, store| {
            Box::pin(async move {
                match component {
                    Versioned::V0_3(c) => c.search_directory(store, &settings, &prefix, kind, max).await,
                    Versioned::V0_2(c) => c.search_directory(store, &settings, &prefix, kind, max).await,
                    Versioned::V0_1(c) => c.search_directory(store, &settings, &prefix, kind, max).await,
                }
            })
        })
        .await
    }

    /// How a user signs in for delegated access with these settings (`None`: they use none).
    /// Components older than 0.3.0 cannot say; that is an `Unsupported` failure.
    pub async fn delegated_sign_in(&self, ctx: &CallContext) -> Result<Option<SignIn>, CallFailure> {
        let settings = ctx.settings.clone();
        let version = self.contract_version();
        self.call(ctx, move |component, store| {
            Box::pin(async move {
                match component {
                    Versioned::V0_3(c) => c.delegated_sign_in(store, &settings).await,
                    Versioned::V0_2(_) | Versioned::V0_1(_) => Ok(Err(CallFailure::Unsupported(format!(
                        "the component implements freebusy:provider@{version}, which does not describe a \
                         delegated sign-in; rebuild it against 0.3.0 or later"
                    )))),
                }
            })
        })
        .await
    }

    /// Run one call in a fresh store: `f` instantiates from the `InstancePre` and calls; the
    /// store (and the instance) is dropped afterwards.
    async fn call<T, F>(&self, ctx: &CallContext, f: F) -> Result<T, CallFailure>
    where
        T: Send,
        F: for<'a> FnOnce(&'a Versioned, &'a mut Store<HostState>) -> CallBody<'a, T> + Send,
    {
        let settings = &self.shared.settings;
        let limits =
            StoreLimitsBuilder::new().memory_size(settings.memory_limit_bytes).trap_on_grow_failure(true).build();
        let outbound = AllowList::new(ctx.allowed_origins.clone(), self.shared.egress.clone());
        let mut store = Store::new(&self.shared.engine, HostState::new(outbound.clone(), ctx.kv.clone(), limits));
        store.limiter(|s| &mut s.limits);
        let timeout = settings.call_timeout;
        let deadline = Instant::now() + timeout;
        // Every tick a running guest yields to the executor; past the deadline it traps. HTTP
        // waits happen in host futures, which the outer timeout below bounds.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(wasmtime::Error::msg("deadline exceeded"))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let run = f(&self.component, &mut store);
        let outcome = tokio::time::timeout(timeout + Duration::from_millis(100), run).await;
        let denied = outbound.denied();
        match outcome {
            Err(_) => Err(CallFailure::Timeout(timeout)),
            Ok(Err(_)) if Instant::now() >= deadline => Err(CallFailure::Timeout(timeout)),
            Ok(Err(trap)) => Err(CallFailure::Fault(trap_summary(&trap))),
            Ok(Ok(Err(e))) if !denied.is_empty() => {
                Err(CallFailure::OutboundDenied { origins: denied, said: e.to_string() })
            }
            Ok(Ok(result)) => result,
        }
    }
}

/// What trapped, without the guest backtrace: the trap kind ("wasm trap: call stack
/// exhausted", "unreachable" for a panic) or the root cause.
fn trap_summary(err: &wasmtime::Error) -> String {
    let text = match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{:#}", err.root_cause()),
    };
    let first = text.lines().next().unwrap_or("trap").to_string();
    if first.len() > 300 {
        format!("{}…", &first[..first.char_indices().nth(300).map_or(first.len(), |(i, _)| i)])
    } else {
        first
    }
}
