//! freebusy-demo: the emulator's demo tenant served through the real host and provider
//! components, with no account needed, once for every way admins connect: Graph with a client
//! secret, with a certificate, and with a user's delegated sign-in, and EWS with Basic
//! authentication.
//!
//! It is its own crate so that the production `freebusy` binary carries no emulator, no demo
//! secrets and no demo key; the tests and benchmarks start the same demo through [`start`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{Datelike, Duration, Utc};
use freebusy_emulator::{demo, Emulator, Options};

use freebusy_host::config::LoadedConfig;
use freebusy_host::files::write_private_file;
use freebusy_host::runtime::{Runtime, RuntimeSettings};
use freebusy_host::service::Service;
use freebusy_host::store::seal::SealKey;

/// File name of the Graph component in a components directory.
pub const GRAPH_COMPONENT: &str = "freebusy_graph.wasm";
/// File name of the EWS component in a components directory.
pub const EWS_COMPONENT: &str = "freebusy_ews.wasm";

/// Where built components are looked for: `$FREEBUSY_COMPONENTS`, then `components/` beside the
/// executable's target directory (`target/components`), then `./target/components`.
pub fn find_components_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("FREEBUSY_COMPONENTS") {
        candidates.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/freebusy -> target/components
        if let Some(target) = exe.parent().and_then(Path::parent) {
            candidates.push(target.join("components"));
        }
    }
    candidates.push(PathBuf::from("target/components"));
    candidates.into_iter().find(|d| d.join(GRAPH_COMPONENT).is_file())
}

/// Tenants the demo serves, each the same Contoso tenant connected another way.
pub const DEMO_TENANTS: &[(&str, &str)] = &[
    ("contoso", "Graph, client secret (the default tenant)"),
    ("contoso-cert", "Graph, certificate credentials (signed client assertion)"),
    ("contoso-delegated", "Graph, delegated: signed in as adele.vance by the device code flow"),
    ("contoso-ews", "EWS, Basic authentication"),
];

/// Who the delegated demo tenant signs in as.
pub const DELEGATED_USER: &str = "adele.vance@contoso.com";

/// The config for the emulator's demo tenant, connected as [`DEMO_TENANTS`] lists, with `cache`
/// as the body of its `[cache]` table ("" for the defaults). Like a real deployment it reads the
/// secrets from files in `secrets`, not from the config text, and keeps its store there too.
pub fn demo_config(emulator_url: &str, components_dir: &Path, secrets: &Path, cache: &str) -> String {
    format!(
        r#"default_tenant = "contoso"

[cache]
{cache}

[store]
path = "{store}"
secret_key = {{ file = "{store_key}" }}

[providers.graph]
component = "{component}"

[providers.ews]
component = "{ews_component}"

[tenants.contoso]
provider = "graph"

[tenants.contoso.settings]
tenant_id = "{tenant}"
client_id = "{client}"
client_secret = {{ file = "{secret}" }}
authority = "{url}"
graph_base_url = "{url}"

[tenants.contoso-cert]
provider = "graph"

[tenants.contoso-cert.settings]
tenant_id = "{tenant}"
client_id = "{client}"
client_certificate = {{ file = "{certificate}" }}
client_certificate_key = {{ file = "{certificate_key}" }}
authority = "{url}"
graph_base_url = "{url}"

[tenants.contoso-delegated]
provider = "graph"

[tenants.contoso-delegated.settings]
tenant_id = "{tenant}"
client_id = "{client}"
auth = "delegated"
refresh_token = {{ stored = true }}
authority = "{url}"
graph_base_url = "{url}"

[tenants.contoso-ews]
provider = "ews"

[tenants.contoso-ews.settings]
ews_url = "{url}/EWS/Exchange.asmx"
username = "{ews_user}"
password = {{ file = "{ews_password}" }}
"#,
        component = components_dir.join(GRAPH_COMPONENT).display(),
        tenant = demo::TENANT_ID,
        client = demo::CLIENT_ID,
        ews_component = components_dir.join(EWS_COMPONENT).display(),
        secret = secrets.join("client_secret").display(),
        certificate = secrets.join("app.crt").display(),
        certificate_key = secrets.join("app.key").display(),
        store = secrets.join("freebusy.db").display(),
        store_key = secrets.join("store.key").display(),
        ews_user = demo::EWS_USER,
        ews_password = secrets.join("ews_password").display(),
        url = emulator_url,
    )
}

/// A running emulator plus the service configured for it.
pub struct Demo {
    /// The emulator (stops when dropped).
    pub emulator: Emulator,
    /// The service for the demo tenant.
    pub service: Arc<Service>,
    /// An API key for every demo tenant with every scope (`fbk_...`), for the printed curl line
    /// and the timeline page.
    pub key: String,
}

/// Start the emulator on a free loopback port and a service for its demo tenant. The delegated
/// tenant's user signs in first, by the same device code flow as `freebusy login`, the emulator
/// approving the code as [`DELEGATED_USER`]. `cache` is the body of the `[cache]` table.
pub async fn start(components_dir: &Path, runtime: RuntimeSettings, cache: &str) -> anyhow::Result<Demo> {
    start_inner(components_dir, runtime, cache, None).await
}

