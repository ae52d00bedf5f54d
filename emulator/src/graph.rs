//! Microsoft Graph: `POST /v1.0/users/{id}/calendar/getSchedule`
//! (https://learn.microsoft.com/graph/api/calendar-getschedule), with Graph's error envelope
//! (https://learn.microsoft.com/graph/errors) and throttling (https://learn.microsoft.com/graph/throttling).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use crate::entra::IssuedToken;
use crate::tenant::{Instance, Mailbox, Tenant};
use crate::{Fault, FaultTarget, State as Emu};

/// Observed limit: the 101st address gets ErrorMailboxDataArrayTooBig (microsoftgraph/microsoft-graph-docs#7047).
const MAX_SCHEDULES: usize = 100;
/// Observed limit: 63 days gets ErrorTimeIntervalTooBig.
const MAX_WINDOW_DAYS: i64 = 62;
const CALENDAR_ROLES: &[&str] = &["Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"];

/// Graph's error envelope (https://learn.microsoft.com/graph/errors).
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let id = crate::tenant::object_id(&format!("{now}{code}{message}"));
    let body = json!({"error": {"code": code, "message": message, "innerError": {"date": now, "request-id": id, "client-request-id": id}}});
    (status, Json(body)).into_response()
}

/// Check the bearer token: present, issued by this emulator, unexpired, for Graph.
pub(crate) fn authenticate(emu: &Emu, headers: &HeaderMap) -> Result<IssuedToken, Response> {
    let unauthorized = |m: &str| graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m);
    let Some(bearer) =
        headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Err(unauthorized("Access token is empty."));
    };
    let issued = emu.tokens.lock().expect("token table").get(bearer.trim()).cloned();
    // Opaque tokens (Options::opaque_tokens) are the emulator's own; anything else must be a JWT.
    if issued.is_none() && bearer.split('.').count() != 3 {
        return Err(unauthorized("IDX14100: JWT is not well formed, there are no dots (.)."));
    }
    match issued {
        None => Err(unauthorized("Access token validation failure.")),
        Some(t) if t.expires <= Utc::now() => Err(unauthorized("Access token has expired or is not yet valid.")),
        // A token is for one cloud's Graph: the one this request was sent to.
        Some(t) if t.audience != crate::clouds::graph_audience(headers.get("host").and_then(|h| h.to_str().ok())) => {
            Err(unauthorized("Access token validation failure. Invalid audience."))
        }
        Some(t) => Ok(t),
    }
}

/// The common start of a calendar call: a valid token, then any injected fault, then one of
/// `roles` granted (application `roles` or delegated `scp`; the permissions of
/// https://learn.microsoft.com/graph/api/calendar-getschedule), then the token's tenant.
pub(crate) fn authorize_calendar<'a>(
    emu: &'a Emu,
    headers: &HeaderMap,
    roles: &[&str],
) -> Result<(IssuedToken, &'a Tenant), Response> {
    let token = authenticate(emu, headers)?;
    // A request [`deliver`] took a fault for takes no other; faults that change how the answer
    // is delivered stay queued for the next request through [`deliver`].
    if !headers.contains_key(FAULT_TAKEN) {
        if let Some(fault) = emu.next_fault_if(FaultTarget::Graph, |f| !is_delivery(f)) {
            return Err(injected(fault));
        }
    }
    if !token.roles.iter().chain(&token.scopes).any(|r| roles.contains(&r.as_str())) {
        return Err(graph_error(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        ));
    }
    let Some(tenant) = emu.tenant(&token.tenant_id) else {
        return Err(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure.",
        ));
    };
    Ok((token, tenant))
}

/// Marks a request [`deliver`] took a fault for (so [`authorize_calendar`] takes none).
pub(crate) const FAULT_TAKEN: &str = "x-freebusy-emulator-fault-taken";

