//! API keys: every /v1 route needs `Authorization: Bearer <key>`; a missing, malformed, unknown,
//! expired or revoked key is a 401 with `WWW-Authenticate: Bearer` (RFC 6750) and a problem body;
//! a key of another tenant, or without the scope, is a 403. `/healthz` stays open; `/readyz` and
//! `/metrics` need an admin key on the main listener. A key never shows in an answer.

use freebusy_emulator::demo;
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{create_key, get, get_keyed, graph_tenant, start, test_dir, with_keys, Stack};

const QUERY: &str =
    "mailboxes=adele.vance@contoso.com,room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-24T00:00:00Z";

async fn keyed_stack(name: &str) -> Stack {
    let dir = test_dir(name);
    start(RuntimeSettings::default(), |url| {
        let tenants = [
            graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET),
            graph_tenant("fabrikam", url, demo::CLIENT_ID, demo::CLIENT_SECRET),
        ]
        .concat();
        with_keys(&dir, &tenants)
    })
    .await
}

fn challenge(headers: &reqwest::header::HeaderMap) -> String {
    headers.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_request_without_a_valid_key_is_a_401_naming_what_is_wrong() {
    let stack = keyed_stack("auth-401").await;
    let url = format!("{}/v1/freebusy?{QUERY}", stack.api);
    // No key: a challenge without an error code (RFC 6750 section 3.1).
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(challenge(resp.headers()), r#"Bearer realm="freebusy""#);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("Authorization: Bearer"), "{body}");

    let key = create_key(&stack, Some("contoso"), "freebusy:read", None).await;
    let (id, secret) = key.strip_prefix("fbk_").unwrap().split_at(16);
    let cases = [
        ("Basic dXNlcjpwYXNz", "invalid_request"),
        ("Bearer not-a-freebusy-key", "invalid_token"),
        (&format!("Bearer fbk_{}{secret}", "0".repeat(16)), "invalid_token"),
        (&format!("Bearer fbk_{id}_{}", "A".repeat(43)), "invalid_token"),
    ];
    let mut invalid_bodies = Vec::new();
    for (header, code) in cases {
        let resp = reqwest::Client::new().get(&url).header("authorization", header).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{header}");
        assert!(challenge(resp.headers()).contains(&format!("error=\"{code}\"")), "{header}: {:?}", resp.headers());
        let body = resp.text().await.unwrap();
        assert!(!body.contains(secret), "the key's secret never shows");
        if code == "invalid_token" && header.starts_with("Bearer fbk_") {
            invalid_bodies.push(body);
        }
    }
    // An unknown key id and a wrong secret for a known id get the same answer.
    assert_eq!(invalid_bodies[0], invalid_bodies[1]);
    // The key itself works.
    let (status, _, body) = get_keyed(&url, &key).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn expired_and_revoked_keys_stop_working() {
    let stack = keyed_stack("auth-expired").await;
    let url = format!("{}/v1/freebusy?{QUERY}", stack.api);
    let expired = create_key(&stack, Some("contoso"), "freebusy:read", Some("2020-01-01")).await;
    let (status, headers, body) = get_keyed(&url, &expired).await;
    assert_eq!(status, 401);
    assert!(body.contains("expired") && challenge(&headers).contains("invalid_token"), "{body}");

    let key = create_key(&stack, Some("contoso"), "freebusy:read", None).await;
    assert_eq!(get_keyed(&url, &key).await.0, 200);
    let id = &key[4..20];
    let store = stack.service.snapshot().config.open_store().unwrap();
    freebusy_host::cli::revoke_key(&store, id).unwrap();
    stack.service.notice_store_changes().await.unwrap();
    let (status, _, body) = get_keyed(&url, &key).await;
    assert_eq!(status, 401);
    assert!(body.contains("revoked"), "{body}");
    // `keys list` shows when each key was last used, and that one as revoked.
    stack.service.flush_key_use();
    let list = freebusy_host::cli::list_keys(&store).unwrap();
    let row = list.lines().find(|l| l.starts_with(id)).unwrap();
    assert_eq!(
        row.matches(&chrono::Utc::now().format("%Y-%m-%d").to_string()).count(),
        3,
        "created, used, revoked: {row}"
    );
}

#[tokio::test]
async fn a_key_reads_its_own_tenant_only_and_details_need_their_scope() {
    let stack = keyed_stack("auth-403").await;
    let console = create_key(&stack, Some("contoso"), "freebusy:read,directory:read", None).await;
    // Without a tenant in the path, a tenant's key means its own tenant.
    let (status, _, body) = get_keyed(&format!("{}/v1/freebusy?{QUERY}", stack.api), &console).await;
    assert_eq!(status, 200, "{body}");
    for path in [
        format!("/v1/tenants/fabrikam/freebusy?{QUERY}"),
        "/v1/tenants/fabrikam/directory?q=ad".to_string(),
        "/v1/tenants/fabrikam/health".to_string(),
    ] {
        let (status, _, body) = get_keyed(&format!("{}{path}", stack.api), &console).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("'contoso'") && body.contains("'fabrikam'"), "{body}");
    }
    let details = format!("{}/v1/tenants/contoso/freebusy?{QUERY}&details=true", stack.api);
    let (status, headers, body) = get_keyed(&details, &console).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(challenge(&headers), r#"Bearer realm="freebusy", error="insufficient_scope", scope="details:read""#);
    let reception = create_key(&stack, Some("contoso"), "freebusy:read,details:read", None).await;
    assert_eq!(get_keyed(&details, &reception).await.0, 200);
    let (status, _, _) = get_keyed(&format!("{}/v1/directory?q=ad", stack.api), &reception).await;
    assert_eq!(status, 403, "directory:read is a scope of its own");
}

#[tokio::test]
async fn liveness_is_open_and_readiness_and_metrics_need_an_admin_key() {
    let stack = keyed_stack("auth-ops").await;
    assert_eq!(get(&format!("{}/healthz", stack.api)).await.0, 200);
    let console = create_key(&stack, Some("contoso"), "freebusy:read", None).await;
    let admin = create_key(&stack, None, "admin", None).await;
    for path in ["/readyz", "/metrics", "/v1/admin/tenants"] {
        let url = format!("{}{path}", stack.api);
        assert_eq!(get(&url).await.0, 401, "{path}");
        assert_eq!(get_keyed(&url, &console).await.0, 403, "{path}");
        let (status, _, body) = get_keyed(&url, &admin).await;
        assert_eq!(status, 200, "{path}: {body}");
        for key in [&console, &admin] {
            assert!(!body.contains(&key[21..]), "{path} shows a key's secret");
        }
    }
    // An admin key for every tenant reads any of them.
    let vendor = create_key(&stack, None, "admin,freebusy:read", None).await;
    assert_eq!(get_keyed(&format!("{}/v1/tenants/fabrikam/freebusy?{QUERY}", stack.api), &vendor).await.0, 200);
}

#[tokio::test]
async fn the_ops_listener_serves_readiness_and_metrics_without_a_key() {
    let stack = keyed_stack("auth-ops-listener").await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let ops = format!("http://{}", listener.local_addr().unwrap());
    let router = freebusy_host::http::ops_router(stack.service.clone());
    let server = tokio::spawn(async move { axum_serve(listener, router).await });
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(get(&format!("{ops}{path}")).await.0, 200, "{path} on the ops listener");
    }
    assert_eq!(get(&format!("{ops}/v1/freebusy?{QUERY}")).await.0, 404, "only operations there");
    assert_eq!(get(&format!("{}/readyz", stack.api)).await.0, 401, "the main listener still asks for a key");
    server.abort();
}

async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) {
    let _ = axum::serve(listener, router).await;
}
