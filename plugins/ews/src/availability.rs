//! GetUserAvailability: send, parse, map errors
//! (https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation;
//! the ErrorServerBusy fault as captured in ecederstrand/exchangelib tests/test_services.py).

use chrono::{DateTime, NaiveDateTime, Utc};
use freebusy_provider_sdk::types::*;

use crate::client::post;
use crate::soap::{get_user_availability, AvailabilityRequest, RequestedView};
use crate::{Auth, Connection};
use freebusy_provider_sdk::xml::Node;

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;
/// MergedFreeBusyIntervalInMinutes bounds; 30 is the default
/// (https://learn.microsoft.com/exchange/client-developer/web-service-reference/mergedfreebusyintervalinminutes).
const MIN_INTERVAL_MIN: i64 = 5;
const MAX_INTERVAL_MIN: i64 = 1440;
const DEFAULT_INTERVAL_MIN: i64 = 30;

/// Free/busy for the query's mailboxes, split into windows the server accepts.
pub(crate) fn get_schedules(conn: &Connection, q: &Query) -> Result<Vec<Schedule>, ProviderError> {
    if q.window.end <= q.window.start {
        return Err(ProviderError::Misconfigured("query window is empty".into()));
    }
    let window_min = (q.window.end - q.window.start) / MINUTE_MS;
    // The merged view is asked when the caller wants one at an interval Exchange accepts.
    let merged_interval = q
        .view_interval
        .map(i64::from)
        .filter(|i| (MIN_INTERVAL_MIN..=MAX_INTERVAL_MIN).contains(i) && *i <= window_min);
    let mut merged: Vec<Result<MailboxSchedule, MailboxError>> = q
        .mailboxes
        .iter()
        .map(|_| {
            Ok(MailboxSchedule {
                blocks: Vec::new(),
                working_hours: None,
                merged_view: merged_interval.map(|_| String::new()),
            })
        })
        .collect();
    // Pieces are whole multiples of the interval, so their merged strings join seamlessly.
    let slot_ms = merged_interval.unwrap_or(1) * MINUTE_MS;
    let step = (i64::from(conn.window_days) * DAY_MS / slot_ms).max(1) * slot_ms;
    let mut start = q.window.start;
    while start < q.window.end {
        let end = q.window.end.min(start + step);
        let answers = call(conn, q, start, end, merged_interval)?;
        for (slot, answer) in merged.iter_mut().zip(answers) {
            match (slot.as_mut(), answer) {
                (Ok(acc), Ok(part)) => {
                    acc.blocks.extend(part.blocks);
                    acc.working_hours = acc.working_hours.take().or(part.working_hours);
                    acc.merged_view = match (acc.merged_view.take(), part.merged_view) {
                        (Some(mut whole), Some(piece)) => {
                            whole.push_str(&piece);
                            Some(whole)
                        }
                        _ => None,
                    };
                }
                (Ok(_), Err(e)) => *slot = Err(e),
                (Err(_), _) => {}
            }
        }
        start = end;
    }
    Ok(q.mailboxes.iter().cloned().zip(merged).map(|(mailbox, outcome)| Schedule { mailbox, outcome }).collect())
}

fn utc_text(ms: i64) -> Result<String, ProviderError> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .ok_or_else(|| ProviderError::Misconfigured("query window is out of range".into()))
}

