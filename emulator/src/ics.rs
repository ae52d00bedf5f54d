//! The tenant model as iCalendar (RFC 5545), for seeding real CalDAV servers with the same
//! calendars the emulator serves through Graph and EWS: one `VCALENDAR` per mailbox with a
//! `VTIMEZONE` for its zone (its transitions from 2024 to 2029, taken from the tz database) and one
//! `VEVENT` per item or series.
//!
//! How the model's statuses are written, since iCalendar has fewer of them: busy as a plain
//! (opaque) event, tentative as `STATUS:TENTATIVE`, free and working elsewhere as
//! `TRANSP:TRANSPARENT` (not in free/busy), out of office as a plain busy event (iCalendar events
//! have no out-of-office state; servers report them `BUSY`); private items carry `CLASS:PRIVATE`;
//! series are `RRULE:FREQ=WEEKLY`, a cancelled occurrence an override (`RECURRENCE-ID`) with
//! `STATUS:CANCELLED`, as a cancelled meeting reaches attendees (RFC 5546 §3.2.5); all-day items
//! are `VALUE=DATE`.

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::tenant::{EventSpec, Mailbox, ShowAs};

fn local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    format!("{sign}{:02}{:02}", s / 3600, (s % 3600) / 60)
}

/// One change of offset: its onset in local time before it, the offsets before and after.
struct Transition {
    onset: NaiveDateTime,
    from: i32,
    to: i32,
}

/// Every offset change of `tz` from 2024 to 2029, found by stepping through the tz database.
fn transitions(tz: Tz) -> (i32, Vec<Transition>) {
    let at = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc();
    let mut t = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2029, 1, 1, 0, 0, 0).unwrap();
    let first = at(t);
    let mut previous = first;
    let mut out = Vec::new();
    while t < end {
        let next = t + Duration::minutes(15);
        let now = at(next);
        if now != previous {
            // The onset, in the local time of the offset in force before it (RFC 5545 3.6.5).
            out.push(Transition {
                onset: next.naive_utc() + Duration::seconds(i64::from(previous)),
                from: previous,
                to: now,
            });
            previous = now;
        }
        t = next;
    }
    (first, out)
}

/// `BYDAY` for a set of onsets that fall on the same weekday of the same month each year: the
/// last one of the month (`-1SU`) or the n-th (`2SU`); `None` if they follow no such rule.
fn yearly_rule(onsets: &[NaiveDateTime]) -> Option<(String, NaiveDateTime)> {
    use chrono::Datelike;
    let first = onsets.first()?;
    let same =
        onsets.iter().all(|o| o.month() == first.month() && o.weekday() == first.weekday() && o.time() == first.time());
    if !same {
        return None;
    }
    let days_in_month = |o: &NaiveDateTime| {
        let next = if o.month() == 12 { (o.year() + 1, 1) } else { (o.year(), o.month() + 1) };
        chrono::NaiveDate::from_ymd_opt(next.0, next.1, 1).expect("a date").pred_opt().expect("a date").day()
    };
    let ordinal = if onsets.iter().all(|o| o.day() + 7 > days_in_month(o)) {
        -1
    } else {
        let nth = |o: &NaiveDateTime| (o.day() as i32 - 1) / 7 + 1;
        onsets.iter().all(|o| nth(o) == nth(first)).then(|| nth(first))?
    };
    // The rule starts in 1970, as calendar clients write it: a server comparing the zone with
    // UTC over earlier years (vobject's tzinfo_eq looks at 2000 to 2020) must see its changes.
    let weekdays_1970: Vec<chrono::NaiveDate> = (1..=31)
        .filter_map(|d| chrono::NaiveDate::from_ymd_opt(1970, first.month(), d))
        .filter(|d| d.weekday() == first.weekday())
        .collect();
    let day = if ordinal < 0 { weekdays_1970.last() } else { weekdays_1970.get(ordinal as usize - 1) }?;
    let rule = format!("FREQ=YEARLY;BYMONTH={};BYDAY={ordinal}{}", first.month(), day_code(first.weekday()));
    Some((rule, day.and_time(first.time())))
}

