//! freebusy-emulator: a stand-in for the Microsoft 365 services freebusy calls, for the demo and
//! the tests. It behaves as Microsoft's documentation and real responses posted in public issues show
//! (each handler cites its source): the identity platform v2 token endpoint ([`entra`]) and Graph
//! `getSchedule` ([`graph`]) and EWS GetUserAvailability ([`ews`]), answering from a tenant model
//! ([`tenant`], [`demo`]) rather than canned replies.
//!
//! It is shaped by Microsoft's documented and observed behaviour, never by what freebusy's
//! plugins happen to send. Faults (throttling, outages) are injected on demand through
//! [`Emulator::inject`] or `POST /_emulator/faults` (`DELETE` clears them).

// Handlers return ready HTTP error responses as their `Err`; boxing them would only add noise.
#![allow(clippy::result_large_err)]

pub mod calendar;
pub mod clouds;
pub mod consent;
pub mod delegated;
pub mod demo;
pub mod directory;
pub mod entra;
pub mod ews;
pub mod ews_zone;
pub mod graph;
pub mod ics;
pub mod tenant;

use std::collections::{HashMap, VecDeque};
use std::future::Future as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::tenant::Tenant;

/// A fault to inject into the next request of the endpoint it is for: Graph's calendar calls
/// (getSchedule, calendarView, `$batch`), EWS, or the token endpoint ([`Fault::target`]). Faults
/// queue in order; each endpoint takes the first one meant for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// 429 TooManyRequests, with `Retry-After` when given (seconds, may be fractional).
    Throttle { retry_after: Option<String> },
    /// 503 Service Unavailable, with `Retry-After` when given.
    Unavailable { retry_after: Option<String> },
    /// Graph: 500 Internal Server Error in Graph's error envelope, as Graph answers a request it
    /// failed on (https://learn.microsoft.com/graph/errors lists 500; the code and message are the
    /// ones getSchedule gave in microsoftgraph/microsoft-graph-docs#4494).
    InternalError,
    /// Graph: the right answer, but only after `ms` milliseconds, as from an overloaded mailbox
    /// server or a congested network: for the host's deadline (`call_timeout_secs`).
    Slow { ms: u64 },
    /// Graph: HTTP 200 with `Content-Type: application/json` and a body that is not JSON (a proxy
    /// or load balancer that mangles or splices answers); nothing Graph documents.
    GarbageJson,
    /// Graph: an HTML page with this status and `Content-Type: text/html` instead of JSON, as a
    /// captive portal, TLS-inspecting proxy or gateway in front of Graph serves (200 for a login
    /// page, 404, 502 or 504 for a gateway's own error page).
    HtmlPage { status: u16 },
    /// Graph: the status line, headers and `Content-Length` of the right answer and half of its
    /// body, then the connection is dropped (a reset behind a proxy or a crashing front end).
    ConnectionReset,
    /// The token endpoint is down: this 5xx status with `error: temporarily_unavailable` ("The
    /// server is temporarily too busy to handle the request", the error table of
    /// https://learn.microsoft.com/entra/identity-platform/reference-error-codes), for any grant.
    /// Not a wrong credential: freebusy must not treat it as one.
    TokenUnavailable { status: u16 },
    /// EWS: an ErrorServerBusy SOAP fault with `BackOffMilliseconds` (the fault captured in
    /// ecederstrand/exchangelib tests/test_services.py;
    /// https://learn.microsoft.com/exchange/client-developer/exchange-web-services/ews-throttling-in-exchange).
    EwsServerBusy { back_off_ms: u32 },
    /// EWS: an HTML error page instead of SOAP (a proxy or IIS in front of Exchange).
    EwsHtmlPage { status: u16 },
    /// EWS: the right answer cut off halfway (a connection dropped behind a proxy).
    EwsTruncated,
    /// EWS: the right answer, but only after `ms` milliseconds (an on-premises server under load).
    EwsSlow { ms: u64 },
    /// EWS: like [`Fault::ConnectionReset`]: headers and `Content-Length` of the right answer, half
    /// its body, then the connection is dropped.
    EwsConnectionReset,
    /// The next sign-in with a client secret or an EWS password is refused as a wrong one
    /// (AADSTS7000215, or HTTP 401 from EWS), as after an admin rotated it; later ones work again.
    SecretRejected,
}

