//! The `/v1/freebusy` HTTP API contract, shared by the host and the edge: request parsing and
//! validation (bad input becomes an RFC 9457 problem, never a panic) and the JSON response.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Availability, Block, MailboxError, Timestamp, Window, WorkingHours, DAY_MS, MINUTE_MS};
use crate::scheduler::MailboxOutcome;
use crate::timeline::{clip, merge};
use crate::view::{availability_view, MAX_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES};

/// Most mailboxes one API request may name; the host splits them into provider-sized calls.
pub const MAX_MAILBOXES_PER_REQUEST: usize = 1000;
/// Longest window one API request may cover; the host splits it at the provider's limit.
pub const MAX_WINDOW_DAYS: i64 = 366;
/// Longest accepted address (RFC 5321 path limit).
const MAX_ADDRESS_LEN: usize = 320;

/// A validated free/busy question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyRequest {
    /// Distinct addresses, in the order first given.
    pub mailboxes: Vec<String>,
    /// The window asked about.
    pub window: Window,
    /// When set, each mailbox also gets an availability string at this many minutes per digit.
    pub interval_minutes: Option<u32>,
    /// Ask for subjects and locations where the upstream allows them.
    pub details: bool,
    /// Also ask the upstream for its own merged view at `interval_minutes` (`upstreamView`).
    pub upstream_view: bool,
}

impl FreeBusyRequest {
    /// The interval to ask the upstream's own merged view at, if the request wants it.
    pub fn upstream_interval(&self) -> Option<u32> {
        self.interval_minutes.filter(|_| self.upstream_view)
    }

    /// Characters in an availability string for this request: one per interval, the last
    /// possibly partial. `None` without an interval.
    pub fn view_slots(&self) -> Option<usize> {
        let step = i64::from(self.interval_minutes?.max(1)) * crate::model::MINUTE_MS;
        usize::try_from((self.window.len_ms() + step - 1) / step).ok()
    }
}

/// The request as it arrives, before validation: from a query string or a JSON body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFreeBusyRequest {
    /// Addresses; each entry may itself be a comma-separated list.
    #[serde(default)]
    pub mailboxes: Vec<String>,
    /// RFC 3339 start.
    pub start: Option<String>,
    /// RFC 3339 end.
    pub end: Option<String>,
    /// Minutes per digit of the availability string.
    #[serde(default, deserialize_with = "number_or_string")]
    pub interval: Option<String>,
    /// `true` or `false`.
    #[serde(default, deserialize_with = "bool_or_string")]
    pub details: Option<String>,
    /// `true` to also get the upstream's own merged view (needs `interval`).
    #[serde(default, deserialize_with = "bool_or_string")]
    pub upstream: Option<String>,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    number_or_string(d)
}

