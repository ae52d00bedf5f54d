//! The normalized model: instants, windows, statuses, blocks, working hours and per-mailbox
//! errors. Field names mirror the WIT contract (`wit/provider@0.3.0`).

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC (the WIT `timestamp`).
pub type Timestamp = i64;

/// Milliseconds in a minute.
pub const MINUTE_MS: i64 = 60_000;
/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// A half-open interval `[start, end)` in milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Inclusive start.
    pub start: Timestamp,
    /// Exclusive end.
    pub end: Timestamp,
}

impl Window {
    /// Length in milliseconds (0 for an empty or inverted window).
    pub fn len_ms(&self) -> i64 {
        (self.end - self.start).max(0)
    }

    /// The UTC days (day numbers since the epoch) the window touches: caches keep answers per
    /// mailbox and day, so that windows moving with the clock still find them.
    pub fn utc_days(&self) -> std::ops::Range<i64> {
        self.start.div_euclid(DAY_MS)..(self.end - 1).div_euclid(DAY_MS) + 1
    }

    /// Whole UTC days as one window.
    pub fn of_days(days: &std::ops::Range<i64>) -> Window {
        Window { start: days.start * DAY_MS, end: days.end * DAY_MS }
    }

    /// Split into consecutive windows no longer than `max_ms`, covering exactly `self`.
    pub fn split(&self, max_ms: i64) -> Vec<Window> {
        assert!(max_ms > 0, "split length must be positive");
        let mut pieces = Vec::new();
        let mut start = self.start;
        while start < self.end {
            let end = self.end.min(start.saturating_add(max_ms));
            pieces.push(Window { start, end });
            start = end;
        }
        pieces
    }
}

/// How a mailbox is booked. The order of precedence when blocks overlap is given by
/// [`Availability::precedence`]; `Unknown` is never treated as free.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Availability {
    /// Shown as free (a "free" appointment).
    Free,
    /// Tentatively booked.
    Tentative,
    /// Busy.
    Busy,
    /// Out of office.
    OutOfOffice,
    /// Working elsewhere: working, but not at the usual place.
    WorkingElsewhere,
    /// The upstream could not say.
    Unknown,
}

impl Availability {
    /// Rank used when blocks overlap: the higher rank wins.
    ///
    /// out-of-office > busy > tentative > unknown > working-elsewhere > free. Unknown ranks above
    /// the two "available" states because an unread stretch may hide a meeting, and below the
    /// definite bookings because those are known facts.
    pub fn precedence(self) -> u8 {
        match self {
            Availability::Free => 0,
            Availability::WorkingElsewhere => 1,
            Availability::Unknown => 2,
            Availability::Tentative => 3,
            Availability::Busy => 4,
            Availability::OutOfOffice => 5,
        }
    }

    /// The digit in an availability string: Graph's `availabilityView` digits
    /// (0 free, 1 tentative, 2 busy, 3 out of office, 4 working elsewhere), plus `?` for unknown.
    pub fn digit(self) -> char {
        match self {
            Availability::Free => '0',
            Availability::Tentative => '1',
            Availability::Busy => '2',
            Availability::OutOfOffice => '3',
            Availability::WorkingElsewhere => '4',
            Availability::Unknown => '?',
        }
    }

    /// The lower-case kebab name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Free => "free",
            Availability::Tentative => "tentative",
            Availability::Busy => "busy",
            Availability::OutOfOffice => "out-of-office",
            Availability::WorkingElsewhere => "working-elsewhere",
            Availability::Unknown => "unknown",
        }
    }
}

/// One calendar item as a provider reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Start instant.
    pub start: Timestamp,
    /// End instant (exclusive).
    pub end: Timestamp,
    /// Status of the item.
    pub status: Availability,
    /// Subject, only with details and never for private items.
    pub subject: Option<String>,
    /// Location, only with details and never for private items.
    pub location: Option<String>,
    /// The item is private.
    pub is_private: bool,
}

