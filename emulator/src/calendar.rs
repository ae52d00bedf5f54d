//! Graph calendarView (https://learn.microsoft.com/graph/api/user-list-calendarview) and JSON batching
//! (https://learn.microsoft.com/graph/json-batching).
//!
//! calendarView reads the calendar itself, so it needs Calendars.Read (ReadBasic is not enough)
//! and shows subjects whatever the mailbox shares in free/busy; `sensitivity` says which items
//! are private. All-day events come back as midnight to midnight whatever zone `Prefer` names
//! (the stored date is floating): microsoft-graph-docs-contrib#471 and #6459, and
//! microsoft-graph-explorer-v4#578, where getSchedule converted the same event and calendarView
//! did not. Clients must place them in the mailbox's own zone.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use crate::directory::{next_link, skip_of};
use crate::graph::{authorize_calendar, graph_error, graph_time, preferred_zone, signed_in_user};
use crate::tenant::{object_id, Instance, Mailbox};
use crate::State as Emu;

/// Reading events (not just free/busy) takes one of these (the permissions of
/// https://learn.microsoft.com/graph/api/user-list-calendarview).
const READ_ROLES: &[&str] = &["Calendars.Read", "Calendars.ReadWrite"];
/// Default page of calendarView (microsoftgraph/microsoft-graph-explorer#91, microsoftgraph/microsoft-graph-docs#6201).
const DEFAULT_PAGE: usize = 10;
/// calendarView refuses ranges over five years (microsoftgraph/microsoft-graph-docs-contrib#6321).
const MAX_RANGE_DAYS: i64 = 1825;
/// A batch holds at most 20 requests (https://learn.microsoft.com/graph/json-batching).
const MAX_BATCH: usize = 20;

/// `GET /v1.0/me/calendarView` for a signed-in user.
pub async fn my_calendar_view(
    State(emu): State<Arc<Emu>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let user = match signed_in_user(&emu, &headers) {
        Ok(user) => user,
        Err(resp) => return resp,
    };
    calendar_view_at(&emu, &user, "/v1.0/me/calendarView", &params, &headers)
}

/// `GET /v1.0/users/{id}/calendarView`.
pub async fn calendar_view(
    State(emu): State<Arc<Emu>>,
    Path(user): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let path = format!("/v1.0/users/{user}/calendarView");
    calendar_view_at(&emu, &user, &path, &params, &headers)
}

fn calendar_view_at(
    emu: &Emu,
    user: &str,
    path: &str,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    crate::count_calendar_view(emu);
    let (_, tenant) = match authorize_calendar(emu, headers, READ_ROLES) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let Some(mailbox) = tenant.mailbox(user) else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        );
    };
    // Parameter names are case-insensitive on the service (the docs' examples vary).
    let param = |name: &str| params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let (Some(start), Some(end)) = (param("startDateTime"), param("endDateTime")) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        );
    };
    let (Some(start), Some(end)) = (bound(start), bound(end)) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidParameter",
            "The time window is not a valid ISO 8601 value.",
        );
    };
    if (end - start).num_days() > MAX_RANGE_DAYS {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            &format!("The number of days between StartDateTime and EndDateTime is greater than the allowed range. Maximum number of days: {MAX_RANGE_DAYS}"),
        );
    }
    let top = match param("$top").map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            return graph_error(StatusCode::BAD_REQUEST, "ErrorInvalidParameter", "The value of $top is not valid.")
        }
    };
    let (tz, tz_name) = match preferred_zone(headers) {
        Ok(z) => z,
        Err(resp) => return resp,
    };
    // Items that only touch a bound are returned too (microsoftgraph/microsoft-graph-docs-contrib#387); the
    // client clips.
    let touch = chrono::Duration::seconds(1);
    let mut items: Vec<Instance> = mailbox
        .instances(start - touch, end + touch)
        .into_iter()
        .filter(|i| i.end >= start && i.start <= end)
        .collect();
    items.sort_by_key(|i| (i.start, i.end));
    let skip = skip_of(params);
    let page: Vec<Value> = items.iter().skip(skip).take(top).map(|i| event(i, mailbox, tz, &tz_name)).collect();
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#users('{user}')/calendarView"),
        "value": page,
    });
    if skip + top < items.len() {
        body["@odata.nextLink"] = json!(next_link(headers, path, params, skip + top));
    }
    Json(body).into_response()
}

/// A calendarView bound: its own offset honoured, none read as UTC
/// (https://learn.microsoft.com/graph/api/user-list-calendarview).
fn bound(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc())
}

