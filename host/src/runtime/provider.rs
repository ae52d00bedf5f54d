//! A loaded provider component and its calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::Component;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};

use super::bindings::exports::freebusy::provider::provider::{
    DirectoryEntry, EntryKind, Health, ProviderInfo, Query, Schedule,
};
use super::bindings::freebusy::provider::types::ProviderError;
use super::bindings::{v0_1, CalendarProviderPre};
use super::keyvalue;
use super::legacy;
use super::outbound::AllowList;
use super::state::HostState;
use super::Shared;

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

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The provider answered with an error.
    #[error("{}", describe(.0))]
    Provider(ProviderError),
    /// The provider tried to reach an origin outside its allow-list and failed.
    #[error("the provider tried to reach {origins}, which is not among its allowed hosts ({said})", origins = .origins.join(", "))]
    OutboundDenied {
        /// Refused origins.
        origins: Vec<String>,
        /// What the provider reported.
        said: String,
    },
    /// The call ran past its deadline and was stopped.
    #[error("the provider did not answer within {0:?} and was stopped")]
    Timeout(Duration),
    /// The component trapped (a bug or a resource limit): reported, never retried.
    #[error("the provider component failed: {0}")]
    Trap(String),
}

/// A provider error in words, for people.
pub fn describe(error: &ProviderError) -> String {
    super::convert::failure(error).to_mailbox_error().message
}

/// A compiled, pre-instantiated provider, bound to the contract version it exports.
pub struct Provider {
    shared: Arc<Shared>,
    pre: Versioned,
    info: ProviderInfo,
}

/// The contract version a component exports; calls are made in the current version's terms.
enum Versioned {
    /// `freebusy:provider@0.2.0`.
    Current(CalendarProviderPre<HostState>),
    /// `freebusy:provider@0.1.0`, adapted by [`legacy`].
    V0_1(v0_1::CalendarProviderPre<HostState>),
}

/// What a call runs once its store is ready: instantiate, call, convert.
type CallBody<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = wasmtime::Result<Result<T, ProviderError>>> + Send + 'a>>;

impl Provider {
    pub(crate) async fn new(shared: Arc<Shared>, component: &Component) -> anyhow::Result<Provider> {
        let instance_pre = shared.linker.instantiate_pre(component).map_err(|e| anyhow::anyhow!("linking: {e}"))?;
        let pre = match CalendarProviderPre::new(instance_pre.clone()) {
            Ok(pre) => Versioned::Current(pre),
            Err(current) => Versioned::V0_1(v0_1::CalendarProviderPre::new(instance_pre).map_err(|_| {
                anyhow::anyhow!(
                    "the component exports no supported freebusy:provider version (0.2.0: {current}; 0.1.0 neither)"
                )
            })?),
        };
        let mut provider = Provider { shared, pre, info: placeholder_info() };
        let ctx = CallContext { settings: Vec::new(), allowed_origins: Vec::new(), kv: keyvalue::Store::default() };
        provider.info = provider
            .call(&ctx, |pre, store| {
                Box::pin(async move {
                    Ok(Ok(match pre {
                        Versioned::Current(pre) => {
                            let p = pre.instantiate_async(&mut *store).await?;
                            p.freebusy_provider_provider().call_describe(store).await?
                        }
                        Versioned::V0_1(pre) => {
                            let p = pre.instantiate_async(&mut *store).await?;
                            legacy::info(p.freebusy_provider_provider().call_describe(store).await?)
                        }
                    }))
                })
            })
            .await
            .map_err(|e| anyhow::anyhow!("describe failed: {e}"))?;
        Ok(provider)
    }

