//! `freebusy-bench`: the numbers behind performance claims, rerunnable by anyone
//! (`scripts/bench`). Two measurements:
//!
//! 1. One provider call: fresh `Store`, instantiate from the `InstancePre`, call
//!    `get-schedules` on a component that does no I/O; with and without the pooling allocator.
//! 2. `GET /v1/freebusy` for 10 demo mailboxes through the host (Graph component, token from the
//!    key-value store, getSchedule on the emulator), next to calling the emulator's getSchedule
//!    directly with the same body, both over loopback HTTP in the same run.
//! 3. 500 mailboxes over 30 days: upstream requests and time, cold and warm.
//! 4. Several instances on one Redis (`[shared]`, needs `redis-server`): cached requests per second
//!    of one instance and of two sharing the load, side by side, and upstream calls for 1000
//!    identical requests spread over the two.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use freebusy_core::provider::Query;
use freebusy_core::Window;
use freebusy_emulator::demo;
use freebusy_host::runtime::{CallContext, Runtime, RuntimeSettings};

#[derive(Parser)]
struct Args {
    /// Directory of built components.
    #[arg(long, default_value = "target/components")]
    components: PathBuf,
    /// Provider calls per allocator setting.
    #[arg(long, default_value_t = 5000)]
    calls: usize,
    /// Seconds per HTTP throughput run.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

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
const START: &str = "2026-03-23T00:00:00Z";
const END: &str = "2026-03-30T00:00:00Z";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

async fn provider_calls(args: &Args, pooling: bool) -> anyhow::Result<Vec<Duration>> {
    let runtime = Runtime::new(RuntimeSettings { pooling, ..RuntimeSettings::default() })?;
    let provider = runtime.load_file(&args.components.join("fixture_no_io.wasm")).await?;
    let ctx = CallContext::empty();
    let query = Query {
        mailboxes: MAILBOXES.iter().map(|m| format!("{m}@{}", demo::DOMAIN)).collect(),
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
        assert_eq!(schedules.len(), MAILBOXES.len());
    }
    times.sort();
    Ok(times)
}

/// Drive `request` from `concurrency` tasks for `seconds`; returns sorted latencies.
async fn load<F, Fut>(args: &Args, request: F) -> anyhow::Result<Vec<Duration>>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let request = Arc::new(request);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (request, stop) = (request.clone(), stop.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    request().await?;
                    times.push(started.elapsed());
                }
                anyhow::Ok(times)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort();
    Ok(all)
}

