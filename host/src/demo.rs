//! `freebusy demo`: the emulator's demo tenant served through the real Graph component, with no
//! account needed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, Duration, Utc};
use freebusy_emulator::{demo, Emulator, Options};

use crate::config::LoadedConfig;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::service::Service;

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

/// The config for the emulator's demo tenant, once through Graph (`contoso`, the default) and
/// once through EWS with Basic authentication (`contoso-ews`). Like a real deployment it reads
/// the secrets from files in `secrets`, not from the config text.
pub fn demo_config(emulator_url: &str, components_dir: &Path, secrets: &Path) -> String {
    format!(
        r#"default_tenant = "contoso"

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
}

/// Start the emulator on a free loopback port and a service for its demo tenant.
pub async fn start(components_dir: &Path, runtime: RuntimeConfig) -> anyhow::Result<Demo> {
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await?;
    let secret_dir = std::env::temp_dir().join(format!("freebusy-demo-{}", std::process::id()));
    std::fs::create_dir_all(&secret_dir)?;
    std::fs::write(secret_dir.join("client_secret"), demo::CLIENT_SECRET)?;
    std::fs::write(secret_dir.join("ews_password"), demo::EWS_PASSWORD)?;
    let loaded = LoadedConfig::from_str(&demo_config(&emulator.base_url, components_dir, &secret_dir), PathBuf::new())?;
    let runtime = Runtime::new(runtime)?;
    let service = Arc::new(Service::from_config(&loaded, &runtime).await?);
    Ok(Demo { emulator, service })
}

/// A ready-to-paste curl line for this week (Monday to Monday, UTC) and three demo mailboxes.
pub fn sample_curl(base_url: &str) -> String {
    let today = Utc::now().date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let next = monday + Duration::days(7);
    format!(
        "curl '{base_url}/v1/freebusy?mailboxes=adele.vance@{d},megan.bowen@{d},room.adams@{d}&start={monday}T00:00:00Z&end={next}T00:00:00Z&interval=60'",
        d = demo::DOMAIN
    )
}
