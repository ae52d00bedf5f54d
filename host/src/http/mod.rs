//! The HTTP API: `/v1/freebusy` (GET with a query string, POST with JSON; JSON or iCalendar
//! out), `/v1/directory` (people and rooms by prefix), per-tenant routes, `/healthz`, `/readyz`,
//! `/metrics`, `/openapi.json`, and a day-timeline page at `/`. Bad input is a 400
//! `application/problem+json` saying what is wrong (the same problems the edge answers, from
//! `freebusy-core`), never a panic and never an empty "free" answer.

use std::sync::Arc;

use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use freebusy_core::api::{
    parse_directory_query, parse_json_body, parse_query_string, render, FreeBusyRequest, Problem, PROBLEM_CONTENT_TYPE,
};

use crate::service::Service;

/// The OpenAPI 3.1 description of this API, served at `/openapi.json`; a test checks live
/// answers against it.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The day-timeline page at `/`: pick mailboxes (with directory suggestions) and a day, see
/// everyone's busy time on one 24-hour track each. Static; it only calls the API.
const TIMELINE_PAGE: &str = include_str!("ui/index.html");
const TIMELINE_SCRIPT: &str = include_str!("ui/app.mjs");

/// The API router.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/v1/freebusy", get(freebusy_get).post(freebusy_post))
        .route("/v1/tenants/{tenant}/freebusy", get(tenant_freebusy_get).post(tenant_freebusy_post))
        .route("/v1/directory", get(directory))
        .route("/v1/tenants/{tenant}/directory", get(tenant_directory))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], TIMELINE_PAGE) }))
        .route(
            "/ui/app.mjs",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], TIMELINE_SCRIPT) }),
        )
        .fallback(|| async { problem(Problem::no_such_route()) })
        .layer(axum::middleware::from_fn_with_state(service.clone(), count_request))
        .with_state(service)
}

/// Count each request by route template (never by path: paths carry tenant names and
/// unbounded junk) and status.
async fn count_request(State(service): State<Arc<Service>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let resp = next.run(req).await;
    service.metrics().request(&route, resp.status().as_u16());
    resp
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], service.metrics().render())
        .into_response()
}

/// Listen on `addr`, saying what to do when it is taken.
pub async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    use anyhow::Context as _;
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (in use? pass --listen 127.0.0.1:<other port>)"))
}

/// Serve the API on a bound listener until the future is dropped.
pub async fn serve(listener: tokio::net::TcpListener, service: Arc<Service>) -> std::io::Result<()> {
    axum::serve(listener, router(service)).await
}

/// Serve until `shutdown` completes, then finish the requests in flight (SIGTERM from systemd or
/// a container runtime should not cut answers off).
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(service)).with_graceful_shutdown(shutdown).await
}

fn problem(p: Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE)], p.to_json()).into_response()
}

fn from_query(query: Option<String>) -> Result<FreeBusyRequest, Problem> {
    parse_query_string(query.as_deref().unwrap_or(""))
}

fn from_body(headers: &HeaderMap, body: &str) -> Result<FreeBusyRequest, Problem> {
    parse_json_body(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), body.as_bytes())
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
        Err(e) => return problem(e.into()),
    };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (content_type, body) = render(&resp, accept, chrono::Utc::now().timestamp_millis());
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn search(service: &Service, tenant: Option<&str>, query: Option<String>) -> Response {
    let req = match parse_directory_query(query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(p) => return problem(p),
    };
    let tenant = match service.tenant(tenant) {
        Ok(t) => t,
        Err(e) => return problem(e.into()),
    };
    match tenant.search_directory(&req).await {
        Ok(found) => axum::Json(found).into_response(),
        Err(e) => problem(Problem::new(502, e.code.as_str(), "The directory could not be searched", e.message)),
    }
}

/// Every tenant's credential health: 200 when all work, 503 otherwise (for load balancers and
/// monitoring: an expired secret shows here before users notice).
async fn readyz(State(service): State<Arc<Service>>) -> Response {
    let today = chrono::Utc::now().date_naive();
    let checks = futures::future::join_all(service.tenants().map(|t| t.health(today))).await;
    let ready = checks.iter().all(|c| c.ok);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(serde_json::json!({ "ready": ready, "tenants": checks }))).into_response()
}

async fn directory(State(service): State<Arc<Service>>, RawQuery(query): RawQuery) -> Response {
    search(&service, None, query).await
}

async fn tenant_directory(
    State(service): State<Arc<Service>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    search(&service, Some(&tenant), query).await
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

#[cfg(test)]
mod tests {
    use freebusy_core::ErrorCode;

    #[test]
    fn the_openapi_error_codes_are_the_error_code_enum() {
        let doc: serde_json::Value = serde_json::from_str(super::OPENAPI).expect("openapi.json is JSON");
        let documented: Vec<&str> = doc["components"]["schemas"]["MailboxError"]["properties"]["code"]["enum"]
            .as_array()
            .expect("MailboxError.code has an enum")
            .iter()
            .map(|v| v.as_str().expect("a string"))
            .collect();
        let ours: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(documented, ours, "openapi.json's MailboxError.code enum and freebusy_core::ErrorCode differ");
    }

    #[test]
    fn the_readme_lists_every_error_code_in_order() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
        let list = readme.split("Codes (one enum").nth(1).expect("the README lists the error codes");
        let list = &list[..list.find("A stale answer").expect("the list ends before the stale rule")];
        let listed: Vec<String> = list.split('`').skip(1).step_by(2).map(str::to_string).collect();
        let ours: Vec<String> = std::iter::once("freebusy_core::ErrorCode".to_string())
            .chain(ErrorCode::ALL.iter().map(|c| c.as_str().to_string()))
            .collect();
        assert_eq!(listed, ours, "README's error codes and freebusy_core::ErrorCode differ");
        let stale_rule = readme.split("A stale answer may stand in for").nth(1).unwrap();
        let stale_rule = &stale_rule[..stale_rule.find("only.").unwrap()];
        let may_stale: Vec<&str> = stale_rule.split('`').skip(1).step_by(2).collect();
        let ours: Vec<&str> = ErrorCode::ALL.iter().filter(|c| c.may_serve_stale()).map(|c| c.as_str()).collect();
        assert_eq!(may_stale, ours, "README's stale-if-error rule and ErrorCode::may_serve_stale differ");
    }
}
