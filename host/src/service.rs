//! Tenants and the scheduler: a free/busy request becomes provider calls within the provider's
//! limits (mailboxes per call, days per window), run concurrently within the tenant's cap,
//! retried after throttling as the upstream asked, and put back together per mailbox.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use freebusy_core::api::{FreeBusyRequest, FreeBusyResponse, MailboxResult};
use freebusy_core::model::{Availability, Block, MailboxError, Weekday, Window, WorkingHours, DAY_MS};
use tokio::sync::Semaphore;

use crate::config::LoadedConfig;
use crate::runtime::bindings::exports::freebusy::provider::provider::Query;
use crate::runtime::bindings::freebusy::provider::types as wit;
use crate::runtime::outbound::normalize_origin;
use crate::runtime::{keyvalue, CallContext, CallError, Provider, Runtime};

/// Retries after a throttled answer, per provider call.
const MAX_THROTTLE_RETRIES: u32 = 2;
/// Longest wait honoured within one request; a longer Retry-After is reported instead.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
/// Back-off when the upstream throttled without saying for how long.
const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);

/// A tenant ready to serve.
pub struct Tenant {
    /// Name from the config.
    pub name: String,
    /// Its provider.
    pub provider: Arc<Provider>,
    ctx: CallContext,
    max_mailboxes: usize,
    max_window_ms: i64,
    calls: Semaphore,
}

impl Tenant {
    /// The call context (settings, allow-list, key-value store).
    pub fn context(&self) -> &CallContext {
        &self.ctx
    }
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
}

impl Service {
    /// Load every provider component once and set up each tenant.
    pub async fn from_config(loaded: &LoadedConfig, runtime: &Runtime) -> anyhow::Result<Service> {
        let mut providers: HashMap<String, Arc<Provider>> = HashMap::new();
        let mut tenants = BTreeMap::new();
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
            let tenant = build_tenant(name, section, provider, loaded).with_context(|| format!("tenant '{name}'"))?;
            tenants.insert(name.clone(), Arc::new(tenant));
        }
        let default_tenant = loaded
            .config
            .default_tenant
            .clone()
            .or_else(|| (tenants.len() == 1).then(|| tenants.keys().next().cloned()).flatten());
        Ok(Service { tenants, default_tenant })
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
) -> anyhow::Result<Tenant> {
    let info = provider.info();
    let mut settings = Vec::new();
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
        settings.push((key.clone(), value.resolve(&loaded.base_dir).with_context(|| format!("setting '{key}'"))?));
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
    let max_mailboxes =
        section.max_mailboxes_per_call.map_or(info.limits.max_mailboxes, |m| m.min(info.limits.max_mailboxes)).max(1);
    Ok(Tenant {
        name: name.to_string(),
        ctx: CallContext { settings, allowed_origins: allowed, kv: keyvalue::Store::default() },
        max_mailboxes: max_mailboxes as usize,
        max_window_ms: i64::from(info.limits.max_window_days.max(1)) * DAY_MS,
        calls: Semaphore::new(section.max_concurrent_calls),
        provider,
    })
}

/// What one provider call returned for its mailboxes.
type PieceResult = Result<Vec<wit::Schedule>, CallError>;

impl Tenant {
    /// Split, call, retry, and assemble.
    pub async fn freebusy(&self, req: &FreeBusyRequest) -> FreeBusyResponse {
        let windows = req.window.split(self.max_window_ms);
        let pieces: Vec<(&[String], Window)> = req
            .mailboxes
            .chunks(self.max_mailboxes)
            .flat_map(|chunk| windows.iter().map(move |w| (chunk, *w)))
            .collect();
        let results = futures::future::join_all(
            pieces.iter().map(|(chunk, window)| self.call_with_retries(chunk, *window, req.details)),
        )
        .await;

        let mut blocks: HashMap<&str, Vec<Block>> = HashMap::new();
        let mut hours: HashMap<&str, WorkingHours> = HashMap::new();
        let mut errors: HashMap<&str, MailboxError> = HashMap::new();
        for ((chunk, _), result) in pieces.iter().zip(results) {
            match result {
                Err(e) => {
                    let err = call_error(&e);
                    for m in chunk.iter() {
                        errors.entry(m.as_str()).or_insert_with(|| err.clone());
                    }
                }
                Ok(schedules) => {
                    for m in chunk.iter() {
                        // A mailbox the provider did not answer for is an error, never "free".
                        let found = schedules.iter().find(|s| s.mailbox.eq_ignore_ascii_case(m));
                        match found.map(|s| &s.outcome) {
                            None => {
                                errors.entry(m.as_str()).or_insert_with(|| {
                                    MailboxError::new(
                                        "provider-fault",
                                        "the provider returned no schedule for this mailbox",
                                    )
                                });
                            }
                            Some(Err(e)) => {
                                errors.entry(m.as_str()).or_insert_with(|| mailbox_error(e));
                            }
                            Some(Ok(s)) => {
                                blocks
                                    .entry(m.as_str())
                                    .or_default()
                                    .extend(s.blocks.iter().filter(|b| b.end > b.start).map(block));
                                if let Some(wh) = &s.working_hours {
                                    hours.entry(m.as_str()).or_insert_with(|| working_hours(wh));
                                }
                            }
                        }
                    }
                }
            }
        }
        let mailboxes = req
            .mailboxes
            .iter()
            .map(|m| match errors.remove(m.as_str()) {
                Some(e) => MailboxResult::from_error(m, e),
                None => {
                    let mut bs = blocks.remove(m.as_str()).unwrap_or_default();
                    // An item spanning a window split comes back from both calls.
                    bs.sort_by(|a, b| (a.start, a.end).cmp(&(b.start, b.end)));
                    bs.dedup();
                    MailboxResult::from_blocks(m, &bs, hours.remove(m.as_str()), req)
                }
            })
            .collect();
        FreeBusyResponse {
            start: freebusy_core::api::format_instant(req.window.start),
            end: freebusy_core::api::format_instant(req.window.end),
            interval: req.interval_minutes,
            mailboxes,
        }
    }