/// Which endpoint takes a [`Fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    /// Graph's calendar calls.
    Graph,
    /// The EWS endpoint.
    Ews,
    /// The token endpoint.
    Token,
    /// Whatever checks a client secret or an EWS password first.
    SignIn,
}

impl Fault {
    /// The endpoint that takes this fault; the others leave it queued.
    pub fn target(&self) -> FaultTarget {
        match self {
            Fault::Throttle { .. }
            | Fault::Unavailable { .. }
            | Fault::InternalError
            | Fault::Slow { .. }
            | Fault::GarbageJson
            | Fault::HtmlPage { .. }
            | Fault::ConnectionReset => FaultTarget::Graph,
            Fault::TokenUnavailable { .. } => FaultTarget::Token,
            Fault::EwsServerBusy { .. }
            | Fault::EwsHtmlPage { .. }
            | Fault::EwsTruncated
            | Fault::EwsSlow { .. }
            | Fault::EwsConnectionReset => FaultTarget::Ews,
            Fault::SecretRejected => FaultTarget::SignIn,
        }
    }
}

/// Request counters, for tests that check how often freebusy calls upstream.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    /// Every request to a token endpoint, successful or not.
    pub token_requests: u64,
    /// Every getSchedule request.
    pub get_schedule_requests: u64,
    /// Every EWS request.
    pub ews_requests: u64,
    /// Every users or places request.
    pub directory_requests: u64,
    /// Every calendarView request, batched or not.
    pub calendar_view_requests: u64,
    /// Every `$batch` request.
    pub batch_requests: u64,
    /// The most getSchedule calls that were in flight at once for any one mailbox.
    pub max_mailbox_concurrency: u64,
    /// getSchedule calls refused for asking about a mailbox already in
    /// [`MAILBOX_CONCURRENCY`] calls.
    pub mailbox_concurrency_throttles: u64,
}

/// Concurrent requests Graph allows per app and mailbox (Outlook service limits,
/// https://learn.microsoft.com/graph/throttling-limits#outlook-service-limits); beyond it,
/// 429 `ApplicationThrottled` "Application is over its MailboxConcurrency limit." (the body
/// observed in magodo/terraform-provider-outlook#21 and alcionai/corso#3695).
pub const MAILBOX_CONCURRENCY: u32 = 4;

/// What the emulator knows and counts.
pub struct State {
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) tokens: Mutex<HashMap<String, entra::IssuedToken>>,
    pub(crate) faults: Mutex<VecDeque<Fault>>,
    pub(crate) token_lifetime_secs: i64,
    pub(crate) delegated: Mutex<delegated::Delegated>,
    /// Serving HTTPS (for absolute URLs the emulator hands out).
    pub(crate) tls: std::sync::atomic::AtomicBool,
    pub(crate) device_code_interval_secs: u64,
    pub(crate) device_code_lifetime_secs: i64,
    pub(crate) refresh_token_lifetime_secs: i64,
    pub(crate) ews_schema_dir: Option<std::path::PathBuf>,
    pub(crate) ews_max_window_days: i64,
    pub(crate) multi_tenant_apps: Vec<consent::MultiTenantApp>,
    pub(crate) opaque_tokens: bool,
    pub(crate) consents: Mutex<consent::Consents>,
    ews_bodies: Mutex<Vec<String>>,
    token_requests: AtomicU64,
    get_schedule_requests: AtomicU64,
    ews_requests: AtomicU64,
    directory_requests: AtomicU64,
    calendar_view_requests: AtomicU64,
    batch_requests: AtomicU64,
    /// getSchedule calls in flight per mailbox asked about.
    mailbox_in_flight: Mutex<HashMap<String, u32>>,
    max_mailbox_concurrency: AtomicU64,
    mailbox_concurrency_throttles: AtomicU64,
    pub(crate) get_schedule_delay: std::time::Duration,
}

