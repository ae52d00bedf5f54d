//! Structured fuzzing of EWS GetUserAvailability answers, read as `call` reads them after the
//! SOAP POST: the envelope, its Body (a fault fails the call), one FreeBusyResponse per asked
//! mailbox, each mailbox's events, merged string and working hours with the zone recognised
//! from its rules.
//!
//! Arbitrary bytes never panic. Microsoft's documented answer with its text edited anywhere
//! never panics; a template of that answer with each field drawn from valid values and from
//! wrong ones (huge numbers, negative biases, times like `4294967295:00`, bad dates, unknown
//! days and view types, odd unicode) never panics and, where it reads, loses no event, keeps
//! views in the contract's alphabet, working hours within 0..=1440, and private events without
//! subjects. Generated answers read back exactly; a MergedOnly string becomes one block per
//! slot that is not free. A document cut anywhere is an error, not a partial "free" answer.
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use freebusy_provider_sdk::types::*;
use freebusy_provider_sdk::xml::{parse, Node};
use proptest::prelude::*;

use super::{blocks_from_view, mailbox_schedule, time, working_hours, zone_name, Slots};
use crate::fuzz_support::{apply, cuts, edits};

const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
/// 2026-03-23T00:00:00Z, the window's start; slots of 30 minutes.
const START: i64 = 1_774_224_000_000;
const SLOTS: Slots = Slots { start: START, interval_ms: 1_800_000, want_string: true };

/// The fields of the answer template.
#[derive(Debug, Clone)]
struct Fields {
    start: String,
    end: String,
    busy_type: String,
    private: String,
    view_type: String,
    merged: String,
    bias: String,
    rule_bias: String,
    rule_time: String,
    day_order: String,
    month: String,
    day_of_week: String,
    days: String,
    start_minutes: String,
    end_minutes: String,
    response_class: String,
}

impl Fields {
    fn valid() -> Fields {
        let s = |v: &str| v.to_string();
        Fields {
            start: s("2026-03-23T09:00:00"),
            end: s("2026-03-23T10:00:00"),
            busy_type: s("Busy"),
            private: s("false"),
            view_type: s("DetailedMerged"),
            merged: s("0000000000000000002200000000000000000000000000000"),
            bias: s("480"),
            rule_bias: s("-60"),
            rule_time: s("02:00:00"),
            day_order: s("2"),
            month: s("3"),
            day_of_week: s("Sunday"),
            days: s("Monday Tuesday Wednesday Thursday Friday"),
            start_minutes: s("480"),
            end_minutes: s("1020"),
            response_class: s("Success"),
        }
    }

