//! Changes without a restart: a reload (SIGHUP, `POST /v1/admin/reload`) re-reads the file;
//! requests in flight finish on the configuration they started with; an invalid file is refused
//! with its error and the running configuration stays; tenants added to the store from another
//! process are served within seconds. And the request plumbing: request ids, 413/414 problems.

use std::sync::Arc;

use freebusy_emulator::{demo, Emulator, Options};
use freebusy_host::runtime::{Runtime, RuntimeSettings};
use freebusy_host::service::{ConfigSource, Service};
use freebusy_tests::{config_text, get, graph_tenant, sealed_store_toml, test_dir};

const QUERY: &str = "mailboxes=adele.vance@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z";

struct Served {
    service: Arc<Service>,
    api: String,
    file: std::path::PathBuf,
    _emulator: Emulator,
    _server: tokio::task::JoinHandle<()>,
}

async fn serve_file(name: &str, tenants: impl Fn(&str) -> String) -> (Served, impl Fn(&str) -> String) {
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let dir = test_dir(name);
    let file = dir.join("freebusy.toml");
    let url = emulator.base_url.clone();
    let store = sealed_store_toml(&dir);
    let text = move |extra: &str| config_text(&format!("{store}{}{extra}", tenants(&url)));
    std::fs::write(&file, text("")).unwrap();
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let service = Arc::new(Service::new(ConfigSource::File(file.clone()), &runtime).await.unwrap());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn({
        let service = service.clone();
        async move {
            let _ = freebusy_host::http::serve(listener, service).await;
        }
    });
    (Served { service, api, file, _emulator: emulator, _server: server }, text)
}

fn contoso(url: &str) -> String {
    graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)
}

#[tokio::test]
async fn a_reload_during_200_concurrent_requests_fails_none_and_adds_and_removes_tenants() {
    let (s, text) = serve_file("reload-busy", contoso).await;
    let url = s._emulator.base_url.clone();
    let extra = graph_tenant("extra", &url, demo::CLIENT_ID, demo::CLIENT_SECRET);
    let requests: Vec<_> = (0..200)
        .map(|i| {
            let api = s.api.clone();
            tokio::spawn(async move {
                let tenant = if i % 2 == 0 { "/v1/freebusy" } else { "/v1/tenants/contoso/freebusy" };
                get(&format!("{api}{tenant}?{QUERY}")).await
            })
        })
        .collect();
    std::fs::write(&s.file, text(&extra)).unwrap();
    let report = s.service.reload().await.unwrap();
    assert_eq!(report.added, vec!["extra"]);
    assert!(report.changed.is_empty() && report.removed.is_empty(), "{report:?}");
    for r in requests {
        let (status, _, body) = r.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"busy\""), "{body}");
    }
    assert_eq!(get(&format!("{}/v1/tenants/extra/freebusy?{QUERY}", s.api)).await.0, 200);
    // Removed again: gone at once, and the default tenant is untouched.
    std::fs::write(&s.file, text("")).unwrap();
    let report = s.service.reload().await.unwrap();
    assert_eq!(report.removed, vec!["extra"]);
    assert_eq!(get(&format!("{}/v1/tenants/extra/freebusy?{QUERY}", s.api)).await.0, 404);
    assert_eq!(get(&format!("{}/v1/freebusy?{QUERY}", s.api)).await.0, 200);
}

#[tokio::test]
async fn an_invalid_file_is_refused_with_its_line_and_the_running_configuration_stays() {
    let (s, text) = serve_file("reload-invalid", contoso).await;
    std::fs::write(
        &s.file,
        format!("{}\n[tenants.broken]\nprovider = \"graph\"\nmax_concurrent_calls = \"four\"\n", text("")),
    )
    .unwrap();
    let err = format!("{:#}", s.service.reload().await.unwrap_err());
    assert!(err.contains("freebusy.toml") && err.contains("line") && err.contains("max_concurrent_calls"), "{err}");
    // The same through the admin route (authentication is off in this test's config).
    let resp = reqwest::Client::new().post(format!("{}/v1/admin/reload", s.api)).send().await.unwrap();
    assert_eq!(resp.status(), 422);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("the running configuration stays"), "{body}");
    assert_eq!(get(&format!("{}/v1/freebusy?{QUERY}", s.api)).await.0, 200);
    // An unknown setting is refused too, naming it.
    std::fs::write(&s.file, text("").replace("graph_base_url", "graph_url")).unwrap();
    let err = format!("{:#}", s.service.reload().await.unwrap_err());
    assert!(err.contains("graph_url"), "{err}");
    assert_eq!(get(&format!("{}/v1/freebusy?{QUERY}", s.api)).await.0, 200);
}