/// Start-up: loading a provider compiles it, unless the compile cache has it from an earlier run.
async fn compile_times(args: &Args) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("freebusy-bench-compile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    println!("\n## Loading a provider component at start-up (a fresh runtime each time)\n");
    println!("| component | compiled | from the compile cache |\n|---|---|---|");
    for file in ["freebusy_graph.wasm", "freebusy_ews.wasm"] {
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
        println!("| {file} | {:.0} ms | {:.0} ms |", times[0].as_secs_f64() * 1e3, times[1].as_secs_f64() * 1e3);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// [`load`] of GETs to `url` with API key `key`, each of which must answer 200.
async fn load_get(args: &Args, client: &reqwest::Client, url: String, key: &str) -> anyhow::Result<Vec<Duration>> {
    let client = client.clone();
    let bearer = format!("Bearer {key}");
    load(args, move || {
        let req = client.get(&url).header("authorization", &bearer);
        async move {
            let resp = req.send().await?;
            anyhow::ensure!(resp.status() == 200, "host answered {}", resp.status());
            resp.bytes().await?;
            Ok(())
        }
    })
    .await
}

fn report(name: &str, times: &[Duration], seconds: f64) {
    println!(
        "| {name} | {:.0} | {:.2} ms | {:.2} ms |",
        times.len() as f64 / seconds,
        percentile(times, 0.5).as_secs_f64() * 1e3,
        percentile(times, 0.99).as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("## One provider call (no-I/O component, 10 mailboxes, {} calls, sequential)\n", args.calls);
    println!("| allocator | p50 | p99 | mean |\n|---|---|---|---|");
    for pooling in [true, false] {
        let t = provider_calls(&args, pooling).await?;
        let mean = t.iter().sum::<Duration>() / t.len() as u32;
        println!(
            "| {} | {} | {} | {} |",
            if pooling { "pooling" } else { "on-demand" },
            micros(percentile(&t, 0.5)),
            micros(percentile(&t, 0.99)),
            micros(mean)
        );
    }

    // Without the cache every request goes through the component to the emulator; with it
    // (the default) repeated requests are answered from memory.
    compile_times(&args).await?;

    let d = freebusy_demo::start(&args.components, RuntimeSettings::default(), "ttl_secs = 0").await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let api = format!("http://{}", listener.local_addr()?);
    tokio::spawn(freebusy_host::http::serve(listener, d.service.clone()));
    let cached = freebusy_demo::start(&args.components, RuntimeSettings::default(), "ttl_secs = 3600").await?;
    let cached_listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let cached_api = format!("http://{}", cached_listener.local_addr()?);
    tokio::spawn(freebusy_host::http::serve(cached_listener, cached.service.clone()));
    let client = reqwest::Client::new();
    let list: Vec<String> = MAILBOXES.iter().map(|m| format!("{m}@{}", demo::DOMAIN)).collect();

    // Host path: check it answers correctly before timing it.
    let url = format!("{api}/v1/freebusy?mailboxes={}&start={START}&end={END}", list.join(","));
    let body: serde_json::Value =
        client.get(&url).header("authorization", format!("Bearer {}", d.key)).send().await?.json().await?;
    anyhow::ensure!(
        body["mailboxes"].as_array().is_some_and(|m| m.len() == 10 && m.iter().all(|x| x["busy"].is_array())),
        "unexpected answer: {body}"
    );

    // Direct path: the same getSchedule body the Graph component sends.
    let emu = d.emulator.base_url.clone();
    let token: serde_json::Value = client
        .post(format!("{emu}/{}/oauth2/v2.0/token", demo::TENANT_ID))
        .form(&[
            ("client_id", demo::CLIENT_ID),
            ("client_secret", demo::CLIENT_SECRET),
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap_or_default());
    let schedule_body = serde_json::json!({
        "schedules": list,
        "startTime": {"dateTime": "2026-03-23T00:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2026-03-30T00:00:00", "timeZone": "UTC"},
        "availabilityViewInterval": 30,
    })
    .to_string();
    let direct_url = format!("{emu}/v1.0/users/{}/calendar/getSchedule", list[0]);

    println!(
        "\n## GET /v1/freebusy, 10 mailboxes, one week ({} clients, {} s each, loopback)\n",
        args.concurrency, args.seconds
    );
    println!("| path | requests/s | p50 | p99 |\n|---|---|---|---|");
    let secs = args.seconds as f64;
    let direct = {
        let (client, bearer, body, url) = (client.clone(), bearer.clone(), schedule_body.clone(), direct_url.clone());
        load(&args, move || {
            let req = client
                .post(&url)
                .header("authorization", &bearer)
                .header("content-type", "application/json")
                .body(body.clone());
            async move {
                let resp = req.send().await?;
                anyhow::ensure!(resp.status() == 200, "emulator answered {}", resp.status());
                resp.bytes().await?;
                Ok(())
            }
        })
        .await?
    };
    report("emulator getSchedule directly", &direct, secs);
    let through_host = load_get(&args, &client, url, &d.key).await?;
    report("host /v1/freebusy, cache off (Graph component -> emulator)", &through_host, secs);
    let cached_url = format!("{cached_api}/v1/freebusy?mailboxes={}&start={START}&end={END}", list.join(","));
    let from_cache = load_get(&args, &client, cached_url, &cached.key).await?;
    report("host /v1/freebusy, cache hits (default config)", &from_cache, secs);
    println!("\nupstream getSchedule requests for the cached run: {}", cached.emulator.stats().get_schedule_requests);
    scale(&args).await?;
    shared_instances(&args).await
}

/// A `redis-server` on a free port without persistence, killed when dropped.
struct RedisServer(std::process::Child, u16);

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> anyhow::Result<Option<RedisServer>> {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
    let spawned = std::process::Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn();
    let Ok(child) = spawned else { return Ok(None) };
    let server = RedisServer(child, port);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(Some(server));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("redis-server did not start")
}

/// A host on `emulator` sharing `redis`, serving on a loopback port; its API URL.
async fn shared_host(args: &Args, emulator: &str, redis: u16) -> anyhow::Result<String> {
    let tenant = format!(
        "[tenants.contoso]\nprovider = \"graph\"\n[tenants.contoso.settings]\ntenant_id = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\nauthority = \"{emulator}\"\ngraph_base_url = \"{emulator}\"\n",
        demo::TENANT_ID,
        demo::CLIENT_ID,
        demo::CLIENT_SECRET
    );
    let text = format!(
        "default_tenant = \"contoso\"\n[auth]\nmode = \"none\"\n[store]\npath = \":memory:\"\n[cache]\nttl_secs = 3600\n[shared]\nurl = \"redis://127.0.0.1:{redis}\"\n[providers.graph]\ncomponent = \"{}\"\n{tenant}",
        args.components.join("freebusy_graph.wasm").display()
    );
    let loaded = freebusy_host::config::LoadedConfig::from_str(&text, PathBuf::new())?;
    let runtime = Runtime::new(RuntimeSettings { compile_cache: true, ..RuntimeSettings::default() })?;
    let service = Arc::new(freebusy_host::service::Service::from_config(&loaded, &runtime).await?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let api = format!("http://{}", listener.local_addr()?);
    tokio::spawn(freebusy_host::http::serve(listener, service));
    Ok(api)
}

/// One instance and two on the same Redis, side by side in one run.
async fn shared_instances(args: &Args) -> anyhow::Result<()> {
    let Some(redis) = start_redis()? else {
        println!("\n(redis-server is not installed: the shared-state measurements are left out)");
        return Ok(());
    };
    let emulator = freebusy_emulator::Emulator::start(([127, 0, 0, 1], 0).into(), Default::default()).await?;
    let a = shared_host(args, &emulator.base_url, redis.1).await?;
    let b = shared_host(args, &emulator.base_url, redis.1).await?;
    let list: Vec<String> = MAILBOXES.iter().map(|m| format!("{m}@{}", demo::DOMAIN)).collect();
    let query = format!("mailboxes={}&start={START}&end={END}", list.join(","));
    let client = reqwest::Client::new();
    anyhow::ensure!(client.get(format!("{a}/v1/freebusy?{query}")).send().await?.status() == 200, "A answers");
    println!(
        "\n## Instances sharing one Redis: cached GET /v1/freebusy, 10 mailboxes, one week ({} clients, {} s each)\n",
        args.concurrency, args.seconds
    );
    println!("| instances | requests/s | p50 | p99 |\n|---|---|---|---|");
    let secs = args.seconds as f64;
    let get_from = |urls: Vec<String>| {
        let client = client.clone();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        move || {
            let url = urls[next.fetch_add(1, Ordering::Relaxed) % urls.len()].clone();
            let req = client.get(url);
            async move {
                let resp = req.send().await?;
                anyhow::ensure!(resp.status() == 200, "host answered {}", resp.status());
                resp.bytes().await?;
                Ok(())
            }
        }
    };
    let one = load(args, get_from(vec![format!("{a}/v1/freebusy?{query}")])).await?;
    report("one", &one, secs);
    let both =
        load(args, get_from(vec![format!("{a}/v1/freebusy?{query}"), format!("{b}/v1/freebusy?{query}")])).await?;
    report("two, requests alternating", &both, secs);
    println!(
        "\nratio two/one: {:.2} (on one machine the two share its cores)",
        both.len() as f64 / one.len().max(1) as f64
    );

    // 1000 identical requests at once, half to each, on a cold cache and a slow upstream.
    let slow = freebusy_emulator::Emulator::start(
        ([127, 0, 0, 1], 0).into(),
        freebusy_emulator::Options { get_schedule_delay_ms: 300, ..Default::default() },
    )
    .await?;
    let a = shared_host(args, &slow.base_url, redis.1).await?;
    let b = shared_host(args, &slow.base_url, redis.1).await?;
    let q = format!(
        "mailboxes=adele.vance@{d},megan.bowen@{d}&start=2026-04-06T00:00:00Z&end=2026-04-13T00:00:00Z",
        d = demo::DOMAIN
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let url = format!("{}/v1/freebusy?{q}", if i % 2 == 0 { &a } else { &b });
            let client = client.clone();
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await?? == 200 {
            ok += 1;
        }
    }
    println!(
        "\n1000 identical requests over two instances, cold cache, 300 ms upstream: {ok} answered 200 in {:.2} s, {} upstream getSchedule call(s), {} token request(s)",
        started.elapsed().as_secs_f64(),
        slow.stats().get_schedule_requests,
        slow.stats().token_requests
    );
    Ok(())
}

/// 500 mailboxes over 30 days: how many upstream requests, and how long, cold and warm.
async fn scale(args: &Args) -> anyhow::Result<()> {
    let options = freebusy_emulator::Options { tenants: vec![demo::scaled(500)], ..Default::default() };
    let emulator = freebusy_emulator::Emulator::start(([127, 0, 0, 1], 0).into(), options).await?;
    let secrets = std::env::temp_dir().join(format!("freebusy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&secrets)?;
    std::fs::write(secrets.join("client_secret"), demo::CLIENT_SECRET)?;
    std::fs::write(secrets.join("ews_password"), demo::EWS_PASSWORD)?;
    std::fs::write(secrets.join("app.crt"), demo::CERTIFICATE_PEM)?;
    std::fs::write(secrets.join("app.key"), demo::CERTIFICATE_KEY_PEM)?;
    // The delegated demo tenant is not measured here (nobody signed it in); the store it would
    // keep the sign-in in needs a key of its own.
    std::fs::write(secrets.join("store.key"), freebusy_host::store::seal::SealKey::generate()?)?;
    // "warm" means a cached token and anchor, not cached answers: the cache is off here.
    let text = freebusy_demo::demo_config(&emulator.base_url, &args.components, &secrets, "ttl_secs = 0");
    let loaded = freebusy_host::config::LoadedConfig::from_str(&text, PathBuf::new())?;
    let runtime = Runtime::new(RuntimeSettings::default())?;
    let service = freebusy_host::service::Service::from_config(&loaded, &runtime).await?;
    let mailboxes: Vec<String> = (1..=500).map(|i| format!("person{i}@{}", demo::DOMAIN)).collect();
    let raw = freebusy_core::api::RawFreeBusyRequest {
        mailboxes: vec![mailboxes.join(",")],
        start: Some("2026-03-02T00:00:00Z".into()),
        end: Some("2026-04-01T00:00:00Z".into()),
        ..Default::default()
    };
    let req = raw.validate().map_err(|p| anyhow::anyhow!(p.detail))?;
    println!("\n## 500 mailboxes over 30 days, one request (Graph: 20 mailboxes per call, 4 calls at once)\n");
    println!("| tenant | provider | getSchedule / EWS requests | token requests | time | mailboxes answered |\n|---|---|---|---|---|---|");
    for (tenant, provider) in [("contoso", "Graph"), ("contoso-ews", "EWS")] {
        for run in ["cold", "warm"] {
            let before = emulator.stats();
            let started = Instant::now();
            let resp = service.freebusy(Some(tenant), &req).await?;
            let took = started.elapsed();
            let after = emulator.stats();
            let answered = resp.mailboxes.iter().filter(|m| m.busy.is_some()).count();
            println!(
                "| {tenant} ({run}) | {provider} | {} | {} | {:.0} ms | {answered} |",
                (after.get_schedule_requests + after.ews_requests)
                    - (before.get_schedule_requests + before.ews_requests),
                after.token_requests - before.token_requests,
                took.as_secs_f64() * 1e3
            );
        }
    }
    Ok(())
}
