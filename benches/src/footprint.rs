//! `freebusy serve` as users start it: time from start to a ready `/readyz`, with the compile
//! cache cold and warm, and its resident memory idle and with 1000 connections open, each having
//! asked a cached `/v1/freebusy` (target: under 100 MB); and the answer cache at its `max_entries`.

use std::time::{Duration, Instant};

use freebusy_emulator::demo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::measure::{micros, percentile};
use crate::{process, week_query, Args};

/// The config for `freebusy serve` on `emulator`'s demo tenant, compiling into `cache_dir`.
fn config(args: &Args, emulator: &str, cache_dir: &std::path::Path) -> anyhow::Result<String> {
    let components = std::fs::canonicalize(&args.components)?;
    Ok(format!(
        "default_tenant = \"contoso\"\n[auth]\nmode = \"none\"\n[store]\npath = \":memory:\"\n[cache]\nttl_secs = 3600\n\
         [runtime]\ncompile_cache = true\ncompile_cache_dir = \"{cache}\"\n\
         [providers.graph]\ncomponent = \"{graph}\"\n\
         [tenants.contoso]\nprovider = \"graph\"\n[tenants.contoso.settings]\ntenant_id = \"{tenant}\"\nclient_id = \"{client}\"\n\
         client_secret = \"{secret}\"\nauthority = \"{emulator}\"\ngraph_base_url = \"{emulator}\"\n",
        cache = cache_dir.display(),
        graph = components.join("freebusy_graph.wasm").display(),
        tenant = demo::TENANT_ID,
        client = demo::CLIENT_ID,
        secret = demo::CLIENT_SECRET,
    ))
}

/// Poll `/readyz` until it answers 200, at most a minute; how long that took.
async fn until_ready(api: &str, started: Instant) -> anyhow::Result<Duration> {
    let client = reqwest::Client::new();
    for _ in 0..6000 {
        if let Ok(resp) = client.get(format!("{api}/readyz")).send().await {
            if resp.status() == 200 {
                return Ok(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("{api} was not ready within a minute")
}

/// Open `n` keep-alive connections, each asking `path` once and reading the answer's head;
/// they stay open while the returned streams live.
async fn open_connections(port: u16, path: &str, n: usize) -> anyhow::Result<Vec<tokio::net::TcpStream>> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
    let mut open = Vec::with_capacity(n);
    for chunk in 0..n.div_ceil(100) {
        let batch: Vec<_> = (0..100.min(n - chunk * 100))
            .map(|_| {
                let request = request.clone();
                tokio::spawn(async move {
                    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
                    stream.write_all(request.as_bytes()).await?;
                    let mut head = [0u8; 12];
                    stream.read_exact(&mut head).await?;
                    anyhow::ensure!(head.starts_with(b"HTTP/1.1 200"), "answered {}", String::from_utf8_lossy(&head));
                    anyhow::Ok(stream)
                })
            })
            .collect();
        for t in batch {
            open.push(t.await??);
        }
    }
    Ok(open)
}

/// Print start-up times and memory.
pub async fn start_up_and_memory(args: &Args) -> anyhow::Result<()> {
    let emulator = freebusy_emulator::Emulator::start(([127, 0, 0, 1], 0).into(), Default::default()).await?;
    let dir = std::env::temp_dir().join(format!("freebusy-bench-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("compiled"))?;
    let text = config(args, &emulator.base_url, &dir.join("compiled"))?;
    println!("\n## freebusy serve: start-up to ready, and resident memory\n");
    println!("| compile cache | start to /readyz 200 |\n|---|---|");
    let mut last = None;
    for run in ["cold (empty)", "warm"] {
        drop(last.take());
        let started = Instant::now();
        let (server, api) = process::serve(&dir, "serve", &text)?;
        let took = until_ready(&api, started).await?;
        println!("| {run} | {:.0} ms |", took.as_secs_f64() * 1e3);
        last = Some((server, api));
    }
    let (server, api) = last.expect("a server");
    let path = format!("/v1/freebusy?{}", week_query());
    let client = reqwest::Client::new();
    for _ in 0..100 {
        client.get(format!("{api}{path}")).send().await?.error_for_status()?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = server.rss_bytes()?;
    let port: u16 = api.rsplit(':').next().unwrap_or_default().parse()?;
    let open = open_connections(port, &path, args.connections).await?;
    let loaded = server.rss_bytes()?;
    println!(
        "\nresident memory: {} MB idle (after 100 cached requests), {} MB with {} connections open, each having asked a cached /v1/freebusy (target: under 100 MB)",
        idle >> 20,
        loaded >> 20,
        open.len()
    );
    drop(open);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Storing a fetched mailbox-week into the answer cache at its `max_entries` (the default,
/// 200,000 mailbox-days) next to storing into one below it, in the same run.
pub async fn cache_at_capacity() -> anyhow::Result<()> {
    use freebusy_host::cache::{Cache, CacheSettings};
    const STORES: usize = 2000;
    let settings = CacheSettings::default();
    let week = |n: usize| (n as i64 * 7)..(n as i64 * 7 + 7);
    // Every store a new mailbox-week, so each one adds seven entries.
    async fn timed(cache: &Cache, from: usize, week: impl Fn(usize) -> std::ops::Range<i64>) -> Vec<Duration> {
        let mut times = Vec::with_capacity(STORES);
        for n in from..from + STORES {
            let started = Instant::now();
            cache.store(&format!("m{n}@contoso.com"), &week(n), false, &[], None).await;
            times.push(started.elapsed());
        }
        times.sort();
        times
    }
    let below = Cache::new(settings.clone(), None);
    let below_times = timed(&below, 0, week).await;
    let full = Cache::new(settings.clone(), None);
    let to_fill = settings.max_entries / 7 + 1;
    for n in 0..to_fill {
        full.store(&format!("m{n}@contoso.com"), &week(n), false, &[], None).await;
    }
    let full_times = timed(&full, to_fill, week).await;
    anyhow::ensure!(full.len() <= settings.max_entries, "the cache holds {} entries", full.len());
    println!(
        "\n## The answer cache at its max_entries ({} mailbox-days): storing a fetched mailbox-week ({STORES} stores)\n",
        settings.max_entries
    );
    println!("| cache | p50 | p99 | max | mean |\n|---|---|---|---|---|");
    let mut means = Vec::new();
    for (name, t) in [("below max_entries", &below_times), ("at max_entries", &full_times)] {
        let mean = t.iter().sum::<Duration>() / t.len() as u32;
        means.push(mean);
        println!(
            "| {name} | {} | {} | {} | {} |",
            micros(percentile(t, 0.5)),
            micros(percentile(t, 0.99)),
            micros(t[t.len() - 1]),
            micros(mean)
        );
    }
    println!(
        "\nmean at / below: {:.1} (room is made for a tenth of max_entries at once, so one store in about {} pays a pass over the cache)",
        means[1].as_secs_f64() / means[0].as_secs_f64(),
        settings.max_entries / 10 / 7
    );
    Ok(())
}