    /// Microsoft's example answer
    /// (https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation)
    /// with these fields: a detailed mailbox, a MergedOnly one, one that does not exist.
    fn render(&self) -> String {
        let x = |v: &str| v.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="20" MajorBuildNumber="5" MinorBuildNumber="0" xmlns:h="{TYPES}"/></s:Header>
<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><GetUserAvailabilityResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><FreeBusyResponseArray>
<FreeBusyResponse><ResponseMessage ResponseClass="{rc}"><ResponseCode>NoError</ResponseCode></ResponseMessage><FreeBusyView>
  <FreeBusyViewType xmlns="{TYPES}">{vt}</FreeBusyViewType><MergedFreeBusy xmlns="{TYPES}">{merged}</MergedFreeBusy>
  <CalendarEventArray xmlns="{TYPES}">
    <CalendarEvent><StartTime>{start}</StartTime><EndTime>{end}</EndTime><BusyType>{bt}</BusyType><CalendarEventDetails><ID>00000000</ID><Subject>Planning &amp; review</Subject><Location>Room 1</Location><IsMeeting>true</IsMeeting><IsRecurring>false</IsRecurring><IsException>false</IsException><IsReminderSet>true</IsReminderSet><IsPrivate>{private}</IsPrivate></CalendarEventDetails></CalendarEvent>
    <CalendarEvent><StartTime>2026-03-23T13:00:00</StartTime><EndTime>2026-03-23T14:30:00</EndTime><BusyType>Tentative</BusyType></CalendarEvent>
  </CalendarEventArray>
  <WorkingHours xmlns="{TYPES}"><TimeZone><Bias>{bias}</Bias><StandardTime><Bias>0</Bias><Time>02:00:00</Time><DayOrder>1</DayOrder><Month>11</Month><DayOfWeek>Sunday</DayOfWeek></StandardTime><DaylightTime><Bias>{rb}</Bias><Time>{rt}</Time><DayOrder>{order}</DayOrder><Month>{month}</Month><DayOfWeek>{dow}</DayOfWeek></DaylightTime></TimeZone>
    <WorkingPeriodArray><WorkingPeriod><DayOfWeek>{days}</DayOfWeek><StartTimeInMinutes>{sm}</StartTimeInMinutes><EndTimeInMinutes>{em}</EndTimeInMinutes></WorkingPeriod></WorkingPeriodArray></WorkingHours>
</FreeBusyView></FreeBusyResponse>
<FreeBusyResponse><ResponseMessage ResponseClass="Success"><ResponseCode>NoError</ResponseCode></ResponseMessage><FreeBusyView><FreeBusyViewType xmlns="{TYPES}">MergedOnly</FreeBusyViewType><MergedFreeBusy xmlns="{TYPES}">{merged}</MergedFreeBusy></FreeBusyView></FreeBusyResponse>
<FreeBusyResponse><ResponseMessage ResponseClass="Error"><MessageText>No mailbox with such guid.</MessageText><ResponseCode>ErrorMailRecipientNotFound</ResponseCode><DescriptiveLinkKey>0</DescriptiveLinkKey></ResponseMessage><FreeBusyView><FreeBusyViewType xmlns="{TYPES}">None</FreeBusyViewType></FreeBusyView></FreeBusyResponse>
</FreeBusyResponseArray></GetUserAvailabilityResponse></s:Body></s:Envelope>
"#,
            rc = x(&self.response_class),
            vt = x(&self.view_type),
            merged = x(&self.merged),
            start = x(&self.start),
            end = x(&self.end),
            bt = x(&self.busy_type),
            private = x(&self.private),
            bias = x(&self.bias),
            rb = x(&self.rule_bias),
            rt = x(&self.rule_time),
            order = x(&self.day_order),
            month = x(&self.month),
            dow = x(&self.day_of_week),
            days = x(&self.days),
            sm = x(&self.start_minutes),
            em = x(&self.end_minutes),
        )
    }
}

/// Numbers at and beyond every edge the rules and periods are read with.
fn number() -> impl Strategy<Value = String> {
    let edges = vec![
        "0",
        "1",
        "-1",
        "5",
        "-5",
        "12",
        "13",
        "60",
        "-60",
        "480",
        "-840",
        "1440",
        "1441",
        "1500",
        "65535",
        "65536",
        "2147483647",
        "-2147483648",
        "2147483648",
        "4294967295",
        "4294967296",
        "99999999999999999999",
        "+5",
        " 5 ",
        "1e3",
        "0x10",
        "",
        "١٢",
    ];
    prop_oneof![
        4 => proptest::sample::select(edges).prop_map(str::to_string),
        2 => any::<i32>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<String>(),
    ]
}

fn clock() -> impl Strategy<Value = String> {
    let odd = vec![
        "02:00:00",
        "00:00",
        "23:59:59",
        "24:00:00",
        "25:00",
        "02:60:00",
        "4294967295:00",
        "71582789:00",
        "-1:00",
        ":",
        "02",
        "",
    ];
    prop_oneof![
        2 => proptest::sample::select(odd).prop_map(str::to_string),
        1 => (any::<u32>(), any::<u32>()).prop_map(|(h, m)| format!("{h}:{m}:00")),
        1 => any::<String>(),
    ]
}

fn date_time() -> impl Strategy<Value = String> {
    let odd = vec![
        "2026-03-23T09:00:00",
        "2026-03-23T09:00:00Z",
        "2026-03-23T09:00:00-07:00",
        "2026-03-23T09:00:00.1234567",
        "2026-02-30T09:00:00",
        "2026-03-23T25:00:00",
        "9999-12-31T23:59:59",
        "+262143-12-31T23:59:59",
        "0000-01-01T00:00:00",
        "2026-03-23T09:00:00+99:99",
        "13/02/2014",
        "",
        "2026-03-23",
    ];
    prop_oneof![
        3 => proptest::sample::select(odd).prop_map(str::to_string),
        1 => "[0-9+-]{1,7}-[0-9]{1,2}-[0-9]{1,2}T[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\\.[0-9]{0,10})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        1 => any::<String>(),
    ]
}

