//! `POST /v1/availability`: the free slots common to groups of people and rooms. The request is
//! parsed and validated here (every problem listed at once, limits with clear 400s), the
//! mailboxes' schedules are fetched like `/v1/freebusy` (so the cache serves them), and
//! [`crate::slots`] finds the slots; host and edge share all of it.
//!
//! ```json
//! { "start": "2026-12-07T00:00:00Z", "end": "2026-12-12T00:00:00Z", "duration": 30,
//!   "participants": [ { "mailboxes": ["adele.vance@contoso.com"], "required": "all" },
//!                     { "mailboxes": ["room.adams@contoso.com", "room.baker@contoso.com"], "required": 1 } ],
//!   "interval": 15, "timeZone": "Europe/Berlin", "buffer": { "before": 5, "after": 5 },
//!   "workingHours": "participants", "tentative": "busy", "maxSlots": 50 }
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::problem::{InvalidParam, Problem};
use super::request::FreeBusyRequest;
use super::response::format_instant;
use crate::model::{MailboxError, Weekday, Window, WorkingHours, DAY_MS, MINUTE_MS};
use crate::scheduler::MailboxOutcome;
use crate::slots::{self, Group, HoursRule, Required, SlotQuery, Slots};

/// Longest window one availability request may search.
pub const MAX_AVAILABILITY_DAYS: i64 = 31;
/// Most groups of participants.
pub const MAX_GROUPS: usize = 10;
/// Most distinct mailboxes in one request.
pub const MAX_PARTICIPANTS: usize = 100;
/// Most slots one answer lists.
pub const MAX_SLOTS: usize = 1000;
/// Slots listed when `maxSlots` is not given.
pub const DEFAULT_MAX_SLOTS: usize = 50;
/// Longest buffer on either side, in minutes.
pub const MAX_BUFFER_MINUTES: i64 = 240;

/// A group as it arrives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    /// Addresses.
    pub mailboxes: Vec<String>,
    /// `"all"` (the default) or a number.
    #[serde(default)]
    pub required: Option<serde_json::Value>,
}

/// Buffers as they arrive, in minutes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuffer {
    /// Before each slot.
    #[serde(default)]
    pub before: Option<i64>,
    /// After each slot.
    #[serde(default)]
    pub after: Option<i64>,
}

/// Working hours given in the request, for everyone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawHours {
    /// Week days (`monday`, ...).
    pub days: Vec<Weekday>,
    /// `HH:MM`.
    pub start: String,
    /// `HH:MM` (`24:00` for midnight).
    pub end: String,
    /// IANA name.
    pub time_zone: String,
}

/// The request body as it arrives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAvailabilityRequest {
    /// RFC 3339.
    pub start: Option<String>,
    /// RFC 3339.
    pub end: Option<String>,
    /// Minutes.
    pub duration: Option<i64>,
    /// Who must be free.
    #[serde(default)]
    pub participants: Vec<RawGroup>,
    /// Minutes between slot starts (default 15).
    pub interval: Option<i64>,
    /// Where slots are aligned (default UTC).
    pub time_zone: Option<String>,
    /// Clear time around each slot.
    #[serde(default)]
    pub buffer: RawBuffer,
    /// `"participants"` (default), `"none"`, or hours for everyone.
    pub working_hours: Option<serde_json::Value>,
    /// `"busy"` (default) or `"free"`.
    pub tentative: Option<String>,
    /// At most this many slots (default 50).
    pub max_slots: Option<i64>,
}

/// A validated availability request.
#[derive(Debug, Clone, PartialEq)]
pub struct AvailabilityRequest {
    /// What the slot finder is asked.
    pub query: SlotQuery,
    /// Every distinct mailbox, in the order first named.
    pub mailboxes: Vec<String>,
}

/// `HH:MM` as minutes, 0..=1440. The sum is computed only for a time of day: `then_some`
/// computed it for `65535:00` too, and overflowed.
fn minutes_of(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60).then(|| h * 60 + m).filter(|&minutes| minutes <= 1440)
}

