//! `freebusy-demo`: run the host on the built-in Microsoft 365 emulator's demo tenant (no account
//! needed), the way `scripts/demo` starts it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use freebusy_demo::{
    find_components_dir, people_and_rooms, sample_curl, start_with_onboarding, DEMO_TENANTS, GRAPH_COMPONENT,
};
use freebusy_host::runtime::RuntimeSettings;

/// freebusy on the built-in Microsoft 365 emulator's demo tenant.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Listen address for the API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory holding the built provider components.
    #[arg(long, env = "FREEBUSY_COMPONENTS")]
    components: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let dir = cli
        .components
        .or_else(find_components_dir)
        .context("no built provider components found; run scripts/demo (it builds them), or pass --components <dir>")?;
    let listener = freebusy_host::http::bind(cli.listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let d = start_with_onboarding(&dir, RuntimeSettings::default(), "", &url).await?;
    println!("freebusy demo: Microsoft 365 emulator at {} (demo tenant 'Contoso')", d.emulator.base_url);
    println!("API at {url}  (Graph provider component: {})", dir.join(GRAPH_COMPONENT).display());
    println!("day timeline in a browser (it asks for the key below once): {}", freebusy_demo::page_url(&url));
    println!("API key (every demo tenant and scope; the page asks for it once): {}", d.key);
    println!("try:\n  {}", sample_curl(&url, &d.key));
    println!("the same tenant connected every way admins do (replace /v1/freebusy with /v1/tenants/<name>/freebusy):");
    for (name, how) in DEMO_TENANTS {
        println!("  {name:<18} {how}");
    }
    println!("onboarding a customer (Fabrikam's admin consents): POST {url}/v1/admin/invitations {{\"name\": \"acme\"}} with the key");
    let (people, rooms) = people_and_rooms();
    println!("people: {}", people.join(", "));
    println!("rooms:  {}", rooms.join(", "));
    freebusy_host::http::serve(listener, d.service.clone()).await?;
    Ok(())
}
