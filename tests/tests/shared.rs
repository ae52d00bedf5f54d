//! Several `freebusy serve` processes sharing one real `redis-server` (`[shared] url`), against
//! the emulator: an answer fetched by one is served by the others; identical requests spread over
//! instances make one upstream call; a fetch lease whose holder was killed expires; calls per
//! mailbox stay within Graph's limit of four across instances; one access token for all; a wrong
//! secret makes one failed sign-in for all; and with Redis gone every instance keeps serving from
//! its own memory, then shares again when Redis is back.

use std::time::{Duration, Instant};

use freebusy_emulator::{demo, Emulator, Options};
use freebusy_tests::redis::{Instance, Redis};
use freebusy_tests::{get, graph_tenant, test_dir};
use serde_json::Value;

const WEEK: &str = "start=2026-03-23T00:00:00Z&end=2026-03-30T00:00:00Z";

async fn emulator(delay_ms: u64) -> Emulator {
    let options = Options { get_schedule_delay_ms: delay_ms, ..Options::default() };
    Emulator::start(([127, 0, 0, 1], 0).into(), options).await.unwrap()
}

fn shared(redis: &Redis, extra: &str) -> String {
    format!("[shared]\nurl = \"{}\"\nretry_secs = 1\n{extra}\n", redis.url())
}

fn contoso(emulator: &Emulator) -> String {
    graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, demo::CLIENT_SECRET)
}

async fn two(name: &str, extra: &str, tenants: &str) -> (Instance, Instance) {
    let dir = test_dir(name);
    let a = Instance::start(&dir, "a", extra, tenants).await;
    let b = Instance::start(&dir, "b", extra, tenants).await;
    (a, b)
}

async fn busy(api: &str, query: &str) -> Value {
    let (status, _, body) = get(&format!("{api}/v1/freebusy?{query}")).await;
    assert_eq!(status, 200, "{body}");
    let mut answer: Value = serde_json::from_str(&body).unwrap();
    for m in answer["mailboxes"].as_array_mut().unwrap() {
        m.as_object_mut().unwrap().remove("cacheAgeSeconds");
    }
    answer
}

#[tokio::test]
async fn an_answer_fetched_by_one_instance_is_served_by_another_without_an_upstream_call() {
    let emulator = emulator(0).await;
    let redis = Redis::start("shared-cache-redis");
    let (a, b) =
        two("shared-cache", &format!("{}[cache]\nttl_secs = 600\n", shared(&redis, "")), &contoso(&emulator)).await;
    let q = format!("mailboxes=adele.vance@contoso.com,room.adams@contoso.com&{WEEK}");
    let from_a = busy(&a.api, &q).await;
    let calls = emulator.stats().get_schedule_requests;
    assert!(calls >= 1);
    let from_b = busy(&b.api, &q).await;
    assert_eq!(from_a, from_b);
    assert_eq!(emulator.stats().get_schedule_requests, calls, "B answered from the shared cache");
    // A window inside the cached days is a hit too.
    busy(&b.api, "mailboxes=adele.vance@contoso.com&start=2026-03-24T09:00:00Z&end=2026-03-24T17:00:00Z").await;
    assert_eq!(emulator.stats().get_schedule_requests, calls);
    // One token for both: B asks for another mailbox, with A's token.
    busy(&b.api, &format!("mailboxes=megan.bowen@contoso.com&{WEEK}")).await;
    assert_eq!(emulator.stats().token_requests, 1, "one access token for every instance");
}

#[tokio::test]
async fn a_thousand_identical_requests_over_two_instances_make_one_upstream_call() {
    let emulator = emulator(400).await;
    let redis = Redis::start("shared-flight-redis");
    let (a, b) = two("shared-flight", &shared(&redis, ""), &contoso(&emulator)).await;
    let q = format!("mailboxes=adele.vance@contoso.com,megan.bowen@contoso.com&{WEEK}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(600).build().unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let url = format!("{}/v1/freebusy?{q}", if i % 2 == 0 { &a.api } else { &b.api });
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let resp = client.get(url).send().await.expect("request");
            (resp.status().as_u16(), resp.text().await.expect("body"))
        }));
    }
    let mut answers = std::collections::HashSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        let mut v: Value = serde_json::from_str(&body).unwrap();
        for m in v["mailboxes"].as_array_mut().unwrap() {
            m.as_object_mut().unwrap().remove("cacheAgeSeconds");
        }
        answers.insert(v.to_string());
    }
    let stats = emulator.stats();
    eprintln!(
        "1000 requests over two instances: {} getSchedule calls, {:?}",
        stats.get_schedule_requests,
        started.elapsed()
    );
    assert_eq!(answers.len(), 1, "every answer the same");
    assert_eq!(stats.get_schedule_requests, 1, "one upstream call for all 1000");
    assert_eq!(stats.token_requests, 1);
}

