//! freebusy-edge: the `/v1/freebusy` API as a Spin HTTP component.
//!
//! It holds no provider logic: it imports `freebusy:provider/provider@0.2.0`, which `spin.toml`
//! satisfies with a provider component (Graph or EWS) as a component dependency. Request
//! parsing, splitting, retries, merging and rendering all come from `freebusy-core`, the same
//! code the native host runs, so both answer identically. Provider settings come from Spin
//! variables named like the provider's settings (`tenant_id`, `client_secret`, ...).

use freebusy_core::api::{parse_json_body, parse_query_string, render, FreeBusyRequest, Problem, PROBLEM_CONTENT_TYPE};
use freebusy_core::plan::{assemble, plan, throttle_retry_delay_ms, Piece, PieceResult, ProviderFailure};
use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;

#[allow(missing_docs, clippy::all)]
mod bindings {
    spin_sdk::wit_bindgen::generate!({
        path: "../wit/provider@0.2.0",
        world: "calendar-consumer",
        runtime_path: "::spin_sdk::wit_bindgen::rt",
        generate_all,
    });
}

use bindings::freebusy::provider::provider;
use bindings::freebusy::provider::types as wit;

fn problem(p: Problem) -> Response {
    Response::builder()
        .status(p.status)
        .header("content-type", PROBLEM_CONTENT_TYPE)
        .body(serde_json::to_string(&p).expect("problem serializes"))
        .build()
}

/// Settings for the provider: every setting it describes that has a Spin variable.
fn settings(info: &wit::ProviderInfo) -> Result<Vec<(String, String)>, Problem> {
    let mut out = Vec::new();
    for spec in &info.settings {
        match spin_sdk::variables::get(&spec.name) {
            Ok(value) if !value.is_empty() => out.push((spec.name.clone(), value)),
            Ok(_) | Err(spin_sdk::variables::Error::Undefined(_)) => {}
            Err(e) => {
                return Err(Problem::new(
                    500,
                    "configuration",
                    "Configuration error",
                    format!("variable '{}': {e}", spec.name),
                ))
            }
        }
    }
    Ok(out)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let path = req.path();
    let parsed = match (req.method(), path) {
        (_, "/healthz") => return Ok(Response::new(200, "ok\n")),
        (Method::Get, "/v1/freebusy") => parse_query_string(req.query()),
        (Method::Post, "/v1/freebusy") => {
            parse_json_body(req.header("content-type").and_then(|v| v.as_str()), req.body())
        }
        (_, "/v1/freebusy") => Err(Problem::new(405, "method-not-allowed", "Method not allowed", "use GET or POST")),
        _ => Err(Problem::new(404, "not-found", "No such resource", "see /v1/freebusy")),
    };
    let request = match parsed {
        Ok(r) => r,
        Err(p) => return Ok(problem(p)),
    };
    let info = provider::describe();
    let settings = match settings(&info) {
        Ok(s) => s,
        Err(p) => return Ok(problem(p)),
    };
    let resp = freebusy(&info, &settings, &request);
    let accept = req.header("accept").and_then(|v| v.as_str());
    let (content_type, body) = render(&resp, accept, now_ms());
    Ok(Response::builder().status(200).header("content-type", content_type).body(body).build())
}

fn freebusy(
    info: &wit::ProviderInfo,
    settings: &[(String, String)],
    req: &FreeBusyRequest,
) -> freebusy_core::api::FreeBusyResponse {
    let pieces = plan(req, info.limits.max_mailboxes, info.limits.max_window_days);
    let results: Vec<PieceResult> = pieces.iter().map(|p| call_with_retries(settings, p, req)).collect();
    assemble(req, &pieces, results)
}

fn call_with_retries(settings: &[(String, String)], piece: &Piece, req: &FreeBusyRequest) -> PieceResult {
    let query = query(piece, req);
    let mut attempt = 0;
    loop {
        match provider::get_schedules(settings, &query) {
            Ok(schedules) => return Ok(schedules.iter().map(answer).collect()),
            Err(wit::ProviderError::Throttled(after)) => match throttle_retry_delay_ms(attempt, after) {
                Some(ms) => {
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                    attempt += 1;
                }
                None => return Err(ProviderFailure::Throttled(after).to_mailbox_error()),
            },
            Err(e) => return Err(failure(&e).to_mailbox_error()),
        }
    }
}

// The bindings' types in core's terms, with the same code the host uses.
freebusy_core::provider_conversions!(wit);
