//! `/v1/directory`: people and rooms by prefix through the provider component.

use freebusy_core::api::{DirectoryResponse, EntryKind, Problem};
use freebusy_emulator::demo;
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{demo_stack, get, graph_tenant, start};

async fn found(url: &str) -> DirectoryResponse {
    let (status, _, body) = get(url).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn people_are_found_by_name_or_address_prefix() {
    let stack = demo_stack().await;
    let r = found(&format!("{}/v1/directory?q=ad", stack.api)).await;
    assert_eq!(r.entries.len(), 1);
    assert_eq!(
        (r.entries[0].display_name.as_str(), r.entries[0].address.as_str()),
        ("Adele Vance", "adele.vance@contoso.com")
    );
    assert_eq!(r.entries[0].kind, EntryKind::Person);
    // By address prefix, case-insensitively.
    let r = found(&format!("{}/v1/directory?q=PRADEEP.", stack.api)).await;
    assert_eq!(r.entries[0].display_name, "Pradeep Gupta");
}

#[tokio::test]
async fn rooms_come_with_capacity_and_building() {
    let stack = demo_stack().await;
    let r = found(&format!("{}/v1/directory?q=conference&kind=room", stack.api)).await;
    let names: Vec<&str> = r.entries.iter().map(|e| e.display_name.as_str()).collect();
    assert_eq!(names, vec!["Conference Room Adams", "Conference Room Baker"]);
    assert_eq!((r.entries[0].capacity, r.entries[0].building.as_deref()), (Some(12), Some("Building 1")));
    let r = found(&format!("{}/v1/directory?q=room.c&kind=room", stack.api)).await;
    assert_eq!(r.entries[0].address, "room.crystal@contoso.com");
}

#[tokio::test]
async fn next_links_are_followed_and_max_is_respected() {
    let stack = start(RuntimeSettings::default(), |url| {
        format!("{}directory_page_size = \"1\"\n", graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET))
    })
    .await;
    let r = found(&format!("{}/v1/directory?q=a", stack.api)).await;
    let names: Vec<&str> = r.entries.iter().map(|e| e.display_name.as_str()).collect();
    assert_eq!(names, vec!["Adele Vance", "Alex Wilber"]);
    assert_eq!(stack.emulator.stats().directory_requests, 2, "one page per entry, via @odata.nextLink");
    let r = found(&format!("{}/v1/directory?q=a&max=1", stack.api)).await;
    assert_eq!(r.entries.len(), 1);
}

#[tokio::test]
async fn word_matching_finds_people_by_surname_through_search() {
    let stack = start(RuntimeSettings::default(), |url| {
        format!("{}directory_match = \"words\"\n", graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET))
    })
    .await;
    // A console operator types the surname: $search matches the start of any word.
    let r = found(&format!("{}/v1/directory?q=vance", stack.api)).await;
    let names: Vec<&str> = r.entries.iter().map(|e| e.display_name.as_str()).collect();
    assert_eq!(names, vec!["Adele Vance"]);
    // A quote in the input cannot break out of the search term.
    let r = found(&format!("{}/v1/directory?q=gu%22pta", stack.api)).await;
    assert_eq!(r.entries[0].display_name, "Pradeep Gupta");
    // Prefix matching (the default) does not find surnames.
    let prefix = demo_stack().await;
    assert!(found(&format!("{}/v1/directory?q=vance", prefix.api)).await.entries.is_empty());
}

#[tokio::test]
async fn a_missing_permission_and_bad_input_are_problems() {
    let stack = start(RuntimeSettings::default(), |url| {
        graph_tenant("contoso", url, demo::UNCONSENTED_CLIENT_ID, "unconsented~secret")
    })
    .await;
    let (status, ctype, body) = get(&format!("{}/v1/directory?q=ad", stack.api)).await;
    assert_eq!((status, ctype.as_str()), (502, "application/problem+json"));
    let p: Problem = serde_json::from_str(&body).unwrap();
    assert!(p.detail.contains("User.ReadBasic.All"), "{}", p.detail);

    let (status, _, body) = get(&format!("{}/v1/directory?kind=desk", stack.api)).await;
    assert_eq!(status, 400);
    let p: Problem = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = p.invalid_params.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, vec!["kind", "q"]);
}

mod ews {
    use super::*;
    use freebusy_tests::{ews_tenant, soap_body_element, start_with, validating_options, xmllint};

    #[tokio::test]
    async fn ews_finds_people_with_resolve_names_and_rooms_through_room_lists() {
        let stack = start_with(validating_options(), RuntimeSettings::default(), |url| {
            format!(
                "{}{}",
                graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET),
                ews_tenant("onprem", url, demo::EWS_PASSWORD)
            )
        })
        .await;
        let api = format!("{}/v1/tenants/onprem/directory", stack.api);
        // Name resolution matches word prefixes too, and room mailboxes are in the directory.
        let r = found(&format!("{api}?q=ad")).await;
        let addresses: Vec<&str> = r.entries.iter().map(|e| e.address.as_str()).collect();
        assert_eq!(addresses, vec!["adele.vance@contoso.com", "room.adams@contoso.com"]);
        // Several matches (EWS answers with a warning) and a word inside the name.
        let r = found(&format!("{api}?q=wil")).await;
        let names: Vec<&str> = r.entries.iter().map(|e| e.display_name.as_str()).collect();
        assert_eq!(names, vec!["Alex Wilber", "Nestor Wilke"]);
        // No match is an empty list, not an error.
        assert!(found(&format!("{api}?q=zz")).await.entries.is_empty());
        let r = found(&format!("{api}?q=conference&kind=room")).await;
        let rooms: Vec<&str> = r.entries.iter().map(|e| e.display_name.as_str()).collect();
        assert_eq!(rooms, vec!["Conference Room Adams", "Conference Room Baker"]);

        // For a prefix of the whole name Graph ($filter startswith) and EWS (name resolution)
        // agree; only EWS also matches later words of a name ("wil" above).
        let graph = found(&format!("{}/v1/directory?q=ale", stack.api)).await;
        let ews = found(&format!("{api}?q=ale")).await;
        assert_eq!(graph.entries, ews.entries);
        assert_eq!(ews.entries[0].display_name, "Alex Wilber");

        let requests = stack.emulator.ews_requests();
        assert!(
            requests.iter().any(|r| r.contains("<m:ResolveNames"))
                && requests.iter().any(|r| r.contains("<m:GetRooms>"))
        );
        for request in &requests {
            xmllint(&soap_body_element(request))
                .await
                .unwrap_or_else(|e| panic!("request fails messages.xsd: {e}\n{request}"));
            let resp = reqwest::Client::new()
                .post(format!("{}/EWS/Exchange.asmx", stack.emulator.base_url))
                .basic_auth(demo::EWS_USER, Some(demo::EWS_PASSWORD))
                .body(request.clone())
                .send()
                .await
                .unwrap();
            let answer = resp.text().await.unwrap();
            xmllint(&soap_body_element(&answer))
                .await
                .unwrap_or_else(|e| panic!("response fails messages.xsd: {e}\n{answer}"));
        }
    }
}
