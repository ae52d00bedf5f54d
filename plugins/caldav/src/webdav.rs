//! The WebDAV transport: one request with the connection's credentials (never retried after a
//! 401: a retried password locks accounts), hrefs resolved against the server (RFC 4918 §8.3),
//! one same-origin redirect followed (RFC 6764 §5 `.well-known/caldav` redirects), and the
//! `207 Multi-Status` answer (RFC 4918 §13) as responses with their properties by status.

use freebusy_provider_sdk::http::{self, Request, Response};
use freebusy_provider_sdk::types::ProviderError;
use freebusy_provider_sdk::xml::{parse, Node};

use crate::Connection;

/// The DAV and CalDAV namespaces, declared on every request body.
pub(crate) const NAMESPACES: &str =
    r#"xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/""#;

/// A request to the server, by absolute URL.
pub(crate) fn send(
    conn: &Connection,
    method: &'static str,
    url: &str,
    depth: Option<&str>,
    content_type: &str,
    body: &str,
) -> Result<Response, ProviderError> {
    let mut url = url.to_string();
    for redirects in 0..2 {
        let mut req = Request::new(method, url.clone()).header("authorization", conn.authorization.clone());
        if let Some(depth) = depth {
            req = req.header("depth", depth);
        }
        if !body.is_empty() {
            req = req.body(content_type, body.as_bytes().to_vec());
        }
        let resp = http::send(&req).map_err(|e| ProviderError::Unavailable(format!("CalDAV server: {e}")))?;
        match resp.status {
            301 | 302 | 303 | 307 | 308 if redirects == 0 => {
                let Some(location) = resp.header("location") else { return Ok(resp) };
                let next = conn.resolve(location);
                if http::origin(&next) != http::origin(&conn.base_url) {
                    return Err(ProviderError::Misconfigured(format!(
                        "the server redirects {} to another origin ({}): set base_url to it",
                        path_of(&url),
                        http::origin(&next)
                    )));
                }
                url = next;
            }
            401 => {
                return Err(ProviderError::AuthFailed(format!(
                    "the CalDAV server rejected the credentials (HTTP 401 on {}); not retried, so the account is not locked out: check {}",
                    path_of(&url),
                    conn.credential_settings()
                )))
            }
            429 | 503 => return Err(ProviderError::Throttled(http::retry_after_ms(resp.header("retry-after")))),
            s if s >= 500 => {
                return Err(ProviderError::Unavailable(format!("the CalDAV server answered HTTP {s} to {method} {}", path_of(&url))))
            }
            _ => return Ok(resp),
        }
    }
    Err(ProviderError::Unavailable("the CalDAV server redirected twice".into()))
}

/// A URL's path, for messages (hosts and credentials stay out of them).
pub(crate) fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.find('/').map(|i| &rest[i..]).unwrap_or("/")
}

/// `PROPFIND` for the named properties (`D:x` or `C:x` qualified names) at `depth`.
pub(crate) fn propfind(conn: &Connection, url: &str, depth: &str, props: &[&str]) -> Result<Response, ProviderError> {
    let props: String = props.iter().map(|p| format!("<{p}/>")).collect();
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:propfind {NAMESPACES}><D:prop>{props}</D:prop></D:propfind>"#
    );
    send(conn, "PROPFIND", url, Some(depth), "application/xml; charset=utf-8", &body)
}

/// One `D:response` of a multistatus: its href and the properties found (status 200); a
/// response with only a `D:status` (a member that is gone) has none.
#[derive(Debug, Default)]
pub(crate) struct Resource {
    pub href: String,
    pub props: Vec<Node>,
}

impl Resource {
    /// A property found on this resource, by local name.
    pub fn prop(&self, name: &str) -> Option<&Node> {
        self.props.iter().find(|p| p.name == name)
    }

    /// The hrefs inside a property (`calendar-home-set`, `current-user-principal`, ...).
    pub fn hrefs(&self, name: &str) -> Vec<String> {
        self.prop(name).map(|p| p.all("href").map(|h| h.text.trim().to_string()).collect()).unwrap_or_default()
    }
}

/// The status code in a `HTTP/1.1 200 OK` line.
pub(crate) fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Parse a `207 Multi-Status` body.
pub(crate) fn multistatus(resp: &Response) -> Result<Vec<Resource>, String> {
    let root = parse(&resp.body)?;
    if root.name != "multistatus" {
        return Err(format!("expected a DAV:multistatus, got <{}>", root.name));
    }
    Ok(root
        .all("response")
        .map(|r| {
            let mut resource =
                Resource { href: r.text_at(&["href"]).unwrap_or_default().to_string(), props: Vec::new() };
            for propstat in r.all("propstat") {
                if propstat.text_at(&["status"]).and_then(status_code) == Some(200) {
                    if let Some(prop) = propstat.child("prop") {
                        resource.props.extend(prop.children.iter().cloned());
                    }
                }
            }
            resource
        })
        .collect())
}

/// Percent-decode an href path for comparisons (`/alice%40example.com/` and `/alice@example.com/`
/// name one collection).
pub(crate) fn decoded(href: &str) -> String {
    let bytes = href.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).trim_end_matches('/').to_string()
}

/// An error for a resource the server would not give.
pub(crate) fn unexpected(resp: &Response, what: &str, url: &str) -> ProviderError {
    ProviderError::Unavailable(format!("the CalDAV server answered HTTP {} to {what} on {}", resp.status, path_of(url)))
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &str) -> Response {
        Response { status: 207, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn multistatus_keeps_found_properties_and_drops_missing_ones() {
        // As Radicale 3.5 answers a PROPFIND on a principal (captured from it).
        let body = r#"<?xml version='1.0' encoding='utf-8'?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><response><href>/alice%40contoso.com/</href><propstat><prop><C:calendar-home-set><href>/alice%40contoso.com/</href></C:calendar-home-set></prop><status>HTTP/1.1 200 OK</status></propstat><propstat><prop><C:schedule-outbox-URL /></prop><status>HTTP/1.1 404 Not Found</status></propstat></response></multistatus>"#;
        let all = multistatus(&response(body)).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].hrefs("calendar-home-set"), vec!["/alice%40contoso.com/"]);
        assert!(all[0].prop("schedule-outbox-URL").is_none());
    }

    #[test]
    fn hrefs_compare_percent_decoded_and_without_trailing_slash() {
        assert_eq!(decoded("/alice%40contoso.com/"), "/alice@contoso.com");
        assert_eq!(decoded("/a%2"), "/a%2");
        assert_eq!(path_of("https://dav.example.com/cal/x/?y"), "/cal/x/?y");
    }
}
