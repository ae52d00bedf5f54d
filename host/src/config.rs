//! The TOML configuration: providers (component files), tenants (which provider, its settings,
//! where secrets come from) and runtime limits. Secrets come from the environment or files and
//! are never logged; nothing here implements `Debug` over secret values.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! default_tenant = "contoso"
//!
//! [providers.graph]
//! component = "components/freebusy_graph.wasm"
//!
//! [tenants.contoso]
//! provider = "graph"
//! [tenants.contoso.settings]
//! tenant_id = "contoso.onmicrosoft.com"
//! client_id = "3f9b2c71-8d4e-4a06-b5f3-2e7c1a9d0b84"
//! client_secret = { env = "CONTOSO_CLIENT_SECRET" }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::Deserialize;

use crate::cache::CacheSettings;
use crate::runtime::RuntimeSettings;

/// The whole file.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address `freebusy serve` listens on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Tenant used by `/v1/freebusy` (without a tenant in the path); required when there are
    /// several tenants.
    pub default_tenant: Option<String>,
    /// Runtime limits.
    #[serde(default)]
    pub runtime: RuntimeSettings,
    /// The free/busy cache.
    #[serde(default)]
    pub cache: CacheSettings,
    /// How clients authenticate.
    #[serde(default)]
    pub auth: crate::auth::AuthSettings,
    /// The tenant store.
    #[serde(default)]
    pub store: StoreSettings,
    /// The credential circuit.
    #[serde(default)]
    pub circuit: CircuitSettings,
    /// State shared by several instances (Redis), and the per-mailbox concurrency limit.
    #[serde(default)]
    pub shared: crate::shared::SharedSettings,
    /// Access-log lines name the mailboxes asked about (off: only how many).
    #[serde(default)]
    pub log_addresses: bool,
    /// Customer tenants onboarded by admin consent to one multi-tenant app.
    #[serde(default)]
    pub onboarding: Option<crate::onboarding::OnboardingSettings>,
    /// Provider components by name.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSection>,
    /// Tenants by name (the name appears in URLs: `/v1/tenants/{name}/freebusy`).
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantSection>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

/// `[store]`: the SQLite file that keeps tenants added at run time, API keys, onboarding state,
/// credential health and sealed secrets.
#[derive(Deserialize, Clone, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// The file, relative to the config file; `":memory:"` keeps the store in memory (tests).
    pub path: PathBuf,
    /// The key sealing the secrets the service receives itself (refresh tokens): 32 bytes as
    /// base64, from `{ env = "..." }` or `{ file = "..." }` (`freebusy store new-key` makes one).
    pub secret_key: Option<SettingValue>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings { path: PathBuf::from("freebusy.db"), secret_key: None }
    }
}

/// `[circuit]`: the credential circuit (see `crate::tenant::circuit`).
#[derive(Deserialize, Clone, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitSettings {
    /// How often an open circuit lets one call try the credentials again (`probe_interval_secs`).
    #[serde(rename = "probe_interval_secs", deserialize_with = "seconds")]
    pub probe_interval: std::time::Duration,
}

impl Default for CircuitSettings {
    fn default() -> Self {
        CircuitSettings { probe_interval: crate::tenant::circuit::DEFAULT_PROBE_INTERVAL }
    }
}

/// A whole number of seconds in the config (`ttl_secs = 30`) as a [`Duration`].
pub(crate) fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    within_a_century(std::time::Duration::from_secs(u64::deserialize(d)?))
}

/// A whole number of milliseconds in the config (`timeout_ms = 250`).
pub(crate) fn milliseconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    within_a_century(std::time::Duration::from_millis(u64::deserialize(d)?))
}

/// Longest duration the config takes: every duration is added to the clock somewhere (a call's
/// deadline, a lease, the next probe), and `i64::MAX` seconds would overflow it.
const LONGEST: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 86_400);

fn within_a_century<E: serde::de::Error>(d: std::time::Duration) -> Result<std::time::Duration, E> {
    if d > LONGEST {
        return Err(E::custom(format!(
            "{} s is longer than the {} s (100 years) any duration here may be",
            d.as_secs(),
            LONGEST.as_secs()
        )));
    }
    Ok(d)
}

