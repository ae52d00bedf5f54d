//! Structured fuzzing of Graph's getSchedule answers (parsed as `get_schedules` does after the
//! call: the JSON body, then each requested mailbox's schedule), Graph's error bodies
//! (`call_error`) and its `dateTimeTimeZone` values (`parse_utc`).
//!
//! Arbitrary bytes never panic. Graph's documented answer, with any field replaced by a wrong
//! type, a huge number, a bad date or zone, odd unicode or deep nesting, or removed, or with its
//! text edited, never panics; where it parses, no item is silently lost (a readable mailbox has
//! one block per item, an unreadable item makes the mailbox an error, never free), views are in
//! the contract's alphabet, working hours within 0..=1440, and the merged answer stays inside
//! the window with every interval's start before its end. Generated answers read back exactly.
//! A document cut anywhere is an error, not a partial "free" answer.
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use chrono::DateTime;
use freebusy_provider_sdk::http::Response;
use freebusy_provider_sdk::types::*;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{minutes_of_day, schedule_for, ScheduleResponse};
use crate::client::{call_error, parse_utc, DateTimeTimeZone};
use crate::fuzz_support::{apply, apply_json, cuts, edits, json_edits};

const MAILBOXES: &[&str] = &["adelev@contoso.com", "meganb@contoso.com", "nobody@contoso.com"];
/// The seed's window: 2019-03-15T08:00Z to 2019-03-16T08:00Z.
const WINDOW: (i64, i64) = (1_552_636_800_000, 1_552_723_200_000);

/// Graph's documented getSchedule answer (https://learn.microsoft.com/graph/api/calendar-getschedule),
/// with a mailbox that does not exist.
fn seed() -> Value {
    let item = |status: &str, subject: &str, start: &str, end: &str, private: bool| {
        json!({"isPrivate": private, "status": status, "subject": subject, "location": "Harry's Bar",
               "start": {"dateTime": start, "timeZone": "UTC"}, "end": {"dateTime": end, "timeZone": "UTC"}})
    };
    json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)",
    "value": [
        {"scheduleId": "adelev@contoso.com", "availabilityView": "000220000",
         "scheduleItems": [
            item("busy", "Let's go for lunch", "2019-03-15T12:00:00.0000000", "2019-03-15T14:00:00.0000000", false),
            item("tentative", "Doctor", "2019-03-15T16:00:00.0000000", "2019-03-15T17:00:00.0000000", true)],
         "workingHours": {"daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000", "timeZone": {"name": "Pacific Standard Time"}}},
        {"scheduleId": "meganb@contoso.com", "availabilityView": "200220010",
         "scheduleItems": [
            item("oof", "", "2019-03-15T08:00:00.0000000", "2019-03-15T09:30:00.0000000", false),
            item("workingElsewhere", "Home", "2019-03-15T18:00:00.0000000", "2019-03-15T19:00:00.0000000", false)],
         "workingHours": {"daysOfWeek": ["monday"], "startTime": "09:00:00.0000000", "endTime": "24:00:00.0000000",
            "timeZone": {"name": "Customized Time Zone"}}},
        {"scheduleId": "nobody@contoso.com", "availabilityView": "",
         "error": {"message": "Unable to resolve e-mail address nobody@contoso.com to an Active Directory object.", "responseCode": "5009"}}
    ]})
}

/// The answer as `get_schedules` reads it after a 200.
fn answer(body: &[u8], details: bool, with_view: bool) -> Result<Vec<Schedule>, String> {
    let parsed: ScheduleResponse = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(MAILBOXES.iter().map(|m| schedule_for(m, &parsed.value, details, with_view)).collect())
}

/// The items the answer's JSON holds for a mailbox, as `schedule_for` finds it.
fn items_of(doc: &Value, mailbox: &str) -> Option<usize> {
    let info = doc["value"]
        .as_array()?
        .iter()
        .find(|i| i["scheduleId"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(mailbox)))?;
    Some(info["scheduleItems"].as_array().map_or(0, Vec::len))
}

fn core_block(b: &BusyBlock) -> freebusy_core::Block {
    use freebusy_core::Availability as A;
    let status = match b.status {
        Availability::Free => A::Free,
        Availability::Tentative => A::Tentative,
        Availability::Busy => A::Busy,
        Availability::OutOfOffice => A::OutOfOffice,
        Availability::WorkingElsewhere => A::WorkingElsewhere,
        Availability::Unknown => A::Unknown,
    };
    freebusy_core::Block::new(b.start, b.end, status)
}

/// What every readable schedule must satisfy, whatever the upstream sent.
fn check_sane(schedules: &[Schedule], doc: Option<&Value>) -> Result<(), TestCaseError> {
    let window = freebusy_core::Window { start: WINDOW.0, end: WINDOW.1 };
    for s in schedules {
        let Ok(ok) = &s.outcome else { continue };
        if let Some(doc) = doc {
            prop_assert_eq!(Some(ok.blocks.len()), items_of(doc, &s.mailbox), "an item of {} was lost", s.mailbox);
        }
        for b in &ok.blocks {
            prop_assert!(
                !b.is_private || (b.subject.is_none() && b.location.is_none()),
                "a private item kept its subject"
            );
        }
        if let Some(view) = &ok.merged_view {
            prop_assert!(view.chars().all(|c| "01234?".contains(c)), "view {view:?}");
        }
        if let Some(wh) = &ok.working_hours {
            prop_assert!(
                wh.start_minute <= 1440 && wh.end_minute <= 1440,
                "working hours {}..{}",
                wh.start_minute,
                wh.end_minute
            );
        }
        let blocks: Vec<_> = ok.blocks.iter().map(core_block).collect();
        for seg in freebusy_core::timeline::merge(&blocks, window) {
            prop_assert!(window.start <= seg.start && seg.start < seg.end && seg.end <= window.end, "{seg:?}");
        }
    }
    Ok(())
}

