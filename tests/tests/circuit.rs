//! The credential circuit: a refused credential is tried once, then not again until the
//! configuration changes, `freebusy check` succeeds, or the probe interval passes. Attendant
//! consoles poll every minute; without this, a changed password locks the service account within
//! minutes. Counted at the emulator: the requests that carried the credentials.

use std::sync::Arc;
use std::time::Duration;

use freebusy_core::api::FreeBusyResponse;
use freebusy_core::ErrorCode;
use freebusy_emulator::{demo, Emulator, Fault, Options};
use freebusy_host::config::LoadedConfig;
use freebusy_host::runtime::{Runtime, RuntimeSettings};
use freebusy_host::service::Service;
use freebusy_host::tenant::health::CheckMode;
use freebusy_tests::{config_text, ews_tenant, get, graph_tenant, sealed_store_toml, stack_on, test_dir};

const QUERY: &str =
    "mailboxes=adele.vance@contoso.com,room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z";

async fn ask(api: &str) -> FreeBusyResponse {
    let (status, _, body) = get(&format!("{api}/v1/freebusy?{QUERY}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn all_auth_failed(r: &FreeBusyResponse) -> bool {
    r.mailboxes.iter().all(|m| m.busy.is_none() && m.error.as_ref().is_some_and(|e| e.code == ErrorCode::AuthFailed))
}

async fn emulator() -> Emulator {
    Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap()
}

#[tokio::test]
async fn a_hundred_polls_with_a_wrong_ews_password_reach_exchange_once() {
    let stack = stack_on(emulator().await, RuntimeSettings::default(), |url| ews_tenant("contoso", url, "wrong")).await;
    for i in 0..100 {
        let r = ask(&stack.api).await;
        assert!(all_auth_failed(&r), "poll {i}: {r:?}");
    }
    assert_eq!(stack.emulator.stats().ews_requests, 1, "one request with the wrong password in all");
    let last = ask(&stack.api).await;
    let message = &last.mailboxes[0].error.as_ref().unwrap().message;
    assert!(message.contains("last tried") && message.contains("next try after"), "{message}");
}

#[tokio::test]
async fn a_hundred_polls_with_a_wrong_graph_secret_make_one_sign_in_even_at_once() {
    let stack = stack_on(emulator().await, RuntimeSettings::default(), |url| {
        graph_tenant("contoso", url, demo::CLIENT_ID, "wrong")
    })
    .await;
    // Fifty at once (the first burst after a start), then fifty in turn.
    let burst = futures_join(50, &stack.api).await;
    assert!(burst.iter().all(all_auth_failed));
    for _ in 0..50 {
        assert!(all_auth_failed(&ask(&stack.api).await));
    }
    assert_eq!(stack.emulator.stats().token_requests, 1, "one failed sign-in in all");
    assert_eq!(stack.emulator.stats().get_schedule_requests, 0);
    // The open circuit shows in the metrics and the tenant's health, which signs in no more.
    let (_, _, metrics) = get(&format!("{}/metrics", stack.api)).await;
    assert!(metrics.contains(r#"freebusy_credential_circuit_open{tenant="contoso"} 1"#), "{metrics}");
    let (_, _, health) = get(&format!("{}/v1/tenants/contoso/health", stack.api)).await;
    assert!(health.contains(r#""state":"open""#) && health.contains("AADSTS7000215"), "{health}");
    assert_eq!(stack.emulator.stats().token_requests, 1);
}

async fn futures_join(n: usize, api: &str) -> Vec<FreeBusyResponse> {
    let asks: Vec<_> = (0..n).map(|_| tokio::spawn(ask_owned(api.to_string()))).collect();
    let mut out = Vec::new();
    for a in asks {
        out.push(a.await.unwrap());
    }
    out
}

async fn ask_owned(api: String) -> FreeBusyResponse {
    ask(&api).await
}

#[tokio::test]
async fn throttling_does_not_open_the_circuit() {
    let stack = stack_on(emulator().await, RuntimeSettings::default(), |url| {
        graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)
    })
    .await;
    // Longer than a request waits: reported at once, as throttled.
    stack.emulator.inject(Fault::Throttle { retry_after: Some("30".into()) });
    let throttled = ask(&stack.api).await;
    assert_eq!(throttled.mailboxes[0].error.as_ref().map(|e| e.code), Some(ErrorCode::Throttled));
    assert!(!stack.service.tenant(Some("contoso")).unwrap().circuit.is_open());
    assert!(ask(&stack.api).await.mailboxes[0].busy.is_some());
}

/// A service on a config text and a store in `dir`, as a restart would make it.
async fn service(text: &str) -> Arc<Service> {
    let loaded = LoadedConfig::from_str(text, std::path::PathBuf::new()).unwrap();
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    Arc::new(Service::from_config(&loaded, &runtime).await.unwrap())
}

fn window() -> freebusy_core::api::FreeBusyRequest {
    freebusy_core::api::parse_query_string(QUERY).unwrap()
}

#[tokio::test]
async fn an_open_circuit_probes_once_per_interval_survives_a_restart_and_closes_on_a_good_check() {
    // Tokens live two seconds (kept for one), so that later calls sign in again.
    let options = Options { token_lifetime_secs: 2, ..Options::default() };
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), options).await.unwrap();
    let dir = test_dir("circuit-restart");
    let text = config_text(&format!(
        "{}\n[circuit]\nprobe_interval_secs = 1\n{}",
        sealed_store_toml(&dir),
        graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, demo::CLIENT_SECRET)
    ));
    // The secret is refused once (an admin rotated it; the old one is back in place).
    emulator.inject(Fault::SecretRejected);
    let first = service(&text).await;
    assert!(all_auth_failed(&first.freebusy(None, &window()).await.unwrap()));
    assert_eq!(emulator.stats().token_requests, 1);
    drop(first);

    // A restart with the same configuration keeps the circuit open: no sign-in.
    let restarted = service(&text).await;
    let tenant = restarted.tenant(Some("contoso")).unwrap();
    assert!(tenant.circuit.is_open());
    assert!(all_auth_failed(&restarted.freebusy(None, &window()).await.unwrap()));
    assert_eq!(emulator.stats().token_requests, 1);

    // After the probe interval one call tries again; it works, and the circuit closes.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = restarted.freebusy(None, &window()).await.unwrap();
    assert!(r.mailboxes.iter().all(|m| m.busy.is_some()), "{r:?}");
    assert_eq!(emulator.stats().token_requests, 2);
    assert!(!tenant.circuit.is_open());

    // Refused again; `freebusy check` (an admin's explicit check) signs in once and reopens it.
    emulator.inject(Fault::SecretRejected);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(all_auth_failed(&restarted.freebusy(None, &window()).await.unwrap()));
    assert!(tenant.circuit.is_open());
    let health = tenant.health(chrono::Utc::now().date_naive(), CheckMode::Explicit).await;
    assert!(health.ok, "{health:?}");
    assert!(!tenant.circuit.is_open(), "a good check closes the circuit");
    assert!(restarted.freebusy(None, &window()).await.unwrap().mailboxes.iter().all(|m| m.busy.is_some()));
}

#[tokio::test]
async fn a_changed_configuration_closes_the_circuit() {
    let emulator = emulator().await;
    let dir = test_dir("circuit-config");
    let wrong = config_text(&format!(
        "{}\n{}",
        sealed_store_toml(&dir),
        graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, "wrong")
    ));
    let fixed = wrong.replace("client_secret = \"wrong\"", &format!("client_secret = \"{}\"", demo::CLIENT_SECRET));
    let before = service(&wrong).await;
    assert!(all_auth_failed(&before.freebusy(None, &window()).await.unwrap()));
    drop(before);
    let after = service(&fixed).await;
    assert!(!after.tenant(Some("contoso")).unwrap().circuit.is_open(), "another secret is another configuration");
    assert!(after.freebusy(None, &window()).await.unwrap().mailboxes.iter().all(|m| m.busy.is_some()));
}
