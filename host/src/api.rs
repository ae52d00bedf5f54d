//! The HTTP API: `/v1/freebusy` (GET with a query string, POST with JSON; JSON or iCalendar
//! out), per-tenant routes, `/healthz`. Bad input is a 400 `application/problem+json` saying
//! what is wrong, never a panic and never an empty "free" answer.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use freebusy_core::api::{FreeBusyRequest, Problem, RawFreeBusyRequest, PROBLEM_CONTENT_TYPE};

use crate::service::{Service, ServiceError};

/// The API router.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/v1/freebusy", get(freebusy_get).post(freebusy_post))
        .route("/v1/tenants/{tenant}/freebusy", get(tenant_freebusy_get).post(tenant_freebusy_post))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(|| async { problem(Problem::new(404, "not-found", "No such resource", "see /v1/freebusy")) })
        .with_state(service)
}

/// Serve the API on a bound listener until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, service: Arc<Service>) -> std::io::Result<()> {
    axum::serve(listener, router(service)).await
}

fn problem(p: Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(&p).expect("problem serializes");
    (status, [(header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE)], body).into_response()
}

fn from_query(query: Option<String>) -> Result<FreeBusyRequest, Problem> {
    let query = query.unwrap_or_default();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    RawFreeBusyRequest::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?.validate()
}

fn from_body(headers: &HeaderMap, body: &str) -> Result<FreeBusyRequest, Problem> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(Problem::new(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "POST a JSON body with Content-Type: application/json",
        ));
    }
    let raw: RawFreeBusyRequest = serde_json::from_str(body).map_err(|e| {
        Problem::new(
            400,
            "invalid-request",
            "The request is invalid",
            format!("the body is not a valid free/busy request: {e}"),
        )
    })?;
    raw.validate()
}

async fn answer(
    service: &Service,
    tenant: Option<&str>,
    headers: &HeaderMap,
    req: Result<FreeBusyRequest, Problem>,
) -> Response {
    let req = match req {
        Ok(r) => r,
        Err(p) => return problem(p),
    };
    let resp = match service.freebusy(tenant, &req).await {
        Ok(r) => r,
        Err(e @ ServiceError::UnknownTenant(_)) => {
            return problem(Problem::new(404, "unknown-tenant", "Unknown tenant", e.to_string()))
        }
        Err(e @ ServiceError::NoDefaultTenant) => {
            return problem(Problem::new(400, "no-default-tenant", "No default tenant", e.to_string()))
        }
    };
    let wants_ical =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/calendar"));
    if wants_ical {
        let now = freebusy_core::api::format_instant(chrono::Utc::now().timestamp_millis());
        let body = freebusy_core::ical::render(&resp, &now);
        ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], body).into_response()
    } else {
        axum::Json(resp).into_response()
    }
}

async fn freebusy_get(State(service): State<Arc<Service>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    answer(&service, None, &headers, from_query(query)).await
}

async fn freebusy_post(State(service): State<Arc<Service>>, headers: HeaderMap, body: String) -> Response {
    answer(&service, None, &headers, from_body(&headers, &body)).await
}

async fn tenant_freebusy_get(
    State(service): State<Arc<Service>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    answer(&service, Some(&tenant), &headers, from_query(query)).await
}

async fn tenant_freebusy_post(
    State(service): State<Arc<Service>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    answer(&service, Some(&tenant), &headers, from_body(&headers, &body)).await
}