/// A getSchedule call counted against each mailbox it asks about while it runs.
pub(crate) struct InFlight {
    state: Arc<State>,
    mailboxes: Vec<String>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut counts = self.state.mailbox_in_flight.lock().expect("in flight");
        for m in &self.mailboxes {
            if let Some(n) = counts.get_mut(m) {
                *n -= 1;
            }
        }
    }
}

impl State {
    /// Count a getSchedule call against its mailboxes, or `None` (throttle it) when one of them
    /// already has [`MAILBOX_CONCURRENCY`] calls in flight.
    pub(crate) fn enter_mailboxes(self: &Arc<Self>, mailboxes: &[String]) -> Option<InFlight> {
        let mut mailboxes: Vec<String> = mailboxes.iter().map(|m| m.to_ascii_lowercase()).collect();
        mailboxes.sort();
        mailboxes.dedup();
        let mut counts = self.mailbox_in_flight.lock().expect("in flight");
        if mailboxes.iter().any(|m| counts.get(m).copied().unwrap_or(0) >= MAILBOX_CONCURRENCY) {
            self.mailbox_concurrency_throttles.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        for m in &mailboxes {
            let n = counts.entry(m.clone()).or_insert(0);
            *n += 1;
            self.max_mailbox_concurrency.fetch_max(u64::from(*n), Ordering::Relaxed);
        }
        Some(InFlight { state: self.clone(), mailboxes })
    }

    pub(crate) fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.answers_to(name))
    }

    /// The next queued fault for `target`.
    pub(crate) fn next_fault_for(&self, target: FaultTarget) -> Option<Fault> {
        self.next_fault_where(|f| f.target() == target)
    }

    /// Take the first queued fault for `target` only if `wanted` accepts it: faults apply in queue
    /// order, so a later one never jumps an earlier one.
    pub(crate) fn next_fault_if(&self, target: FaultTarget, wanted: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let mut faults = self.faults.lock().expect("fault queue");
        let at = faults.iter().position(|f| f.target() == target)?;
        if wanted(&faults[at]) {
            faults.remove(at)
        } else {
            None
        }
    }

    /// The next queued fault that `wanted` accepts.
    pub(crate) fn next_fault_where(&self, wanted: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let mut faults = self.faults.lock().expect("fault queue");
        let at = faults.iter().position(wanted)?;
        faults.remove(at)
    }

    /// Keep an EWS request body for tests (the last 200).
    pub(crate) fn record_ews_request(&self, body: &str) {
        let mut bodies = self.ews_bodies.lock().expect("ews bodies");
        if bodies.len() >= 200 {
            bodies.remove(0);
        }
        bodies.push(body.to_string());
    }

    fn stats(&self) -> Stats {
        Stats {
            token_requests: self.token_requests.load(Ordering::Relaxed),
            get_schedule_requests: self.get_schedule_requests.load(Ordering::Relaxed),
            ews_requests: self.ews_requests.load(Ordering::Relaxed),
            directory_requests: self.directory_requests.load(Ordering::Relaxed),
            calendar_view_requests: self.calendar_view_requests.load(Ordering::Relaxed),
            batch_requests: self.batch_requests.load(Ordering::Relaxed),
            max_mailbox_concurrency: self.max_mailbox_concurrency.load(Ordering::Relaxed),
            mailbox_concurrency_throttles: self.mailbox_concurrency_throttles.load(Ordering::Relaxed),
        }
    }
}