fn pick(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![3 => proptest::sample::select(values).prop_map(str::to_string), 1 => any::<String>()]
}

prop_compose! {
    fn fields()(
        start in date_time(), end in date_time(),
        busy_type in pick(&["Free", "Tentative", "Busy", "OOF", "WorkingElsewhere", "NoData", "busy"]),
        private in pick(&["true", "false", "TRUE", "1"]),
        view_type in pick(&["None", "MergedOnly", "FreeBusy", "FreeBusyMerged", "Detailed", "DetailedMerged", " MergedOnly "]),
        merged in prop_oneof!["[0-4]{0,60}", any::<String>()],
        bias in number(), rule_bias in number(), rule_time in clock(), day_order in number(), month in number(),
        day_of_week in pick(&["Sunday", "sunday", "Sun", "Funday", "Monday Tuesday", "Everyday"]),
        days in pick(&["Monday Tuesday Wednesday Thursday Friday", "Sunday Saturday", "Weekday", "Monday  Monday", "Everyday"]),
        start_minutes in number(), end_minutes in number(),
        response_class in pick(&["Success", "Warning", "Error"]),
        // Which fields keep their valid value: most of them, so that each wrong one is reached.
        keep in proptest::collection::vec(proptest::bool::weighted(0.7), 16),
    ) -> Fields {
        let v = Fields::valid();
        let k = |i: usize, valid: String, odd: String| if keep[i] { valid } else { odd };
        Fields {
            start: k(0, v.start, start), end: k(1, v.end, end), busy_type: k(2, v.busy_type, busy_type),
            private: k(3, v.private, private), view_type: k(4, v.view_type, view_type), merged: k(5, v.merged, merged),
            bias: k(6, v.bias, bias), rule_bias: k(7, v.rule_bias, rule_bias), rule_time: k(8, v.rule_time, rule_time),
            day_order: k(9, v.day_order, day_order), month: k(10, v.month, month), day_of_week: k(11, v.day_of_week, day_of_week),
            days: k(12, v.days, days), start_minutes: k(13, v.start_minutes, start_minutes),
            end_minutes: k(14, v.end_minutes, end_minutes), response_class: k(15, v.response_class, response_class),
        }
    }
}

/// What `call` makes of an answer to a question about `asked` mailboxes.
fn answer(body: &[u8], asked: usize, details: bool) -> Result<Vec<Result<MailboxSchedule, MailboxError>>, String> {
    let root = parse(body)?;
    let body = root.child("Body").ok_or("no SOAP Body")?;
    if body.child("Fault").is_some() {
        return Err("a SOAP fault".into());
    }
    let responses: Vec<&Node> = body
        .path(&["GetUserAvailabilityResponse", "FreeBusyResponseArray"])
        .map(|a| a.all("FreeBusyResponse").collect())
        .unwrap_or_default();
    if responses.len() != asked {
        return Err(format!("{} answers for {asked} mailboxes", responses.len()));
    }
    Ok(responses.into_iter().map(|r| mailbox_schedule(r, details, &SLOTS)).collect())
}

