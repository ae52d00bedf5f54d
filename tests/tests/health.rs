//! Readiness and credential health: `/readyz` says whether the instance can serve (a customer's
//! expired secret must not take it out of its load balancer); `/v1/tenants/{t}/health` and
//! `freebusy check` report each tenant's credentials, the missing permission named, and a
//! secret's expiry 30 days ahead; the demo comes up ready in every connection mode.

use chrono::{Duration, Utc};
use freebusy_emulator::demo;
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{get, get_with, start};

fn tenant(name: &str, url: &str, client: &str, secret: &str, expires: Option<chrono::NaiveDate>) -> String {
    let expires = expires.map(|d| format!("secret_expires = {d}\n")).unwrap_or_default();
    format!(
        r#"
[tenants.{name}]
provider = "graph"
{expires}[tenants.{name}.settings]
tenant_id = "{tenant}"
client_id = "{client}"
client_secret = "{secret}"
authority = "{url}"
graph_base_url = "{url}"
"#,
        tenant = demo::TENANT_ID
    )
}

async fn readyz(api: &str, key: Option<&str>) -> (u16, serde_json::Value) {
    let bearer = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = bearer.iter().map(|b| ("authorization", b.as_str())).collect();
    let (status, _, body) = get_with(&format!("{api}/readyz"), &headers).await;
    (status, serde_json::from_str(&body).unwrap())
}

async fn health(api: &str, tenant: &str) -> serde_json::Value {
    let (status, _, body) = get(&format!("{api}/v1/tenants/{tenant}/health")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn ready_with_a_warning_when_the_secret_expires_within_30_days() {
    let soon = Utc::now().date_naive() + Duration::days(10);
    let stack = start(RuntimeSettings::default(), |url| {
        tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET, Some(soon))
    })
    .await;
    let (status, body) = readyz(&stack.api, None).await;
    assert_eq!(status, 200, "{body}");
    let t = health(&stack.api, "contoso").await;
    assert_eq!(t["ok"], true);
    assert!(t["granted"].as_array().unwrap().iter().any(|g| g == "Calendars.ReadBasic"));
    let warning = t["warnings"][0].as_str().unwrap();
    assert!(warning.contains("in 10 days"), "{warning}");
}

#[tokio::test]
async fn an_expired_secret_a_missing_permission_or_a_wrong_secret_show_in_tenant_health_not_readiness() {
    let past = Utc::now().date_naive() - Duration::days(1);
    let stack = start(RuntimeSettings::default(), |url| {
        [
            tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET, Some(past)),
            tenant("noconsent", url, demo::UNCONSENTED_CLIENT_ID, "unconsented~secret", None),
            tenant("wrongsecret", url, demo::CLIENT_ID, "not-the-secret", None),
        ]
        .concat()
    })
    .await;
    let expired = health(&stack.api, "contoso").await;
    assert_eq!(expired["ok"], false);
    assert!(expired["warnings"][0].as_str().unwrap().contains("expired"));
    let noconsent = health(&stack.api, "noconsent").await;
    assert_eq!(noconsent["ok"], false);
    assert!(noconsent["missing"][0].as_str().unwrap().contains("Calendars.ReadBasic"), "{noconsent}");
    let wrong = health(&stack.api, "wrongsecret").await;
    assert!(wrong["summary"].as_str().unwrap().contains("AADSTS7000215"), "{wrong}");
    assert_eq!(wrong["circuit"]["state"], "open", "a refused secret opens the circuit: {wrong}");
    assert!(!wrong.to_string().contains("not-the-secret"), "a secret leaked into the health answer");
    // The instance itself can serve: one customer's credentials do not make it unready, and
    // readiness lists the open circuit without signing in again.
    let (status, body) = readyz(&stack.api, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["openCircuits"], serde_json::json!(["wrongsecret"]));
}