fn call(
    conn: &Connection,
    q: &Query,
    start: i64,
    end: i64,
    merged_interval: Option<i64>,
) -> Result<Vec<Result<MailboxSchedule, MailboxError>>, ProviderError> {
    // The last piece of a split window can be shorter than the interval: Exchange refuses such
    // an interval (ErrorInvalidMergedFreeBusyInterval), so that piece goes without the string.
    let piece_min = (end - start) / MINUTE_MS;
    let merged_interval = merged_interval.filter(|i| *i <= piece_min);
    // Exchange needs a window of at least one interval; a shorter question is asked over 5
    // minutes and the host clips the answer back to the window.
    let end = end.max(start + MIN_INTERVAL_MIN * MINUTE_MS);
    let interval =
        merged_interval.unwrap_or_else(|| ((end - start) / MINUTE_MS).clamp(MIN_INTERVAL_MIN, DEFAULT_INTERVAL_MIN));
    let view = RequestedView { detailed: q.details, merged: merged_interval.is_some() };
    let impersonate = match &conn.auth {
        Auth::AppOnly { anchor, .. } => Some(anchor.unwrap_or(&q.mailboxes[0])),
        Auth::Basic { .. } | Auth::Delegated { .. } => None,
    };
    let body = get_user_availability(&AvailabilityRequest {
        server_version: conn.server_version,
        impersonate,
        mailboxes: &q.mailboxes,
        start: &utc_text(start)?,
        end: &utc_text(end)?,
        view,
        merged_interval_minutes: interval as u32,
    });
    let root = post(conn, impersonate, "GetUserAvailability", body)?;
    let body = root.child("Body").expect("post checked the Body");
    let responses: Vec<&Node> = body
        .path(&["GetUserAvailabilityResponse", "FreeBusyResponseArray"])
        .map(|a| a.all("FreeBusyResponse").collect())
        .unwrap_or_default();
    // Responses match the request's mailboxes by position only
    // (https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation).
    if responses.len() != q.mailboxes.len() {
        return Err(ProviderError::Unavailable(format!(
            "Exchange answered for {} mailboxes, {} were asked",
            responses.len(),
            q.mailboxes.len()
        )));
    }
    let slots = Slots { start, interval_ms: interval * MINUTE_MS, want_string: view.merged };
    Ok(responses.into_iter().map(|r| mailbox_schedule(r, q.details, &slots)).collect())
}

/// The slot grid a request's MergedFreeBusy string is on.
struct Slots {
    start: i64,
    interval_ms: i64,
    /// The caller asked for the string (else it is only a fallback for MergedOnly views).
    want_string: bool,
}

/// MergedFreeBusy in the contract's alphabet: EWS's 4 is "no data"
/// (https://learn.microsoft.com/exchange/client-developer/web-service-reference/mergedfreebusy), the contract's '?';
/// working elsewhere is already written as 0 by Exchange (ecederstrand/exchangelib#777).
fn contract_view(digits: &str) -> String {
    digits.trim().chars().map(|c| if ('0'..='3').contains(&c) { c } else { '?' }).collect()
}

/// Blocks from a merged string, for a mailbox whose view was downgraded to `MergedOnly` (a
/// distribution list, or a mailbox that shares no more): without this the slots would read free.
fn blocks_from_view(view: &str, slots: &Slots) -> Vec<BusyBlock> {
    view.chars()
        .enumerate()
        .filter_map(|(i, c)| {
            let status = match c {
                '0' => return None,
                '1' => Availability::Tentative,
                '2' => Availability::Busy,
                '3' => Availability::OutOfOffice,
                _ => Availability::Unknown,
            };
            let start = slots.start + i as i64 * slots.interval_ms;
            Some(BusyBlock {
                start,
                end: start + slots.interval_ms,
                status,
                subject: None,
                location: None,
                is_private: false,
            })
        })
        .collect()
}

