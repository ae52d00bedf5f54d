//! Soak: 10,000 requests over 1,000 connections open at once against a `freebusy serve` process
//! on the demo tenant, with no error of any kind, and the server's resident memory (VmRSS) under
//! 100 MB after warm-up, with all connections open, and at the end, growing by a bounded amount.
//! Most requests are cached free/busy (GET and POST, JSON and iCalendar); some reach the
//! upstream every time (subjects, which are not cached, and directory searches) or compute over
//! the cache (availability). The figures are printed (`--nocapture` shows them).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use freebusy_emulator::{demo, Emulator, Options};
use freebusy_tests::{free_port, freebusy_binary, graph_tenant, providers, test_dir, wait_until_up};
use serde_json::{json, Value};
use tokio::sync::Barrier;

/// Connections open at once.
const CONNECTIONS: usize = 1000;
/// Requests on each connection (10,000 in all).
const PER_CONNECTION: usize = 10;
/// The whole soak, warm-up included, must end within this.
const TIME_BOUND: Duration = Duration::from_secs(300);
/// Resident memory the server must stay under.
const RSS_LIMIT_KB: u64 = 100 * 1024;

const START: &str = "2026-03-23T00:00:00Z";
const END: &str = "2026-03-28T00:00:00Z";

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A field of `/proc/<pid>/status`, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the server's /proc status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in {status}"));
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number of kB")
}

/// Sockets the process holds.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the server's fds")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

/// Raise this process's open-files soft limit towards the hard one (the server inherits it):
/// 1,000 client connections here and 1,000 there, plus the emulator's.
fn raise_open_files_limit(wanted: u64) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0, "getrlimit");
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0, "setrlimit");
        }
    }
    limit.rlim_cur
}

/// Mailboxes the cached requests ask about.
const PEOPLE: [&str; 6] = [
    "adele.vance@contoso.com",
    "megan.bowen@contoso.com",
    "johanna.lorenz@contoso.com",
    "room.adams@contoso.com",
    "room.baker@contoso.com",
    "alex.wilber@contoso.com",
];

/// Request number `n`: which kind, and how to check its answer.
fn request(client: &reqwest::Client, api: &str, n: usize) -> (&'static str, reqwest::RequestBuilder) {
    let pair = format!("{},{}", PEOPLE[n % PEOPLE.len()], PEOPLE[(n / PEOPLE.len() + 1) % PEOPLE.len()]);
    match n % 20 {
        0 => {
            ("details", client.get(format!("{api}/v1/freebusy?mailboxes={pair}&start={START}&end={END}&details=true")))
        }
        1 => {
            let prefix = ["ad", "me", "jo", "ro", "al", "ga", "pa", "ly"][n / 20 % 8];
            ("directory", client.get(format!("{api}/v1/directory?q={prefix}")))
        }
        2 => (
            "availability",
            client.post(format!("{api}/v1/availability")).json(&json!({
                "start": START, "end": END, "duration": 30,
                "participants": [{ "mailboxes": [PEOPLE[n % 3], PEOPLE[(n + 1) % 3]], "required": "all" },
                                 { "mailboxes": ["room.adams@contoso.com", "room.baker@contoso.com"], "required": 1 }],
            })),
        ),
        3 | 4 => (
            "ical",
            client
                .get(format!("{api}/v1/freebusy?mailboxes={pair}&start={START}&end={END}"))
                .header("accept", "text/calendar"),
        ),
        5..=7 => (
            "post",
            client.post(format!("{api}/v1/freebusy")).json(&json!({
                "mailboxes": pair.split(',').collect::<Vec<_>>(), "start": START, "end": END, "interval": 60,
            })),
        ),
        _ => ("cached", client.get(format!("{api}/v1/freebusy?mailboxes={pair}&start={START}&end={END}&interval=30"))),
    }
}

