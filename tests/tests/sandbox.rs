//! The host runs provider components confined (outbound requests only to allowed origins, a
//! deadline that stops a runaway component while the host keeps serving) and on every contract
//! version it supports.

use std::time::{Duration, Instant};

use freebusy_core::api::FreeBusyResponse;
use freebusy_emulator::demo;
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{demo_stack, get, graph_tenant, start};

const QUERY: &str = "mailboxes=room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z";

async fn ask(api: &str, tenant: &str) -> FreeBusyResponse {
    let (status, _, body) = get(&format!("{api}/v1/tenants/{tenant}/freebusy?{QUERY}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn a_provider_reaching_outside_its_allow_list_is_refused_and_reported() {
    let stack = start(RuntimeSettings::default(), |url| {
        format!(
            "{}\n[tenants.sneaky]\nprovider = \"forbidden_host\"\n",
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)
        )
    })
    .await;
    let resp = ask(&stack.api, "sneaky").await;
    let err = resp.mailboxes[0].error.as_ref().expect("refused call is an error");
    assert_eq!(err.code, freebusy_core::ErrorCode::OutboundDenied);
    assert!(err.message.contains("https://exfiltrate.example.net:443"), "{}", err.message);
    // The fixture saw the refusal as wasi:http's HttpRequestDenied.
    assert!(err.message.contains("denied: https://exfiltrate.example.net"), "{}", err.message);
}

// Multi-threaded like `freebusy serve`: a runaway guest yields every epoch tick, but on a
// single-threaded runtime every other task would queue behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_never_returns_is_stopped_and_the_host_keeps_serving() {
    let runtime = RuntimeSettings { call_timeout: Duration::from_millis(1000), ..RuntimeSettings::default() };
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
    assert_eq!(err.code, freebusy_core::ErrorCode::ProviderTimeout, "{}", err.message);
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");

    // Meanwhile and afterwards, other tenants (and the same one) are served.
    let (stuck, good) = tokio::join!(ask(&stack.api, "stuck"), ask(&stack.api, "contoso"));
    assert_eq!(stuck.mailboxes[0].error.as_ref().unwrap().code, freebusy_core::ErrorCode::ProviderTimeout);
    assert_eq!(good.mailboxes[0].busy.as_ref().map(Vec::len), Some(3), "{:?}", good.mailboxes[0].error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_limits_apply_without_the_pooling_allocator() {
    let runtime =
        RuntimeSettings { pooling: false, call_timeout: Duration::from_millis(300), ..RuntimeSettings::default() };
    let stack = start(runtime, |url| {
        format!(
            "{}\n[tenants.stuck]\nprovider = \"spin_forever\"\n",
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)
        )
    })
    .await;
    assert_eq!(
        ask(&stack.api, "stuck").await.mailboxes[0].error.as_ref().unwrap().code,
        freebusy_core::ErrorCode::ProviderTimeout
    );
    assert_eq!(ask(&stack.api, "contoso").await.mailboxes[0].busy.as_ref().unwrap().len(), 3);
}

#[tokio::test]
async fn a_component_built_against_contract_0_1_0_still_loads_and_answers() {
    let stack = start(RuntimeSettings::default(), |url| {
        format!(
            "{}\n[tenants.legacy]\nprovider = \"legacy_v0_1\"\n",
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)
        )
    })
    .await;
    let tenant = stack.service.tenant(Some("legacy")).unwrap();
    assert_eq!(tenant.provider.contract_version(), "0.1.0");
    assert_eq!(tenant.provider.info().name, "legacy-v0-1");

    // Four mailboxes over ten days: the fixture's limits (2 mailboxes, 7 days) make four calls,
    // each answering "tentative for the first hour of my window".
    let query = "mailboxes=a@x.example,missing@x.example,b@x.example,c@x.example\
                 &start=2026-03-23T00:00:00Z&end=2026-04-02T00:00:00Z&interval=60&details=true&upstream=true";
    let (status, _, body) = get(&format!("{}/v1/tenants/legacy/freebusy?{query}", stack.api)).await;
    assert_eq!(status, 200, "{body}");
    let resp: FreeBusyResponse = serde_json::from_str(&body).unwrap();
    assert_eq!(resp.mailboxes[1].error.as_ref().map(|e| e.code.as_str()), Some("not-found"));
    for m in [&resp.mailboxes[0], &resp.mailboxes[2], &resp.mailboxes[3]] {
        let events = m.events.as_ref().unwrap_or_else(|| panic!("{}: {:?}", m.mailbox, m.error));
        let starts: Vec<&str> = events.iter().map(|e| e.start.as_str()).collect();
        assert_eq!(starts, ["2026-03-23T00:00:00Z", "2026-03-30T00:00:00Z"], "{}", m.mailbox);
        assert!(events.iter().all(|e| e.subject.as_deref() == Some("legacy")));
        let view = m.availability_view.as_deref().unwrap();
        assert_eq!(view.len(), 240);
        assert_eq!((&view[..2], &view[168..170]), ("10", "10"));
        // 0.1.0 has no merged view to pass on, even when asked.
        assert_eq!(m.upstream_view, None);
    }

    let (status, _, body) = get(&format!("{}/v1/tenants/legacy/directory?q=ann&kind=room", stack.api)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ann@legacy.example") && body.contains("\"room\""), "{body}");
}

