//! Graph's wire format and transport, shared by every endpoint module: requests with the bearer
//! token (and one retry with a new token after a 401), error bodies mapped to provider errors,
//! `dateTimeTimeZone` values and `freeBusyStatus` names.

use chrono::{DateTime, NaiveDateTime, Utc};
use freebusy_provider_sdk::http::{self, Request, Response};
use freebusy_provider_sdk::types::*;
use serde::Deserialize;

use crate::Connection;

/// Graph's `dateTimeTimeZone` (https://learn.microsoft.com/graph/api/resources/datetimetimezone).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DateTimeTimeZone {
    pub date_time: String,
    #[serde(default)]
    pub time_zone: String,
}

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    #[serde(default)]
    error: GraphError,
}

#[derive(Deserialize, Default)]
struct GraphError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// One request with the bearer token; a 401 drops the cached token and retries once with a
/// new one (a cached token can be revoked or expire early), never more.
pub(crate) fn send_authorized(conn: &Connection, url: &str, body: &[u8]) -> Result<Response, ProviderError> {
    send_authorized_as(conn, "POST", url, Some(body))
}

/// [`send_authorized`] for any method; a GET has no body.
pub(crate) fn send_authorized_as(
    conn: &Connection,
    method: &'static str,
    url: &str,
    body: Option<&[u8]>,
) -> Result<Response, ProviderError> {
    let mut retried_token = false;
    loop {
        let token = conn.credentials.token()?;
        let mut req = Request::new(method, url)
            .header("authorization", format!("Bearer {token}"))
            .header("prefer", "outlook.timezone=\"UTC\"");
        if let Some(body) = body {
            req = req.body("application/json", body.to_vec());
        }
        let resp = http::send(&req).map_err(|e| ProviderError::Unavailable(format!("Graph: {e}")))?;
        if resp.status == 401 && !retried_token {
            conn.credentials.forget();
            retried_token = true;
            continue;
        }
        return Ok(resp);
    }
}

/// A `freeBusyStatus` name (https://learn.microsoft.com/graph/api/resources/scheduleitem).
pub(crate) fn status(text: &str) -> Availability {
    // Real responses are lower-case; older examples capitalised. Parse case-insensitively.
    match text.to_ascii_lowercase().as_str() {
        "free" => Availability::Free,
        "tentative" => Availability::Tentative,
        "busy" => Availability::Busy,
        "oof" => Availability::OutOfOffice,
        "workingelsewhere" => Availability::WorkingElsewhere,
        _ => Availability::Unknown,
    }
}

/// Parse Graph's `dateTime` (7 fractional digits, no offset) in the UTC zone we asked for.
pub(crate) fn parse_utc(dt: &DateTimeTimeZone) -> Result<i64, MailboxError> {
    let zone = dt.time_zone.trim();
    if !(zone.is_empty()
        || zone.eq_ignore_ascii_case("UTC")
        || zone == "Etc/UTC"
        || zone.eq_ignore_ascii_case("Coordinated Universal Time"))
    {
        return Err(MailboxError::Other(format!("Graph answered in time zone '{zone}' although UTC was requested")));
    }
    NaiveDateTime::parse_from_str(dt.date_time.trim().trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
        .map(|t| t.and_utc().timestamp_millis())
        .map_err(|_| MailboxError::Other(format!("unreadable time '{}' from Graph", dt.date_time)))
}

/// UTC milliseconds as `YYYY-MM-DDTHH:MM:SS`, for a dateTimeTimeZone with timeZone UTC.
pub(crate) fn utc_text(ms: i64) -> Result<String, ProviderError> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .ok_or_else(|| ProviderError::Misconfigured("query window is out of range".into()))
}

/// Whether a failed answer carries Graph's error envelope (https://learn.microsoft.com/graph/errors)
/// with a code: Graph's own answer, not a page from a proxy or gateway in front of it.
pub(crate) fn is_graph_error(resp: &Response) -> bool {
    serde_json::from_slice::<GraphErrorBody>(&resp.body).is_ok_and(|b| !b.error.code.is_empty())
}

/// Map a failed getSchedule call (https://learn.microsoft.com/graph/errors,
/// https://learn.microsoft.com/graph/throttling).
pub(crate) fn call_error(resp: &Response) -> ProviderError {
    let err = serde_json::from_slice::<GraphErrorBody>(&resp.body).unwrap_or_default().error;
    let said =
        if err.code.is_empty() { format!("HTTP {}", resp.status) } else { format!("{}: {}", err.code, err.message) };
    match resp.status {
        429 | 503 | 504 => ProviderError::Throttled(http::retry_after_ms(resp.header("retry-after"))),
        401 => ProviderError::AuthFailed(format!("Graph rejected the access token ({said})")),
        403 => ProviderError::AuthFailed(format!(
            "Graph denied access ({said}): grant the application permission Calendars.ReadBasic (or Calendars.Read) and admin consent; consent can take up to two hours to apply"
        )),
        400 => ProviderError::Misconfigured(format!("Graph refused the request ({said})")),
        // A 404 without Graph's error body is a proxy's or gateway's page: it says nothing about
        // the mailbox in the URL.
        404 if err.code.is_empty() => ProviderError::Unavailable(
            "Graph answered HTTP 404 without Graph's error body (a proxy or gateway in front of Graph?)".into(),
        ),
        404 => ProviderError::Misconfigured(format!("Graph found no mailbox at the anchor URL ({said}); set anchor_mailbox to a licensed mailbox")),
        _ => ProviderError::Unavailable(format!("Graph answered {said}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_times_with_seven_fraction_digits_parse_as_utc() {
        let dt = DateTimeTimeZone { date_time: "2019-03-15T12:00:00.0000000".into(), time_zone: "UTC".into() };
        assert_eq!(parse_utc(&dt).unwrap(), 1_552_651_200_000);
    }

    #[test]
    fn utc_text_round_trips() {
        for ms in [0i64, 1_552_651_200_000, 1_774_742_400_000, 951_782_400_000] {
            let text = utc_text(ms).unwrap();
            let back = parse_utc(&DateTimeTimeZone { date_time: text.clone(), time_zone: "UTC".into() }).unwrap();
            assert_eq!(back, ms, "{text}");
        }
        assert_eq!(utc_text(1_774_742_400_000).unwrap(), "2026-03-29T00:00:00");
    }

    #[test]
    fn statuses_map_case_insensitively() {
        assert_eq!(status("workingElsewhere"), Availability::WorkingElsewhere);
        assert_eq!(status("Tentative"), Availability::Tentative);
        assert_eq!(status("oof"), Availability::OutOfOffice);
        assert_eq!(status("something-new"), Availability::Unknown);
    }
}
