//! Onboarding by admin consent: a SaaS vendor with one multi-tenant app invites a customer; the
//! customer's admin consents at the identity platform; the callback checks the single-use state
//! and then the consent itself (a token for that tenant, its tid and roles), and the new tenant is
//! served at once, seeing its own people only. Declines, replays, late consent ("propagating"),
//! consent without the application permissions, and revocation each end in a state an admin can
//! read. The emulator holds two customer tenants, Contoso and Fabrikam, with different people.

use std::sync::Arc;
use std::time::Duration;

use freebusy_core::api::FreeBusyResponse;
use freebusy_emulator::consent::ConsentDecision;
use freebusy_emulator::{demo, Emulator, Options};
use freebusy_host::config::LoadedConfig;
use freebusy_host::runtime::{Runtime, RuntimeSettings};
use freebusy_host::service::Service;
use freebusy_tests::{config_text, free_port, get_keyed, graph_tenant, sealed_store_toml, test_dir};

struct Vendor {
    emulator: Emulator,
    service: Arc<Service>,
    api: String,
    admin: String,
    _server: tokio::task::JoinHandle<()>,
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn vendor(name: &str, options: Options, propagation_secs: u64) -> Vendor {
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), options).await.unwrap();
    let dir = test_dir(name);
    let port = free_port();
    let api = format!("http://127.0.0.1:{port}");
    std::env::set_var("FREEBUSY_TEST_VENDOR_SECRET", demo::VENDOR_CLIENT_SECRET);
    let emu = &emulator.base_url;
    let text = config_text(&format!(
        r#"[auth]
mode = "keys"
{store}
[onboarding]
provider = "graph"
redirect_url = "{api}/onboarding/callback"
authority = "{emu}"
propagation_secs = {propagation_secs}
first_retry_secs = 1
[onboarding.settings]
client_id = "{client}"
client_secret = {{ env = "FREEBUSY_TEST_VENDOR_SECRET" }}
authority = "{emu}"
graph_base_url = "{emu}"
{contoso}"#,
        store = sealed_store_toml(&dir),
        client = demo::VENDOR_CLIENT_ID,
        contoso = graph_tenant("contoso", emu, demo::CLIENT_ID, demo::CLIENT_SECRET),
    ));
    let loaded = LoadedConfig::from_str(&text, std::path::PathBuf::new()).unwrap();
    let store = loaded.open_store().unwrap();
    let admin = freebusy_host::cli::create_key(&loaded, &store, None, Some("admin"), None, "vendor").unwrap();
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let service = Arc::new(Service::from_config(&loaded, &runtime).await.unwrap());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let server = tokio::spawn({
        let service = service.clone();
        async move {
            let _ = freebusy_host::http::serve(listener, service).await;
        }
    });
    Vendor { emulator, service, api, admin, _server: server }
}

impl Vendor {
    /// An invitation for `name`, through the admin route.
    async fn invite(&self, name: &str) -> String {
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/admin/invitations", self.api))
            .bearer_auth(&self.admin)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json::<serde_json::Value>().await.unwrap()["invitation"].as_str().unwrap().to_string()
    }

    /// Open the invitation and follow the admin to the consent screen: its URL.
    async fn to_consent_screen(&self, invitation: &str) -> String {
        let resp = no_redirects().get(invitation).send().await.unwrap();
        assert_eq!(resp.status(), 302, "{:?}", resp.text().await);
        resp.headers()["location"].to_str().unwrap().to_string()
    }

    /// The consent screen sends the admin back: where to.
    async fn consent(&self, consent_url: &str, decision: ConsentDecision) -> String {
        self.emulator.queue_consent(decision);
        let resp = no_redirects().get(consent_url).send().await.unwrap();
        assert_eq!(resp.status(), 302, "{:?}", resp.text().await);
        resp.headers()["location"].to_str().unwrap().to_string()
    }

    async fn key_for(&self, tenant: &str) -> String {
        let loaded = self.service.snapshot().config.clone();
        let store = loaded.open_store().unwrap();
        let key = freebusy_host::cli::create_key(&loaded, &store, Some(tenant), None, None, "console").unwrap();
        self.service.notice_store_changes().await.unwrap();
        key
    }

