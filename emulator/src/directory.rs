//! Graph directory: `GET /v1.0/users` with `$filter=startswith(...)` (joined by `or`),
//! `$select`, `$top` and `@odata.nextLink` paging, and `GET /v1.0/places/microsoft.graph.room`
//! (https://learn.microsoft.com/graph/api/user-list, https://learn.microsoft.com/graph/api/place-list).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::graph::{authenticate, graph_error};
use crate::tenant::{object_id, Kind, Mailbox};
use crate::State as Emu;

const USER_ROLES: &[&str] = &["User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All"];

/// `startswith(property,'value')` clauses joined by ` or `; `None` for anything else.
fn parse_filter(filter: &str) -> Option<Vec<(String, String)>> {
    filter
        .split(" or ")
        .map(|clause| {
            let inner = clause.trim().strip_prefix("startswith(")?.strip_suffix(')')?;
            let (prop, value) = inner.split_once(',')?;
            let value = value.trim().strip_prefix('\'')?.strip_suffix('\'')?.replace("''", "'");
            Some((prop.trim().to_string(), value))
        })
        .collect()
}

/// `"property:value"` terms joined by ` OR ` (the example `$search="displayName:wa"` of
/// https://learn.microsoft.com/graph/api/user-list); `None` for anything else.
fn parse_search(search: &str) -> Option<Vec<(String, String)>> {
    search
        .split(" OR ")
        .map(|term| {
            let inner = term.trim().strip_prefix('"')?.strip_suffix('"')?;
            let (prop, value) = inner.split_once(':')?;
            Some((prop.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// $search matches the start of any word, not only of the whole value: "vance" finds
/// "Adele Vance" (Graph tokenizes on spaces and punctuation [I]).
fn any_word_starts(value: &str, term: &str) -> bool {
    let term = term.to_lowercase();
    value.to_lowercase().split(|c: char| !c.is_alphanumeric()).any(|word| word.starts_with(&term))
}

fn user_property<'a>(m: &'a Mailbox, prop: &str) -> Option<&'a str> {
    match prop {
        "displayName" => Some(&m.display_name),
        "mail" | "userPrincipalName" => Some(&m.address),
        _ => None,
    }
}

pub(crate) fn skip_of(params: &HashMap<String, String>) -> usize {
    params
        .get("$skiptoken")
        .and_then(|t| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("o=").and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// The next page's link: the same query with an opaque `$skiptoken`.
pub(crate) fn next_link(headers: &HeaderMap, path: &str, params: &HashMap<String, String>, offset: usize) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("graph.microsoft.com");
    let mut pairs: Vec<(&String, &String)> = params.iter().filter(|(k, _)| k.as_str() != "$skiptoken").collect();
    pairs.sort();
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    query.append_pair("$skiptoken", &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o={offset}")));
    format!("http://{host}{path}?{}", query.finish())
}

fn page_size(params: &HashMap<String, String>, default: usize) -> Result<usize, Response> {
    match params.get("$top") {
        None => Ok(default),
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=999).contains(&n) => Ok(n),
            _ => Err(graph_error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &format!("Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."),
            )),
        },
    }
}

/// `GET /v1.0/users`.
pub async fn users(
    State(emu): State<Arc<Emu>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    crate::count_directory_request(&emu);
    let token = match authenticate(&emu, &headers) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if !token.roles.iter().any(|r| USER_ROLES.contains(&r.as_str())) {
        return graph_error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    let Some(tenant) = emu.tenant(&token.tenant_id) else {
        return graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", "Access token validation failure.");
    };
    // $search needs ConsistencyLevel: eventual (https://learn.microsoft.com/graph/api/user-list); this emulator serves
    // $filter.
    if params.contains_key("$search")
        && headers.get("consistencylevel").and_then(|v| v.to_str().ok()) != Some("eventual")
    {
        return graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'");
    }
    let clauses = match params.get("$filter").map(|f| parse_filter(f)) {
        None => Vec::new(),
        Some(Some(c)) => c,
        Some(None) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                "Unsupported or invalid query filter clause specified.",
            )
        }
    };
    let searches = match params.get("$search").map(|s| parse_search(s)) {
        None => Vec::new(),
        Some(Some(c)) => c,
        Some(None) => {
            return graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", "Syntax error: invalid $search query.")
        }
    };
    let top = match page_size(&params, 100) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let mut matches: Vec<&Mailbox> = tenant
        .mailboxes
        .iter()
        .filter(|m| {
            clauses.is_empty()
                || clauses.iter().any(|(prop, value)| {
                    user_property(m, prop).is_some_and(|v| v.to_lowercase().starts_with(&value.to_lowercase()))
                })
        })
        .filter(|m| {
            searches.is_empty()
                || searches
                    .iter()
                    .any(|(prop, value)| user_property(m, prop).is_some_and(|v| any_word_starts(v, value)))
        })
        .collect();
    matches.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    let select: Option<Vec<&str>> = params.get("$select").map(|s| s.split(',').map(str::trim).collect());
    let skip = skip_of(&params);
    let value: Vec<Value> = matches
        .iter()
        .skip(skip)
        .take(top)
        .map(|m| {
            let full = json!({"id": object_id(&m.address), "displayName": m.display_name, "mail": m.address, "userPrincipalName": m.address});
            match &select {
                None => full,
                Some(fields) => Value::Object(fields.iter().filter_map(|f| full.get(*f).map(|v| (f.to_string(), v.clone()))).collect::<Map<_, _>>()),
            }
        })
        .collect();
    let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": value});
    if skip + top < matches.len() {
        body["@odata.nextLink"] = json!(next_link(&headers, "/v1.0/users", &params, skip + top));
    }
    Json(body).into_response()
}

/// `GET /v1.0/places/microsoft.graph.room`.
pub async fn rooms(
    State(emu): State<Arc<Emu>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    crate::count_directory_request(&emu);
    let token = match authenticate(&emu, &headers) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if !token.roles.iter().any(|r| r == "Place.Read.All") {
        return graph_error(
            StatusCode::FORBIDDEN,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again.",
        );
    }
    let Some(tenant) = emu.tenant(&token.tenant_id) else {
        return graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", "Access token validation failure.");
    };
    let top = match page_size(&params, 100) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let rooms: Vec<&Mailbox> = tenant.mailboxes.iter().filter(|m| m.kind == Kind::Room).collect();
    let skip = skip_of(&params);
    let value: Vec<Value> = rooms
        .iter()
        .skip(skip)
        .take(top)
        .map(|m| {
            json!({
                "id": object_id(&m.address),
                "displayName": m.display_name,
                "emailAddress": m.address,
                "capacity": m.capacity,
                "building": m.building,
                "bookingType": "standard",
                "nickname": m.display_name,
            })
        })
        .collect();
    let mut body = json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#places/microsoft.graph.room", "value": value});
    if skip + top < rooms.len() {
        body["@odata.nextLink"] = json!(next_link(&headers, "/v1.0/places/microsoft.graph.room", &params, skip + top));
    }
    Json(body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_startswith_clauses_joined_by_or() {
        assert_eq!(
            parse_filter("startswith(displayName,'O''Brien') or startswith(mail,'ob')"),
            Some(vec![("displayName".into(), "O'Brien".into()), ("mail".into(), "ob".into())])
        );
        assert_eq!(parse_filter("displayName eq 'x'"), None);
    }
}
