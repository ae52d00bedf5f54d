//! The `/v1/freebusy` request: parsing a query string or a JSON body, and validating it into a
//! [`FreeBusyRequest`], every problem listed at once (bad input becomes an RFC 9457 problem, never
//! a panic).

use chrono::DateTime;
use serde::Deserialize;

use super::problem::{InvalidParam, Problem};
use crate::model::{Timestamp, Window, DAY_MS, MINUTE_MS};
use crate::view::{MAX_INTERVAL_MINUTES, MIN_INTERVAL_MINUTES};

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

pub(crate) fn check_address(address: &str) -> Result<(), &'static str> {
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
