//! One provider call, pooled and not, and loading a component with the compile cache cold and
//! warm.

use std::time::{Duration, Instant};

use freebusy_core::provider::Query;
use freebusy_core::Window;
use freebusy_host::runtime::{CallContext, Runtime, RuntimeSettings};

use crate::measure::{micros, percentile};
use crate::{addresses, Args};

/// Sorted durations of `args.calls` sequential calls to a component doing no I/O.
async fn timed_calls(args: &Args, runtime: RuntimeSettings) -> anyhow::Result<Vec<Duration>> {
    let runtime = Runtime::new(runtime)?;
    let provider = runtime.load_file(&args.components.join("fixture_no_io.wasm")).await?;
    let ctx = CallContext::empty();
    let query = Query {
        mailboxes: addresses(),
        window: Window { start: 0, end: 7 * 86_400_000 },
        details: false,
        view_interval: None,
    };
    for _ in 0..200 {
        provider.get_schedules(&ctx, query.clone()).await?;
    }
    let mut times = Vec::with_capacity(args.calls);
    for _ in 0..args.calls {
        let started = Instant::now();
        let schedules = provider.get_schedules(&ctx, query.clone()).await?;
        times.push(started.elapsed());
        anyhow::ensure!(schedules.len() == 10, "the component answered {} mailboxes", schedules.len());
    }
    times.sort();
    Ok(times)
}

/// Print the call table (target: p50 under 20 µs pooled).
pub async fn provider_calls(args: &Args) -> anyhow::Result<()> {
    println!(
        "## One provider call (fresh Store, instantiate, get-schedules of 10 mailboxes on a no-I/O component; {} calls, sequential)\n",
        args.calls
    );
    println!("| allocator | p50 | p99 | mean |\n|---|---|---|---|");
    let default = RuntimeSettings::default();
    let setups = [
        ("pooling (the default)".to_string(), default.clone()),
        ("on-demand (no pooling)".to_string(), RuntimeSettings { pooling: false, ..default }),
    ];
    let mut p50 = Vec::new();
    for (name, settings) in setups {
        let t = timed_calls(args, settings).await?;
        let mean = t.iter().sum::<Duration>() / t.len() as u32;
        p50.push(percentile(&t, 0.5));
        println!("| {name} | {} | {} | {} |", micros(percentile(&t, 0.5)), micros(percentile(&t, 0.99)), micros(mean));
    }
    println!(
        "\npooling / on-demand p50: {:.2} (target: pooled p50 under 20 µs)",
        p50[0].as_secs_f64() / p50[1].as_secs_f64()
    );
    Ok(())
}

/// Loading a component in a fresh runtime: compiled, then from the compile cache.
pub async fn compile_times(args: &Args) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("freebusy-bench-compile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    println!("\n## Loading a provider component (a fresh runtime each time)\n");
    println!("| component | compiled | from the compile cache | ratio |\n|---|---|---|---|");
    for file in ["freebusy_graph.wasm", "freebusy_ews.wasm", "freebusy_caldav.wasm"] {
        let mut times = Vec::new();
        for _ in 0..2 {
            let runtime = Runtime::new(RuntimeSettings {
                compile_cache: true,
                compile_cache_dir: Some(dir.clone()),
                ..RuntimeSettings::default()
            })?;
            let started = Instant::now();
            runtime.load_file(&args.components.join(file)).await?;
            times.push(started.elapsed());
        }
        println!(
            "| {file} | {:.0} ms | {:.0} ms | {:.3} |",
            times[0].as_secs_f64() * 1e3,
            times[1].as_secs_f64() * 1e3,
            times[1].as_secs_f64() / times[0].as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