/// [`start`], with onboarding by admin consent on (the emulator's multi-tenant vendor app; its
/// Fabrikam tenant can consent) for a service reachable at `api_url`, as `freebusy-demo` runs.
pub async fn start_with_onboarding(
    components_dir: &Path,
    runtime: RuntimeSettings,
    cache: &str,
    api_url: &str,
) -> anyhow::Result<Demo> {
    start_inner(components_dir, runtime, cache, Some(api_url)).await
}

/// The `[onboarding]` table for the emulator's vendor app, its secret read from `secrets`.
fn onboarding_config(emulator_url: &str, api_url: &str, secrets: &Path) -> String {
    format!(
        r#"
[onboarding]
provider = "graph"
redirect_url = "{api_url}/onboarding/callback"
authority = "{emulator_url}"

[onboarding.settings]
client_id = "{client}"
client_secret = {{ file = "{secret}" }}
authority = "{emulator_url}"
graph_base_url = "{emulator_url}"
"#,
        client = demo::VENDOR_CLIENT_ID,
        secret = secrets.join("vendor_secret").display(),
    )
}

async fn start_inner(
    components_dir: &Path,
    runtime: RuntimeSettings,
    cache: &str,
    onboarding_api: Option<&str>,
) -> anyhow::Result<Demo> {
    let options = Options { device_code_interval_secs: 1, ..Options::default() };
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), options).await?;
    let secret_dir =
        std::env::temp_dir().join(format!("freebusy-demo-{}", emulator.base_url.rsplit(':').next().unwrap_or("0")));
    std::fs::create_dir_all(&secret_dir)?;
    std::fs::write(secret_dir.join("client_secret"), demo::CLIENT_SECRET)?;
    std::fs::write(secret_dir.join("ews_password"), demo::EWS_PASSWORD)?;
    std::fs::write(secret_dir.join("app.crt"), demo::CERTIFICATE_PEM)?;
    write_private_file(&secret_dir.join("app.key"), demo::CERTIFICATE_KEY_PEM)?;
    // A store of the demo's own, sealed with a key of its own.
    let _ = std::fs::remove_file(secret_dir.join("freebusy.db"));
    write_private_file(&secret_dir.join("store.key"), &SealKey::generate()?)?;
    std::fs::write(secret_dir.join("vendor_secret"), demo::VENDOR_CLIENT_SECRET)?;
    let mut text = demo_config(&emulator.base_url, components_dir, &secret_dir, cache);
    if let Some(api) = onboarding_api {
        text.push_str(&onboarding_config(&emulator.base_url, api, &secret_dir));
    }
    let loaded = LoadedConfig::from_str(&text, PathBuf::new())?;
    let store = loaded.open_store()?;
    let key = freebusy_host::cli::create_key(&loaded, &store, None, Some(ALL_SCOPES), None, "demo")?;
    let runtime = Runtime::new(runtime)?;
    let login = freebusy_host::login::params_for(&loaded, &store, &runtime, "contoso-delegated").await?;
    let approve = async {
        loop {
            if let Some(code) = emulator.pending_user_codes().first() {
                emulator.approve_device_code(code, DELEGATED_USER);
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let (signed_in, ()) = tokio::join!(freebusy_host::login::device_code(&login, &store, |_| {}), approve);
    signed_in.context("the demo's delegated sign-in")?;
    drop(store);
    let service = Arc::new(Service::from_config(&loaded, &runtime).await?);
    Ok(Demo { emulator, service, key })
}

/// The demo tenant's people and rooms, as the emulator's tenant model holds them.
pub fn people_and_rooms() -> (Vec<String>, Vec<String>) {
    use freebusy_emulator::tenant::Kind;
    let tenant = demo::tenant();
    let of = |kind: Kind| tenant.mailboxes.iter().filter(|m| m.kind == kind).map(|m| m.address.clone()).collect();
    (of(Kind::Person), of(Kind::Room))
}

/// The timeline page with a useful selection: three people in two zones, two rooms, the day
/// the demo's week shows today, common free time for 30 minutes, times in Berlin.
pub fn page_url(base_url: &str) -> String {
    let today = Utc::now().date_naive();
    let monday = demo::demo_monday(today);
    let day = if today >= monday && today < monday + Duration::days(5) { today } else { monday };
    format!(
        "{base_url}/#mailboxes=adele.vance%40{d}%2Cmegan.bowen%40{d}%2Cjohanna.lorenz%40{d}&rooms=room.adams%40{d}%2Croom.baker%40{d}&day={day}&zone=Europe%2FBerlin&duration=30",
        d = demo::DOMAIN
    )
}

/// Every scope, for the demo's key.
const ALL_SCOPES: &str = "freebusy:read,directory:read,details:read,admin";

/// A ready-to-paste curl line for this week (Monday to Monday, UTC) and three demo mailboxes,
/// with the demo's API key.
pub fn sample_curl(base_url: &str, key: &str) -> String {
    let today = Utc::now().date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let next = monday + Duration::days(7);
    format!(
        "curl -H 'Authorization: Bearer {key}' '{base_url}/v1/freebusy?mailboxes=adele.vance@{d},megan.bowen@{d},room.adams@{d}&start={monday}T00:00:00Z&end={next}T00:00:00Z&interval=60'",
        d = demo::DOMAIN
    )
}
