//! Instances sharing one Redis (`[shared]`, needs `redis-server`): cached requests per second of
//! one instance and of two sharing the load, side by side, and upstream calls for 1000
//! identical requests spread over the two.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use freebusy_emulator::demo;
use freebusy_host::runtime::{Runtime, RuntimeSettings};

use crate::measure::{load, report};
use crate::{process, week_query, Args};

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
pub async fn instances(args: &Args) -> anyhow::Result<()> {
    let Some(redis) = process::redis()? else {
        println!("\n(redis-server is not installed: the shared-state measurements are left out)");
        return Ok(());
    };
    let emulator = freebusy_emulator::Emulator::start(([127, 0, 0, 1], 0).into(), Default::default()).await?;
    let a = shared_host(args, &emulator.base_url, redis.1).await?;
    let b = shared_host(args, &emulator.base_url, redis.1).await?;
    let query = week_query();
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
    let one = load(args.concurrency, args.seconds, get_from(vec![format!("{a}/v1/freebusy?{query}")])).await?;
    report("one", &one, secs);
    let both = load(
        args.concurrency,
        args.seconds,
        get_from(vec![format!("{a}/v1/freebusy?{query}"), format!("{b}/v1/freebusy?{query}")]),
    )
    .await?;
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