impl RawAvailabilityRequest {
    /// Validate, listing every problem at once.
    pub fn validate(&self) -> Result<AvailabilityRequest, Problem> {
        let mut errors = Vec::new();
        let instant = |name: &str, v: &Option<String>, errors: &mut Vec<InvalidParam>| {
            let parsed = v.as_deref().and_then(crate::api::parse_instant_str);
            if parsed.is_none() {
                errors.push(InvalidParam::new(
                    name,
                    "is required: an RFC 3339 date-time with an offset, e.g. 2026-12-07T00:00:00Z",
                ));
            }
            parsed
        };
        let start = instant("start", &self.start, &mut errors);
        let end = instant("end", &self.end, &mut errors);
        let window = match (start, end) {
            (Some(s), Some(e)) if e <= s => {
                errors.push(InvalidParam::new("end", "must be after start"));
                None
            }
            (Some(s), Some(e)) if e - s > MAX_AVAILABILITY_DAYS * DAY_MS => {
                errors.push(InvalidParam::new(
                    "end",
                    format!("the window may cover at most {MAX_AVAILABILITY_DAYS} days"),
                ));
                None
            }
            (Some(start), Some(end)) => Some(Window { start, end }),
            _ => None,
        };
        let duration = match self.duration {
            Some(d) if (5..=1440).contains(&d) => {
                if window.is_some_and(|w| d * MINUTE_MS > w.len_ms()) {
                    errors.push(InvalidParam::new("duration", "is longer than the window"));
                }
                d
            }
            _ => {
                errors.push(InvalidParam::new("duration", "is required: the meeting's length, 5 to 1440 minutes"));
                30
            }
        };
        let interval = match self.interval {
            None => 15,
            Some(i) if (5..=1440).contains(&i) => i,
            Some(_) => {
                errors.push(InvalidParam::new("interval", "must be 5 to 1440 minutes"));
                15
            }
        };
        let time_zone = match self.time_zone.as_deref() {
            None => chrono_tz::Tz::UTC,
            Some(name) => slots::zone(name).unwrap_or_else(|| {
                errors.push(InvalidParam::new(
                    "timeZone",
                    format!("'{name}' is not a time zone (IANA, e.g. Europe/Berlin)"),
                ));
                chrono_tz::Tz::UTC
            }),
        };
        let mut mailboxes: Vec<String> = Vec::new();
        let mut groups = Vec::new();
        if self.participants.is_empty() || self.participants.len() > MAX_GROUPS {
            errors.push(InvalidParam::new("participants", format!("give 1 to {MAX_GROUPS} groups of mailboxes")));
        }
        for (i, g) in self.participants.iter().enumerate() {
            let mut members = Vec::new();
            for address in g.mailboxes.iter().flat_map(|m| m.split(',')).map(str::trim).filter(|a| !a.is_empty()) {
                match super::request::check_address(address) {
                    Err(reason) => errors.push(InvalidParam::new(
                        format!("participants[{i}].mailboxes"),
                        format!("'{address}' {reason}"),
                    )),
                    Ok(()) => {
                        if !members.iter().any(|m: &String| m.eq_ignore_ascii_case(address)) {
                            members.push(address.to_string());
                        }
                        if !mailboxes.iter().any(|m| m.eq_ignore_ascii_case(address)) {
                            mailboxes.push(address.to_string());
                        }
                    }
                }
            }
            if members.is_empty() {
                errors.push(InvalidParam::new(format!("participants[{i}].mailboxes"), "needs at least one mailbox"));
            }
            let required = match &g.required {
                None => Required::All,
                Some(serde_json::Value::String(s)) if s == "all" => Required::All,
                Some(serde_json::Value::Number(n)) => match n.as_u64() {
                    Some(n) if n >= 1 && (n as usize) <= members.len().max(1) => Required::AtLeast(n as usize),
                    _ => {
                        errors.push(InvalidParam::new(
                            format!("participants[{i}].required"),
                            format!("must be \"all\" or 1 to {} (the group's size)", members.len()),
                        ));
                        Required::All
                    }
                },
                Some(_) => {
                    errors
                        .push(InvalidParam::new(format!("participants[{i}].required"), "must be \"all\" or a number"));
                    Required::All
                }
            };
            groups.push(Group { mailboxes: members, required });
        }
        if mailboxes.len() > MAX_PARTICIPANTS {
            errors.push(InvalidParam::new(
                "participants",
                format!("{} mailboxes; at most {MAX_PARTICIPANTS}", mailboxes.len()),
            ));
        }
        let buffer = |name: &str, v: Option<i64>, errors: &mut Vec<InvalidParam>| match v {
            None => 0,
            Some(b) if (0..=MAX_BUFFER_MINUTES).contains(&b) => b,
            Some(_) => {
                errors.push(InvalidParam::new(name, format!("must be 0 to {MAX_BUFFER_MINUTES} minutes")));
                0
            }
        };
        let before = buffer("buffer.before", self.buffer.before, &mut errors);
        let after = buffer("buffer.after", self.buffer.after, &mut errors);
        let hours = match &self.working_hours {
            None => HoursRule::Participants,
            Some(serde_json::Value::String(s)) if s == "participants" => HoursRule::Participants,
            Some(serde_json::Value::String(s)) if s == "none" => HoursRule::Ignore,
            Some(v @ serde_json::Value::Object(_)) => match serde_json::from_value::<RawHours>(v.clone()) {
                Ok(h) => match (minutes_of(&h.start), minutes_of(&h.end), slots::zone(&h.time_zone)) {
                    (Some(s), Some(e), Some(_)) if e > s => HoursRule::Override(WorkingHours {
                        days: h.days,
                        start_minute: s,
                        end_minute: e,
                        time_zone: h.time_zone,
                    }),
                    _ => {
                        errors.push(InvalidParam::new(
                            "workingHours",
                            "start and end must be HH:MM with end after start, in a known timeZone",
                        ));
                        HoursRule::Ignore
                    }
                },
                Err(e) => {
                    errors.push(InvalidParam::new("workingHours", format!("{{days, start, end, timeZone}}: {e}")));
                    HoursRule::Ignore
                }
            },
            Some(_) => {
                errors.push(InvalidParam::new(
                    "workingHours",
                    "must be \"participants\", \"none\" or {days, start, end, timeZone}",
                ));
                HoursRule::Ignore
            }
        };
        let tentative_blocks = match self.tentative.as_deref() {
            None | Some("busy") => true,
            Some("free") => false,
            Some(other) => {
                errors.push(InvalidParam::new("tentative", format!("must be \"busy\" or \"free\", got '{other}'")));
                true
            }
        };
        let max_slots = match self.max_slots {
            None => DEFAULT_MAX_SLOTS,
            Some(m) if (1..=MAX_SLOTS as i64).contains(&m) => m as usize,
            Some(_) => {
                errors.push(InvalidParam::new("maxSlots", format!("must be 1 to {MAX_SLOTS}")));
                DEFAULT_MAX_SLOTS
            }
        };
        match (errors.is_empty(), window) {
            (true, Some(window)) => Ok(AvailabilityRequest {
                query: SlotQuery {
                    window,
                    duration_ms: duration * MINUTE_MS,
                    interval_minutes: interval as u32,
                    time_zone,
                    groups,
                    buffer_before_ms: before * MINUTE_MS,
                    buffer_after_ms: after * MINUTE_MS,
                    hours,
                    tentative_blocks,
                    max_slots,
                },
                mailboxes,
            }),
            _ => Err(Problem::invalid(errors)),
        }
    }
}

