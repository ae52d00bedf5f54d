//! `/v1/freebusy` and `/v1/tenants/{tenant}/freebusy`: GET with a query string, POST with a JSON
//! body; JSON or iCalendar out. Needs `freebusy:read` on the tenant, and `details:read` for
//! `details=true`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use freebusy_core::api::{parse_json_body, parse_query_string, render, FreeBusyRequest, Problem};

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
    req: Result<FreeBusyRequest, Problem>,
) -> Response {
    // Before the name is looked up: a tenant's key must not learn which other tenants exist.
    if let Err(denied) = caller.refuse_other_tenant(tenant) {
        return denied.into_response();
    }
    let snapshot = service.snapshot();
    let tenant = match snapshot.tenant(caller.tenant_for(tenant)) {
        Ok(t) => t.clone(),
        Err(e) => return problem(e.into()),
    };
    let scope = match &req {
        Ok(r) if r.details => Scope::DetailsRead,
        _ => Scope::FreebusyRead,
    };
    if let Err(denied) =
        caller.allow(&tenant.name, Scope::FreebusyRead).and_then(|()| caller.allow(&tenant.name, scope))
    {
        return denied.into_response();
    }
    let req = match req {
        Ok(r) => r,
        Err(p) => return problem(p),
    };
    log.set_query(&tenant.name, &req.mailboxes);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if accept.is_some_and(|a| a.contains("text/calendar")) {
        let resp = tenant.freebusy(&req).await;
        let (content_type, body) = render(&resp, accept, chrono::Utc::now().timestamp_millis());
        return ([(header::CONTENT_TYPE, content_type)], body).into_response();
    }
    ([(header::CONTENT_TYPE, "application/json")], tenant.freebusy_json(&req).await).into_response()
}

fn from_query(query: Option<String>) -> Result<FreeBusyRequest, Problem> {
    parse_query_string(query.as_deref().unwrap_or(""))
}

fn from_body(headers: &HeaderMap, body: &[u8]) -> Result<FreeBusyRequest, Problem> {
    parse_json_body(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), body)
}

/// `GET /v1/freebusy`: the key's tenant, or the default one.
pub async fn get_default(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Extension(log): Extension<Arc<RequestLog>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    answer(&service, &caller, None, &headers, &log, from_query(query)).await
}

/// `POST /v1/freebusy`.
pub async fn post_default(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Extension(log): Extension<Arc<RequestLog>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_problem(e),
    };
    answer(&service, &caller, None, &headers, &log, from_body(&headers, &body)).await
}

/// `GET /v1/tenants/{tenant}/freebusy`.
pub async fn get_tenant(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Extension(log): Extension<Arc<RequestLog>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    answer(&service, &caller, Some(&tenant), &headers, &log, from_query(query)).await
}

/// `POST /v1/tenants/{tenant}/freebusy`.
pub async fn post_tenant(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Extension(log): Extension<Arc<RequestLog>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_problem(e),
    };
    answer(&service, &caller, Some(&tenant), &headers, &log, from_body(&headers, &body)).await
}