/// A whole number of MiB in the config (`memory_limit_mb = 64`) as bytes.
pub(crate) fn mebibytes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let mb = usize::deserialize(d)?;
    mb.checked_mul(1 << 20).ok_or_else(|| serde::de::Error::custom(format!("{mb} MiB is too large")))
}

/// `[providers.<name>]`.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    /// Path of the `.wasm` component, relative to the config file.
    pub component: PathBuf,
}

/// `[tenants.<name>]` (and a tenant kept in the store, which has the same fields).
#[derive(Deserialize, serde::Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    /// Name of a `[providers.<name>]` entry.
    pub provider: String,
    /// Provider calls in flight at once for this tenant (Graph allows 4 concurrent requests per
    /// app and mailbox).
    #[serde(default = "default_concurrency")]
    pub max_concurrent_calls: usize,
    /// Mailboxes per provider call instead of the provider's default: lower, or higher up to
    /// what the upstream accepts (Graph: default 20, up to 100).
    pub max_mailboxes_per_call: Option<u32>,
    /// When the client secret (or certificate) expires, as shown in the app registration
    /// (`YYYY-MM-DD`): `freebusy check` and `/readyz` warn 30 days ahead, because an expired
    /// secret silently stops everything.
    #[serde(default, deserialize_with = "date")]
    pub secret_expires: Option<chrono::NaiveDate>,
    /// Origins the provider may reach besides those of its endpoint settings.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Provider settings; see `freebusy check` for what each provider needs.
    #[serde(default)]
    pub settings: BTreeMap<String, SettingValue>,
}

impl TenantSection {
    /// A tenant of `provider` with these settings and every other field at its default.
    pub fn new(provider: &str, settings: BTreeMap<String, SettingValue>) -> TenantSection {
        TenantSection {
            provider: provider.to_string(),
            max_concurrent_calls: default_concurrency(),
            max_mailboxes_per_call: None,
            secret_expires: None,
            allowed_hosts: Vec::new(),
            settings,
        }
    }
}

/// A date written as a TOML date (`2027-05-01`) or a string (`"2027-05-01"`).
fn date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<chrono::NaiveDate>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Toml(toml::value::Datetime),
        Text(String),
    }
    let text = match Option::<Written>::deserialize(d)? {
        None => return Ok(None),
        Some(Written::Toml(t)) => t.to_string(),
        Some(Written::Text(s)) => s,
    };
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("'{text}' is not a date like 2027-05-01")))
}

fn default_concurrency() -> usize {
    4
}

/// A setting's value: literal, read from the environment or a file at start-up, or a secret the
/// service received itself and keeps sealed in its store.
#[derive(Deserialize, serde::Serialize, Clone, PartialEq)]
#[serde(untagged)]
pub enum SettingValue {
    /// Written in the file.
    Literal(String),
    /// A number written without quotes (`directory_page_size = 50`); providers take text.
    Number(i64),
    /// `true` or `false` without quotes.
    Flag(bool),
    /// `{ env = "NAME" }`.
    Env {
        /// Variable name.
        env: String,
    },
    /// `{ file = "/run/secrets/name" }` (trailing newline removed).
    File {
        /// File path, relative to the config file.
        file: PathBuf,
    },
    /// `{ stored = true }`: sealed in the store (a refresh token `freebusy login` received, and
    /// the ones the provider rotates it to).
    Stored {
        /// Always true.
        stored: bool,
    },
}

impl std::fmt::Debug for SettingValue {
    /// Names the source, never a value (literal values may be secrets written into the file).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingValue::Literal(_) | SettingValue::Number(_) | SettingValue::Flag(_) => f.write_str("<literal>"),
            SettingValue::Env { env } => write!(f, "{{ env = {env:?} }}"),
            SettingValue::File { file } => write!(f, "{{ file = {file:?} }}"),
            SettingValue::Stored { .. } => f.write_str("{ stored = true }"),
        }
    }
}