/// Options for a new emulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Lifetime of issued access tokens; Entra's default is about an hour (`expires_in: 3599`).
    pub token_lifetime_secs: i64,
    /// Tenants to serve.
    pub tenants: Vec<Tenant>,
    /// Seconds a device-code client must wait between polls (Entra says 5).
    pub device_code_interval_secs: u64,
    /// How long a device code can be redeemed (Entra: 900 s,
    /// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code).
    pub device_code_lifetime_secs: i64,
    /// Lifetime of refresh tokens (Entra: 90 days of inactivity).
    pub refresh_token_lifetime_secs: i64,
    /// Where `messages.xsd` and `types.xsd` are; when set, EWS requests are validated with
    /// xmllint and invalid ones get an ErrorSchemaValidation fault.
    pub ews_schema_dir: Option<std::path::PathBuf>,
    /// Longest GetUserAvailability window: 42 days on premises by default
    /// (https://learn.microsoft.com/exchange/client-developer/web-service-reference/timewindow), 62 on Exchange Online
    /// (as seen through Graph, microsoftgraph/microsoft-graph-docs#19703).
    pub ews_max_window_days: i64,
    /// Apps registered once and usable in any tenant whose admin consents to them.
    pub multi_tenant_apps: Vec<consent::MultiTenantApp>,
    /// Issue app-only access tokens that are not JWTs: Microsoft documents access tokens as
    /// opaque to clients, and tokens for its own APIs may be encrypted
    /// (https://learn.microsoft.com/entra/identity-platform/access-tokens).
    pub opaque_tokens: bool,
    /// How long getSchedule takes to answer: an upstream slow enough for calls to overlap (the
    /// concurrency limit) or for a caller to be killed in the middle of one.
    pub get_schedule_delay_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            token_lifetime_secs: 3599,
            tenants: vec![demo::tenant(), demo::fabrikam()],
            device_code_interval_secs: 5,
            device_code_lifetime_secs: 900,
            refresh_token_lifetime_secs: 90 * 86_400,
            ews_schema_dir: None,
            ews_max_window_days: 42,
            multi_tenant_apps: vec![demo::vendor_app()],
            opaque_tokens: false,
            get_schedule_delay_ms: 0,
        }
    }
}

/// A running emulator.
pub struct Emulator {
    /// `http://127.0.0.1:<port>`, serving both the token endpoint and Graph.
    pub base_url: String,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Emulator {
    /// Serve on `addr` (use port 0 for a free port) until dropped.
    pub async fn start(addr: SocketAddr, options: Options) -> anyhow::Result<Emulator> {
        let state = state(options);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Emulator { base_url, state, shutdown: Some(tx) })
    }

