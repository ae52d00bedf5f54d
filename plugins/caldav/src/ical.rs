//! Busy periods out of the iCalendar a CalDAV server answers with (RFC 5545 §3.6.4 `VFREEBUSY`),
//! and the `VFREEBUSY` request a scheduling outbox takes (RFC 6638 §6.1).
//!
//! Servers answer in two shapes, and both are read:
//! - the standard one (RFC 4791 §7.10, RFC 6638 appendix B.5): one `VFREEBUSY` spanning the
//!   query window with `FREEBUSY;FBTYPE=...:start/end,start/end` properties (Xandikos, Cyrus,
//!   SabreDAV);
//! - one `VFREEBUSY` per busy period, its `DTSTART`/`DTEND` being the period and `FBTYPE` a
//!   property of the component (Radicale 3.x, radicale/app/report.py `free_busy_report`).
//!
//! `FREEBUSY` values are UTC by RFC 5545 §3.8.2.6, but some servers send local times with a
//! `TZID` parameter, and Radicale's per-period `DTSTART` carries the event's own `TZID`. A TZID is
//! resolved as an IANA name (also with Mozilla's `/mozilla.org/.../` prefix) or a Windows name;
//! one that is neither makes the mailbox unreadable (never free).
//!
//! The lines themselves (folding, parameters, quoting) are parsed by the `ical` crate.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use freebusy_provider_sdk::types::{Availability, BusyBlock};
use ical::parser::ical::component::IcalCalendar;
use ical::property::Property;

/// A busy period with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: Availability,
}

impl Period {
    pub fn block(&self) -> BusyBlock {
        BusyBlock {
            start: self.start.timestamp_millis(),
            end: self.end.timestamp_millis(),
            status: self.status,
            subject: None,
            location: None,
            is_private: false,
        }
    }
}

/// How an `FBTYPE` (RFC 5545 §3.2.9) maps to the contract's statuses; `None` for `FREE`.
///
/// | FBTYPE             | availability    | why |
/// |--------------------|-----------------|-----|
/// | `BUSY` (default)   | busy            | |
/// | `BUSY-TENTATIVE`   | tentative       | |
/// | `BUSY-UNAVAILABLE` | out-of-office   | "busy and unavailable for scheduling": the closest iCalendar has |
/// | `FREE`             | (no block)      | Radicale reports cancelled events as `FREE` |
/// | anything else      | busy            | RFC 5545 §3.2.9: unrecognised values MUST be treated as `BUSY` |
pub(crate) fn fbtype(value: Option<&str>) -> Option<Availability> {
    match value.map(|v| v.trim().to_ascii_uppercase()).as_deref() {
        None | Some("BUSY") => Some(Availability::Busy),
        Some("BUSY-TENTATIVE") => Some(Availability::Tentative),
        Some("BUSY-UNAVAILABLE") => Some(Availability::OutOfOffice),
        Some("FREE") => None,
        Some(_) => Some(Availability::Busy),
    }
}

fn param<'a>(p: &'a Property, name: &str) -> Option<&'a str> {
    p.params
        .as_ref()?
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, values)| values.first())
        .map(|v| v.trim_matches('"'))
}

/// A `TZID` as a zone: IANA names, Mozilla's prefixed ones and Windows names.
fn zone(tzid: &str) -> Option<Tz> {
    let tzid = tzid.trim().trim_matches('"');
    if let Ok(tz) = tzid.parse::<Tz>() {
        return Some(tz);
    }
    // Lightning and older Evolution write `/mozilla.org/20070129_1/Europe/Berlin` and
    // `/freeassociation.sourceforge.net/Tzfile/Europe/Berlin`: the IANA name is the last two or
    // three segments.
    let segments: Vec<&str> = tzid.trim_start_matches('/').split('/').collect();
    for take in [3, 2] {
        if segments.len() > take {
            if let Ok(tz) = segments[segments.len() - take..].join("/").parse::<Tz>() {
                return Some(tz);
            }
        }
    }
    freebusy_core::zones::windows_to_iana(tzid).and_then(|name| name.parse().ok())
}