impl SettingValue {
    /// Resolve to the value; a stored one is read by `stored`. Errors name the variable or file,
    /// never the value.
    pub fn resolve(
        &self,
        base: &Path,
        stored: impl FnOnce() -> anyhow::Result<Option<String>>,
    ) -> anyhow::Result<String> {
        match self {
            SettingValue::Stored { .. } => stored()?
                .context("it is { stored = true } and the store holds no value yet (freebusy login stores one)"),
            SettingValue::Literal(v) => Ok(v.clone()),
            SettingValue::Number(n) => Ok(n.to_string()),
            SettingValue::Flag(b) => Ok(b.to_string()),
            SettingValue::Env { env } => {
                std::env::var(env).with_context(|| format!("environment variable {env} is not set"))
            }
            SettingValue::File { file } => {
                let path = base.join(file);
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                Ok(text.trim_end_matches(['\r', '\n']).to_string())
            }
        }
    }

    /// Whether the value is written into the config file itself.
    pub fn is_literal(&self) -> bool {
        matches!(self, SettingValue::Literal(_) | SettingValue::Number(_) | SettingValue::Flag(_))
    }
}

/// A parsed config and the directory its relative paths start from.
#[derive(Clone)]
pub struct LoadedConfig {
    /// The parsed file.
    pub config: Config,
    /// Base for relative paths.
    pub base_dir: PathBuf,
}

