//! Regression tests named after the behaviour they pin: what users of other free/busy tools trip over most
//! (e.g. calcom/cal.com#6796 and #28847, nextcloud/server#21341, microsoftgraph/microsoft-graph-docs#11649,
//! Ericsson/exchangecalendar#381, ecederstrand/exchangelib#490).

use std::path::PathBuf;

use freebusy_core::api::FreeBusyResponse;
use freebusy_emulator::{demo, Fault};
use freebusy_host::config::LoadedConfig;
use freebusy_host::runtime::{Runtime, RuntimeSettings};
use freebusy_host::service::Service;
use freebusy_tests::{config_text, demo_stack, get, graph_tenant, start};

async fn ask(api: &str, query: &str) -> FreeBusyResponse {
    let (status, _, body) = get(&format!("{api}/v1/freebusy?{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn spans(r: &FreeBusyResponse, i: usize) -> Vec<(String, String, String)> {
    r.mailboxes[i]
        .busy
        .as_ref()
        .unwrap()
        .iter()
        .map(|b| (b.start.clone(), b.end.clone(), b.status.as_str().to_string()))
        .collect()
}

#[tokio::test]
async fn a_weekly_series_keeps_its_local_time_across_a_dst_change() {
    let stack = demo_stack().await;
    // Room Adams' Monday all-hands is 10:00 Berlin time: 09:00Z in winter, 08:00Z in summer.
    let r =
        ask(&stack.api, "mailboxes=room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z").await;
    assert_eq!(spans(&r, 0)[0].0, "2026-03-23T09:00:00Z");
    let r =
        ask(&stack.api, "mailboxes=room.adams@contoso.com&start=2026-03-30T00:00:00Z&end=2026-03-31T00:00:00Z").await;
    assert_eq!(spans(&r, 0)[0].0, "2026-03-30T08:00:00Z");
}

#[tokio::test]
async fn an_all_day_event_in_a_zone_far_from_utc_covers_that_zones_day() {
    let stack = demo_stack().await;
    // Megan (New York, UTC-4 in late March): her all-day vacation on 24-25 March runs from local
    // midnight to local midnight, not UTC midnight (nextcloud/server#21341, thunderbird/appointment#580).
    let r =
        ask(&stack.api, "mailboxes=megan.bowen@contoso.com&start=2026-03-24T00:00:00Z&end=2026-03-27T00:00:00Z").await;
    assert!(spans(&r, 0).contains(&(
        "2026-03-24T04:00:00Z".into(),
        "2026-03-26T04:00:00Z".into(),
        "out-of-office".into()
    )));
}

#[tokio::test]
async fn one_hundred_and_one_mailboxes_on_a_cold_start_are_split_and_all_answered() {
    let stack = demo_stack().await;
    // Graph rejects the 101st address (ErrorMailboxDataArrayTooBig); the host never sends it.
    let mut list = vec!["room.adams@contoso.com".to_string()];
    list.extend((1..=100).map(|i| format!("visitor{i}@contoso.com")));
    let r =
        ask(&stack.api, &format!("mailboxes={}&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z", list.join(",")))
            .await;
    assert_eq!(r.mailboxes.len(), 101);
    assert_eq!(spans(&r, 0).len(), 1);
    assert!(r.mailboxes[1..]
        .iter()
        .all(|m| m.error.as_ref().is_some_and(|e| e.code == freebusy_core::ErrorCode::NotFound)));
    // ceil(101 / 20) calls, each within Graph's limit; on a cold start the first call runs
    // alone, so the others reuse its token and the mailbox it anchored on.
    assert_eq!(stack.emulator.stats().get_schedule_requests, 6);
    assert_eq!(stack.emulator.stats().token_requests, 1);
}

#[tokio::test]
async fn a_ninety_day_window_is_split_at_62_days_without_losing_or_doubling_items() {
    let stack = demo_stack().await;
    let r =
        ask(&stack.api, "mailboxes=adele.vance@contoso.com&start=2026-01-01T00:00:00Z&end=2026-04-01T00:00:00Z").await;
    assert_eq!(stack.emulator.stats().get_schedule_requests, 2);
    let busy = spans(&r, 0);
    // Weekday stand-ups from 1 Jan to 31 Mar 2026: 64 weekdays, minus the cancelled 26 March,
    // minus 25 March, merged into the all-day offsite; plus the offsite itself, the tentative
    // review of 27 March and the dentist on 30 March = 65 stretches.
    assert_eq!(busy.len(), 65, "{busy:?}");
    let starts: std::collections::HashSet<&String> = busy.iter().map(|b| &b.0).collect();
    assert_eq!(starts.len(), busy.len(), "no item twice");
}

#[tokio::test]
async fn rooms_show_the_organizer_as_the_subject() {
    let stack = demo_stack().await;
    let r = ask(
        &stack.api,
        "mailboxes=room.adams@contoso.com&start=2026-03-26T00:00:00Z&end=2026-03-27T00:00:00Z&details=true",
    )
    .await;
    let events = r.mailboxes[0].events.as_ref().unwrap();
    // The workshop's subject is replaced by its organizer (AddOrganizerToSubject, graph-docs#11649).
    assert_eq!(events[0].subject.as_deref(), Some("Johanna Lorenz"));
}

#[tokio::test]
async fn throttling_without_retry_after_backs_off_and_503_504_count_as_throttling() {
    let stack = demo_stack().await;
    stack.emulator.inject(Fault::Throttle { retry_after: None });
    stack.emulator.inject(Fault::Unavailable { retry_after: Some("0.1".into()) });
    let started = std::time::Instant::now();
    let r =
        ask(&stack.api, "mailboxes=room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z").await;
    // 500 ms default back-off, then 100 ms as the 503 said, then success.
    assert!(started.elapsed() >= std::time::Duration::from_millis(600), "{:?}", started.elapsed());
    assert_eq!(spans(&r, 0).len(), 1);
    assert_eq!(stack.emulator.stats().get_schedule_requests, 3);
}

#[tokio::test]
async fn private_meetings_never_leak_their_subject() {
    let stack = demo_stack().await;
    // Lidia's weekly 1:1 is private (exchangecalendar#381): busy, without subject or location.
    let r = ask(
        &stack.api,
        "mailboxes=lidia.holloway@contoso.com&start=2026-03-26T00:00:00Z&end=2026-03-27T00:00:00Z&details=true",
    )
    .await;
    let events = r.mailboxes[0].events.as_ref().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].subject.as_deref(), events[0].location.as_deref()), (None, None));
    assert_eq!(events[0].status.as_str(), "busy");
}

