//! HTTPS upstreams signed by an internal CA (on-premises Exchange, TLS-inspecting proxies): the
//! host trusts the CA certificates its config names, and says clearly when it does not.

use freebusy_core::api::FreeBusyResponse;
use freebusy_emulator::{demo, Emulator, Options};
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{ews_tenant, get, graph_tenant, stack_on};

const QUERY: &str = "mailboxes=room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z";

async fn ask(api: &str, tenant: &str) -> FreeBusyResponse {
    let (status, _, body) = get(&format!("{api}/v1/tenants/{tenant}/freebusy?{QUERY}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn tenants(url: &str) -> String {
    format!(
        "{}{}",
        graph_tenant("contoso", url, demo::CLIENT_ID, demo::CLIENT_SECRET),
        ews_tenant("onprem", url, demo::EWS_PASSWORD)
    )
}

#[tokio::test]
async fn an_upstream_signed_by_a_configured_ca_is_trusted() {
    let (emulator, ca) = Emulator::start_tls(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    assert!(emulator.base_url.starts_with("https://"));
    let ca_file = std::env::temp_dir().join(format!("freebusy-test-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca).unwrap();
    let runtime = RuntimeSettings { extra_ca_certificates: vec![ca_file], ..RuntimeSettings::default() };
    let stack = stack_on(emulator, runtime, tenants).await;
    for tenant in ["contoso", "onprem"] {
        let r = ask(&stack.api, tenant).await;
        assert_eq!(r.mailboxes[0].busy.as_ref().map(Vec::len), Some(3), "{tenant}: {:?}", r.mailboxes[0].error);
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_clear_tls_error_not_free() {
    let (emulator, _ca) = Emulator::start_tls(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let stack = stack_on(emulator, RuntimeSettings::default(), tenants).await;
    for tenant in ["contoso", "onprem"] {
        let r = ask(&stack.api, tenant).await;
        let err = r.mailboxes[0].error.as_ref().expect("an error, not an empty timeline");
        assert_eq!(err.code, freebusy_core::ErrorCode::Unavailable, "{tenant}");
        assert!(err.message.contains("TLS"), "{tenant}: {}", err.message);
        assert!(r.mailboxes[0].busy.is_none());
    }
}

/// A Graph tenant in the US Government cloud, by its real host names.
fn us_government(scope: Option<&str>) -> impl FnOnce(&str) -> String + '_ {
    move |_| {
        let mut text = graph_tenant("gcc", "", demo::CLIENT_ID, demo::CLIENT_SECRET)
            .replace("authority = \"\"", "authority = \"https://login.microsoftonline.us\"")
            .replace("graph_base_url = \"\"", "graph_base_url = \"https://graph.microsoft.us\"")
            .replace("[tenants.gcc]", "[tenants.contoso]")
            .replace("[tenants.gcc.settings]", "[tenants.contoso.settings]");
        if let Some(scope) = scope {
            text.push_str(&format!("graph_scope = \"{scope}\"\n"));
        }
        text
    }
}

/// The TLS emulator, and a runtime that resolves the national cloud's host names to it and
/// trusts its CA: the provider speaks to https://login.microsoftonline.us and
/// https://graph.microsoft.us exactly as in production.
async fn national_cloud_runtime() -> (Emulator, RuntimeSettings) {
    let (emulator, ca) = Emulator::start_tls(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let addr: std::net::SocketAddr = emulator.base_url.trim_start_matches("https://").parse().unwrap();
    let ca_file = std::env::temp_dir().join(format!("freebusy-cloud-ca-{}.pem", addr.port()));
    std::fs::write(&ca_file, ca).unwrap();
    let resolve = ["login.microsoftonline.us", "graph.microsoft.us"].iter().map(|h| (h.to_string(), addr)).collect();
    (emulator, RuntimeSettings { extra_ca_certificates: vec![ca_file], resolve, ..RuntimeSettings::default() })
}

#[tokio::test]
async fn a_us_government_tenant_gets_tokens_and_free_busy_from_its_own_cloud() {
    let (emulator, runtime) = national_cloud_runtime().await;
    let stack = stack_on(emulator, runtime, us_government(None)).await;
    let r = ask(&stack.api, "contoso").await;
    assert_eq!(r.mailboxes[0].busy.as_ref().map(Vec::len), Some(3), "{:?}", r.mailboxes[0].error);
    assert_eq!(stack.emulator.stats().token_requests, 1);
}

#[tokio::test]
async fn a_token_for_the_global_graph_is_refused_in_a_national_cloud() {
    // Scopes must name the national cloud's Graph: the US Government authority will not issue a
    // token for graph.microsoft.com (AADSTS500011), and the call fails as an auth error.
    let (emulator, runtime) = national_cloud_runtime().await;
    let stack = stack_on(emulator, runtime, us_government(Some("https://graph.microsoft.com/.default"))).await;
    let r = ask(&stack.api, "contoso").await;
    let err = r.mailboxes[0].error.as_ref().expect("refused, not free");
    assert_eq!(err.code, freebusy_core::ErrorCode::AuthFailed, "{}", err.message);
    assert!(err.message.contains("AADSTS500011"), "{}", err.message);
}