/// Faults that deliver the right answer in a wrong way rather than replace it.
fn is_delivery(fault: &Fault) -> bool {
    matches!(fault, Fault::Slow { .. } | Fault::ConnectionReset)
}

/// Middleware of Graph's calendar calls: when the next Graph fault is [`Fault::Slow`] or
/// [`Fault::ConnectionReset`], the handler answers as usual (and counts the request) and the
/// answer is then held back for the delay, or cut off halfway with the connection dropped. The
/// fault is taken before the token is checked: like the network, it does not care.
pub(crate) async fn deliver(
    State(emu): State<Arc<Emu>>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let fault = emu.next_fault_if(FaultTarget::Graph, is_delivery);
    if fault.is_some() {
        req.headers_mut().insert(FAULT_TAKEN, axum::http::HeaderValue::from_static("1"));
    }
    let resp = next.run(req).await;
    match fault {
        Some(Fault::Slow { ms }) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            resp
        }
        Some(Fault::ConnectionReset) => crate::cut_off(resp).await,
        _ => resp,
    }
}

/// The answer an injected fault replaces a Graph answer with.
pub(crate) fn injected(fault: Fault) -> Response {
    let (status, code, message, retry_after) = match fault {
        Fault::Throttle { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "The server is busy. Please try again later.",
            retry_after,
        ),
        Fault::Unavailable { retry_after } => (
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is temporarily unavailable.",
            retry_after,
        ),
        Fault::InternalError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "ErrorInternalServerError",
            "An internal server error occurred. The operation failed.",
            None,
        ),
        Fault::GarbageJson => {
            // Starts like a getSchedule answer, then is not JSON.
            let body = "{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)\",\"value\":[{\"scheduleId\":\u{1}\u{fffd}\u{fffd}<<<}}]]";
            return (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json; charset=utf-8")], body)
                .into_response();
        }
        Fault::HtmlPage { status } => {
            let page = "<!DOCTYPE html><html><head><title>Sign in to continue</title></head><body><h1>Your network requires you to sign in</h1><form method=\"post\" action=\"/login\"><input name=\"user\"><input type=\"password\" name=\"password\"></form></body></html>";
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return (code, [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
        }
        // Faults for other endpoints, or delivered by `deliver`, never get here (State::next_fault
        // and authorize_calendar filter them out); answered as an outage if one did.
        Fault::Slow { .. }
        | Fault::ConnectionReset
        | Fault::TokenUnavailable { .. }
        | Fault::EwsServerBusy { .. }
        | Fault::EwsHtmlPage { .. }
        | Fault::EwsTruncated
        | Fault::EwsSlow { .. }
        | Fault::EwsConnectionReset
        | Fault::SecretRejected => {
            (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", "The service is temporarily unavailable.", None)
        }
    };
    let mut resp = graph_error(status, code, message);
    if let Some(seconds) = retry_after.and_then(|s| s.parse().ok()) {
        resp.headers_mut().insert("retry-after", seconds);
    }
    resp
}

/// A zone named the way Graph accepts it: Windows names and IANA names (`dateTimeTimeZone.timeZone`,
/// https://learn.microsoft.com/graph/api/resources/datetimetimezone).
fn zone(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("UTC") {
        return Some(chrono_tz::UTC);
    }
    let iana = freebusy_core::zones::windows_to_iana(name).unwrap_or(name);
    iana.parse().ok()
}

/// Look a field up case-insensitively: the docs' examples use camelCase, the CSDL PascalCase.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn date_time_time_zone(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let obj = v?.as_object()?;
    let text = field(obj, "dateTime")?.as_str()?;
    let tz = zone(field(obj, "timeZone")?.as_str()?)?;
    // A trailing Z with timeZone UTC is accepted (microsoftgraph/msgraph-metadata#598).
    let naive = NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc))
}