/// Parse a `POST /v1/availability` body, which must be JSON.
pub fn parse_availability_body(content_type: Option<&str>, body: &[u8]) -> Result<AvailabilityRequest, Problem> {
    if !content_type.is_some_and(|v| v.trim_start().starts_with("application/json")) {
        return Err(Problem::new(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "POST a JSON body with Content-Type: application/json",
        ));
    }
    let raw: RawAvailabilityRequest = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            400,
            "invalid-request",
            "The request is invalid",
            format!("the body is not a valid availability request: {e}"),
        )
    })?;
    raw.validate()
}

impl AvailabilityRequest {
    /// The free/busy question that fetches what the slots need (the cache serves it).
    pub fn freebusy_request(&self) -> FreeBusyRequest {
        FreeBusyRequest {
            mailboxes: self.mailboxes.clone(),
            window: self.query.window,
            interval_minutes: None,
            details: false,
            upstream_view: false,
        }
    }
}

/// The mailboxes free in one group for a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFree {
    /// Free for the whole slot (for an N-of group, N or more of its mailboxes).
    pub free: Vec<String>,
}

/// One slot in the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotJson {
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC, exclusive.
    pub end: String,
    /// One entry per group of the request, in order.
    pub groups: Vec<GroupFree>,
}

/// A required mailbox that could not be read, so that no slot is offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedBy {
    /// Index of its group.
    pub group: usize,
    /// The address.
    pub mailbox: String,
    /// Why it could not be read.
    pub error: MailboxError,
}

