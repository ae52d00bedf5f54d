//! `freebusy login`: a user signs in once for a tenant that uses delegated access, by the device
//! code flow (for servers without a browser) or in a browser with the authorization code flow
//! and PKCE on a localhost redirect (`http://localhost:8000`, as admins register it). Where and
//! for which scopes comes from the tenant's provider (`delegated-sign-in` in the contract), so the
//! host knows no identity platform. The refresh token lands in the setting the provider names,
//! which must be `{ stored = true }`: it is sealed in the store (never written in plain text); the
//! provider rotates it on use and the host seals the new one in its place.

use anyhow::{anyhow, bail, Context as _};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl, PkceCodeChallenge, RedirectUrl,
    RequestTokenError, Scope, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{LoadedConfig, SettingValue};
use crate::runtime::{CallContext, Runtime};
use crate::store::Store;

/// Where a user signs in, for what, and where the refresh token goes.
#[derive(Debug, Clone)]
pub struct LoginParams {
    /// Authorization endpoint (browser sign-in).
    pub authorization_url: String,
    /// Device authorization endpoint.
    pub device_authorization_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// Application (client) id of a registration with "Allow public client flows".
    pub client_id: String,
    /// Scopes to ask for, `offline_access` included.
    pub scopes: Vec<String>,
    /// The tenant signing in.
    pub tenant: String,
    /// The setting the refresh token is stored as (sealed).
    pub refresh_token_setting: String,
}

/// Login parameters for a configured tenant (in the file or the store), as its provider
/// describes them.
pub async fn params_for(
    loaded: &LoadedConfig,
    store: &Store,
    runtime: &Runtime,
    tenant: &str,
) -> anyhow::Result<LoginParams> {
    let stored = store.tenants()?.into_iter().find(|t| t.name == tenant).map(|t| t.section);
    let section =
        loaded.config.tenants.get(tenant).cloned().or(stored).with_context(|| format!("no tenant named '{tenant}'"))?;
    let path = loaded.component_path(&section.provider).context("the tenant's provider has no component")?;
    let provider = runtime.load_file(&path).await?;
    // Every setting that can be read; the one the sign-in produces may not exist yet.
    let mut settings = Vec::new();
    for (name, value) in &section.settings {
        if let SettingValue::Stored { .. } = value {
            if let Some(v) = store.secret(tenant, name)? {
                settings.push((name.clone(), v));
            }
            continue;
        }
        let resolved = value.resolve(&loaded.base_dir, || Ok(None)).with_context(|| format!("setting '{name}'"))?;
        settings.push((name.clone(), resolved));
    }
    let ctx = CallContext { settings, ..CallContext::empty() };
    let sign_in = provider
        .delegated_sign_in(&ctx)
        .await
        .with_context(|| format!("tenant '{tenant}': the {} provider", provider.info().name))?
        .with_context(|| {
            format!(
                "tenant '{tenant}' signs nobody in: with these settings the {} provider uses no delegated access \
                 (for the Graph and EWS providers set auth = \"delegated\")",
                provider.info().name
            )
        })?;
    if !matches!(section.settings.get(&sign_in.refresh_token_setting), Some(SettingValue::Stored { .. })) {
        bail!(
            "tenant '{tenant}' needs {} = {{ stored = true }} in its settings: freebusy keeps the tokens it receives \
             sealed in its store, never in plain text",
            sign_in.refresh_token_setting
        );
    }
    // Fail before the user signs in, not after.
    if !store.can_seal() {
        return Err(crate::store::StoreError::NoSealKey.into());
    }
    Ok(LoginParams {
        authorization_url: sign_in.authorization_url,
        device_authorization_url: sign_in.device_authorization_url,
        token_url: sign_in.token_url,
        client_id: sign_in.client_id,
        scopes: sign_in.scopes,
        tenant: tenant.to_string(),
        refresh_token_setting: sign_in.refresh_token_setting,
    })
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    // oauth2 requires that redirects are not followed (SSRF protection).
    Ok(reqwest::ClientBuilder::new().redirect(reqwest::redirect::Policy::none()).build()?)
}

/// The identity platform's error in words (its description's first line), never the request's secrets.
fn describe<E: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    e: RequestTokenError<E, T>,
) -> anyhow::Error {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let json = serde_json::to_value(&r).unwrap_or_default();
            let text = json["error_description"].as_str().or(json["error"].as_str()).unwrap_or("sign-in failed");
            anyhow!("{}", text.lines().next().unwrap_or(text).trim())
        }
        other => anyhow!("sign-in failed: {other}"),
    }
}

fn keep(p: &LoginParams, store: &Store, token: &impl TokenResponse) -> anyhow::Result<()> {
    let refresh =
        token.refresh_token().context("the identity platform issued no refresh token (is offline_access allowed?)")?;
    let now = chrono::Utc::now().timestamp_millis();
    store.put_secret(&p.tenant, &p.refresh_token_setting, refresh.secret(), now).context("storing the sign-in")?;
    Ok(())
}

/// Device code flow: `show` gets the instruction for the user; returns once they signed in.
pub async fn device_code(p: &LoginParams, store: &Store, show: impl Fn(&str)) -> anyhow::Result<()> {
    let client = BasicClient::new(ClientId::new(p.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_device_authorization_url(DeviceAuthorizationUrl::new(p.device_authorization_url.clone())?)
        .set_token_uri(TokenUrl::new(p.token_url.clone())?);
    let http = http_client()?;
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scopes(p.scopes.iter().cloned().map(Scope::new))
        .request_async(&http)
        .await
        .map_err(describe)?;
    show(&format!(
        "To sign in, open {} and enter the code {}",
        details.verification_uri().as_str(),
        details.user_code().secret()
    ));
    // oauth2 waits the interval Entra gives, and longer on slow_down (RFC 8628).
    let token = client
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, None)
        .await
        .map_err(describe)?;
    keep(p, store, &token)
}

/// Authorization code flow with PKCE: `show` gets the URL to open; the browser comes back to
/// `http://localhost:<port>`. `login_hint` pre-fills the user.
pub async fn browser(
    p: &LoginParams,
    store: &Store,
    port: u16,
    login_hint: Option<&str>,
    show: impl Fn(&str),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on localhost:{port}"))?;
    let port = listener.local_addr()?.port();
    let client = BasicClient::new(ClientId::new(p.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::new(p.authorization_url.clone())?)
        .set_token_uri(TokenUrl::new(p.token_url.clone())?)
        .set_redirect_uri(RedirectUrl::new(format!("http://localhost:{port}"))?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(p.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    if let Some(hint) = login_hint {
        request = request.add_extra_param("login_hint", hint);
    }
    let (url, state) = request.url();
    show(url.as_str());

    let (mut stream, _) = listener.accept().await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_string();
    let target = line.split_whitespace().nth(1).unwrap_or("/");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let params: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let reply = if params.contains_key("code") {
        "Signed in to freebusy. You can close this window.\n"
    } else {
        "Sign-in failed; see the terminal.\n"
    };
    stream
        .write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .as_bytes(),
        )
        .await?;
    if let Some(error) = params.get("error") {
        bail!("sign-in failed: {error}: {}", params.get("error_description").map(String::as_str).unwrap_or(""));
    }
    if params.get("state") != Some(state.secret()) {
        bail!("sign-in failed: the redirect's state does not match (a stale or forged redirect)");
    }
    let code = params.get("code").context("the redirect carried no authorization code")?;
    let token = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http_client()?)
        .await
        .map_err(describe)?;
    keep(p, store, &token)
}
