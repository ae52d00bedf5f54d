//! Structured fuzzing of the iCalendar free/busy a CalDAV server answers (`busy_periods`, in both
//! shapes: `FREEBUSY` lines and Radicale's one `VFREEBUSY` per period), and of its DATE-TIME,
//! DURATION and PERIOD values and TZIDs.
//!
//! Arbitrary text and iCalendar soup never panic. The answers of the unit tests (RFC 6638
//! appendix B.5, Radicale 3.5), edited anywhere, never panic, and a template of them with each
//! value drawn from valid ones and wrong ones (durations of 10^14 weeks, negative durations,
//! times at year 9999 and 0000, unknown and Mozilla-prefixed TZIDs, Windows zone names, odd
//! FBTYPEs, unicode) never panics; where it reads, every period starts before it ends. Generated
//! periods read back exactly (FREE ones left out); local times in any zone, in DST gaps and
//! overlaps, read within a day of the same wall-clock time in UTC. A document cut before its
//! last line is an error, never fewer busy periods.
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use freebusy_provider_sdk::types::Availability;
use proptest::prelude::*;

use super::{busy_periods, duration, instant, period};
use crate::fuzz_support::{apply_str, cuts, edits, fragment};

const STANDARD: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VFREEBUSY\r\nDTSTART:20260323T000000Z\r\nDTEND:20260324T000000Z\r\n\
FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20260323T060000Z/20260323T080000Z\r\nFREEBUSY:20260323T090000Z/PT1H,20260323T1\r\n 10000Z/20260323T113000Z\r\n\
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260323T150000Z/PT30M\r\nFREEBUSY;FBTYPE=FREE:20260323T160000Z/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";

const RADICALE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VFREEBUSY\r\nDTSTART:20260326T000000Z\r\nDTEND:20260327T000000Z\r\nFBTYPE:BUSY\r\nEND:VFREEBUSY\r\n\
BEGIN:VFREEBUSY\r\nDTSTART;TZID=Europe/Berlin:20260330T090000\r\nDTEND;TZID=Europe/Berlin:20260330T093000\r\nFBTYPE:BUSY-TENTATIVE\r\nEND:VFREEBUSY\r\n\
BEGIN:VFREEBUSY\r\nDTSTART:20260327T100000Z\r\nDTEND:20260327T110000Z\r\nFBTYPE:FREE\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";

const TZID: &str = "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nFREEBUSY;TZID=\"W. Europe Standard Time\":20261026T090000/20261026T100000\r\n\
FREEBUSY;TZID=/mozilla.org/20070129_1/America/New_York:20260323T090000/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";

const SEEDS: &[&str] = &[STANDARD, RADICALE, TZID];

fn check_sane(text: &str) -> Result<(), TestCaseError> {
    if let Ok(periods) = busy_periods(text) {
        for p in &periods {
            prop_assert!(p.start < p.end, "{p:?}");
            prop_assert!(p.block().start < p.block().end);
        }
    }
    Ok(())
}

fn pick(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![4 => proptest::sample::select(values).prop_map(str::to_string), 1 => fragment()]
}

fn utc_time() -> impl Strategy<Value = String> {
    pick(&[
        "20260323T090000Z",
        "20260323T090000",
        "20260323",
        "99991231T235959Z",
        "00000101T000000Z",
        "20260229T000000Z",
        "20260230T000000Z",
        "20260323T250000Z",
        "20260323T0900Z",
        "+20260323T090000Z",
        "2026-03-23T09:00:00Z",
        "",
        "Z",
    ])
}

fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => pick(&["PT1H", "P1D", "P1W", "P1DT2H30M", "PT0S", "P", "PT", "P1Y", "-PT1H", "+PT1H", "P-1D", "PT1H1H",
            "P99999999999999W", "P15250284452471W", "P106751991167300D", "PT2562047788015215H", "PT9223372036854775807S",
            "P10000000W", "P1W1W1W1W", "PT1.5H", "P1T", "P١D"]),
        1 => (any::<u64>(), proptest::sample::select(vec!["W", "D", "TH", "TM", "TS"]))
            .prop_map(|(n, u)| if let Some(u) = u.strip_prefix('T') { format!("PT{n}{u}") } else { format!("P{n}{u}") }),
    ]
}

fn tzid() -> impl Strategy<Value = String> {
    pick(&[
        "",
        ";TZID=Europe/Berlin",
        ";TZID=\"Europe/Berlin\"",
        ";TZID=/mozilla.org/20070129_1/America/New_York",
        ";TZID=/freeassociation.sourceforge.net/Tzfile/Europe/Berlin",
        ";TZID=W. Europe Standard Time",
        ";TZID=\"W. Europe Standard Time\"",
        ";TZID=Mars/Olympus",
        ";TZID=",
        ";TZID=\"",
        ";TZID=//////",
        ";TZID=Etc/GMT+14",
    ])
}

fn fbtype() -> impl Strategy<Value = String> {
    pick(&[
        "",
        ";FBTYPE=BUSY",
        ";FBTYPE=FREE",
        ";FBTYPE=busy-tentative",
        ";FBTYPE=BUSY-UNAVAILABLE",
        ";FBTYPE=X-OUT",
        ";FBTYPE=",
    ])
}