/// A `VTIMEZONE` for `tz`, in the form calendar clients write (Thunderbird, Apple Calendar): one
/// `STANDARD` and one `DAYLIGHT` rule with a yearly `RRULE` from 1970 (today's rules, read from
/// the tz database's changes from 2024 to 2029); a zone whose changes follow no such rule gets
/// each change as its own sub-component, and a zone without changes one `STANDARD`.
///
/// Why from 1970: Radicale's vobject 0.9.9 registers a VTIMEZONE only if it differs from UTC
/// somewhere in 2000 to 2020 (`tzinfo_eq`), and otherwise reads the TZID through pytz, whose
/// fixed offset then repeats a winter-time series through the summer. A London zone defined only
/// from 2024 looks like UTC to it.
pub fn vtimezone(tz: Tz) -> String {
    let (first, changes) = transitions(tz);
    let mut out = format!("BEGIN:VTIMEZONE\r\nTZID:{}\r\n", tz.name());
    let component = |kind: &str, start: NaiveDateTime, rule: Option<&str>, from: i32, to: i32| {
        let rrule = rule.map(|r| format!("RRULE:{r}\r\n")).unwrap_or_default();
        format!(
            "BEGIN:{kind}\r\nDTSTART:{}\r\n{rrule}TZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\nEND:{kind}\r\n",
            local(start),
            offset(from),
            offset(to)
        )
    };
    let kind = |c: &Transition| if c.to > c.from { "DAYLIGHT" } else { "STANDARD" };
    let (daylight, standard): (Vec<&Transition>, Vec<&Transition>) = changes.iter().partition(|c| c.to > c.from);
    let rules = [&daylight, &standard].map(|group| {
        let onsets: Vec<NaiveDateTime> = group.iter().map(|c| c.onset).collect();
        let consistent = group.iter().all(|c| (c.from, c.to) == (group[0].from, group[0].to));
        if consistent {
            yearly_rule(&onsets)
        } else {
            None
        }
    });
    if changes.is_empty() {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date").and_time(chrono::NaiveTime::MIN);
        out.push_str(&component("STANDARD", epoch, None, first, first));
    } else if let [Some((daylight_rule, daylight_start)), Some((standard_rule, standard_start))] = &rules {
        out.push_str(&component("DAYLIGHT", *daylight_start, Some(daylight_rule), daylight[0].from, daylight[0].to));
        out.push_str(&component("STANDARD", *standard_start, Some(standard_rule), standard[0].from, standard[0].to));
    } else {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date").and_time(chrono::NaiveTime::MIN);
        out.push_str(&component("STANDARD", epoch, None, first, first));
        for c in &changes {
            out.push_str(&component(kind(c), c.onset, None, c.from, c.to));
        }
    }
    out.push_str("END:VTIMEZONE\r\n");
    out
}

/// Escape a TEXT value (RFC 5545 3.3.11).
fn text(s: &str) -> String {
    s.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n")
}

fn day_code(d: chrono::Weekday) -> &'static str {
    match d {
        chrono::Weekday::Mon => "MO",
        chrono::Weekday::Tue => "TU",
        chrono::Weekday::Wed => "WE",
        chrono::Weekday::Thu => "TH",
        chrono::Weekday::Fri => "FR",
        chrono::Weekday::Sat => "SA",
        chrono::Weekday::Sun => "SU",
    }
}

