//! Structured fuzzing of the calendarView details path: Graph's JSON `$batch` answer, each
//! item's status and page (`events_of`, on pages without a next link, so no call is made) and
//! the busy blocks made of the events (`blocks`), all-day events placed in the mailbox's zone.
//!
//! Arbitrary bytes never panic. A batch answer shaped like Graph's, with any field replaced by a
//! wrong type, a huge number, a bad date or zone, odd unicode or deep nesting, or removed, never
//! panics; where it reads, every event not cancelled is one block (none lost), and a private
//! event keeps no subject or location. All-day events in zones with DST changes at midnight
//! last their days, give or take the change. A document cut anywhere is an error.
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use chrono::NaiveDate;
use freebusy_provider_sdk::entra::{ClientAuth, ClientCredentials, Credentials};
use freebusy_provider_sdk::types::*;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{blocks, events_of, BatchResponse, Event};
use crate::fuzz_support::{apply, apply_json, cuts, edits, json_edits};
use crate::Connection;

const DAY_MS: i64 = 86_400_000;

fn conn() -> Connection<'static> {
    Connection {
        credentials: Credentials::App(ClientCredentials {
            authority: "https://login.microsoftonline.com",
            tenant: "contoso.onmicrosoft.com",
            client_id: "client",
            client_secret: ClientAuth::Secret("secret"),
            scope: "https://graph.microsoft.com/.default",
        }),
        graph: "https://graph.microsoft.com".into(),
        anchor: None,
        calendar_view_page_size: Some(100),
    }
}

fn event(subject: &str, start: &str, end: &str, extra: Value) -> Value {
    let mut e = json!({"subject": subject, "location": {"displayName": "Room 1"}, "showAs": "busy", "sensitivity": "normal",
        "start": {"dateTime": start, "timeZone": "UTC"}, "end": {"dateTime": end, "timeZone": "UTC"}});
    e.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    e
}

/// A `$batch` answer as Graph sends it (https://learn.microsoft.com/graph/json-batching): a page
/// of events, a refused mailbox, a throttled one.
fn seed() -> Value {
    json!({"responses": [
        {"id": "0", "status": 200, "headers": {"Cache-Control": "private", "Content-Type": "application/json"},
         "body": {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('a')/calendarView", "value": [
            event("Planning", "2026-03-25T09:00:00.0000000", "2026-03-25T10:00:00.0000000", json!({})),
            event("Holiday", "2026-03-25T00:00:00.0000000", "2026-03-26T00:00:00.0000000", json!({"isAllDay": true, "showAs": "oof"})),
            event("Gone", "2026-03-25T11:00:00.0000000", "2026-03-25T12:00:00.0000000", json!({"isCancelled": true})),
            event("Doctor", "2026-03-25T13:00:00.0000000", "2026-03-25T14:00:00.0000000", json!({"sensitivity": "private"})),
         ]}},
        {"id": "1", "status": 403, "body": {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}},
        {"id": "2", "status": 429, "headers": {"Retry-After": "3"}, "body": {"error": {"code": "ApplicationThrottled", "message": "Too many"}}},
    ]})
}

/// Mailbox zones, as getSchedule's working hours gave them.
const ZONES: [Option<&str>; 3] = [Some("Europe/Berlin"), Some("Asia/Tokyo"), None];

/// What the batch answer gives each of three mailboxes, as `replace_with_calendar_items` reads
/// it: `Ok(None)` keeps getSchedule's items.
type Outcome = Result<Option<Result<Vec<BusyBlock>, MailboxError>>, ProviderError>;

fn answer(body: &[u8]) -> Result<Vec<(Outcome, Option<usize>)>, String> {
    let mut batch: BatchResponse = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    for item in &mut batch.responses {
        // Later pages would be fetched: not here.
        if let Some(body) = item.body.as_object_mut() {
            body.remove("@odata.nextLink");
        }
    }
    let conn = conn();
    Ok((0..3)
        .map(|i| {
            let Some(item) = batch.responses.iter().find(|r| r.id == i.to_string()) else { return (Ok(None), None) };
            match events_of(&conn, item) {
                Err(e) => (Err(e), None),
                Ok(Err(e)) => (Ok(Some(Err(e))), None),
                Ok(Ok(events)) => {
                    let live = events.iter().filter(|e| !e.is_cancelled).count();
                    (Ok(blocks(&events, ZONES[i])), Some(live))
                }
            }
        })
        .collect())
}

fn check_sane(outcomes: &[(Outcome, Option<usize>)]) -> Result<(), TestCaseError> {
    for (outcome, live) in outcomes {
        if let (Ok(Some(Ok(blocks))), Some(live)) = (outcome, live) {
            prop_assert_eq!(blocks.len(), *live, "an event was lost");
            for b in blocks {
                prop_assert!(!b.is_private || (b.subject.is_none() && b.location.is_none()));
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(outcomes) = answer(&body) {
            check_sane(&outcomes)?;
        }
    }

    #[test]
    fn edited_batch_answers_never_panic_and_lose_no_event(edits in json_edits()) {
        let body = serde_json::to_vec(&apply_json(&seed(), &edits)).unwrap();
        if let Ok(outcomes) = answer(&body) {
            check_sane(&outcomes)?;
        }
    }

    #[test]
    fn edited_batch_text_never_panics(edits in edits()) {
        let body = apply(&serde_json::to_vec_pretty(&seed()).unwrap(), &edits);
        if let Ok(outcomes) = answer(&body) {
            check_sane(&outcomes)?;
        }
    }

    #[test]
    fn all_day_events_last_their_days_in_any_zone(
        zone in proptest::sample::select(vec!["UTC", "Europe/Berlin", "America/Sao_Paulo", "America/Havana", "America/Santiago",
            "Asia/Tokyo", "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Asia/Beirut"]),
        day in 0i64..(41 * 366),
        days in 1i64..10,
        fraction in "(\\.[0-9]{7})?",
    ) {
        let first = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(day);
        let text = |d: NaiveDate| format!("{}T00:00:00{fraction}", d.format("%Y-%m-%d"));
        let e: Event = serde_json::from_value(json!({"isAllDay": true, "showAs": "oof",
            "start": {"dateTime": text(first), "timeZone": "UTC"},
            "end": {"dateTime": text(first + chrono::Duration::days(days)), "timeZone": "UTC"}})).unwrap();
        let b = blocks(&[e], Some(zone)).unwrap().unwrap();
        let length = b[0].end - b[0].start;
        prop_assert!((length - days * DAY_MS).abs() <= 2 * 3_600_000, "{zone} {first} + {days} days: {length} ms");
    }
}

#[test]
fn every_cut_of_a_batch_answer_is_an_error() {
    let text = serde_json::to_string_pretty(&seed()).unwrap();
    let whole = answer(text.as_bytes()).unwrap();
    assert!(matches!(&whole[0].0, Ok(Some(Ok(b))) if b.len() == 3));
    for cut in cuts(&text) {
        assert!(answer(cut.as_bytes()).is_err(), "a batch answer cut after {} bytes parsed", cut.len());
    }
}
