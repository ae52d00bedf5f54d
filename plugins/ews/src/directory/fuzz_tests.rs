//! Structured fuzzing of the directory answers EWS gives (ResolveNames, GetRooms), read as
//! `people` and `rooms` read them: the response message, its error class, and each mailbox as
//! an entry. Arbitrary bytes and the schemas' answer shapes edited anywhere never panic; where
//! they read, every entry has an address, and a name (the address when none is given).
//!
//! proptest rather than cargo-fuzz (which needs nightly sanitizers; this toolchain is stable):
//! see `core/src/fuzz_support.rs`. `scripts/fuzz` runs these with many more cases.

use freebusy_provider_sdk::types::{DirectoryEntry, EntryKind};
use freebusy_provider_sdk::xml::parse;
use proptest::prelude::*;

use super::{entry, message, response_error};
use crate::fuzz_support::{apply, cuts, edits};

const RESOLVE_NAMES: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:ResolveNamesResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages><m:ResolveNamesResponseMessage ResponseClass="Warning"><m:MessageText>Multiple results were found.</m:MessageText><m:ResponseCode>ErrorNameResolutionMultipleResults</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:ResolutionSet TotalItemsInView="2" IncludesLastItemInRange="true">
<t:Resolution><t:Mailbox><t:Name>Adele Vance</t:Name><t:EmailAddress>AdeleV@contoso.com</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Resolution>
<t:Resolution><t:Mailbox><t:Name></t:Name><t:EmailAddress>alex@contoso.com</t:EmailAddress></t:Mailbox></t:Resolution>
</m:ResolutionSet></m:ResolveNamesResponseMessage></m:ResponseMessages></m:ResolveNamesResponse></s:Body></s:Envelope>"#;

const GET_ROOMS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetRoomsResponse ResponseClass="Success" xmlns="http://schemas.microsoft.com/exchange/services/2006/messages"><ResponseCode>NoError</ResponseCode><m:Rooms xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
<t:Room xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Id><t:Name>Conf Room 100</t:Name><t:EmailAddress>cf100@contoso.com</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Id></t:Room>
<t:Room xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Id><t:EmailAddress>cf200@contoso.com</t:EmailAddress></t:Id></t:Room>
</m:Rooms></GetRoomsResponse></s:Body></s:Envelope>"#;

/// The entries an answer gives, as `people` and `rooms` read them; `None` when it does not read.
fn entries(body: &[u8], rooms: bool) -> Option<Result<Vec<DirectoryEntry>, (String, String)>> {
    let root = parse(body).ok()?;
    let (response, inner) = if rooms {
        ("GetRoomsResponse", "GetRoomsResponse")
    } else {
        ("ResolveNamesResponse", "ResolveNamesResponseMessage")
    };
    let m = message(&root, response, inner)?;
    if let Some(err) = response_error(m) {
        return Some(Err(err));
    }
    Some(Ok(if rooms {
        m.child("Rooms")
            .into_iter()
            .flat_map(|r| r.all("Room"))
            .filter_map(|room| room.child("Id").and_then(|id| entry(EntryKind::Room, id)))
            .collect()
    } else {
        m.child("ResolutionSet")
            .into_iter()
            .flat_map(|set| set.all("Resolution"))
            .filter_map(|r| r.child("Mailbox"))
            .filter_map(|mb| entry(EntryKind::Person, mb))
            .collect()
    }))
}

fn check(got: Option<Result<Vec<DirectoryEntry>, (String, String)>>) -> Result<(), TestCaseError> {
    if let Some(Ok(list)) = got {
        for e in list {
            prop_assert!(!e.address.is_empty() && !e.display_name.is_empty(), "{e:?}");
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), rooms in any::<bool>()) {
        check(entries(&body, rooms))?;
    }

    #[test]
    fn edited_answers_never_panic_and_give_addressed_entries(edits in edits(), rooms in any::<bool>()) {
        let seed = if rooms { GET_ROOMS } else { RESOLVE_NAMES };
        check(entries(&apply(seed.as_bytes(), &edits), rooms))?;
    }
}

#[test]
fn every_cut_of_an_answer_is_an_error() {
    for (seed, rooms) in [(RESOLVE_NAMES, false), (GET_ROOMS, true)] {
        let whole = entries(seed.as_bytes(), rooms).unwrap().unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[1].display_name, whole[1].address);
        for cut in cuts(seed) {
            assert!(entries(cut.as_bytes(), rooms).is_none(), "an answer cut after {} bytes read", cut.len());
        }
    }
}
