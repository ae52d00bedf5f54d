//! Structured fuzzing of the HTTP API's untrusted input: `/v1/freebusy` query strings and JSON
//! bodies (`parse_query_string`, `parse_json_body`, `RawFreeBusyRequest::validate`), the
//! `/v1/availability` body (`parse_availability_body`, `RawAvailabilityRequest::validate`) and
//! `/v1/directory` query strings (`parse_directory_query`).
//!
//! Arbitrary text and bytes never panic: they are a request or a problem. Query strings built
//! from the known parameters (and unknown ones) with valid and wrong values (huge numbers, dates
//! with bad days or offsets, years 0000 and 9999, odd unicode, hundreds of mailboxes), and the
//! documented JSON bodies with any field replaced by a wrong type, a huge number, a bad date or
//! deep nesting, or removed, never panic; what validates is sane (a window with its start
//! before its end within the limits, distinct well-formed mailboxes within the limits, an
//! interval, duration, buffers and slot count within theirs), and what does not is a 4xx
//! problem naming a parameter. A validated availability request runs through the slot finder
//! without panicking and gives slots of its duration inside its window. A body cut anywhere is
//! a 400, never a request.
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::fuzz_support::{apply, apply_json, cuts, edits, fragment, json_edits};
use crate::model::{DAY_MS, MINUTE_MS};
use crate::provider::MailboxSchedule;
use crate::slots::Required;

fn freebusy_body() -> Value {
    json!({"mailboxes": ["adele.vance@contoso.com", "room.adams@contoso.com,megan.bowen@contoso.com"],
           "start": "2026-03-23T00:00:00Z", "end": "2026-03-24T00:00:00+01:00", "interval": 30, "details": true, "upstream": "false"})
}

fn availability_body() -> Value {
    json!({"start": "2026-12-07T00:00:00Z", "end": "2026-12-12T00:00:00Z", "duration": 30,
        "participants": [{"mailboxes": ["adele.vance@contoso.com", "megan.bowen@contoso.com"], "required": "all"},
                         {"mailboxes": ["room.adams@contoso.com", "room.baker@contoso.com"], "required": 1}],
        "interval": 15, "timeZone": "Europe/Berlin", "buffer": {"before": 5, "after": 5},
        "workingHours": {"days": ["monday", "tuesday"], "start": "09:00", "end": "17:30", "timeZone": "America/New_York"},
        "tentative": "busy", "maxSlots": 50})
}

fn check_freebusy(r: &Result<FreeBusyRequest, Problem>) -> Result<(), TestCaseError> {
    match r {
        Ok(req) => {
            prop_assert!(req.window.start < req.window.end && req.window.len_ms() <= MAX_WINDOW_DAYS * DAY_MS);
            prop_assert!(!req.mailboxes.is_empty() && req.mailboxes.len() <= MAX_MAILBOXES_PER_REQUEST);
            for (i, m) in req.mailboxes.iter().enumerate() {
                prop_assert!(request::check_address(m).is_ok(), "{m:?}");
                prop_assert!(!req.mailboxes[..i].iter().any(|o| o.eq_ignore_ascii_case(m)), "{m} twice");
            }
            if let Some(n) = req.interval_minutes {
                prop_assert!((crate::view::MIN_INTERVAL_MINUTES..=crate::view::MAX_INTERVAL_MINUTES).contains(&n));
                prop_assert!(i64::from(n) * MINUTE_MS <= req.window.len_ms());
                prop_assert!(req.view_slots().is_some());
            }
            prop_assert!(!req.upstream_view || req.interval_minutes.is_some());
        }
        Err(p) => {
            prop_assert!((400..500).contains(&p.status), "{p:?}");
            prop_assert!(p.status != 400 || !p.invalid_params.is_empty() || !p.detail.is_empty());
        }
    }
    Ok(())
}