fn mailbox_schedule(r: &Node, details: bool, slots: &Slots) -> Result<MailboxSchedule, MailboxError> {
    let message = r.child("ResponseMessage");
    let class = message.and_then(|m| m.attr("ResponseClass")).unwrap_or("Success");
    if class == "Error" {
        let m = message.expect("class came from the message");
        let code = m.text_at(&["ResponseCode"]).unwrap_or("").to_string();
        let text = format!("{code}: {}", m.text_at(&["MessageText"]).unwrap_or(""));
        return Err(match code.as_str() {
            "ErrorMailRecipientNotFound" | "ErrorProxyRequestProcessingFailed" => MailboxError::NotFound(text),
            "ErrorNoFreeBusyAccess" => MailboxError::AccessDenied(text),
            _ => MailboxError::Other(text),
        });
    }
    let view =
        r.child("FreeBusyView").ok_or_else(|| MailboxError::Other("Exchange returned no FreeBusyView".into()))?;
    let mut blocks = Vec::new();
    for event in view.child("CalendarEventArray").into_iter().flat_map(|a| a.all("CalendarEvent")) {
        let start = time(event.text_at(&["StartTime"]))?;
        let end = time(event.text_at(&["EndTime"]))?;
        let status = match event.text_at(&["BusyType"]).unwrap_or("") {
            "Free" => Availability::Free,
            "Tentative" => Availability::Tentative,
            "Busy" => Availability::Busy,
            "OOF" => Availability::OutOfOffice,
            "WorkingElsewhere" => Availability::WorkingElsewhere,
            _ => Availability::Unknown,
        };
        let d = event.child("CalendarEventDetails");
        let is_private = d.and_then(|d| d.text_at(&["IsPrivate"])) == Some("true");
        let keep = |name: &str| {
            (details && !is_private)
                .then(|| d.and_then(|d| d.text_at(&[name])).filter(|s| !s.is_empty()).map(String::from))
                .flatten()
        };
        blocks.push(BusyBlock { start, end, status, subject: keep("Subject"), location: keep("Location"), is_private });
    }
    let merged = view.text_at(&["MergedFreeBusy"]).map(contract_view);
    if view.text_at(&["FreeBusyViewType"]).map(str::trim) == Some("MergedOnly") {
        match &merged {
            Some(digits) => blocks = blocks_from_view(digits, slots),
            None => {
                return Err(MailboxError::Other(
                    "Exchange shares only a merged view of this mailbox (MergedOnly) and sent no MergedFreeBusy string"
                        .into(),
                ))
            }
        }
    }
    Ok(MailboxSchedule {
        blocks,
        working_hours: view.child("WorkingHours").and_then(working_hours),
        merged_view: merged.filter(|_| slots.want_string),
    })
}

/// Naive times are UTC because the request's time zone is UTC; an explicit offset is honoured.
fn time(text: Option<&str>) -> Result<i64, MailboxError> {
    let text = text.ok_or_else(|| MailboxError::Other("calendar event without a time".into()))?;
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|t| t.and_utc().timestamp_millis())
        .map_err(|_| MailboxError::Other(format!("unreadable time '{text}' from Exchange")))
}

/// One SerializableTimeZoneTime rule.
struct Rule {
    bias: i32,
    time_minutes: u32,
    order: u32,
    month: u32,
    weekday: chrono::Weekday,
}

/// Largest bias believed, in minutes either way (real zones are within a day of UTC). Biases
/// near the ends of `i32` overflowed the offset arithmetic.
const MAX_BIAS_MIN: i32 = 24 * 60;

/// A `Bias` child within [`MAX_BIAS_MIN`].
fn bias(n: &Node) -> Option<i32> {
    n.text_at(&["Bias"])?.parse().ok().filter(|b| (-MAX_BIAS_MIN..=MAX_BIAS_MIN).contains(b))
}

fn rule(n: Option<&Node>) -> Option<Rule> {
    let n = n?;
    let time = n.text_at(&["Time"])?;
    let mut hm = time.split(':');
    let (h, m) = (hm.next()?.parse::<u32>().ok()?, hm.next()?.parse::<u32>().ok()?);
    // A time of day; `71582789:00` overflowed the minutes.
    if h >= 24 || m >= 60 {
        return None;
    }
    let minutes = h * 60 + m;
    Some(Rule {
        bias: bias(n)?,
        time_minutes: minutes,
        order: match n.text_at(&["DayOrder"])?.parse::<i32>().ok()? {
            -1 => 5,
            o => o.clamp(0, 5) as u32,
        },
        month: n.text_at(&["Month"])?.parse().ok()?,
        weekday: n.text_at(&["DayOfWeek"])?.parse().ok()?,
    })
}

impl Rule {
    /// This rule's moment in `year`, as local wall-clock time.
    fn at(&self, year: i32) -> Option<NaiveDateTime> {
        use chrono::{Datelike, NaiveDate};
        let first = NaiveDate::from_ymd_opt(year, self.month, 1)?;
        let shift =
            (7 + self.weekday.num_days_from_monday() as i64 - first.weekday().num_days_from_monday() as i64) % 7;
        let mut day = first + chrono::Duration::days(shift + 7 * (i64::from(self.order.max(1)) - 1));
        while day.month() != self.month {
            day -= chrono::Duration::days(7);
        }
        day.and_hms_opt(self.time_minutes / 60, self.time_minutes % 60, 0)
    }
}

