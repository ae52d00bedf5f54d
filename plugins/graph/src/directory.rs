//! search-directory: people through `GET /users` with `$filter=startswith(...)`, rooms through
//! `GET /places/microsoft.graph.room`, following `@odata.nextLink` verbatim
//! (https://learn.microsoft.com/graph/api/user-list, https://learn.microsoft.com/graph/api/place-list;
//! paging: never build `$skiptoken` yourself, https://learn.microsoft.com/graph/paging).

use freebusy_provider_sdk::http::{self, Request};
use freebusy_provider_sdk::types::*;
use serde::Deserialize;

use crate::Connection;

/// Graph accepts `$top` from 1 to 999 for users (https://learn.microsoft.com/graph/api/user-list).
const MAX_PAGE: u32 = 999;
/// Pages followed at most, so a broken nextLink chain cannot loop forever.
const MAX_PAGES: usize = 50;

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    display_name: Option<String>,
    mail: Option<String>,
    user_principal_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Room {
    display_name: Option<String>,
    email_address: Option<String>,
    capacity: Option<u32>,
    building: Option<String>,
}

/// An OData string literal: single quotes doubled.
fn odata_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn get_page<T: for<'de> Deserialize<'de>>(conn: &Connection, url: &str, what: &str) -> Result<Page<T>, ProviderError> {
    let mut retried_token = false;
    loop {
        let token = conn.credentials.token()?;
        // ConsistencyLevel: eventual lets $search run (and is harmless for $filter).
        let req = Request::new("GET", url)
            .header("authorization", format!("Bearer {token}"))
            .header("consistencylevel", "eventual");
        let resp = http::send(&req).map_err(|e| ProviderError::Unavailable(format!("Graph: {e}")))?;
        match resp.status {
            200 => {
                return serde_json::from_slice(&resp.body)
                    .map_err(|e| ProviderError::Unavailable(format!("Graph sent an unreadable {what} page: {e}")))
            }
            401 if !retried_token => {
                conn.credentials.forget();
                retried_token = true;
            }
            403 => {
                let permission =
                    if what == "rooms" { "Place.Read.All" } else { "User.ReadBasic.All (or User.Read.All)" };
                return Err(ProviderError::AuthFailed(format!(
                    "Graph denied reading {what}: grant the application permission {permission} and admin consent"
                )));
            }
            _ => return Err(crate::client::call_error(&resp)),
        }
    }
}

/// People or rooms whose name or address starts with `prefix` (case-insensitive), at most `max`.
pub(crate) fn search(
    conn: &Connection,
    prefix: &str,
    kind: EntryKind,
    max: u32,
    page_size: Option<u32>,
    match_words: bool,
) -> Result<Vec<DirectoryEntry>, ProviderError> {
    let max = max.max(1);
    let top = page_size.unwrap_or(max).clamp(1, MAX_PAGE);
    let lower = prefix.to_lowercase();
    let starts = |s: &Option<String>| s.as_deref().is_some_and(|s| s.to_lowercase().starts_with(&lower));
    let mut out = Vec::new();
    let mut url = match kind {
        // Any word of the name or address: $search, which needs ConsistencyLevel: eventual
        // (https://learn.microsoft.com/graph/api/user-list). Quotes and backslashes would end the term, so they are
        // dropped.
        EntryKind::Person if match_words => {
            let term: String = prefix.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
            let search = format!("\"displayName:{term}\" OR \"mail:{term}\"");
            format!(
                "{}/v1.0/users?$search={}&$count=true&$select=displayName,mail,userPrincipalName&$top={top}",
                conn.graph,
                http::encode_component(&search)
            )
        }
        EntryKind::Person => {
            let p = odata_string(prefix);
            let filter =
                format!("startswith(displayName,{p}) or startswith(mail,{p}) or startswith(userPrincipalName,{p})");
            format!(
                "{}/v1.0/users?$filter={}&$select=displayName,mail,userPrincipalName&$top={top}",
                conn.graph,
                http::encode_component(&filter)
            )
        }
        // Rooms are few; they are paged through and matched here, on name and address alike.
        EntryKind::Room => format!("{}/v1.0/places/microsoft.graph.room?$top={}", conn.graph, top.min(100)),
    };
    for _ in 0..MAX_PAGES {
        let next = match kind {
            EntryKind::Person => {
                let page: Page<User> = get_page(conn, &url, "people")?;
                for u in page.value {
                    let Some(address) = u.mail.clone().or(u.user_principal_name.clone()) else { continue };
                    out.push(DirectoryEntry {
                        kind: EntryKind::Person,
                        display_name: u.display_name.unwrap_or_else(|| address.clone()),
                        address,
                        capacity: None,
                        building: None,
                    });
                }
                page.next_link
            }
            EntryKind::Room => {
                let page: Page<Room> = get_page(conn, &url, "rooms")?;
                for r in page.value.into_iter().filter(|r| starts(&r.display_name) || starts(&r.email_address)) {
                    let Some(address) = r.email_address.clone() else { continue };
                    out.push(DirectoryEntry {
                        kind: EntryKind::Room,
                        display_name: r.display_name.unwrap_or_else(|| address.clone()),
                        address,
                        capacity: r.capacity,
                        building: r.building,
                    });
                }
                page.next_link
            }
        };
        if out.len() >= max as usize {
            break;
        }
        match next {
            Some(link) => url = link,
            None => break,
        }
    }
    out.truncate(max as usize);
    Ok(out)
}

#[cfg(test)]
mod fuzz_tests;
