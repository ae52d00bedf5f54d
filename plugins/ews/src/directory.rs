//! search-directory over EWS: ResolveNames for people (directory only), GetRoomLists then
//! GetRooms for rooms, matched on name or address prefix here (the schemas messages.xsd/types.xsd, as
//! copied in jamesiarmes/php-ews src/assets/).

use freebusy_provider_sdk::types::*;

use crate::client::post;
use crate::soap::{get_room_lists, get_rooms, resolve_names};
use crate::{Auth, Connection};
use freebusy_provider_sdk::xml::Node;

/// App-only tokens must impersonate a mailbox even for directory calls (ecederstrand/exchangelib#735,
/// OfficeDev/ews-managed-api#245): the configured `impersonate_mailbox`.
fn impersonation<'a>(conn: &'a Connection) -> Result<Option<&'a str>, ProviderError> {
    match &conn.auth {
        Auth::Basic { .. } | Auth::Delegated { .. } => Ok(None),
        Auth::AppOnly { anchor: Some(a), .. } => Ok(Some(a)),
        Auth::AppOnly { anchor: None, .. } => Err(ProviderError::Misconfigured(
            "searching the directory with app-only OAuth needs impersonate_mailbox (any mailbox, a room will do)"
                .into(),
        )),
    }
}

/// The response message inside `<Operation>Response/ResponseMessages`, or the call's message.
fn message<'a>(root: &'a Node, response: &str, message: &str) -> Option<&'a Node> {
    let body = root.child("Body")?;
    let r = body.child(response)?;
    r.path(&["ResponseMessages", message]).or(Some(r))
}

fn response_error(m: &Node) -> Option<(String, String)> {
    (m.attr("ResponseClass") == Some("Error")).then(|| {
        (m.text_at(&["ResponseCode"]).unwrap_or("").to_string(), m.text_at(&["MessageText"]).unwrap_or("").to_string())
    })
}

fn entry(kind: EntryKind, mailbox: &Node) -> Option<DirectoryEntry> {
    let address = mailbox.text_at(&["EmailAddress"]).filter(|a| !a.is_empty())?.to_string();
    Some(DirectoryEntry {
        kind,
        display_name: mailbox.text_at(&["Name"]).filter(|n| !n.is_empty()).unwrap_or(&address).to_string(),
        address,
        capacity: None,
        building: None,
    })
}

/// People or rooms whose name or address starts with `prefix`.
pub(crate) fn search(
    conn: &Connection,
    prefix: &str,
    kind: EntryKind,
    max: u32,
) -> Result<Vec<DirectoryEntry>, ProviderError> {
    let anchor = impersonation(conn)?;
    let mut out = match kind {
        EntryKind::Person => people(conn, anchor, prefix)?,
        EntryKind::Room => rooms(conn, anchor, prefix)?,
    };
    out.truncate(max as usize);
    Ok(out)
}

fn people(conn: &Connection, anchor: Option<&str>, prefix: &str) -> Result<Vec<DirectoryEntry>, ProviderError> {
    let root = post(conn, anchor, "ResolveNames", resolve_names(conn.server_version, anchor, prefix))?;
    let m = message(&root, "ResolveNamesResponse", "ResolveNamesResponseMessage")
        .ok_or_else(|| ProviderError::Unavailable("Exchange's ResolveNames answer has no response message".into()))?;
    if let Some((code, text)) = response_error(m) {
        // No match is an empty answer, not a failure.
        if code == "ErrorNameResolutionNoResults" {
            return Ok(Vec::new());
        }
        return Err(ProviderError::Unavailable(format!("ResolveNames: {code}: {text}")));
    }
    Ok(m.child("ResolutionSet")
        .map(|set| {
            set.all("Resolution")
                .filter_map(|r| r.child("Mailbox"))
                .filter_map(|mb| entry(EntryKind::Person, mb))
                .collect()
        })
        .unwrap_or_default())
}

fn rooms(conn: &Connection, anchor: Option<&str>, prefix: &str) -> Result<Vec<DirectoryEntry>, ProviderError> {
    let root = post(conn, anchor, "GetRoomLists", get_room_lists(conn.server_version, anchor))?;
    let m = message(&root, "GetRoomListsResponse", "GetRoomListsResponse")
        .ok_or_else(|| ProviderError::Unavailable("Exchange's GetRoomLists answer has no response".into()))?;
    if let Some((code, text)) = response_error(m) {
        return Err(ProviderError::Unavailable(format!("GetRoomLists: {code}: {text}")));
    }
    let lists: Vec<String> = m
        .child("RoomLists")
        .map(|l| l.all("Address").filter_map(|a| a.text_at(&["EmailAddress"]).map(String::from)).collect())
        .unwrap_or_default();
    let lower = prefix.to_lowercase();
    let mut out: Vec<DirectoryEntry> = Vec::new();
    for list in lists {
        let root = post(conn, anchor, "GetRooms", get_rooms(conn.server_version, anchor, &list))?;
        let Some(m) = message(&root, "GetRoomsResponse", "GetRoomsResponse") else { continue };
        if let Some((code, text)) = response_error(m) {
            return Err(ProviderError::Unavailable(format!("GetRooms {list}: {code}: {text}")));
        }
        for room in m.child("Rooms").into_iter().flat_map(|r| r.all("Room")) {
            let Some(e) = room.child("Id").and_then(|id| entry(EntryKind::Room, id)) else { continue };
            let matches =
                e.display_name.to_lowercase().starts_with(&lower) || e.address.to_lowercase().starts_with(&lower);
            if matches && !out.iter().any(|o| o.address.eq_ignore_ascii_case(&e.address)) {
                out.push(e);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod fuzz_tests;