/// One item or series as a `VEVENT`.
pub fn vevent(m: &Mailbox, ev: &EventSpec, uid: &str) -> String {
    let zone = m.time_zone.name();
    let mut out = format!("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:{}\r\n", text(&ev.subject));
    if !ev.location.is_empty() {
        out.push_str(&format!("LOCATION:{}\r\n", text(&ev.location)));
    }
    if ev.all_day {
        let first = ev.start.date();
        let after = first + ev.duration;
        out.push_str(&format!(
            "DTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\n",
            first.format("%Y%m%d"),
            after.format("%Y%m%d")
        ));
    } else {
        out.push_str(&format!(
            "DTSTART;TZID={zone}:{}\r\nDTEND;TZID={zone}:{}\r\n",
            local(ev.start),
            local(ev.start + ev.duration)
        ));
    }
    if let Some(rule) = &ev.recurrence {
        let days: Vec<&str> = rule.days.iter().map(|d| day_code(*d)).collect();
        let mut rrule = format!("RRULE:FREQ=WEEKLY;BYDAY={}", days.join(","));
        if let Some(until) = rule.until {
            // With a zoned DTSTART, UNTIL is in UTC (RFC 5545 3.3.10): the end of that local day.
            let end = until.and_hms_opt(23, 59, 59).expect("a time");
            let utc = m.time_zone.from_local_datetime(&end).earliest().map(|t| t.with_timezone(&Utc));
            if let Some(utc) = utc {
                rrule.push_str(&format!(";UNTIL={}", utc.format("%Y%m%dT%H%M%SZ")));
            }
        }
        out.push_str(&rrule);
        out.push_str("\r\n");
    }
    match ev.show_as {
        ShowAs::Busy | ShowAs::Oof => {}
        ShowAs::Tentative => out.push_str("STATUS:TENTATIVE\r\n"),
        ShowAs::Free | ShowAs::WorkingElsewhere => out.push_str("TRANSP:TRANSPARENT\r\n"),
    }
    if ev.private {
        out.push_str("CLASS:PRIVATE\r\n");
    }
    out.push_str("END:VEVENT\r\n");
    out
}

/// The cancelled occurrences of a series, as overrides of it.
fn cancelled_occurrences(m: &Mailbox, ev: &EventSpec, uid: &str) -> String {
    let zone = m.time_zone.name();
    let Some(rule) = &ev.recurrence else { return String::new() };
    rule.cancelled
        .iter()
        .map(|date| {
            let start = date.and_time(ev.start.time());
            format!(
                "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID={zone}:{s}\r\nDTSTART;TZID={zone}:{s}\r\nDTEND;TZID={zone}:{e}\r\nSUMMARY:{}\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n",
                text(&ev.subject),
                s = local(start),
                e = local(start + ev.duration),
            )
        })
        .collect()
}

/// Each of a mailbox's items as its own calendar object (`(uid, VCALENDAR text)`), as CalDAV
/// stores them (RFC 4791 4.1: one component, or one series, per resource).
pub fn objects(m: &Mailbox) -> Vec<(String, String)> {
    let local_part = m.address.split('@').next().unwrap_or_default();
    m.events
        .iter()
        .enumerate()
        .map(|(i, ev)| {
            let uid = format!("{local_part}-{i}@freebusy-emulator");
            let body = format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//freebusy//emulator//EN\r\n{}{}{}END:VCALENDAR\r\n",
                vtimezone(m.time_zone),
                vevent(m, ev, &uid),
                cancelled_occurrences(m, ev, &uid)
            );
            (uid, body)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_get_yearly_rules_as_clients_write_them_and_kolkata_none() {
        let berlin = vtimezone("Europe/Berlin".parse().unwrap());
        // Summer time from the last Sunday of March at 02:00 CET, winter time from the last Sunday
        // of October at 03:00 CEST, as rules from 1970 (29 March and 25 October that year).
        assert!(berlin.contains("BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200"), "{berlin}");
        assert!(berlin.contains("BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100"), "{berlin}");
        // New York: the second Sunday of March and the first of November.
        let new_york = vtimezone("America/New_York".parse().unwrap());
        assert!(new_york.contains("BYMONTH=3;BYDAY=2SU") && new_york.contains("BYMONTH=11;BYDAY=1SU"), "{new_york}");
        let kolkata = vtimezone("Asia/Kolkata".parse().unwrap());
        assert_eq!(kolkata.matches("BEGIN:").count(), 2, "{kolkata}");
        assert!(kolkata.contains("TZOFFSETTO:+0530"));
    }

    #[test]
    fn the_demo_tenant_exports_series_cancellations_all_day_tentative_private_and_transparent_items() {
        let tenant = crate::demo::tenant();
        let all: String = tenant.mailboxes.iter().flat_map(objects).map(|(_, body)| body).collect();
        for needle in [
            "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            "RECURRENCE-ID;TZID=Europe/Berlin:20260326T090000",
            "STATUS:CANCELLED",
            "DTSTART;VALUE=DATE:",
            "STATUS:TENTATIVE",
            "TRANSP:TRANSPARENT",
            "CLASS:PRIVATE",
            ";UNTIL=",
        ] {
            assert!(all.contains(needle), "{needle} missing");
        }
    }
}
