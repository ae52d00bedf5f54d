//! Problem details (RFC 9457, `application/problem+json`): every 4xx and 5xx the host and the
//! edge answer, with the same words from both.

use serde::{Deserialize, Serialize};

/// One invalid parameter of a problem (RFC 9457 extension member `invalid-params`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidParam {
    /// Parameter name.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidParam {
    /// Build one.
    pub fn new(name: impl Into<String>, reason: impl Into<String>) -> Self {
        InvalidParam { name: name.into(), reason: reason.into() }
    }
}

/// An RFC 9457 problem details body (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI reference naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    pub detail: String,
    /// Every invalid parameter, when the request was malformed.
    #[serde(rename = "invalid-params", default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_params: Vec<InvalidParam>,
}

/// The media type of [`Problem`] bodies.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

impl Problem {
    /// A 400 listing invalid parameters.
    pub fn invalid(params: Vec<InvalidParam>) -> Self {
        let detail = params.iter().map(|p| format!("{}: {}", p.name, p.reason)).collect::<Vec<_>>().join("; ");
        Problem {
            kind: "/problems/invalid-request".into(),
            title: "The request is invalid".into(),
            status: 400,
            detail,
            invalid_params: params,
        }
    }

    /// Any other problem.
    pub fn new(status: u16, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("/problems/{kind}"),
            title: title.into(),
            status,
            detail: detail.into(),
            invalid_params: Vec::new(),
        }
    }
}

/// The problems every front end (host and edge) answers with the same words.
impl Problem {
    /// 404 for a path that names no resource.
    pub fn no_such_route() -> Self {
        Problem::new(404, "not-found", "No such resource", "see /v1/freebusy")
    }

    /// 405 for a method the resource does not take.
    pub fn method_not_allowed(allowed: &str) -> Self {
        Problem::new(405, "method-not-allowed", "Method not allowed", format!("use {allowed}"))
    }

    /// 404 for a tenant that is not configured.
    pub fn unknown_tenant(tenant: &str) -> Self {
        Problem::new(404, "unknown-tenant", "Unknown tenant", format!("no tenant named '{tenant}' is configured"))
    }

    /// 400 when no tenant is named and none is the default.
    pub fn no_default_tenant() -> Self {
        Problem::new(
            400,
            "no-default-tenant",
            "No default tenant",
            "several tenants are configured and no default_tenant; use /v1/tenants/{tenant}/freebusy",
        )
    }

    /// 500 for a provider setting the service cannot work with.
    pub fn configuration(detail: impl Into<String>) -> Self {
        Problem::new(500, "configuration", "Configuration error", detail)
    }

    /// The body, serialized.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("problems serialize")
    }
}
