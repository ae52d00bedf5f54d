//! Upstream economy: how many upstream calls freebusy makes. N mailboxes over a window must cost
//! exactly ceil(N / mailboxes per call) x ceil(window / longest window per call) calls (the
//! limits the provider declares, narrowed by the tenant's settings: Graph's getSchedule takes 20
//! mailboxes and 62 days, https://learn.microsoft.com/graph/api/calendar-getschedule; EWS 100
//! mailboxes and, on premises, 42 days); 1000 identical concurrent
//! requests must cost one; and 500 mailboxes over 30 days, cold and warm, for Graph and EWS.

use std::path::PathBuf;
use std::time::Instant;

use freebusy_emulator::demo;
use freebusy_host::runtime::{Runtime, RuntimeSettings};

use crate::Args;

/// A service on the demo tenants of `emulator` with `cache` settings, with a throwaway secrets
/// directory.
async fn service_on(
    args: &Args,
    emulator: &freebusy_emulator::Emulator,
    cache: &str,
) -> anyhow::Result<freebusy_host::service::Service> {
    let secrets = std::env::temp_dir().join(format!(
        "freebusy-bench-{}-{}",
        std::process::id(),
        emulator.base_url.rsplit(':').next().unwrap_or("0")
    ));
    std::fs::create_dir_all(&secrets)?;
    std::fs::write(secrets.join("client_secret"), demo::CLIENT_SECRET)?;
    std::fs::write(secrets.join("ews_password"), demo::EWS_PASSWORD)?;
    std::fs::write(secrets.join("app.crt"), demo::CERTIFICATE_PEM)?;
    std::fs::write(secrets.join("app.key"), demo::CERTIFICATE_KEY_PEM)?;
    // The delegated demo tenant is not measured here (nobody signed it in); the store it would
    // keep the sign-in in needs a key of its own.
    std::fs::write(secrets.join("store.key"), freebusy_host::store::seal::SealKey::generate()?)?;
    let text = freebusy_demo::demo_config(&emulator.base_url, &args.components, &secrets, cache);
    let loaded = freebusy_host::config::LoadedConfig::from_str(&text, PathBuf::new())?;
    let runtime = Runtime::new(RuntimeSettings::default())?;
    freebusy_host::service::Service::from_config(&loaded, &runtime).await
}

/// A validated request for `mailboxes` over `days` from 2026-03-02.
fn request(mailboxes: &[String], days: i64) -> anyhow::Result<freebusy_core::api::FreeBusyRequest> {
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z")?;
    let end = start + chrono::Duration::days(days);
    let raw = freebusy_core::api::RawFreeBusyRequest {
        mailboxes: vec![mailboxes.join(",")],
        start: Some(start.to_rfc3339()),
        end: Some(end.to_rfc3339()),
        ..Default::default()
    };
    raw.validate().map_err(|p| anyhow::anyhow!(p.detail))
}

/// Counted upstream calls next to what the limits allow, for several sizes and windows.
pub async fn upstream_calls(args: &Args) -> anyhow::Result<()> {
    let options = freebusy_emulator::Options { tenants: vec![demo::scaled(500)], ..Default::default() };
    let emulator = freebusy_emulator::Emulator::start(([127, 0, 0, 1], 0).into(), options).await?;
    let service = service_on(args, &emulator, "ttl_secs = 0").await?;
    let people: Vec<String> = (1..=500).map(|i| format!("person{i}@{}", demo::DOMAIN)).collect();
    println!("\n## Upstream calls for N mailboxes over a window (cache off)\n");
    println!("| provider | mailboxes | days | limits (mailboxes x days per call) | expected calls | counted calls |\n|---|---|---|---|---|---|");
    let mut all_exact = true;
    for (tenant, provider) in [("contoso", "Graph"), ("contoso-ews", "EWS")] {
        let t = service.tenant(Some(tenant))?;
        let window_days = t.max_window_days();
        let per_call = t.max_mailboxes();
        for (n, days) in [(1, 7), (20, 7), (21, 7), (100, 7), (500, 30), (20, 62), (20, 63), (45, 90)] {
            let req = request(&people[..n], days)?;
            let before = emulator.stats();
            let resp = service.freebusy(Some(tenant), &req).await?;
            let after = emulator.stats();
            anyhow::ensure!(resp.mailboxes.iter().all(|m| m.busy.is_some()), "{provider}: a mailbox was not read");
            let counted = (after.get_schedule_requests + after.ews_requests)
                - (before.get_schedule_requests + before.ews_requests);
            let expected = (n as u64).div_ceil(u64::from(per_call)) * (days as u64).div_ceil(u64::from(window_days));
            all_exact &= counted == expected;
            println!("| {provider} | {n} | {days} | {} x {} | {expected} | {counted} |", per_call, window_days);
        }
    }
    println!("\nevery count as expected: {}", if all_exact { "yes" } else { "NO" });
    Ok(())
}

/// 1000 identical requests at once on one instance, cold cache, a 300 ms upstream.
pub async fn identical_requests(args: &Args) -> anyhow::Result<()> {
    let options = freebusy_emulator::Options { get_schedule_delay_ms: 300, ..Default::default() };
    let emulator = freebusy_emulator::Emulator::start(([127, 0, 0, 1], 0).into(), options).await?;
    let service = std::sync::Arc::new(service_on(args, &emulator, "ttl_secs = 60").await?);
    let mailboxes = vec![format!("adele.vance@{}", demo::DOMAIN), format!("megan.bowen@{}", demo::DOMAIN)];
    let req = request(&mailboxes, 7)?;
    let before = emulator.stats();
    let started = Instant::now();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (service, req) = (service.clone(), req.clone());
            tokio::spawn(async move { service.freebusy(Some("contoso"), &req).await })
        })
        .collect();
    let mut answered = 0;
    for t in tasks {
        if t.await??.mailboxes.iter().all(|m| m.busy.is_some()) {
            answered += 1;
        }
    }
    let after = emulator.stats();
    println!(
        "\n1000 identical concurrent requests on one instance, cold cache, 300 ms upstream: {answered} answered in {:.2} s with {} upstream getSchedule call(s)",
        started.elapsed().as_secs_f64(),
        after.get_schedule_requests - before.get_schedule_requests
    );
    Ok(())
}

/// 500 mailboxes over 30 days: how many upstream requests, and how long, cold and warm.
pub async fn scale(args: &Args) -> anyhow::Result<()> {
    let options = freebusy_emulator::Options { tenants: vec![demo::scaled(500)], ..Default::default() };
    let emulator = freebusy_emulator::Emulator::start(([127, 0, 0, 1], 0).into(), options).await?;
    let service = service_on(args, &emulator, "ttl_secs = 0").await?;
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
