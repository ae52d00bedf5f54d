//! The host's free/busy cache: polling clients share one upstream call per TTL, identical
//! concurrent requests share one fetch, an upstream failure is answered stale (and says so),
//! and details are read fresh unless configured otherwise.

use std::time::Duration;

use freebusy_core::api::FreeBusyResponse;
use freebusy_emulator::{demo, Emulator, Fault, Options};
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{config_text_with_cache, demo_stack, get, graph_tenant, stack_with_config, Stack};

async fn cached_stack(cache: &str) -> Stack {
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let tenants = graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, demo::CLIENT_SECRET);
    stack_with_config(emulator, RuntimeSettings::default(), &config_text_with_cache(&tenants, cache)).await
}

async fn ask(api: &str, query: &str) -> FreeBusyResponse {
    let (status, _, body) = get(&format!("{api}/v1/freebusy?{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn calls(stack: &Stack) -> u64 {
    stack.emulator.stats().get_schedule_requests
}

const ROOM: &str = "mailboxes=room.adams@contoso.com,adele.vance@contoso.com";

#[tokio::test]
async fn polling_clients_share_one_upstream_call_per_ttl_even_as_their_windows_move() {
    let stack = cached_stack("ttl_secs = 60").await;
    let first = ask(&stack.api, &format!("{ROOM}&start=2026-03-23T06:00:00Z&end=2026-03-23T20:00:00Z")).await;
    assert_eq!(calls(&stack), 1);
    assert!(first.mailboxes.iter().all(|m| m.cache_age_seconds.is_none()), "a fresh answer has no cache age");
    // A panel polling a minute later asks from "now": same day, so no upstream call.
    let window = "start=2026-03-23T08:01:00Z&end=2026-03-23T20:00:00Z&interval=60";
    let second = ask(&stack.api, &format!("{ROOM}&{window}")).await;
    assert_eq!(calls(&stack), 1, "served from the cache");
    assert!(second.mailboxes.iter().all(|m| m.cache_age_seconds.is_some() && m.stale.is_none()));
    // The cached answer is the one the upstream gives for that window.
    let uncached = demo_stack().await;
    let direct = ask(&uncached.api, &format!("{ROOM}&{window}")).await;
    for (c, d) in second.mailboxes.iter().zip(&direct.mailboxes) {
        assert_eq!(
            (&c.busy, &c.availability_view, &c.working_hours),
            (&d.busy, &d.availability_view, &d.working_hours)
        );
    }
    // A window reaching into the next day needs that day: one more call.
    ask(&stack.api, &format!("{ROOM}&start=2026-03-23T08:00:00Z&end=2026-03-24T08:00:00Z")).await;
    assert_eq!(calls(&stack), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_concurrent_requests_make_one_upstream_call() {
    let stack = cached_stack("ttl_secs = 60").await;
    let query = format!("{ROOM}&start=2026-03-23T00:00:00Z&end=2026-03-30T00:00:00Z");
    let clients: Vec<_> = (0..12)
        .map(|_| {
            let (api, query) = (stack.api.clone(), query.clone());
            tokio::spawn(async move { ask(&api, &query).await })
        })
        .collect();
    let mut answers = Vec::new();
    for client in clients {
        answers.push(client.await.unwrap());
    }
    assert_eq!(calls(&stack), 1, "twelve clients, one fetch");
    let busy = |a: &FreeBusyResponse| a.mailboxes.iter().map(|m| m.busy.clone()).collect::<Vec<_>>();
    assert!(answers.iter().all(|a| busy(a) == busy(&answers[0]) && a.mailboxes.iter().all(|m| m.busy.is_some())));
    assert_eq!(stack.emulator.stats().token_requests, 1);
}

#[tokio::test]
async fn after_the_ttl_the_upstream_is_asked_again_and_its_failure_is_answered_stale() {
    let stack = cached_stack("ttl_secs = 1\nstale_if_error_secs = 600").await;
    let query = format!("{ROOM}&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z");
    let fresh = ask(&stack.api, &query).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ask(&stack.api, &query).await;
    assert_eq!(calls(&stack), 2, "expired, so fetched again");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The upstream is down for the call and both retries.
    for _ in 0..3 {
        stack.emulator.inject(Fault::Unavailable { retry_after: Some("0".into()) });
    }
    let stale = ask(&stack.api, &query).await;
    for (s, f) in stale.mailboxes.iter().zip(&fresh.mailboxes) {
        assert_eq!(s.busy, f.busy, "the last good answer");
        assert_eq!(s.stale.as_ref().map(|e| e.code.as_str()), Some("throttled"), "{s:?}");
        assert!(s.cache_age_seconds.is_some_and(|a| a >= 1), "{s:?}");
        assert!(s.error.is_none());
    }
}

#[tokio::test]
async fn an_unknown_mailbox_is_never_hidden_by_the_cache() {
    let stack = cached_stack("ttl_secs = 60").await;
    let query = "mailboxes=nobody@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z";
    for _ in 0..2 {
        let r = ask(&stack.api, query).await;
        assert_eq!(r.mailboxes[0].error.as_ref().map(|e| e.code.as_str()), Some("not-found"));
    }
    assert_eq!(calls(&stack), 2, "errors are not cached");
}

#[tokio::test]
async fn details_and_upstream_views_are_read_fresh_unless_configured() {
    let stack = cached_stack("ttl_secs = 60").await;
    let window = "start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z";
    for query in [format!("{ROOM}&{window}&details=true"), format!("{ROOM}&{window}&interval=30&upstream=true")] {
        let before = calls(&stack);
        ask(&stack.api, &query).await;
        ask(&stack.api, &query).await;
        assert_eq!(calls(&stack) - before, 2, "{query}");
    }
    let stack = cached_stack("ttl_secs = 60\ndetails = true").await;
    let query = format!("{ROOM}&{window}&details=true");
    ask(&stack.api, &query).await;
    let again = ask(&stack.api, &query).await;
    assert_eq!(calls(&stack), 1);
    let adele = again.mailboxes[1].events.as_ref().unwrap();
    assert!(adele.iter().any(|e| e.subject.as_deref() == Some("Daily stand-up")), "details survive the cache");
}

#[tokio::test]
async fn metrics_count_calls_cache_results_and_errors_without_naming_anyone() {
    let stack = cached_stack("ttl_secs = 60").await;
    let window = "start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z";
    ask(&stack.api, &format!("{ROOM}&{window}")).await;
    ask(&stack.api, &format!("{ROOM}&{window}")).await;
    ask(&stack.api, &format!("mailboxes=nobody@contoso.com&{window}")).await;
    let (status, _, _) = get(&format!("{}/v1/freebusy?mailboxes=x", stack.api)).await;
    assert_eq!(status, 400);
    let (status, ctype, text) = get(&format!("{}/metrics", stack.api)).await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    for line in [
        r#"freebusy_cache_lookups_total{tenant="contoso",result="miss"} 3"#,
        r#"freebusy_cache_lookups_total{tenant="contoso",result="hit"} 2"#,
        r#"freebusy_provider_calls_total{tenant="contoso",operation="get-schedules",outcome="ok"} 2"#,
        r#"freebusy_mailbox_errors_total{tenant="contoso",code="not-found"} 1"#,
        r#"freebusy_http_requests_total{route="/v1/freebusy",status="200"} 3"#,
        r#"freebusy_http_requests_total{route="/v1/freebusy",status="400"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    assert!(text.contains("freebusy_provider_call_seconds_bucket"), "{text}");
    // Labels carry tenants, routes and codes: no address, no secret.
    assert!(!text.contains('@') && !text.contains(demo::CLIENT_SECRET), "{text}");
}

#[tokio::test]
async fn a_fetch_completes_for_the_cache_even_when_its_client_hangs_up() {
    let stack = cached_stack("ttl_secs = 60").await;
    let query = format!("{ROOM}&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z");
    // The upstream throttles for a second; the client gives up after 200 ms.
    stack.emulator.inject(Fault::Throttle { retry_after: Some("1".into()) });
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    assert!(impatient.get(format!("{}/v1/freebusy?{query}", stack.api)).send().await.is_err());
    // The throttled call and its retry run to the end without anyone waiting for them.
    for _ in 0..100 {
        if calls(&stack) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(calls(&stack), 2, "the retry happened");
    tokio::time::sleep(Duration::from_millis(300)).await; // the answer is stored right after
    let later = ask(&stack.api, &query).await;
    assert_eq!(calls(&stack), 2, "and their answer was cached");
    assert!(later.mailboxes.iter().all(|m| m.cache_age_seconds.is_some() && m.busy.is_some()));
}

#[tokio::test]
async fn a_kept_rendered_answer_still_says_its_true_cache_age() {
    let stack = cached_stack("ttl_secs = 60").await;
    let query = format!("{ROOM}&start=2026-03-23T00:00:00Z&end=2026-03-30T00:00:00Z&interval=60");
    let fresh = ask(&stack.api, &query).await;
    let (_, _, first) = get(&format!("{}/v1/freebusy?{query}", stack.api)).await;
    let parsed: FreeBusyResponse = serde_json::from_str(&first).unwrap();
    // Two seconds on, the age has moved: the kept answer was not frozen.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let later = ask(&stack.api, &query).await;
    for ((l, p), f) in later.mailboxes.iter().zip(&parsed.mailboxes).zip(&fresh.mailboxes) {
        let (then, now) = (p.cache_age_seconds.unwrap(), l.cache_age_seconds.unwrap());
        assert!(now >= then + 2, "cache age {then} then {now} two seconds later");
        assert_eq!((&l.busy, &l.availability_view), (&f.busy, &f.availability_view), "the same answer");
    }
    assert_eq!(calls(&stack), 1);
}

#[tokio::test]
async fn a_kept_rendered_answer_ends_with_the_ttl_of_its_entries() {
    let stack = cached_stack("ttl_secs = 1\nstale_if_error_secs = 600").await;
    let query = format!("{ROOM}&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z");
    ask(&stack.api, &query).await;
    for _ in 0..20 {
        ask(&stack.api, &query).await;
    }
    assert_eq!(calls(&stack), 1, "polls within the TTL are answered from the cache");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = ask(&stack.api, &query).await;
    assert_eq!(calls(&stack), 2, "past the TTL the upstream is asked again, not a kept rendering served");
    assert!(after.mailboxes.iter().all(|m| m.cache_age_seconds.is_none()), "a fresh answer has no cache age");
}

#[tokio::test]
async fn a_stale_answer_is_never_kept_rendered_past_the_upstreams_return() {
    let stack = cached_stack("ttl_secs = 1\nstale_if_error_secs = 600").await;
    let query = format!("{ROOM}&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z");
    ask(&stack.api, &query).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        stack.emulator.inject(Fault::Unavailable { retry_after: Some("0".into()) });
    }
    let stale = ask(&stack.api, &query).await;
    assert!(stale.mailboxes.iter().all(|m| m.stale.is_some()));
    // The upstream is back: the very next request fetches and is fresh, not the stale rendering.
    let back = ask(&stack.api, &query).await;
    assert!(back.mailboxes.iter().all(|m| m.stale.is_none() && m.busy.is_some()), "{back:?}");
    assert_eq!(calls(&stack), 2 + 3);
}