/// `Prefer: outlook.timezone="..."`; UTC without it (https://learn.microsoft.com/graph/api/calendar-getschedule).
pub(crate) fn preferred_zone(headers: &HeaderMap) -> Result<(Tz, String), Response> {
    for value in headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()) {
        for pref in value.split(',') {
            if let Some(rest) = pref.trim().strip_prefix("outlook.timezone=") {
                let name = rest.trim().trim_matches('"').to_string();
                return match zone(&name) {
                    Some(tz) => Ok((tz, name)),
                    None => Err(graph_error(StatusCode::BAD_REQUEST, "TimeZoneNotSupportedException", &format!("A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'."))),
                };
            }
        }
    }
    Ok((chrono_tz::UTC, "UTC".to_string()))
}

/// Graph writes `dateTime` with seven fractional digits and no offset.
pub(crate) fn graph_time(t: DateTime<Utc>, tz: Tz, tz_name: &str) -> Value {
    let local = t.with_timezone(&tz);
    json!({"dateTime": format!("{}.{:07}", local.format("%Y-%m-%dT%H:%M:%S"), local.nanosecond() / 100), "timeZone": tz_name})
}

fn schedule_item(i: &Instance, m: &Mailbox, tz: Tz, tz_name: &str) -> Value {
    let mut item = json!({
        "status": i.show_as.graph_name(),
        "isMeeting": i.organizer != m.display_name,
        "isRecurring": i.recurring,
        "isException": false,
        "isReminderSet": !i.all_day,
        "start": graph_time(i.start, tz, tz_name),
        "end": graph_time(i.end, tz, tz_name),
    });
    // subject, location and isPrivate appear only for normal/personal sensitivity and when the
    // mailbox lets the caller see them (https://learn.microsoft.com/graph/outlook-get-free-busy-schedule).
    if !i.private && m.share_details {
        item["subject"] = json!(i.subject);
        item["location"] = json!(i.location);
        item["isPrivate"] = json!(false);
    }
    item
}

fn working_hours(m: &Mailbox) -> Value {
    let days: Vec<String> = m.work_days.iter().map(|d| format!("{d:?}").to_lowercase()).collect();
    let days: Vec<&str> = days
        .iter()
        .map(|d| match d.as_str() {
            "mon" => "monday",
            "tue" => "tuesday",
            "wed" => "wednesday",
            "thu" => "thursday",
            "fri" => "friday",
            "sat" => "saturday",
            _ => "sunday",
        })
        .collect();
    json!({
        "daysOfWeek": days,
        "startTime": format!("{}.0000000", m.work_start.format("%H:%M:%S")),
        "endTime": format!("{}.0000000", m.work_end.format("%H:%M:%S")),
        "timeZone": {"name": m.windows_zone},
    })
}

fn schedule_information(
    tenant: &Tenant,
    address: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    interval: i64,
    tz: Tz,
    tz_name: &str,
) -> Value {
    let Some(m) = tenant.mailbox(address) else {
        // An unresolved address does not fail the call (microsoftgraph/microsoft-graph-docs#11225).
        return json!({
            "scheduleId": address,
            "error": {"message": format!("Unable to resolve e-mail address {address} to an Active Directory object."), "responseCode": "5009"},
        });
    };
    // Items that only partly overlap the window are returned whole, free items included.
    let items = m.instances(start, end);
    json!({
        "scheduleId": address,
        "availabilityView": crate::tenant::merged_digits(&items, start, end, interval),
        "scheduleItems": items.iter().map(|i| schedule_item(i, m, tz, tz_name)).collect::<Vec<_>>(),
        "workingHours": working_hours(m),
    })
}

/// The user a `/me` request is for: its delegated token's, or a 400 as Graph answers an
/// app-only token there.
pub(crate) fn signed_in_user(emu: &Emu, headers: &HeaderMap) -> Result<String, Response> {
    authenticate(emu, headers)?.user.ok_or_else(|| {
        graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )
    })
}