impl RawFreeBusyRequest {
    /// Collect from query-string pairs. `mailboxes` (or `mailbox`) may repeat.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Problem> {
        let mut raw = RawFreeBusyRequest::default();
        let mut unknown = Vec::new();
        for (key, value) in pairs {
            match key {
                "mailboxes" | "mailbox" => raw.mailboxes.push(value.to_string()),
                "start" => raw.start = Some(value.to_string()),
                "end" => raw.end = Some(value.to_string()),
                "interval" => raw.interval = Some(value.to_string()),
                "details" => raw.details = Some(value.to_string()),
                "upstream" => raw.upstream = Some(value.to_string()),
                other => unknown.push(InvalidParam::new(other, "unknown parameter")),
            }
        }
        if unknown.is_empty() {
            Ok(raw)
        } else {
            Err(Problem::invalid(unknown))
        }
    }

    /// Validate into a [`FreeBusyRequest`], listing every problem at once.
    pub fn validate(&self) -> Result<FreeBusyRequest, Problem> {
        let mut errors = Vec::new();
        let mut mailboxes: Vec<String> = Vec::new();
        for address in self.mailboxes.iter().flat_map(|m| m.split(',')).map(str::trim) {
            if address.is_empty() {
                continue;
            }
            match check_address(address) {
                Ok(()) => {
                    if !mailboxes.iter().any(|m| m.eq_ignore_ascii_case(address)) {
                        mailboxes.push(address.to_string());
                    }
                }
                Err(reason) => errors.push(InvalidParam::new("mailboxes", format!("'{address}' {reason}"))),
            }
        }
        if mailboxes.is_empty() && errors.is_empty() {
            errors.push(InvalidParam::new(
                "mailboxes",
                "at least one mailbox address is required, e.g. mailboxes=alice@contoso.com,room1@contoso.com",
            ));
        }
        if mailboxes.len() > MAX_MAILBOXES_PER_REQUEST {
            errors.push(InvalidParam::new(
                "mailboxes",
                format!("{} mailboxes given; at most {MAX_MAILBOXES_PER_REQUEST} per request", mailboxes.len()),
            ));
        }
        let start = parse_instant("start", self.start.as_deref(), &mut errors);
        let end = parse_instant("end", self.end.as_deref(), &mut errors);
        let mut window = None;
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                errors.push(InvalidParam::new("end", "must be after start"));
            } else if end - start > MAX_WINDOW_DAYS * DAY_MS {
                errors.push(InvalidParam::new("end", format!("the window may cover at most {MAX_WINDOW_DAYS} days")));
            } else {
                window = Some(Window { start, end });
            }
        }
        let interval_minutes = match self.interval.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (MIN_INTERVAL_MINUTES..=MAX_INTERVAL_MINUTES).contains(&n) => {
                    if window.is_some_and(|w| i64::from(n) * MINUTE_MS > w.len_ms()) {
                        errors.push(InvalidParam::new("interval", "must not be longer than the window"));
                    }
                    Some(n)
                }
                _ => {
                    errors.push(InvalidParam::new(
                        "interval",
                        format!("must be a whole number of minutes from {MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES}, got '{text}'"),
                    ));
                    None
                }
            },
        };
        let details = flag("details", self.details.as_deref(), &mut errors);
        let upstream_view = flag("upstream", self.upstream.as_deref(), &mut errors);
        if upstream_view && interval_minutes.is_none() && self.interval.is_none() {
            errors.push(InvalidParam::new(
                "upstream",
                "needs an interval: the upstream's view is one digit per interval",
            ));
        }
        match (errors.is_empty(), window) {
            (true, Some(window)) => Ok(FreeBusyRequest { mailboxes, window, interval_minutes, details, upstream_view }),
            _ => Err(Problem::invalid(errors)),
        }
    }
}

/// A `true`/`false` parameter (also `1`/`0`); absent is false.
fn flag(name: &str, value: Option<&str>, errors: &mut Vec<InvalidParam>) -> bool {
    match value.map(str::trim) {
        None | Some("") | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            errors.push(InvalidParam::new(name, format!("must be true or false, got '{other}'")));
            false
        }
    }
}

fn check_address(address: &str) -> Result<(), &'static str> {
    if address.len() > MAX_ADDRESS_LEN {
        return Err("is longer than 320 characters");
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[];:\"\\".contains(c)) {
        return Err("contains characters not allowed in a mailbox address");
    }
    let Some((local, domain)) = address.split_once('@') else {
        return Err("is not a mailbox address (name@domain)");
    };
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err("is not a mailbox address (name@domain)");
    }
    let labels_ok = domain.split('.').all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if !domain.contains('.') || !labels_ok {
        return Err("has no valid domain (name@example.com)");
    }
    Ok(())
}

fn parse_instant(name: &str, value: Option<&str>, errors: &mut Vec<InvalidParam>) -> Option<Timestamp> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        errors.push(InvalidParam::new(name, "is required (RFC 3339, e.g. 2026-03-23T00:00:00Z)"));
        return None;
    };
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => Some(t.timestamp_millis()),
        Err(_) => {
            errors.push(InvalidParam::new(
                name,
                format!("'{text}' is not an RFC 3339 date-time with an offset, e.g. 2026-03-23T09:00:00Z or 2026-03-23T09:00:00+01:00"),
            ));
            None
        }
    }
}

/// One invalid parameter of a problem (RFC 9457 extension member `invalid-params`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidParam {
    /// Parameter name.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidParam {
    /// Build one.
    pub fn new(name: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidParam { name: name.into(), reason: reason.into() }
    }
}

