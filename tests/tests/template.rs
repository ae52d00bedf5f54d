//! The provider template (plugins/template), built as a component and loaded by the real host:
//! what a newcomer copying it starts from works end to end.

use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{get, start};
use serde_json::Value;

#[tokio::test]
async fn the_template_provider_loads_in_the_host_and_answers_its_canned_schedule() {
    let stack = start(RuntimeSettings::default(), |_| {
        "[tenants.sample]\nprovider = \"template\"\n[tenants.sample.settings]\nbusy_from = \"13:30\"\nbusy_until = \"14:15\"\n".to_string()
    })
    .await;
    let (status, _, body) = get(&format!(
        "{}/v1/tenants/sample/freebusy?mailboxes=a@example.com,unknown@example.com&start=2026-03-23T00:00:00Z&end=2026-03-25T00:00:00Z",
        stack.api
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let busy: Vec<(&str, &str)> = answer["mailboxes"][0]["busy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["start"].as_str().unwrap(), b["end"].as_str().unwrap()))
        .collect();
    assert_eq!(
        busy,
        vec![("2026-03-23T13:30:00Z", "2026-03-23T14:15:00Z"), ("2026-03-24T13:30:00Z", "2026-03-24T14:15:00Z")]
    );
    assert_eq!(answer["mailboxes"][1]["error"]["code"], "not-found", "{body}");

    // A malformed setting is the mailbox's error, naming the setting, never free time.
    let bad = start(RuntimeSettings::default(), |_| {
        "[tenants.sample]\nprovider = \"template\"\n[tenants.sample.settings]\nbusy_from = \"9am\"\n".to_string()
    })
    .await;
    let (status, _, body) = get(&format!(
        "{}/v1/tenants/sample/freebusy?mailboxes=a@example.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z",
        bad.api
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let m = &answer["mailboxes"][0];
    assert_eq!(m["error"]["code"], "misconfigured", "{m}");
    assert!(m["error"]["message"].as_str().unwrap().contains("busy_from") && m.get("busy").is_none(), "{m}");
}
