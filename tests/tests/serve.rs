//! `freebusy serve` as a process, the way it runs in production: API keys on by default, one
//! access-log line per request with the key's id and never the key, JSON logs, SIGHUP reloads,
//! and no start without authentication on an address others can reach.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use freebusy_emulator::{demo, Emulator, Options};
use freebusy_tests::{
    free_port, freebusy_binary, get, get_keyed, graph_tenant, providers, sealed_store_toml, test_dir, wait_until_up,
};

const QUERY: &str = "mailboxes=adele.vance@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z";

struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(dir: &std::path::Path, url: &str, tenants: &[&str], port: u16) -> String {
    let tenants: String = tenants.iter().map(|t| graph_tenant(t, url, demo::CLIENT_ID, demo::CLIENT_SECRET)).collect();
    format!(
        "listen = \"127.0.0.1:{port}\"\ndefault_tenant = \"contoso\"\n{}\n{}\n{tenants}",
        sealed_store_toml(dir),
        providers()
    )
}

#[tokio::test]
async fn serve_needs_keys_logs_their_ids_as_json_and_reloads_on_sighup() {
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let dir = test_dir("serve-process");
    let port = free_port();
    let file = dir.join("freebusy.toml");
    std::fs::write(&file, config(&dir, &emulator.base_url, &["contoso"], port)).unwrap();
    let out = Command::new(freebusy_binary())
        .args(["keys", "create", "--tenant", "contoso", "--name", "console", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("fbk_"), "{key}");
    let log = dir.join("serve.log");
    let child = Command::new(freebusy_binary())
        .args(["--log-format", "json", "serve", "--config"])
        .arg(&file)
        .stderr(std::fs::File::create(&log).unwrap())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let server = Process(child);
    let api = format!("http://127.0.0.1:{port}");
    wait_until_up(&format!("{api}/healthz"), 60).await;

    assert_eq!(get(&format!("{api}/v1/freebusy?{QUERY}")).await.0, 401, "keys are on by default");
    let resp = reqwest::Client::new()
        .get(format!("{api}/v1/freebusy?{QUERY}"))
        .bearer_auth(&key)
        .header("x-request-id", "panel-7")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // SIGHUP: a tenant added to the file is served.
    std::fs::write(&file, config(&dir, &emulator.base_url, &["contoso", "second"], port)).unwrap();
    let admin = Command::new(freebusy_binary())
        .args(["keys", "create", "--all-tenants", "--scope", "admin,freebusy:read", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let admin = String::from_utf8(admin.stdout).unwrap().trim().to_string();
    Command::new("kill").args(["-HUP", &server.0.id().to_string()]).status().unwrap();
    let second = format!("{api}/v1/tenants/second/freebusy?{QUERY}");
    let mut status = 0;
    for _ in 0..50 {
        status = get_keyed(&second, &admin).await.0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "the reloaded tenant and the new key are served");

    drop(server);
    let mut text = String::new();
    std::fs::File::open(&log).unwrap().read_to_string(&mut text).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!lines.is_empty(), "JSON log lines: {text}");
    let access = lines
        .iter()
        .find(|l| l["target"] == "freebusy::access" && l["status"] == 200 && l["route"] == "/v1/freebusy")
        .unwrap_or_else(|| panic!("an access-log line for the request: {text}"));
    assert_eq!(access["key_id"], key[4..20]);
    assert_eq!(access["tenant"], "contoso");
    assert_eq!(access["mailboxes"], 1);
    assert_eq!(access["span"]["id"], "panel-7", "{access}");
    assert!(access.get("addresses").is_none_or(|a| a.is_null()), "addresses only with log_addresses = true");
    assert!(text.contains("\"status\":401"), "the refused request is logged too");
    for k in [&key, &admin] {
        assert!(!text.contains(&k[21..]), "a key's secret is in the log");
    }
    assert!(!text.contains(demo::CLIENT_SECRET), "the client secret is in the log");
}

#[tokio::test]
async fn serve_refuses_to_run_without_authentication_on_a_public_address() {
    let dir = test_dir("serve-open");
    let file = dir.join("freebusy.toml");
    std::fs::write(&file, format!("[auth]\nmode = \"none\"\n[store]\npath = \":memory:\"\n{}", providers())).unwrap();
    let out = Command::new(freebusy_binary())
        .args(["serve", "--listen", "0.0.0.0:0", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mode = \"none\"") && err.contains("0.0.0.0"), "{err}");
}
