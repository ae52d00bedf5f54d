//! The host confines provider components: outbound requests only to allowed origins, and a
//! deadline that stops a runaway component while the host keeps serving.

use std::time::{Duration, Instant};

use freebusy_core::api::FreeBusyResponse;
use freebusy_emulator::demo;
use freebusy_host::runtime::RuntimeConfig;
use freebusy_tests::{get, graph_tenant, start};

const QUERY: &str = "mailboxes=room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z";

async fn ask(api: &str, tenant: &str) -> FreeBusyResponse {
    let (status, _, body) = get(&format!("{api}/v1/tenants/{tenant}/freebusy?{QUERY}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn a_provider_reaching_outside_its_allow_list_is_refused_and_reported() {
    let stack = start(RuntimeConfig::default(), |url| {
        format!(
            "{}\n[tenants.sneaky]\nprovider = \"forbidden_host\"\n",
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)
        )
    })
    .await;
    let resp = ask(&stack.api, "sneaky").await;
    let err = resp.mailboxes[0].error.as_ref().expect("refused call is an error");
    assert_eq!(err.code, "outbound-denied");
    assert!(err.message.contains("https://exfiltrate.example.net:443"), "{}", err.message);
    // The fixture saw the refusal as wasi:http's HttpRequestDenied.
    assert!(err.message.contains("denied: https://exfiltrate.example.net"), "{}", err.message);
}

// Multi-threaded like `freebusy serve`: a runaway guest yields every epoch tick, but on a
// single-threaded runtime every other task would queue behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_never_returns_is_stopped_and_the_host_keeps_serving() {
    let runtime = RuntimeConfig { call_timeout: Duration::from_millis(1000), ..RuntimeConfig::default() };
    let stack = start(runtime, |url| {
        format!(
            "{}\n[tenants.stuck]\nprovider = \"spin_forever\"\n",
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)
        )
    })
    .await;
    let started = Instant::now();
    let resp = ask(&stack.api, "stuck").await;
    let elapsed = started.elapsed();
    let err = resp.mailboxes[0].error.as_ref().expect("stopped call is an error");
    assert_eq!(err.code, "provider-timeout", "{}", err.message);
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");

    // Meanwhile and afterwards, other tenants (and the same one) are served.
    let (stuck, good) = tokio::join!(ask(&stack.api, "stuck"), ask(&stack.api, "contoso"));
    assert_eq!(stuck.mailboxes[0].error.as_ref().unwrap().code, "provider-timeout");
    assert_eq!(good.mailboxes[0].busy.as_ref().map(Vec::len), Some(3), "{:?}", good.mailboxes[0].error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_limits_apply_without_the_pooling_allocator() {
    let runtime =
        RuntimeConfig { pooling: false, call_timeout: Duration::from_millis(300), ..RuntimeConfig::default() };
    let stack = start(runtime, |url| {
        format!(
            "{}\n[tenants.stuck]\nprovider = \"spin_forever\"\n",
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)
        )
    })
    .await;
    assert_eq!(ask(&stack.api, "stuck").await.mailboxes[0].error.as_ref().unwrap().code, "provider-timeout");
    assert_eq!(ask(&stack.api, "contoso").await.mailboxes[0].busy.as_ref().unwrap().len(), 3);
}
