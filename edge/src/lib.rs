//! freebusy-edge: the `/v1/freebusy` and `/v1/availability` API as a Spin HTTP component.
//!
//! It holds no provider logic: it imports `freebusy:provider/provider`, which `spin.toml`
//! satisfies with a provider component (Graph or EWS) as a component dependency. Request
//! parsing, the scheduler (splitting, retries, joining), finding free slots, rendering and
//! problem bodies all come from `freebusy-core`, the same code the native host runs, so both
//! answer identically. Provider
//! settings come from Spin variables named like the provider's settings (`tenant_id`,
//! `client_secret`, ...), checked as the host checks its config. Answers are kept per mailbox and
//! day in Spin's key-value store ([`cache`]).

mod cache;
mod provider;

use freebusy_core::api::{
    format_instant, parse_availability_body, parse_json_body, parse_query_string, render, render_ical, respond,
    AvailabilityRequest, FreeBusyRequest, Problem, PROBLEM_CONTENT_TYPE,
};
use freebusy_core::provider::ProviderInfo;
use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;

fn problem(p: Problem) -> Response {
    Response::builder().status(p.status).header("content-type", PROBLEM_CONTENT_TYPE).body(p.to_json()).build()
}

/// Settings for the provider: every setting it describes that has a Spin variable, checked as the
/// host checks its config (a required one missing is refused with the same words).
fn settings(info: &ProviderInfo) -> Result<Vec<(String, String)>, Problem> {
    let mut out = Vec::new();
    for spec in &info.settings {
        match spin_sdk::variables::get(&spec.name) {
            Ok(value) if !value.is_empty() => out.push((spec.name.clone(), value)),
            Ok(_) | Err(spin_sdk::variables::Error::Undefined(_)) => {}
            Err(e) => return Err(Problem::configuration(format!("variable '{}': {e}", spec.name))),
        }
    }
    // Spin lets a component read only the variables it declares, so an unknown name cannot
    // reach here; a missing required one can.
    info.check_setting_names(out.iter().map(|(name, _)| name.as_str()))
        .map_err(|e| Problem::configuration(e.to_string()))?;
    Ok(out)
}

/// The `cache_ttl_secs` variable (0, keeping nothing, when absent).
fn cache_ttl_secs() -> u64 {
    spin_sdk::variables::get("cache_ttl_secs").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// What a request asks.
enum Asked {
    FreeBusy(FreeBusyRequest),
    Availability(AvailabilityRequest),
}

#[http_component]
async fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let content_type = req.header("content-type").and_then(|v| v.as_str());
    let parsed = match (req.method(), req.path()) {
        (_, "/healthz") => return Ok(Response::new(200, "ok\n")),
        (Method::Get, "/v1/freebusy") => parse_query_string(req.query()).map(Asked::FreeBusy),
        (Method::Post, "/v1/freebusy") => parse_json_body(content_type, req.body()).map(Asked::FreeBusy),
        (_, "/v1/freebusy") => Err(Problem::method_not_allowed("GET or POST")),
        (Method::Post, "/v1/availability") => {
            parse_availability_body(content_type, req.body()).map(Asked::Availability)
        }
        (_, "/v1/availability") => Err(Problem::method_not_allowed("POST")),
        _ => Err(Problem::no_such_route()),
    };
    let asked = match parsed {
        Ok(r) => r,
        Err(p) => return Ok(problem(p)),
    };
    let info = provider::describe();
    let settings = match settings(&info) {
        Ok(s) => s,
        Err(p) => return Ok(problem(p)),
    };
    let source = provider::Imported { settings: &settings };
    let limits = info.limits;
    let cache = cache::EdgeCache::open(cache_ttl_secs());
    let schedules = |r: FreeBusyRequest| {
        let (cache, source) = (&cache, &source);
        async move { cache.schedules(source, &r, limits.max_mailboxes, limits.max_window_days, now_ms()).await }
    };
    let accept = req.header("accept").and_then(|v| v.as_str()).unwrap_or_default();
    let (content_type, body) = match asked {
        Asked::FreeBusy(request) => {
            let resp = respond(&request, schedules(request.clone()).await);
            render(&resp, Some(accept), now_ms())
        }
        Asked::Availability(request) => {
            let resp = freebusy_core::api::availability::answer(&request, schedules(request.freebusy_request()).await);
            if accept.contains("text/calendar") {
                ("text/calendar; charset=utf-8", render_ical(&resp, &format_instant(now_ms())))
            } else {
                ("application/json", resp_json(&resp))
            }
        }
    };
    Ok(Response::builder().status(200).header("content-type", content_type).body(body).build())
}

fn resp_json(resp: &freebusy_core::api::AvailabilityResponse) -> String {
    serde_json::to_string(resp).expect("answers serialize")
}
