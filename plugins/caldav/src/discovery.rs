//! Finding things on a CalDAV server: the signed-in account (RFC 5397 `current-user-principal`,
//! RFC 6764 §5 `/.well-known/caldav` when the base URL has none), its calendar homes and
//! scheduling outbox (RFC 4791 §6.2.1, RFC 6638 §2.1), each requested mailbox's calendar home (a
//! URL template, the account's own, RFC 3744 §9.4 `principal-property-search` on
//! `calendar-user-address-set`, or the principal named by the address under the principal
//! collection, as Radicale lays them out), and the calendars in a home that count for free/busy
//! (RFC 6638 §9.1 `schedule-calendar-transp`).
//!
//! What the account looks like is cached in the key-value store for ten minutes: it costs three
//! requests and changes when an admin reconfigures the server, not between two queries.

use freebusy_provider_sdk::cache;
use freebusy_provider_sdk::types::{MailboxError, ProviderError};
use serde::{Deserialize, Serialize};

use crate::webdav::{self, decoded, multistatus, path_of, propfind, NAMESPACES};
use crate::Connection;

const ACCOUNT_TTL_MS: i64 = 10 * 60 * 1000;

/// The signed-in account, as the server describes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Account {
    /// The principal's URL.
    pub principal: String,
    /// Its calendar homes (URLs).
    pub homes: Vec<String>,
    /// Its calendar user addresses, lower-case, without `mailto:`.
    pub addresses: Vec<String>,
    /// Its scheduling outbox (URL), where the server has one.
    pub outbox: Option<String>,
    /// Where principals live (URLs), for finding other mailboxes.
    pub principal_collections: Vec<String>,
    /// The server's DAV compliance classes (the `DAV` header of OPTIONS, RFC 4918 §10.1).
    pub features: Vec<String>,
}

impl Account {
    /// The server takes free/busy requests in the outbox (RFC 6638 §2: `calendar-auto-schedule`;
    /// drafts and some servers said `calendar-schedule`).
    pub fn schedules(&self) -> bool {
        self.outbox.is_some() && self.features.iter().any(|f| f == "calendar-auto-schedule" || f == "calendar-schedule")
    }

    /// The address the account uses as organizer of free/busy requests.
    pub fn organizer(&self) -> Option<&str> {
        self.addresses.first().map(String::as_str)
    }
}

fn address_of(href: &str) -> Option<String> {
    let h = href.trim();
    h.get(..7).filter(|p| p.eq_ignore_ascii_case("mailto:")).map(|_| h[7..].to_ascii_lowercase())
}

/// The signed-in account, from the cache or the server.
pub(crate) fn account(conn: &Connection) -> Result<Account, ProviderError> {
    let key = format!("caldav:account:{}:{}", conn.base_url, conn.identity);
    if let Some(cached) = cache::get(&key).and_then(|v| serde_json::from_str(&v).ok()) {
        return Ok(cached);
    }
    let account = discover(conn)?;
    if let Ok(text) = serde_json::to_string(&account) {
        cache::put(&key, &text, cache::now_ms() + ACCOUNT_TTL_MS);
    }
    Ok(account)
}

/// Forget the cached account (a discovered URL stopped working).
pub(crate) fn forget_account(conn: &Connection) {
    cache::remove(&format!("caldav:account:{}:{}", conn.base_url, conn.identity));
}