#[tokio::test]
async fn a_component_built_against_contract_0_2_0_still_loads_and_passes_its_merged_view() {
    let stack = start(RuntimeSettings::default(), |url| {
        format!(
            "{}\n[tenants.legacy]\nprovider = \"legacy_v0_2\"\n",
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)
        )
    })
    .await;
    let tenant = stack.service.tenant(Some("legacy")).unwrap();
    assert_eq!(tenant.provider.contract_version(), "0.2.0");
    assert_eq!(tenant.provider.info().name, "legacy-v0-2");
    let query = "mailboxes=a@x.example&start=2026-03-23T00:00:00Z&end=2026-03-23T04:00:00Z&interval=60&upstream=true";
    let (status, _, body) = get(&format!("{}/v1/tenants/legacy/freebusy?{query}", stack.api)).await;
    assert_eq!(status, 200, "{body}");
    let resp: FreeBusyResponse = serde_json::from_str(&body).unwrap();
    let m = &resp.mailboxes[0];
    assert_eq!(m.availability_view.as_deref(), Some("3000"), "{m:?}");
    assert_eq!(m.upstream_view.as_deref(), Some("3000"), "0.2.0's merged view reaches the answer");
    // 0.2.0 cannot describe a delegated sign-in; the host says so instead of guessing.
    let err = tenant.provider.delegated_sign_in(tenant.context()).await.unwrap_err();
    assert!(err.to_string().contains("0.2.0") && err.to_string().contains("0.3.0"), "{err}");
}

#[tokio::test]
async fn the_shipped_components_implement_the_current_contract() {
    let stack = demo_stack().await;
    let tenant = stack.service.tenant(Some("contoso")).unwrap();
    assert_eq!(tenant.provider.contract_version(), "0.3.0");
    // An application-permission tenant signs nobody in.
    assert_eq!(tenant.provider.delegated_sign_in(tenant.context()).await.unwrap(), None);
}

/// A stack with the misbehaving fixture as tenant `wild`, beside the Graph tenant `contoso`.
async fn with_a_misbehaving_tenant(runtime: RuntimeSettings) -> freebusy_tests::Stack {
    start(runtime, |url| {
        format!(
            "{}\n[tenants.wild]\nprovider = \"misbehave\"\n",
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET)
        )
    })
    .await
}