impl LoadedConfig {
    /// Read and parse a config file.
    pub fn from_file(path: &Path) -> anyhow::Result<LoadedConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_str(&text, base_dir).with_context(|| format!("in config {}", path.display()))
    }

    /// Parse config text; relative paths start at `base_dir`.
    pub fn from_str(text: &str, base_dir: PathBuf) -> anyhow::Result<LoadedConfig> {
        let mut config: Config = toml::from_str(text)?;
        if config.store.path != Path::new(":memory:") {
            config.store.path = base_dir.join(&config.store.path);
        }
        // Paths in the file are relative to it.
        let runtime = &mut config.runtime;
        for file in &mut runtime.extra_ca_certificates {
            *file = base_dir.join(&*file);
        }
        if let Some(dir) = &mut runtime.compile_cache_dir {
            *dir = base_dir.join(&*dir);
        }
        for (name, tenant) in &config.tenants {
            if !config.providers.contains_key(&tenant.provider) {
                bail!(
                    "tenant '{name}' uses provider '{}', which has no [providers.{}] entry",
                    tenant.provider,
                    tenant.provider
                );
            }
            if tenant.max_concurrent_calls == 0 {
                bail!("tenant '{name}': max_concurrent_calls must be at least 1");
            }
        }
        if let Some(default) = &config.default_tenant {
            if !config.tenants.contains_key(default) {
                bail!("default_tenant '{default}' is not a configured tenant");
            }
        }
        Ok(LoadedConfig { config, base_dir })
    }

    /// Open the store this configuration names.
    pub fn open_store(&self) -> anyhow::Result<crate::store::Store> {
        let settings = &self.config.store;
        let key = match &settings.secret_key {
            None => None,
            Some(SettingValue::Stored { .. }) => bail!("[store] secret_key cannot itself be stored in the store"),
            Some(value) => {
                let text = value.resolve(&self.base_dir, || Ok(None)).context("[store] secret_key")?;
                Some(crate::store::seal::SealKey::from_base64(&text).context("[store] secret_key")?)
            }
        };
        Ok(crate::store::Store::open(&settings.path, key)?)
    }

    /// The component file of a provider.
    pub fn component_path(&self, provider: &str) -> Option<PathBuf> {
        self.config.providers.get(provider).map(|p| self.base_dir.join(&p.component))
    }
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_container_example_is_a_valid_configuration_sharing_redis() {
        let loaded = LoadedConfig::from_str(include_str!("../../deploy/freebusy.toml"), PathBuf::from("/etc/freebusy"))
            .expect("deploy/freebusy.toml parses");
        assert_eq!(loaded.config.shared.url.as_deref(), Some("redis://redis:6379"));
        assert_eq!(loaded.config.shared.mailbox_concurrency, 4);
        assert!(loaded.config.tenants.contains_key("contoso"));
    }

    #[test]
    fn shared_settings_have_working_defaults_and_refuse_unknown_names() {
        let text = "[shared]\nurl = \"redis://127.0.0.1:6379\"\ntimeout_ms = 100\nlease_secs = 3\n";
        let loaded = LoadedConfig::from_str(text, PathBuf::new()).unwrap();
        assert_eq!(loaded.config.shared.timeout, std::time::Duration::from_millis(100));
        assert_eq!(loaded.config.shared.lease, std::time::Duration::from_secs(3));
        assert_eq!(loaded.config.shared.prefix, "freebusy:");
        assert!(LoadedConfig::from_str("[shared]\nurls = \"x\"\n", PathBuf::new()).is_err());
    }

    #[test]
    fn secrets_can_come_from_env_or_file() {
        let dir = std::env::temp_dir().join(format!("freebusy-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("secret.txt"), "from-file\n").unwrap();
        let text = r#"
            [providers.graph]
            component = "graph.wasm"
            [tenants.t]
            provider = "graph"
            [tenants.t.settings]
            a = "literal"
            b = { file = "secret.txt" }
            c = { env = "FREEBUSY_TEST_UNSET_VARIABLE" }
        "#;
        let loaded = LoadedConfig::from_str(text, dir.clone()).unwrap();
        let s = &loaded.config.tenants["t"].settings;
        let none = || Ok(None);
        assert_eq!(s["a"].resolve(&dir, none).unwrap(), "literal");
        assert_eq!(s["b"].resolve(&dir, none).unwrap(), "from-file");
        let err = s["c"].resolve(&dir, none).unwrap_err().to_string();
        assert!(err.contains("FREEBUSY_TEST_UNSET_VARIABLE"), "{err}");
        assert_eq!(loaded.component_path("graph").unwrap(), dir.join("graph.wasm"));
    }

    #[test]
    fn a_tenant_naming_an_unknown_provider_is_rejected() {
        let err =
            LoadedConfig::from_str("[tenants.t]\nprovider = \"ews\"\n", PathBuf::new()).err().unwrap().to_string();
        assert!(err.contains("[providers.ews]"), "{err}");
    }

    #[test]
    fn runtime_and_cache_tables_deserialize_into_their_settings_with_one_default_each() {
        let tenants = "[providers.g]\ncomponent = \"x\"\n[tenants.t]\nprovider = \"g\"\n";
        let defaults = LoadedConfig::from_str(tenants, PathBuf::new()).unwrap().config;
        let (runtime, cache) = (RuntimeSettings::default(), CacheSettings::default());
        assert_eq!(defaults.runtime.compile_cache, runtime.compile_cache);
        assert_eq!(defaults.runtime.call_timeout, runtime.call_timeout);
        assert_eq!(defaults.runtime.memory_limit_bytes, runtime.memory_limit_bytes);
        assert_eq!(defaults.cache.ttl, cache.ttl);
        assert_eq!(defaults.cache.stale_if_error, cache.stale_if_error);

        let text = format!(
            "[runtime]\ncall_timeout_secs = 5\nmemory_limit_mb = 32\ncompile_cache = false\n\
             extra_ca_certificates = [\"ca.pem\"]\n[cache]\nttl_secs = 0\n{tenants}"
        );
        let config = LoadedConfig::from_str(&text, PathBuf::from("/etc/freebusy")).unwrap().config;
        assert_eq!(config.runtime.call_timeout, std::time::Duration::from_secs(5));
        assert_eq!(config.runtime.memory_limit_bytes, 32 << 20);
        assert!(!config.runtime.compile_cache);
        assert_eq!(config.runtime.extra_ca_certificates, vec![PathBuf::from("/etc/freebusy/ca.pem")]);
        assert!(config.cache.ttl.is_zero());
        let err = LoadedConfig::from_str(&format!("[cache]\nttl = 3\n{tenants}"), PathBuf::new()).err().unwrap();
        assert!(format!("{err:#}").contains("unknown field `ttl`"), "{err:#}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = LoadedConfig::from_str(
            "[providers.g]\ncomponent = \"x\"\nfoo = 1\n[tenants.t]\nprovider = \"g\"\n",
            PathBuf::new(),
        )
        .err()
        .unwrap();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
    }
}