#[tokio::test]
async fn a_tenant_added_to_the_store_by_another_process_is_served_without_a_restart() {
    let (s, _) = serve_file("reload-store", contoso).await;
    let url = s._emulator.base_url.clone();
    let loaded = s.service.snapshot().config.clone();
    let store = loaded.open_store().unwrap();
    std::env::set_var("FREEBUSY_TEST_ACME_SECRET", demo::CLIENT_SECRET);
    let settings = [
        format!("tenant_id={}", demo::TENANT_ID),
        format!("client_id={}", demo::CLIENT_ID),
        "client_secret=env:FREEBUSY_TEST_ACME_SECRET".to_string(),
        format!("authority={url}"),
        format!("graph_base_url={url}"),
    ];
    // A literal secret is refused: the store keeps references only.
    let literal = [settings[..2].to_vec(), vec!["client_secret=plain".to_string()]].concat();
    assert!(freebusy_host::cli::add_tenant(&loaded, &store, "acme", "graph", &literal).is_err());
    freebusy_host::cli::add_tenant(&loaded, &store, "acme", "graph", &settings).unwrap();
    assert_eq!(get(&format!("{}/v1/tenants/acme/freebusy?{QUERY}", s.api)).await.0, 404, "not yet noticed");
    s.service.notice_store_changes().await.unwrap();
    let (status, _, body) = get(&format!("{}/v1/tenants/acme/freebusy?{QUERY}", s.api)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"busy\""), "{body}");
    let list = freebusy_host::cli::list_tenants(&loaded, &store).unwrap();
    assert!(list.contains("acme") && list.contains("store (cli)") && list.contains("config file"), "{list}");
    freebusy_host::cli::remove_tenant(&store, "acme").unwrap();
    s.service.notice_store_changes().await.unwrap();
    assert_eq!(get(&format!("{}/v1/tenants/acme/freebusy?{QUERY}", s.api)).await.0, 404);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_oversized_requests_get_problems() {
    let (s, _) = serve_file("reload-plumbing", contoso).await;
    let url = format!("{}/v1/freebusy?{QUERY}", s.api);
    let client = reqwest::Client::new();
    let theirs = client.get(&url).header("x-request-id", "console-42").send().await.unwrap();
    assert_eq!(theirs.headers()["x-request-id"], "console-42");
    let ours = client.get(&url).send().await.unwrap();
    let id = ours.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 16, "{id}");
    // 800 addresses do not fit in a GET: a 414 saying to POST.
    let many: Vec<String> = (0..800).map(|i| format!("person{i}@contoso.com")).collect();
    let long = format!(
        "{}/v1/freebusy?mailboxes={}&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z",
        s.api,
        many.join(",")
    );
    let resp = client.get(&long).send().await.unwrap();
    assert_eq!(resp.status(), 414);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("POST"), "{body}");
    // The same 800 as a POST body work.
    let json = serde_json::json!({"mailboxes": many, "start": "2026-03-23T00:00:00Z", "end": "2026-03-24T00:00:00Z"});
    let resp = client.post(format!("{}/v1/freebusy", s.api)).json(&json).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // A body over the limit: a 413 saying the limit.
    let huge = vec![b'x'; freebusy_host::http::MAX_BODY_BYTES + 1];
    let resp = client
        .post(format!("{}/v1/freebusy", s.api))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains(&freebusy_host::http::MAX_BODY_BYTES.to_string()), "{body}");
}

#[tokio::test]
async fn a_tenant_both_in_the_file_and_in_the_store_is_an_error_at_start() {
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let dir = test_dir("reload-clash");
    let text = config_text(&format!(
        "{}{}",
        sealed_store_toml(&dir),
        graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, demo::CLIENT_SECRET)
    ));
    let loaded = freebusy_host::config::LoadedConfig::from_str(&text, std::path::PathBuf::new()).unwrap();
    let store = loaded.open_store().unwrap();
    let section = loaded.config.tenants["contoso"].clone();
    let stored = freebusy_host::store::StoredTenant { name: "contoso".into(), section, source: "cli".into() };
    store.put_tenant(&stored, 0).unwrap();
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let err = Service::from_config(&loaded, &runtime).await.err().expect("a clash is refused");
    let err = format!("{err:#}");
    assert!(err.contains("'contoso'") && err.contains("in the file and kept in the store"), "{err}");
}