    async fn call_with_retries(&self, mailboxes: &[String], window: Window, details: bool) -> PieceResult {
        let query = Query {
            mailboxes: mailboxes.to_vec(),
            window: wit::Window { start: window.start, end: window.end },
            details,
        };
        let mut attempt = 0;
        loop {
            let result = {
                let _permit = self.calls.acquire().await.expect("semaphore never closed");
                self.provider.get_schedules(&self.ctx, query.clone()).await
            };
            match &result {
                Err(CallError::Provider(wit::ProviderError::Throttled(after))) if attempt < MAX_THROTTLE_RETRIES => {
                    let wait =
                        after.map_or(DEFAULT_BACKOFF * 2u32.pow(attempt), |ms| Duration::from_millis(u64::from(ms)));
                    if wait > MAX_RETRY_WAIT {
                        return result;
                    }
                    tracing::info!(tenant = self.name.as_str(), ?wait, "upstream throttled; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::warn!(tenant = self.name.as_str(), error = %e, "provider call failed");
                    return result;
                }
                Ok(_) => return result,
            }
        }
    }
}

/// A whole-call failure as the error of each mailbox in the call.
fn call_error(e: &CallError) -> MailboxError {
    let code = match e {
        CallError::Provider(p) => match p {
            wit::ProviderError::Throttled(_) => "throttled",
            wit::ProviderError::AuthFailed(_) => "auth-failed",
            wit::ProviderError::Misconfigured(_) => "misconfigured",
            wit::ProviderError::Unavailable(_) => "unavailable",
            wit::ProviderError::Unsupported(_) => "unsupported",
        },
        CallError::OutboundDenied { .. } => "outbound-denied",
        CallError::Timeout(_) => "provider-timeout",
        CallError::Trap(_) => "provider-fault",
    };
    MailboxError::new(code, e.to_string())
}

fn mailbox_error(e: &wit::MailboxError) -> MailboxError {
    match e {
        wit::MailboxError::NotFound(m) => MailboxError::new("not-found", m.clone()),
        wit::MailboxError::AccessDenied(m) => MailboxError::new("access-denied", m.clone()),
        wit::MailboxError::TooLarge(m) => MailboxError::new("too-large", m.clone()),
        wit::MailboxError::Other(m) => MailboxError::new("other", m.clone()),
    }
}

fn block(b: &wit::BusyBlock) -> Block {
    Block {
        start: b.start,
        end: b.end,
        status: match b.status {
            wit::Availability::Free => Availability::Free,
            wit::Availability::Tentative => Availability::Tentative,
            wit::Availability::Busy => Availability::Busy,
            wit::Availability::OutOfOffice => Availability::OutOfOffice,
            wit::Availability::WorkingElsewhere => Availability::WorkingElsewhere,
            wit::Availability::Unknown => Availability::Unknown,
        },
        subject: b.subject.clone(),
        location: b.location.clone(),
        is_private: b.is_private,
    }
}

fn working_hours(w: &wit::WorkingHours) -> WorkingHours {
    WorkingHours {
        days: w
            .days
            .iter()
            .map(|d| match d {
                wit::Weekday::Monday => Weekday::Monday,
                wit::Weekday::Tuesday => Weekday::Tuesday,
                wit::Weekday::Wednesday => Weekday::Wednesday,
                wit::Weekday::Thursday => Weekday::Thursday,
                wit::Weekday::Friday => Weekday::Friday,
                wit::Weekday::Saturday => Weekday::Saturday,
                wit::Weekday::Sunday => Weekday::Sunday,
            })
            .collect(),
        start_minute: w.start_minute,
        end_minute: w.end_minute,
        time_zone: w.time_zone.clone(),
    }
}