#[tokio::test]
async fn the_demo_serves_one_tenant_through_every_way_admins_connect() {
    let demo = freebusy_demo::start(freebusy_tests::components(), RuntimeSettings::default(), "").await.unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(freebusy_host::http::serve(listener, demo.service.clone()));
    // Adele's week, the same whichever way the tenant is connected (she is also the user the
    // delegated tenant signed in as).
    let query =
        "mailboxes=adele.vance@contoso.com,room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z";
    let mut answers = Vec::new();
    let bearer = format!("Bearer {}", demo.key);
    for (tenant, _) in freebusy_demo::DEMO_TENANTS {
        let url = format!("{api}/v1/tenants/{tenant}/freebusy?{query}");
        let (status, _, body) = get_with(&url, &[("authorization", &bearer)]).await;
        assert_eq!(status, 200, "{tenant}: {body}");
        let r: freebusy_core::api::FreeBusyResponse = serde_json::from_str(&body).unwrap();
        assert!(r.mailboxes.iter().all(|m| m.busy.as_ref().is_some_and(|b| !b.is_empty())), "{tenant}: {body}");
        answers.push((tenant, r.mailboxes.into_iter().map(|m| m.busy).collect::<Vec<_>>()));
    }
    for (tenant, busy) in &answers[1..] {
        assert_eq!(busy, &answers[0].1, "{tenant} differs from {}", answers[0].0);
    }
    // The demo's key opens readiness (an admin key: the main listener asks for one), and
    // nothing opens without it.
    let (status, body) = readyz(&api, Some(&demo.key)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = get(&format!("{api}/v1/freebusy?{query}")).await;
    assert_eq!(status, 401);
    server.abort();
}

#[tokio::test]
async fn on_shutdown_requests_in_flight_are_answered_before_the_server_stops() {
    let emulator =
        freebusy_emulator::Emulator::start(([127, 0, 0, 1], 0).into(), freebusy_emulator::Options::default())
            .await
            .unwrap();
    let text =
        freebusy_tests::config_text(&tenant("contoso", &emulator.base_url, demo::CLIENT_ID, demo::CLIENT_SECRET, None));
    let loaded = freebusy_host::config::LoadedConfig::from_str(&text, std::path::PathBuf::new()).unwrap();
    let runtime = freebusy_host::runtime::Runtime::new(RuntimeSettings::default()).unwrap();
    let service = std::sync::Arc::new(freebusy_host::service::Service::from_config(&loaded, &runtime).await.unwrap());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(freebusy_host::http::serve_until(listener, service, async {
        let _ = stopped.await;
    }));
    // A request that takes a second (the upstream throttles once), then the stop signal.
    emulator.inject(freebusy_emulator::Fault::Throttle { retry_after: Some("1".into()) });
    let url = format!(
        "{api}/v1/freebusy?mailboxes=room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z"
    );
    let slow = tokio::spawn(async move { get(&url).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    let (status, _, body) = slow.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"busy\""), "answered in full: {body}");
    tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
}

/// A Graph tenant whose app is `client` with `secret`, probing `probe` when the token is opaque.
fn probing_tenant(name: &str, url: &str, client: &str, secret: &str, probe: Option<&str>) -> String {
    let probe = probe.map(|p| format!("probe_mailbox = \"{p}\"\n")).unwrap_or_default();
    format!("{}{probe}", tenant(name, url, client, secret, None))
}

#[tokio::test]
async fn with_opaque_tokens_the_permission_check_is_decided_by_a_probe_and_says_so() {
    let options = freebusy_emulator::Options { opaque_tokens: true, ..Default::default() };
    let stack = freebusy_tests::start_with(options, RuntimeSettings::default(), |url| {
        [
            probing_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET, Some("room.adams@contoso.com")),
            probing_tenant(
                "noconsent",
                url,
                demo::UNCONSENTED_CLIENT_ID,
                "unconsented~secret",
                Some("room.adams@contoso.com"),
            ),
            probing_tenant("noprobe", url, demo::CLIENT_ID, demo::CLIENT_SECRET, None),
        ]
        .concat()
    })
    .await;
    // The token is not a JWT, yet a working tenant is not reported as lacking a permission.
    let ok = health(&stack.api, "contoso").await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert!(ok["summary"].as_str().unwrap().contains("probe"), "{ok}");
    let refused = health(&stack.api, "noconsent").await;
    assert_eq!(refused["ok"], false);
    assert!(refused["missing"][0].as_str().unwrap().contains("ErrorAccessDenied"), "{refused}");
    let unchecked = health(&stack.api, "noprobe").await;
    assert!(unchecked["summary"].as_str().unwrap().contains("not checked"), "{unchecked}");
    // And queries work with opaque tokens.
    let (status, _, body) = get(&format!(
        "{}/v1/freebusy?mailboxes=adele.vance@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z",
        stack.api
    ))
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("\"busy\":[{"), "{body}");
}
