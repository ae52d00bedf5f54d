//! From a `[tenants.<name>]` table to a ready [`Tenant`]: settings checked against what the
//! provider describes (unknown names and missing required ones refused, with the same words as
//! the edge), secrets resolved from the environment or files, the outbound allow-list derived
//! from the provider's endpoint settings, and the mailboxes-per-call limit checked against what
//! the upstream accepts.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use tokio::sync::Semaphore;

use super::written_settings::WrittenSettings;
use super::Tenant;
use crate::cache::{Cache, CacheSettings};
use crate::config::{LoadedConfig, SettingValue, TenantSection};
use crate::metrics::Metrics;
use crate::runtime::outbound::normalize_origin;
use crate::runtime::{keyvalue, CallContext, Provider};

/// Build tenant `name` from its config table, served through `provider`.
pub fn build(
    name: &str,
    section: &TenantSection,
    provider: Arc<Provider>,
    loaded: &LoadedConfig,
    cache: &CacheSettings,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Tenant> {
    let info = provider.info();
    info.check_setting_names(section.settings.keys().map(String::as_str))?;
    let mut settings = Vec::new();
    let mut written_settings = WrittenSettings::default();
    for (key, value) in &section.settings {
        if info.setting(key).is_some_and(|spec| spec.secret) && value.is_literal() {
            tracing::warn!(
                tenant = name,
                setting = key.as_str(),
                "secret written into the config file; prefer {{ env = \"...\" }} or {{ file = \"...\" }}"
            );
        }
        let resolved = value.resolve(&loaded.base_dir).with_context(|| format!("setting '{key}'"))?;
        if let SettingValue::File { file } = value {
            written_settings.add(key, loaded.base_dir.join(file), &resolved);
        }
        settings.push((key.clone(), resolved));
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
    Ok(Tenant {
        name: name.to_string(),
        ctx: CallContext { settings, allowed_origins, kv: keyvalue::Store::default() },
        max_mailboxes,
        max_window_days: info.limits.max_window_days,
        calls: Semaphore::new(section.max_concurrent_calls),
        warm: AtomicBool::new(false),
        cache: Cache::new(cache.clone()),
        metrics,
        in_flight: Default::default(),
        written_settings,
        secret_expires: section.secret_expires,
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
