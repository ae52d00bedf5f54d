//! Bad input gets HTTP 400 with an RFC 9457 problem body saying what is wrong.

use freebusy_core::api::Problem;
use freebusy_tests::{demo_stack, get};

async fn problem(url: &str) -> Problem {
    let (status, ctype, body) = get(url).await;
    assert_eq!(ctype, "application/problem+json", "{body}");
    let p: Problem = serde_json::from_str(&body).expect("problem body");
    assert_eq!(status, p.status);
    p
}

fn names(p: &Problem) -> Vec<&str> {
    p.invalid_params.iter().map(|i| i.name.as_str()).collect()
}

#[tokio::test]
async fn each_kind_of_bad_query_is_a_400_naming_the_parameter() {
    let stack = demo_stack().await;
    let api = format!("{}/v1/freebusy", stack.api);
    let ok_window = "start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z";

    let p = problem(&format!("{api}?mailboxes=a@contoso.com&end=2026-03-24T00:00:00Z")).await;
    assert_eq!((p.status, names(&p)), (400, vec!["start"]));
    assert!(p.detail.contains("required"), "{}", p.detail);

    let p = problem(&format!("{api}?mailboxes=a@contoso.com&start=tomorrow&end=2026-03-24T00:00:00Z")).await;
    assert_eq!(names(&p), vec!["start"]);
    assert!(p.detail.contains("'tomorrow' is not an RFC 3339"), "{}", p.detail);

    let p =
        problem(&format!("{api}?mailboxes=a@contoso.com&start=2026-03-24T00:00:00Z&end=2026-03-23T00:00:00Z")).await;
    assert_eq!(names(&p), vec!["end"]);
    assert!(p.detail.contains("after start"), "{}", p.detail);

    let p = problem(&format!("{api}?{ok_window}")).await;
    assert_eq!(names(&p), vec!["mailboxes"]);

    let p = problem(&format!("{api}?mailboxes=not-an-address&{ok_window}")).await;
    assert_eq!(names(&p), vec!["mailboxes"]);
    assert!(p.detail.contains("not-an-address"), "{}", p.detail);

    let p = problem(&format!("{api}?mailboxes=a@contoso.com&{ok_window}&interval=2")).await;
    assert_eq!(names(&p), vec!["interval"]);

    let p = problem(&format!("{api}?mailboxes=a@contoso.com&{ok_window}&upstream=true")).await;
    assert_eq!(names(&p), vec!["upstream"]);
    assert!(p.detail.contains("needs an interval"), "{}", p.detail);

    let p = problem(&format!("{api}?mailboxes=a@contoso.com&{ok_window}&interval=30&upstream=maybe")).await;
    assert_eq!(names(&p), vec!["upstream"]);

    let p = problem(&format!("{api}?mailboxes=a@contoso.com&{ok_window}&colour=blue")).await;
    assert_eq!(names(&p), vec!["colour"]);
}

#[tokio::test]
async fn post_with_a_json_body_is_validated_the_same_way() {
    let stack = demo_stack().await;
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{}/v1/freebusy", stack.api))
        .header("content-type", "application/json")
        .body(r#"{"mailboxes": ["room.adams@contoso.com"], "start": "2026-03-23T00:00:00Z", "end": "2026-03-24T00:00:00Z"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["mailboxes"][0]["busy"][0]["start"], "2026-03-23T09:00:00Z");

    let resp = client
        .post(format!("{}/v1/freebusy", stack.api))
        .header("content-type", "application/json")
        .body(r#"{"mailboxes": "oops"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn an_unknown_tenant_is_a_404_problem() {
    let stack = demo_stack().await;
    let p = problem(&format!(
        "{}/v1/tenants/fabrikam/freebusy?mailboxes=a@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z",
        stack.api
    ))
    .await;
    assert_eq!(p.status, 404);
    assert!(p.detail.contains("fabrikam"));
}

#[tokio::test]
async fn live_answers_match_the_openapi_document_the_host_serves() {
    let stack = demo_stack().await;
    let (status, ctype, body) = get(&format!("{}/openapi.json", stack.api)).await;
    assert_eq!((status, ctype.as_str()), (200, "application/json"));
    let spec: serde_json::Value = serde_json::from_str(&body).unwrap();
    for path in ["/v1/freebusy", "/v1/tenants/{tenant}/freebusy", "/v1/directory", "/readyz", "/metrics"] {
        assert!(spec["paths"][path].is_object(), "{path} is not documented");
    }
    freebusy_tests::require(
        "python3",
        &["-c", "import jsonschema"],
        "python3 with jsonschema is needed (scripts/test installs it)",
    );
    let script = freebusy_tests::repo_root().join("tests/fidelity/openapi_conformance.py");
    let out = tokio::process::Command::new("python3").arg(script).arg(&stack.api).output().await.unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(said.lines().filter(|l| l.starts_with("ok ")).count(), 14, "{said}");
}

#[tokio::test]
async fn the_timeline_page_is_served_and_its_arithmetic_holds_across_dst() {
    let stack = demo_stack().await;
    let (status, ctype, page) = get(&format!("{}/", stack.api)).await;
    assert_eq!((status, ctype.as_str()), (200, "text/html; charset=utf-8"));
    assert!(page.contains(r#"<script type="module" src="/ui/app.mjs">"#), "{page}");
    let (status, ctype, script) = get(&format!("{}/ui/app.mjs", stack.api)).await;
    assert_eq!((status, ctype.as_str()), (200, "text/javascript; charset=utf-8"));
    assert!(script.contains("/freebusy?") && script.contains("/directory?"));
    freebusy_tests::require(
        "node",
        &["--version"],
        "Node.js runs the page script's own tests (scripts/test installs it)",
    );
    let test = freebusy_tests::repo_root().join("tests/ui/timeline.test.mjs");
    let out =
        tokio::process::Command::new("node").arg("--test").arg(test).env("TZ", "Europe/Berlin").output().await.unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