fn check_availability(r: &Result<AvailabilityRequest, Problem>) -> Result<(), TestCaseError> {
    let req = match r {
        Err(p) => {
            prop_assert!((400..500).contains(&p.status), "{p:?}");
            return Ok(());
        }
        Ok(req) => req,
    };
    let q = &req.query;
    prop_assert!(q.window.start < q.window.end && q.window.len_ms() <= MAX_AVAILABILITY_DAYS * DAY_MS);
    prop_assert!((5 * MINUTE_MS..=1440 * MINUTE_MS).contains(&q.duration_ms) && q.duration_ms <= q.window.len_ms());
    prop_assert!((5..=1440).contains(&q.interval_minutes));
    prop_assert!((1..=MAX_GROUPS).contains(&q.groups.len()));
    for g in &q.groups {
        prop_assert!(!g.mailboxes.is_empty());
        if let Required::AtLeast(n) = g.required {
            prop_assert!(n >= 1 && n <= g.mailboxes.len());
        }
    }
    prop_assert!(!req.mailboxes.is_empty() && req.mailboxes.len() <= MAX_PARTICIPANTS);
    prop_assert!((0..=MAX_BUFFER_MINUTES * MINUTE_MS).contains(&q.buffer_before_ms));
    prop_assert!((0..=MAX_BUFFER_MINUTES * MINUTE_MS).contains(&q.buffer_after_ms));
    prop_assert!((1..=MAX_SLOTS).contains(&q.max_slots));
    // Downstream: everyone free, the slot finder answers within the window.
    let outcomes = req
        .mailboxes
        .iter()
        .map(|_| Ok(MailboxSchedule { blocks: vec![], working_hours: None, merged_view: None }))
        .collect();
    let resp = answer(req, outcomes);
    prop_assert!(resp.slots.len() <= q.max_slots);
    for s in &resp.slots {
        let (start, end) = (parse_instant_str(&s.start).unwrap(), parse_instant_str(&s.end).unwrap());
        prop_assert!(q.window.start <= start && end <= q.window.end && end - start == q.duration_ms, "{s:?}");
    }
    Ok(())
}

/// Values for query parameters: valid ones and wrong ones.
fn value() -> impl Strategy<Value = String> {
    let odd = vec![
        "a@contoso.com",
        "A@CONTOSO.COM",
        "a@contoso.com,b@contoso.com",
        "a@b",
        "@contoso.com",
        "a@",
        "a@@b.com",
        "a@-x.com",
        "a b@c.com",
        "é@ü.de",
        "🎉@x.io",
        "2026-03-23T00:00:00Z",
        "2026-03-24T00:00:00+01:00",
        "2026-03-23T00:00:00",
        "2026-02-30T00:00:00Z",
        "2026-03-23T24:00:00Z",
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "2026-03-23T00:00:00+23:59",
        "2026-03-23T00:00:00-99:00",
        "2026-03-23T00:00:00.999999999999Z",
        "1",
        "5",
        "1440",
        "1441",
        "0",
        "-30",
        "4294967296",
        "99999999999999999999",
        " 30 ",
        "true",
        "false",
        "1",
        "0",
        "yes",
        "",
        ",",
        ",,,",
    ];
    prop_oneof![
        5 => proptest::sample::select(odd).prop_map(str::to_string),
        1 => fragment(),
        1 => any::<String>(),
        1 => (1usize..1200).prop_map(|n| (0..n).map(|i| format!("u{i}@contoso.com")).collect::<Vec<_>>().join(",")),
    ]
}

fn key() -> impl Strategy<Value = String> {
    let keys = vec![
        "mailboxes",
        "mailbox",
        "start",
        "end",
        "interval",
        "details",
        "upstream",
        "mailboxs",
        "",
        "q",
        "kind",
        "max",
    ];
    prop_oneof![6 => proptest::sample::select(keys).prop_map(str::to_string), 1 => any::<String>()]
}