fn check_sane(body: &[u8], outcomes: &[Result<MailboxSchedule, MailboxError>]) -> Result<(), TestCaseError> {
    let root = parse(body).unwrap();
    let responses: Vec<&Node> = root
        .path(&["Body", "GetUserAvailabilityResponse", "FreeBusyResponseArray"])
        .map(|a| a.all("FreeBusyResponse").collect())
        .unwrap_or_default();
    for (r, outcome) in responses.iter().zip(outcomes) {
        let Ok(s) = outcome else { continue };
        let view = r.child("FreeBusyView").unwrap();
        let merged_only = view.text_at(&["FreeBusyViewType"]) == Some("MergedOnly");
        if !merged_only {
            let events = view.child("CalendarEventArray").map_or(0, |a| a.all("CalendarEvent").count());
            prop_assert_eq!(s.blocks.len(), events, "an event was lost");
        }
        for b in &s.blocks {
            prop_assert!(
                !b.is_private || (b.subject.is_none() && b.location.is_none()),
                "a private event kept its subject"
            );
        }
        if let Some(v) = &s.merged_view {
            prop_assert!(v.chars().all(|c| "0123?".contains(c)), "view {v:?}");
        }
        if let Some(wh) = &s.working_hours {
            prop_assert!(
                wh.start_minute <= 1440 && wh.end_minute <= 1440,
                "working hours {}..{}",
                wh.start_minute,
                wh.end_minute
            );
            prop_assert!(!wh.time_zone.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), details in any::<bool>()) {
        if let Ok(outcomes) = answer(&body, 1, details) {
            check_sane(&body, &outcomes)?;
        }
    }

    #[test]
    fn edited_answer_text_never_panics(edits in edits(), details in any::<bool>()) {
        let body = apply(Fields::valid().render().as_bytes(), &edits);
        if let Ok(outcomes) = answer(&body, 3, details) {
            check_sane(&body, &outcomes)?;
        }
    }

    #[test]
    fn answers_with_wrong_fields_never_panic_and_stay_sane(f in fields(), details in any::<bool>()) {
        let body = f.render();
        let outcomes = answer(body.as_bytes(), 3, details).map_err(|e| TestCaseError::fail(format!("{e}: {f:?}")))?;
        check_sane(body.as_bytes(), &outcomes)?;
        // The unknown mailbox is an error, never free.
        prop_assert!(matches!(outcomes[2], Err(MailboxError::NotFound(_))));
    }

    #[test]
    fn generated_events_read_back_exactly(
        events in proptest::collection::vec((0i64..1440, 0i64..600, 0usize..6, any::<bool>()), 0..10),
        details in any::<bool>(),
    ) {
        const TYPES_: [(&str, Availability); 6] = [("Free", Availability::Free), ("Tentative", Availability::Tentative),
            ("Busy", Availability::Busy), ("OOF", Availability::OutOfOffice), ("WorkingElsewhere", Availability::WorkingElsewhere),
            ("NoData", Availability::Unknown)];
        let at = |min: i64| chrono::DateTime::from_timestamp_millis(START + min * 60_000).unwrap().format("%Y-%m-%dT%H:%M:%S").to_string();
        let xml: String = events.iter().map(|(s, l, t, p)| format!(
            "<CalendarEvent><StartTime>{}</StartTime><EndTime>{}</EndTime><BusyType>{}</BusyType><CalendarEventDetails><Subject>S{s}</Subject><IsPrivate>{p}</IsPrivate></CalendarEventDetails></CalendarEvent>",
            at(*s), at(s + l), TYPES_[*t].0)).collect();
        let doc = format!("<FreeBusyResponse><FreeBusyView><FreeBusyViewType>Detailed</FreeBusyViewType><CalendarEventArray>{xml}</CalendarEventArray></FreeBusyView></FreeBusyResponse>");
        let s = mailbox_schedule(&parse(doc.as_bytes()).unwrap(), details, &SLOTS).unwrap();
        prop_assert_eq!(s.blocks.len(), events.len());
        for (b, (st, l, t, p)) in s.blocks.iter().zip(&events) {
            prop_assert_eq!((b.start, b.end), (START + st * 60_000, START + (st + l) * 60_000));
            prop_assert_eq!(b.status, TYPES_[*t].1);
            prop_assert_eq!(b.subject.clone(), (details && !p).then(|| format!("S{st}")));
        }
    }

    #[test]
    fn a_merged_string_becomes_one_block_per_busy_slot(view in "[0-4?x]{0,200}") {
        let blocks = blocks_from_view(&view, &SLOTS);
        prop_assert_eq!(blocks.len(), view.chars().filter(|c| *c != '0').count());
        for b in &blocks {
            prop_assert!(b.start >= START && b.end - b.start == SLOTS.interval_ms && (b.start - START) % SLOTS.interval_ms == 0);
        }
    }

    #[test]
    fn times_never_panic(text in date_time()) {
        let _ = time(Some(&text));
    }

    #[test]
    fn zone_rules_never_panic(bias in number(), std_bias in number(), dst_bias in number(), t1 in clock(), t2 in clock(),
                              o1 in number(), o2 in number(), m1 in number(), m2 in number()) {
        let rule = |b: &str, t: &str, o: &str, m: &str| format!(
            "<Bias>{b}</Bias><Time>{t}</Time><DayOrder>{o}</DayOrder><Month>{m}</Month><DayOfWeek>Sunday</DayOfWeek>");
        let x = |v: &str| v.replace('&', "&amp;").replace('<', "&lt;");
        let xml = format!("<TimeZone><Bias>{}</Bias><StandardTime>{}</StandardTime><DaylightTime>{}</DaylightTime></TimeZone>",
            x(&bias), rule(&x(&std_bias), &x(&t1), &x(&o1), &x(&m1)), rule(&x(&dst_bias), &x(&t2), &x(&o2), &x(&m2)));
        if let Ok(tz) = parse(xml.as_bytes()) {
            let _ = zone_name(&tz);
        }
    }
}

#[test]
fn every_cut_of_an_answer_is_an_error() {
    let text = Fields::valid().render();
    let whole = answer(text.as_bytes(), 3, true).unwrap();
    let first = whole[0].as_ref().unwrap();
    assert_eq!(first.blocks.len(), 2);
    assert_eq!(first.working_hours.as_ref().unwrap().time_zone, "America/Los_Angeles");
    assert_eq!(whole[1].as_ref().unwrap().blocks.len(), 2, "MergedOnly: two busy slots");
    for cut in cuts(&text) {
        assert!(answer(cut.as_bytes(), 3, true).is_err(), "an answer cut after {} bytes parsed", cut.len());
    }
}

#[test]
fn working_hours_without_a_zone_are_left_out() {
    let wh = parse(b"<WorkingHours><WorkingPeriodArray><WorkingPeriod><DayOfWeek>Monday</DayOfWeek><StartTimeInMinutes>480</StartTimeInMinutes><EndTimeInMinutes>1020</EndTimeInMinutes></WorkingPeriod></WorkingPeriodArray></WorkingHours>").unwrap();
    assert!(working_hours(&wh).is_none());
}

fn pacific(bias: &str, time: &str) -> Option<String> {
    let xml = format!("<TimeZone><Bias>{bias}</Bias><StandardTime><Bias>0</Bias><Time>02:00:00</Time><DayOrder>1</DayOrder><Month>11</Month><DayOfWeek>Sunday</DayOfWeek></StandardTime><DaylightTime><Bias>-60</Bias><Time>{time}</Time><DayOrder>2</DayOrder><Month>3</Month><DayOfWeek>Sunday</DayOfWeek></DaylightTime></TimeZone>");
    zone_name(&parse(xml.as_bytes()).unwrap())
}

#[test]
fn a_transition_time_of_millions_of_hours_is_unreadable_not_an_overflow() {
    assert_eq!(pacific("480", "02:00:00").as_deref(), Some("America/Los_Angeles"));
    for time in ["71582789:00", "4294967295:00", "71433903:8933116:00", "24:00:00", "02:60:00"] {
        assert_eq!(pacific("480", time), None, "{time}");
    }
}

#[test]
fn biases_at_the_ends_of_i32_are_unreadable_not_an_overflow() {
    for bias in ["2147483647", "-2147483648", "1441", "-1441"] {
        assert_eq!(pacific(bias, "02:00:00"), None, "{bias}");
    }
}

#[test]
fn working_hours_past_midnight_are_left_out() {
    let hours = |start: &str, end: &str| {
        let mut f = Fields::valid();
        (f.start_minutes, f.end_minutes) = (start.into(), end.into());
        answer(f.render().as_bytes(), 3, false).unwrap()[0].as_ref().unwrap().working_hours.clone()
    };
    assert_eq!(hours("480", "1440").map(|w| (w.start_minute, w.end_minute)), Some((480, 1440)));
    assert!(hours("480", "65535").is_none());
    assert!(hours("1441", "1500").is_none());
}
