//! API keys at the HTTP edge: the [`Caller`] extractor verifies `Authorization: Bearer <key>`
//! (or lets anyone in with `auth = "none"`), and failures become RFC 6750 answers: 401 with
//! `WWW-Authenticate: Bearer` and an error code for a missing, malformed, unknown, expired or
//! revoked key; 403 with `insufficient_scope` for a missing scope, and 403 for another tenant's
//! key (and for a tenant's key on the routes that span every tenant). Bodies are
//! `application/problem+json`; a key never appears in them (its id may).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use freebusy_core::api::Problem;

use super::{problem, RequestLog};
use crate::auth::keys::{KeyError, Scope};
use crate::auth::{bearer, AuthMode, Forbidden, Principal};
use crate::service::Service;

/// The verified caller of a request.
pub struct Caller(pub Principal);

impl FromRequestParts<Arc<Service>> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, service: &Arc<Service>) -> Result<Self, Response> {
        if service.snapshot().config.config.auth.mode == AuthMode::None {
            return Ok(Caller(Principal::Anyone));
        }
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let verified = bearer(header).and_then(|token| {
            let now = chrono::Utc::now().timestamp_millis();
            service.keyring().verify(token, now)
        });
        match verified {
            Ok(key) => {
                service.key_used(&key.id);
                if let Some(log) = parts.extensions.get::<Arc<RequestLog>>() {
                    log.set_key(&key.id);
                }
                Ok(Caller(Principal::Key(key)))
            }
            Err(e) => Err(unauthorized(e)),
        }
    }
}

/// 401 for a key that opens nothing (RFC 6750 section 3: no error code when none was sent).
pub fn unauthorized(e: KeyError) -> Response {
    let challenge = match e {
        KeyError::Missing => r#"Bearer realm="freebusy""#.to_string(),
        KeyError::NotBearer => format!(r#"Bearer realm="freebusy", error="invalid_request", error_description="{e}""#),
        _ => format!(r#"Bearer realm="freebusy", error="invalid_token", error_description="{e}""#),
    };
    let mut resp = problem(Problem::new(401, "unauthorized", "An API key is needed", e.to_string()));
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    resp
}

/// 403 for a verified key that may not do this.
pub fn forbidden(e: Forbidden) -> Response {
    let mut resp = problem(Problem::new(403, "forbidden", "This API key may not do that", e.to_string()));
    if let Forbidden::MissingScope(scope) = e {
        let challenge = format!(r#"Bearer realm="freebusy", error="insufficient_scope", scope="{}""#, scope.as_str());
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
    }
    *resp.status_mut() = StatusCode::FORBIDDEN;
    resp
}

impl Caller {
    /// The tenant a request means: the one in its path, else the key's own, else the default.
    pub fn tenant_for<'a>(&'a self, in_path: Option<&'a str>) -> Option<&'a str> {
        in_path.or(self.0.tenant())
    }

    /// Refuse a key bound to one tenant that names another in the path, before the name is looked
    /// up: whether that tenant exists is not for it to learn (403 either way, never 404).
    pub fn refuse_other_tenant(&self, in_path: Option<&str>) -> Result<(), Forbidden> {
        match (self.0.tenant(), in_path) {
            (Some(own), Some(asked)) if own != asked => {
                Err(Forbidden::OtherTenant { key_tenant: own.to_string(), asked: asked.to_string() })
            }
            _ => Ok(()),
        }
    }

    /// Allow `scope` on the tenant `name` (resolved); the error answers as a 403.
    pub fn allow(&self, tenant: &str, scope: Scope) -> Result<(), Forbidden> {
        self.0.allows(tenant, scope)
    }

    /// Allow `scope` on a route that spans every tenant (admin routes, `/readyz`, `/metrics`):
    /// only a key for every tenant may, since their answers name every tenant. A key bound to one
    /// tenant is refused even with the admin scope.
    pub fn require(&self, scope: Scope) -> Result<(), Forbidden> {
        self.0.require(scope)?;
        match self.0.tenant() {
            Some(own) => Err(Forbidden::OtherTenant { key_tenant: own.to_string(), asked: "every tenant".to_string() }),
            None => Ok(()),
        }
    }
}

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        forbidden(self)
    }
}
