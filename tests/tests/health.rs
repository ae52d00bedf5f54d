//! `/readyz` and `freebusy check`'s data: credential health per tenant, the missing
//! permission named, and a secret's expiry reported 30 days ahead; the demo comes up ready in
//! every connection mode.

use chrono::{Duration, Utc};
use freebusy_emulator::demo;
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{get, start};

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

async fn readyz(api: &str) -> (u16, serde_json::Value) {
    let (status, _, body) = get(&format!("{api}/readyz")).await;
    (status, serde_json::from_str(&body).unwrap())
}

fn find<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["tenants"].as_array().unwrap().iter().find(|t| t["tenant"] == name).unwrap()
}

#[tokio::test]
async fn ready_with_a_warning_when_the_secret_expires_within_30_days() {
    let soon = Utc::now().date_naive() + Duration::days(10);
    let stack = start(RuntimeSettings::default(), |url| {
        tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET, Some(soon))
    })
    .await;
    let (status, body) = readyz(&stack.api).await;
    assert_eq!(status, 200, "{body}");
    let t = find(&body, "contoso");
    assert_eq!(t["ok"], true);
    assert!(t["granted"].as_array().unwrap().iter().any(|g| g == "Calendars.ReadBasic"));
    let warning = t["warnings"][0].as_str().unwrap();
    assert!(warning.contains("in 10 days"), "{warning}");
}

#[tokio::test]
async fn not_ready_when_a_secret_expired_a_permission_is_missing_or_the_secret_is_wrong() {
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
    let (status, body) = readyz(&stack.api).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    let expired = find(&body, "contoso");
    assert_eq!(expired["ok"], false);
    assert!(expired["warnings"][0].as_str().unwrap().contains("expired"));
    let noconsent = find(&body, "noconsent");
    assert_eq!(noconsent["ok"], false);
    assert!(noconsent["missing"][0].as_str().unwrap().contains("Calendars.ReadBasic"), "{noconsent}");
    let wrong = find(&body, "wrongsecret");
    assert!(wrong["summary"].as_str().unwrap().contains("AADSTS7000215"), "{wrong}");
    assert!(!body.to_string().contains("not-the-secret"), "a secret leaked into /readyz");
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
    for (tenant, _) in freebusy_demo::DEMO_TENANTS {
        let (status, _, body) = get(&format!("{api}/v1/tenants/{tenant}/freebusy?{query}")).await;
        assert_eq!(status, 200, "{tenant}: {body}");
        let r: freebusy_core::api::FreeBusyResponse = serde_json::from_str(&body).unwrap();
        assert!(r.mailboxes.iter().all(|m| m.busy.as_ref().is_some_and(|b| !b.is_empty())), "{tenant}: {body}");
        answers.push((tenant, r.mailboxes.into_iter().map(|m| m.busy).collect::<Vec<_>>()));
    }
    for (tenant, busy) in &answers[1..] {
        assert_eq!(busy, &answers[0].1, "{tenant} differs from {}", answers[0].0);
    }
    // And every tenant's credentials check out.
    let (status, body) = readyz(&api).await;
    assert_eq!(status, 200, "{body}");
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
