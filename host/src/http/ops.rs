//! Operations: `/healthz` (liveness), `/readyz` (can this instance serve: configuration loaded,
//! components compiled, store reachable), `/metrics` (Prometheus), and
//! `/v1/tenants/{tenant}/health` (one tenant's credentials, through its circuit). Readiness is
//! not credential health: one customer's expired secret must not take every instance out of its
//! load balancer. On the main listener `/readyz` and `/metrics` need an admin key; on the
//! `ops_listen` listener they are open.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use super::problem;
use crate::auth::keys::Scope;
use crate::service::Service;
use crate::tenant::health::CheckMode;

/// Liveness.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Whether this instance can serve.
pub async fn readyz(State(service): State<Arc<Service>>) -> Response {
    let snapshot = service.snapshot();
    let store = service.store().data_version().map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string());
    let open: Vec<&str> = snapshot.tenants().filter(|t| t.circuit.is_open()).map(|t| t.name.as_str()).collect();
    // Onboarded tenants whose consent does not work (yet): for the admin, not for readiness.
    let consent: Vec<serde_json::Value> = service
        .store()
        .onboardings()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.state != "working")
        .map(|r| serde_json::json!({ "tenant": r.tenant, "state": r.state, "detail": r.detail }))
        .collect();
    let ready = store == "ok";
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    // Informational too: without the shared store this instance serves from its own memory.
    let shared = shared_status(&service).await;
    let body = serde_json::json!({
        "ready": ready,
        "store": store,
        "shared": shared,
        "tenants": snapshot.tenants().count(),
        // Informational: a tenant whose credentials were refused does not make the instance unready.
        "openCircuits": open,
        "consent": consent,
    });
    (status, axum::Json(body)).into_response()
}

/// Ask the shared store (one GET; nothing while it is known down and not yet due for a retry).
async fn shared_status(service: &Service) -> crate::shared::SharedStatus {
    let Some(shared) = service.shared() else { return crate::shared::SharedStatus::NotConfigured };
    shared.get(&shared.key("ping")).await;
    let status = shared.status();
    service.metrics().shared_store(
        status == crate::shared::SharedStatus::Up,
        shared.failures.load(std::sync::atomic::Ordering::Relaxed),
    );
    status
}

/// Prometheus metrics (OpenMetrics text).
pub async fn metrics(State(service): State<Arc<Service>>) -> Response {
    shared_status(&service).await;
    let snapshot = service.snapshot();
    for tenant in snapshot.tenants() {
        service.metrics().circuit(&tenant.name, tenant.circuit.is_open());
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], service.metrics().render())
        .into_response()
}

/// `/readyz` on the main listener: an admin key.
pub async fn readyz_with_key(State(service): State<Arc<Service>>, caller: Caller) -> Response {
    match caller.require(Scope::Admin) {
        Ok(()) => readyz(State(service)).await,
        Err(denied) => denied.into_response(),
    }
}

/// `/metrics` on the main listener: an admin key.
pub async fn metrics_with_key(State(service): State<Arc<Service>>, caller: Caller) -> Response {
    match caller.require(Scope::Admin) {
        Ok(()) => metrics(State(service)).await,
        Err(denied) => denied.into_response(),
    }
}

/// `GET /v1/tenants/{tenant}/health`: the tenant's credentials and secret expiry, checked
/// through its circuit (no sign-in while it is open). An admin key, or any key of that tenant.
pub async fn tenant_health(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Response {
    if let Err(denied) = caller.refuse_other_tenant(Some(&tenant)) {
        return denied.into_response();
    }
    let tenant = match service.tenant(Some(&tenant)) {
        Ok(t) => t,
        Err(e) => return problem(e.into()),
    };
    let own_tenant = caller.0.tenant() == Some(tenant.name.as_str());
    if !own_tenant {
        if let Err(denied) = caller.allow(&tenant.name, Scope::Admin) {
            return denied.into_response();
        }
    }
    let mut health = tenant.health(chrono::Utc::now().date_naive(), CheckMode::ThroughCircuit).await;
    health.consent = crate::onboarding::consent_of(&service, &health).unwrap_or_else(|e| {
        tracing::warn!(error = %format!("{e:#}"), "reading the onboarding record failed");
        None
    });
    axum::Json(health).into_response()
}
