//! From a tenant's table (in the config file or the store) to a ready [`Tenant`]: settings
//! checked against what the provider describes (unknown names and missing required ones refused,
//! with the same words as the edge), values resolved from the environment, files or the store's
//! sealed secrets, the outbound allow-list derived from the provider's endpoint settings, the
//! mailboxes-per-call limit checked against what the upstream accepts, and the credential circuit
//! restored for an unchanged configuration.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use tokio::sync::Semaphore;

use super::circuit::Circuit;
use super::written_settings::WrittenSettings;
use super::Tenant;
use crate::cache::{Cache, CacheSettings};
use crate::config::TenantSection;
use crate::metrics::Metrics;
use crate::runtime::outbound::normalize_origin;
use crate::runtime::{keyvalue, CallContext, Provider};
use crate::store::Store;

/// What every tenant is built with.
pub struct BuildContext {
    /// Relative paths in settings start here.
    pub base_dir: PathBuf,
    /// The `[cache]` settings.
    pub cache: CacheSettings,
    /// Where calls are counted.
    pub metrics: Arc<Metrics>,
    /// The store (sealed secrets, circuits).
    pub store: Arc<Store>,
    /// How often an open circuit probes.
    pub probe_interval: Duration,
    /// State shared with other instances, when configured.
    pub shared: Option<Arc<crate::shared::Shared>>,
    /// Calls in flight at once per mailbox.
    pub mailbox_concurrency: u32,
    /// How long one provider call may take (a call waits at most this long for its places).
    pub call_timeout: Duration,
}

/// Resolve every setting of `section` for tenant `name`: the values, and what could not be
/// resolved (an unset variable, a missing file, a secret not yet stored by `freebusy login`).
/// Such a tenant is still served, every call answered `misconfigured` with the reason, so that
/// one tenant's missing secret does not stop the others.
fn resolve(name: &str, section: &TenantSection, ctx: &BuildContext) -> (Vec<(String, String)>, Option<String>) {
    let mut values = Vec::new();
    let mut problems = Vec::new();
    for (key, value) in &section.settings {
        let stored = || Ok(ctx.store.secret(name, key)?);
        match value.resolve(&ctx.base_dir, stored) {
            Ok(v) => values.push((key.clone(), v)),
            Err(e) => problems.push(format!("setting '{key}': {e:#}")),
        }
    }
    (values, (!problems.is_empty()).then(|| problems.join("; ")))
}

/// A fingerprint of everything that makes the tenant what it is (its table, the component file,
/// the resolved values of its settings, the cache settings), to tell on a reload whether it
/// changed. It is compared across restarts (the circuit), so it is kept in the store; secrets go
/// into it only through PBKDF2 with the store's salt, so the fingerprint does not reveal them.
pub fn definition(name: &str, section: &TenantSection, component: &Path, ctx: &BuildContext) -> anyhow::Result<String> {
    Ok(fingerprint(&definition_input(name, section, component, ctx), &ctx.store.salt()?))
}

/// The same fingerprint as other instances compute for this tenant, to tell whether a circuit one
/// of them opened (through the shared store) is about the same credentials. Each instance's store
/// has its own salt, so this one is salted by the tenant's name; the shared store, which holds the
/// tenant's access tokens too, is trusted as much.
pub fn shared_definition(name: &str, section: &TenantSection, component: &Path, ctx: &BuildContext) -> String {
    let salt = ring::digest::digest(&ring::digest::SHA256, format!("freebusy shared circuit {name}").as_bytes());
    let file = component.file_name().map(Path::new).unwrap_or(component);
    fingerprint(&definition_input(name, section, file, ctx), salt.as_ref())
}

fn definition_input(name: &str, section: &TenantSection, component: &Path, ctx: &BuildContext) -> Vec<u8> {
    let (resolved, problem) = resolve(name, section, ctx);
    let table = serde_json::json!({
        "unresolved": problem,
        "name": name,
        "component": component,
        "section": section,
        "cache": [ctx.cache.ttl.as_secs(), ctx.cache.stale_if_error.as_secs(), ctx.cache.details as u64],
    });
    let mut input = table.to_string().into_bytes();
    for (k, v) in &resolved {
        input.extend_from_slice(format!("\0{k}\0{v}").as_bytes());
    }
    input
}

fn fingerprint(input: &[u8], salt: &[u8]) -> String {
    let mut out = [0u8; 32];
    let iterations = std::num::NonZeroU32::new(10_000).expect("nonzero");
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, input, &mut out);
    out.iter().map(|b| format!("{b:02x}")).collect()
}

