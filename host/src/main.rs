//! The `freebusy` command: serve, query, check, login, and the store's keys and tenants. (The
//! demo is `freebusy-demo`, in its own crate, so that this binary carries no emulator.)

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::{Parser, Subcommand, ValueEnum};
use freebusy_core::api::RawFreeBusyRequest;
use freebusy_host::config::LoadedConfig;
use freebusy_host::runtime::Runtime;
use freebusy_host::service::{ConfigSource, Service};
use freebusy_host::tenant::health::CheckMode;
use freebusy_host::{cli, http};

/// Who is free, and when: normalized free/busy for Microsoft 365 and Exchange.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Log lines as text or as JSON objects (one per line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API for the tenants in a config file and its store.
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
    /// Find a time: free slots common to people and (any one of) rooms, printed as a table.
    Find {
        /// Config file (TOML).
        #[arg(long, short, env = "FREEBUSY_CONFIG")]
        config: PathBuf,
        /// Tenant name (default: the config's default tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// Comma-separated people who must all be free.
        #[arg(long, required = true)]
        mailboxes: String,
        /// Comma-separated rooms, any one of which will do.
        #[arg(long)]
        rooms: Option<String>,
        /// Meeting length in minutes.
        #[arg(long, default_value_t = 30)]
        duration: i64,
        /// Days to search, from today (or --start).
        #[arg(long, default_value_t = 5)]
        days: i64,
        /// First day (YYYY-MM-DD; default today).
        #[arg(long)]
        start: Option<String>,
        /// Minutes between slot starts.
        #[arg(long, default_value_t = 15)]
        interval: i64,
        /// The zone slots are aligned and shown in (IANA; default UTC).
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        /// Minutes kept clear before and after.
        #[arg(long, default_value_t = 0)]
        buffer: i64,
        /// At most this many slots.
        #[arg(long, default_value_t = 20)]
        max: i64,
    },
    /// Validate the config and sign in once for each tenant: say what permission is missing. A
    /// success reopens sign-ins for a tenant whose credentials were refused.
    Check {
        /// Config file (TOML).
        #[arg(long, short, env = "FREEBUSY_CONFIG")]
        config: PathBuf,
        /// Check only this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Sign a user in for a tenant with delegated access and seal the refresh token in the store.
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
    /// API keys: create (printed once), list, revoke.
    Keys {
        /// Config file (TOML): it names the store.
        #[arg(long, short, env = "FREEBUSY_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Tenants kept in the store (besides those in the config file): add, remove, list.
    Tenants {
        /// Config file (TOML): it names the store and the providers.
        #[arg(long, short, env = "FREEBUSY_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: TenantsAction,
    },
    /// Invite a customer's admin to consent to the multi-tenant app (`[onboarding]`): prints a
    /// single-use link.
    Invite {
        /// Config file (TOML).
        #[arg(long, short, env = "FREEBUSY_CONFIG")]
        config: PathBuf,
        /// The tenant name the customer will have (in URLs).
        #[arg(long)]
        name: String,
    },
    /// The store itself.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Make a key and print it once (only its digest is kept).
    Create {
        /// The tenant the key reads.
        #[arg(long, required_unless_present = "all_tenants")]
        tenant: Option<String>,
        /// A key for every tenant (admin keys of a vendor serving many).
        #[arg(long, conflicts_with = "tenant")]
        all_tenants: bool,
        /// Comma-separated: freebusy:read, directory:read, details:read, admin (default: the first two).
        #[arg(long)]
        scope: Option<String>,
        /// Last day it works (YYYY-MM-DD).
        #[arg(long)]
        expires: Option<String>,
        /// What it is for, for the list.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Every key: id, name, tenant, scopes, created, last used, expires, revoked.
    List,
    /// Stop a key from working.
    Revoke {
        /// The key's id (the part after fbk_).
        id: String,
    },
}

#[derive(Subcommand)]
enum TenantsAction {
    /// Keep a tenant in the store, served at once by a running server.
    Add {
        /// Its name (in URLs).
        name: String,
        /// A `[providers.<name>]` of the config.
        #[arg(long)]
        provider: String,
        /// name=value; a value may be env:NAME, file:PATH or stored (sealed by freebusy login).
        #[arg(long = "setting")]
        settings: Vec<String>,
    },
    /// Remove a stored tenant (with its sealed secrets and health).
    Remove {
        /// Its name.
        name: String,
    },
    /// Every tenant and where it is defined.
    List,
}

#[derive(Subcommand)]
enum StoreAction {
    /// Print a new random secret key for `[store] secret_key` (keep it outside the store).
    NewKey,
}

async fn load(config: &Path) -> anyhow::Result<(LoadedConfig, Service)> {
    let loaded = LoadedConfig::from_file(config)?;
    let runtime = Runtime::new(loaded.config.runtime.clone())?;
    let service = Service::new(ConfigSource::File(config.to_path_buf()), &runtime).await?;
    Ok((loaded, service))
}

fn config_path(config: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    config.ok_or_else(|| {
        anyhow::anyhow!("name the config with --config (or FREEBUSY_CONFIG): it says where the store is")
    })
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Serve { config, listen } => serve(&config, listen).await?,
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
        Command::Find { config, tenant, mailboxes, rooms, duration, days, start, interval, time_zone, buffer, max } => {
            let (_, service) = load(&config).await?;
            let tz = freebusy_core::slots::zone(&time_zone)
                .ok_or_else(|| anyhow::anyhow!("unknown time zone '{time_zone}'"))?;
            let first = match start {
                Some(d) => chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|_| anyhow::anyhow!("--start '{d}' is not YYYY-MM-DD"))?,
                None => chrono::Utc::now().with_timezone(&tz).date_naive(),
            };
            let local = |d: chrono::NaiveDate| {
                use chrono::TimeZone as _;
                tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")).earliest().map(|t| t.to_rfc3339())
            };
            let mut participants = vec![serde_json::json!({ "mailboxes": [mailboxes], "required": "all" })];
            if let Some(rooms) = rooms {
                participants.push(serde_json::json!({ "mailboxes": [rooms], "required": 1 }));
            }
            let body = serde_json::json!({
                "start": local(first), "end": local(first + chrono::Duration::days(days)), "duration": duration,
                "participants": participants, "interval": interval, "timeZone": time_zone,
                "buffer": { "before": buffer, "after": buffer }, "maxSlots": max,
            });
            let req =
                freebusy_core::api::parse_availability_body(Some("application/json"), body.to_string().as_bytes())
                    .map_err(|p| anyhow::anyhow!("{}", p.detail))?;
            let resp = service.tenant(tenant.as_deref())?.availability(&req).await;
            print!("{}", cli::slot_table(&resp, tz));
        }
        Command::Check { config, tenant } => {
            let (_, service) = load(&config).await?;
            let today = chrono::Utc::now().date_naive();
            let mut failed = false;
            for t in service.tenants().into_iter().filter(|t| tenant.as_deref().is_none_or(|n| n == t.name)) {
                let info = t.provider.info();
                let h = t.health(today, CheckMode::Explicit).await;
                let verdict = if h.ok { "ok" } else { "FAILED" };
                println!("{}: {verdict} ({} {}): {}", h.tenant, info.name, info.version, h.summary);
                if let Some(consent) = freebusy_host::onboarding::consent_of(&service, &h)? {
                    println!("  consent: {}: {}", consent.state, consent.detail);
                }
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
            let store = loaded.open_store()?;
            let runtime = Runtime::new(loaded.config.runtime.clone())?;
            let params = freebusy_host::login::params_for(&loaded, &store, &runtime, &tenant).await?;
            let show = |text: &str| println!("{text}");
            if browser {
                println!("Open this URL in a browser to sign in:");
                freebusy_host::login::browser(&params, &store, port, user.as_deref(), show).await?;
            } else {
                freebusy_host::login::device_code(&params, &store, show).await?;
            }
            println!("Signed in; the refresh token is sealed in the store ({}).", store.path().display());
        }
        Command::Keys { config, action } => {
            let loaded = LoadedConfig::from_file(&config_path(config)?)?;
            let store = loaded.open_store()?;
            match action {
                KeysAction::Create { tenant, all_tenants: _, scope, expires, name } => {
                    let key = cli::create_key(
                        &loaded,
                        &store,
                        tenant.as_deref(),
                        scope.as_deref(),
                        expires.as_deref(),
                        &name,
                    )?;
                    eprintln!("The key (shown only now; freebusy keeps only its digest):");
                    println!("{key}");
                }
                KeysAction::List => print!("{}", cli::list_keys(&store)?),
                KeysAction::Revoke { id } => {
                    cli::revoke_key(&store, &id)?;
                    println!("revoked {id}");
                }
            }
        }
        Command::Tenants { config, action } => {
            let loaded = LoadedConfig::from_file(&config_path(config)?)?;
            let store = loaded.open_store()?;
            match action {
                TenantsAction::Add { name, provider, settings } => {
                    cli::add_tenant(&loaded, &store, &name, &provider, &settings)?;
                    println!("added {name}; a running freebusy serve on this store serves it within seconds");
                }
                TenantsAction::Remove { name } => {
                    cli::remove_tenant(&store, &name)?;
                    println!("removed {name}");
                }
                TenantsAction::List => print!("{}", cli::list_tenants(&loaded, &store)?),
            }
        }
        Command::Invite { config, name } => {
            let loaded = LoadedConfig::from_file(&config)?;
            let settings = loaded
                .config
                .onboarding
                .clone()
                .ok_or_else(|| anyhow::anyhow!("the config has no [onboarding] table"))?;
            let store = loaded.open_store()?;
            let taken = cli::tenant_names(&loaded, &store)?;
            let url = freebusy_host::onboarding::invite(&settings, &store, &name, &taken)?;
            println!(
                "Send this link to {name}'s Microsoft 365 admin (it works once, for {} hours):",
                settings.invitation_ttl_hours
            );
            println!("{url}");
        }
        Command::Store { action: StoreAction::NewKey } => {
            println!("{}", freebusy_host::store::seal::SealKey::generate()?);
        }
    }
    Ok(())
}

/// `freebusy serve`: the API (and the ops listener, when configured), reloaded on SIGHUP and when
/// the store changes, stopped gracefully on SIGTERM or Ctrl-C.
async fn serve(config: &Path, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    // Every client connection is a file descriptor, and the usual soft limit (1024) would refuse
    // the thousand-and-first; raise it to the hard limit the system allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-files limit"),
    }
    let (loaded, service) = load(config).await?;
    let addr = listen.unwrap_or(loaded.config.listen);
    loaded.config.auth.check_listener(addr)?;
    let service = Arc::new(service);
    let listener = http::bind(addr).await?;
    tracing::info!("serving on http://{}", listener.local_addr()?);
    if let Some(ops) = loaded.config.auth.ops_listen {
        let ops_listener = http::bind(ops).await?;
        tracing::info!("operations (healthz, readyz, metrics) on http://{}", ops_listener.local_addr()?);
        let router = http::ops_router(service.clone());
        tokio::spawn(async move { axum::serve(ops_listener, router).await });
    }
    tokio::spawn(service.clone().maintain(Duration::from_secs(2)));
    tokio::spawn(reload_on_hangup(service.clone()));
    http::serve_until(listener, service.clone(), shutdown_signal()).await?;
    service.flush_key_use();
    tracing::info!("stopped");
    Ok(())
}

/// SIGHUP re-reads the configuration file and the store.
async fn reload_on_hangup(service: Arc<Service>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match service.reload().await {
                Ok(report) => tracing::info!(?report, "SIGHUP: configuration reloaded"),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "SIGHUP: the configuration was not reloaded; the running one stays")
                }
            }
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await;
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