/// A local time in `tz` as UTC. A time skipped by a DST change is read with the offset before
/// the change (RFC 5545 §3.3.5); a repeated one as its first occurrence.
fn localize(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => {
            let before = tz.from_local_datetime(&(local - Duration::hours(1))).earliest();
            before.map(|t| t.with_timezone(&Utc) + Duration::hours(1)).unwrap_or_else(|| Utc.from_utc_datetime(&local))
        }
    }
}

/// A DATE-TIME or DATE value (RFC 5545 §3.3.4, §3.3.5): `...Z` is UTC, with a `TZID` local to it,
/// floating and DATE values as UTC (the server has already applied the calendar's zone, RFC 4791
/// §9.9, if it knows one).
fn instant(value: &str, tzid: Option<&str>) -> Result<DateTime<Utc>, String> {
    let value = value.trim();
    if let Some(utc) = value.strip_suffix('Z') {
        let t = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").map_err(|_| format!("bad UTC time '{value}'"))?;
        return Ok(Utc.from_utc_datetime(&t));
    }
    let local = match NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S") {
        Ok(t) => t,
        Err(_) => NaiveDate::parse_from_str(value, "%Y%m%d")
            .map_err(|_| format!("bad time '{value}'"))?
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists"),
    };
    match tzid {
        None => Ok(Utc.from_utc_datetime(&local)),
        Some(name) => Ok(localize(local, zone(name).ok_or_else(|| format!("unknown time zone TZID={name}"))?)),
    }
}

/// A DURATION (RFC 5545 §3.3.6): `[+]P[nW][nD][T[nH][nM][nS]]`. Negative durations are refused
/// (a period's end must not precede its start), and so are ones beyond chrono's range
/// (`P99999999999999W` panicked).
fn duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration '{value}'");
    let rest = value.trim().trim_start_matches('+').strip_prefix('P').ok_or_else(bad)?;
    let mut total = Duration::zero();
    let mut number = String::new();
    let mut in_time = false;
    for c in rest.chars() {
        match c {
            '0'..='9' => number.push(c),
            'T' => in_time = true,
            unit => {
                let n: i64 = number.parse().map_err(|_| bad())?;
                number.clear();
                let part = match (unit, in_time) {
                    ('W', false) => Duration::try_weeks(n),
                    ('D', false) => Duration::try_days(n),
                    ('H', true) => Duration::try_hours(n),
                    ('M', true) => Duration::try_minutes(n),
                    ('S', true) => Duration::try_seconds(n),
                    _ => return Err(bad()),
                };
                total = part.and_then(|p| total.checked_add(&p)).ok_or_else(bad)?;
            }
        }
    }
    if number.is_empty() {
        Ok(total)
    } else {
        Err(bad())
    }
}

/// One PERIOD value (RFC 5545 §3.3.9): `start/end` or `start/duration`.
fn period(value: &str, tzid: Option<&str>) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let (start, end) = value.split_once('/').ok_or_else(|| format!("bad period '{value}'"))?;
    let start = instant(start, tzid)?;
    let end = if end.trim_start_matches('+').starts_with('P') {
        start
            .checked_add_signed(duration(end)?)
            .ok_or_else(|| format!("period '{value}' ends beyond the year 262143"))?
    } else {
        instant(end, tzid)?
    };
    if end < start {
        return Err(format!("period '{value}' ends before it starts"));
    }
    Ok((start, end))
}

fn property<'a>(props: &'a [Property], name: &str) -> Option<&'a Property> {
    props.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Every busy period in an iCalendar text, in either of the shapes servers use.
pub(crate) fn busy_periods(text: &str) -> Result<Vec<Period>, String> {
    let mut calendars = Vec::new();
    for calendar in ical::IcalParser::new(text.as_bytes()) {
        calendars.push(calendar.map_err(|e| format!("unreadable iCalendar: {e}"))?);
    }
    if calendars.is_empty() {
        return Err("the answer holds no VCALENDAR".into());
    }
    let mut out = Vec::new();
    for calendar in &calendars {
        periods_of(calendar, &mut out)?;
    }
    Ok(out)
}

