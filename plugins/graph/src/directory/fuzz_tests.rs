//! Structured fuzzing of the directory pages Graph answers (`GET /users`, `GET /places/microsoft.graph.room`),
//! read as `search` reads them: arbitrary bytes never panic; Graph's documented pages with any
//! field replaced by a wrong type, a huge number, odd unicode or deep nesting, or removed, never
//! panic and, where they read, keep every entry and the next link verbatim; a page cut anywhere
//! is an error (never a shorter list).
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{Page, Room, User};
use crate::fuzz_support::{apply, apply_json, cuts, edits, json_edits};

fn users() -> Value {
    json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(displayName,mail,userPrincipalName)",
    "@odata.nextLink": "https://graph.microsoft.com/v1.0/users?$top=2&$skiptoken=RFNwdAIAAQAAAA",
    "value": [
        {"displayName": "Adele Vance", "mail": "AdeleV@contoso.com", "userPrincipalName": "AdeleV@contoso.com"},
        {"displayName": "Conf Room Adams", "mail": null, "userPrincipalName": "Adams@contoso.com"},
    ]})
}

fn rooms() -> Value {
    json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#places/microsoft.graph.room",
    "value": [
        {"id": "3162F1E1-C4C0-604B-51D8-91DA78989EB1", "emailAddress": "cf100@contoso.com", "displayName": "Conf Room 100",
         "address": {"street": "4567 Main Street", "city": "Buffalo", "countryOrRegion": "US"}, "geoCoordinates": null,
         "phone": "000-000-0000", "nickname": "Conf Room", "label": "100", "capacity": 50, "building": "1",
         "floorNumber": 1, "isManaged": true, "isWheelChairAccessible": false, "bookingType": "standard", "tags": ["bean bags"],
         "audioDeviceName": null, "videoDeviceName": null, "displayDeviceName": "surface hub"},
        {"emailAddress": "cf200@contoso.com", "displayName": "Conf Room 200", "capacity": 10},
    ]})
}

/// Entries and next link of a page, when it reads.
fn read<T: for<'de> serde::Deserialize<'de>>(body: &[u8]) -> Option<(usize, Option<String>)> {
    let page: Page<T> = serde_json::from_slice(body).ok()?;
    Some((page.value.len(), page.next_link))
}

fn check(doc: &Value, got: Option<(usize, Option<String>)>) -> Result<(), TestCaseError> {
    if let Some((n, next)) = got {
        prop_assert_eq!(Some(n), Some(doc["value"].as_array().map_or(0, Vec::len)), "an entry was lost");
        prop_assert_eq!(next.as_deref(), doc["@odata.nextLink"].as_str());
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = read::<User>(&body);
        let _ = read::<Room>(&body);
    }

    #[test]
    fn edited_pages_never_panic_and_keep_every_entry(edits in json_edits(), room in any::<bool>()) {
        let doc = apply_json(&if room { rooms() } else { users() }, &edits);
        let body = serde_json::to_vec(&doc).unwrap();
        check(&doc, if room { read::<Room>(&body) } else { read::<User>(&body) })?;
    }

    #[test]
    fn edited_page_text_never_panics(edits in edits(), room in any::<bool>()) {
        let body = apply(&serde_json::to_vec_pretty(&if room { rooms() } else { users() }).unwrap(), &edits);
        let _ = if room { read::<Room>(&body) } else { read::<User>(&body) };
    }
}

#[test]
fn every_cut_of_a_page_is_an_error() {
    for (doc, room) in [(users(), false), (rooms(), true)] {
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let read = |t: &str| if room { read::<Room>(t.as_bytes()) } else { read::<User>(t.as_bytes()) };
        assert_eq!(read(&text).map(|(n, _)| n), Some(2));
        for cut in cuts(&text) {
            assert!(read(cut).is_none(), "a page cut after {} bytes read", cut.len());
        }
    }
}
