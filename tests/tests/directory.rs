//! `/v1/directory`: people and rooms by prefix through the provider component.

use freebusy_core::api::{DirectoryResponse, EntryKind, Problem};
use freebusy_emulator::demo;
use freebusy_host::runtime::RuntimeConfig;
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
    let stack = start(RuntimeConfig::default(), |url| {
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
async fn a_missing_permission_and_bad_input_are_problems() {
    let stack = start(RuntimeConfig::default(), |url| {
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
