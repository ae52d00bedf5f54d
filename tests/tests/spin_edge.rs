//! The edge component with the real provider components under the Spin runtime (`spin up`),
//! against the emulator: same answers as the host, Spin's sandbox, token caching in Spin's
//! key-value store.
//!
//! Spin is taken from PATH, else from `../shared/tools/spin` beside the repository; without
//! either the tests fail, saying so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use freebusy_emulator::demo;
use freebusy_tests::{components, demo_stack, get, get_with, repo_root};

fn spin_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|p| p.join("spin")).find(|p| p.is_file()));
    on_path
        .or_else(|| Some(repo_root().join("../shared/tools/spin")).filter(|p| p.is_file()))
        .expect("no spin on PATH and no ../shared/tools/spin beside the repository: the edge tests run the real Spin")
}

struct SpinApp {
    child: Child,
    url: String,
    state: PathBuf,
    /// From starting `spin up` to the first answer.
    ready_after: Duration,
}

impl Drop for SpinApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `spin up` the manifest with the given variables; waits until it answers.
async fn spin_up(spin: &Path, manifest: &Path, variables: &[(&str, &str)]) -> SpinApp {
    spin_up_with(spin, manifest, variables, None).await
}

/// [`spin_up`] with a runtime config file (`--runtime-config-file`).
async fn spin_up_with(
    spin: &Path,
    manifest: &Path,
    variables: &[(&str, &str)],
    runtime_config: Option<&Path>,
) -> SpinApp {
    components(); // builds the edge and the providers
    let port = free_port();
    let state = std::env::temp_dir().join(format!("freebusy-spin-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&state).unwrap();
    let mut cmd = Command::new(spin);
    cmd.args(["up", "--from"])
        .arg(manifest)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--state-dir"])
        .arg(&state);
    if let Some(file) = runtime_config {
        cmd.arg("--runtime-config-file").arg(file);
    }
    for (name, value) in variables {
        cmd.env(format!("SPIN_VARIABLE_{}", name.to_uppercase()), value);
    }
    let log = std::fs::File::create(state.join("spin.log")).unwrap();
    cmd.stdout(Stdio::from(log.try_clone().unwrap())).stderr(Stdio::from(log)).stdin(Stdio::null());
    let spawned = Instant::now();
    let child = cmd.spawn().expect("start spin");
    let url = format!("http://127.0.0.1:{port}");
    let mut app = SpinApp { child, url, state, ready_after: Duration::ZERO };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(resp) = reqwest::get(format!("{}/healthz", app.url)).await {
            if resp.status() == 200 {
                app.ready_after = spawned.elapsed();
                return app;
            }
        }
        if let Ok(Some(status)) = app.child.try_wait() {
            panic!(
                "spin exited ({status}): {}",
                std::fs::read_to_string(app.state.join("spin.log")).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "spin did not start: {}",
            std::fs::read_to_string(app.state.join("spin.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn demo_variables(emulator: &str) -> Vec<(&'static str, String)> {
    vec![
        ("tenant_id", demo::TENANT_ID.to_string()),
        ("client_id", demo::CLIENT_ID.to_string()),
        ("client_secret", demo::CLIENT_SECRET.to_string()),
        ("authority", emulator.to_string()),
        ("graph_base_url", emulator.to_string()),
    ]
}

/// The host on the demo tenant, and `spin.toml` under Spin pointed at the same emulator.
async fn host_and_edge(spin: &Path) -> (freebusy_tests::Stack, SpinApp) {
    let host = demo_stack().await;
    let vars = demo_variables(&host.emulator.base_url);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let edge = spin_up(spin, &repo_root().join("spin.toml"), &vars).await;
    (host, edge)
}

/// iCalendar bodies differ only in DTSTAMP (the time of rendering).
fn without_dtstamp(body: &str) -> String {
    body.lines().filter(|l| !l.starts_with("DTSTAMP:")).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn the_edge_under_spin_answers_exactly_like_the_host() {
    let spin = spin_binary();
    let (host, edge) = host_and_edge(&spin).await;

    let week = "start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z";
    let queries = [
        format!("mailboxes=adele.vance@contoso.com,megan.bowen@contoso.com,pradeep.gupta@contoso.com,room.adams@contoso.com&{week}"),
        format!("mailboxes=adele.vance@contoso.com,nobody@contoso.com,room.adams@contoso.com&{week}&interval=60&details=true"),
        // Microsoft's own merged view, through the provider at the edge too.
        format!("mailboxes=adele.vance@contoso.com,megan.bowen@contoso.com&{week}&interval=30&upstream=true"),
        "mailboxes=room.adams@contoso.com&start=2026-01-05T00:00:00Z&end=2026-04-05T00:00:00Z".to_string(),
        // Bad input: the same problem bodies.
        week.to_string(),
        "mailboxes=not-an-address&start=yesterday".to_string(),
        format!("mailboxes=a@contoso.com&{week}&interval=3&colour=blue"),
    ];
    for q in &queries {
        let (hs, hc, hb) = get(&format!("{}/v1/freebusy?{q}", host.api)).await;
        let (es, ec, eb) = get(&format!("{}/v1/freebusy?{q}", edge.url)).await;
        assert_eq!((hs, hc.as_str()), (es, ec.as_str()), "status/type differ for {q}");
        let h: serde_json::Value = serde_json::from_str(&hb).unwrap();
        let e: serde_json::Value = serde_json::from_str(&eb).unwrap_or_else(|_| panic!("edge body for {q}: {eb}"));
        assert_eq!(h, e, "answers differ for {q}");
        if q.contains("upstream=true") {
            assert!(e["mailboxes"][0]["upstreamView"].is_string(), "no upstreamView at the edge: {eb}");
        }
    }
    let q = format!("mailboxes=room.adams@contoso.com,nobody@contoso.com&{week}");
    let (_, hc, hb) = get_with(&format!("{}/v1/freebusy?{q}", host.api), &[("accept", "text/calendar")]).await;
    let (_, ec, eb) = get_with(&format!("{}/v1/freebusy?{q}", edge.url), &[("accept", "text/calendar")]).await;
    assert_eq!(hc, ec);
    assert_eq!(without_dtstamp(&hb), without_dtstamp(&eb));
    assert!(eb.contains("BEGIN:VFREEBUSY"));

    // Finding a time: the same slots from the same core code, at the edge as in the host.
    let find = serde_json::json!({
        "start": "2026-03-23T00:00:00Z", "end": "2026-03-28T00:00:00Z", "duration": 30,
        "participants": [ { "mailboxes": ["adele.vance@contoso.com", "megan.bowen@contoso.com"], "required": "all" },
                          { "mailboxes": ["room.adams@contoso.com", "room.baker@contoso.com"], "required": 1 } ],
        "interval": 15, "timeZone": "Europe/Berlin", "buffer": { "before": 5, "after": 5 }, "maxSlots": 100 });
    let post = |base: String, body: serde_json::Value| async move {
        let resp = reqwest::Client::new().post(format!("{base}/v1/availability")).json(&body).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    };
    let (hs, hb) = post(host.api.clone(), find.clone()).await;
    let (es, eb) = post(edge.url.clone(), find).await;
    assert_eq!((hs, es), (200, 200), "{eb}");
    let (h, e): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&hb).unwrap(), serde_json::from_str(&eb).unwrap());
    assert!(!e["slots"].as_array().unwrap().is_empty(), "{eb}");
    assert_eq!(h, e, "availability differs between host and edge");
    let (hs, hb) = post(host.api.clone(), serde_json::json!({ "duration": 3 })).await;
    let (es, eb) = post(edge.url.clone(), serde_json::json!({ "duration": 3 })).await;
    assert_eq!((hs, hb), (es, eb), "the same problem for a bad body");

    // Many queries each, one token each: the host keeps it in its key-value store, the provider
    // under Spin in Spin's `default` store.
    assert_eq!(host.emulator.stats().token_requests, 2);
}

#[tokio::test]
async fn under_spin_a_provider_dependency_cannot_leave_its_allowed_hosts_or_see_variables() {
    let spin = spin_binary();
    let edge =
        spin_up(&spin, &repo_root().join("tests/spin/forbidden-host.toml"), &[("upstream", "http://127.0.0.1:9")])
            .await;
    let (status, _, body) = get(&format!(
        "{}/v1/freebusy?mailboxes=a@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z",
        edge.url
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let message = v["mailboxes"][0]["error"]["message"].as_str().unwrap();
    assert!(message.contains("denied: https://exfiltrate.example.net"), "{message}");
    assert!(message.contains("environment variables visible: 0"), "{message}");
    let log = std::fs::read_to_string(edge.state.join("spin.log")).unwrap_or_default();
    eprintln!("spin log:\n{log}");
}

#[tokio::test]
async fn spin_startup_and_request_times_are_reported() {
    let spin = spin_binary();
    let (_host, edge) = host_and_edge(&spin).await;
    let url = format!(
        "{}/v1/freebusy?mailboxes=room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z",
        edge.url
    );
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let (status, _, _) = get(&url).await;
        assert_eq!(status, 200);
        times.push(started.elapsed());
    }
    let sizes: Vec<String> = ["freebusy_edge.wasm", "freebusy_graph.wasm"]
        .iter()
        .map(|f| format!("{f} {} bytes", std::fs::metadata(components().join(f)).unwrap().len()))
        .collect();
    eprintln!(
        "spin: ready {:?} after start; first freebusy {:?}; later p50 {:?}; {}",
        edge.ready_after,
        times[0],
        {
            let mut later = times[1..].to_vec();
            later.sort();
            later[later.len() / 2]
        },
        sizes.join(", ")
    );
    for f in ["freebusy_edge.wasm", "freebusy_graph.wasm"] {
        assert!(std::fs::metadata(components().join(f)).unwrap().len() < 2 << 20, "{f} is over 2 MB");
    }
}

#[tokio::test]
async fn the_caldav_provider_swapped_in_under_spin_answers_like_the_host() {
    let spin = spin_binary();
    let people = demo::tenant().mailboxes;
    let adele = people.iter().find(|m| m.address.starts_with("adele")).unwrap();
    let radicale = freebusy_tests::caldav::Server::radicale("spin-caldav", &[adele]).await;
    let password = freebusy_tests::caldav::mailbox_password(&adele.address);
    freebusy_tests::caldav::seed(
        &format!("{}/{}/", radicale.url, adele.address),
        "calendar",
        Some((&adele.address, &password)),
        adele,
    )
    .await;
    let host = freebusy_tests::start(freebusy_host::runtime::RuntimeSettings::default(), |_| {
        format!(
            "[tenants.dav]\nprovider = \"caldav\"\n[tenants.dav.settings]\nbase_url = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n",
            radicale.url,
            freebusy_tests::caldav::SERVICE_USER,
            freebusy_tests::caldav::SERVICE_PASSWORD
        )
    })
    .await;
    let edge = spin_up(
        &spin,
        &repo_root().join("spin-caldav.toml"),
        &[
            ("base_url", &radicale.url),
            ("caldav_origin", &radicale.url),
            ("username", freebusy_tests::caldav::SERVICE_USER),
            ("password", freebusy_tests::caldav::SERVICE_PASSWORD),
        ],
    )
    .await;
    let q = format!(
        "mailboxes={},nobody@contoso.com&start=2026-03-23T00:00:00Z&end=2026-04-04T00:00:00Z&interval=30",
        adele.address
    );
    let (hs, _, hb) = get(&format!("{}/v1/tenants/dav/freebusy?{q}", host.api)).await;
    let (es, _, eb) = get(&format!("{}/v1/freebusy?{q}", edge.url)).await;
    assert_eq!((hs, es), (200, 200), "host: {hb}\nedge: {eb}");
    let (h, e): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&hb).unwrap(), serde_json::from_str(&eb).unwrap());
    assert_eq!(h, e, "the CalDAV answers differ between host and edge");
    assert!(e["mailboxes"][0]["busy"].as_array().is_some_and(|b| !b.is_empty()), "{eb}");
    assert_eq!(e["mailboxes"][1]["error"]["code"], "not-found", "{eb}");
}

#[tokio::test]
async fn two_edges_on_one_redis_share_the_token_and_the_answers() {
    let spin = spin_binary();
    let emulator =
        freebusy_emulator::Emulator::start(([127, 0, 0, 1], 0).into(), freebusy_emulator::Options::default())
            .await
            .unwrap();
    let redis = freebusy_tests::redis::Redis::start("spin-redis");
    let dir = freebusy_tests::test_dir("spin-redis-config");
    let runtime_config = dir.join("runtime-config.toml");
    std::fs::write(
        &runtime_config,
        format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n", redis.url()),
    )
    .unwrap();
    let vars = demo_variables(&emulator.base_url);
    let mut vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.push(("cache_ttl_secs", "600"));
    let a = spin_up_with(&spin, &repo_root().join("spin.toml"), &vars, Some(&runtime_config)).await;
    let b = spin_up_with(&spin, &repo_root().join("spin.toml"), &vars, Some(&runtime_config)).await;
    let q =
        "mailboxes=adele.vance@contoso.com,room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-30T00:00:00Z";
    let (sa, _, from_a) = get(&format!("{}/v1/freebusy?{q}", a.url)).await;
    assert_eq!(sa, 200, "{from_a}");
    let calls = emulator.stats().get_schedule_requests;
    let (sb, _, from_b) = get(&format!("{}/v1/freebusy?{q}", b.url)).await;
    assert_eq!(sb, 200, "{from_b}");
    assert_eq!(from_a, from_b);
    assert_eq!(emulator.stats().get_schedule_requests, calls, "the second edge answered from the store");
    // Another mailbox: the second edge calls Graph, with the token the first one obtained.
    let (sb, _, _) = get(&format!(
        "{}/v1/freebusy?mailboxes=megan.bowen@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-30T00:00:00Z",
        b.url
    ))
    .await;
    assert_eq!(sb, 200);
    assert_eq!(emulator.stats().get_schedule_requests, calls + 1);
    assert_eq!(emulator.stats().token_requests, 1, "one token for both edges");
}