async fn ask_wild(api: &str, mailbox: &str) -> FreeBusyResponse {
    let query = format!("mailboxes={mailbox}&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z");
    let (status, _, body) = get(&format!("{api}/v1/tenants/wild/freebusy?{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_allocates_without_limit_is_stopped_at_its_memory_limit_and_the_next_call_works() {
    for pooling in [true, false] {
        let runtime = RuntimeSettings { pooling, memory_limit_bytes: 16 << 20, ..RuntimeSettings::default() };
        let stack = with_a_misbehaving_tenant(runtime).await;
        let resp = ask_wild(&stack.api, "grow@contoso.com").await;
        let err = resp.mailboxes[0].error.as_ref().expect("a stopped call is an error, never free");
        assert_eq!(err.code, freebusy_core::ErrorCode::ProviderFault, "{}", err.message);
        assert!(resp.mailboxes[0].busy.is_none());
        assert!(!err.message.contains('\n'), "one line, no guest backtrace: {}", err.message);
        // The next call gets a fresh instance and answers; other tenants never noticed.
        let calm = ask_wild(&stack.api, "calm@contoso.com").await;
        assert_eq!(calm.mailboxes[0].busy.as_ref().map(Vec::len), Some(1), "pooling {pooling}: {calm:?}");
        assert_eq!(ask(&stack.api, "contoso").await.mailboxes[0].busy.as_ref().map(Vec::len), Some(3));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_traps_is_reported_and_the_next_call_and_other_tenants_are_unaffected() {
    let stack = with_a_misbehaving_tenant(RuntimeSettings::default()).await;
    // Trapping while others are served at the same time.
    let (trapped, good) = tokio::join!(ask_wild(&stack.api, "trap@contoso.com"), ask(&stack.api, "contoso"));
    let err = trapped.mailboxes[0].error.as_ref().expect("a trap is an error, never free");
    assert_eq!(err.code, freebusy_core::ErrorCode::ProviderFault, "{}", err.message);
    assert!(trapped.mailboxes[0].busy.is_none());
    assert!(err.message.contains("unreachable"), "the trap kind is reported: {}", err.message);
    assert_eq!(good.mailboxes[0].busy.as_ref().map(Vec::len), Some(3));
    for _ in 0..3 {
        assert!(ask_wild(&stack.api, "trap@contoso.com").await.mailboxes[0].error.is_some());
        let calm = ask_wild(&stack.api, "calm@contoso.com").await;
        assert_eq!(calm.mailboxes[0].busy.as_ref().map(Vec::len), Some(1), "{calm:?}");
    }
}

// Pooling slots are reused from call to call (and across tenants); whatever the allocator
// reuses underneath, a call must never see what an earlier call (or a stopped one) left in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_never_sees_the_memory_an_earlier_call_wrote_whichever_allocator() {
    use freebusy_core::provider::Query;
    use freebusy_host::runtime::{CallContext, Runtime};
    let default = RuntimeSettings { memory_limit_bytes: 16 << 20, ..RuntimeSettings::default() };
    let setups = [("pooling", default.clone()), ("on-demand", RuntimeSettings { pooling: false, ..default })];
    let day = freebusy_core::Window { start: 0, end: 86_400_000 };
    let ask = |mailbox: &str| Query {
        mailboxes: vec![format!("{mailbox}@contoso.com")],
        window: day,
        details: false,
        view_interval: None,
    };
    for (setup, settings) in setups {
        let runtime = Runtime::new(settings).unwrap();
        let provider = runtime.load_file(&freebusy_tests::component("fixture_misbehave.wasm")).await.unwrap();
        let ctx = CallContext::empty();
        for round in 0..20 {
            // One after another, each call in the slot the one before it left.
            for _ in 0..4 {
                let answer = provider.get_schedules(&ctx, ask("remember")).await;
                let answer = answer.unwrap_or_else(|e| panic!("{setup}, round {round}: {e}"));
                let blocks = answer[0].outcome.as_ref().map(|s| s.blocks.len());
                assert_eq!(blocks, Ok(1), "{setup}, round {round}: a call saw an earlier call's writes");
            }
            if round % 5 == 0 {
                // A call stopped mid-way (at its memory limit) leaves a dirty slot behind too.
                assert!(provider.get_schedules(&ctx, ask("grow")).await.is_err(), "{setup}: grow was not stopped");
            }
        }
    }
}