impl Block {
    /// A block without details.
    pub fn new(start: Timestamp, end: Timestamp, status: Availability) -> Self {
        Block { start, end, status, subject: None, location: None, is_private: false }
    }
}

/// Days of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

/// Working hours in the mailbox's own time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkingHours {
    /// Working days.
    pub days: Vec<Weekday>,
    /// Minutes after local midnight.
    pub start_minute: u16,
    /// Minutes after local midnight.
    pub end_minute: u16,
    /// IANA time-zone name.
    pub time_zone: String,
}

/// Why one mailbox could not be read: the one list of error codes, serialized as the
/// kebab-case strings the API documents (`not-found`, `auth-failed`, ...). The OpenAPI document's
/// enum is checked against [`ErrorCode::ALL`] by a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The address does not resolve to a mailbox.
    NotFound,
    /// The credential may not read this mailbox's free/busy.
    AccessDenied,
    /// The mailbox has more items in the window than the upstream returns.
    TooLarge,
    /// The upstream rejected the credentials; never retried automatically.
    AuthFailed,
    /// The upstream throttled the call beyond what the retry policy waits for.
    Throttled,
    /// The upstream is down, answered 5xx or sent something unreadable.
    Unavailable,
    /// A setting is missing or malformed.
    Misconfigured,
    /// The upstream refuses this kind of call.
    Unsupported,
    /// The provider tried to reach a host outside its allow-list.
    OutboundDenied,
    /// The provider did not answer within its deadline and was stopped.
    ProviderTimeout,
    /// The provider component failed (a trap, a missing answer) or the fetch was lost.
    ProviderFault,
    /// Anything else the upstream reported, with its code in the message.
    Other,
}

impl ErrorCode {
    /// Every code, in documentation order.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::NotFound,
        ErrorCode::AccessDenied,
        ErrorCode::TooLarge,
        ErrorCode::AuthFailed,
        ErrorCode::Throttled,
        ErrorCode::Unavailable,
        ErrorCode::Misconfigured,
        ErrorCode::Unsupported,
        ErrorCode::OutboundDenied,
        ErrorCode::ProviderTimeout,
        ErrorCode::ProviderFault,
        ErrorCode::Other,
    ];

    /// The kebab-case name used in JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not-found",
            ErrorCode::AccessDenied => "access-denied",
            ErrorCode::TooLarge => "too-large",
            ErrorCode::AuthFailed => "auth-failed",
            ErrorCode::Throttled => "throttled",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Misconfigured => "misconfigured",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::OutboundDenied => "outbound-denied",
            ErrorCode::ProviderTimeout => "provider-timeout",
            ErrorCode::ProviderFault => "provider-fault",
            ErrorCode::Other => "other",
        }
    }

    /// Whether a cached answer, served marked stale, beats this error: yes for failures of the
    /// upstream or the provider, which pass; no for an unknown mailbox, a refused permission or a
    /// rejected credential, which an old answer would hide.
    pub fn may_serve_stale(self) -> bool {
        matches!(
            self,
            ErrorCode::Throttled | ErrorCode::Unavailable | ErrorCode::ProviderTimeout | ErrorCode::ProviderFault
        )
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one mailbox could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxError {
    /// Machine-readable kind.
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
}

impl MailboxError {
    /// Build from a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        MailboxError { code, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_touches_the_utc_days_it_overlaps_only() {
        assert_eq!(Window { start: 0, end: DAY_MS }.utc_days(), 0..1);
        assert_eq!(Window { start: DAY_MS - 1, end: DAY_MS + 1 }.utc_days(), 0..2);
        assert_eq!(Window { start: -1, end: 1 }.utc_days(), -1..1);
        assert_eq!(Window::of_days(&(1..3)), Window { start: DAY_MS, end: 3 * DAY_MS });
    }

    #[test]
    fn error_codes_serialize_as_their_documented_names() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::Value::String(code.as_str().into()));
        }
    }
}
