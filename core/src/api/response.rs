//! The `/v1/freebusy` answer: each mailbox's merged busy time, items with details, availability
//! view and working hours, or its error (never an empty "free" guess); rendered as JSON or
//! iCalendar.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::request::FreeBusyRequest;
use crate::model::{Availability, Block, MailboxError, Timestamp, WorkingHours};
use crate::scheduler::MailboxOutcome;
use crate::timeline::{clip, merge};
use crate::view::availability_view;

/// Render an answer for an `Accept` header: iCalendar when `text/calendar` is accepted, else
/// JSON. Returns the content type and the body. `now` is the iCalendar DTSTAMP.
pub fn render(resp: &FreeBusyResponse, accept: Option<&str>, now: Timestamp) -> (&'static str, String) {
    if accept.is_some_and(|a| a.contains("text/calendar")) {
        ("text/calendar; charset=utf-8", crate::ical::render(resp, &format_instant(now)))
    } else {
        ("application/json", serde_json::to_string(resp).expect("responses serialize"))
    }
}

/// Format an instant as RFC 3339 UTC (`2026-03-23T08:00:00Z`).
pub fn format_instant(t: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp_millis(t)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| t.to_string())
}

/// Parse an RFC 3339 instant (for clients of the API, such as the tests and the CLI).
pub fn parse_instant_str(text: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp_millis())
}

/// The answer to `req` from each mailbox's outcome (in request order): clipped, merged and
/// rendered as the request asked.
pub fn respond(req: &FreeBusyRequest, outcomes: Vec<MailboxOutcome>) -> FreeBusyResponse {
    let mailboxes = req
        .mailboxes
        .iter()
        .zip(outcomes)
        .map(|(m, outcome)| match outcome {
            Err(e) => MailboxResult::from_error(m, e),
            Ok(schedule) => {
                let mut result = MailboxResult::from_blocks(m, &schedule.blocks, schedule.working_hours, req);
                result.upstream_view = schedule.merged_view;
                result
            }
        })
        .collect();
    FreeBusyResponse {
        start: format_instant(req.window.start),
        end: format_instant(req.window.end),
        interval: req.interval_minutes,
        mailboxes,
    }
}

/// The `/v1/freebusy` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FreeBusyResponse {
    /// Window start, RFC 3339 UTC.
    pub start: String,
    /// Window end, RFC 3339 UTC.
    pub end: String,
    /// Minutes per digit of `availabilityView`, when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u32>,
    /// One entry per requested mailbox, in request order.
    pub mailboxes: Vec<MailboxResult>,
}

/// The answer for one mailbox: either its timeline or an error, never an empty "free" guess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailboxResult {
    /// The address as requested.
    pub mailbox: String,
    /// Merged, non-overlapping busy time (free time is the gaps), absent on error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy: Option<Vec<BusyInterval>>,
    /// Individual items with details, when `details=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event>>,
    /// One digit per interval, when `interval` was given, computed by freebusy from the items:
    /// 0 free, 1 tentative, 2 busy, 3 out of office, 4 working elsewhere, ? unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_view: Option<String>,
    /// The upstream's own merged view at `interval` (Graph `availabilityView`, EWS
    /// `MergedFreeBusy`), when `upstream=true` and the provider returned it for the whole
    /// window. Same alphabet, but Microsoft writes working elsewhere as 0 "for backward
    /// compatibility"; for clients that must match what Outlook shows digit for digit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_view: Option<String>,
    /// The mailbox's working hours, when the upstream reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_hours: Option<WorkingHours>,
    /// Why this mailbox could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<MailboxError>,
    /// Seconds since the upstream gave this answer, when it came from the host's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_age_seconds: Option<u64>,
    /// Why a fresh answer could not be had, when this one is stale: served from the cache
    /// after its TTL because the upstream failed (`stale_if_error_secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale: Option<MailboxError>,
}

/// A stretch of merged busy time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyInterval {
    /// RFC 3339 UTC.
    pub start: String,
    /// RFC 3339 UTC, exclusive.
    pub end: String,
    /// The highest-precedence status in this stretch.
    pub status: Availability,
}

/// One calendar item, with details where allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// RFC 3339 UTC, clipped to the window.
    pub start: String,
    /// RFC 3339 UTC, clipped to the window.
    pub end: String,
    /// Status of the item.
    pub status: Availability,
    /// Subject (for rooms often the organizer); never for private items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Location; never for private items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The item is private.
    pub private: bool,
}

impl MailboxResult {
    /// The answer for a mailbox that was read: merge, clip, and render what the request asked.
    pub fn from_blocks(
        mailbox: &str,
        blocks: &[Block],
        working_hours: Option<WorkingHours>,
        req: &FreeBusyRequest,
    ) -> Self {
        let busy = merge(blocks, req.window)
            .into_iter()
            .map(|s| BusyInterval { start: format_instant(s.start), end: format_instant(s.end), status: s.status })
            .collect();
        let events = req.details.then(|| {
            clip(blocks, req.window)
                .into_iter()
                .map(|b| Event {
                    start: format_instant(b.start),
                    end: format_instant(b.end),
                    status: b.status,
                    // Privacy is enforced here as well as in providers: a private item never
                    // shows its subject or location, whatever an upstream sent.
                    subject: if b.is_private { None } else { b.subject },
                    location: if b.is_private { None } else { b.location },
                    private: b.is_private,
                })
                .collect()
        });
        MailboxResult {
            mailbox: mailbox.to_string(),
            busy: Some(busy),
            events,
            availability_view: req.interval_minutes.map(|i| availability_view(blocks, req.window, i)),
            upstream_view: None,
            working_hours,
            error: None,
            cache_age_seconds: None,
            stale: None,
        }
    }

    /// The answer for a mailbox that could not be read.
    pub fn from_error(mailbox: &str, error: MailboxError) -> Self {
        MailboxResult {
            mailbox: mailbox.to_string(),
            busy: None,
            events: None,
            availability_view: None,
            upstream_view: None,
            working_hours: None,
            error: Some(error),
            cache_age_seconds: None,
            stale: None,
        }
    }
}
