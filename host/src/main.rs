//! The `freebusy` command: serve, query, check, demo.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use freebusy_core::api::RawFreeBusyRequest;
use freebusy_host::config::LoadedConfig;
use freebusy_host::runtime::{Runtime, RuntimeConfig};
use freebusy_host::service::Service;
use freebusy_host::{api, demo};

/// Who is free, and when: normalized free/busy for Microsoft 365 and Exchange.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API for the tenants in a config file.
    Serve {
        /// Config file (TOML).
        #[arg(long, short, env = "FREEBUSY_CONFIG")]
        config: PathBuf,
        /// Listen address (overrides the config's `listen`).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Ask once and print the JSON answer.
    Query {
        /// Config file (TOML).
        #[arg(long, short, env = "FREEBUSY_CONFIG")]
        config: PathBuf,
        /// Tenant name (default: the config's default tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// Comma-separated mailbox addresses.
        #[arg(long, required = true)]
        mailboxes: String,
        /// RFC 3339 start (default: now).
        #[arg(long)]
        start: Option<String>,
        /// RFC 3339 end (default: 24 hours after start).
        #[arg(long)]
        end: Option<String>,
        /// Minutes per digit of the availability string.
        #[arg(long)]
        interval: Option<u32>,
        /// Include subjects and locations where allowed.
        #[arg(long)]
        details: bool,
        /// Print iCalendar VFREEBUSY instead of JSON.
        #[arg(long)]
        ical: bool,
    },
    /// Validate the config and each tenant's credentials; say what permission is missing.
    Check {
        /// Config file (TOML).
        #[arg(long, short, env = "FREEBUSY_CONFIG")]
        config: PathBuf,
        /// Check only this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Sign a user in for a tenant with delegated access and store the refresh token.
    Login {
        /// Config file (TOML).
        #[arg(long, short, env = "FREEBUSY_CONFIG")]
        config: PathBuf,
        /// Tenant name.
        #[arg(long)]
        tenant: String,
        /// Sign in in a browser (authorization code with PKCE) instead of with a device code.
        #[arg(long)]
        browser: bool,
        /// Localhost port of the browser redirect (the app registration lists http://localhost:<port>).
        #[arg(long, default_value_t = 8000)]
        port: u16,
        /// Pre-fill the user in the browser sign-in.
        #[arg(long)]
        user: Option<String>,
    },
    /// Run against the built-in Microsoft 365 emulator's demo tenant (no account needed).
    Demo {
        /// Listen address for the API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Directory holding the built provider components.
        #[arg(long, env = "FREEBUSY_COMPONENTS")]
        components: Option<PathBuf>,
    },
}

fn runtime_config(loaded: &LoadedConfig) -> RuntimeConfig {
    let r = &loaded.config.runtime;
    RuntimeConfig {
        pooling: r.pooling,
        memory_limit_bytes: r.memory_limit_mb << 20,
        call_timeout: Duration::from_secs(r.call_timeout_secs),
        extra_ca_certificates: r.extra_ca_certificates.iter().map(|f| loaded.base_dir.join(f)).collect(),
        resolve: r.resolve.clone(),
        compile_cache: r.compile_cache,
        compile_cache_dir: r.compile_cache_dir.as_ref().map(|d| loaded.base_dir.join(d)),
        ..RuntimeConfig::default()
    }
}

async fn load(config: &Path) -> anyhow::Result<(LoadedConfig, Service)> {
    let loaded = LoadedConfig::from_file(config)?;
    let runtime = Runtime::new(runtime_config(&loaded))?;
    let service = Service::from_config(&loaded, &runtime).await?;
    Ok((loaded, service))
}

async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (in use? pass --listen 127.0.0.1:<other port>)"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { config, listen } => {
            let (loaded, service) = load(&config).await?;
            let addr = listen.unwrap_or(loaded.config.listen);
            let listener = bind(addr).await?;
            tracing::info!("serving on http://{}", listener.local_addr()?);
            api::serve_until(listener, Arc::new(service), shutdown_signal()).await?;
            tracing::info!("stopped");
        }
        Command::Query { config, tenant, mailboxes, start, end, interval, details, ical } => {
            let (_, service) = load(&config).await?;
            let now = chrono::Utc::now();
            let start = start.unwrap_or_else(|| now.format("%Y-%m-%dT%H:%M:00Z").to_string());
            let end = match end {
                Some(e) => e,
                None => match chrono::DateTime::parse_from_rfc3339(&start) {
                    Ok(s) => (s + chrono::Duration::hours(24)).to_rfc3339(),
                    Err(_) => String::new(),
                },
            };
            let raw = RawFreeBusyRequest {
                mailboxes: vec![mailboxes],
                start: Some(start),
                end: Some(end),
                interval: interval.map(|i| i.to_string()),
                details: Some(details.to_string()),
                upstream: None,
            };
            let req = raw.validate().map_err(|p| anyhow::anyhow!("{}", p.detail))?;
            let resp = service.freebusy(tenant.as_deref(), &req).await?;
            if ical {
                print!(
                    "{}",
                    freebusy_core::ical::render(&resp, &freebusy_core::api::format_instant(now.timestamp_millis()))
                );
            } else {
                println!("{}", serde_json::to_string_pretty(&resp)?);
            }
        }
        Command::Check { config, tenant } => {
            let (_, service) = load(&config).await?;
            let today = chrono::Utc::now().date_naive();
            let mut failed = false;
            for t in service.tenants().filter(|t| tenant.as_deref().is_none_or(|n| n == t.name)) {
                let info = t.provider.info();
                let h = t.health(today).await;
                let verdict = if h.ok { "ok" } else { "FAILED" };
                println!("{}: {verdict} ({} {}): {}", h.tenant, info.name, info.version, h.summary);
                for m in &h.missing {
                    println!("  missing: {m}");
                }
                for w in &h.warnings {
                    println!("  warning: {w}");
                }
                if let Some(expires) = h.secret_expires {
                    println!("  secret expires: {expires}");
                }
                failed |= !h.ok;
            }
            if failed {
                bail!("one or more tenants failed the check");
            }
        }
        Command::Login { config, tenant, browser, port, user } => {
            let loaded = LoadedConfig::from_file(&config)?;
            let params = freebusy_host::login::params_for(&loaded, &tenant)?;
            let show = |text: &str| println!("{text}");
            if browser {
                println!("Open this URL in a browser to sign in:");
                freebusy_host::login::browser(&params, port, user.as_deref(), show).await?;
            } else {
                freebusy_host::login::device_code(&params, show).await?;
            }
            println!(
                "Signed in; the refresh token is stored in {} (readable by its owner only).",
                params.token_file.display()
            );
        }
        Command::Demo { listen, components } => {
            let dir = components.or_else(demo::find_components_dir).context(
                "no built provider components found; run scripts/demo (it builds them), or pass --components <dir>",
            )?;
            let listener = bind(listen).await?;
            let runtime = RuntimeConfig { compile_cache: true, ..RuntimeConfig::default() };
            let d = demo::start(&dir, runtime, "").await?;
            let url = format!("http://{}", listener.local_addr()?);
            println!("freebusy demo: Microsoft 365 emulator at {} (demo tenant 'Contoso')", d.emulator.base_url);
            println!("API at {url}  (Graph provider component: {})", dir.join(demo::GRAPH_COMPONENT).display());
            println!("day timeline in a browser: {url}/");
            println!("try:\n  {}", demo::sample_curl(&url));
            println!("the same tenant connected every way admins do (replace /v1/freebusy with /v1/tenants/<name>/freebusy):");
            for (name, how) in demo::DEMO_TENANTS {
                println!("  {name:<18} {how}");
            }
            println!("people: adele.vance, megan.bowen, pradeep.gupta, alex.wilber, diego.siciliani, johanna.lorenz, lee.gu, lidia.holloway, nestor.wilke, patti.fernandez");
            println!("rooms:  room.adams, room.baker, room.crystal   (all @{})", freebusy_emulator::demo::DOMAIN);
            api::serve(listener, d.service.clone()).await?;
        }
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
