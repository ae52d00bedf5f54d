//! Delegated access: a user signs in with `freebusy login` (device code, or browser with PKCE),
//! the refresh token is stored readable by its owner only, the Graph provider redeems it and
//! the host writes the rotated one back; a revoked one asks for a new sign-in, once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use freebusy_core::api::FreeBusyResponse;
use freebusy_emulator::{demo, Emulator, Options};
use freebusy_host::config::LoadedConfig;
use freebusy_host::login;
use freebusy_host::runtime::{Runtime, RuntimeSettings};
use freebusy_host::store::Store;
use freebusy_tests::{config_text, get, open_sealed_store, post_form, sealed_store_toml, stack_on};

/// A fresh directory for a test's sealed store.
fn store_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("freebusy-login-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The refresh token the store holds for tenant `contoso`, opened.
fn stored_token(dir: &Path) -> Option<String> {
    open_sealed_store(dir).secret("contoso", "refresh_token").unwrap()
}

fn delegated_tenant(url: &str, dir: &Path) -> String {
    format!(
        r#"
{store}
[tenants.contoso]
provider = "graph"
[tenants.contoso.settings]
auth = "delegated"
tenant_id = "{tenant}"
client_id = "{client}"
refresh_token = {{ stored = true }}
authority = "{url}"
graph_base_url = "{url}"
"#,
        store = sealed_store_toml(dir),
        tenant = demo::TENANT_ID,
        client = demo::CLIENT_ID,
    )
}

async fn emulator() -> Emulator {
    let options = Options { device_code_interval_secs: 1, ..Options::default() };
    Emulator::start(([127, 0, 0, 1], 0).into(), options).await.unwrap()
}

/// What `freebusy login` asks the tenant's provider for, and the store it keeps the sign-in in.
async fn params_of(config: &str) -> (login::LoginParams, Store) {
    let loaded = LoadedConfig::from_str(&config_text(config), PathBuf::new()).unwrap();
    let store = loaded.open_store().unwrap();
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    (login::params_for(&loaded, &store, &runtime, "contoso").await.unwrap(), store)
}

async fn params(emulator: &Emulator, dir: &Path) -> (login::LoginParams, Store) {
    params_of(&delegated_tenant(&emulator.base_url, dir)).await
}

async fn sign_in_with_device_code(emulator: &Emulator, dir: &Path) {
    let (p, store) = params(emulator, dir).await;
    let shown = Arc::new(Mutex::new(Vec::<String>::new()));
    let login = tokio::spawn({
        let shown = shown.clone();
        async move { login::device_code(&p, &store, |m| shown.lock().unwrap().push(m.to_string())).await }
    });
    // The user opens the page and types the code: the emulator's stand-in for that.
    let code = loop {
        if let Some(code) = emulator.pending_user_codes().pop() {
            break code;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(shown.lock().unwrap().iter().any(|m| m.contains(&code) && m.contains("microsoft.com/devicelogin")));
    tokio::time::sleep(Duration::from_millis(1500)).await; // at least one authorization_pending
    assert!(emulator.approve_device_code(&code, "adele.vance@contoso.com"));
    tokio::time::timeout(Duration::from_secs(20), login).await.unwrap().unwrap().unwrap();
}

async fn ask(api: &str) -> FreeBusyResponse {
    let (status, _, body) = get(&format!(
        "{api}/v1/freebusy?mailboxes=room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn device_code_sign_in_seals_the_token_the_provider_redeems_and_rotates() {
    let emulator = emulator().await;
    let dir = store_dir("device");
    sign_in_with_device_code(&emulator, &dir).await;
    let first = stored_token(&dir).expect("the sign-in is in the store");
    assert!(!first.is_empty());
    // Sealed at rest: the token is nowhere in the store's files in plain text.
    for file in ["freebusy.db", "freebusy.db-wal"] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        assert!(!bytes.windows(first.len()).any(|w| w == first.as_bytes()), "{file} holds the token in plain text");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("freebusy.db")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let stack = stack_on(emulator, RuntimeSettings::default(), |url| delegated_tenant(url, &dir)).await;
    let before = stack.emulator.stats().token_requests;
    let r = ask(&stack.api).await;
    assert_eq!(r.mailboxes[0].busy.as_ref().map(Vec::len), Some(3), "{:?}", r.mailboxes[0].error);
    // The provider redeemed the refresh token once; Entra handed out a new one, now stored.
    assert_eq!(stack.emulator.stats().token_requests, before + 1);
    let rotated = stored_token(&dir).unwrap();
    assert_ne!(rotated, first, "the rotated refresh token was not stored");
    // The access token is cached: no new token request for the next query.
    ask(&stack.api).await;
    assert_eq!(stack.emulator.stats().token_requests, before + 1);
}

#[tokio::test]
async fn browser_sign_in_uses_pkce_and_a_localhost_redirect() {
    let emulator = emulator().await;
    let dir = store_dir("browser");
    let (p, store) = params(&emulator, &dir).await;
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let tx = Mutex::new(Some(tx));
    let login = tokio::spawn(async move {
        login::browser(&p, &store, 0, Some("megan.bowen@contoso.com"), |url| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(url.to_string());
            }
        })
        .await
    });
    let url = rx.await.unwrap();
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("redirect_uri=http%3A%2F%2Flocalhost%3A"),
        "{url}"
    );
    // The browser: the emulator signs the hinted user in and redirects to localhost.
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.contains("Signed in"), "{page}");
    tokio::time::timeout(Duration::from_secs(20), login).await.unwrap().unwrap().unwrap();
    let stack = stack_on(emulator, RuntimeSettings::default(), |url| delegated_tenant(url, &dir)).await;
    assert_eq!(ask(&stack.api).await.mailboxes[0].busy.as_ref().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_revoked_refresh_token_asks_for_a_new_sign_in_and_is_not_retried() {
    let emulator = emulator().await;
    let dir = store_dir("revoked");
    sign_in_with_device_code(&emulator, &dir).await;
    emulator.revoke_refresh_tokens();
    let stack = stack_on(emulator, RuntimeSettings::default(), |url| delegated_tenant(url, &dir)).await;
    let before = stack.emulator.stats().token_requests;
    let r = ask(&stack.api).await;
    let err = r.mailboxes[0].error.as_ref().expect("an auth error, not free");
    assert_eq!(err.code, freebusy_core::ErrorCode::AuthFailed);
    assert!(err.message.contains("AADSTS70008") && err.message.contains("freebusy login"), "{}", err.message);
    assert_eq!(stack.emulator.stats().token_requests, before + 1, "never retried");
}

#[tokio::test]
async fn a_signed_in_user_reads_free_busy_through_ews_too() {
    let emulator = emulator().await;
    let dir = store_dir("ews");
    let tenant = |url: &str| {
        format!(
            r#"
{store}
[tenants.contoso]
provider = "ews"
[tenants.contoso.settings]
ews_url = "{url}/EWS/Exchange.asmx"
auth = "delegated"
tenant_id = "{tenant}"
client_id = "{client}"
refresh_token = {{ stored = true }}
authority = "{url}"
"#,
            store = sealed_store_toml(&dir),
            tenant = demo::TENANT_ID,
            client = demo::CLIENT_ID,
        )
    };
    // freebusy login asks for EWS.AccessAsUser.All for an EWS tenant.
    let (p, store) = params_of(&tenant(&emulator.base_url)).await;
    assert_eq!(p.scopes, vec!["https://outlook.office365.com/EWS.AccessAsUser.All", "offline_access"]);
    let login = tokio::spawn(async move { login::device_code(&p, &store, |_| {}).await });
    let code = loop {
        if let Some(code) = emulator.pending_user_codes().pop() {
            break code;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    emulator.approve_device_code(&code, "adele.vance@contoso.com");
    tokio::time::timeout(Duration::from_secs(20), login).await.unwrap().unwrap().unwrap();
    let stack = stack_on(emulator, RuntimeSettings::default(), tenant).await;
    let r = ask(&stack.api).await;
    assert_eq!(r.mailboxes[0].busy.as_ref().map(Vec::len), Some(3), "{:?}", r.mailboxes[0].error);
    // A delegated EWS call impersonates nobody.
    assert!(!stack.emulator.ews_requests().pop().unwrap().contains("ExchangeImpersonation"));
}

#[tokio::test]
async fn a_device_code_client_polling_too_fast_is_slowed_down_and_an_unused_code_expires() {
    let options = Options { device_code_interval_secs: 1, device_code_lifetime_secs: 2, ..Options::default() };
    let emulator = Emulator::start(([127, 0, 0, 1], 0).into(), options).await.unwrap();
    let endpoint = |path: &str| format!("{}/{}/oauth2/v2.0/{path}", emulator.base_url, demo::TENANT_ID);
    let scope = "https://graph.microsoft.com/.default offline_access";
    let started = post_form(&endpoint("devicecode"), &[("client_id", demo::CLIENT_ID), ("scope", scope)]).await;
    let device_code = started["device_code"].as_str().unwrap();
    let token_url = endpoint("token");
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", demo::CLIENT_ID),
        ("device_code", device_code),
    ];
    let poll = || post_form(&token_url, &form);
    assert_eq!(poll().await["error"], "authorization_pending");
    assert_eq!(poll().await["error"], "slow_down", "a second poll at once");

    // Nobody signs in: `freebusy login` stops with a clear message when the code expires.
    let dir = store_dir("expired");
    let (p, store) = params(&emulator, &dir).await;
    let outcome = tokio::time::timeout(Duration::from_secs(30), login::device_code(&p, &store, |_| {})).await;
    let message = format!("{:#}", outcome.expect("gives up by itself").expect_err("never signed in"));
    assert!(message.to_lowercase().contains("expired"), "{message}");
    assert_eq!(stored_token(&dir), None, "no token stored without a sign-in");
}
