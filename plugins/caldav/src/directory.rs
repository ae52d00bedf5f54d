//! `search-directory` by RFC 3744 §9.4 `principal-property-search` on each principal collection:
//! principals whose display name or calendar user address contains the prefix (the server's
//! substring match, narrowed here to a prefix), people or rooms by RFC 6638 §2.4.2
//! `calendar-user-type` (`ROOM` and `RESOURCE` are rooms). Servers without the report (Radicale)
//! answer `unsupported`.

use freebusy_provider_sdk::types::*;

use crate::discovery::{self, xml_text};
use crate::webdav::{self, multistatus, NAMESPACES};
use crate::Connection;

pub(crate) fn search(
    conn: &Connection,
    prefix: &str,
    kind: EntryKind,
    max: u32,
) -> Result<Vec<DirectoryEntry>, ProviderError> {
    let account = discovery::account(conn)?;
    let text = xml_text(prefix);
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:principal-property-search {NAMESPACES} test="anyof"><D:property-search><D:prop><D:displayname/></D:prop><D:match>{text}</D:match></D:property-search><D:property-search><D:prop><C:calendar-user-address-set/></D:prop><D:match>{text}</D:match></D:property-search><D:prop><D:displayname/><C:calendar-user-address-set/><C:calendar-user-type/></D:prop></D:principal-property-search>"#
    );
    let wanted = prefix.trim().to_lowercase();
    let mut out = Vec::new();
    for collection in &account.principal_collections {
        let resp = webdav::send(conn, "REPORT", collection, Some("0"), "application/xml; charset=utf-8", &body)?;
        if resp.status != 207 {
            return Err(ProviderError::Unsupported(format!(
                "the CalDAV server does not search its principals (HTTP {} to principal-property-search; Radicale has no such report): query mailboxes by address",
                resp.status
            )));
        }
        let found =
            multistatus(&resp).map_err(|e| ProviderError::Unavailable(format!("principal-property-search: {e}")))?;
        for principal in found {
            let address = principal
                .hrefs("calendar-user-address-set")
                .into_iter()
                .find_map(|h| h.strip_prefix("mailto:").map(str::to_string));
            let Some(address) = address else { continue };
            let name = principal.prop("displayname").map(|n| n.text.trim().to_string()).filter(|n| !n.is_empty());
            let name = name.unwrap_or_else(|| address.clone());
            let user_type =
                principal.prop("calendar-user-type").map(|t| t.text.trim().to_ascii_uppercase()).unwrap_or_default();
            let entry_kind =
                if user_type == "ROOM" || user_type == "RESOURCE" { EntryKind::Room } else { EntryKind::Person };
            let matches = address.to_lowercase().starts_with(&wanted)
                || name.to_lowercase().split_whitespace().any(|w| w.starts_with(&wanted))
                || name.to_lowercase().starts_with(&wanted);
            if entry_kind == kind && matches && out.len() < max as usize {
                out.push(DirectoryEntry {
                    kind: entry_kind,
                    display_name: name,
                    address,
                    capacity: None,
                    building: None,
                });
            }
        }
    }
    Ok(out)
}