    /// The contract version the component was built against.
    pub fn contract_version(&self) -> &'static str {
        match self.pre {
            Versioned::Current(_) => "0.2.0",
            Versioned::V0_1(_) => "0.1.0",
        }
    }

    /// What the provider said about itself when loaded.
    pub fn info(&self) -> &ProviderInfo {
        &self.info
    }

    /// Free/busy for a query within the provider's limits.
    pub async fn get_schedules(&self, ctx: &CallContext, query: Query) -> Result<Vec<Schedule>, CallError> {
        let settings = ctx.settings.clone();
        self.call(ctx, move |pre, store| {
            Box::pin(async move {
                match pre {
                    Versioned::Current(pre) => {
                        let p = pre.instantiate_async(&mut *store).await?;
                        p.freebusy_provider_provider().call_get_schedules(store, &settings, &query).await
                    }
                    Versioned::V0_1(pre) => {
                        let p = pre.instantiate_async(&mut *store).await?;
                        let answer = p
                            .freebusy_provider_provider()
                            .call_get_schedules(store, &settings, &legacy::query(&query))
                            .await?;
                        Ok(answer.map(|s| s.into_iter().map(legacy::schedule).collect()).map_err(legacy::error))
                    }
                }
            })
        })
        .await
    }

    /// Validate settings and credentials.
    pub async fn check(&self, ctx: &CallContext) -> Result<Health, CallError> {
        let settings = ctx.settings.clone();
        self.call(ctx, move |pre, store| {
            Box::pin(async move {
                match pre {
                    Versioned::Current(pre) => {
                        let p = pre.instantiate_async(&mut *store).await?;
                        p.freebusy_provider_provider().call_check(store, &settings).await
                    }
                    Versioned::V0_1(pre) => {
                        let p = pre.instantiate_async(&mut *store).await?;
                        let answer = p.freebusy_provider_provider().call_check(store, &settings).await?;
                        Ok(answer.map(legacy::health).map_err(legacy::error))
                    }
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
    ) -> Result<Vec<DirectoryEntry>, CallError> {
        let settings = ctx.settings.clone();
        self.call(ctx, move |pre, store| {
            Box::pin(async move {
                match pre {
                    Versioned::Current(pre) => {
                        let p = pre.instantiate_async(&mut *store).await?;
                        p.freebusy_provider_provider().call_search_directory(store, &settings, &prefix, kind, max).await
                    }
                    Versioned::V0_1(pre) => {
                        let p = pre.instantiate_async(&mut *store).await?;
                        let answer = p
                            .freebusy_provider_provider()
                            .call_search_directory(store, &settings, &prefix, legacy::entry_kind(kind), max)
                            .await?;
                        Ok(answer.map(|e| e.into_iter().map(legacy::entry).collect()).map_err(legacy::error))
                    }
                }
            })
        })
        .await
    }

    /// Run one call in a fresh store: `f` instantiates from the `InstancePre` and calls; the
    /// store (and the instance) is dropped afterwards.
    async fn call<T, F>(&self, ctx: &CallContext, f: F) -> Result<T, CallError>
    where
        T: Send,
        F: for<'a> FnOnce(&'a Versioned, &'a mut Store<HostState>) -> CallBody<'a, T> + Send,
    {
        let config = &self.shared.config;
        let limits =
            StoreLimitsBuilder::new().memory_size(config.memory_limit_bytes).trap_on_grow_failure(true).build();
        let outbound = AllowList::new(ctx.allowed_origins.clone(), self.shared.egress.clone());
        let mut store = Store::new(&self.shared.engine, HostState::new(outbound.clone(), ctx.kv.clone(), limits));
        store.limiter(|s| &mut s.limits);
        let timeout = config.call_timeout;
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
        let run = f(&self.pre, &mut store);
        let outcome = tokio::time::timeout(timeout + Duration::from_millis(100), run).await;
        let denied = outbound.denied();
        match outcome {
            Err(_) => Err(CallError::Timeout(timeout)),
            Ok(Err(_)) if Instant::now() >= deadline => Err(CallError::Timeout(timeout)),
            Ok(Err(trap)) => Err(CallError::Trap(trap_summary(&trap))),
            Ok(Ok(Err(e))) if !denied.is_empty() => {
                Err(CallError::OutboundDenied { origins: denied, said: describe(&e) })
            }
            Ok(Ok(Err(e))) => Err(CallError::Provider(e)),
            Ok(Ok(Ok(value))) => Ok(value),
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

fn placeholder_info() -> ProviderInfo {
    use super::bindings::freebusy::provider::types::Limits;
    ProviderInfo {
        name: String::new(),
        version: String::new(),
        description: String::new(),
        limits: Limits { max_mailboxes: 1, max_window_days: 1, upstream_max_mailboxes: 1 },
        settings: Vec::new(),
        endpoint_settings: Vec::new(),
    }
}
