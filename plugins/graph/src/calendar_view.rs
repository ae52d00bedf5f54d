//! Details from the calendar itself (`details_source = "calendar-view"`), for tenants that
//! grant Calendars.Read and want subjects for every mailbox, not only for those that share
//! them in free/busy (https://learn.microsoft.com/graph/api/user-list-calendarview).
//!
//! getSchedule still answers first: it says which mailboxes exist, and gives working hours (so
//! the mailbox's zone) and the merged view. Then each readable mailbox's items are replaced by
//! its calendarView: expanded occurrences, fetched 20 mailboxes per JSON batch
//! (https://learn.microsoft.com/graph/json-batching), later pages followed through `@odata.nextLink` verbatim.
//! All-day events come back as floating midnight-to-midnight dates whatever `Prefer` says
//! (microsoft-graph-explorer-v4#578), so they are placed on the mailbox's own day here.

use chrono::{NaiveDate, TimeZone};
use freebusy_provider_sdk::http;
use freebusy_provider_sdk::types::*;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::client::{call_error, parse_utc, send_authorized, send_authorized_as, status, utc_text, DateTimeTimeZone};
use crate::Connection;

/// Requests per JSON batch (at most 20: https://learn.microsoft.com/graph/json-batching).
const BATCH_SIZE: usize = 20;
/// Pages followed per mailbox before giving up: a runaway nextLink chain must not run forever.
const MAX_PAGES: usize = 200;

#[derive(Deserialize)]
struct BatchResponse {
    #[serde(default)]
    responses: Vec<BatchItem>,
}

#[derive(Deserialize)]
struct BatchItem {
    id: String,
    status: u16,
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default)]
    body: Value,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<Event>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    is_all_day: bool,
    #[serde(default)]
    is_cancelled: bool,
    #[serde(default)]
    show_as: String,
    #[serde(default)]
    sensitivity: String,
    start: DateTimeTimeZone,
    end: DateTimeTimeZone,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(default)]
    display_name: Option<String>,
}

/// Replace the items of every readable mailbox with its calendar's, with subjects.
pub(crate) fn replace_with_calendar_items(
    conn: &Connection,
    q: &Query,
    schedules: &mut [Schedule],
    page_size: u32,
) -> Result<(), ProviderError> {
    let readable: Vec<usize> = (0..schedules.len()).filter(|&i| schedules[i].outcome.is_ok()).collect();
    let (start, end) = (utc_text(q.window.start)?, utc_text(q.window.end)?);
    for chunk in readable.chunks(BATCH_SIZE) {
        let requests: Vec<Value> = chunk
            .iter()
            .map(|&i| {
                json!({
                    "id": i.to_string(),
                    "method": "GET",
                    "url": format!(
                        "/users/{}/calendarView?startDateTime={start}Z&endDateTime={end}Z&$top={page_size}&$select=subject,location,start,end,isAllDay,isCancelled,showAs,sensitivity",
                        http::encode_component(&schedules[i].mailbox)
                    ),
                    "headers": {"Prefer": "outlook.timezone=\"UTC\""},
                })
            })
            .collect();
        let body = serde_json::to_vec(&json!({ "requests": requests }))
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        let resp = send_authorized(conn, &format!("{}/v1.0/$batch", conn.graph), &body)?;
        if resp.status != 200 {
            return Err(call_error(&resp));
        }
        let batch: BatchResponse = serde_json::from_slice(&resp.body)
            .map_err(|e| ProviderError::Unavailable(format!("Graph sent an unreadable $batch response: {e}")))?;
        // Answers come in any order: match them by id.
        for &i in chunk {
            let Some(item) = batch.responses.iter().find(|r| r.id == i.to_string()) else {
                schedules[i].outcome =
                    Err(MailboxError::Other("Graph's $batch response has no answer for this mailbox".into()));
                continue;
            };
            let zone =
                schedules[i].outcome.as_ref().ok().and_then(|s| s.working_hours.as_ref()).map(|w| w.time_zone.clone());
            match events_of(conn, item)? {
                Err(e) => schedules[i].outcome = Err(e),
                // Without the mailbox's zone an all-day event cannot be placed; the getSchedule
                // items (exact, without subjects) are kept instead.
                Ok(events) => match blocks(&events, zone.as_deref()) {
                    None => {}
                    Some(Err(e)) => schedules[i].outcome = Err(e),
                    Some(Ok(blocks)) => {
                        if let Ok(schedule) = schedules[i].outcome.as_mut() {
                            schedule.blocks = blocks;
                        }
                    }
                },
            }
        }
    }
    Ok(())
}

