//! getSchedule: request, response parsing, and error mapping.

use freebusy_provider_sdk::cache;
use freebusy_provider_sdk::http::{self, Response};
use freebusy_provider_sdk::types::*;
use serde::Deserialize;
use serde_json::json;

use crate::client::{call_error, is_graph_error, parse_utc, send_authorized, status, utc_text, DateTimeTimeZone};
use crate::Connection;

/// getSchedule rejects intervals below 5 minutes, above a day, and longer than the window.
const MIN_INTERVAL_MIN: i64 = 5;
const MAX_INTERVAL_MIN: i64 = 1440;

#[derive(Deserialize)]
struct ScheduleResponse {
    #[serde(default)]
    value: Vec<ScheduleInformation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleInformation {
    #[serde(default)]
    schedule_id: String,
    #[serde(default)]
    schedule_items: Vec<ScheduleItem>,
    availability_view: Option<String>,
    working_hours: Option<GraphWorkingHours>,
    error: Option<FreeBusyError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleItem {
    #[serde(default)]
    status: String,
    start: DateTimeTimeZone,
    end: DateTimeTimeZone,
    subject: Option<String>,
    location: Option<String>,
    #[serde(default)]
    is_private: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphWorkingHours {
    #[serde(default)]
    days_of_week: Vec<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    time_zone: Option<GraphTimeZone>,
}

#[derive(Deserialize)]
struct GraphTimeZone {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FreeBusyError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    response_code: String,
}

/// Free/busy for the query's mailboxes (already within this provider's limits).
pub(crate) fn get_schedules(conn: &Connection, q: &Query) -> Result<Vec<Schedule>, ProviderError> {
    if q.mailboxes.is_empty() {
        return Ok(Vec::new());
    }
    if q.window.end <= q.window.start {
        return Err(ProviderError::Misconfigured("query window is empty".into()));
    }
    // Graph needs a window of at least one interval; a shorter question is asked over 5 minutes
    // and the host clips the answer back to the window.
    let end = q.window.end.max(q.window.start + MIN_INTERVAL_MIN * 60_000);
    // The caller's interval is passed through when Graph accepts it (5..=1440,
    // https://learn.microsoft.com/graph/api/calendar-getschedule, and not longer than the window,
    // PlaceOS/office365#29); then availabilityView is Graph's merged view.
    let asked = q
        .view_interval
        .map(i64::from)
        .filter(|i| (MIN_INTERVAL_MIN..=MAX_INTERVAL_MIN).contains(i) && *i * 60_000 <= q.window.end - q.window.start);
    let interval = asked.unwrap_or_else(|| ((end - q.window.start) / 60_000).clamp(MIN_INTERVAL_MIN, 30));
    let body = json!({
        "schedules": q.mailboxes,
        "startTime": { "dateTime": utc_text(q.window.start)?, "timeZone": "UTC" },
        "endTime": { "dateTime": utc_text(end)?, "timeZone": "UTC" },
        "availabilityViewInterval": interval,
    });
    let body = serde_json::to_vec(&body).map_err(|e| ProviderError::Unavailable(e.to_string()))?;

    let resp = match send_with_anchor(conn, q, &body)? {
        Anchored::Answer(resp) => resp,
        Anchored::NoAnchor { missing } => return Ok(without_anchor(q, &missing)),
    };
    if resp.status != 200 {
        return Err(call_error(&resp));
    }
    let parsed: ScheduleResponse = serde_json::from_slice(&resp.body)
        .map_err(|e| ProviderError::Unavailable(format!("Graph sent an unreadable getSchedule response: {e}")))?;
    let mut schedules: Vec<Schedule> =
        q.mailboxes.iter().map(|m| schedule_for(m, &parsed.value, q.details, asked.is_some())).collect();
    if q.details {
        if let Some(page_size) = conn.calendar_view_page_size {
            crate::calendar_view::replace_with_calendar_items(conn, q, &mut schedules, page_size)?;
        }
    }
    Ok(schedules)
}

/// Key under which a mailbox known to exist is remembered, to anchor later calls.
const ANCHOR_KEY: &str = "graph-anchor";
/// Mailboxes tried as the anchor before giving up on a batch.
const MAX_ANCHOR_TRIES: usize = 5;

/// What the anchored call produced.
enum Anchored {
    /// Graph answered (any status).
    Answer(Response),
    /// Every anchor tried was a 404: those addresses do not exist.
    NoAnchor { missing: Vec<String> },
}

/// POST getSchedule on `/users/{anchor}/calendar/getSchedule`. The URL's user is only an
/// anchor for app-only calls (microsoftgraph/microsoft-graph-docs#13075): any existing mailbox of the
/// tenant serves, but a nonexistent one fails the whole call with 404. So: the configured
/// anchor, else the last anchor that worked, else the requested mailboxes in turn.
fn send_with_anchor(conn: &Connection, q: &Query, body: &[u8]) -> Result<Anchored, ProviderError> {
    // A signed-in user asks on their own calendar (POST /me/calendar/getSchedule,
    // https://learn.microsoft.com/graph/api/calendar-getschedule).
    if matches!(conn.credentials, freebusy_provider_sdk::entra::Credentials::Delegated(_)) {
        let url = format!("{}/v1.0/me/calendar/getSchedule", conn.graph);
        return Ok(Anchored::Answer(send_authorized(conn, &url, body)?));
    }
    if let Some(anchor) = conn.anchor {
        let resp = send_authorized(conn, &schedule_url(conn, anchor), body)?;
        if resp.status == 404 && is_graph_error(&resp) {
            return Err(ProviderError::Misconfigured(format!(
                "anchor_mailbox '{anchor}' does not exist in the tenant (Graph answered 404)"
            )));
        }
        return Ok(Anchored::Answer(resp));
    }
    let mut anchors: Vec<String> = cache::get(&anchor_key(conn)).into_iter().collect();
    for m in &q.mailboxes {
        if !anchors.iter().any(|a| a.eq_ignore_ascii_case(m)) {
            anchors.push(m.clone());
        }
    }
    let mut missing = Vec::new();
    for anchor in anchors.iter().take(MAX_ANCHOR_TRIES) {
        let resp = send_authorized(conn, &schedule_url(conn, anchor), body)?;
        // Only Graph's own 404 says the anchor does not exist; a proxy's 404 page is an outage.
        if resp.status == 404 && is_graph_error(&resp) {
            cache::remove(&anchor_key(conn));
            missing.push(anchor.clone());
            continue;
        }
        if resp.status == 200 {
            cache::put(&anchor_key(conn), anchor, cache::now_ms() + ANCHOR_TTL_MS);
        }
        return Ok(Anchored::Answer(resp));
    }
    Ok(Anchored::NoAnchor { missing })
}

fn schedule_url(conn: &Connection, anchor: &str) -> String {
    format!("{}/v1.0/users/{}/calendar/getSchedule", conn.graph, http::encode_component(anchor))
}

/// A remembered anchor is re-checked daily (a mailbox can be deleted).
const ANCHOR_TTL_MS: i64 = 24 * 3600 * 1000;

fn anchor_key(conn: &Connection) -> String {
    format!("{ANCHOR_KEY}|{}|{}", conn.graph, conn.credentials.tenant())
}

/// Answers when no mailbox of the batch could anchor the call: the tried ones do not exist;
/// the rest could not be asked about.
fn without_anchor(q: &Query, missing: &[String]) -> Vec<Schedule> {
    q.mailboxes
        .iter()
        .map(|m| Schedule {
            mailbox: m.clone(),
            outcome: Err(if missing.iter().any(|x| x.eq_ignore_ascii_case(m)) {
                MailboxError::NotFound(format!("Graph has no user {m} (404)"))
            } else {
                MailboxError::Other(format!(
                    "none of the first {} mailboxes of this batch exists, so Graph could not be asked; set anchor_mailbox to an existing mailbox",
                    missing.len()
                ))
            }),
        })
        .collect()
}

fn schedule_for(mailbox: &str, infos: &[ScheduleInformation], details: bool, with_view: bool) -> Schedule {
    let outcome = match infos.iter().find(|i| i.schedule_id.eq_ignore_ascii_case(mailbox)) {
        None => Err(MailboxError::Other("Graph returned no schedule for this mailbox".into())),
        Some(info) => match &info.error {
            Some(err) => Err(mailbox_error(err)),
            None => info.schedule_items.iter().map(|item| block(item, details)).collect::<Result<Vec<_>, _>>().map(
                |blocks| MailboxSchedule {
                    blocks,
                    working_hours: info.working_hours.as_ref().and_then(working_hours),
                    merged_view: info.availability_view.as_deref().filter(|_| with_view).map(contract_view),
                },
            ),
        },
    };
    Schedule { mailbox: mailbox.to_string(), outcome }
}

/// availabilityView in the contract's alphabet: Graph's digits 0-4 are the contract's; anything
/// else (none is documented) is unknown rather than a guess.
fn contract_view(view: &str) -> String {
    view.chars().map(|c| if ('0'..='4').contains(&c) { c } else { '?' }).collect()
}

fn mailbox_error(err: &FreeBusyError) -> MailboxError {
    let text = format!("{}: {}", err.response_code, err.message);
    // 5009 / ErrorMailRecipientNotFound: "Unable to resolve e-mail address ... to an Active
    // Directory object" (a per-schedule error, microsoftgraph/microsoft-graph-docs#11225).
    if err.response_code == "5009"
        || err.response_code.contains("RecipientNotFound")
        || err.message.contains("Unable to resolve")
    {
        MailboxError::NotFound(text)
    } else if err.response_code.contains("NoFreeBusyAccess") || err.response_code.contains("AccessDenied") {
        MailboxError::AccessDenied(text)
    } else {
        MailboxError::Other(text)
    }
}

fn block(item: &ScheduleItem, details: bool) -> Result<BusyBlock, MailboxError> {
    let start = parse_utc(&item.start)?;
    let end = parse_utc(&item.end)?;
    let private = item.is_private;
    let keep = |v: &Option<String>| if details && !private { v.clone().filter(|s| !s.is_empty()) } else { None };
    Ok(BusyBlock {
        start,
        end,
        status: status(&item.status),
        subject: keep(&item.subject),
        location: keep(&item.location),
        is_private: private,
    })
}

fn working_hours(wh: &GraphWorkingHours) -> Option<WorkingHours> {
    let days = wh
        .days_of_week
        .iter()
        .filter_map(|d| match d.to_ascii_lowercase().as_str() {
            "monday" => Some(Weekday::Monday),
            "tuesday" => Some(Weekday::Tuesday),
            "wednesday" => Some(Weekday::Wednesday),
            "thursday" => Some(Weekday::Thursday),
            "friday" => Some(Weekday::Friday),
            "saturday" => Some(Weekday::Saturday),
            "sunday" => Some(Weekday::Sunday),
            _ => None,
        })
        .collect();
    let zone = wh.time_zone.as_ref()?.name.as_deref()?;
    Some(WorkingHours {
        days,
        start_minute: minutes_of_day(wh.start_time.as_deref()?)?,
        end_minute: minutes_of_day(wh.end_time.as_deref()?)?,
        // A custom zone ("Customized Time Zone") has no IANA name; it is passed through as is.
        time_zone: freebusy_core::zones::windows_to_iana(zone).map(String::from).unwrap_or_else(|| zone.to_string()),
    })
}

/// "08:00:00.0000000" -> 480; at most "24:00" (the contract's 0..=1440, not "24:59"). The sum is
/// computed only for a time of day: `then_some` computed it for "1093:00" too, and overflowed.
fn minutes_of_day(text: &str) -> Option<u16> {
    let mut parts = text.split(':');
    let h: u16 = parts.next()?.parse().ok()?;
    let m: u16 = parts.next()?.parse().ok()?;
    (h <= 24 && m < 60).then(|| h * 60 + m).filter(|&minutes| minutes <= 1440)
}

#[cfg(test)]
mod fuzz_tests;