fn event(i: &Instance, m: &Mailbox, tz: Tz, tz_name: &str) -> Value {
    let (start, end) = if i.all_day {
        // Floating dates: midnight to midnight in whatever zone was asked for (module doc).
        let date = |t: DateTime<Utc>| json!({"dateTime": format!("{}T00:00:00.0000000", t.with_timezone(&m.time_zone).format("%Y-%m-%d")), "timeZone": tz_name});
        (date(i.start), date(i.end))
    } else {
        (graph_time(i.start, tz, tz_name), graph_time(i.end, tz, tz_name))
    };
    json!({
        "id": object_id(&format!("{}{}{}", m.address, i.start, i.subject)),
        "subject": i.subject,
        "location": {"displayName": i.location},
        "organizer": {"emailAddress": {"name": i.organizer}},
        "isAllDay": i.all_day,
        "isCancelled": false,
        "showAs": i.show_as.graph_name(),
        "sensitivity": if i.private { "private" } else { "normal" },
        "type": if i.recurring { "occurrence" } else { "singleInstance" },
        "start": start,
        "end": end,
    })
}

/// `POST /v1.0/$batch`: each request runs on its own, with the batch's Authorization, and its
/// answer is collected, in a different order than asked (https://learn.microsoft.com/graph/json-batching allows any
/// order, and clients must match by id).
pub async fn batch(State(emu): State<Arc<Emu>>, headers: HeaderMap, body: String) -> Response {
    crate::count_batch(&emu);
    // The limits and the outer 400 are from https://learn.microsoft.com/graph/json-batching; it quotes no wording
    // for these errors, so the messages are ours [I].
    let bad = |message: &str| graph_error(StatusCode::BAD_REQUEST, "BadRequest", message);
    let Ok(Value::Object(payload)) = serde_json::from_str::<Value>(&body) else {
        return bad("Invalid batch payload format.");
    };
    let Some(requests) = payload.get("requests").and_then(Value::as_array) else {
        return bad("Invalid batch payload format.");
    };
    if requests.len() > MAX_BATCH {
        return bad(&format!(
            "The number of requests in the batch ({}) exceeds the limit of {MAX_BATCH}.",
            requests.len()
        ));
    }
    let mut ids = std::collections::HashSet::new();
    for r in requests {
        let id = r.get("id").and_then(Value::as_str).unwrap_or("");
        if id.is_empty() || !ids.insert(id.to_string()) {
            return bad("Batch request ids must be present and unique.");
        }
    }
    let mut responses = Vec::new();
    for r in requests.iter().rev() {
        let id = r.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let method = r.get("method").and_then(Value::as_str).unwrap_or("GET");
        let url = r.get("url").and_then(Value::as_str).unwrap_or("");
        let mut inner = HeaderMap::new();
        if let Some(auth) = headers.get("authorization") {
            inner.insert("authorization", auth.clone());
        }
        if let Some(host) = headers.get("host") {
            inner.insert("host", host.clone());
        }
        // A batch that took a fault as a whole takes none per request.
        if let Some(taken) = headers.get(crate::graph::FAULT_TAKEN) {
            inner.insert(crate::graph::FAULT_TAKEN, taken.clone());
        }
        for (k, v) in r.get("headers").and_then(Value::as_object).into_iter().flatten() {
            if let (Ok(name), Some(Ok(value))) =
                (HeaderName::try_from(k.as_str()), v.as_str().map(HeaderValue::from_str))
            {
                inner.insert(name, value);
            }
        }
        let resp = dispatch(&emu, method, url, &inner).await;
        let status = resp.status().as_u16();
        let resp_headers: serde_json::Map<String, Value> = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), json!(v.to_str().ok()?))))
            .collect();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        responses.push(json!({"id": id, "status": status, "headers": resp_headers, "body": body}));
    }
    // The outer status is 200 once the batch parsed, whatever the inner results.
    Json(json!({"responses": responses})).into_response()
}

/// Run one batched request (relative URL) against the emulator's own handlers.
async fn dispatch(emu: &Arc<Emu>, method: &str, url: &str, headers: &HeaderMap) -> Response {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["users", user, view]) if view.eq_ignore_ascii_case("calendarView") => {
            let user = percent_decode(user);
            calendar_view_at(emu, &user, &format!("/v1.0/users/{user}/calendarView"), &params, headers)
        }
        ("GET", ["me", view]) if view.eq_ignore_ascii_case("calendarView") => {
            my_calendar_view(State(emu.clone()), Query(params), headers.clone()).await
        }
        _ => graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("The emulator batches calendarView requests only, not {method} {path}."),
        ),
    }
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}
