//! The HTTP figures: cached `/v1/freebusy` next to `/healthz` of the same `freebusy-demo`
//! process under wrk, and the uncached path (host + Graph component + emulator) next to the
//! emulator alone and to what users write instead of freebusy: a plain reqwest + serde client
//! calling getSchedule.

use std::sync::Arc;
use std::time::Duration;

use freebusy_emulator::demo;
use freebusy_host::runtime::RuntimeSettings;

use crate::measure::{self, load, ms, percentile, report};
use crate::{addresses, process, week_query, Args, END, START};

/// Cached `/v1/freebusy` (10 mailboxes, a week, interval 60) against `/healthz`, both through
/// the same process, under wrk (target: at least 0.6 of `/healthz`'s requests per second).
pub async fn cached_next_to_healthz(args: &Args) -> anyhow::Result<()> {
    println!(
        "\n## Cached GET /v1/freebusy next to /healthz of the same freebusy-demo process (wrk, 2 threads, {} s per run)\n",
        args.seconds
    );
    if !measure::wrk_available() {
        println!("(wrk is not installed: scripts/bench installs Debian's wrk; these rows are left out)");
        return Ok(());
    }
    let (server, api, key) = process::demo(&args.components)?;
    let freebusy = format!("{api}/v1/freebusy?{}", week_query());
    let answer: serde_json::Value =
        reqwest::Client::new().get(&freebusy).bearer_auth(&key).send().await?.error_for_status()?.json().await?;
    anyhow::ensure!(
        answer["mailboxes"].as_array().is_some_and(|m| m.len() == 10 && m.iter().all(|x| x["busy"].is_array())),
        "unexpected answer: {answer}"
    );
    // Warm: the first run fills the cache and the connections.
    measure::wrk(&freebusy, Some(&key), args.concurrency, 1)?;
    println!("| connections | endpoint | requests/s | p50 | p99 | ratio to /healthz |\n|---|---|---|---|---|---|");
    let overflows_before = measure::listen_overflows();
    for connections in [args.concurrency, args.connections] {
        let health = measure::wrk(&format!("{api}/healthz"), None, connections, args.seconds)?;
        let cached = measure::wrk(&freebusy, Some(&key), connections, args.seconds)?;
        let ratio = cached.requests_per_sec / health.requests_per_sec;
        for (name, run, ratio) in [("/healthz", health, 1.0), ("/v1/freebusy (cached)", cached, ratio)] {
            println!(
                "| {connections} | {name} | {:.0} | {} | {} | {ratio:.2} |",
                run.requests_per_sec,
                ms(run.p50),
                ms(run.p99)
            );
        }
    }
    if let (Some(before), Some(after)) = (overflows_before, measure::listen_overflows()) {
        println!(
            "\nconnections the kernel dropped from a full accept queue during these runs (TcpExt ListenOverflows, every socket of the machine): {}",
            after - before
        );
    }
    // A run of its own, since sampling slows the process it samples.
    if args.profile {
        if let Some(perf) = crate::profile::start(server.pid(), args.seconds)? {
            measure::wrk(&freebusy, Some(&key), args.concurrency, args.seconds)?;
            crate::profile::report(perf)?;
        }
    }
    println!("\nresident memory of the demo process after these runs: {} MB", server.rss_bytes()? >> 20);
    Ok(())
}

