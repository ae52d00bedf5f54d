//! The HTTP API: `/v1/freebusy` (GET with a query string, POST with JSON; JSON or iCalendar
//! out), `/v1/directory` (people and rooms by prefix), per-tenant routes, tenant health and the
//! admin routes, `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, and a day-timeline page at
//! `/`. Bad input is a 4xx `application/problem+json` saying what is wrong (the same problems the
//! edge answers, from `freebusy-core`), never a panic and never an empty "free" answer.
//!
//! - [`auth`]: API keys (401/403 with `WWW-Authenticate`).
//! - [`freebusy`], [`availability`], [`directory`]: the read routes.
//! - [`ops`]: liveness, readiness, metrics, tenant health.
//! - [`admin`]: reload, tenant overview.
//! - [`onboarding`]: invitations, the admin-consent round trip.
//!
//! Every response carries `x-request-id` (the client's, when it sent a usable one), every log
//! line of the request carries it, and each request ends with one access-log line.

pub mod admin;
pub mod auth;
pub mod availability;
pub mod directory;
pub mod freebusy;
pub mod onboarding;
pub mod ops;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use freebusy_core::api::{Problem, PROBLEM_CONTENT_TYPE};
use tracing::Instrument as _;

use crate::service::Service;

/// The OpenAPI 3.1 description of this API, served at `/openapi.json`; a test checks live
/// answers against it.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The day-timeline page at `/`: pick mailboxes (with directory suggestions) and a day, see
/// everyone's busy time on one 24-hour track each. Static; it only calls the API.
const TIMELINE_PAGE: &str = include_str!("ui/index.html");
const TIMELINE_SCRIPT: &str = include_str!("ui/app.mjs");

/// Longest request target (path and query) answered; longer ones get a 414 saying to POST.
/// Proxies commonly cut at 8 to 16 KiB.
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// Largest request body read; larger ones get a 413 (1000 addresses of 320 characters fit).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The API router (the main listener).
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/v1/freebusy", get(freebusy::get_default).post(freebusy::post_default))
        .route("/v1/tenants/{tenant}/freebusy", get(freebusy::get_tenant).post(freebusy::post_tenant))
        .route("/v1/availability", post(availability::default_tenant))
        .route("/v1/tenants/{tenant}/availability", post(availability::tenant))
        .route("/v1/directory", get(directory::default_tenant))
        .route("/v1/tenants/{tenant}/directory", get(directory::tenant))
        .route("/v1/tenants/{tenant}/health", get(ops::tenant_health))
        .route("/v1/admin/tenants", get(admin::tenants))
        .route("/v1/admin/reload", post(admin::reload))
        .route("/v1/admin/invitations", post(onboarding::invite))
        .route("/v1/admin/onboarding", get(onboarding::list).post(onboarding::consent_link))
        .route("/onboarding/start", get(onboarding::start))
        .route("/onboarding/callback", get(onboarding::callback))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz_with_key))
        .route("/metrics", get(ops::metrics_with_key))
        .route("/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], TIMELINE_PAGE) }))
        .route(
            "/ui/app.mjs",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], TIMELINE_SCRIPT) }),
        )
        .fallback(|| async { problem(Problem::no_such_route()) })
        // A method the route does not take: a problem too (axum adds the Allow header).
        .method_not_allowed_fallback(|| async {
            problem(Problem::method_not_allowed("a method the Allow header lists"))
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(service.clone(), observe))
        .with_state(service)
}

/// The operations router (`[auth] ops_listen`): liveness, readiness and metrics without a key.
pub fn ops_router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { problem(Problem::no_such_route()) })
        .with_state(service)
}

/// What the access log says about one request; handlers fill in what they learn.
#[derive(Default)]
pub struct RequestLog {
    fields: Mutex<LogFields>,
}

#[derive(Default)]
struct LogFields {
    key_id: Option<String>,
    tenant: Option<String>,
    mailboxes: Option<usize>,
    addresses: Option<String>,
}

impl RequestLog {
    /// The key that opened the request (its id, never the key).
    pub fn set_key(&self, id: &str) {
        self.fields.lock().expect("log lock").key_id = Some(id.to_string());
    }

    /// The tenant and the mailboxes asked about.
    pub fn set_query(&self, tenant: &str, mailboxes: &[String]) {
        let mut f = self.fields.lock().expect("log lock");
        f.tenant = Some(tenant.to_string());
        f.mailboxes = Some(mailboxes.len());
        f.addresses = Some(mailboxes.join(","));
    }

    /// The tenant alone.
    pub fn set_tenant(&self, tenant: &str) {
        self.fields.lock().expect("log lock").tenant = Some(tenant.to_string());
    }
}

