//! `/v1/directory` and `/v1/tenants/{tenant}/directory`: people and rooms by prefix. Needs
//! `directory:read` on the tenant.

use std::sync::Arc;

use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use freebusy_core::api::{parse_directory_query, Problem};

use super::auth::Caller;
use super::{problem, RequestLog};
use crate::auth::keys::Scope;
use crate::service::Service;

async fn search(
    service: &Service,
    caller: &Caller,
    tenant: Option<&str>,
    log: &RequestLog,
    query: Option<String>,
) -> Response {
    if let Err(denied) = caller.refuse_other_tenant(tenant) {
        return denied.into_response();
    }
    let snapshot = service.snapshot();
    let tenant = match snapshot.tenant(caller.tenant_for(tenant)) {
        Ok(t) => t.clone(),
        Err(e) => return problem(e.into()),
    };
    if let Err(denied) = caller.allow(&tenant.name, Scope::DirectoryRead) {
        return denied.into_response();
    }
    log.set_tenant(&tenant.name);
    let req = match parse_directory_query(query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(p) => return problem(p),
    };
    match tenant.search_directory(&req).await {
        Ok(found) => axum::Json(found).into_response(),
        Err(e) => problem(Problem::new(502, e.code.as_str(), "The directory could not be searched", e.message)),
    }
}

/// `GET /v1/directory`: the key's tenant, or the default one.
pub async fn default_tenant(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Extension(log): Extension<Arc<RequestLog>>,
    RawQuery(query): RawQuery,
) -> Response {
    search(&service, &caller, None, &log, query).await
}

/// `GET /v1/tenants/{tenant}/directory`.
pub async fn tenant(
    State(service): State<Arc<Service>>,
    caller: Caller,
    Extension(log): Extension<Arc<RequestLog>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    search(&service, &caller, Some(&tenant), &log, query).await
}
