//! The Spin edge's request latency next to the host's: `spin up` with `spin.toml` (the
//! freebusy-edge HTTP component and the Graph provider component) and the host (the in-process
//! freebusy-demo service on its HTTP server), both asking the same in-process emulator, both
//! with answer caching off (the edge's `cache_ttl_secs = 0`, spin.toml's default; the host's
//! `ttl_secs = 0`), the same question (10 mailboxes, a week, interval 60) from the bench's own
//! load loop at concurrency 1 and 16. Spin is found as tests/tests/spin_edge.rs finds it; without
//! it the rows are left out.

use std::time::Duration;

use freebusy_emulator::demo;
use freebusy_host::runtime::RuntimeSettings;

use crate::measure::{load_get, percentile, report};
use crate::{process, week_query, Args};

/// GETs of `url` (with `bearer` as the authorization header, if any), each of which must answer
/// One GET of `url`: its JSON answer, which must be a 200 with 10 mailboxes, each with a busy list.
async fn ten_mailboxes(client: &reqwest::Client, url: &str, bearer: Option<&str>) -> anyhow::Result<serde_json::Value> {
    let mut req = client.get(url);
    if let Some(b) = bearer {
        req = req.header("authorization", b);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    anyhow::ensure!(status == 200, "{url} answered {status}: {text}");
    let body: serde_json::Value = serde_json::from_str(&text)?;
    anyhow::ensure!(
        body["mailboxes"].as_array().is_some_and(|m| m.len() == 10 && m.iter().all(|x| x["busy"].is_array())),
        "unexpected answer from {url}: {body}"
    );
    Ok(body)
}

/// The edge under `spin up` next to the host, uncached, at concurrency 1 and `args.concurrency`.
pub async fn next_to_the_host(args: &Args) -> anyhow::Result<()> {
    println!(
        "\n## Uncached: the Spin edge (spin up, freebusy-edge + Graph component) next to the host (freebusy-demo's service), same emulator, cache off in both (10 mailboxes, a week, {} s per run)\n",
        args.seconds
    );
    let Some(spin) = process::spin_binary() else {
        println!("(Spin is not available: no spin on PATH and no ../shared/tools/spin beside the repository; these rows are left out)");
        return Ok(());
    };
    let components = std::fs::canonicalize(&args.components)?;
    if !components.join("freebusy_edge.wasm").is_file() {
        println!(
            "(no freebusy_edge.wasm in {}: `scripts/toolchain.sh build --edge` builds it; these rows are left out)",
            components.display()
        );
        return Ok(());
    }
    // The repository's spin.toml, its component paths pointed at --components.
    let manifest = std::fs::read_to_string(process::repo_root().join("spin.toml"))?
        .replace("\"target/components/", &format!("\"{}/", components.display()));

    let host = freebusy_demo::start(&components, RuntimeSettings::default(), "ttl_secs = 0").await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let api = format!("http://{}", listener.local_addr()?);
    tokio::spawn(freebusy_host::http::serve(listener, host.service.clone()));

    let emulator = host.emulator.base_url.clone();
    let variables = [
        ("tenant_id", demo::TENANT_ID),
        ("client_id", demo::CLIENT_ID),
        ("client_secret", demo::CLIENT_SECRET),
        ("authority", emulator.as_str()),
        ("graph_base_url", emulator.as_str()),
        ("cache_ttl_secs", "0"),
    ];
    let edge = process::Spin::up(&spin, &manifest, &variables, Duration::from_secs(120)).await?;

    let client = reqwest::Client::new();
    let bearer = format!("Bearer {}", host.key);
    let host_url = format!("{api}/v1/freebusy?{}", week_query());
    let edge_url = format!("{}/v1/freebusy?{}", edge.url, week_query());
    // Both answer 200 with the ten mailboxes, and the same answer; these also fetch the tokens.
    let from_host = ten_mailboxes(&client, &host_url, Some(&bearer)).await?;
    let from_edge = ten_mailboxes(&client, &edge_url, None).await.map_err(|e| e.context(edge.log()))?;
    anyhow::ensure!(from_host == from_edge, "the edge answers differently from the host:\n{from_edge}\n{from_host}");
    // Warm: connections and each side's first instances.
    for _ in 0..20 {
        ten_mailboxes(&client, &host_url, Some(&bearer)).await?;
        ten_mailboxes(&client, &edge_url, None).await?;
    }

    println!("| clients | path | requests/s | p50 | p99 |\n|---|---|---|---|---|");
    let secs = args.seconds as f64;
    for concurrency in [1, args.concurrency] {
        let on_host = load_get(concurrency, args.seconds, &client, &host_url, Some(bearer.clone())).await?;
        report(&format!("{concurrency} | host: freebusy /v1/freebusy, cache off"), &on_host, secs);
        let at_edge =
            load_get(concurrency, args.seconds, &client, &edge_url, None).await.map_err(|e| e.context(edge.log()))?;
        report(&format!("{concurrency} | edge: spin up, freebusy-edge /v1/freebusy, cache off"), &at_edge, secs);
        let health = load_get(concurrency, args.seconds, &client, &format!("{}/healthz", edge.url), None).await?;
        report(&format!("{concurrency} | edge: spin up, /healthz (no provider call)"), &health, secs);
        let (edge_p50, host_p50) = (percentile(&at_edge, 0.5), percentile(&on_host, 0.5));
        let (edge_ms, host_ms) = (edge_p50.as_secs_f64() * 1e3, host_p50.as_secs_f64() * 1e3);
        println!(
            "| {concurrency} | p50 ratio edge/host | | {:.2} ({:+.2} ms) | |",
            edge_ms / host_ms.max(1e-6),
            edge_ms - host_ms
        );
    }
    println!(
        "\nAt one client the edge's requests/s is well below 1/p50: its latencies are bimodal, some requests waiting tens of ms (Spin's outbound connections to the emulator do not set TCP_NODELAY, seen with strace; the host's do)."
    );
    println!(
        "spin up answered /healthz {:.2} s after it was started; resident memory of spin after these runs: {} MB",
        edge.ready_after.as_secs_f64(),
        process::rss_bytes(edge.pid()).map_or_else(|_| "?".to_string(), |b| (b >> 20).to_string())
    );
    Ok(())
}
