//! Tenant isolation over every route: two tenants with different people (the emulator's Contoso
//! and Fabrikam), keys bound to one tenant each (readers, and a tenant's key with every scope,
//! admin included), and a vendor key for every tenant. For each route and method of the router a
//! tenant's key asking for the other tenant (by name, upper-cased, percent-encoded) gets a 403 or
//! 404 problem that names none of the other tenant's people, rooms or subjects; routes spanning
//! every tenant (admin, readiness, metrics) refuse a tenant's keys, even one with the admin
//! scope; asking one's own tenant about the other's addresses reads nothing of them; and the same
//! call for one's own tenant works. The table below must cover every route of the router (read
//! from `host/src/http/mod.rs`) and every operation of the served `/openapi.json`, so that a new
//! route cannot be added without its isolation case.

use std::collections::BTreeSet;

use freebusy_emulator::tenant::Tenant;
use freebusy_emulator::{demo, Emulator, Options};
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{config_text, create_key, repo_root, stack_with_config, test_dir, with_keys, Stack};
use serde_json::{json, Value};

/// What a route reads, and so how its isolation is checked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// `/v1/tenants/{tenant}/...`: the tenant is in the path.
    PerTenant,
    /// `/v1/...` without a tenant: the key's own tenant.
    KeysTenant,
    /// Spans every tenant: a key for every tenant with the admin scope only.
    EveryTenant,
    /// No key involved (liveness, the document, the page, the consent round trip).
    Public,
}

/// Every route and method of the main router.
const ROUTES: &[(&str, &str, Kind)] = &[
    ("GET", "/v1/freebusy", Kind::KeysTenant),
    ("POST", "/v1/freebusy", Kind::KeysTenant),
    ("GET", "/v1/tenants/{tenant}/freebusy", Kind::PerTenant),
    ("POST", "/v1/tenants/{tenant}/freebusy", Kind::PerTenant),
    ("POST", "/v1/availability", Kind::KeysTenant),
    ("POST", "/v1/tenants/{tenant}/availability", Kind::PerTenant),
    ("GET", "/v1/directory", Kind::KeysTenant),
    ("GET", "/v1/tenants/{tenant}/directory", Kind::PerTenant),
    ("GET", "/v1/tenants/{tenant}/health", Kind::PerTenant),
    ("GET", "/v1/admin/tenants", Kind::EveryTenant),
    ("POST", "/v1/admin/reload", Kind::EveryTenant),
    ("POST", "/v1/admin/invitations", Kind::EveryTenant),
    ("GET", "/v1/admin/onboarding", Kind::EveryTenant),
    ("POST", "/v1/admin/onboarding", Kind::EveryTenant),
    ("GET", "/onboarding/start", Kind::Public),
    ("GET", "/onboarding/callback", Kind::Public),
    ("GET", "/healthz", Kind::Public),
    ("GET", "/readyz", Kind::EveryTenant),
    ("GET", "/metrics", Kind::EveryTenant),
    ("GET", "/openapi.json", Kind::Public),
    ("GET", "/", Kind::Public),
    ("GET", "/ui/app.mjs", Kind::Public),
];

const START: &str = "2026-03-23T00:00:00Z";
const END: &str = "2026-03-28T00:00:00Z";

/// One tenant as the test sees it: its name, its people and rooms, and its keys.
struct Side {
    tenant: &'static str,
    tenant_id: &'static str,
    /// Two people and a room, for the requests.
    mailboxes: Vec<String>,
    /// A prefix that finds its people in its own directory.
    prefix: String,
    /// What must never show in an answer to the other tenant: addresses, display names and
    /// subjects.
    secrets: Vec<String>,
    /// Display names and subjects alone (an answer may echo addresses the caller sent).
    names: Vec<String>,
    /// freebusy:read, directory:read, details:read, bound to this tenant.
    reader: String,
    /// Every scope, admin included, bound to this tenant.
    admin: String,
}