fn periods_of(calendar: &IcalCalendar, out: &mut Vec<Period>) -> Result<(), String> {
    for fb in &calendar.free_busys {
        let props = &fb.properties;
        let free_busy: Vec<&Property> = props.iter().filter(|p| p.name.eq_ignore_ascii_case("FREEBUSY")).collect();
        if free_busy.is_empty() {
            // Radicale's shape: the component is the period, when it says what kind it is. A
            // standard reply without FREEBUSY lines (nothing busy) has no FBTYPE property and
            // spans the whole window: it must not read as busy.
            let Some(kind) = property(props, "FBTYPE") else { continue };
            let Some(status) = fbtype(kind.value.as_deref()) else { continue };
            let (Some(start), Some(end)) = (property(props, "DTSTART"), property(props, "DTEND")) else {
                return Err("a VFREEBUSY with FBTYPE has no DTSTART/DTEND".into());
            };
            let s = instant(start.value.as_deref().unwrap_or_default(), param(start, "TZID"))?;
            let e = instant(end.value.as_deref().unwrap_or_default(), param(end, "TZID"))?;
            if e > s {
                out.push(Period { start: s, end: e, status });
            }
            continue;
        }
        for p in free_busy {
            let Some(status) = fbtype(param(p, "FBTYPE")) else { continue };
            for value in p.value.as_deref().unwrap_or_default().split(',').filter(|v| !v.trim().is_empty()) {
                let (start, end) = period(value, param(p, "TZID"))?;
                if end > start {
                    out.push(Period { start, end, status });
                }
            }
        }
    }
    Ok(())
}

fn ical_utc(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%Y%m%dT%H%M%SZ").to_string()
}

/// The `VFREEBUSY` request a scheduling outbox takes (RFC 6638 §6.1.1, appendix B.5): the
/// organizer is the signed-in account, one `ATTENDEE` per mailbox.
pub(crate) fn free_busy_request(
    organizer: &str,
    attendees: &[String],
    start_ms: i64,
    end_ms: i64,
    now_ms: i64,
) -> String {
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//freebusy//caldav provider//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\n",
    );
    out.push_str(&format!("UID:freebusy-{now_ms}-{start_ms}-{}\r\n", attendees.len()));
    out.push_str(&format!("DTSTAMP:{}\r\n", ical_utc(now_ms)));
    out.push_str(&format!("DTSTART:{}\r\nDTEND:{}\r\n", ical_utc(start_ms), ical_utc(end_ms)));
    out.push_str(&format!("ORGANIZER:{}\r\n", mailto(organizer)));
    for attendee in attendees {
        out.push_str(&format!("ATTENDEE:{}\r\n", mailto(attendee)));
    }
    out.push_str("END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
    out
}

/// `mailto:` plus the address, unless it has one already.
pub(crate) fn mailto(address: &str) -> String {
    if address.to_ascii_lowercase().starts_with("mailto:") {
        address.to_string()
    } else {
        format!("mailto:{address}")
    }
}