/// Build tenant `name` from its table, served through `provider` (loaded from `component`);
/// `definition` is its [`definition`].
pub fn build(
    name: &str,
    section: &TenantSection,
    provider: Arc<Provider>,
    component: &Path,
    definition: String,
    ctx: &BuildContext,
) -> anyhow::Result<Tenant> {
    let info = provider.info();
    info.check_setting_names(section.settings.keys().map(String::as_str))?;
    let mut written_settings = WrittenSettings::default();
    for (key, value) in &section.settings {
        if info.setting(key).is_some_and(|spec| spec.secret) && value.is_literal() {
            tracing::warn!(
                tenant = name,
                setting = key.as_str(),
                "secret written into the config file; prefer {{ env = \"...\" }} or {{ file = \"...\" }}"
            );
        }
    }
    let (settings, unusable) = resolve(name, section, ctx);
    if let Some(problem) = &unusable {
        tracing::error!(tenant = name, problem = problem.as_str(), "the tenant cannot sign in until this is fixed");
    }
    for (key, value) in &section.settings {
        let resolved = settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_default();
        written_settings.add(key, value, resolved);
    }
    let allowed_origins = allowed_origins(provider.as_ref(), &settings, &section.allowed_hosts)?;
    let max_mailboxes = match section.max_mailboxes_per_call {
        None => info.limits.max_mailboxes,
        Some(m) if (1..=info.limits.upstream_max_mailboxes).contains(&m) => m,
        Some(m) => bail!(
            "max_mailboxes_per_call = {m}: the {} provider's upstream accepts 1 to {} mailboxes per call",
            info.name,
            info.limits.upstream_max_mailboxes
        ),
    };
    if section.max_concurrent_calls == 0 {
        bail!("max_concurrent_calls must be at least 1");
    }
    let circuit = Circuit::new(name, &definition, ctx.probe_interval, Some(ctx.store.clone()));
    let max_window_days = window_days(&settings, info);
    Ok(Tenant {
        name: name.to_string(),
        ctx: CallContext {
            settings,
            allowed_origins,
            kv: keyvalue::Store::new(ctx.shared.clone().map(|shared| (shared, name.to_string()))),
        },
        max_mailboxes,
        max_window_days,
        calls: Semaphore::new(section.max_concurrent_calls),
        warm: AtomicBool::new(false),
        first_sign_in: tokio::sync::Mutex::new(()),
        cache: Cache::new(ctx.cache.clone(), ctx.shared.clone().map(|shared| (shared, name.to_string()))),
        limiter: super::limiter::MailboxLimiter::new(name, ctx.mailbox_concurrency, ctx.shared.clone()),
        shared_definition: match &ctx.shared {
            Some(_) => shared_definition(name, section, component, ctx),
            None => String::new(),
        },
        shared: ctx.shared.clone(),
        call_timeout: ctx.call_timeout,
        metrics: ctx.metrics.clone(),
        in_flight: Default::default(),
        written_settings,
        secret_expires: section.secret_expires,
        circuit,
        unusable,
        store: ctx.store.clone(),
        definition,
        provider,
    })
}

/// The origins the provider may reach: those of its endpoint settings (or their defaults), plus
/// what the admin listed in `allowed_hosts`.
fn allowed_origins(
    provider: &Provider,
    settings: &[(String, String)],
    allowed_hosts: &[String],
) -> anyhow::Result<Vec<String>> {
    let info = provider.info();
    let mut allowed = Vec::new();
    for endpoint in &info.endpoint_settings {
        let configured = settings.iter().find(|(k, _)| k == endpoint).map(|(_, v)| v.clone());
        let default = info.setting(endpoint).and_then(|s| s.default_value.clone());
        if let Some(url) = configured.or(default) {
            allowed
                .push(normalize_origin(&url).with_context(|| format!("setting '{endpoint}' is not an http(s) URL"))?);
        }
    }
    for host in allowed_hosts {
        allowed.push(
            normalize_origin(host).with_context(|| format!("allowed_hosts entry '{host}' is not an http(s) origin"))?,
        );
    }
    Ok(allowed)
}

/// The longest window the host asks for in one call: the provider's limit, narrowed by a
/// `max_window_days` provider setting (as configured, else as the provider declares its default).
/// EWS declares 62 days (Exchange Online) but on-premises servers take 42 by default
/// (https://learn.microsoft.com/exchange/client-developer/web-service-reference/timewindow); splitting
/// at 62 here and again at 42 inside the provider made 63 days cost three calls instead of two.
fn window_days(settings: &[(String, String)], info: &freebusy_core::provider::ProviderInfo) -> u32 {
    let configured = settings.iter().find(|(k, _)| k == "max_window_days").map(|(_, v)| v.as_str());
    let declared = info.settings.iter().find(|s| s.name == "max_window_days").and_then(|s| s.default_value.as_deref());
    configured
        .or(declared)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|days| (1..=info.limits.max_window_days).contains(days))
        .unwrap_or(info.limits.max_window_days)
}