    async fn onboarding_state(&self, tenant: &str) -> String {
        let (status, _, body) = get_keyed(&format!("{}/v1/admin/onboarding", self.api), &self.admin).await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let found = v["onboardings"].as_array().unwrap().iter().find(|r| r["tenant"] == tenant).cloned();
        found.map(|r| r["state"].as_str().unwrap().to_string()).unwrap_or_default()
    }
}

fn approve(tenant: &str) -> ConsentDecision {
    ConsentDecision::Approve { tenant: tenant.into(), with_permissions: true, effective_after_secs: 0 }
}

const WEEK: &str = "start=2026-03-23T00:00:00Z&end=2026-03-30T00:00:00Z";

#[tokio::test]
async fn a_customer_admin_consents_and_the_new_tenant_is_served_at_once_seeing_only_its_own_people() {
    let v = vendor("onboard-happy", Options::default(), 60).await;
    let invitation = v.invite("acme").await;
    assert!(invitation.starts_with(&format!("{}/onboarding/start?invitation=", v.api)), "{invitation}");
    let consent_url = v.to_consent_screen(&invitation).await;
    let query: std::collections::HashMap<String, String> =
        reqwest::Url::parse(&consent_url).unwrap().query_pairs().into_owned().collect();
    assert!(consent_url.starts_with(&format!("{}/organizations/v2.0/adminconsent?", v.emulator.base_url)));
    assert_eq!(query["client_id"], demo::VENDOR_CLIENT_ID);
    assert_eq!(query["scope"], "https://graph.microsoft.com/.default");
    assert_eq!(query["redirect_uri"], format!("{}/onboarding/callback", v.api));
    assert!(query["state"].len() >= 40, "an unguessable state");

    let callback = v.consent(&consent_url, approve(demo::FABRIKAM_DOMAIN)).await;
    assert!(callback.contains("admin_consent=True") && callback.contains(demo::FABRIKAM_TENANT_ID), "{callback}");
    let page = reqwest::get(&callback).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Connected"));
    assert_eq!(v.onboarding_state("acme").await, "working");

    // Served at once, no restart: Acme's key reads Fabrikam's people.
    let acme = v.key_for("acme").await;
    let url = format!("{}/v1/freebusy?mailboxes=kenji.sato@fabrikam.com,room.harbour@fabrikam.com&{WEEK}", v.api);
    let (status, _, body) = get_keyed(&url, &acme).await;
    assert_eq!(status, 200, "{body}");
    let r: FreeBusyResponse = serde_json::from_str(&body).unwrap();
    assert!(r.mailboxes.iter().all(|m| m.busy.as_ref().is_some_and(|b| !b.is_empty())), "{body}");

    // Isolation: neither tenant's key sees the other's mailboxes or directory.
    let contoso = v.key_for("contoso").await;
    for (key, path) in [
        (&acme, "/v1/tenants/contoso/freebusy?mailboxes=adele.vance@contoso.com&".to_string() + WEEK),
        (&acme, "/v1/tenants/contoso/directory?q=ad".to_string()),
        (&contoso, "/v1/tenants/acme/freebusy?mailboxes=kenji.sato@fabrikam.com&".to_string() + WEEK),
        (&contoso, "/v1/tenants/acme/directory?q=ke".to_string()),
    ] {
        assert_eq!(get_keyed(&format!("{}{path}", v.api), key).await.0, 403, "{path}");
    }
    // Asking Acme's tenant about a Contoso address finds nobody: Fabrikam's directory has no Adele.
    let (_, _, body) =
        get_keyed(&format!("{}/v1/freebusy?mailboxes=adele.vance@contoso.com&{WEEK}", v.api), &acme).await;
    let r: FreeBusyResponse = serde_json::from_str(&body).unwrap();
    assert_eq!(r.mailboxes[0].error.as_ref().map(|e| e.code), Some(freebusy_core::ErrorCode::NotFound), "{body}");
    let (_, _, found) = get_keyed(&format!("{}/v1/directory?q=kenji", v.api), &contoso).await;
    assert!(!found.contains("fabrikam"), "{found}");

    // The callback works once: a replay changes nothing.
    let replay = reqwest::get(&callback).await.unwrap();
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("already used"));
    // So does the invitation.
    assert_eq!(no_redirects().get(&invitation).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn a_declined_consent_a_forged_state_and_a_missing_tenant_change_nothing() {
    let v = vendor("onboard-declined", Options::default(), 60).await;
    let invitation = v.invite("globex").await;
    let consent_url = v.to_consent_screen(&invitation).await;
    let callback = v.consent(&consent_url, ConsentDecision::Decline).await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let page = reqwest::get(&callback).await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("AADSTS65004"));
    assert_eq!(v.onboarding_state("globex").await, "declined");
    assert!(v.service.tenant(Some("globex")).is_err(), "not onboarded");

    // A made-up state, and a real one whose answer names no tenant.
    let forged = format!("{}/onboarding/callback?admin_consent=True&tenant={}&state=made-up", v.api, demo::TENANT_ID);
    assert_eq!(reqwest::get(&forged).await.unwrap().status(), 400);
    let consent_url = v.to_consent_screen(&invitation).await;
    let state =
        reqwest::Url::parse(&consent_url).unwrap().query_pairs().find(|(k, _)| k == "state").unwrap().1.to_string();
    let no_tenant = format!("{}/onboarding/callback?admin_consent=True&state={state}", v.api);
    assert_eq!(reqwest::get(&no_tenant).await.unwrap().status(), 400);
    assert!(v.service.tenant(Some("globex")).is_err());
}