/// Send request `n` and say what was wrong with its answer, if anything.
async fn exchange(client: &reqwest::Client, api: &str, n: usize) -> Result<&'static str, String> {
    let (kind, req) = request(client, api, n);
    let resp = req.send().await.map_err(|e| format!("{kind} #{n}: {e}"))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| format!("{kind} #{n}: body: {e}"))?;
    if status != 200 {
        return Err(format!("{kind} #{n}: {status}: {body}"));
    }
    match kind {
        // An unreadable mailbox is one busy period with a COMMENT naming the error.
        "ical" if !body.starts_with("BEGIN:VCALENDAR") || body.contains("\r\nCOMMENT:") => {
            Err(format!("{kind} #{n}: {body}"))
        }
        "ical" => Ok(kind),
        _ => {
            let v: Value = serde_json::from_str(&body).map_err(|e| format!("{kind} #{n}: not JSON ({e}): {body}"))?;
            let mailboxes = v["mailboxes"].as_array();
            let failed =
                mailboxes.is_some_and(|ms| ms.iter().any(|m| m.get("error").is_some() || m.get("stale").is_some()));
            if failed || (kind == "directory" && !v.is_object()) || (kind != "directory" && mailboxes.is_none()) {
                return Err(format!("{kind} #{n}: {body}"));
            }
            Ok(kind)
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_over_a_thousand_connections_without_error_or_growth() {
    let limit = raise_open_files_limit(8192);
    assert!(
        limit >= 2 * CONNECTIONS as u64 + 200,
        "the open-files limit ({limit}) is too low for {CONNECTIONS} connections"
    );
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.expect("emulator");
    let dir = test_dir("soak");
    let port = free_port();
    let file = dir.join("freebusy.toml");
    std::fs::write(
        &file,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndefault_tenant = \"contoso\"\n[auth]\nmode = \"none\"\n[store]\npath = \":memory:\"\n\
             [cache]\nttl_secs = 3600\n{}\n{}",
            providers(),
            graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, demo::CLIENT_SECRET)
        ),
    )
    .expect("config");
    let log = dir.join("serve.log");
    let child = Command::new(freebusy_binary())
        .args(["serve", "--config"])
        .arg(&file)
        .env("RUST_LOG", "warn")
        .stderr(std::fs::File::create(&log).expect("log file"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start freebusy serve");
    let server = Server(child);
    let pid = server.0.id();
    let api = Arc::new(format!("http://127.0.0.1:{port}"));
    wait_until_up(&format!("{api}/healthz"), 60).await;
    let started = Instant::now();

    let soak = async {
        // Warm-up: every kind of request, 50 connections, 500 requests.
        let mut warm = Vec::new();
        for t in 0..50 {
            let api = api.clone();
            warm.push(tokio::spawn(async move {
                let c = client();
                for j in 0..10 {
                    exchange(&c, &api, t * 10 + j).await.expect("warm-up request");
                }
            }));
        }
        for task in warm {
            task.await.expect("warm-up task");
        }
        let rss_start = status_kb(pid, "VmRSS:");

        // The soak: every connection opens with one request, all 1,000 are then open at once,
        // and each sends its other nine.
        let opened = Arc::new(Barrier::new(CONNECTIONS + 1));
        let measured = Arc::new(Barrier::new(CONNECTIONS + 1));
        let mut tasks = Vec::new();
        for t in 0..CONNECTIONS {
            let (api, opened, measured) = (api.clone(), opened.clone(), measured.clone());
            tasks.push(tokio::spawn(async move {
                let c = client();
                let mut results = vec![exchange(&c, &api, t * PER_CONNECTION).await];
                opened.wait().await;
                measured.wait().await;
                for j in 1..PER_CONNECTION {
                    results.push(exchange(&c, &api, t * PER_CONNECTION + j).await);
                }
                results
            }));
        }
        opened.wait().await;
        let open_sockets = sockets(pid);
        let rss_peak_open = status_kb(pid, "VmRSS:");
        measured.wait().await;
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        let mut errors = Vec::new();
        for task in tasks {
            for r in task.await.expect("soak task") {
                match r {
                    Ok(kind) => *counts.entry(kind).or_default() += 1,
                    Err(e) => errors.push(e),
                }
            }
        }
        (rss_start, rss_peak_open, open_sockets, counts, errors)
    };
    let (rss_start, rss_open, open_sockets, counts, errors) =
        tokio::time::timeout(TIME_BOUND, soak).await.expect("the soak did not finish in time");
    // Connections closed by then; let the server notice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_end = status_kb(pid, "VmRSS:");
    let rss_high_water = status_kb(pid, "VmHWM:");
    let total: usize = counts.values().sum();
    println!(
        "soak: {total} requests without error of {} ({counts:?}), {CONNECTIONS} connections ({open_sockets} sockets open on the server at once), {:.1} s",
        CONNECTIONS * PER_CONNECTION,
        started.elapsed().as_secs_f64()
    );
    println!(
        "soak: server VmRSS {:.1} MB after warm-up, {:.1} MB with every connection open, {:.1} MB at the end (high water {:.1} MB)",
        rss_start as f64 / 1024.0,
        rss_open as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        rss_high_water as f64 / 1024.0
    );
    assert!(
        errors.is_empty(),
        "{} of {} requests failed; the first: {:#?}",
        errors.len(),
        CONNECTIONS * PER_CONNECTION,
        &errors[..errors.len().min(5)]
    );
    assert_eq!(total, CONNECTIONS * PER_CONNECTION);
    assert!(open_sockets >= CONNECTIONS, "only {open_sockets} sockets were open on the server at once");
    for (what, kb) in [("after warm-up", rss_start), ("with every connection open", rss_open), ("at the end", rss_end)]
    {
        assert!(kb < RSS_LIMIT_KB, "the server's VmRSS {what} is {kb} kB, over {RSS_LIMIT_KB} kB");
    }
    // Steady: what the thousand connections cost (their buffers, which the allocator keeps) is
    // paid once; the requests they carried after that add at most a tenth.
    let bound = rss_open + rss_open / 10;
    assert!(
        rss_end <= bound,
        "the server grew from {rss_open} kB with every connection open to {rss_end} kB at the end (bound {bound} kB)"
    );
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log.contains("panicked"), "the server panicked: {log}");
    drop(server);
}
