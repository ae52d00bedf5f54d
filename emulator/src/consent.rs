//! Multi-tenant apps and admin consent, as the Microsoft identity platform does them
//! (https://learn.microsoft.com/entra/identity-platform/v2-admin-consent): a customer's admin is
//! sent to `/{tenant}/v2.0/adminconsent?client_id&scope&redirect_uri&state`, approves (or not),
//! and comes back to the redirect URI with `admin_consent=True&tenant=<id>&scope&state`, or with
//! `error` and `error_description`. Only then can the app get client-credentials tokens for that
//! tenant, with the application permissions consented.
//!
//! The emulator has no people to click: a test queues what the admin will do
//! ([`crate::Emulator::queue_consent`]). Consent can take effect late (the service principal is
//! created in the background: AADSTS7000229 until then), be given without the application
//! permissions (tokens without `roles`, then Graph answers 403), and be revoked.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};

use crate::State as Emu;

/// An app registered once (in the vendor's directory) and usable in any tenant that consents.
#[derive(Debug, Clone)]
pub struct MultiTenantApp {
    /// Application (client) id.
    pub client_id: String,
    /// Its name on the consent screen.
    pub display_name: String,
    /// Its client secret.
    pub secret: String,
    /// The application permissions it asks for (Graph).
    pub requested_roles: Vec<String>,
    /// Registered redirect URIs, by prefix (the real service compares them exactly; loopback
    /// ports vary in tests).
    pub redirect_prefixes: Vec<String>,
}

/// What the customer's admin does on the consent screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentDecision {
    /// Approve, signed in as an admin of `tenant` (id or domain). `with_permissions: false` is
    /// consent without the application permissions; `effective_after_secs` delays it.
    Approve {
        /// The admin's tenant.
        tenant: String,
        /// Whether the application permissions are granted.
        with_permissions: bool,
        /// Seconds until tokens can be issued (the service principal appears).
        effective_after_secs: i64,
    },
    /// Cancel on the consent screen.
    Decline,
}

/// Consent given by a tenant to an app.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub roles: Vec<String>,
    pub effective: DateTime<Utc>,
}

/// Consents and what admins will do next.
#[derive(Default)]
pub(crate) struct Consents {
    /// (tenant id, client id) -> grant.
    pub grants: HashMap<(String, String), Grant>,
    pub decisions: std::collections::VecDeque<ConsentDecision>,
}

fn page(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], format!("<!doctype html><p>{text}</p>"))
        .into_response()
}

fn back(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    (StatusCode::FOUND, [(header::LOCATION, format!("{redirect_uri}{sep}{query}"))]).into_response()
}

/// `GET /{tenant}/v2.0/adminconsent`.
pub async fn admin_consent(
    State(emu): State<Arc<Emu>>,
    Path(tenant): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(app) = emu.multi_tenant_apps.iter().find(|a| Some(&a.client_id) == q.get("client_id")) else {
        return page(
            StatusCode::BAD_REQUEST,
            "AADSTS700016: Application with identifier was not found in the directory. (The app is not a multi-tenant app here.)",
        );
    };
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    if !app.redirect_prefixes.iter().any(|p| redirect_uri.starts_with(p)) {
        // A mismatched redirect URI is shown to the admin, never redirected to.
        return page(
            StatusCode::BAD_REQUEST,
            &format!("AADSTS50011: The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'.", app.client_id),
        );
    }
    if q.get("scope").is_none_or(|s| s.is_empty()) {
        return page(
            StatusCode::BAD_REQUEST,
            "AADSTS900144: The request body must contain the following parameter: 'scope'.",
        );
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let scope = q.get("scope").cloned().unwrap_or_default();
    let decision = emu.consents.lock().expect("consents").decisions.pop_front();
    match decision {
        None => page(
            StatusCode::OK,
            &format!("Sign in as an administrator of {tenant} to grant {} its permissions.", app.display_name),
        ),
        Some(ConsentDecision::Decline) => back(
            &redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "AADSTS65004: User declined to consent to access the app."),
                ("state", &state),
            ],
        ),
        Some(ConsentDecision::Approve { tenant: admin_of, with_permissions, effective_after_secs }) => {
            let Some(t) = emu.tenant(&admin_of) else {
                return page(StatusCode::BAD_REQUEST, &format!("AADSTS90002: Tenant '{admin_of}' not found."));
            };
            let roles = if with_permissions { app.requested_roles.clone() } else { Vec::new() };
            let effective = Utc::now() + Duration::seconds(effective_after_secs);
            emu.consents
                .lock()
                .expect("consents")
                .grants
                .insert((t.id.clone(), app.client_id.clone()), Grant { roles, effective });
            back(&redirect_uri, &[("admin_consent", "True"), ("tenant", &t.id), ("scope", &scope), ("state", &state)])
        }
    }
}

/// What the token endpoint does for a multi-tenant app in `tenant`: the consented roles, or the
/// error Entra gives (AADSTS700016 without consent, AADSTS7000229 while it is taking effect).
pub(crate) fn roles_for(
    emu: &Emu,
    tenant: &crate::tenant::Tenant,
    client_id: &str,
) -> Result<Vec<String>, (u32, String)> {
    let consents = emu.consents.lock().expect("consents");
    match consents.grants.get(&(tenant.id.clone(), client_id.to_string())) {
        None => Err((
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", tenant.display_name),
        )),
        Some(g) if g.effective > Utc::now() => Err((
            7000229,
            format!("The client application {client_id} is missing service principal in the tenant {}.", tenant.id),
        )),
        Some(g) => Ok(g.roles.clone()),
    }
}
