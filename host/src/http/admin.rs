//! Admin routes (an admin key): `POST /v1/admin/reload` re-reads the configuration file and the
//! store (an invalid file is refused with its error, and the running configuration stays), and
//! `GET /v1/admin/tenants` lists every tenant with its circuit, without signing in anywhere.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use freebusy_core::api::Problem;

use super::auth::Caller;
use super::problem;
use crate::auth::keys::Scope;
use crate::service::Service;

/// `POST /v1/admin/reload`.
pub async fn reload(State(service): State<Arc<Service>>, caller: Caller) -> Response {
    if let Err(denied) = caller.require(Scope::Admin) {
        return denied.into_response();
    }
    match service.reload().await {
        Ok(report) => axum::Json(report).into_response(),
        Err(e) => problem(Problem::new(
            422,
            "invalid-configuration",
            "The configuration was not reloaded",
            format!("{e:#}; the running configuration stays"),
        )),
    }
}

/// `GET /v1/admin/tenants`.
pub async fn tenants(State(service): State<Arc<Service>>, caller: Caller) -> Response {
    if let Err(denied) = caller.require(Scope::Admin) {
        return denied.into_response();
    }
    let snapshot = service.snapshot();
    let list: Vec<serde_json::Value> = snapshot
        .tenants()
        .map(|t| {
            serde_json::json!({
                "tenant": t.name,
                "provider": t.provider.info().name,
                "circuit": t.circuit.state(),
                "secretExpires": t.secret_expires,
            })
        })
        .collect();
    axum::Json(serde_json::json!({ "tenants": list })).into_response()
}
