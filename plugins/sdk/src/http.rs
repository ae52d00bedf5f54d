//! Blocking HTTP over `wasi:http/outgoing-handler`. The host decides where requests may go
//! (its allow-list); a refused request comes back as [`HttpError::Denied`].

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;

/// Largest response body read; anything bigger is an error rather than an out-of-memory trap.
const MAX_RESPONSE_BYTES: usize = 16 << 20;
const SECOND_NS: u64 = 1_000_000_000;

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// Absolute `http(s)://` URL.
    pub url: String,
    /// Header name/value pairs.
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for none).
    pub body: Vec<u8>,
}

impl Request {
    /// A request without headers or body.
    pub fn new(method: &'static str, url: impl Into<String>) -> Self {
        Request { method, url: url.into(), headers: Vec::new(), body: Vec::new() }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Set the body and its content type.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self.header("content-type", content_type)
    }
}

/// A received response.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header name/value pairs (names lower-case).
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL is not absolute http(s).
    BadUrl(String),
    /// The host refused the destination (not on the provider's allow-list).
    Denied(String),
    /// Connection, TLS, timeout or protocol failure.
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::BadUrl(u) => write!(f, "not an absolute http(s) URL: {u}"),
            HttpError::Denied(u) => {
                write!(f, "the host refused the request to {u} (not on the provider's allowed hosts)")
            }
            HttpError::Transport(m) => write!(f, "{m}"),
        }
    }
}

struct Parts<'a> {
    scheme: Scheme,
    authority: &'a str,
    path_and_query: &'a str,
}

fn split_url(url: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return None;
    };
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    if authority.is_empty() {
        return None;
    }
    Some(Parts { scheme, authority, path_and_query: if path.is_empty() { "/" } else { path } })
}

fn method(m: &str) -> Method {
    match m {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_string()),
    }
}

fn describe(code: &ErrorCode, url: &str) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied(origin(url)),
        ErrorCode::ConnectionRefused => HttpError::Transport(format!("connection refused by {}", origin(url))),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => HttpError::Transport(format!("timed out talking to {}", origin(url))),
        ErrorCode::DnsError(_) => HttpError::Transport(format!("DNS lookup failed for {}", origin(url))),
        ErrorCode::TlsCertificateError | ErrorCode::TlsAlertReceived(_) | ErrorCode::TlsProtocolError => {
            HttpError::Transport(format!(
                "TLS failure talking to {}: is its certificate issued by a CA the host trusts? (an internal CA goes in the host's extra_ca_certificates)",
                origin(url)
            ))
        }
        other => HttpError::Transport(format!("HTTP failure talking to {}: {other:?}", origin(url))),
    }
}

/// `scheme://authority` of a URL, for messages (never the path, which may carry addresses).
pub fn origin(url: &str) -> String {
    match split_url(url) {
        Some(p) => format!("{}://{}", if matches!(p.scheme, Scheme::Https) { "https" } else { "http" }, p.authority),
        None => "<invalid url>".to_string(),
    }
}

/// Send a request and read the whole response.
pub fn send(req: &Request) -> Result<Response, HttpError> {
    let parts = split_url(&req.url).ok_or_else(|| HttpError::BadUrl(origin(&req.url)))?;
    let headers = Fields::new();
    if !req.body.is_empty() && !req.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
        // Without it the body goes chunked, which HTTP/1.0 servers cannot read (Radicale's
        // built-in server drops it and answers the empty request), RFC 9112 §6.1.
        headers
            .append("content-length", req.body.len().to_string().as_bytes())
            .map_err(|e| HttpError::Transport(format!("invalid header content-length: {e:?}")))?;
    }
    for (name, value) in &req.headers {
        headers
            .append(name, value.as_bytes())
            .map_err(|e| HttpError::Transport(format!("invalid header {name}: {e:?}")))?;
    }
    let outgoing = OutgoingRequest::new(headers);
    let bad = |what: &str| HttpError::BadUrl(format!("{} ({what})", origin(&req.url)));
    outgoing.set_method(&method(req.method)).map_err(|_| bad("method"))?;
    outgoing.set_scheme(Some(&parts.scheme)).map_err(|_| bad("scheme"))?;
    outgoing.set_authority(Some(parts.authority)).map_err(|_| bad("authority"))?;
    outgoing.set_path_with_query(Some(parts.path_and_query)).map_err(|_| bad("path"))?;
    let body = outgoing.body().map_err(|_| HttpError::Transport("request body unavailable".into()))?;

    let options = RequestOptions::new();
    // Hosts may not support every timeout; an unsupported one is simply not set.
    let _ = options.set_connect_timeout(Some(10 * SECOND_NS));
    let _ = options.set_first_byte_timeout(Some(60 * SECOND_NS));
    let _ = options.set_between_bytes_timeout(Some(30 * SECOND_NS));

    // Start the request first, then stream the body: the host reads the body while sending,
    // so a large body cannot fill a buffer nobody drains.
    let pending = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| describe(&e, &req.url))?;
    {
        let stream = body.write().map_err(|_| HttpError::Transport("request body stream unavailable".into()))?;
        for chunk in req.body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| HttpError::Transport(format!("writing request body: {e:?}")))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| describe(&e, &req.url))?;

    let incoming = loop {
        match pending.get() {
            Some(result) => break result,
            None => pending.subscribe().block(),
        }
    };
    let incoming = incoming
        .map_err(|_| HttpError::Transport("response already taken".into()))?
        .map_err(|e| describe(&e, &req.url))?;

    let status = incoming.status();
    let headers = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let body = incoming.consume().map_err(|_| HttpError::Transport("response body unavailable".into()))?;
    let mut bytes = Vec::new();
    {
        let stream = body.stream().map_err(|_| HttpError::Transport("response body stream unavailable".into()))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() > MAX_RESPONSE_BYTES {
                        return Err(HttpError::Transport(format!(
                            "response from {} is larger than {MAX_RESPONSE_BYTES} bytes",
                            origin(&req.url)
                        )));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(HttpError::Transport(format!(
                        "reading response from {}: {}",
                        origin(&req.url),
                        e.to_debug_string()
                    )))
                }
            }
        }
    }
    let _trailers = IncomingBody::finish(body);
    Ok(Response { status, headers, body: bytes })
}

/// Percent-encode one path segment or query value (RFC 3986 unreserved characters pass).
pub fn encode_component(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

/// Parse a `Retry-After` header given in seconds (whole or fractional) into milliseconds.
pub fn retry_after_ms(value: Option<&str>) -> Option<u32> {
    let seconds: f64 = value?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| (seconds * 1000.0).ceil().min(u32::MAX as f64) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_whole_and_fractional_seconds() {
        assert_eq!(retry_after_ms(Some("2")), Some(2000));
        assert_eq!(retry_after_ms(Some("0.249")), Some(249));
        assert_eq!(retry_after_ms(Some("soon")), None);
        assert_eq!(retry_after_ms(None), None);
    }

    #[test]
    fn origin_never_includes_the_path() {
        assert_eq!(origin("https://graph.microsoft.com/v1.0/users/a@b.com"), "https://graph.microsoft.com");
    }
}
