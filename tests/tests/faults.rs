//! Upstream faults injected through the emulator (issue 13, the reliability suite): 429 storms with
//! and without `Retry-After`, 500s, answers slower than the host's deadline, garbage JSON,
//! truncated XML, HTML where JSON or SOAP was expected, the token endpoint down and a connection
//! reset halfway through a body, for the demo's Graph tenant and, where the fault exists there,
//! its EWS tenants.
//!
//! What every test pins: the HTTP answer is 200 and each mailbox is either read correctly (the
//! same busy time as a clean answer), or served stale and marked so, or reported with an error;
//! never an empty busy list for a mailbox that was not read. Upstream attempts stay within the
//! host's retry policy (one call plus [`RetryPolicy::max_retries`] retries of a throttled one, per
//! provider call), counted by the emulator. After the fault clears, the next request is answered
//! correctly.

use std::time::Duration;

use freebusy_core::api::FreeBusyResponse;
use freebusy_core::scheduler::RetryPolicy;
use freebusy_core::ErrorCode;
use freebusy_emulator::{demo, Emulator, Fault, Options, Stats};
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{config_text_with_cache, ews_tenant, get, graph_tenant, stack_with_config, start, Stack};

const WEEK: &str = "start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z";
const PEOPLE: &str = "mailboxes=room.adams@contoso.com,adele.vance@contoso.com,megan.bowen@contoso.com";

/// Upstream attempts one provider call may make: the call and its retries after throttling.
fn max_attempts() -> u64 {
    1 + u64::from(RetryPolicy::default().max_retries)
}

/// An EWS tenant `exo` signing in with OAuth (client credentials) at the emulator's token endpoint.
fn ews_oauth_tenant(url: &str) -> String {
    format!(
        r#"
[tenants.exo]
provider = "ews"
[tenants.exo.settings]
ews_url = "{url}/EWS/Exchange.asmx"
auth = "oauth"
tenant_id = "{tenant}"
client_id = "{client}"
client_secret = "{secret}"
authority = "{url}"
"#,
        tenant = demo::TENANT_ID,
        client = demo::CLIENT_ID,
        secret = demo::CLIENT_SECRET,
    )
}

/// The demo tenant three ways: Graph (`contoso`), EWS with Basic (`onprem`), EWS with OAuth
/// (`exo`); the cache off, so every request reaches the upstream.
fn tenants(url: &str) -> String {
    format!(
        "{}{}{}",
        graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET),
        ews_tenant("onprem", url, demo::EWS_PASSWORD),
        ews_oauth_tenant(url)
    )
}

async fn stack() -> Stack {
    start(RuntimeSettings::default(), tenants).await
}

/// A stack whose provider calls are stopped after `secs`.
async fn stack_with_deadline(secs: u64) -> Stack {
    start(RuntimeSettings { call_timeout: Duration::from_secs(secs), ..RuntimeSettings::default() }, tenants).await
}

