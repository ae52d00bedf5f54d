//! The Graph provider component in the real host against the emulator's demo tenant.

use freebusy_core::api::{FreeBusyResponse, MailboxResult};
use freebusy_emulator::{demo, Fault};
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{demo_stack, get, get_with, graph_tenant, start};

/// Monday 23 March 2026 to Tuesday 31 March 2026, UTC: Europe switches to summer time on Sunday
/// 29 March at 01:00 UTC, the US already did on 8 March.
const WEEK: &str = "start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z";

async fn freebusy(api: &str, query: &str) -> FreeBusyResponse {
    let (status, ctype, body) = get(&format!("{api}/v1/freebusy?{query}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("application/json"), "{ctype}");
    serde_json::from_str(&body).expect("a FreeBusyResponse")
}

fn busy(m: &MailboxResult) -> Vec<(&str, &str, &str)> {
    let blocks = m.busy.as_ref().unwrap_or_else(|| panic!("{} has no busy list: {:?}", m.mailbox, m.error));
    blocks.iter().map(|b| (b.start.as_str(), b.end.as_str(), b.status.as_str())).collect()
}

#[tokio::test]
async fn dst_week_gives_the_blocks_the_tenant_model_implies() {
    let stack = demo_stack().await;
    let resp = freebusy(
        &stack.api,
        &format!("mailboxes=adele.vance@contoso.com,megan.bowen@contoso.com,pradeep.gupta@contoso.com,room.adams@contoso.com&{WEEK}"),
    )
    .await;
    assert_eq!(resp.mailboxes.len(), 4);

    // Adele (Europe/Berlin): stand-up 09:00-09:15 local on weekdays, 08:00Z in winter time and
    // 07:00Z after the change, cancelled on Thursday 26th; all-day offsite on Wednesday 25th in
    // Berlin (23:00Z to 23:00Z) swallowing that day's stand-up; tentative design review Friday
    // 13:00 local; private dentist Monday 30th 15:00 local (summer time).
    assert_eq!(
        busy(&resp.mailboxes[0]),
        vec![
            ("2026-03-23T08:00:00Z", "2026-03-23T08:15:00Z", "busy"),
            ("2026-03-24T08:00:00Z", "2026-03-24T08:15:00Z", "busy"),
            ("2026-03-24T23:00:00Z", "2026-03-25T23:00:00Z", "busy"),
            ("2026-03-27T08:00:00Z", "2026-03-27T08:15:00Z", "busy"),
            ("2026-03-27T12:00:00Z", "2026-03-27T13:00:00Z", "tentative"),
            ("2026-03-30T07:00:00Z", "2026-03-30T07:15:00Z", "busy"),
            ("2026-03-30T13:00:00Z", "2026-03-30T14:00:00Z", "busy"),
        ]
    );
    // Megan (America/New_York, UTC-4 all week): sales sync Mon/Thu 10:00 local; two days of
    // vacation (out of office) from Tuesday; a tentative customer call overlapping Thursday's
    // sync by half an hour (busy wins the overlap); working elsewhere all Friday.
    assert_eq!(
        busy(&resp.mailboxes[1]),
        vec![
            ("2026-03-23T14:00:00Z", "2026-03-23T15:00:00Z", "busy"),
            ("2026-03-24T04:00:00Z", "2026-03-26T04:00:00Z", "out-of-office"),
            ("2026-03-26T14:00:00Z", "2026-03-26T15:00:00Z", "busy"),
            ("2026-03-26T15:00:00Z", "2026-03-26T15:30:00Z", "tentative"),
            ("2026-03-27T04:00:00Z", "2026-03-28T04:00:00Z", "working-elsewhere"),
            ("2026-03-30T14:00:00Z", "2026-03-30T15:00:00Z", "busy"),
        ]
    );
    // Pradeep (Asia/Kolkata, UTC+5:30): build review 17:30 local on weekdays in a series that
    // ends on Friday 27th, so nothing on Monday 30th; planning Tuesday 14:00-17:00 local.
    assert_eq!(
        busy(&resp.mailboxes[2]),
        vec![
            ("2026-03-23T12:00:00Z", "2026-03-23T12:30:00Z", "busy"),
            ("2026-03-24T08:30:00Z", "2026-03-24T11:30:00Z", "busy"),
            ("2026-03-24T12:00:00Z", "2026-03-24T12:30:00Z", "busy"),
            ("2026-03-25T12:00:00Z", "2026-03-25T12:30:00Z", "busy"),
            ("2026-03-26T12:00:00Z", "2026-03-26T12:30:00Z", "busy"),
            ("2026-03-27T12:00:00Z", "2026-03-27T12:30:00Z", "busy"),
        ]
    );
    // Room Adams (Europe/Berlin): all hands Mondays 10:00 local (09:00Z, then 08:00Z after the
    // change) and a Thursday workshop 13:00-17:00 local.
    assert_eq!(
        busy(&resp.mailboxes[3]),
        vec![
            ("2026-03-23T09:00:00Z", "2026-03-23T10:00:00Z", "busy"),
            ("2026-03-26T12:00:00Z", "2026-03-26T16:00:00Z", "busy"),
            ("2026-03-30T08:00:00Z", "2026-03-30T09:00:00Z", "busy"),
        ]
    );
    let hours = resp.mailboxes[0].working_hours.as_ref().expect("working hours");
    assert_eq!((hours.start_minute, hours.end_minute, hours.time_zone.as_str()), (480, 1020, "Europe/Berlin"));
}

#[tokio::test]
async fn availability_view_has_one_digit_per_interval() {
    let stack = demo_stack().await;
    let resp = freebusy(
        &stack.api,
        &format!("mailboxes=adele.vance@contoso.com,megan.bowen@contoso.com&{WEEK}&interval=1440"),
    )
    .await;
    // One digit per UTC day, Monday 23rd to Monday 30th.
    assert_eq!(resp.mailboxes[0].availability_view.as_deref(), Some("22202002"));
    // Out of office on the 24th and 25th UTC (and the 26th until 04:00Z), working elsewhere as 4.
    assert_eq!(resp.mailboxes[1].availability_view.as_deref(), Some("23334402"));
}

#[tokio::test]
async fn unknown_mailbox_gets_its_own_error_while_the_others_succeed() {
    let stack = demo_stack().await;
    let resp = freebusy(
        &stack.api,
        &format!("mailboxes=room.adams@contoso.com,nobody@contoso.com,pradeep.gupta@contoso.com&{WEEK}"),
    )
    .await;
    let unknown = &resp.mailboxes[1];
    assert_eq!(unknown.mailbox, "nobody@contoso.com");
    assert!(unknown.busy.is_none(), "an unreadable mailbox must not look free");
    let err = unknown.error.as_ref().expect("error for the unknown mailbox");
    assert_eq!(err.code, freebusy_core::ErrorCode::NotFound);
    assert!(err.message.contains("Unable to resolve e-mail address nobody@contoso.com"), "{}", err.message);
    assert_eq!(busy(&resp.mailboxes[0]).len(), 3);
    assert_eq!(busy(&resp.mailboxes[2]).len(), 6);
}

#[tokio::test]
async fn wrong_client_secret_is_an_auth_error_naming_aadsts7000215_and_never_free() {
    let wrong = "wrong-secret-value-123";
    let stack = start(RuntimeSettings::default(), |url| graph_tenant("contoso", url, demo::CLIENT_ID, wrong)).await;
    let (status, _, body) = get(&format!("{}/v1/freebusy?mailboxes=adele.vance@contoso.com&{WEEK}", stack.api)).await;
    assert_eq!(status, 200);
    assert!(!body.contains(wrong), "the secret leaked into the response: {body}");
    let resp: FreeBusyResponse = serde_json::from_str(&body).unwrap();
    let m = &resp.mailboxes[0];
    assert!(m.busy.is_none());
    let err = m.error.as_ref().unwrap();
    assert_eq!(err.code, freebusy_core::ErrorCode::AuthFailed);
    assert!(err.message.contains("AADSTS7000215"), "{}", err.message);
    assert!(err.message.contains("client secret is wrong"), "{}", err.message);
    // Auth failures are not retried: one token request per query.
    assert_eq!(stack.emulator.stats().token_requests, 1);
    assert_eq!(stack.emulator.stats().get_schedule_requests, 0);
}

#[tokio::test]
async fn an_unknown_app_is_named_aadsts700016_and_not_retried() {
    let unknown = "0b5e2c4a-9d1f-4e3b-8a7c-6f2d1e0c9b8a";
    let stack = start(RuntimeSettings::default(), |url| graph_tenant("contoso", url, unknown, "some-secret")).await;
    for _ in 0..2 {
        let resp = freebusy(&stack.api, &format!("mailboxes=adele.vance@contoso.com&{WEEK}")).await;
        let err = resp.mailboxes[0].error.as_ref().expect("an error, never free");
        assert_eq!(err.code, freebusy_core::ErrorCode::AuthFailed);
        assert!(err.message.contains("AADSTS700016"), "{}", err.message);
    }
    // One token request in all: never a retry loop against the identity platform, and after the
    // refusal the tenant's credential circuit stops further sign-ins.
    assert_eq!(stack.emulator.stats().token_requests, 1);
    assert_eq!(stack.emulator.stats().get_schedule_requests, 0);
}

#[tokio::test]
async fn expired_secret_says_so_with_aadsts7000222() {
    let stack = start(RuntimeSettings::default(), |url| {
        graph_tenant("contoso", url, demo::EXPIRED_CLIENT_ID, "expired~secret")
    })
    .await;
    let resp = freebusy(&stack.api, &format!("mailboxes=adele.vance@contoso.com&{WEEK}")).await;
    let err = resp.mailboxes[0].error.as_ref().unwrap();
    assert_eq!(err.code, freebusy_core::ErrorCode::AuthFailed);
    assert!(err.message.contains("AADSTS7000222") && err.message.contains("expired"), "{}", err.message);
}

#[tokio::test]
async fn missing_admin_consent_names_the_permission_to_grant() {
    let stack = start(RuntimeSettings::default(), |url| {
        graph_tenant("contoso", url, demo::UNCONSENTED_CLIENT_ID, "unconsented~secret")
    })
    .await;
    let resp = freebusy(&stack.api, &format!("mailboxes=adele.vance@contoso.com&{WEEK}")).await;
    let err = resp.mailboxes[0].error.as_ref().unwrap();
    assert_eq!(err.code, freebusy_core::ErrorCode::AuthFailed);
    assert!(
        err.message.contains("ErrorAccessDenied") && err.message.contains("Calendars.ReadBasic"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn the_token_is_fetched_once_and_reused_across_calls() {
    let stack = demo_stack().await;
    for _ in 0..3 {
        freebusy(&stack.api, &format!("mailboxes=adele.vance@contoso.com&{WEEK}")).await;
    }
    let stats = stack.emulator.stats();
    assert_eq!(stats.get_schedule_requests, 3);
    assert_eq!(stats.token_requests, 1, "the token should come from the key-value store after the first call");
}

#[tokio::test]
async fn throttled_calls_are_retried_after_the_retry_after_delay() {
    let stack = demo_stack().await;
    stack.emulator.inject(Fault::Throttle { retry_after: Some("0.2".into()) });
    let started = std::time::Instant::now();
    let resp = freebusy(&stack.api, &format!("mailboxes=room.adams@contoso.com&{WEEK}")).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(200), "retried before Retry-After");
    assert_eq!(busy(&resp.mailboxes[0]).len(), 3);
    assert_eq!(stack.emulator.stats().get_schedule_requests, 2);
}

#[tokio::test]
async fn persistent_throttling_is_reported_not_hidden_as_free() {
    let stack = demo_stack().await;
    for _ in 0..3 {
        stack.emulator.inject(Fault::Throttle { retry_after: Some("0.05".into()) });
    }
    let resp = freebusy(&stack.api, &format!("mailboxes=room.adams@contoso.com&{WEEK}")).await;
    let err = resp.mailboxes[0].error.as_ref().expect("throttled mailbox is an error");
    assert_eq!(err.code, freebusy_core::ErrorCode::Throttled);
    assert!(resp.mailboxes[0].busy.is_none());
    assert_eq!(stack.emulator.stats().get_schedule_requests, 3, "one call and two retries");
}

#[tokio::test]
async fn details_show_subjects_where_shared_and_never_for_private_items() {
    let stack = demo_stack().await;
    let resp = freebusy(
        &stack.api,
        &format!(
            "mailboxes=adele.vance@contoso.com,room.adams@contoso.com,pradeep.gupta@contoso.com&{WEEK}&details=true"
        ),
    )
    .await;
    let adele = resp.mailboxes[0].events.as_ref().expect("events with details=true");
    let standup = adele.iter().find(|e| e.start == "2026-03-23T08:00:00Z").unwrap();
    assert_eq!(standup.subject.as_deref(), Some("Daily stand-up"));
    let dentist = adele.iter().find(|e| e.start == "2026-03-30T13:00:00Z").unwrap();
    assert_eq!(dentist.subject, None, "a private item must not show its subject");
    // Rooms show the organizer as the subject (AddOrganizerToSubject).
    let room = resp.mailboxes[1].events.as_ref().unwrap();
    assert_eq!(room[0].subject.as_deref(), Some("Adele Vance"));
    // Pradeep does not share details: statuses and times only.
    let pradeep = resp.mailboxes[2].events.as_ref().unwrap();
    assert!(!pradeep.is_empty() && pradeep.iter().all(|e| e.subject.is_none()));
    // Without details=true no events list is sent at all.
    let plain = freebusy(&stack.api, &format!("mailboxes=adele.vance@contoso.com&{WEEK}")).await;
    assert!(plain.mailboxes[0].events.is_none());
}

#[tokio::test]
async fn text_calendar_gives_vfreebusy() {
    let stack = demo_stack().await;
    let (status, ctype, body) = get_with(
        &format!("{}/v1/freebusy?mailboxes=room.adams@contoso.com,nobody@contoso.com&{WEEK}", stack.api),
        &[("accept", "text/calendar")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/calendar"), "{ctype}");
    assert!(body.contains("FREEBUSY;FBTYPE=BUSY:20260323T090000Z/20260323T100000Z\r\n"), "{body}");
    // The unknown mailbox is one busy period over the window, never free.
    assert!(body.contains("FREEBUSY;FBTYPE=BUSY:20260323T000000Z/20260331T000000Z\r\n"), "{body}");
}

#[tokio::test]
async fn a_window_longer_than_62_days_is_split_and_merged_back() {
    let stack = demo_stack().await;
    // 90 days: Graph rejects more than 62 in one call, so the host makes two calls.
    let resp =
        freebusy(&stack.api, "mailboxes=room.adams@contoso.com&start=2026-01-05T00:00:00Z&end=2026-04-05T00:00:00Z")
            .await;
    assert_eq!(stack.emulator.stats().get_schedule_requests, 2);
    let blocks = busy(&resp.mailboxes[0]);
    // 13 Monday all-hands (5 Jan .. 30 Mar) plus the workshop, none lost or doubled at the split.
    assert_eq!(blocks.len(), 14, "{blocks:?}");
    assert!(blocks.contains(&("2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", "busy")));
}

#[tokio::test]
async fn more_mailboxes_than_one_call_takes_are_split_into_calls() {
    let stack = demo_stack().await;
    // A first query lets the provider learn an existing mailbox to anchor calls on.
    freebusy(&stack.api, &format!("mailboxes=room.adams@contoso.com&{WEEK}")).await;
    let mut list: Vec<String> = (0..25).map(|i| format!("guest{i}@contoso.com")).collect();
    list.push("room.adams@contoso.com".into());
    let resp = freebusy(&stack.api, &format!("mailboxes={}&{WEEK}", list.join(","))).await;
    assert_eq!(resp.mailboxes.len(), 26);
    // 20 per call (the provider's limit), after the first query's one call.
    assert_eq!(stack.emulator.stats().get_schedule_requests, 3);
    assert_eq!(busy(&resp.mailboxes[25]).len(), 3);
    assert!(resp.mailboxes[..25]
        .iter()
        .all(|m| m.error.as_ref().is_some_and(|e| e.code == freebusy_core::ErrorCode::NotFound)));
}

#[tokio::test]
async fn a_batch_led_by_unknown_addresses_still_answers_the_known_ones() {
    // app-only getSchedule is called on /users/{anchor}/...; an unknown anchor is a 404 for the
    // whole call, so the provider moves on to the next address.
    let stack = demo_stack().await;
    let resp =
        freebusy(&stack.api, &format!("mailboxes=ghost1@contoso.com,ghost2@contoso.com,room.adams@contoso.com&{WEEK}"))
            .await;
    assert_eq!(resp.mailboxes[0].error.as_ref().unwrap().code, freebusy_core::ErrorCode::NotFound);
    assert_eq!(resp.mailboxes[1].error.as_ref().unwrap().code, freebusy_core::ErrorCode::NotFound);
    assert_eq!(busy(&resp.mailboxes[2]).len(), 3);
    assert_eq!(stack.emulator.stats().get_schedule_requests, 3);
    // The anchor that worked is remembered: the next batch takes one call.
    freebusy(&stack.api, &format!("mailboxes=ghost3@contoso.com,adele.vance@contoso.com&{WEEK}")).await;
    assert_eq!(stack.emulator.stats().get_schedule_requests, 4);
}

/// Tenants `contoso` (getSchedule details) and `booking` (calendarView details, Calendars.Read)
/// on one emulator; `booking_client` picks the app the calendarView tenant signs in as.
async fn details_stack(booking_client: (&str, &str)) -> freebusy_tests::Stack {
    start(RuntimeSettings::default(), |url| {
        let booking = graph_tenant("booking", url, booking_client.0, booking_client.1).replacen(
            "[tenants.booking.settings]\n",
            // A small page so that @odata.nextLink paging is exercised.
            "[tenants.booking.settings]\ndetails_source = \"calendar-view\"\ncalendar_view_page_size = 3\n",
            1,
        );
        format!("{}{booking}", graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET))
    })
    .await
}

#[tokio::test]
async fn calendar_view_details_give_every_subject_the_same_times_and_all_day_events_on_the_mailboxs_day() {
    let stack = details_stack((demo::DETAILS_CLIENT_ID, demo::DETAILS_CLIENT_SECRET)).await;
    // Megan's all-day vacation (New York), Pradeep who shares no details, Adele's private
    // dentist, a room, an unknown address, and Tokyo/Kolkata colleagues far from UTC.
    let people = "adele.vance@contoso.com,megan.bowen@contoso.com,pradeep.gupta@contoso.com,room.adams@contoso.com,nobody@contoso.com,lee.gu@contoso.com,lidia.holloway@contoso.com";
    let query = format!("mailboxes={people}&{WEEK}&details=true");
    let from_schedule = freebusy(&stack.api, &query).await;
    let (status, _, body) = get(&format!("{}/v1/tenants/booking/freebusy?{query}", stack.api)).await;
    assert_eq!(status, 200, "{body}");
    let from_calendar: FreeBusyResponse = serde_json::from_str(&body).unwrap();
    for (s, c) in from_schedule.mailboxes.iter().zip(&from_calendar.mailboxes) {
        // Same instants either way: expanded series, clipping and all-day placement agree.
        assert_eq!(s.busy, c.busy, "{}", s.mailbox);
        assert_eq!(s.error.as_ref().map(|e| &e.code), c.error.as_ref().map(|e| &e.code), "{}", s.mailbox);
    }
    assert_eq!(from_calendar.mailboxes[4].error.as_ref().unwrap().code, freebusy_core::ErrorCode::NotFound);
    // Pradeep shares no details in free/busy, but Calendars.Read reads his calendar.
    let pradeep = from_calendar.mailboxes[2].events.as_ref().unwrap();
    assert!(pradeep.iter().any(|e| e.subject.is_some()), "{pradeep:?}");
    assert!(from_schedule.mailboxes[2].events.as_ref().unwrap().iter().all(|e| e.subject.is_none()));
    // A private item keeps its time, never its subject.
    let adele = from_calendar.mailboxes[0].events.as_ref().unwrap();
    let dentist = adele.iter().find(|e| e.start == "2026-03-30T13:00:00Z").unwrap();
    assert!(dentist.private && dentist.subject.is_none() && dentist.location.is_none());
    let megan = from_calendar.mailboxes[1].events.as_ref().unwrap();
    assert!(
        megan.iter().any(|e| e.start == "2026-03-24T04:00:00Z" && e.status.as_str() == "out-of-office"),
        "{megan:?}"
    );
    // One batch for the six readable mailboxes; pages of 3 make calendarView requests beyond
    // the six batched ones (followed through @odata.nextLink).
    let stats = stack.emulator.stats();
    assert_eq!(stats.batch_requests, 1);
    assert!(stats.calendar_view_requests > 6, "{stats:?}");
}

#[tokio::test]
async fn calendar_view_details_without_calendars_read_name_the_missing_permission() {
    // The demo app has Calendars.ReadBasic only: getSchedule works, calendarView is refused.
    let stack = details_stack((demo::CLIENT_ID, demo::CLIENT_SECRET)).await;
    let (status, _, body) = get(&format!(
        "{}/v1/tenants/booking/freebusy?mailboxes=adele.vance@contoso.com&{WEEK}&details=true",
        stack.api
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let resp: FreeBusyResponse = serde_json::from_str(&body).unwrap();
    let error = resp.mailboxes[0].error.as_ref().expect("never a silent fallback that hides subjects as free");
    assert_eq!(error.code, freebusy_core::ErrorCode::AccessDenied);
    assert!(error.message.contains("Calendars.Read"), "{}", error.message);
    // Without details=true, calendarView is not needed and not asked.
    let (_, _, body) =
        get(&format!("{}/v1/tenants/booking/freebusy?mailboxes=adele.vance@contoso.com&{WEEK}", stack.api)).await;
    let plain: FreeBusyResponse = serde_json::from_str(&body).unwrap();
    assert!(plain.mailboxes[0].busy.is_some(), "{body}");
    assert_eq!(stack.emulator.stats().calendar_view_requests, 1);
    // And the credential check names the permission before anyone queries.
    let health = stack
        .service
        .tenant(Some("booking"))
        .unwrap()
        .health(chrono::Utc::now().date_naive(), freebusy_host::tenant::health::CheckMode::Explicit)
        .await;
    assert!(!health.ok && health.missing.iter().any(|m| m.starts_with("Calendars.Read ")), "{health:?}");
}

/// An app-only Graph token from the emulator, as any client gets one.
async fn graph_token(emulator: &str, client_id: &str, secret: &str) -> String {
    let resp = freebusy_tests::post_form(
        &format!("{emulator}/{}/oauth2/v2.0/token", demo::TENANT_ID),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    resp["access_token"].as_str().expect("a token").to_string()
}

#[tokio::test]
async fn the_emulators_batch_endpoint_keeps_graphs_rules() {
    let stack = demo_stack().await;
    let token = graph_token(&stack.emulator.base_url, demo::DETAILS_CLIENT_ID, demo::DETAILS_CLIENT_SECRET).await;
    let view = |id: &str| {
        serde_json::json!({"id": id, "method": "GET",
            "url": "/users/adele.vance@contoso.com/calendarView?startDateTime=2026-03-23T00:00:00Z&endDateTime=2026-03-24T00:00:00Z"})
    };
    let post = |requests: Vec<serde_json::Value>| {
        reqwest::Client::new()
            .post(format!("{}/v1.0/$batch", stack.emulator.base_url))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "requests": requests }))
            .send()
    };
    // At most 20 requests, and unique ids (https://learn.microsoft.com/graph/json-batching).
    assert_eq!(post((0..21).map(|i| view(&i.to_string())).collect()).await.unwrap().status(), 400);
    assert_eq!(post(vec![view("a"), view("a")]).await.unwrap().status(), 400);
    // Each request is throttled on its own; the batch itself is still 200.
    stack.emulator.inject(Fault::Throttle { retry_after: Some("0.249".into()) });
    let resp = post(vec![view("1"), view("2")]).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let statuses: Vec<(String, u64)> = body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(statuses.iter().filter(|(_, s)| *s == 429).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|(_, s)| *s == 200).count(), 1, "{statuses:?}");
}