/// An iCalendar-style UTC time for the time-range of a REPORT (RFC 4791 §9.9).
pub(crate) fn utc_stamp(ms: i64) -> String {
    ical_utc(ms)
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn standard_replies_with_fbtype_parameters_and_durations() {
        // RFC 6638 appendix B.5's reply, folded as servers fold it.
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\nBEGIN:VFREEBUSY\r\nDTSTART:20260323T000000Z\r\nDTEND:20260324T000000Z\r\n\
FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20260323T060000Z/20260323T080000Z\r\nFREEBUSY:20260323T090000Z/PT1H,20260323T1\r\n 10000Z/20260323T113000Z\r\n\
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20260323T150000Z/PT30M\r\nFREEBUSY;FBTYPE=FREE:20260323T160000Z/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        let periods = busy_periods(text).unwrap();
        assert_eq!(
            periods,
            vec![
                Period {
                    start: at("2026-03-23T06:00:00Z"),
                    end: at("2026-03-23T08:00:00Z"),
                    status: Availability::OutOfOffice
                },
                Period {
                    start: at("2026-03-23T09:00:00Z"),
                    end: at("2026-03-23T10:00:00Z"),
                    status: Availability::Busy
                },
                Period {
                    start: at("2026-03-23T11:00:00Z"),
                    end: at("2026-03-23T11:30:00Z"),
                    status: Availability::Busy
                },
                Period {
                    start: at("2026-03-23T15:00:00Z"),
                    end: at("2026-03-23T15:30:00Z"),
                    status: Availability::Tentative
                },
            ]
        );
    }

    #[test]
    fn one_vfreebusy_per_period_with_tzid_as_radicale_answers() {
        // As Radicale 3.5 answers a free-busy-query (captured from it): no FREEBUSY lines,
        // FBTYPE as a property, the event's own TZID, CANCELLED events as FREE.
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VFREEBUSY\r\nDTSTART:20260326T000000Z\r\nDTEND:20260327T000000Z\r\nFBTYPE:BUSY\r\nEND:VFREEBUSY\r\n\
BEGIN:VFREEBUSY\r\nDTSTART;TZID=Europe/Berlin:20260330T090000\r\nDTEND;TZID=Europe/Berlin:20260330T093000\r\nFBTYPE:BUSY-TENTATIVE\r\nEND:VFREEBUSY\r\n\
BEGIN:VFREEBUSY\r\nDTSTART:20260327T100000Z\r\nDTEND:20260327T110000Z\r\nFBTYPE:FREE\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        let periods = busy_periods(text).unwrap();
        assert_eq!(periods.len(), 2);
        assert_eq!(periods[0].status, Availability::Busy);
        // 30 March is after the change to summer time: 09:00 in Berlin is 07:00 UTC.
        assert_eq!((periods[1].start, periods[1].status), (at("2026-03-30T07:00:00Z"), Availability::Tentative));
    }

    #[test]
    fn a_reply_without_busy_periods_is_free_not_one_long_busy_block() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VFREEBUSY\r\nDTSTART:20260323T000000Z\r\nDTEND:20260330T000000Z\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        assert_eq!(busy_periods(text).unwrap(), vec![]);
    }

    #[test]
    fn freebusy_with_a_tzid_parameter_and_unknown_zones() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nFREEBUSY;TZID=\"W. Europe Standard Time\":20261026T090000/20261026T100000\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        // 26 October 2026 is after the change back to winter time: UTC+1.
        assert_eq!(busy_periods(text).unwrap()[0].start, at("2026-10-26T08:00:00Z"));
        let mozilla = "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nFREEBUSY;TZID=/mozilla.org/20070129_1/America/New_York:20260323T090000/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        assert_eq!(busy_periods(mozilla).unwrap()[0].start, at("2026-03-23T13:00:00Z"));
        let unknown = "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nFREEBUSY;TZID=Somewhere:20260323T090000/PT1H\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        assert!(busy_periods(unknown).unwrap_err().contains("TZID=Somewhere"));
    }

    #[test]
    fn a_local_time_in_the_spring_gap_uses_the_offset_before_it() {
        // 29 March 2026, 02:30 does not exist in Berlin; RFC 5545 §3.3.5 reads it with +01:00.
        assert_eq!(instant("20260329T023000", Some("Europe/Berlin")).unwrap(), at("2026-03-29T01:30:00Z"));
    }

    #[test]
    fn garbage_is_an_error_not_an_empty_schedule() {
        assert!(busy_periods("<html>Service Unavailable</html>").is_err());
        let bad =
            "BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nFREEBUSY:20260323T090000Z\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n";
        assert!(busy_periods(bad).is_err());
        assert!(duration("P1Y").is_err());
        assert_eq!(duration("P1DT2H30M").unwrap(), Duration::minutes(26 * 60 + 30));
    }

    #[test]
    fn the_outbox_request_names_organizer_and_every_attendee() {
        let r = free_busy_request(
            "svc@example.com",
            &["a@example.com".into(), "mailto:b@example.com".into()],
            0,
            3_600_000,
            0,
        );
        for line in [
            "METHOD:REQUEST",
            "ORGANIZER:mailto:svc@example.com",
            "ATTENDEE:mailto:a@example.com",
            "ATTENDEE:mailto:b@example.com",
            "DTSTART:19700101T000000Z",
            "DTEND:19700101T010000Z",
        ] {
            assert!(r.contains(&format!("{line}\r\n")), "{line} missing from {r}");
        }
    }
}