/// `POST /v1.0/me/calendar/getSchedule`: the signed-in user's (delegated tokens only).
pub async fn get_my_schedule(State(emu): State<Arc<Emu>>, headers: HeaderMap, body: String) -> Response {
    let user = match signed_in_user(&emu, &headers) {
        Ok(user) => user,
        Err(resp) => return resp,
    };
    get_schedule(State(emu), Path(user), headers, body).await
}

/// `POST /v1.0/users/{id}/calendar/getSchedule`.
pub async fn get_schedule(
    State(emu): State<Arc<Emu>>,
    Path(user): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    crate::count_get_schedule(&emu);
    let (_, tenant) = match authorize_calendar(&emu, &headers, CALENDAR_ROLES) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if tenant.mailbox(&user).is_none() {
        return graph_error(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        );
    }
    let (tz, tz_name) = match preferred_zone(&headers) {
        Ok(z) => z,
        Err(resp) => return resp,
    };
    let bad = |code: &str, message: &str| graph_error(StatusCode::BAD_REQUEST, code, message);
    let Ok(Value::Object(req)) = serde_json::from_str::<Value>(&body) else {
        return bad("BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
    };
    let schedules: Vec<String> = field(&req, "schedules")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default();
    if schedules.is_empty() {
        return bad("ErrorMailboxDataArrayEmpty", "The MailboxData array is empty.");
    }
    if schedules.len() > MAX_SCHEDULES {
        return bad(
            "ErrorMailboxDataArrayTooBig",
            &format!("There are too many target users in the EmailAddress array. The allowed size = {MAX_SCHEDULES}; the actual size = {}.", schedules.len()),
        );
    }
    let Some(_in_flight) = emu.enter_mailboxes(&schedules) else {
        return graph_error(
            StatusCode::TOO_MANY_REQUESTS,
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
        );
    };
    if !emu.get_schedule_delay.is_zero() {
        tokio::time::sleep(emu.get_schedule_delay).await;
    }
    let (Some(start), Some(end)) =
        (date_time_time_zone(field(&req, "startTime")), date_time_time_zone(field(&req, "endTime")))
    else {
        return bad(
            "ErrorInvalidTimeInterval",
            "The time duration specified for FreeBusyViewOptions.TimeWindow is invalid.",
        );
    };
    if end <= start {
        return bad(
            "ErrorInvalidTimeInterval",
            "The time duration specified for FreeBusyViewOptions.TimeWindow is invalid.",
        );
    }
    let minutes = (end - start).num_minutes();
    let days = (minutes + 24 * 60 - 1) / (24 * 60);
    if days > MAX_WINDOW_DAYS {
        return bad(
            "ErrorTimeIntervalTooBig",
            &format!("The requested time duration specified for FreeBusyViewOptions.TimeWindow is too long. The allowed limit = {MAX_WINDOW_DAYS} days; the actual limit = {days} days."),
        );
    }
    // availabilityViewInterval: default 30, 5..=1440 (https://learn.microsoft.com/graph/api/calendar-getschedule)
    // and not longer than the window (PlaceOS/office365#29); it may come as a number or a numeric string; an
    // explicit null is a 500 (microsoftgraph/microsoft-graph-docs#4494).
    let interval = match field(&req, "availabilityViewInterval") {
        None => Some(30),
        Some(Value::Null) => {
            return graph_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ErrorInternalServerError",
                "An internal server error occurred. The operation failed.",
            )
        }
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => None,
    };
    let window_min = (end - start).num_minutes();
    let Some(interval) = interval.filter(|i| (5..=1440).contains(i) && *i <= window_min) else {
        return bad(
            "ErrorInvalidMergedFreeBusyInterval",
            "The specified merged free/busy interval is not valid. Specify an interval that is less than the free/busy time window and between 5 and 1440 minutes.",
        );
    };
    let value: Vec<Value> =
        schedules.iter().map(|s| schedule_information(tenant, s, start, end, interval, tz, &tz_name)).collect();
    Json(json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)",
        "value": value,
    }))
    .into_response()
}