/// The UTC offset in minutes at `t` under a SerializableTimeZone (UTC = local + bias).
fn offset_at(bias: i32, std: &Rule, dst: &Rule, t: DateTime<Utc>) -> i32 {
    use chrono::Datelike;
    let standard = -(bias + std.bias);
    if std.month == 0 || dst.month == 0 || std.bias == dst.bias {
        return standard;
    }
    let local = t.naive_utc() + chrono::Duration::minutes(i64::from(standard));
    let (Some(dst_start), Some(std_start)) = (dst.at(local.year()), std.at(local.year())) else { return standard };
    let std_start = std_start + chrono::Duration::minutes(i64::from(dst.bias - std.bias));
    let in_dst = if dst_start < std_start {
        dst_start <= local && local < std_start
    } else {
        !(std_start <= local && local < dst_start)
    };
    if in_dst {
        -(bias + dst.bias)
    } else {
        standard
    }
}

/// An IANA zone whose offsets match the rules all year (the primary zone of each Windows zone,
/// in the table's order), else a fixed `Etc/GMT±N` zone for whole-hour offsets without DST.
fn zone_name(tz: &Node) -> Option<String> {
    use chrono::{Offset, TimeZone};
    let bias = bias(tz)?;
    let (std, dst) = (rule(tz.child("StandardTime"))?, rule(tz.child("DaylightTime"))?);
    let year = 2026;
    let samples: Vec<DateTime<Utc>> = (1..=12)
        .flat_map(|m| [1, 8, 15, 22, 28].map(move |d| (m, d)))
        .filter_map(|(m, d)| Utc.with_ymd_and_hms(year, m, d, 12, 0, 0).single())
        .collect();
    let expected: Vec<i32> = samples.iter().map(|t| offset_at(bias, &std, &dst, *t)).collect();
    let matching = freebusy_core::zones::primary_iana_zones().find(|name| {
        let Ok(zone) = name.parse::<chrono_tz::Tz>() else { return false };
        samples
            .iter()
            .zip(&expected)
            .all(|(t, want)| t.with_timezone(&zone).offset().fix().local_minus_utc() / 60 == *want)
    });
    matching.map(String::from).or_else(|| {
        let fixed = expected.first().copied().filter(|o| expected.iter().all(|e| e == o) && o % 60 == 0)?;
        Some(match -fixed / 60 {
            0 => "Etc/UTC".to_string(),
            h if h > 0 => format!("Etc/GMT+{h}"),
            h => format!("Etc/GMT{h}"),
        })
    })
}

