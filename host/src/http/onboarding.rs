//! Onboarding routes: `/onboarding/start` and `/onboarding/callback` for the customer's admin (no
//! key: the invitation and the single-use state are the proof), and for the vendor with an admin
//! key `POST /v1/admin/invitations`, `POST /v1/admin/onboarding` (a consent link at once) and
//! `GET /v1/admin/onboarding` (where each onboarding stands).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use freebusy_core::api::Problem;

use super::auth::Caller;
use super::{body_problem, problem};
use crate::auth::keys::Scope;
use crate::onboarding::{self, Callback, OnboardingSettings};
use crate::service::Service;

fn settings(service: &Service) -> Option<OnboardingSettings> {
    service.snapshot().config.config.onboarding.clone()
}

fn not_configured() -> Response {
    problem(Problem::new(404, "not-found", "Onboarding is not configured", "add an [onboarding] table to the config"))
}

fn page(status: u16, message: &str) -> Response {
    let escaped = message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>freebusy</title>\
         <body style=\"font-family:system-ui;margin:3rem;max-width:40rem\"><h1>freebusy</h1><p>{escaped}</p></body>"
    );
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// Query of `/onboarding/start`.
#[derive(serde::Deserialize)]
pub struct Start {
    invitation: Option<String>,
}

/// `GET /onboarding/start?invitation=...`: off to the admin-consent page.
pub async fn start(State(service): State<Arc<Service>>, q: Result<Query<Start>, QueryRejection>) -> Response {
    let Some(settings) = settings(&service) else { return not_configured() };
    let Ok(Query(q)) = q else { return page(400, "This is not an invitation link; ask for a new one.") };
    match onboarding::start(&settings, service.store(), q.invitation.as_deref().unwrap_or_default()) {
        Ok(Some(url)) => (StatusCode::FOUND, [(header::LOCATION, url)]).into_response(),
        Ok(None) => page(400, "This invitation was already used or has expired; ask for a new one."),
        Err(e) => page(500, &format!("The invitation could not be opened: {e:#}")),
    }
}

/// `GET /onboarding/callback`: what the identity platform sent back.
pub async fn callback(State(service): State<Arc<Service>>, cb: Result<Query<Callback>, QueryRejection>) -> Response {
    let Some(settings) = settings(&service) else { return not_configured() };
    let Ok(Query(cb)) = cb else {
        return page(400, "The identity platform's answer could not be read; try the invitation again.");
    };
    match onboarding::callback(&service, &settings, cb).await {
        Ok(o) => page(o.status, &o.message),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "onboarding callback failed");
            page(500, "The consent could not be recorded; try the invitation again.")
        }
    }
}

/// Body of the admin onboarding routes.
#[derive(serde::Deserialize)]
pub struct Named {
    name: String,
}

/// The `{"name": ...}` body, or its problem: 415 unless it is JSON, 400 unless it parses (always
/// `application/problem+json`, like the other routes).
fn named(headers: &HeaderMap, body: &[u8]) -> Result<Named, Problem> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(|v| v.trim_start().starts_with("application/json")) {
        return Err(Problem::new(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            r#"POST a JSON body {"name": "<tenant name>"} with Content-Type: application/json"#,
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            400,
            "invalid-request",
            "The request is invalid",
            format!(r#"the body is not {{"name": "<tenant name>"}}: {e}"#),
        )
    })
}

/// [`named`] of a body that may not have been read (413 when too large).
fn named_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Named, Box<Response>> {
    let body = body.map_err(|e| Box::new(body_problem(e)))?;
    named(headers, &body).map_err(|p| Box::new(problem(p)))
}

/// `POST /v1/admin/invitations {"name": "acme"}`: a single-use invitation link.
pub async fn invite(
    State(service): State<Arc<Service>>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(denied) = caller.require(Scope::Admin) {
        return denied.into_response();
    }
    let Some(settings) = settings(&service) else { return not_configured() };
    let body = match named_body(&headers, body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let taken: Vec<String> = service.tenants().iter().map(|t| t.name.clone()).collect();
    match onboarding::invite(&settings, service.store(), &body.name, &taken) {
        Ok(url) => axum::Json(serde_json::json!({ "invitation": url })).into_response(),
        Err(e) => problem(Problem::new(400, "invalid-request", "No invitation made", format!("{e:#}"))),
    }
}

/// `POST /v1/admin/onboarding {"name": "acme"}`: the admin-consent link itself.
pub async fn consent_link(
    State(service): State<Arc<Service>>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(denied) = caller.require(Scope::Admin) {
        return denied.into_response();
    }
    let Some(settings) = settings(&service) else { return not_configured() };
    let body = match named_body(&headers, body) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    if let Err(e) = onboarding::check_name(&body.name) {
        return problem(Problem::new(400, "invalid-request", "No consent link made", format!("{e:#}")));
    }
    match onboarding::consent_url_for(&settings, service.store(), &body.name) {
        Ok(url) => axum::Json(serde_json::json!({ "consentUrl": url })).into_response(),
        Err(e) => problem(Problem::new(500, "store", "No consent link made", format!("{e:#}"))),
    }
}

/// `GET /v1/admin/onboarding`: where each onboarding stands.
pub async fn list(State(service): State<Arc<Service>>, caller: Caller) -> Response {
    if let Err(denied) = caller.require(Scope::Admin) {
        return denied.into_response();
    }
    match service.store().onboardings() {
        Ok(records) => axum::Json(serde_json::json!({ "onboardings": records })).into_response(),
        Err(e) => problem(Problem::new(500, "store", "The store could not be read", e.to_string())),
    }
}