fn describe(model: &Tenant) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut addresses = Vec::new();
    for m in &model.mailboxes {
        addresses.push(m.address.to_lowercase());
        names.insert(m.display_name.clone());
        for e in &m.events {
            if e.subject.len() >= 8 {
                names.insert(e.subject.clone());
            }
        }
    }
    let people: Vec<String> = model
        .mailboxes
        .iter()
        .filter(|m| m.kind == freebusy_emulator::tenant::Kind::Person)
        .take(2)
        .map(|m| m.address.clone())
        .chain(
            model
                .mailboxes
                .iter()
                .filter(|m| m.kind == freebusy_emulator::tenant::Kind::Room)
                .take(1)
                .map(|m| m.address.clone()),
        )
        .collect();
    (people, addresses, names.into_iter().collect())
}

/// Fabrikam as the emulator serves it, with the demo app registered there too, so that a
/// tenant of its own reads it with a client secret.
fn fabrikam() -> Tenant {
    let mut t = demo::fabrikam();
    t.apps = demo::tenant().apps;
    t
}

fn tenant_toml(name: &str, tenant_id: &str, emulator: &str) -> String {
    format!(
        r#"
[tenants.{name}]
provider = "graph"
[tenants.{name}.settings]
tenant_id = "{tenant_id}"
client_id = "{client_id}"
client_secret = "{secret}"
authority = "{emulator}"
graph_base_url = "{emulator}"
"#,
        client_id = demo::CLIENT_ID,
        secret = demo::CLIENT_SECRET,
    )
}

struct World {
    stack: Stack,
    contoso: Side,
    fabrikam: Side,
    /// Every scope, every tenant.
    vendor: String,
}