fn discover(conn: &Connection) -> Result<Account, ProviderError> {
    let options = webdav::send(conn, "OPTIONS", &conn.base_url, None, "", "")?;
    let features: Vec<String> =
        options.header("dav").unwrap_or_default().split(',').map(|f| f.trim().to_ascii_lowercase()).collect();

    let mut principal = current_user_principal(conn, &conn.base_url)?;
    if principal.is_none() {
        let well_known = conn.resolve("/.well-known/caldav");
        principal = current_user_principal(conn, &well_known)?;
    }
    let Some(principal) = principal else {
        return Err(ProviderError::Misconfigured(format!(
            "the server names no current-user-principal at {} or /.well-known/caldav: set base_url to its CalDAV root",
            path_of(&conn.base_url)
        )));
    };
    let resp = propfind(
        conn,
        &principal,
        "0",
        &["C:calendar-home-set", "C:calendar-user-address-set", "C:schedule-outbox-URL", "D:principal-collection-set"],
    )?;
    if resp.status != 207 {
        return Err(webdav::unexpected(&resp, "PROPFIND", &principal));
    }
    let found = multistatus(&resp).map_err(|e| ProviderError::Unavailable(format!("CalDAV principal: {e}")))?;
    let Some(me) = found.into_iter().next() else {
        return Err(ProviderError::Unavailable("the server described no principal".into()));
    };
    let homes: Vec<String> = me.hrefs("calendar-home-set").iter().map(|h| conn.resolve(h)).collect();
    let addresses = me.hrefs("calendar-user-address-set").iter().filter_map(|h| address_of(h)).collect();
    let outbox = me.hrefs("schedule-outbox-URL").first().map(|h| conn.resolve(h));
    let mut principal_collections: Vec<String> =
        me.hrefs("principal-collection-set").iter().map(|h| conn.resolve(h)).collect();
    if principal_collections.is_empty() {
        // The principal's parent collection.
        let trimmed = principal.trim_end_matches('/');
        if let Some(slash) = trimmed.rfind('/') {
            principal_collections.push(format!("{}/", &trimmed[..slash]));
        }
    }
    if homes.is_empty() && !features.iter().any(|f| f == "calendar-access") {
        return Err(ProviderError::Unsupported(
            "the server at base_url is not a CalDAV server (no calendar-access in its DAV header, no calendar-home-set)".into(),
        ));
    }
    Ok(Account { principal, homes, addresses, outbox, principal_collections, features })
}

fn current_user_principal(conn: &Connection, url: &str) -> Result<Option<String>, ProviderError> {
    let resp = propfind(conn, url, "0", &["D:current-user-principal"])?;
    match resp.status {
        207 => {}
        403 => {
            return Err(ProviderError::AuthFailed(format!(
                "the CalDAV server refused the account access to {} (HTTP 403)",
                path_of(url)
            )))
        }
        _ => return Ok(None),
    }
    let found = multistatus(&resp).map_err(|e| ProviderError::Unavailable(format!("CalDAV discovery: {e}")))?;
    Ok(found.iter().flat_map(|r| r.hrefs("current-user-principal")).next().map(|h| conn.resolve(&h)))
}

/// The calendar homes of a requested mailbox, or why it has none.
pub(crate) fn homes_of(
    conn: &Connection,
    account: &Account,
    mailbox: &str,
) -> Result<Result<Vec<String>, MailboxError>, ProviderError> {
    let address = mailbox.trim().to_ascii_lowercase();
    if let Some(template) = conn.home_template {
        return Ok(Ok(vec![conn.resolve(&fill(template, &address))]));
    }
    if account.addresses.contains(&address) {
        return Ok(Ok(account.homes.clone()));
    }
    for collection in &account.principal_collections {
        if let Some(homes) = search_principal(conn, collection, &address)? {
            return Ok(Ok(homes));
        }
    }
    // No principal-property-search, or one that finds nothing (Radicale answers every search with
    // an empty multistatus): the principal named by the address.
    let Some(collection) = account.principal_collections.first() else {
        return Ok(Err(MailboxError::NotFound("the server names no principal collection".into())));
    };
    let guess =
        format!("{}/{}/", collection.trim_end_matches('/'), freebusy_provider_sdk::http::encode_component(&address));
    let resp = propfind(conn, &guess, "0", &["C:calendar-home-set"])?;
    Ok(match resp.status {
        207 => {
            let found = multistatus(&resp).map_err(|e| ProviderError::Unavailable(format!("CalDAV principal: {e}")))?;
            let homes: Vec<String> =
                found.iter().flat_map(|r| r.hrefs("calendar-home-set")).map(|h| conn.resolve(&h)).collect();
            if homes.is_empty() {
                Err(MailboxError::NotFound(format!("{} is not a principal with calendars", path_of(&guess))))
            } else {
                Ok(homes)
            }
        }
        404 => Err(MailboxError::NotFound(format!(
            "no principal at {} (set calendar_home_template if the server names principals otherwise)",
            path_of(&guess)
        ))),
        403 => Err(MailboxError::AccessDenied(format!("the server refused the principal {}", path_of(&guess)))),
        s => Err(MailboxError::Other(format!("the server answered HTTP {s} for the principal {}", path_of(&guess)))),
    })
}