prop_compose! {
    /// One FREEBUSY line and one Radicale-style VFREEBUSY with drawn values.
    fn templated()(s1 in utc_time(), e1 in prop_oneof![utc_time(), duration_text()], tz1 in tzid(), fb1 in fbtype(),
                   s2 in utc_time(), e2 in utc_time(), tz2 in tzid(), kind in pick(&["BUSY", "FREE", "BUSY-TENTATIVE", "", "x"]),
                   extra in proptest::collection::vec((utc_time(), duration_text()), 0..3)) -> String {
        let more: String = extra.iter().map(|(s, d)| format!(",{s}/{d}")).collect();
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VFREEBUSY\r\nFREEBUSY{fb1}{tz1}:{s1}/{e1}{more}\r\nEND:VFREEBUSY\r\n\
BEGIN:VFREEBUSY\r\nDTSTART{tz2}:{s2}\r\nDTEND{tz2}:{e2}\r\nFBTYPE:{kind}\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n")
    }
}

fn ical(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check_sane(&text)?;
    }

    #[test]
    fn icalendar_soup_never_panics(parts in proptest::collection::vec(fragment(), 0..60)) {
        check_sane(&format!("BEGIN:VCALENDAR\r\n{}", parts.concat()))?;
    }

    #[test]
    fn edited_answers_never_panic(seed in proptest::sample::select(SEEDS), edits in edits()) {
        check_sane(&apply_str(seed, &edits))?;
    }

    #[test]
    fn answers_with_wrong_values_never_panic(text in templated()) {
        check_sane(&text)?;
    }

    #[test]
    fn values_never_panic(value in prop_oneof![duration_text(), utc_time(), any::<String>()], tz in proptest::option::of(pick(&["Europe/Berlin", "Mars/Olympus", "Pacific/Apia"]))) {
        let _ = duration(&value);
        let _ = instant(&value, tz.as_deref());
        let _ = period(&format!("20260323T090000Z/{value}"), tz.as_deref());
        let _ = period(&format!("{value}/PT1H"), tz.as_deref());
        let _ = period(&format!("99991231T235959Z/{value}"), tz.as_deref());
    }

    #[test]
    fn generated_periods_read_back_exactly(
        periods in proptest::collection::vec((0i64..100_000, 1i64..20_000, 0usize..4, 0usize..3), 0..10),
        radicale in any::<bool>(),
    ) {
        const KINDS: [(&str, Option<Availability>); 4] = [("BUSY", Some(Availability::Busy)), ("BUSY-TENTATIVE", Some(Availability::Tentative)),
            ("BUSY-UNAVAILABLE", Some(Availability::OutOfOffice)), ("FREE", None)];
        let base = NaiveDate::from_ymd_opt(2026, 3, 23).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
        let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
        let mut want = Vec::new();
        for (start_min, len_min, kind, form) in &periods {
            let (start, end) = (base + Duration::minutes(*start_min), base + Duration::minutes(start_min + len_min));
            let (d, h, m) = (len_min / 1440, len_min % 1440 / 60, len_min % 60);
            let value = match form {
                0 => format!("{}/{}", ical(start), ical(end)),
                1 => format!("{}/P{d}DT{h}H{m}M", ical(start)),
                _ => format!("{}/PT{}S", ical(start), len_min * 60),
            };
            if radicale {
                text.push_str(&format!("BEGIN:VFREEBUSY\r\nDTSTART:{}\r\nDTEND:{}\r\nFBTYPE:{}\r\nEND:VFREEBUSY\r\n", ical(start), ical(end), KINDS[*kind].0));
            } else {
                text.push_str(&format!("BEGIN:VFREEBUSY\r\nFREEBUSY;FBTYPE={}:{value}\r\nEND:VFREEBUSY\r\n", KINDS[*kind].0));
            }
            if let Some(status) = KINDS[*kind].1 {
                want.push((start, end, status));
            }
        }
        text.push_str("END:VCALENDAR\r\n");
        let got: Vec<_> = busy_periods(&text).unwrap().into_iter().map(|p| (p.start, p.end, p.status)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn local_times_read_within_a_day_of_their_wall_clock(
        zone in proptest::sample::select(vec!["Europe/Berlin", "America/Sao_Paulo", "America/Havana", "Australia/Lord_Howe",
            "Pacific/Apia", "Pacific/Kiritimati", "America/Adak", "Asia/Kathmandu", "Africa/Casablanca", "Antarctica/Troll"]),
        day in 0i64..(20 * 366),
        minute in 0i64..1440,
    ) {
        let local = NaiveDate::from_ymd_opt(2010, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
            + Duration::days(day) + Duration::minutes(minute);
        let t = instant(&local.format("%Y%m%dT%H%M%S").to_string(), Some(zone)).unwrap();
        prop_assert!((t.naive_utc() - local).num_hours().abs() <= 24, "{zone} {local} read as {t}");
    }
}

#[test]
fn every_cut_before_the_last_line_is_an_error() {
    for seed in SEEDS {
        assert!(!busy_periods(seed).unwrap().is_empty(), "{seed}");
        let last_line = seed.trim_end().rfind("END:VCALENDAR").unwrap();
        for cut in cuts(seed).filter(|c| c.len() < last_line) {
            assert!(busy_periods(cut).is_err(), "an answer cut after {} bytes read: {cut:?}", cut.len());
        }
    }
}

#[test]
fn durations_beyond_chronos_range_are_errors_not_panics() {
    for d in [
        "P99999999999999W",
        "P15250284452471W",
        "PT9223372036854775807S",
        "P1W999999999999999D",
        "P106751991167300DT24H",
    ] {
        assert!(duration(d).is_err(), "{d}");
    }
    let text = "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nFREEBUSY:20260323T090000Z/P99999999999999W\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    assert!(busy_periods(text).is_err());
}

#[test]
fn a_period_ending_past_the_last_representable_year_is_an_error_not_a_panic() {
    assert!(period("99991231T235959Z/P14000000W", None).is_err());
    assert_eq!(duration("P14000000W").unwrap(), Duration::weeks(14_000_000));
}