#[tokio::test]
async fn graph_can_be_raised_to_the_hundred_mailboxes_per_call_the_service_accepts() {
    let with_limit = |limit: u32| {
        move |url: &str| {
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET).replacen(
                "provider = \"graph\"\n",
                &format!("provider = \"graph\"\nmax_mailboxes_per_call = {limit}\n"),
                1,
            )
        }
    };
    let stack = start(RuntimeSettings::default(), with_limit(100)).await;
    let mut list = vec!["room.adams@contoso.com".to_string()];
    list.extend((1..=100).map(|i| format!("visitor{i}@contoso.com")));
    let r =
        ask(&stack.api, &format!("mailboxes={}&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z", list.join(",")))
            .await;
    assert_eq!(spans(&r, 0).len(), 1);
    assert!(r.mailboxes[1..]
        .iter()
        .all(|m| m.error.as_ref().is_some_and(|e| e.code == freebusy_core::ErrorCode::NotFound)));
    // 100 in the first call, the 101st in a second: never more than Graph accepts.
    assert_eq!(stack.emulator.stats().get_schedule_requests, 2);

    // Beyond what the service accepts is a configuration error, not a failing call later.
    let text = config_text(&with_limit(101)(&stack.emulator.base_url));
    let loaded = LoadedConfig::from_str(&text, PathBuf::new()).unwrap();
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let err = Service::from_config(&loaded, &runtime).await.err().expect("101 is refused");
    assert!(format!("{err:#}").contains("accepts 1 to 100 mailboxes per call"), "{err:#}");
}