#[tokio::test]
async fn a_consent_that_takes_effect_late_is_retried_then_served() {
    let v = vendor("onboard-late", Options::default(), 60).await;
    let consent_url = v.to_consent_screen(&v.invite("initech").await).await;
    let late = ConsentDecision::Approve {
        tenant: demo::FABRIKAM_TENANT_ID.into(),
        with_permissions: true,
        effective_after_secs: 2,
    };
    let page = reqwest::get(&v.consent(&consent_url, late).await).await.unwrap();
    assert_eq!(page.status(), 202);
    assert!(page.text().await.unwrap().contains("still applying"));
    assert_eq!(v.onboarding_state("initech").await, "propagating");
    let mut state = String::new();
    for _ in 0..100 {
        state = v.onboarding_state("initech").await;
        if state == "working" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "working");
    let key = v.key_for("initech").await;
    let (status, _, body) =
        get_keyed(&format!("{}/v1/freebusy?mailboxes=ines.garcia@fabrikam.com&{WEEK}", v.api), &key).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"busy\":[{"), "{body}");
}

#[tokio::test]
async fn consent_without_the_application_permissions_and_a_revoked_consent_are_named() {
    let options = Options { token_lifetime_secs: 2, ..Options::default() };
    let v = vendor("onboard-states", options, 1).await;
    // Consented, but without the application permissions: tokens without roles.
    let consent_url = v.to_consent_screen(&v.invite("hooli").await).await;
    let bare = ConsentDecision::Approve {
        tenant: demo::FABRIKAM_TENANT_ID.into(),
        with_permissions: false,
        effective_after_secs: 0,
    };
    reqwest::get(&v.consent(&consent_url, bare).await).await.unwrap();
    let mut state = String::new();
    for _ in 0..100 {
        state = v.onboarding_state("hooli").await;
        if state != "propagating" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "no-application-permissions");
    let (_, _, health) = get_keyed(&format!("{}/v1/tenants/hooli/health", v.api), &v.admin).await;
    assert!(health.contains("no-application-permissions") && health.contains("Calendars.ReadBasic"), "{health}");

    // A working consent, then the customer's admin removes it.
    let consent_url = v.to_consent_screen(&v.invite("umbrella").await).await;
    reqwest::get(&v.consent(&consent_url, approve(demo::FABRIKAM_TENANT_ID)).await).await.unwrap();
    assert_eq!(v.onboarding_state("umbrella").await, "working");
    v.emulator.revoke_consent(demo::FABRIKAM_TENANT_ID, demo::VENDOR_CLIENT_ID);
    tokio::time::sleep(Duration::from_millis(1100)).await; // the cached token runs out
    let (_, _, health) = get_keyed(&format!("{}/v1/tenants/umbrella/health", v.api), &v.admin).await;
    let h: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(h["consent"]["state"], "revoked", "{health}");
    assert!(h["summary"].as_str().unwrap().contains("AADSTS700016"), "{health}");
}