/// A mailbox of the request and whether it could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxStatus {
    /// The address.
    pub mailbox: String,
    /// Why it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<MailboxError>,
    /// Seconds since the upstream gave its schedule, when it came from the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_age_seconds: Option<u64>,
    /// Why a fresh schedule could not be had, when this one is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale: Option<MailboxError>,
}

/// The `/v1/availability` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityResponse {
    /// Window start, RFC 3339 UTC.
    pub start: String,
    /// Window end.
    pub end: String,
    /// Minutes.
    pub duration_minutes: i64,
    /// Minutes between slot starts.
    pub interval_minutes: u32,
    /// The zone slots are aligned in.
    pub time_zone: String,
    /// Free slots, earliest first.
    pub slots: Vec<SlotJson>,
    /// More slots exist than `maxSlots` allowed.
    pub truncated: bool,
    /// Required mailboxes that could not be read: with any, there are no slots.
    pub blocked_by: Vec<BlockedBy>,
    /// Every mailbox of the request, with its error when it could not be read.
    pub mailboxes: Vec<MailboxStatus>,
}

/// The answer to `req` from each mailbox's outcome (in `req.mailboxes` order).
pub fn answer(req: &AvailabilityRequest, outcomes: Vec<MailboxOutcome>) -> AvailabilityResponse {
    let mut statuses = Vec::new();
    let mut by_address = HashMap::new();
    for (m, outcome) in req.mailboxes.iter().zip(outcomes) {
        statuses.push(MailboxStatus {
            mailbox: m.clone(),
            error: outcome.as_ref().err().cloned(),
            cache_age_seconds: None,
            stale: None,
        });
        by_address.insert(m.to_ascii_lowercase(), outcome);
    }
    let found: Slots = slots::find(&req.query, &by_address);
    let q = &req.query;
    AvailabilityResponse {
        start: format_instant(q.window.start),
        end: format_instant(q.window.end),
        duration_minutes: q.duration_ms / MINUTE_MS,
        interval_minutes: q.interval_minutes,
        time_zone: q.time_zone.name().to_string(),
        slots: found
            .slots
            .into_iter()
            .map(|s| SlotJson {
                start: format_instant(s.start),
                end: format_instant(s.end),
                groups: s.free.into_iter().map(|free| GroupFree { free }).collect(),
            })
            .collect(),
        truncated: found.truncated,
        blocked_by: found
            .blocked
            .into_iter()
            .map(|b| BlockedBy { group: b.group, mailbox: b.mailbox, error: b.error })
            .collect(),
        mailboxes: statuses,
    }
}

