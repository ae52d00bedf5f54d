//! Outbound HTTP from provider components: every request passes through
//! [`WasiHttpHooks::send_request`], which lets through only the origins on the call's allow-list
//! and records what it refused, so the host can report it. Allowed requests go out through
//! [`Egress`], the host's one pooled client, which trusts the public roots plus the CA
//! certificates the config names (internal CAs of on-premises Exchange, TLS-inspecting proxies),
//! and resolves host names through the config's overrides first (like `curl --resolve`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
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

/// The host's HTTP client for provider requests: connections pooled across calls, TLS with
/// webpki's public roots plus extra CA certificates.
#[derive(Clone)]
pub struct Egress {
    client: Client<HttpsConnector<HttpConnector<Resolver>>, WasiBody>,
}

/// Host name resolution: the config's fixed addresses (split-horizon DNS, a reverse proxy, a
/// national-cloud test bed), else the system resolver. TLS still checks the certificate against
/// the name asked for, not the address.
#[derive(Clone)]
struct Resolver {
    overrides: Arc<HashMap<String, SocketAddr>>,
    system: GaiResolver,
}

type ResolveFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<std::vec::IntoIter<SocketAddr>, std::io::Error>> + Send>>;

impl tower_service::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = ResolveFuture;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if let Some(addr) = self.overrides.get(&name.as_str().to_ascii_lowercase()).copied() {
            return Box::pin(async move { Ok(vec![addr].into_iter()) });
        }
        let mut system = self.system.clone();
        Box::pin(async move { Ok(system.call(name).await?.collect::<Vec<_>>().into_iter()) })
    }
}

/// Longest wait for a connection when the provider does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a response head when the provider does not say.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(60);

impl Egress {
    /// A client trusting the public roots and the certificates in `extra_ca_files` (PEM),
    /// connecting to `resolve`'s addresses for the host names it lists.
    pub fn new(extra_ca_files: &[PathBuf], resolve: &HashMap<String, SocketAddr>) -> anyhow::Result<Egress> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for file in extra_ca_files {
            let mut added = 0;
            for cert in rustls::pki_types::CertificateDer::pem_file_iter(file)
                .with_context(|| format!("reading CA certificates from {}", file.display()))?
            {
                roots.add(cert.with_context(|| format!("a certificate in {}", file.display()))?)?;
                added += 1;
            }
            anyhow::ensure!(added > 0, "{} holds no PEM certificate", file.display());
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let resolver = Resolver {
            overrides: Arc::new(resolve.iter().map(|(k, v)| (k.to_ascii_lowercase(), *v)).collect()),
            system: GaiResolver::new(),
        };
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Egress { client: Client::builder(TokioExecutor::new()).build(https) })
    }

    async fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, wasmtime_wasi_http::Error> {
        use wasmtime_wasi_http::Error;
        let first_byte = options.and_then(|o| o.first_byte_timeout).unwrap_or(FIRST_BYTE_TIMEOUT);
        let response = match tokio::time::timeout(first_byte, self.client.request(request)).await {
            Err(_) => return Err(Error::ConnectionReadTimeout),
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(client_error(&e)),
        };
        Ok(response.map(|body| body.map_err(Error::from).boxed_unsync()))
    }
}

/// The wasi:http error code for a failed request, so the provider can say what went wrong.
fn client_error(e: &hyper_util::client::legacy::Error) -> wasmtime_wasi_http::Error {
    use wasmtime_wasi_http::Error;
    let mut chain = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        chain.push_str(&s.to_string().to_lowercase());
        chain.push(' ');
        source = s.source();
    }
    if chain.contains("certificate") || chain.contains("unknownissuer") {
        Error::TlsCertificateError
    } else if chain.contains("tls") || chain.contains("handshake") {
        Error::TlsProtocolError
    } else if chain.contains("timed out") || chain.contains("timeout") {
        Error::ConnectionTimeout
    } else if e.is_connect() {
        Error::ConnectionRefused
    } else {
        Error::HttpProtocolError
    }
}

/// The origins one call may reach, and what it tried to reach beyond them.
#[derive(Clone)]
pub struct AllowList {
    origins: Arc<[String]>,
    denied: Arc<Mutex<Vec<String>>>,
    egress: Egress,
}

impl AllowList {
    /// Allow exactly these origins (normalized with [`normalize_origin`]), sent through `egress`.
    pub fn new(origins: Vec<String>, egress: Egress) -> Self {
        AllowList { origins: origins.into(), denied: Arc::default(), egress }
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
        let egress = self.egress.clone();
        Box::new(async move {
            if !allowed {
                return Err(wasmtime_wasi_http::Error::HttpRequestDenied);
            }
            let response = egress.send(request, options).await?;
            // The pooled client drives the connection itself; nothing more to await.
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_with_default_ports_and_ignore_paths() {
        let list = AllowList::new(
            vec![normalize_origin("https://graph.microsoft.com").unwrap()],
            Egress::new(&[], &HashMap::new()).unwrap(),
        );
        assert!(list.allows("https://graph.microsoft.com/v1.0/users"));
        assert!(list.allows("https://GRAPH.microsoft.com:443/x"));
        assert!(!list.allows("http://graph.microsoft.com/x"));
        assert!(!list.allows("https://graph.microsoft.com.evil.net/x"));
        assert!(!list.allows("https://graph.microsoft.com:8443/x"));
    }
}