/// The request id: the client's `x-request-id` when it is short printable ASCII, else a new one.
fn request_id(req: &Request) -> String {
    let theirs = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::trim);
    match theirs {
        Some(id) if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) => id.to_string(),
        _ => {
            use ring::rand::SecureRandom as _;
            let mut bytes = [0u8; 8];
            let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

/// Around every request: the request id (in a span every log line carries, and in the answer),
/// the limit on the request target, counting by route template (never by path: paths carry
/// tenant names and unbounded junk) and status, and one access-log line.
async fn observe(State(service): State<Arc<Service>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let method = req.method().clone();
    let log = Arc::new(RequestLog::default());
    req.extensions_mut().insert(log.clone());
    let span = tracing::info_span!("request", id = %id);
    let target_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    let mut resp = if target_len > MAX_URI_BYTES {
        problem(Problem::new(
            414,
            "uri-too-long",
            "Request target too long",
            format!(
                "the request target is {target_len} bytes, more than the {MAX_URI_BYTES} this service reads; \
                 send many mailboxes with POST and a JSON body instead"
            ),
        ))
    } else {
        next.run(req).instrument(span.clone()).await
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", value);
    }
    let status = resp.status().as_u16();
    service.metrics().request(&route, status);
    let fields = log.fields.lock().expect("log lock");
    let log_addresses = service.snapshot().config.config.log_addresses;
    span.in_scope(|| {
        tracing::info!(
            target: "freebusy::access",
            method = %method,
            route = route.as_str(),
            status,
            duration_ms = started.elapsed().as_secs_f64() * 1e3,
            tenant = fields.tenant.as_deref(),
            key_id = fields.key_id.as_deref(),
            mailboxes = fields.mailboxes,
            addresses = if log_addresses { fields.addresses.as_deref() } else { None },
            "request"
        )
    });
    resp
}

/// A problem as a response.
pub fn problem(p: Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE)], p.to_json()).into_response()
}

/// A body that could not be read: over [`MAX_BODY_BYTES`] (413), or cut off (400).
pub fn body_problem(e: axum::extract::rejection::BytesRejection) -> Response {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        problem(Problem::new(
            413,
            "body-too-large",
            "Request body too large",
            format!("the body is larger than the {MAX_BODY_BYTES} bytes this service reads; ask for fewer mailboxes per request"),
        ))
    } else {
        problem(Problem::new(
            400,
            "invalid-request",
            "The request is invalid",
            format!("the body could not be read: {e}"),
        ))
    }
}

/// Connections the kernel holds for us before we accept them. `TcpListener::bind` asks for 128
/// (std's value); 1000 clients connecting at once (consoles reconnecting after a restart, the
/// benchmark's 1000 connections) overflowed that, and each dropped handshake cost its client a
/// retransmission, a second at first (`nstat` counted the overflows; p99 went to 1 s). Linux caps
/// the value at `net.core.somaxconn`, 4096 by default since 5.4 (listen(2):
/// <https://man7.org/linux/man-pages/man2/listen.2.html>).
const LISTEN_BACKLOG: u32 = 4096;

/// Listen on `addr`, saying what to do when it is taken.
pub async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    use anyhow::Context as _;
    let listen = || {
        let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        // As TcpListener::bind does: a restart can listen again while old connections linger. Not
        // on Windows, where SO_REUSEADDR lets another process take the port over (mio skips it
        // there too).
        #[cfg(not(windows))]
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listen().with_context(|| format!("cannot listen on {addr} (in use? pass --listen 127.0.0.1:<other port>)"))
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

    #[tokio::test]
    async fn many_clients_connecting_at_once_all_wait_in_the_queue_until_accepted() {
        // More than std's 128, as far as this kernel lets a backlog go.
        let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(128);
        // Each client is a file descriptor in this process, beside the tests running in parallel.
        let files = rlimit::increase_nofile_limit(4096).unwrap_or(1024) as usize;
        let clients = somaxconn.min(600).min(files.saturating_sub(300));
        let listener = super::bind(([127, 0, 0, 1], 0).into()).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        // Nothing accepts: every connection must be held by the kernel's queue.
        let connects = (0..clients)
            .map(|_| tokio::time::timeout(std::time::Duration::from_secs(3), tokio::net::TcpStream::connect(addr)));
        let mut held = Vec::new();
        let (mut timed_out, mut failed) = (0, Vec::new());
        for attempt in futures::future::join_all(connects).await {
            match attempt {
                Ok(Ok(stream)) => held.push(stream),
                Ok(Err(e)) => failed.push(e.kind()),
                Err(_) => timed_out += 1,
            }
        }
        assert!(failed.is_empty(), "connecting failed: {failed:?}");
        assert_eq!(timed_out, 0, "{timed_out} of {clients} connections were not queued (somaxconn {somaxconn})");
        // The queued connections are there to accept.
        for _ in 0..clients {
            let accepted = tokio::time::timeout(std::time::Duration::from_secs(3), listener.accept()).await;
            drop(accepted.expect("a queued connection").expect("accept"));
        }
    }
}