/// An RFC 9457 problem details body (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Every invalid parameter, when the request was malformed.
    #[serde(rename = "invalid-params", default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_params: Vec<InvalidParam>,
}

/// The media type of [`Problem`] bodies.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

impl Problem {
    /// A 400 listing invalid parameters.
    pub fn invalid(params: Vec<InvalidParam>) -> Self {
        let detail = params.iter().map(|p| format!("{}: {}", p.name, p.reason)).collect::<Vec<_>>().join("; ");
        Problem {
            kind: "/problems/invalid-request".into(),
            title: "The request is invalid".into(),
            status: 400,
            detail,
            invalid_params: params,
        }
    }

    /// Any other problem.
    pub fn new(status: u16, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("/problems/{kind}"),
            title: title.into(),
            status,
            detail: detail.into(),
            invalid_params: Vec::new(),
        }
    }
}

/// The problems every front end (host and edge) answers with the same words.
impl Problem {
    /// 404 for a path that names no resource.
    pub fn no_such_route() -> Self {
        Problem::new(404, "not-found", "No such resource", "see /v1/freebusy")
    }

    /// 405 for a method the resource does not take.
    pub fn method_not_allowed(allowed: &str) -> Self {
        Problem::new(405, "method-not-allowed", "Method not allowed", format!("use {allowed}"))
    }

    /// 404 for a tenant that is not configured.
    pub fn unknown_tenant(tenant: &str) -> Self {
        Problem::new(404, "unknown-tenant", "Unknown tenant", format!("no tenant named '{tenant}' is configured"))
    }

    /// 400 when no tenant is named and none is the default.
    pub fn no_default_tenant() -> Self {
        Problem::new(
            400,
            "no-default-tenant",
            "No default tenant",
            "several tenants are configured and no default_tenant; use /v1/tenants/{tenant}/freebusy",
        )
    }

    /// 500 for a provider setting the service cannot work with.
    pub fn configuration(detail: impl Into<String>) -> Self {
        Problem::new(500, "configuration", "Configuration error", detail)
    }

    /// The body, serialized.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("problems serialize")
    }
}

/// Parse a `/v1/freebusy` query string (`mailboxes=..&start=..&end=..`).
pub fn parse_query_string(query: &str) -> Result<FreeBusyRequest, Problem> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    RawFreeBusyRequest::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?.validate()
}