fn graph_time(ms: i64) -> String {
    format!("{}0000", DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%dT%H:%M:%S%.3f"))
}

fn response(status: u16, body: Vec<u8>) -> Response {
    Response { status, headers: vec![("retry-after".into(), "7".into())], body }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), details in any::<bool>()) {
        if let Ok(schedules) = answer(&body, details, true) {
            check_sane(&schedules, None)?;
        }
    }

    #[test]
    fn edited_answers_never_panic_and_lose_no_item(edits in json_edits(), details in any::<bool>(), with_view in any::<bool>()) {
        let doc = apply_json(&seed(), &edits);
        let body = serde_json::to_vec(&doc).unwrap();
        if let Ok(schedules) = answer(&body, details, with_view) {
            check_sane(&schedules, Some(&doc))?;
        }
    }

    #[test]
    fn edited_answer_text_never_panics(edits in edits(), details in any::<bool>()) {
        let body = apply(&serde_json::to_vec_pretty(&seed()).unwrap(), &edits);
        if let Ok(schedules) = answer(&body, details, true) {
            check_sane(&schedules, None)?;
        }
    }

    #[test]
    fn generated_answers_read_back_exactly(
        items in proptest::collection::vec((0i64..1440, 0i64..600, 0usize..7, "[a-z ]{0,8}", any::<bool>()), 0..12),
        details in any::<bool>(),
        upper in any::<bool>(),
    ) {
        const STATUSES: [(&str, Availability); 7] = [
            ("free", Availability::Free), ("tentative", Availability::Tentative), ("Busy", Availability::Busy),
            ("oof", Availability::OutOfOffice), ("workingElsewhere", Availability::WorkingElsewhere),
            ("unknown", Availability::Unknown), ("somethingNew", Availability::Unknown),
        ];
        let at = |min: i64| WINDOW.0 + min * 60_000;
        let json_items: Vec<Value> = items.iter().map(|(start, len, s, subject, private)| json!({
            "status": STATUSES[*s].0, "subject": subject, "isPrivate": private,
            "start": {"dateTime": graph_time(at(*start)), "timeZone": "UTC"},
            "end": {"dateTime": graph_time(at(start + len)), "timeZone": "UTC"}})).collect();
        let id = if upper { MAILBOXES[0].to_uppercase() } else { MAILBOXES[0].to_string() };
        let body = serde_json::to_vec(&json!({"value": [{"scheduleId": id, "scheduleItems": json_items}]})).unwrap();
        let got = answer(&body, details, false).unwrap();
        let blocks = &got[0].outcome.as_ref().unwrap().blocks;
        prop_assert_eq!(blocks.len(), items.len());
        for (b, (start, len, s, subject, private)) in blocks.iter().zip(&items) {
            prop_assert_eq!((b.start, b.end), (at(*start), at(start + len)));
            prop_assert!(b.start <= b.end);
            prop_assert_eq!(b.status, STATUSES[*s].1);
            let shown = (details && !private && !subject.is_empty()).then(|| subject.clone());
            prop_assert_eq!(&b.subject, &shown);
        }
        // The other mailboxes are not in the answer: errors, never free.
        prop_assert!(got[1].outcome.is_err() && got[2].outcome.is_err());
    }

    #[test]
    fn error_bodies_never_panic(status in prop_oneof![Just(400u16), Just(401), Just(403), Just(404), Just(429), Just(503), any::<u16>()],
                                edits in json_edits(), raw in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200))) {
        let seed = json!({"error": {"code": "ErrorAccessDenied", "message": "Access is denied.", "innerError": {"date": "2026-03-23T09:00:00", "request-id": "x"}}});
        let body = raw.unwrap_or_else(|| serde_json::to_vec(&apply_json(&seed, &edits)).unwrap());
        let e = call_error(&response(status, body));
        match status {
            429 | 503 | 504 => prop_assert!(matches!(e, ProviderError::Throttled(Some(7000))), "{e:?}"),
            401 | 403 => prop_assert!(matches!(e, ProviderError::AuthFailed(_)), "{e:?}"),
            _ => {}
        }
    }

    #[test]
    fn date_times_never_panic(date_time in prop_oneof![any::<String>(), "[0-9+-]{0,7}-[0-9]{1,2}-[0-9]{1,2}T[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{0,12})?Z?"],
                              time_zone in prop_oneof![Just(String::new()), Just("UTC".to_string()), any::<String>()]) {
        let _ = parse_utc(&DateTimeTimeZone { date_time, time_zone });
    }
}

#[test]
fn every_cut_of_an_answer_is_an_error() {
    let text = serde_json::to_string_pretty(&seed()).unwrap();
    assert!(answer(text.as_bytes(), true, true).unwrap().iter().filter(|s| s.outcome.is_ok()).count() == 2);
    for cut in cuts(&text) {
        assert!(answer(cut.as_bytes(), true, true).is_err(), "an answer cut after {} bytes parsed", cut.len());
    }
}

#[test]
fn working_hours_past_midnight_are_not_a_time_of_day() {
    assert_eq!(minutes_of_day("08:00:00.0000000"), Some(480));
    assert_eq!(minutes_of_day("24:00:00.0000000"), Some(1440));
    for text in ["24:59:00.0000000", "24:01:00", "25:00:00", "08:60:00"] {
        assert_eq!(minutes_of_day(text), None, "{text}");
    }
}

#[test]
fn a_working_hours_time_of_a_thousand_hours_is_unreadable_not_an_overflow() {
    for text in ["1093:00:00.0000000", "65535:00", "24:65535"] {
        assert_eq!(minutes_of_day(text), None, "{text}");
    }
}