/// Working hours with the mailbox's zone as an IANA name (EWS gives a bias and transition
/// rules, not a name; Learn "Get free/busy information by using EWS in Exchange").
pub(crate) fn working_hours(wh: &Node) -> Option<WorkingHours> {
    let time_zone = zone_name(wh.child("TimeZone")?)?;
    let period = wh.path(&["WorkingPeriodArray", "WorkingPeriod"])?;
    let days = period
        .text_at(&["DayOfWeek"])?
        .split_whitespace()
        .filter_map(|d| match d {
            "Monday" => Some(Weekday::Monday),
            "Tuesday" => Some(Weekday::Tuesday),
            "Wednesday" => Some(Weekday::Wednesday),
            "Thursday" => Some(Weekday::Thursday),
            "Friday" => Some(Weekday::Friday),
            "Saturday" => Some(Weekday::Saturday),
            "Sunday" => Some(Weekday::Sunday),
            _ => None,
        })
        .collect();
    Some(WorkingHours {
        days,
        // The contract's 0..=1440; anything else is not a time of day.
        start_minute: period.text_at(&["StartTimeInMinutes"])?.parse().ok().filter(|m| *m <= 1440)?,
        end_minute: period.text_at(&["EndTimeInMinutes"])?.parse().ok().filter(|m| *m <= 1440)?,
        time_zone,
    })
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use freebusy_provider_sdk::xml::parse;

    /// A FreeBusyResponse as Microsoft's examples show it
    /// (https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation),
    /// with the given view type and content.
    fn response(view_type: &str, inner: &str) -> Node {
        let xml = format!(
            r#"<FreeBusyResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><ResponseMessage ResponseClass="Success"><ResponseCode>NoError</ResponseCode></ResponseMessage><FreeBusyView><FreeBusyViewType xmlns="http://schemas.microsoft.com/exchange/services/2006/types">{view_type}</FreeBusyViewType>{inner}</FreeBusyView></FreeBusyResponse>"#
        );
        parse(xml.as_bytes()).unwrap()
    }

    #[test]
    fn merged_only_view_becomes_blocks_instead_of_reading_free() {
        // A distribution list's Detailed view comes back MergedOnly
        // (https://learn.microsoft.com/exchange/client-developer/web-service-reference/freebusyviewtype): the four
        // 60-minute slots of `3240` are OOF, busy, no data and free.
        let r = response(
            "MergedOnly",
            r#"<MergedFreeBusy xmlns="http://schemas.microsoft.com/exchange/services/2006/types">3240</MergedFreeBusy>"#,
        );
        let slots = Slots { start: 0, interval_ms: 3_600_000, want_string: true };
        let s = mailbox_schedule(&r, true, &slots).unwrap();
        assert_eq!(s.merged_view.as_deref(), Some("32?0"));
        let got: Vec<(i64, i64, Availability)> = s.blocks.iter().map(|b| (b.start, b.end, b.status)).collect();
        assert_eq!(
            got,
            vec![
                (0, 3_600_000, Availability::OutOfOffice),
                (3_600_000, 7_200_000, Availability::Busy),
                (7_200_000, 10_800_000, Availability::Unknown),
            ]
        );
        // Without the string there is nothing to show: an error, never free.
        assert!(mailbox_schedule(&response("MergedOnly", ""), false, &slots).is_err());
    }

    #[test]
    fn merged_string_is_returned_only_when_asked() {
        let inner = r#"<MergedFreeBusy xmlns="http://schemas.microsoft.com/exchange/services/2006/types">0220</MergedFreeBusy><CalendarEventArray xmlns="http://schemas.microsoft.com/exchange/services/2006/types"/>"#;
        let asked = Slots { start: 0, interval_ms: 1_800_000, want_string: true };
        let not_asked = Slots { want_string: false, ..Slots { start: 0, interval_ms: 1_800_000, want_string: true } };
        assert_eq!(
            mailbox_schedule(&response("FreeBusyMerged", inner), false, &asked).unwrap().merged_view.as_deref(),
            Some("0220")
        );
        assert_eq!(mailbox_schedule(&response("FreeBusyMerged", inner), false, &not_asked).unwrap().merged_view, None);
    }

    #[test]
    fn working_hours_zones_are_recognised_from_their_rules() {
        let tz = |bias: i32, std: &str, dst: &str| {
            let xml = format!("<TimeZone><Bias>{bias}</Bias><StandardTime>{std}</StandardTime><DaylightTime>{dst}</DaylightTime></TimeZone>");
            zone_name(&parse(xml.as_bytes()).unwrap())
        };
        let r = |bias: i32, time: &str, order: i32, month: u32| {
            format!("<Bias>{bias}</Bias><Time>{time}</Time><DayOrder>{order}</DayOrder><Month>{month}</Month><DayOfWeek>Sunday</DayOfWeek>")
        };
        // Microsoft's Pacific example (Learn "Get free/busy information by using EWS in Exchange").
        assert_eq!(
            tz(480, &r(0, "02:00:00", 1, 11), &r(-60, "02:00:00", 2, 3)).as_deref(),
            Some("America/Los_Angeles")
        );
        assert_eq!(tz(-60, &r(0, "03:00:00", 5, 10), &r(-60, "02:00:00", 5, 3)).as_deref(), Some("Europe/Berlin"));
        assert_eq!(tz(-330, &r(0, "00:00:00", 0, 0), &r(0, "00:00:00", 0, 0)).as_deref(), Some("Asia/Kolkata"));
    }

    #[test]
    fn naive_times_are_utc_and_offsets_are_honoured() {
        assert_eq!(time(Some("2014-02-13T08:00:00")).unwrap(), 1_392_278_400_000);
        assert_eq!(time(Some("2006-10-16T06:00:00-07:00")).unwrap(), 1_161_003_600_000);
        assert!(time(Some("13/02/2014")).is_err());
    }
}