/// What a plain client of the common Rust stack parses from getSchedule.
#[derive(serde::Deserialize)]
struct ScheduleResponse {
    value: Vec<ScheduleInformation>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // read by serde; the figure is what parsing costs
struct ScheduleInformation {
    schedule_id: String,
    #[serde(default)]
    schedule_items: Vec<ScheduleItem>,
    availability_view: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct ScheduleItem {
    status: String,
    start: DateTimeTimeZone,
    end: DateTimeTimeZone,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct DateTimeTimeZone {
    date_time: String,
    time_zone: String,
}

/// POSTs of getSchedule's `body` to the emulator; `parse` reads the answer into typed structs.
async fn load_get_schedule(
    args: &Args,
    concurrency: usize,
    client: &reqwest::Client,
    (url, bearer, body): (String, String, String),
    parse: bool,
) -> anyhow::Result<Vec<Duration>> {
    let client = client.clone();
    let body = Arc::new(body);
    load(concurrency, args.seconds, move || {
        let req = client
            .post(&url)
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .body(body.as_str().to_owned());
        async move {
            let resp = req.send().await?;
            anyhow::ensure!(resp.status() == 200, "emulator answered {}", resp.status());
            let bytes = resp.bytes().await?;
            if parse {
                let parsed: ScheduleResponse = serde_json::from_slice(&bytes)?;
                anyhow::ensure!(parsed.value.len() == 10, "getSchedule answered {} mailboxes", parsed.value.len());
            }
            Ok(())
        }
    })
    .await
}

/// The uncached path next to the emulator alone and a plain client, at concurrency 1 and 16
/// (target: host overhead p50 under 1 ms at concurrency 1).
pub async fn uncached_next_to_a_plain_client(args: &Args) -> anyhow::Result<()> {
    let uncached = freebusy_demo::start(&args.components, RuntimeSettings::default(), "ttl_secs = 0").await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let api = format!("http://{}", listener.local_addr()?);
    tokio::spawn(freebusy_host::http::serve(listener, uncached.service.clone()));
    let client = reqwest::Client::new();
    let list = addresses();
    let url = format!("{api}/v1/freebusy?{}", week_query());
    let body: serde_json::Value = client.get(&url).bearer_auth(&uncached.key).send().await?.json().await?;
    anyhow::ensure!(
        body["mailboxes"].as_array().is_some_and(|m| m.len() == 10 && m.iter().all(|x| x["busy"].is_array())),
        "unexpected answer: {body}"
    );

    // What the Graph component sends, sent by hand.
    let emu = uncached.emulator.base_url.clone();
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
        "startTime": {"dateTime": START.trim_end_matches('Z'), "timeZone": "UTC"},
        "endTime": {"dateTime": END.trim_end_matches('Z'), "timeZone": "UTC"},
        "availabilityViewInterval": 60,
    })
    .to_string();
    let direct = (format!("{emu}/v1.0/users/{}/calendar/getSchedule", list[0]), bearer, schedule_body);

    println!(
        "\n## Uncached: host + Graph component + emulator next to the emulator alone and a plain reqwest + serde client (10 mailboxes, a week, {} s per run)\n",
        args.seconds
    );
    println!("| clients | path | requests/s | p50 | p99 |\n|---|---|---|---|---|");
    let secs = args.seconds as f64;
    for concurrency in [1, args.concurrency] {
        let alone = load_get_schedule(args, concurrency, &client, direct.clone(), false).await?;
        report(&format!("{concurrency} | emulator getSchedule alone"), &alone, secs);
        let plain = load_get_schedule(args, concurrency, &client, direct.clone(), true).await?;
        report(&format!("{concurrency} | plain client: reqwest + serde getSchedule"), &plain, secs);
        let host =
            measure::load_get(concurrency, args.seconds, &client, &url, Some(format!("Bearer {}", uncached.key)))
                .await?;
        report(&format!("{concurrency} | freebusy /v1/freebusy, cache off"), &host, secs);
        println!(
            "| {concurrency} | host overhead over the emulator alone, p50 | | {} | |",
            ms(percentile(&host, 0.5).saturating_sub(percentile(&alone, 0.5)))
        );
    }
    println!(
        "\nEvery request asks about the same 10 mailboxes, and freebusy keeps Graph's limit of 4 concurrent \
         requests per mailbox (the emulator alone and the plain client do not), so with {} clients the \
         others queue in order for a place: that queue, not the host, is most of the p50 there, and it keeps \
         p99 near p50.",
        args.concurrency
    );
    Ok(())
}
