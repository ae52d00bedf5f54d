//! The timeline page in a real browser (headless Chromium from Debian): with the demo tenant it
//! draws a track per mailbox with busy blocks and shaded hours outside each one's working hours,
//! a track of the common free time for the meeting length, and says which zone the times are in.
//! The screenshot lands in `target/timeline.png` for a person to look at.

use freebusy_emulator::{demo, Emulator, Options};
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{config_text_with_cache, graph_tenant, repo_root, require, stack_with_config, test_dir};

fn chromium() -> &'static str {
    require("chromium", &["--version"], "Debian's chromium runs the page checks (scripts/test installs it)");
    "chromium"
}

async fn run_chromium(dir: &std::path::Path, args: &[&str], url: &str) -> std::process::Output {
    tokio::process::Command::new(chromium())
        // As the machine's probe runs it: no sandbox as root, no background connections out.
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", dir.display()))
        .args(["--virtual-time-budget=20000", "--window-size=1400,900"])
        .args(args)
        .arg(url)
        .output()
        .await
        .expect("chromium runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_draws_tracks_working_hours_and_the_common_free_time() {
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let tenants = graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, demo::CLIENT_SECRET);
    let stack =
        stack_with_config(emulator, RuntimeSettings::default(), &config_text_with_cache(&tenants, "ttl_secs = 600"))
            .await;
    let d = demo::DOMAIN;
    let url = format!(
        "{}/#mailboxes=adele.vance%40{d}%2Cmegan.bowen%40{d}&rooms=room.adams%40{d}%2Croom.baker%40{d}\
         &day=2026-03-23&zone=Europe%2FBerlin&duration=30",
        stack.api
    );
    let dir = test_dir("page-chromium");
    let out = run_chromium(&dir, &["--dump-dom"], &url).await;
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dom.contains("Times in Europe/Berlin"), "{dom}");
    assert!(dom.contains("Common free time"), "{dom}");
    let count = |needle: &str| dom.matches(needle).count();
    assert_eq!(count(r#"<div class="track" title="#), 4, "one track per mailbox: {dom}");
    assert!(count(r#"class="block common""#) >= 1, "common free time drawn: {dom}");
    assert!(count(r#"class="off-hours""#) >= 4, "hours outside working hours shaded: {dom}");
    assert!(count(r#"class="block busy""#) >= 2, "busy blocks drawn: {dom}");
    assert!(!dom.contains(r#"class="error""#), "no error shown: {dom}");

    let png = repo_root().join("target/timeline.png");
    let _ = std::fs::remove_file(&png);
    let out = run_chromium(&dir, &[&format!("--screenshot={}", png.display())], &url).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0) > 10_000, "a real screenshot");
}
