//! The `freebusy` command: serve, query, check, login. (The demo is `freebusy-demo`, in its own
//! crate, so that this binary carries no emulator.)

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
use clap::{Parser, Subcommand};
use freebusy_core::api::RawFreeBusyRequest;
use freebusy_host::config::LoadedConfig;
use freebusy_host::http;
use freebusy_host::runtime::Runtime;
use freebusy_host::service::Service;

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
}

async fn load(config: &Path) -> anyhow::Result<(LoadedConfig, Service)> {
    let loaded = LoadedConfig::from_file(config)?;
    let runtime = Runtime::new(loaded.config.runtime.clone())?;
    let service = Service::from_config(&loaded, &runtime).await?;
    Ok((loaded, service))
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
            let listener = http::bind(addr).await?;
            tracing::info!("serving on http://{}", listener.local_addr()?);
            http::serve_until(listener, Arc::new(service), shutdown_signal()).await?;
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
            let runtime = Runtime::new(loaded.config.runtime.clone())?;
            let params = freebusy_host::login::params_for(&loaded, &runtime, &tenant).await?;
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