/// `{address}`, `{local}` and `{domain}` in a template, percent-encoded.
pub(crate) fn fill(template: &str, address: &str) -> String {
    let (local, domain) = address.split_once('@').unwrap_or((address, ""));
    let enc = freebusy_provider_sdk::http::encode_component;
    template.replace("{address}", &enc(address)).replace("{local}", &enc(local)).replace("{domain}", &enc(domain))
}

/// The homes of the principal with exactly this address, if the server finds one.
fn search_principal(conn: &Connection, collection: &str, address: &str) -> Result<Option<Vec<String>>, ProviderError> {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:principal-property-search {NAMESPACES}><D:property-search><D:prop><C:calendar-user-address-set/></D:prop><D:match>{}</D:match></D:property-search><D:prop><C:calendar-home-set/><C:calendar-user-address-set/></D:prop></D:principal-property-search>"#,
        xml_text(&format!("mailto:{address}"))
    );
    let resp = webdav::send(conn, "REPORT", collection, Some("0"), "application/xml; charset=utf-8", &body)?;
    if resp.status != 207 {
        return Ok(None);
    }
    let Ok(found) = multistatus(&resp) else { return Ok(None) };
    // `match` is a substring test (RFC 3744 §9.4): keep only the exact address.
    for principal in found {
        let addresses: Vec<String> =
            principal.hrefs("calendar-user-address-set").iter().filter_map(|h| address_of(h)).collect();
        if addresses.iter().any(|a| a == address) {
            let homes: Vec<String> = principal.hrefs("calendar-home-set").iter().map(|h| conn.resolve(h)).collect();
            if !homes.is_empty() {
                return Ok(Some(homes));
            }
        }
    }
    Ok(None)
}

/// Escape text for an XML element.
pub(crate) fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The calendars in a home that count for free/busy: calendar collections holding events, not
/// marked transparent, not the scheduling inbox or outbox.
pub(crate) fn calendars(conn: &Connection, home: &str) -> Result<Result<Vec<String>, MailboxError>, ProviderError> {
    let resp = propfind(
        conn,
        home,
        "1",
        &["D:resourcetype", "C:supported-calendar-component-set", "C:schedule-calendar-transp"],
    )?;
    match resp.status {
        207 => {}
        404 => return Ok(Err(MailboxError::NotFound(format!("no calendar home at {}", path_of(home))))),
        403 => {
            return Ok(Err(MailboxError::AccessDenied(format!(
                "the server refused the calendar home {}",
                path_of(home)
            ))))
        }
        s => {
            return Ok(Err(MailboxError::Other(format!(
                "the server answered HTTP {s} for the calendar home {}",
                path_of(home)
            ))))
        }
    }
    let found = multistatus(&resp).map_err(|e| ProviderError::Unavailable(format!("CalDAV calendar home: {e}")))?;
    let mut out = Vec::new();
    for r in found {
        let is_calendar = r.prop("resourcetype").is_some_and(|t| t.child("calendar").is_some());
        if !is_calendar {
            continue;
        }
        // Absent means every component type (RFC 4791 §5.2.3).
        let events = r
            .prop("supported-calendar-component-set")
            .map(|set| set.all("comp").any(|c| c.attr("name").is_some_and(|n| n.eq_ignore_ascii_case("VEVENT"))))
            .unwrap_or(true);
        let transparent = r.prop("schedule-calendar-transp").is_some_and(|t| t.child("transparent").is_some());
        if events && !transparent && decoded(&r.href) != decoded(webdav::path_of(home)) {
            out.push(conn.resolve(&r.href));
        }
    }
    Ok(Ok(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_encoded_parts_of_the_address() {
        assert_eq!(fill("/calendars/{local}/?d={domain}", "a.b@example.com"), "/calendars/a.b/?d=example.com");
        assert_eq!(fill("/{address}/", "a@example.com"), "/a%40example.com/");
    }

    #[test]
    fn calendar_user_addresses_are_mailto_hrefs_only() {
        assert_eq!(address_of("MAILTO:Alice@Example.com"), Some("alice@example.com".into()));
        assert_eq!(address_of("/alice%40contoso.com/"), None);
    }
}