/// All events of one batched answer, following its later pages; a mailbox-level failure is
/// the inner result, throttling fails the whole call (the host retries it).
fn events_of(conn: &Connection, item: &BatchItem) -> Result<Result<Vec<Event>, MailboxError>, ProviderError> {
    let header =
        |name: &str| item.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str());
    let said = || {
        let e = item.body.get("error");
        let text = |k: &str| e.and_then(|e| e.get(k)).and_then(Value::as_str).unwrap_or("").to_string();
        format!("{} {}: {}", item.status, text("code"), text("message"))
    };
    match item.status {
        200 => {}
        429 | 503 | 504 => return Err(ProviderError::Throttled(http::retry_after_ms(header("retry-after")))),
        401 => return Err(ProviderError::AuthFailed(format!("Graph rejected the access token ({})", said()))),
        403 => {
            return Ok(Err(MailboxError::AccessDenied(format!(
                "calendarView was refused ({}): details_source = \"calendar-view\" needs the application permission Calendars.Read with admin consent",
                said()
            ))))
        }
        404 => return Ok(Err(MailboxError::NotFound(format!("Graph has no calendar for this mailbox ({})", said())))),
        _ => return Ok(Err(MailboxError::Other(format!("calendarView failed ({})", said())))),
    }
    let mut page: Page = serde_json::from_value(item.body.clone())
        .map_err(|e| ProviderError::Unavailable(format!("Graph sent an unreadable calendarView page: {e}")))?;
    let mut events = std::mem::take(&mut page.value);
    let mut pages = 1;
    while let Some(next) = page.next_link.take() {
        pages += 1;
        if pages > MAX_PAGES {
            return Ok(Err(MailboxError::TooLarge(format!("more than {MAX_PAGES} calendarView pages"))));
        }
        let resp = send_authorized_as(conn, "GET", &next, None)?;
        if resp.status != 200 {
            return Err(call_error(&resp));
        }
        page = serde_json::from_slice(&resp.body)
            .map_err(|e| ProviderError::Unavailable(format!("Graph sent an unreadable calendarView page: {e}")))?;
        events.append(&mut page.value);
    }
    Ok(Ok(events))
}

/// Busy blocks from calendar events; `None` when an all-day event needs a zone that is unknown.
fn blocks(events: &[Event], zone: Option<&str>) -> Option<Result<Vec<BusyBlock>, MailboxError>> {
    let tz: Option<chrono_tz::Tz> = zone.and_then(|z| z.parse().ok());
    let mut out = Vec::new();
    for e in events.iter().filter(|e| !e.is_cancelled) {
        let (start, end) = if e.is_all_day {
            let tz = tz?;
            match (local_midnight(&e.start, tz), local_midnight(&e.end, tz)) {
                (Some(s), Some(t)) => (s, t),
                _ => {
                    return Some(Err(MailboxError::Other(format!(
                        "unreadable all-day date '{}' from Graph",
                        e.start.date_time
                    ))))
                }
            }
        } else {
            match (parse_utc(&e.start), parse_utc(&e.end)) {
                (Ok(s), Ok(t)) => (s, t),
                (Err(err), _) | (_, Err(err)) => return Some(Err(err)),
            }
        };
        // Private and confidential items keep their time, never their subject or location.
        let private = matches!(e.sensitivity.to_ascii_lowercase().as_str(), "private" | "confidential");
        let keep = |v: Option<&String>| v.filter(|s| !private && !s.is_empty()).cloned();
        out.push(BusyBlock {
            start,
            end,
            status: status(&e.show_as),
            subject: keep(e.subject.as_ref()),
            location: keep(e.location.as_ref().and_then(|l| l.display_name.as_ref())),
            is_private: private,
        });
    }
    Some(Ok(out))
}

/// The floating date of an all-day bound, at midnight in the mailbox's zone, as UTC millis.
fn local_midnight(dt: &DateTimeTimeZone, tz: chrono_tz::Tz) -> Option<i64> {
    let date = NaiveDate::parse_from_str(dt.date_time.get(..10)?, "%Y-%m-%d").ok()?;
    let midnight = date.and_hms_opt(0, 0, 0)?;
    // A zone that skips midnight on a DST day starts the day at its first valid instant.
    let local = tz
        .from_local_datetime(&midnight)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(midnight + chrono::Duration::hours(1))).earliest())?;
    Some(local.timestamp_millis())
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn all_day_events_are_placed_on_the_mailboxs_own_day() {
        // Graph's floating all-day date, read for a mailbox in Tokyo (UTC+9): the day starts
        // at 15:00 UTC the evening before.
        let e = event(
            r#"{"isAllDay":true,"showAs":"oof","sensitivity":"normal","subject":"Holiday",
            "start":{"dateTime":"2026-03-25T00:00:00.0000000","timeZone":"UTC"},
            "end":{"dateTime":"2026-03-26T00:00:00.0000000","timeZone":"UTC"}}"#,
        );
        let b = blocks(std::slice::from_ref(&e), Some("Asia/Tokyo")).unwrap().unwrap();
        assert_eq!(b[0].start, 1_774_364_400_000, "2026-03-24T15:00:00Z");
        assert_eq!(b[0].end - b[0].start, 86_400_000);
        assert_eq!(b[0].status, Availability::OutOfOffice);
        // Without the mailbox's zone there is no right answer: the caller keeps getSchedule's.
        assert!(blocks(&[e], None).is_none());
    }

    #[test]
    fn private_and_cancelled_items_keep_nothing_they_should_not() {
        let private = event(
            r#"{"showAs":"busy","sensitivity":"private","subject":"Doctor","location":{"displayName":"Clinic"},
            "start":{"dateTime":"2026-03-25T09:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2026-03-25T10:00:00.0000000","timeZone":"UTC"}}"#,
        );
        let cancelled = event(
            r#"{"showAs":"busy","isCancelled":true,"subject":"Gone",
            "start":{"dateTime":"2026-03-25T11:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2026-03-25T12:00:00.0000000","timeZone":"UTC"}}"#,
        );
        let b = blocks(&[private, cancelled], Some("Europe/Berlin")).unwrap().unwrap();
        assert_eq!(b.len(), 1);
        assert!(b[0].is_private && b[0].subject.is_none() && b[0].location.is_none());
    }
}
