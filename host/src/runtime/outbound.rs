//! Outbound HTTP from provider components: every request passes through
//! [`WasiHttpHooks::send_request`], which lets through only the origins on the call's allow-list
//! and records what it refused, so the host can report it.

use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

type IoFuture = Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

/// `scheme://host:port` with the scheme's default port made explicit, lower-cased.
pub fn normalize_origin(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let port = uri.port_u16().or(match scheme.as_str() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    })?;
    Some(format!("{scheme}://{host}:{port}"))
}

/// The origins one call may reach, and what it tried to reach beyond them.
#[derive(Clone, Default)]
pub struct AllowList {
    origins: Arc<[String]>,
    denied: Arc<Mutex<Vec<String>>>,
}

impl AllowList {
    /// Allow exactly these origins (normalized with [`normalize_origin`]).
    pub fn new(origins: Vec<String>) -> Self {
        AllowList { origins: origins.into(), denied: Arc::default() }
    }

    /// Whether `url`'s origin is allowed.
    pub fn allows(&self, url: &str) -> bool {
        normalize_origin(url).is_some_and(|o| self.origins.contains(&o))
    }

    /// Origins refused during this call.
    pub fn denied(&self) -> Vec<String> {
        self.denied.lock().expect("denied list").clone()
    }
}

impl WasiHttpHooks for AllowList {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<
        dyn std::future::Future<Output = Result<(http::Response<WasiBody>, IoFuture), wasmtime_wasi_http::Error>>
            + Send,
    > {
        let url = request.uri().to_string();
        let allowed = self.allows(&url);
        if !allowed {
            let origin = normalize_origin(&url).unwrap_or_else(|| "<invalid url>".into());
            tracing::warn!(%origin, "refused outbound request from provider: origin not in its allowed hosts");
            self.denied.lock().expect("denied list").push(origin);
        }
        Box::new(async move {
            if !allowed {
                return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
            }
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(|body| body.boxed_unsync()), Box::new(io) as IoFuture))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_with_default_ports_and_ignore_paths() {
        let list = AllowList::new(vec![normalize_origin("https://graph.microsoft.com").unwrap()]);
        assert!(list.allows("https://graph.microsoft.com/v1.0/users"));
        assert!(list.allows("https://GRAPH.microsoft.com:443/x"));
        assert!(!list.allows("http://graph.microsoft.com/x"));
        assert!(!list.allows("https://graph.microsoft.com.evil.net/x"));
        assert!(!list.allows("https://graph.microsoft.com:8443/x"));
    }
}
