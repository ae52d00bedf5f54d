//! `freebusy-bench`: the numbers behind performance claims, rerunnable by anyone
//! (`scripts/bench`, which writes them to `benches/RESULTS.md`). Every figure is a ratio or a
//! count measured side by side in one run, since machines are noisy; loops are bounded and only
//! 127.0.0.1 is used.
//!
//! - [`calls`]: one provider call (fresh `Store` from the `InstancePre`), pooled and not; loading
//!   a component with the compile cache cold and warm.
//! - [`http`]: cached `/v1/freebusy` next to `/healthz` of the same server (wrk); uncached, host +
//!   component + emulator next to a plain reqwest + serde client asking the emulator directly, at
//!   concurrency 1 and 16.
//! - [`edge`]: the Spin edge's request latency next to the host's: `spin up` with the edge and
//!   Graph components next to the host, on the same emulator, cache off in both, at concurrency
//!   1 and 16 (part of `http`, or `--only edge`; left out without Spin).
//! - [`economy`]: upstream calls for N mailboxes over a window against what the limits allow,
//!   1000 identical concurrent requests, 500 mailboxes over 30 days.
//! - [`footprint`]: `freebusy serve` start-up to ready (compile cache cold and warm) and resident
//!   memory idle and at 1000 open connections; the answer cache at its `max_entries`.
//! - [`shared`]: instances on one Redis: cached throughput of one and two, upstream calls for
//!   1000 identical requests spread over them.

mod calls;
mod economy;
mod edge;
mod footprint;
mod http;
mod measure;
mod process;
mod profile;
mod shared;

use std::path::PathBuf;

use clap::Parser;
use freebusy_emulator::demo;

#[derive(Parser)]
pub struct Args {
    /// Directory of built components.
    #[arg(long, default_value = "target/components")]
    components: PathBuf,
    /// Provider calls per allocator setting.
    #[arg(long, default_value_t = 5000)]
    calls: usize,
    /// Seconds per throughput run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent clients (wrk connections) for the throughput runs.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Open connections for the memory figure.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Sample the server with `perf` during the cached run and print where the time goes.
    #[arg(long)]
    profile: bool,
    /// Run only these measurements (calls, http, edge, economy, footprint, shared); all by
    /// default. `http` includes `edge`.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl Args {
    /// Whether measurement `name` runs.
    fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

/// The ten demo mailboxes every throughput figure asks about.
const MAILBOXES: [&str; 10] = [
    "adele.vance",
    "megan.bowen",
    "pradeep.gupta",
    "alex.wilber",
    "diego.siciliani",
    "johanna.lorenz",
    "lee.gu",
    "lidia.holloway",
    "room.adams",
    "room.baker",
];
/// One demo week.
const START: &str = "2026-03-23T00:00:00Z";
const END: &str = "2026-03-30T00:00:00Z";

/// The ten mailboxes' addresses.
fn addresses() -> Vec<String> {
    MAILBOXES.iter().map(|m| format!("{m}@{}", demo::DOMAIN)).collect()
}

/// The query string for the ten mailboxes over the week at interval 60.
fn week_query() -> String {
    format!("mailboxes={}&start={START}&end={END}&interval=60", addresses().join(","))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.runs("calls") {
        calls::provider_calls(&args).await?;
        calls::compile_times(&args).await?;
    }
    if args.runs("http") {
        http::cached_next_to_healthz(&args).await?;
        http::uncached_next_to_a_plain_client(&args).await?;
    }
    if args.runs("http") || args.runs("edge") {
        edge::next_to_the_host(&args).await?;
    }
    if args.runs("economy") {
        economy::upstream_calls(&args).await?;
        economy::identical_requests(&args).await?;
        economy::scale(&args).await?;
    }
    if args.runs("footprint") {
        footprint::start_up_and_memory(&args).await?;
        footprint::cache_at_capacity().await?;
    }
    if args.runs("shared") {
        shared::instances(&args).await?;
    }
    Ok(())
}