#[tokio::test]
async fn a_lease_whose_holder_was_killed_expires_and_another_instance_fetches() {
    let emulator = emulator(3000).await;
    let redis = Redis::start("shared-lease-redis");
    let (mut a, b) = two("shared-lease", &shared(&redis, "lease_secs = 2"), &contoso(&emulator)).await;
    let q = format!("mailboxes=pradeep.gupta@contoso.com&{WEEK}");
    let url_a = format!("{}/v1/freebusy?{q}", a.api);
    let pending = tokio::spawn(async move { reqwest::get(url_a).await });
    // A has taken the lease and is waiting for the slow upstream: kill it there.
    let deadline = Instant::now() + Duration::from_secs(10);
    while emulator.stats().get_schedule_requests == 0 {
        assert!(Instant::now() < deadline, "A never called the upstream");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.kill();
    assert!(pending.await.unwrap().is_err(), "A's client saw its connection go");
    let started = Instant::now();
    let answer = busy(&b.api, &q).await;
    let waited = started.elapsed();
    assert!(answer["mailboxes"][0]["busy"].is_array(), "{answer}");
    assert_eq!(emulator.stats().get_schedule_requests, 2, "B fetched once the dead holder's lease expired");
    // At most the lease (2 s) plus the upstream's 3 s, and some slack for a loaded machine.
    assert!(waited < Duration::from_secs(9), "B waited {waited:?}");
}

#[tokio::test]
async fn calls_for_one_mailbox_stay_within_four_across_instances() {
    let emulator = emulator(150).await;
    let redis = Redis::start("shared-limit-redis");
    // Cache off: every request is its own upstream call. Each instance would allow 16 calls.
    let tenants =
        contoso(&emulator).replace("provider = \"graph\"\n", "provider = \"graph\"\nmax_concurrent_calls = 16\n");
    let (a, b) = two("shared-limit", &format!("{}[cache]\nttl_secs = 0\n", shared(&redis, "")), &tenants).await;
    let mut tasks = Vec::new();
    for day in 0..40 {
        // Forty different days of one mailbox: nothing to share, forty calls.
        let start = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + chrono::Duration::days(day);
        let url = format!(
            "{}/v1/freebusy?mailboxes=adele.vance@contoso.com&start={start}T00:00:00Z&end={start}T23:00:00Z",
            if day % 2 == 0 { &a.api } else { &b.api }
        );
        tasks.push(tokio::spawn(async move { get(&url).await }));
    }
    for t in tasks {
        let (status, _, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains("\"error\""), "{body}");
    }
    let stats = emulator.stats();
    eprintln!(
        "40 calls for one mailbox over two instances: at most {} at once, {} throttled",
        stats.max_mailbox_concurrency, stats.mailbox_concurrency_throttles
    );
    assert_eq!(stats.get_schedule_requests, 40);
    assert_eq!(stats.mailbox_concurrency_throttles, 0, "no MailboxConcurrency 429");
    assert_eq!(stats.max_mailbox_concurrency, 4, "up to the limit, never beyond");
}

#[tokio::test]
async fn a_wrong_secret_makes_one_failed_sign_in_across_instances() {
    let emulator = emulator(0).await;
    let redis = Redis::start("shared-circuit-redis");
    let tenants = graph_tenant("contoso", &emulator.base_url, demo::CLIENT_ID, "not-the-secret");
    let (a, b) = two("shared-circuit", &format!("{}[cache]\nttl_secs = 0\n", shared(&redis, "")), &tenants).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let url = format!(
            "{}/v1/freebusy?mailboxes=adele.vance@contoso.com&{WEEK}",
            if i % 2 == 0 { &a.api } else { &b.api }
        );
        tasks.push(tokio::spawn(async move { get(&url).await }));
    }
    for t in tasks {
        let (status, _, body) = t.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("auth-failed"), "{body}");
        assert!(!body.contains("not-the-secret"), "{body}");
    }
    assert_eq!(emulator.stats().token_requests, 1, "one failed sign-in for both instances");
}

#[tokio::test]
async fn with_redis_gone_every_instance_keeps_serving_and_shares_again_when_it_is_back() {
    let emulator = emulator(0).await;
    let mut redis = Redis::start("shared-down-redis");
    let (a, b) =
        two("shared-down", &format!("{}[cache]\nttl_secs = 600\n", shared(&redis, "")), &contoso(&emulator)).await;
    let ready = |api: String| async move {
        let (_, _, body) = get(&format!("{api}/readyz")).await;
        serde_json::from_str::<Value>(&body).unwrap()
    };
    assert_eq!(ready(a.api.clone()).await["shared"], "up");

    redis.stop();
    for api in [&a.api, &b.api] {
        // Served, from the upstream and this instance's memory, and again from that memory.
        let q = format!("mailboxes=megan.bowen@contoso.com&{WEEK}");
        busy(api, &q).await;
        busy(api, &q).await;
        let r = ready(api.clone()).await;
        assert_eq!(r["ready"], true, "{r}");
        assert_eq!(r["shared"], "down", "{r}");
        let (_, _, metrics) = get(&format!("{api}/metrics")).await;
        assert!(metrics.contains("freebusy_shared_store_up 0"), "{metrics}");
    }
    // Each instance asked the upstream once for itself, then kept the answer.
    assert_eq!(emulator.stats().get_schedule_requests, 2);
    let log = std::fs::read_to_string(&a.log).unwrap();
    assert_eq!(log.matches("the shared store failed").count(), 1, "logged once: {log}");

    redis.restart();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready(a.api.clone()).await["shared"] != "up" || ready(b.api.clone()).await["shared"] != "up" {
        assert!(Instant::now() < deadline, "the instances did not go back to Redis");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let calls = emulator.stats().get_schedule_requests;
    let q = format!("mailboxes=diego.siciliani@contoso.com&{WEEK}");
    busy(&a.api, &q).await;
    busy(&b.api, &q).await;
    assert_eq!(emulator.stats().get_schedule_requests, calls + 1, "shared again: B served what A fetched");
}