async fn ask(stack: &Stack, tenant: &str, query: &str) -> FreeBusyResponse {
    let (status, _, body) = get(&format!("{}/v1/tenants/{tenant}/freebusy?{query}", stack.api)).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Upstream requests made since `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Calls {
    get_schedule: u64,
    ews: u64,
    token: u64,
}

fn since(stack: &Stack, before: &Stats) -> Calls {
    let now = stack.emulator.stats();
    Calls {
        get_schedule: now.get_schedule_requests - before.get_schedule_requests,
        ews: now.ews_requests - before.ews_requests,
        token: now.token_requests - before.token_requests,
    }
}

/// Each mailbox of `got` is read as in `clean`, or served stale (marked) as in `clean`, or an
/// error without busy time: never free for a mailbox that was not read.
fn read_correctly_or_marked(got: &FreeBusyResponse, clean: &FreeBusyResponse) {
    assert_eq!(got.mailboxes.len(), clean.mailboxes.len());
    for (g, c) in got.mailboxes.iter().zip(&clean.mailboxes) {
        assert_eq!(g.mailbox, c.mailbox);
        match (&g.error, &g.busy) {
            (Some(_), busy) => assert!(busy.is_none(), "an error with busy time: {g:?}"),
            (None, Some(busy)) => {
                assert_eq!(Some(busy), c.busy.as_ref(), "{} differs from the clean answer: {g:?}", g.mailbox);
                assert_eq!(g.working_hours, c.working_hours, "{}", g.mailbox);
            }
            (None, None) => panic!("neither busy time nor an error: {g:?}"),
        }
    }
}

/// Every mailbox reports `code`, with no busy time and nothing stale (the cache is off).
fn all_errored(got: &FreeBusyResponse, code: ErrorCode) {
    for m in &got.mailboxes {
        let err = m.error.as_ref().unwrap_or_else(|| panic!("{}: expected {code}, got {m:?}", m.mailbox));
        assert_eq!(err.code, code, "{}: {}", m.mailbox, err.message);
        assert!(m.busy.is_none() && m.stale.is_none(), "{m:?}");
    }
}

/// A clean answer has busy time for the demo's people (so "free" cannot pass for "read").
fn clean(stack_answer: FreeBusyResponse) -> FreeBusyResponse {
    assert!(
        stack_answer.mailboxes.iter().all(|m| m.error.is_none() && m.busy.as_ref().is_some_and(|b| !b.is_empty())),
        "{stack_answer:?}"
    );
    stack_answer
}

/// After the faults clear, `tenant` answers `query` as `clean` again, with one upstream call.
async fn recovers(stack: &Stack, tenant: &str, query: &str, expected: &FreeBusyResponse) {
    stack.emulator.clear_faults();
    let before = stack.emulator.stats();
    let again = ask(stack, tenant, query).await;
    for (a, c) in again.mailboxes.iter().zip(&expected.mailboxes) {
        assert_eq!((&a.busy, &a.error), (&c.busy, &c.error), "{tenant}: {} after the fault cleared", a.mailbox);
    }
    let calls = since(stack, &before);
    assert_eq!(calls.get_schedule + calls.ews, 1, "{tenant}: {calls:?}");
}

#[tokio::test]
async fn a_429_storm_with_retry_after_is_retried_within_the_policy_then_reported_throttled() {
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    let expected = clean(ask(&stack, "contoso", &query).await);
    for _ in 0..10 {
        stack.emulator.inject(Fault::Throttle { retry_after: Some("0.05".into()) });
    }
    let before = stack.emulator.stats();
    let got = ask(&stack, "contoso", &query).await;
    all_errored(&got, ErrorCode::Throttled);
    let calls = since(&stack, &before);
    assert_eq!(calls.get_schedule, max_attempts(), "the call and its retries, no more: {calls:?}");
    assert_eq!(stack.emulator.queued_faults(), 10 - max_attempts() as usize);
    recovers(&stack, "contoso", &query, &expected).await;
}

#[tokio::test]
async fn a_429_storm_without_retry_after_backs_off_and_gives_up_after_the_retries() {
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    let expected = clean(ask(&stack, "contoso", &query).await);
    for _ in 0..6 {
        stack.emulator.inject(Fault::Throttle { retry_after: None });
    }
    let before = stack.emulator.stats();
    let got = ask(&stack, "contoso", &query).await;
    all_errored(&got, ErrorCode::Throttled);
    assert_eq!(since(&stack, &before).get_schedule, max_attempts());
    recovers(&stack, "contoso", &query, &expected).await;

    // Two 429s are absorbed by the retries: the third attempt is the answer.
    stack.emulator.inject(Fault::Throttle { retry_after: None });
    stack.emulator.inject(Fault::Throttle { retry_after: Some("0.05".into()) });
    let before = stack.emulator.stats();
    let got = ask(&stack, "contoso", &query).await;
    read_correctly_or_marked(&got, &expected);
    assert!(got.mailboxes.iter().all(|m| m.error.is_none()), "{got:?}");
    assert_eq!(since(&stack, &before).get_schedule, 3);
}

#[tokio::test]
async fn a_storm_over_a_request_split_into_calls_stays_within_the_policy_per_call() {
    let stack = stack().await;
    // 25 mailboxes: two getSchedule calls of at most 20 each.
    let mut list = vec!["room.adams@contoso.com".to_string()];
    list.extend((1..=24).map(|i| format!("visitor{i}@contoso.com")));
    let query = format!("mailboxes={}&{WEEK}", list.join(","));
    for _ in 0..20 {
        stack.emulator.inject(Fault::Throttle { retry_after: Some("0.02".into()) });
    }
    let before = stack.emulator.stats();
    let got = ask(&stack, "contoso", &query).await;
    all_errored(&got, ErrorCode::Throttled);
    let calls = since(&stack, &before);
    assert_eq!(calls.get_schedule, 2 * max_attempts(), "{calls:?}");
    assert_eq!(calls.token, 1, "one sign-in, shared by both calls");
    stack.emulator.clear_faults();
    let got = ask(&stack, "contoso", &query).await;
    assert_eq!(got.mailboxes[0].busy.as_ref().map(Vec::len), Some(3), "{:?}", got.mailboxes[0]);
    assert!(got.mailboxes[1..].iter().all(|m| m.error.as_ref().is_some_and(|e| e.code == ErrorCode::NotFound)));
}

#[tokio::test]
async fn a_retry_after_longer_than_the_host_waits_is_reported_at_once() {
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    let expected = clean(ask(&stack, "contoso", &query).await);
    stack.emulator.inject(Fault::Throttle { retry_after: Some("120".into()) });
    let before = stack.emulator.stats();
    let got = ask(&stack, "contoso", &query).await;
    all_errored(&got, ErrorCode::Throttled);
    assert!(got.mailboxes[0].error.as_ref().unwrap().message.contains("120000 ms"), "{:?}", got.mailboxes[0]);
    assert_eq!(since(&stack, &before).get_schedule, 1, "not slept on, not retried");
    recovers(&stack, "contoso", &query, &expected).await;
}

#[tokio::test]
async fn ews_server_busy_storms_and_429s_without_retry_after_stay_within_the_policy() {
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    let expected = clean(ask(&stack, "onprem", &query).await);
    // ErrorServerBusy with a short BackOffMilliseconds, more than the retries take.
    for _ in 0..6 {
        stack.emulator.inject(Fault::EwsServerBusy { back_off_ms: 50 });
    }
    let before = stack.emulator.stats();
    let got = ask(&stack, "onprem", &query).await;
    all_errored(&got, ErrorCode::Throttled);
    assert_eq!(since(&stack, &before).ews, max_attempts());
    recovers(&stack, "onprem", &query, &expected).await;

    // 429 without Retry-After (an HTML page from a proxy in front of Exchange): backed off.
    for _ in 0..6 {
        stack.emulator.inject(Fault::EwsHtmlPage { status: 429 });
    }
    let before = stack.emulator.stats();
    let got = ask(&stack, "onprem", &query).await;
    all_errored(&got, ErrorCode::Throttled);
    assert_eq!(since(&stack, &before).ews, max_attempts());
    recovers(&stack, "onprem", &query, &expected).await;

    // The back-off Exchange gave in exchangelib's captured fault (297749 ms): reported at once.
    stack.emulator.inject(Fault::EwsServerBusy { back_off_ms: 297_749 });
    let before = stack.emulator.stats();
    let got = ask(&stack, "onprem", &query).await;
    all_errored(&got, ErrorCode::Throttled);
    assert_eq!(since(&stack, &before).ews, 1);
    recovers(&stack, "onprem", &query, &expected).await;
}

#[tokio::test]
async fn graph_500s_are_an_unavailable_error_per_mailbox_and_not_retried() {
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    let expected = clean(ask(&stack, "contoso", &query).await);
    for _ in 0..5 {
        stack.emulator.inject(Fault::InternalError);
    }
    let before = stack.emulator.stats();
    let got = ask(&stack, "contoso", &query).await;
    all_errored(&got, ErrorCode::Unavailable);
    assert!(got.mailboxes[0].error.as_ref().unwrap().message.contains("ErrorInternalServerError"));
    let calls = since(&stack, &before);
    assert!(calls.get_schedule <= max_attempts(), "{calls:?}");
    assert_eq!(calls.get_schedule, 1, "a 500 is reported, not retried");
    recovers(&stack, "contoso", &query, &expected).await;

    // The same from EWS: a 500 that is not a SOAP fault.
    let expected = clean(ask(&stack, "onprem", &query).await);
    stack.emulator.inject(Fault::EwsHtmlPage { status: 500 });
    let before = stack.emulator.stats();
    all_errored(&ask(&stack, "onprem", &query).await, ErrorCode::Unavailable);
    assert_eq!(since(&stack, &before).ews, 1);
    recovers(&stack, "onprem", &query, &expected).await;
}

#[tokio::test]
async fn an_answer_slower_than_the_deadline_is_a_timeout_per_mailbox_not_free() {
    let stack = stack_with_deadline(3).await;
    let query = format!("{PEOPLE}&{WEEK}");
    for tenant in ["contoso", "onprem"] {
        let expected = clean(ask(&stack, tenant, &query).await);
        stack.emulator.inject(if tenant == "contoso" { Fault::Slow { ms: 8000 } } else { Fault::EwsSlow { ms: 8000 } });
        let before = stack.emulator.stats();
        let got = ask(&stack, tenant, &query).await;
        all_errored(&got, ErrorCode::ProviderTimeout);
        let calls = since(&stack, &before);
        assert_eq!(calls.get_schedule + calls.ews, 1, "{tenant}: a timed-out call is not retried: {calls:?}");
        recovers(&stack, tenant, &query, &expected).await;
    }
}

#[tokio::test]
async fn an_answer_slower_than_usual_but_within_the_deadline_is_read_correctly() {
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    for tenant in ["contoso", "onprem"] {
        let expected = clean(ask(&stack, tenant, &query).await);
        stack.emulator.inject(if tenant == "contoso" { Fault::Slow { ms: 300 } } else { Fault::EwsSlow { ms: 300 } });
        let before = stack.emulator.stats();
        let got = ask(&stack, tenant, &query).await;
        read_correctly_or_marked(&got, &expected);
        assert!(got.mailboxes.iter().all(|m| m.error.is_none()), "{got:?}");
        let calls = since(&stack, &before);
        assert_eq!(calls.get_schedule + calls.ews, 1, "{calls:?}");
        assert_eq!(stack.emulator.queued_faults(), 0, "the delay was taken");
    }
}

#[tokio::test]
async fn garbage_json_with_status_200_is_unavailable_not_free() {
    an_unreadable_answer_is_unavailable_after_one_request("contoso", Fault::GarbageJson).await;
}

#[tokio::test]
async fn truncated_ews_xml_is_unavailable_not_free_and_one_request() {
    an_unreadable_answer_is_unavailable_after_one_request("onprem", Fault::EwsTruncated).await;
}

/// `fault` makes the upstream's answer unreadable: every mailbox is unavailable (never free),
/// after one request, and the next request reads correctly again.
async fn an_unreadable_answer_is_unavailable_after_one_request(tenant: &str, fault: Fault) {
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    let expected = clean(ask(&stack, tenant, &query).await);
    stack.emulator.inject(fault);
    let before = stack.emulator.stats();
    let got = ask(&stack, tenant, &query).await;
    all_errored(&got, ErrorCode::Unavailable);
    assert!(got.mailboxes[0].error.as_ref().unwrap().message.contains("unreadable"), "{:?}", got.mailboxes[0]);
    let calls = since(&stack, &before);
    assert_eq!(calls.get_schedule + calls.ews, 1, "{calls:?}");
    recovers(&stack, tenant, &query, &expected).await;
}

#[tokio::test]
async fn html_instead_of_json_or_soap_is_unavailable_not_free() {
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    let graph = clean(ask(&stack, "contoso", &query).await);
    let ews = clean(ask(&stack, "onprem", &query).await);
    // A captive portal's login page (200) and a gateway's error page (502), text/html.
    for (tenant, fault, expected) in [
        ("contoso", Fault::HtmlPage { status: 200 }, &graph),
        ("contoso", Fault::HtmlPage { status: 502 }, &graph),
        ("onprem", Fault::EwsHtmlPage { status: 200 }, &ews),
        ("onprem", Fault::EwsHtmlPage { status: 502 }, &ews),
    ] {
        stack.emulator.inject(fault.clone());
        let before = stack.emulator.stats();
        let got = ask(&stack, tenant, &query).await;
        all_errored(&got, ErrorCode::Unavailable);
        let calls = since(&stack, &before);
        assert_eq!(calls.get_schedule + calls.ews, 1, "{fault:?}: {calls:?}");
        recovers(&stack, tenant, &query, expected).await;
    }
}

#[tokio::test]
async fn the_token_endpoint_down_is_unavailable_not_an_auth_failure_and_opens_no_circuit() {
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    for tenant in ["contoso", "exo"] {
        // Cold: no token yet. A storm of 5xx from /oauth2/v2.0/token.
        for status in [503, 500, 502, 504, 503] {
            stack.emulator.inject(Fault::TokenUnavailable { status });
        }
        for _ in 0..3 {
            let before = stack.emulator.stats();
            let got = ask(&stack, tenant, &query).await;
            all_errored(&got, ErrorCode::Unavailable);
            assert!(got.mailboxes[0].error.as_ref().unwrap().message.contains("token endpoint"), "{got:?}");
            let calls = since(&stack, &before);
            assert!(calls.token >= 1 && calls.token <= max_attempts(), "{tenant}: {calls:?}");
            assert_eq!(calls.get_schedule + calls.ews, 0, "{tenant}: no upstream call without a token: {calls:?}");
        }
        // An outage is not a refused credential: the circuit stays closed, so once the endpoint
        // is back the very next request signs in and is answered.
        stack.emulator.clear_faults();
        let before = stack.emulator.stats();
        let expected = clean(ask(&stack, tenant, &query).await);
        let calls = since(&stack, &before);
        assert_eq!((calls.token, calls.get_schedule + calls.ews), (1, 1), "{tenant}: {calls:?}");
        // With a token in hand, the endpoint being down again does not matter.
        stack.emulator.inject(Fault::TokenUnavailable { status: 503 });
        let got = ask(&stack, tenant, &query).await;
        read_correctly_or_marked(&got, &expected);
        assert!(got.mailboxes.iter().all(|m| m.error.is_none()), "{got:?}");
        assert_eq!(stack.emulator.clear_faults(), 1, "{tenant}: the cached token was used");
    }
    // The Graph answer and the EWS one agree once both are back.
    let graph = ask(&stack, "contoso", &query).await;
    let exo = ask(&stack, "exo", &query).await;
    for (g, e) in graph.mailboxes.iter().zip(&exo.mailboxes) {
        assert_eq!(g.busy, e.busy, "{}", g.mailbox);
    }
}

#[tokio::test]
async fn a_connection_reset_mid_body_is_unavailable_not_free() {
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    for (tenant, fault) in [("contoso", Fault::ConnectionReset), ("onprem", Fault::EwsConnectionReset)] {
        let expected = clean(ask(&stack, tenant, &query).await);
        stack.emulator.inject(fault.clone());
        let before = stack.emulator.stats();
        let got = ask(&stack, tenant, &query).await;
        all_errored(&got, ErrorCode::Unavailable);
        let calls = since(&stack, &before);
        assert_eq!(calls.get_schedule + calls.ews, 1, "{fault:?}: {calls:?}");
        assert_eq!(stack.emulator.queued_faults(), 0);
        recovers(&stack, tenant, &query, &expected).await;
    }
}

#[tokio::test]
async fn the_emulator_resets_the_connection_after_part_of_the_body() {
    // What the reset fault does on the wire: the status and a Content-Length arrive, the body
    // does not complete.
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let form = [
        ("client_id", demo::CLIENT_ID),
        ("client_secret", demo::CLIENT_SECRET),
        ("scope", "https://graph.microsoft.com/.default"),
        ("grant_type", "client_credentials"),
    ];
    let token_url = format!("{}/{}/oauth2/v2.0/token", emulator.base_url, demo::TENANT_ID);
    let token = freebusy_tests::post_form(&token_url, &form).await["access_token"].as_str().unwrap().to_string();
    let body = r#"{"schedules":["room.adams@contoso.com"],"startTime":{"dateTime":"2026-03-23T00:00:00","timeZone":"UTC"},"endTime":{"dateTime":"2026-03-24T00:00:00","timeZone":"UTC"}}"#;
    let post = || {
        reqwest::Client::new()
            .post(format!("{}/v1.0/users/room.adams@contoso.com/calendar/getSchedule", emulator.base_url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let whole = post().await.unwrap().bytes().await.unwrap();
    emulator.inject(Fault::ConnectionReset);
    let resp = post().await.expect("the status line and headers arrive");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(whole.len() as u64));
    assert!(resp.bytes().await.is_err(), "the body is cut off");
    assert_eq!(emulator.stats().get_schedule_requests, 2, "counted once each");
}

#[tokio::test]
async fn with_the_cache_on_a_failing_upstream_is_answered_stale_and_marked_and_unread_mailboxes_are_errors() {
    // cache.rs pins stale-if-error for throttling; here the other failures an old answer may
    // stand in for: unreadable answers, resets and timeouts.
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let text = config_text_with_cache(
        &graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, demo::CLIENT_SECRET),
        "ttl_secs = 1\nstale_if_error_secs = 600",
    );
    let runtime = RuntimeSettings { call_timeout: Duration::from_secs(3), ..RuntimeSettings::default() };
    let stack = stack_with_config(emulator, runtime, &text).await;
    let cached = "mailboxes=room.adams@contoso.com,adele.vance@contoso.com";
    let fresh = clean(ask(&stack, "contoso", &format!("{cached}&{WEEK}")).await);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Megan was never read: nothing to stand in for her.
    let query = format!("{cached},megan.bowen@contoso.com&{WEEK}");
    for (fault, code) in [
        (Fault::GarbageJson, ErrorCode::Unavailable),
        (Fault::ConnectionReset, ErrorCode::Unavailable),
        (Fault::InternalError, ErrorCode::Unavailable),
        (Fault::HtmlPage { status: 404 }, ErrorCode::Unavailable),
        (Fault::Slow { ms: 8000 }, ErrorCode::ProviderTimeout),
    ] {
        stack.emulator.inject(fault.clone());
        let before = stack.emulator.stats();
        let got = ask(&stack, "contoso", &query).await;
        for (g, f) in got.mailboxes[..2].iter().zip(&fresh.mailboxes) {
            assert_eq!(g.busy, f.busy, "{fault:?}: the last good answer for {}", g.mailbox);
            assert_eq!(g.stale.as_ref().map(|e| e.code), Some(code), "{fault:?}: {g:?}");
            assert!(g.error.is_none() && g.cache_age_seconds.is_some_and(|a| a >= 1), "{fault:?}: {g:?}");
        }
        let megan = &got.mailboxes[2];
        assert_eq!(megan.error.as_ref().map(|e| e.code), Some(code), "{fault:?}: {megan:?}");
        assert!(megan.busy.is_none() && megan.stale.is_none(), "{fault:?}: {megan:?}");
        assert_eq!(since(&stack, &before).get_schedule, 1, "{fault:?}");
    }
    // Back: fresh again, for all three.
    stack.emulator.clear_faults();
    let got = ask(&stack, "contoso", &query).await;
    assert!(got.mailboxes.iter().all(|m| m.stale.is_none() && m.error.is_none() && m.cache_age_seconds.is_none()));
    for (g, f) in got.mailboxes.iter().zip(&fresh.mailboxes) {
        assert_eq!(g.busy, f.busy);
    }
}

#[tokio::test]
async fn a_fault_in_one_part_of_a_split_window_fails_the_mailbox_never_half_of_it() {
    let stack = stack().await;
    // 90 days: the host makes two Graph calls (62 days at most each); 59 days: two EWS calls (42
    // days at most each, the provider's max_window_days for servers on premises).
    let graph_query = format!("{PEOPLE}&start=2026-01-01T00:00:00Z&end=2026-04-01T00:00:00Z");
    let ews_query = format!("{PEOPLE}&start=2026-02-01T00:00:00Z&end=2026-04-01T00:00:00Z");
    let graph = clean(ask(&stack, "contoso", &graph_query).await);
    let ews = clean(ask(&stack, "onprem", &ews_query).await);
    // A zero delay answers one part correctly; the other part is unreadable.
    stack.emulator.inject(Fault::Slow { ms: 0 });
    stack.emulator.inject(Fault::GarbageJson);
    let before = stack.emulator.stats();
    all_errored(&ask(&stack, "contoso", &graph_query).await, ErrorCode::Unavailable);
    assert_eq!(since(&stack, &before).get_schedule, 2);
    recovers_split(&stack, "contoso", &graph_query, &graph).await;

    stack.emulator.inject(Fault::EwsSlow { ms: 0 });
    stack.emulator.inject(Fault::EwsTruncated);
    let before = stack.emulator.stats();
    all_errored(&ask(&stack, "onprem", &ews_query).await, ErrorCode::Unavailable);
    assert_eq!(since(&stack, &before).ews, 2);
    recovers_split(&stack, "onprem", &ews_query, &ews).await;

    // The second part throttled once: the host asks that part again, and the answer is whole
    // and right.
    stack.emulator.inject(Fault::EwsSlow { ms: 0 });
    stack.emulator.inject(Fault::EwsServerBusy { back_off_ms: 50 });
    let before = stack.emulator.stats();
    let got = ask(&stack, "onprem", &ews_query).await;
    read_correctly_or_marked(&got, &ews);
    assert!(got.mailboxes.iter().all(|m| m.error.is_none()), "{got:?}");
    assert_eq!(since(&stack, &before).ews, 3, "two parts, the throttled one twice");
}

/// [`recovers`] for a request the upstream answers in two requests.
async fn recovers_split(stack: &Stack, tenant: &str, query: &str, expected: &FreeBusyResponse) {
    assert_eq!(stack.emulator.clear_faults(), 0, "both faults were taken");
    let before = stack.emulator.stats();
    let again = ask(stack, tenant, query).await;
    read_correctly_or_marked(&again, expected);
    assert!(again.mailboxes.iter().all(|m| m.error.is_none()), "{again:?}");
    let calls = since(stack, &before);
    assert_eq!(calls.get_schedule + calls.ews, 2, "{tenant}: {calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_in_a_storm_each_stay_within_the_policy() {
    let stack = stack().await;
    for _ in 0..100 {
        stack.emulator.inject(Fault::Throttle { retry_after: Some("0.02".into()) });
    }
    let people = ["room.adams", "adele.vance", "megan.bowen", "lidia.holloway", "pradeep.gupta"];
    let before = stack.emulator.stats();
    let clients: Vec<_> = people
        .iter()
        .map(|p| {
            let url = format!("{}/v1/tenants/contoso/freebusy?mailboxes={p}@contoso.com&{WEEK}", stack.api);
            tokio::spawn(async move { get(&url).await })
        })
        .collect();
    for client in clients {
        let (status, _, body) = client.await.unwrap();
        assert_eq!(status, 200, "{body}");
        all_errored(&serde_json::from_str(&body).unwrap(), ErrorCode::Throttled);
    }
    let calls = since(&stack, &before);
    assert_eq!(calls.get_schedule, people.len() as u64 * max_attempts(), "{calls:?}");
    assert_eq!(stack.emulator.queued_faults(), 100 - people.len() * max_attempts() as usize);
}

#[tokio::test]
async fn a_proxys_404_page_is_an_outage_not_a_missing_mailbox() {
    // A gateway's 404 page (text/html, no Graph error body) says nothing about the mailbox in the
    // URL: it must not be taken for Graph's "no such user", which would report existing mailboxes
    // as not found and, with the cache on, hide their last good answer.
    let stack = stack().await;
    let query = format!("{PEOPLE}&{WEEK}");
    let expected = clean(ask(&stack, "contoso", &query).await);
    for _ in 0..10 {
        stack.emulator.inject(Fault::HtmlPage { status: 404 });
    }
    let before = stack.emulator.stats();
    let got = ask(&stack, "contoso", &query).await;
    all_errored(&got, ErrorCode::Unavailable);
    let calls = since(&stack, &before);
    assert_eq!(calls.get_schedule, 1, "{calls:?}");
    recovers(&stack, "contoso", &query, &expected).await;
}