async fn world() -> World {
    let options = Options { tenants: vec![demo::tenant(), fabrikam()], ..Options::default() };
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), options).await.expect("emulator");
    let dir = test_dir("isolation");
    let emu = emulator.base_url.clone();
    std::env::set_var("FREEBUSY_TEST_ISOLATION_VENDOR_SECRET", demo::VENDOR_CLIENT_SECRET);
    let tenants = format!(
        r#"[onboarding]
provider = "graph"
redirect_url = "http://127.0.0.1:9/onboarding/callback"
authority = "{emu}"
[onboarding.settings]
client_id = "{vendor}"
client_secret = {{ env = "FREEBUSY_TEST_ISOLATION_VENDOR_SECRET" }}
authority = "{emu}"
graph_base_url = "{emu}"
{contoso}{fabrikam}"#,
        vendor = demo::VENDOR_CLIENT_ID,
        contoso = tenant_toml("contoso", demo::TENANT_ID, &emu),
        fabrikam = tenant_toml("fabrikam", demo::FABRIKAM_TENANT_ID, &emu),
    );
    let text = config_text(&with_keys(&dir, &tenants));
    let stack = stack_with_config(emulator, RuntimeSettings::default(), &text).await;
    let vendor = create_key(&stack, None, "admin,freebusy:read,directory:read,details:read", None).await;
    let mut sides = Vec::new();
    for (tenant, tenant_id, model, prefix) in [
        ("contoso", demo::TENANT_ID, demo::tenant(), "adele"),
        ("fabrikam", demo::FABRIKAM_TENANT_ID, fabrikam(), "kenji"),
    ] {
        let (mailboxes, addresses, names) = describe(&model);
        let reader = create_key(&stack, Some(tenant), "freebusy:read,directory:read,details:read", None).await;
        let admin = create_key(&stack, Some(tenant), "admin,freebusy:read,directory:read,details:read", None).await;
        let secrets = addresses.iter().chain(names.iter()).cloned().collect();
        sides.push(Side { tenant, tenant_id, mailboxes, prefix: prefix.to_string(), secrets, names, reader, admin });
    }
    let fabrikam = sides.pop().expect("two sides");
    let contoso = sides.pop().expect("two sides");
    // An onboarding in progress, so that the onboarding list has something to leak.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/admin/invitations", stack.api))
        .bearer_auth(&vendor)
        .json(&json!({ "name": "globex" }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    World { stack, contoso, fabrikam, vendor }
}

/// One request: method, path with query, JSON body.
struct Call {
    method: &'static str,
    target: String,
    body: Option<Value>,
}

/// The request for `route` on `tenant` (its path segment as given) about `data`'s mailboxes.
fn call(method: &'static str, path: &str, tenant: &str, data: &Side) -> Call {
    let target_path = path.replace("{tenant}", tenant);
    let list = data.mailboxes.join(",");
    let (query, body) = match (method, path.rsplit('/').next().unwrap_or_default()) {
        ("GET", "freebusy") => (format!("mailboxes={list}&start={START}&end={END}&interval=60&details=true"), None),
        ("POST", "freebusy") => (
            String::new(),
            Some(json!({ "mailboxes": data.mailboxes, "start": START, "end": END, "interval": 60, "details": true })),
        ),
        ("POST", "availability") => (
            String::new(),
            Some(json!({
                "start": START, "end": END, "duration": 30,
                "participants": [
                    { "mailboxes": &data.mailboxes[..2], "required": "all" },
                    { "mailboxes": &data.mailboxes[2..], "required": 1 },
                ],
            })),
        ),
        ("GET", "directory") => (format!("q={}", data.prefix), None),
        ("POST", "invitations") | ("POST", "onboarding") => (String::new(), Some(json!({ "name": "initech" }))),
        ("GET", "start") => ("invitation=made-up".to_string(), None),
        ("GET", "callback") => (format!("admin_consent=True&tenant={}&state=made-up", data.tenant_id), None),
        _ => (String::new(), None),
    };
    let target = if query.is_empty() { target_path } else { format!("{target_path}?{query}") };
    Call { method, target, body }
}

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

async fn send(api: &str, key: Option<&str>, c: &Call) -> Answer {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let url = format!("{api}{}", c.target);
    let mut req = match c.method {
        "GET" => client.get(&url),
        "POST" => client.post(&url),
        other => panic!("no case for method {other}"),
    };
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    if let Some(body) = &c.body {
        req = req.json(body);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    Answer { status, content_type, body: resp.text().await.expect("body") }
}

/// Nothing of `other` shows in `body`; `echoed` addresses the caller itself sent may.
fn assert_no_leak(what: &str, body: &str, other: &Side, echoed: bool) {
    let lower = body.to_lowercase();
    let checked = if echoed { &other.names } else { &other.secrets };
    for secret in checked {
        assert!(
            !lower.contains(&secret.to_lowercase()),
            "{what}: the answer shows {secret:?} of {}: {body}",
            other.tenant
        );
    }
}

/// A refusal: 403 or 404 with a problem body, naming nothing of `other`.
fn assert_refused(what: &str, a: &Answer, other: &Side) {
    assert!(a.status == 403 || a.status == 404, "{what}: {} {}", a.status, a.body);
    assert_eq!(a.content_type, "application/problem+json", "{what}: {}", a.body);
    let p: Value = serde_json::from_str(&a.body).unwrap_or_else(|_| panic!("{what}: not JSON: {}", a.body));
    assert_eq!(p["status"], a.status, "{what}: {}", a.body);
    assert_no_leak(what, &a.body, other, false);
}

/// `own`'s tenant asked about `other`'s addresses: 200, and none of them could be read.
fn assert_reads_nothing_of(what: &str, path: &str, a: &Answer, other: &Side) {
    assert_eq!(a.status, 200, "{what}: {}", a.body);
    assert_no_leak(what, &a.body, other, true);
    let v: Value = serde_json::from_str(&a.body).unwrap_or_else(|_| panic!("{what}: not JSON: {}", a.body));
    if path.ends_with("/freebusy") {
        for m in v["mailboxes"].as_array().expect("mailboxes") {
            assert!(m.get("busy").is_none() && m.get("events").is_none(), "{what}: {m}");
            assert_eq!(m["error"]["code"], "not-found", "{what}: {m}");
        }
    } else if path.ends_with("/availability") {
        assert_eq!(v["slots"], json!([]), "{what}: no slot with unreadable mailboxes: {}", a.body);
        for m in v["mailboxes"].as_array().expect("mailboxes") {
            assert_eq!(m["error"]["code"], "not-found", "{what}: {m}");
        }
    } else if path.ends_with("/directory") {
        assert_no_leak(what, &a.body, other, false);
    } else {
        panic!("{what}: no check for {path}");
    }
}

/// The call for one's own tenant works and reads one's own people.
fn assert_works(what: &str, path: &str, a: &Answer, own: &Side) {
    assert_eq!(a.status, 200, "{what}: {}", a.body);
    if path.ends_with("/freebusy") {
        let v: Value = serde_json::from_str(&a.body).expect("JSON");
        let read = v["mailboxes"].as_array().expect("mailboxes").iter().filter(|m| m["busy"].is_array()).count();
        assert_eq!(read, own.mailboxes.len(), "{what}: {}", a.body);
    } else if path.ends_with("/availability") {
        let v: Value = serde_json::from_str(&a.body).expect("JSON");
        assert!(
            v["mailboxes"].as_array().expect("mailboxes").iter().all(|m| m.get("error").is_none()),
            "{what}: {}",
            a.body
        );
    } else if path.ends_with("/directory") {
        assert!(a.body.to_lowercase().contains(&own.prefix), "{what}: {}", a.body);
    } else if path.ends_with("/health") {
        let v: Value = serde_json::from_str(&a.body).expect("JSON");
        assert!(v.is_object(), "{what}: {}", a.body);
    }
}

/// Ways of naming the other tenant in a path.
fn spellings(tenant: &str) -> Vec<String> {
    let mut encoded = String::new();
    for (i, c) in tenant.chars().enumerate() {
        if i == 0 {
            encoded.push_str(&format!("%{:02X}", c as u32));
        } else {
            encoded.push(c);
        }
    }
    vec![tenant.to_string(), tenant.to_uppercase(), encoded]
}

/// Check every route for `own`'s keys against `other`.
async fn check_side(w: &World, own: &Side, other: &Side) {
    let api = &w.stack.api;
    for &(method, path, kind) in ROUTES {
        let what = |key: &str, detail: &str| format!("{method} {path} ({key} key of {}, {detail})", own.tenant);
        match kind {
            Kind::PerTenant => {
                let works = send(api, Some(&own.reader), &call(method, path, own.tenant, own)).await;
                assert_works(&what("reader", "own tenant"), path, &works, own);
                // Whether the other tenant exists is not for this key to learn.
                let real = send(api, Some(&own.reader), &call(method, path, other.tenant, own)).await;
                let made_up = send(api, Some(&own.reader), &call(method, path, "no-such-tenant", own)).await;
                assert_eq!(
                    (made_up.status, made_up.body.replace("no-such-tenant", other.tenant)),
                    (real.status, real.body.clone()),
                    "{}: a made-up tenant and {} are answered differently",
                    what("reader", "made-up tenant"),
                    other.tenant
                );
                for (name, key) in [("reader", &own.reader), ("admin-scoped", &own.admin)] {
                    for spelling in spellings(other.tenant) {
                        for data in [other, own] {
                            let c = call(method, path, &spelling, data);
                            let a = send(api, Some(key), &c).await;
                            assert_refused(
                                &what(name, &format!("{} as {spelling}, {} mailboxes", c.target, data.tenant)),
                                &a,
                                other,
                            );
                        }
                    }
                    if !path.ends_with("/health") {
                        let c = call(method, path, own.tenant, other);
                        let a = send(api, Some(key), &c).await;
                        assert_reads_nothing_of(
                            &what(name, &format!("own tenant, {}'s mailboxes", other.tenant)),
                            path,
                            &a,
                            other,
                        );
                    }
                }
            }
            Kind::KeysTenant => {
                let works = send(api, Some(&own.reader), &call(method, path, own.tenant, own)).await;
                assert_works(&what("reader", "own mailboxes"), path, &works, own);
                for (name, key) in [("reader", &own.reader), ("admin-scoped", &own.admin)] {
                    let a = send(api, Some(key), &call(method, path, own.tenant, other)).await;
                    assert_reads_nothing_of(&what(name, &format!("{}'s mailboxes", other.tenant)), path, &a, other);
                }
            }
            Kind::EveryTenant => {
                let c = call(method, path, own.tenant, own);
                let works = send(api, Some(&w.vendor), &c).await;
                assert_eq!(works.status, 200, "{method} {path} with the vendor's key: {}", works.body);
                for (name, key) in [("reader", &own.reader), ("admin-scoped", &own.admin)] {
                    let a = send(api, Some(key), &c).await;
                    let what = what(name, "a route spanning every tenant");
                    assert_eq!(a.status, 403, "{what}: {}", a.body);
                    assert_refused(&what, &a, other);
                    assert!(!a.body.contains(other.tenant), "{what}: names {}: {}", other.tenant, a.body);
                    assert!(!a.body.contains("globex"), "{what}: names an onboarding: {}", a.body);
                }
            }
            Kind::Public => {
                // A key changes nothing here: the answer is the one anybody gets.
                let c = call(method, path, own.tenant, other);
                let anybody = send(api, None, &c).await;
                assert!(anybody.status < 500, "{method} {path} without a key: {} {}", anybody.status, anybody.body);
                if path.starts_with("/onboarding/") {
                    assert!(
                        (400..500).contains(&anybody.status),
                        "{path}: a made-up invitation or state: {}",
                        anybody.body
                    );
                    assert_no_leak(path, &anybody.body, other, false);
                }
                for (name, key) in [("reader", &own.reader), ("admin-scoped", &own.admin)] {
                    let a = send(api, Some(key), &c).await;
                    let what = what(name, "public route");
                    assert_eq!(
                        (a.status, &a.body),
                        (anybody.status, &anybody.body),
                        "{what}: a key changes the answer"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_tenants_key_never_reads_the_other_tenant_on_any_route() {
    let w = world().await;
    check_side(&w, &w.contoso, &w.fabrikam).await;
    check_side(&w, &w.fabrikam, &w.contoso).await;
}

/// The `(METHOD, path)` pairs `router()` in `host/src/http/mod.rs` routes.
fn router_routes() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(repo_root().join("host/src/http/mod.rs")).expect("host/src/http/mod.rs");
    let start = source.find("pub fn router(").expect("router() in mod.rs");
    let end = start + source[start..].find(".fallback(").expect("the router's fallback");
    let body = &source[start..end];
    let mut routes = BTreeSet::new();
    for part in body.split(".route(").skip(1) {
        let path = part.split('"').nth(1).expect("a route path literal");
        for method in ["get", "post", "put", "patch", "delete"] {
            let token = format!("{method}(");
            let found = part.match_indices(&token).any(|(i, _)| {
                i == 0 || !part.as_bytes()[i - 1].is_ascii_alphanumeric() && part.as_bytes()[i - 1] != b'_'
            });
            if found {
                routes.insert((method.to_uppercase(), path.to_string()));
            }
        }
    }
    assert!(routes.len() >= 15, "the router's routes were not read from mod.rs: {routes:?}");
    routes
}

#[tokio::test]
async fn the_table_covers_every_route_of_the_router_and_the_openapi_document() {
    let table: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(table.len(), ROUTES.len(), "a route is listed twice");
    let routed = router_routes();
    let missing: Vec<_> = routed.difference(&table).collect();
    assert!(missing.is_empty(), "routes of host/src/http/mod.rs without an isolation case in ROUTES: {missing:?}");
    let stale: Vec<_> = table.difference(&routed).collect();
    assert!(stale.is_empty(), "ROUTES lists routes the router does not have: {stale:?}");

    let stack = freebusy_tests::demo_stack().await;
    let (status, _, text) = freebusy_tests::get(&format!("{}/openapi.json", stack.api)).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).expect("openapi.json is JSON");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            if ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(documented.len() >= 15, "{documented:?}");
    let missing: Vec<_> = documented.difference(&table).collect();
    assert!(missing.is_empty(), "operations of openapi.json without an isolation case in ROUTES: {missing:?}");
}
