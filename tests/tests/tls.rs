//! HTTPS upstreams signed by an internal CA (on-premises Exchange, TLS-inspecting proxies): the
//! host trusts the CA certificates its config names, and says clearly when it does not.

use freebusy_core::api::FreeBusyResponse;
use freebusy_emulator::{demo, Emulator, Options};
use freebusy_host::runtime::RuntimeConfig;
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
    let runtime = RuntimeConfig { extra_ca_certificates: vec![ca_file], ..RuntimeConfig::default() };
    let stack = stack_on(emulator, runtime, tenants).await;
    for tenant in ["contoso", "onprem"] {
        let r = ask(&stack.api, tenant).await;
        assert_eq!(r.mailboxes[0].busy.as_ref().map(Vec::len), Some(3), "{tenant}: {:?}", r.mailboxes[0].error);
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_clear_tls_error_not_free() {
    let (emulator, _ca) = Emulator::start_tls(([127, 0, 0, 1], 0).into(), Options::default()).await.unwrap();
    let stack = stack_on(emulator, RuntimeConfig::default(), tenants).await;
    for tenant in ["contoso", "onprem"] {
        let r = ask(&stack.api, tenant).await;
        let err = r.mailboxes[0].error.as_ref().expect("an error, not an empty timeline");
        assert_eq!(err.code, "unavailable", "{tenant}");
        assert!(err.message.contains("TLS"), "{tenant}: {}", err.message);
        assert!(r.mailboxes[0].busy.is_none());
    }
}
