//! `POST /v1/availability` and `/v1/tenants/{tenant}/availability`: free slots common to groups
//! of people and rooms (JSON, or iCalendar free periods with `Accept: text/calendar`). Needs
//! `freebusy:read` on the tenant.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use freebusy_core::api::{format_instant, parse_availability_body, render_ical};

use super::auth::Caller;
use super::{body_problem, problem, RequestLog};
use crate::auth::keys::Scope;
use crate::service::Service;

async fn answer(
    service: &Service,
    caller: &Caller,
    tenant: Option<&str>,
    headers: &HeaderMap,
    log: &RequestLog,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(denied) = caller.refuse_other_tenant(tenant) {
        return denied.into_response();
    }
    let snapshot = service.snapshot();
    let tenant = match snapshot.tenant(caller.tenant_for(tenant)) {
        Ok(t) => t.clone(),
        Err(e) => return problem(e.into()),
    };
    if let Err(denied) = caller.allow(&tenant.name, Scope::FreebusyRead) {
        return denied.into_response();
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_problem(e),
    };
    let req = match parse_availability_body(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), &body) {
        Ok(r) => r,
        Err(p) => return problem(p),
    };
    log.set_query(&tenant.name, &req.mailboxes);
    let resp = tenant.availability(&req).await;
    if headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/calendar")) {
        let now = format_instant(chrono::Utc::now().timestamp_millis());
        return ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], render_ical(&resp, &now)).into_response();
    }
    axum::Json(resp).into_response()
}

/// `POST /v1/availability`: the key's tenant, or the default one.
pub async fn default_tenant(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Extension(log): Extension<Arc<RequestLog>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    answer(&service, &caller, None, &headers, &log, body).await
}

/// `POST /v1/tenants/{tenant}/availability`.
pub async fn tenant(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Extension(log): Extension<Arc<RequestLog>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    answer(&service, &caller, Some(&tenant), &headers, &log, body).await
}
