//! Certificate credentials: the provider signs a JWT client assertion with the key of a
//! certificate registered on the app, instead of sending a secret.

use freebusy_core::api::FreeBusyResponse;
use freebusy_emulator::tenant::RegisteredCertificate;
use freebusy_emulator::{demo, Options};
use freebusy_host::runtime::RuntimeSettings;
use freebusy_tests::{get, start_with};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

/// A new RSA key and a self-signed certificate for it (PEM), plus what the app registration holds.
fn certificate() -> (String, String, RegisteredCertificate) {
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let key_pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let pair = rcgen::KeyPair::from_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "freebusy test app");
    let cert = params.self_signed(&pair).unwrap();
    let public_key_der = key.to_public_key().to_public_key_der().unwrap().as_bytes().to_vec();
    let registered = RegisteredCertificate { der: cert.der().to_vec(), public_key_der };
    (cert.pem(), key_pem, registered)
}

fn tenant(url: &str, dir: &std::path::Path) -> String {
    format!(
        r#"
[tenants.contoso]
provider = "graph"
[tenants.contoso.settings]
tenant_id = "{tenant}"
client_id = "{client}"
client_certificate = {{ file = "{dir}/app.crt" }}
client_certificate_key = {{ file = "{dir}/app.key" }}
authority = "{url}"
graph_base_url = "{url}"
"#,
        tenant = demo::TENANT_ID,
        client = demo::CLIENT_ID,
        dir = dir.display()
    )
}

async fn ask(api: &str) -> FreeBusyResponse {
    let (status, _, body) = get(&format!(
        "{api}/v1/freebusy?mailboxes=room.adams@contoso.com&start=2026-03-23T00:00:00Z&end=2026-03-31T00:00:00Z"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn files(test: &str, cert: &str, key: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("freebusy-cert-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("app.crt"), cert).unwrap();
    std::fs::write(dir.join("app.key"), key).unwrap();
    dir
}

#[tokio::test]
async fn a_registered_certificate_signs_in_without_a_secret() {
    let (cert, key, registered) = certificate();
    let mut tenant_model = demo::tenant();
    tenant_model.apps[0].certificates.push(registered);
    let dir = files("ok", &cert, &key);
    let stack =
        start_with(Options { tenants: vec![tenant_model], ..Options::default() }, RuntimeSettings::default(), |url| {
            tenant(url, &dir)
        })
        .await;
    let r = ask(&stack.api).await;
    assert_eq!(r.mailboxes[0].busy.as_ref().map(Vec::len), Some(3), "{:?}", r.mailboxes[0].error);
    assert_eq!(stack.emulator.stats().token_requests, 1);
}

#[tokio::test]
async fn an_unregistered_certificate_is_an_auth_failure_naming_aadsts700027() {
    let (cert, key, _not_registered) = certificate();
    let dir = files("unregistered", &cert, &key);
    let stack = start_with(Options::default(), RuntimeSettings::default(), |url| tenant(url, &dir)).await;
    let r = ask(&stack.api).await;
    let err = r.mailboxes[0].error.as_ref().expect("an auth error");
    assert_eq!(err.code, freebusy_core::ErrorCode::AuthFailed);
    assert!(err.message.contains("AADSTS700027"), "{}", err.message);
    assert!(!err.message.contains("PRIVATE KEY"));
}