/// Parse a `POST /v1/freebusy` body, which must be JSON.
pub fn parse_json_body(content_type: Option<&str>, body: &[u8]) -> Result<FreeBusyRequest, Problem> {
    if !content_type.is_some_and(|v| v.trim_start().starts_with("application/json")) {
        return Err(Problem::new(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "POST a JSON body with Content-Type: application/json",
        ));
    }
    let raw: RawFreeBusyRequest = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            400,
            "invalid-request",
            "The request is invalid",
            format!("the body is not a valid free/busy request: {e}"),
        )
    })?;
    raw.validate()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(q: &[(&str, &str)]) -> Result<FreeBusyRequest, Problem> {
        RawFreeBusyRequest::from_pairs(q.iter().copied())?.validate()
    }

    #[test]
    fn accepts_a_well_formed_query_and_dedupes_mailboxes() {
        let req = raw(&[
            ("mailboxes", "a@x.com, B@x.com"),
            ("mailboxes", "b@x.com"),
            ("start", "2026-03-23T00:00:00Z"),
            ("end", "2026-03-24T00:00:00+01:00"),
            ("interval", "30"),
            ("details", "true"),
        ])
        .unwrap();
        assert_eq!(req.mailboxes, vec!["a@x.com", "B@x.com"]);
        assert_eq!(req.window.len_ms(), 23 * 3_600_000);
        assert_eq!(req.interval_minutes, Some(30));
        assert!(req.details);
    }

    #[test]
    fn lists_every_problem_at_once() {
        let p = raw(&[("mailboxes", "not-an-address"), ("start", "yesterday"), ("interval", "3")]).unwrap_err();
        assert_eq!(p.status, 400);
        let names: Vec<&str> = p.invalid_params.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["mailboxes", "start", "end", "interval"]);
        assert!(p.detail.contains("not-an-address"), "{}", p.detail);
    }

    #[test]
    fn end_before_start_and_empty_mailboxes_are_rejected() {
        let p = raw(&[("start", "2026-03-23T10:00:00Z"), ("end", "2026-03-23T09:00:00Z")]).unwrap_err();
        assert!(p.invalid_params.iter().any(|i| i.name == "end" && i.reason.contains("after start")));
        assert!(p.invalid_params.iter().any(|i| i.name == "mailboxes" && i.reason.contains("required")));
    }

    #[test]
    fn unknown_parameters_are_named() {
        let p = raw(&[("mailboxs", "a@x.com")]).unwrap_err();
        assert_eq!(p.invalid_params, vec![InvalidParam::new("mailboxs", "unknown parameter")]);
    }

    #[test]
    fn json_body_accepts_numbers_and_booleans() {
        let body = r#"{"mailboxes":["a@x.com"],"start":"2026-03-23T00:00:00Z","end":"2026-03-23T12:00:00Z","interval":60,"details":true}"#;
        let raw: RawFreeBusyRequest = serde_json::from_str(body).unwrap();
        let req = raw.validate().unwrap();
        assert_eq!(req.interval_minutes, Some(60));
        assert!(req.details);
    }

    #[test]
    fn private_items_never_show_subjects() {
        let req = raw(&[
            ("mailboxes", "a@x.com"),
            ("start", "1970-01-01T00:00:00Z"),
            ("end", "1970-01-01T01:00:00Z"),
            ("details", "true"),
        ])
        .unwrap();
        let mut b = Block::new(0, 60_000, Availability::Busy);
        b.subject = Some("Salary talk".into());
        b.is_private = true;
        let r = MailboxResult::from_blocks("a@x.com", &[b], None, &req);
        let events = r.events.unwrap();
        assert_eq!(events[0].subject, None);
        assert!(events[0].private);
    }
}

/// Most directory entries one request returns.
pub const MAX_DIRECTORY_RESULTS: u32 = 200;

/// What a directory search looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// People (users).
    Person,
    /// Rooms.
    Room,
}

/// A validated `/v1/directory` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRequest {
    /// Name or address prefix.
    pub prefix: String,
    /// People or rooms.
    pub kind: EntryKind,
    /// At most this many entries.
    pub max: u32,
}

/// Parse `q=<prefix>&kind=person|room&max=<n>`.
pub fn parse_directory_query(query: &str) -> Result<DirectoryRequest, Problem> {
    let mut errors = Vec::new();
    let (mut prefix, mut kind, mut max) = (None, EntryKind::Person, 25);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "q" => prefix = Some(value.trim().to_string()),
            "kind" => match value.as_ref() {
                "person" | "people" => kind = EntryKind::Person,
                "room" | "rooms" => kind = EntryKind::Room,
                other => errors.push(InvalidParam::new("kind", format!("must be person or room, got '{other}'"))),
            },
            "max" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_DIRECTORY_RESULTS).contains(&n) => max = n,
                _ => {
                    errors.push(InvalidParam::new("max", format!("must be a number from 1 to {MAX_DIRECTORY_RESULTS}")))
                }
            },
            other => errors.push(InvalidParam::new(other, "unknown parameter")),
        }
    }
    match prefix {
        Some(p) if !p.is_empty() && p.chars().count() <= 64 => {
            if errors.is_empty() {
                return Ok(DirectoryRequest { prefix: p, kind, max });
            }
        }
        Some(p) if !p.is_empty() => errors.push(InvalidParam::new("q", "must be at most 64 characters")),
        _ => errors.push(InvalidParam::new("q", "a name or address prefix is required, e.g. q=ad")),
    }
    Err(Problem::invalid(errors))
}

/// One person or room found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryEntry {
    /// Person or room.
    pub kind: EntryKind,
    /// Name to show.
    pub display_name: String,
    /// SMTP address, usable in `/v1/freebusy`.
    pub address: String,
    /// Seats (rooms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// Building (rooms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building: Option<String>,
}

/// The `/v1/directory` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryResponse {
    /// Matches, at most `max`.
    pub entries: Vec<DirectoryEntry>,
}