fn query(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

proptest! {
    #[test]
    fn arbitrary_query_strings_never_panic(text in any::<String>()) {
        check_freebusy(&parse_query_string(&text))?;
        let _ = parse_directory_query(&text);
    }

    #[test]
    fn query_strings_with_wrong_values_never_panic_and_validate_sanely(
        base in proptest::collection::vec((key(), value()), 0..10),
        valid in any::<bool>(),
    ) {
        let mut pairs: Vec<(String, String)> = if valid {
            [("mailboxes", "a@contoso.com"), ("start", "2026-03-23T00:00:00Z"), ("end", "2026-03-24T00:00:00Z")]
                .iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        } else {
            Vec::new()
        };
        pairs.extend(base);
        let q = query(&pairs);
        check_freebusy(&parse_query_string(&q))?;
        if let Ok(d) = parse_directory_query(&q) {
            prop_assert!(!d.prefix.is_empty() && d.prefix.chars().count() <= 64 && (1..=MAX_DIRECTORY_RESULTS).contains(&d.max));
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), content_type in proptest::option::of(any::<String>())) {
        check_freebusy(&parse_json_body(content_type.as_deref(), &body))?;
        check_freebusy(&parse_json_body(Some("application/json"), &body))?;
        check_availability(&parse_availability_body(Some("application/json"), &body))?;
    }

    #[test]
    fn edited_freebusy_bodies_never_panic_and_validate_sanely(edits in json_edits(), bytes in proptest::option::of(edits())) {
        let mut body = serde_json::to_vec(&apply_json(&freebusy_body(), &edits)).unwrap();
        if let Some(bytes) = bytes {
            body = apply(&body, &bytes);
        }
        check_freebusy(&parse_json_body(Some("application/json; charset=utf-8"), &body))?;
    }

    #[test]
    fn edited_availability_bodies_never_panic_and_validate_sanely(edits in json_edits(), bytes in proptest::option::of(edits())) {
        let mut body = serde_json::to_vec(&apply_json(&availability_body(), &edits)).unwrap();
        if let Some(bytes) = bytes {
            body = apply(&body, &bytes);
        }
        check_availability(&parse_availability_body(Some("application/json"), &body))?;
    }

    #[test]
    fn availability_bodies_with_numbers_at_the_edges_validate_sanely(
        duration in prop_oneof![5i64..=1440, any::<i64>()], interval in prop_oneof![5i64..=1440, any::<i64>()],
        before in prop_oneof![0i64..=240, any::<i64>()], max_slots in prop_oneof![1i64..=1000, any::<i64>()],
        required in prop_oneof![Just(json!("all")), (0u64..4).prop_map(Value::from), any::<u64>().prop_map(Value::from), Just(json!(-1)), Just(json!(1.5))],
        days in 1i64..40, zone in proptest::sample::select(vec!["UTC", "Europe/Berlin", "Pacific/Apia", "Mars/Olympus", "America/Sao_Paulo"]),
    ) {
        let mut body = availability_body();
        body["duration"] = json!(duration);
        body["interval"] = json!(interval);
        body["buffer"]["before"] = json!(before);
        body["maxSlots"] = json!(max_slots);
        body["participants"][1]["required"] = required;
        body["timeZone"] = json!(zone);
        body["workingHours"] = json!("participants");
        body["end"] = json!(format_instant(parse_instant_str("2026-12-07T00:00:00Z").unwrap() + days * DAY_MS));
        check_availability(&parse_availability_body(Some("application/json"), body.to_string().as_bytes()))?;
    }
}

#[test]
fn every_cut_of_a_body_is_a_400() {
    let text = serde_json::to_string_pretty(&freebusy_body()).unwrap();
    assert!(parse_json_body(Some("application/json"), text.as_bytes()).is_ok());
    for cut in cuts(&text) {
        assert_eq!(parse_json_body(Some("application/json"), cut.as_bytes()).unwrap_err().status, 400);
    }
    let text = serde_json::to_string_pretty(&availability_body()).unwrap();
    assert!(parse_availability_body(Some("application/json"), text.as_bytes()).is_ok());
    for cut in cuts(&text) {
        assert_eq!(parse_availability_body(Some("application/json"), cut.as_bytes()).unwrap_err().status, 400);
    }
}

#[test]
fn working_hours_of_a_thousand_hours_are_a_400_not_an_overflow() {
    for start in ["65535:00", "1093:00", "24:65535", "24:01"] {
        let mut body = availability_body();
        body["workingHours"]["start"] = json!(start);
        let p = parse_availability_body(Some("application/json"), body.to_string().as_bytes()).unwrap_err();
        assert!(p.invalid_params.iter().any(|i| i.name == "workingHours"), "{start}: {p:?}");
    }
}