    /// Serve over HTTPS on `addr` with a certificate for `127.0.0.1` and `localhost` from a
    /// throwaway CA made here; returns the emulator and the CA certificate (PEM) clients must
    /// trust. For clients that only speak HTTPS (msal) and for testing trust of extra CAs.
    pub async fn start_tls(addr: SocketAddr, options: Options) -> anyhow::Result<(Emulator, String)> {
        let (server_config, ca_pem) = test_ca()?;
        let state = state(options);
        state.tls.store(true, Ordering::Relaxed);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base_url = format!("https://{}", listener.local_addr()?);
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server_config));
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = &mut rx => return,
                };
                let Ok((tcp, _)) = accepted else { continue };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    // A client that does not trust the CA fails the handshake here.
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok((Emulator { base_url, state, shutdown: Some(tx) }, ca_pem))
    }

    /// What the next customer admin on the consent screen will do.
    pub fn queue_consent(&self, decision: consent::ConsentDecision) {
        self.state.consents.lock().expect("consents").decisions.push_back(decision);
    }

    /// The admin of `tenant` removes the app's consent (deletes its service principal).
    pub fn revoke_consent(&self, tenant: &str, client_id: &str) {
        let Some(t) = self.state.tenant(tenant) else { return };
        self.state.consents.lock().expect("consents").grants.remove(&(t.id.clone(), client_id.to_string()));
    }

    /// Queue a fault for the next request of the endpoint it is for ([`Fault::target`]).
    pub fn inject(&self, fault: Fault) {
        self.state.faults.lock().expect("fault queue").push_back(fault);
    }

    /// Drop every queued fault (the upstream recovers); returns how many were still queued,
    /// so a test can tell how many its requests consumed.
    pub fn clear_faults(&self) -> usize {
        let mut faults = self.state.faults.lock().expect("fault queue");
        let left = faults.len();
        faults.clear();
        left
    }

    /// How many faults are still queued.
    pub fn queued_faults(&self) -> usize {
        self.state.faults.lock().expect("fault queue").len()
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// The user codes of device codes waiting for their user.
    pub fn pending_user_codes(&self) -> Vec<String> {
        self.state
            .delegated
            .lock()
            .expect("delegated")
            .device_codes
            .values()
            .filter(|d| d.approved_user.is_none())
            .map(|d| d.user_code.clone())
            .collect()
    }

    /// Sign `user` in for the device code showing `user_code` (what the user does in a browser).
    pub fn approve_device_code(&self, user_code: &str, user: &str) -> bool {
        let mut state = self.state.delegated.lock().expect("delegated");
        match state.device_codes.values_mut().find(|d| d.user_code == user_code) {
            Some(d) => {
                d.approved_user = Some(user.to_string());
                true
            }
            None => false,
        }
    }

    /// Revoke every refresh token (an admin's "revoke sessions").
    pub fn revoke_refresh_tokens(&self) {
        for grant in self.state.delegated.lock().expect("delegated").refresh_tokens.values_mut() {
            grant.revoked = true;
        }
    }

    /// The EWS request bodies received so far (the last 200).
    pub fn ews_requests(&self) -> Vec<String> {
        self.state.ews_bodies.lock().expect("ews bodies").clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn state(options: Options) -> Arc<State> {
    Arc::new(State {
        tenants: options.tenants,
        tokens: Mutex::new(HashMap::new()),
        faults: Mutex::new(VecDeque::new()),
        token_lifetime_secs: options.token_lifetime_secs,
        delegated: Mutex::new(delegated::Delegated::default()),
        tls: std::sync::atomic::AtomicBool::new(false),
        device_code_interval_secs: options.device_code_interval_secs,
        device_code_lifetime_secs: options.device_code_lifetime_secs,
        refresh_token_lifetime_secs: options.refresh_token_lifetime_secs,
        ews_schema_dir: options.ews_schema_dir,
        ews_max_window_days: options.ews_max_window_days,
        multi_tenant_apps: options.multi_tenant_apps,
        opaque_tokens: options.opaque_tokens,
        consents: Mutex::new(consent::Consents::default()),
        ews_bodies: Mutex::new(Vec::new()),
        token_requests: AtomicU64::new(0),
        get_schedule_requests: AtomicU64::new(0),
        ews_requests: AtomicU64::new(0),
        directory_requests: AtomicU64::new(0),
        calendar_view_requests: AtomicU64::new(0),
        batch_requests: AtomicU64::new(0),
        mailbox_in_flight: Mutex::new(HashMap::new()),
        max_mailbox_concurrency: AtomicU64::new(0),
        mailbox_concurrency_throttles: AtomicU64::new(0),
        get_schedule_delay: std::time::Duration::from_millis(options.get_schedule_delay_ms),
    })
}

/// A CA, and a server configuration whose certificate (127.0.0.1, localhost) it signed.
fn test_ca() -> anyhow::Result<(rustls::ServerConfig, String)> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.distinguished_name.push(DnType::CommonName, "freebusy emulator test CA");
    let ca_cert = ca.self_signed(&ca_key)?;
    let server_key = KeyPair::generate()?;
    let mut names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    names.extend(clouds::HOST_NAMES.iter().map(|n| n.to_string()));
    let mut server = CertificateParams::new(names)?;
    server.distinguished_name.push(DnType::CommonName, "freebusy emulator");
    let server_cert = server.signed_by(&server_key, &Issuer::new(ca, &ca_key))?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
    let config =
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![server_cert.der().clone()], key)?;
    Ok((config, ca_cert.pem()))
}

fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route("/{tenant}/v2.0/adminconsent", get(consent::admin_consent))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(entra::openid_configuration))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(delegated::devicecode))
        .route("/{tenant}/oauth2/v2.0/authorize", get(delegated::authorize))
        .merge(graph_calendar_routes(state.clone()))
        .route("/v1.0/users", get(directory::users))
        .route("/v1.0/places/microsoft.graph.room", get(directory::rooms))
        // IIS paths are case-insensitive; clients use both spellings.
        .route("/EWS/Exchange.asmx", post(ews::exchange_asmx))
        .route("/ews/exchange.asmx", post(ews::exchange_asmx))
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/faults", post(inject).delete(clear_faults))
        .with_state(state)
}

/// Graph's calendar calls, which take the Graph faults: those that replace the answer in
/// [`graph::authorize_calendar`], those that change how the right answer is delivered
/// ([`Fault::Slow`], [`Fault::ConnectionReset`]) in [`graph::deliver`].
fn graph_calendar_routes(state: Arc<State>) -> Router<Arc<State>> {
    Router::new()
        .route("/v1.0/me/calendar/getSchedule", post(graph::get_my_schedule))
        .route("/v1.0/users/{user}/calendar/getSchedule", post(graph::get_schedule))
        .route("/v1.0/users/{user}/calendarView", get(calendar::calendar_view))
        .route("/v1.0/me/calendarView", get(calendar::my_calendar_view))
        .route("/v1.0/$batch", post(calendar::batch))
        .route_layer(axum::middleware::from_fn_with_state(state, graph::deliver))
}

async fn clear_faults(axum::extract::State(state): axum::extract::State<Arc<State>>) -> axum::http::StatusCode {
    state.faults.lock().expect("fault queue").clear();
    axum::http::StatusCode::NO_CONTENT
}

async fn stats(axum::extract::State(state): axum::extract::State<Arc<State>>) -> Json<Stats> {
    Json(state.stats())
}

async fn inject(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    Json(fault): Json<Fault>,
) -> axum::http::StatusCode {
    state.faults.lock().expect("fault queue").push_back(fault);
    axum::http::StatusCode::NO_CONTENT
}

/// `resp` with its status, headers and `Content-Length`, but only the first half of its body;
/// then the body fails, which makes hyper drop the connection ([`Fault::ConnectionReset`]).
pub(crate) async fn cut_off(resp: axum::response::Response) -> axum::response::Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    parts.headers.insert(axum::http::header::CONTENT_LENGTH, bytes.len().into());
    let half = bytes.slice(..bytes.len() / 2);
    // A moment between the half and the failure, so that hyper has written what it was given.
    let pause = Box::pin(tokio::time::sleep(std::time::Duration::from_millis(20)));
    axum::response::Response::from_parts(parts, axum::body::Body::new(CutOff { half: Some(half), pause }))
}

/// A body that yields some bytes, pauses, then fails.
struct CutOff {
    half: Option<axum::body::Bytes>,
    pause: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for CutOff {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        if let Some(half) = self.half.take() {
            return Poll::Ready(Some(Ok(hyper::body::Frame::data(half))));
        }
        match self.pause.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the emulator drops the connection (injected fault)",
            )))),
        }
    }
}

pub(crate) fn count_token_request(state: &State) {
    state.token_requests.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_get_schedule(state: &State) {
    state.get_schedule_requests.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_calendar_view(state: &State) {
    state.calendar_view_requests.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_batch(state: &State) {
    state.batch_requests.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_directory_request(state: &State) {
    state.directory_requests.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_ews_request(state: &State) {
    state.ews_requests.fetch_add(1, Ordering::Relaxed);
}