/// The free slots as iCalendar: one `VFREEBUSY` whose `FREEBUSY;FBTYPE=FREE` periods are the
/// times a meeting of the asked length can start and run (overlapping slots joined). VFREEBUSY
/// (RFC 5545 section 3.6.4) rather than VAVAILABILITY (RFC 7953): every calendar library reads
/// the former, few the latter, and free periods are exactly what is being answered.
pub fn render_ical(resp: &AvailabilityResponse, now: &str) -> String {
    let stamp = |t: &str| {
        t.replace(['-', ':'], "").trim_end_matches('Z').split('.').next().unwrap_or_default().to_string() + "Z"
    };
    let mut periods: Vec<(String, String)> = Vec::new();
    for s in &resp.slots {
        match periods.last_mut() {
            Some(last) if s.start <= last.1 => {
                if s.end > last.1 {
                    last.1 = s.end.clone();
                }
            }
            _ => periods.push((s.start.clone(), s.end.clone())),
        }
    }
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//freebusy//availability//EN\r\nMETHOD:PUBLISH\r\nBEGIN:VFREEBUSY\r\n");
    out.push_str(&format!(
        "DTSTAMP:{}\r\nDTSTART:{}\r\nDTEND:{}\r\n",
        stamp(now),
        stamp(&resp.start),
        stamp(&resp.end)
    ));
    out.push_str(&format!("COMMENT:free slots of {} minutes\r\n", resp.duration_minutes));
    for (s, e) in periods {
        out.push_str(&format!("FREEBUSY;FBTYPE=FREE:{}/{}\r\n", stamp(&s), stamp(&e)));
    }
    out.push_str("END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> Result<AvailabilityRequest, Problem> {
        parse_availability_body(Some("application/json"), json.to_string().as_bytes())
    }

    #[test]
    fn the_documented_example_parses() {
        let req = body(serde_json::json!({
            "start": "2026-12-07T00:00:00Z", "end": "2026-12-12T00:00:00Z", "duration": 30,
            "participants": [ { "mailboxes": ["adele.vance@contoso.com", "megan.bowen@contoso.com"], "required": "all" },
                              { "mailboxes": ["room.adams@contoso.com", "room.baker@contoso.com"], "required": 1 } ],
            "interval": 15, "timeZone": "Europe/Berlin", "buffer": { "before": 5, "after": 5 },
            "workingHours": "participants", "tentative": "busy", "maxSlots": 50 }))
        .unwrap();
        assert_eq!(req.mailboxes.len(), 4);
        assert_eq!(req.query.groups[1].required, Required::AtLeast(1));
        assert_eq!(req.query.buffer_before_ms, 5 * MINUTE_MS);
        assert_eq!(req.query.time_zone.name(), "Europe/Berlin");
    }

    #[test]
    fn every_limit_is_a_400_naming_its_parameter() {
        let p = body(serde_json::json!({
            "start": "2026-12-07T00:00:00Z", "end": "2027-02-07T00:00:00Z", "duration": 2000,
            "participants": [ { "mailboxes": ["a@x.com"], "required": 2 } ], "interval": 2,
            "timeZone": "Mars/Olympus", "buffer": { "before": 500 }, "tentative": "maybe", "maxSlots": 0 }))
        .unwrap_err();
        let names: Vec<&str> = p.invalid_params.iter().map(|i| i.name.as_str()).collect();
        for name in [
            "end",
            "duration",
            "interval",
            "timeZone",
            "participants[0].required",
            "buffer.before",
            "tentative",
            "maxSlots",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let p = body(serde_json::json!({
            "start": "2026-12-07T00:00:00Z", "end": "2026-12-07T00:20:00Z", "duration": 30, "participants": [] }))
        .unwrap_err();
        let names: Vec<&str> = p.invalid_params.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["duration", "participants"]);
        assert!(body(serde_json::json!({"start": "x", "surprise": 1})).unwrap_err().detail.contains("surprise"));
    }

    #[test]
    fn free_slots_render_as_joined_free_periods() {
        let slot = |s: &str, e: &str| SlotJson { start: s.into(), end: e.into(), groups: vec![] };
        let resp = AvailabilityResponse {
            start: "2026-12-07T00:00:00Z".into(),
            end: "2026-12-08T00:00:00Z".into(),
            duration_minutes: 30,
            interval_minutes: 15,
            time_zone: "UTC".into(),
            slots: vec![
                slot("2026-12-07T09:00:00Z", "2026-12-07T09:30:00Z"),
                slot("2026-12-07T09:15:00Z", "2026-12-07T09:45:00Z"),
                slot("2026-12-07T14:00:00Z", "2026-12-07T14:30:00Z"),
            ],
            truncated: false,
            blocked_by: vec![],
            mailboxes: vec![],
        };
        let ical = render_ical(&resp, "2026-12-01T10:00:00Z");
        assert!(ical.contains("FREEBUSY;FBTYPE=FREE:20261207T090000Z/20261207T094500Z\r\n"), "{ical}");
        assert!(ical.contains("FREEBUSY;FBTYPE=FREE:20261207T140000Z/20261207T143000Z\r\n"), "{ical}");
    }
}
