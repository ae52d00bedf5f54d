//! The `freebusy` subcommands that administer the store: API keys (`keys create|list|revoke`),
//! tenants kept in the store (`tenants add|remove|list`) and the store's secret key
//! (`store new-key`). They open the store file the config names and write to it directly; a
//! running `freebusy serve` on the same file notices within seconds.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _};

use crate::auth::keys::{self, Scope};
use crate::config::{LoadedConfig, SettingValue, TenantSection};
use crate::store::{Store, StoredTenant};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn date(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(|| "-".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// The tenants the config file and the store define, by name.
pub fn tenant_names(loaded: &LoadedConfig, store: &Store) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = loaded.config.tenants.keys().cloned().collect();
    names.extend(store.tenants()?.into_iter().map(|t| t.name));
    names.sort();
    Ok(names)
}

/// `freebusy keys create`: make a key, keep its digest, return the key (shown once).
pub fn create_key(
    loaded: &LoadedConfig,
    store: &Store,
    tenant: Option<&str>,
    scopes: Option<&str>,
    expires: Option<&str>,
    name: &str,
) -> anyhow::Result<String> {
    let scopes = match scopes {
        Some(list) => Scope::parse_list(list).map_err(|e| anyhow::anyhow!(e))?,
        None => Scope::DEFAULT.to_vec(),
    };
    if scopes.is_empty() {
        bail!("a key needs at least one scope");
    }
    match tenant {
        Some(t) if !tenant_names(loaded, store)?.iter().any(|n| n == t) => {
            bail!("no tenant named '{t}' (freebusy tenants list shows them)")
        }
        None if !scopes.contains(&Scope::Admin) => {
            bail!("a key for every tenant (--all-tenants) must have the admin scope; name a --tenant instead")
        }
        _ => {}
    }
    let expires = match expires {
        None => None,
        Some(text) => {
            let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .with_context(|| format!("--expires '{text}' is not a date like 2027-12-01"))?;
            Some(day.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis())
        }
    };
    let new = keys::generate(name, tenant, scopes, expires, now_ms())?;
    store.insert_key(&new.record)?;
    Ok(new.key)
}

/// `freebusy keys list`: id, name, tenant, scopes, created, last used, expires, revoked.
pub fn list_keys(store: &Store) -> anyhow::Result<String> {
    let mut out = format!(
        "{:<16}  {:<24}  {:<14}  {:<44}  {:<16}  {:<16}  {:<16}  {}\n",
        "ID", "NAME", "TENANT", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "REVOKED"
    );
    for k in store.keys()? {
        let scopes: Vec<&str> = k.scopes.iter().map(|s| s.as_str()).collect();
        out.push_str(&format!(
            "{:<16}  {:<24}  {:<14}  {:<44}  {:<16}  {:<16}  {:<16}  {}\n",
            k.id,
            k.name,
            k.tenant.as_deref().unwrap_or("(all)"),
            scopes.join(","),
            date(Some(k.created)),
            date(k.last_used),
            date(k.expires),
            date(k.revoked),
        ));
    }
    Ok(out)
}

/// `freebusy keys revoke <id>`.
pub fn revoke_key(store: &Store, id: &str) -> anyhow::Result<()> {
    if !store.revoke_key(id, now_ms())? {
        bail!("no key with id '{id}' (freebusy keys list shows them)");
    }
    Ok(())
}

/// `freebusy tenants add <name> --provider <p> --setting k=v ...`: values are literal, or
/// `env:NAME`, `file:PATH`, or `stored` (a secret `freebusy login` will seal in the store). A
/// secret setting given literally is refused: the store keeps references, never plain secrets.
pub fn add_tenant(
    loaded: &LoadedConfig,
    store: &Store,
    name: &str,
    provider: &str,
    settings: &[String],
) -> anyhow::Result<()> {
    if loaded.config.tenants.contains_key(name) {
        bail!("tenant '{name}' is configured in the file; a stored tenant needs another name");
    }
    if !loaded.config.providers.contains_key(provider) {
        bail!("no [providers.{provider}] in the config");
    }
    let mut values = BTreeMap::new();
    for pair in settings {
        let (key, value) = pair.split_once('=').with_context(|| format!("--setting '{pair}' is not name=value"))?;
        let value = if let Some(env) = value.strip_prefix("env:") {
            SettingValue::Env { env: env.to_string() }
        } else if let Some(file) = value.strip_prefix("file:") {
            SettingValue::File { file: file.into() }
        } else if value == "stored" {
            SettingValue::Stored { stored: true }
        } else {
            if key.contains("secret") || key.contains("password") || key.contains("token") || key.ends_with("_key") {
                bail!("--setting {key}: give a secret as env:NAME or file:PATH; the store keeps no plain secrets");
            }
            SettingValue::Literal(value.to_string())
        };
        values.insert(key.trim().to_string(), value);
    }
    let tenant =
        StoredTenant { name: name.to_string(), section: TenantSection::new(provider, values), source: "cli".into() };
    store.put_tenant(&tenant, now_ms())?;
    Ok(())
}

/// `freebusy tenants list`: every tenant, where it is defined.
pub fn list_tenants(loaded: &LoadedConfig, store: &Store) -> anyhow::Result<String> {
    let mut out = format!("{:<20}  {:<10}  {}\n", "TENANT", "PROVIDER", "DEFINED IN");
    for (name, section) in &loaded.config.tenants {
        out.push_str(&format!("{name:<20}  {:<10}  config file\n", section.provider));
    }
    for t in store.tenants()? {
        out.push_str(&format!("{:<20}  {:<10}  store ({})\n", t.name, t.section.provider, t.source));
    }
    Ok(out)
}

/// `freebusy tenants remove <name>`.
pub fn remove_tenant(store: &Store, name: &str) -> anyhow::Result<()> {
    if !store.remove_tenant(name)? {
        bail!("no tenant named '{name}' in the store (tenants in the config file are removed there)");
    }
    Ok(())
}

/// `freebusy find`'s table: one line per slot in `tz`, with the rooms free for it; the mailboxes
/// that could not be read, and why there may be no slot.
pub fn slot_table(resp: &freebusy_core::api::AvailabilityResponse, tz: chrono_tz::Tz) -> String {
    let local = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&tz))
            .map_or_else(|_| t.to_string(), |d| d.format("%a %d %b %H:%M").to_string())
    };
    let mut out = format!("Free slots of {} minutes ({}):\n", resp.duration_minutes, resp.time_zone);
    for slot in &resp.slots {
        let end = local(&slot.end);
        let end = end.rsplit(' ').next().unwrap_or_default();
        let rooms = slot.groups.get(1).map(|g| format!("   rooms: {}", g.free.join(", "))).unwrap_or_default();
        out.push_str(&format!("  {}-{end}{rooms}\n", local(&slot.start)));
    }
    if resp.slots.is_empty() {
        out.push_str("  none\n");
    }
    if resp.truncated {
        out.push_str("  (more: raise --max)\n");
    }
    for b in &resp.blocked_by {
        out.push_str(&format!(
            "no slot can be offered: {} could not be read ({}: {})\n",
            b.mailbox, b.error.code, b.error.message
        ));
    }
    for m in resp.mailboxes.iter().filter(|m| m.error.is_some()) {
        if let Some(e) = &m.error {
            out.push_str(&format!("could not read {}: {}\n", m.mailbox, e.code));
        }
    }
    out
}
