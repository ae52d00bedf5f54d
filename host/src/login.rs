//! `freebusy login`: a user signs in once for a tenant that uses delegated access, by the device
//! code flow (for servers without a browser) or in a browser with the authorization code flow
//! and PKCE on a localhost redirect (`http://localhost:8000`, as admins register it). The refresh
//! token lands in the tenant's `refresh_token = { file = "..." }`, readable by its owner only;
//! the provider rotates it on use and the host writes the new one back.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl, PkceCodeChallenge, RedirectUrl,
    RequestTokenError, Scope, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{LoadedConfig, SettingValue};
use crate::files::write_private_file;

const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// Who signs in where, and where the refresh token goes.
#[derive(Debug, Clone)]
pub struct LoginParams {
    /// Identity platform host.
    pub authority: String,
    /// Tenant id or domain.
    pub tenant: String,
    /// Application (client) id of a registration with "Allow public client flows".
    pub client_id: String,
    /// Scopes to ask for, `offline_access` included.
    pub scopes: Vec<String>,
    /// File the refresh token is written to.
    pub token_file: PathBuf,
}

/// Login parameters for a configured tenant.
pub fn params_for(loaded: &LoadedConfig, tenant: &str) -> anyhow::Result<LoginParams> {
    let section = loaded.config.tenants.get(tenant).with_context(|| format!("no tenant named '{tenant}'"))?;
    let literal = |name: &str| -> anyhow::Result<Option<String>> {
        section.settings.get(name).map(|v| v.resolve(&loaded.base_dir)).transpose()
    };
    let token_file = match section.settings.get("refresh_token") {
        Some(SettingValue::File { file }) => loaded.base_dir.join(file),
        _ => bail!("tenant '{tenant}' needs refresh_token = {{ file = \"...\" }} in its settings: that is where the sign-in is stored"),
    };
    let scopes = match section.provider.as_str() {
        "ews" => vec!["https://outlook.office365.com/EWS.AccessAsUser.All".to_string()],
        _ => {
            let graph = literal("graph_base_url")?.unwrap_or_else(|| "https://graph.microsoft.com".into());
            let graph = graph.trim_end_matches('/');
            let known = [
                "https://graph.microsoft.us",
                "https://dod-graph.microsoft.us",
                "https://microsoftgraph.chinacloudapi.cn",
            ];
            let resource =
                known.iter().find(|k| k.eq_ignore_ascii_case(graph)).copied().unwrap_or("https://graph.microsoft.com");
            vec![format!("{resource}/.default")]
        }
    };
    Ok(LoginParams {
        authority: literal("authority")?.unwrap_or_else(|| DEFAULT_AUTHORITY.into()).trim_end_matches('/').to_string(),
        tenant: literal("tenant_id")?.context("setting 'tenant_id' is required")?,
        client_id: literal("client_id")?.context("setting 'client_id' is required")?,
        scopes: scopes.into_iter().chain(["offline_access".to_string()]).collect(),
        token_file,
    })
}

fn http_client() -> anyhow::Result<reqwest::Client> {
    // oauth2 requires that redirects are not followed (SSRF protection).
    Ok(reqwest::ClientBuilder::new().redirect(reqwest::redirect::Policy::none()).build()?)
}

fn endpoint(p: &LoginParams, path: &str) -> String {
    format!("{}/{}/oauth2/v2.0/{path}", p.authority, p.tenant)
}

/// Entra's error in words (its description's first line), never the request's secrets.
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

fn store(p: &LoginParams, token: &impl TokenResponse) -> anyhow::Result<()> {
    let refresh =
        token.refresh_token().context("the identity platform issued no refresh token (is offline_access allowed?)")?;
    write_private_file(&p.token_file, refresh.secret()).with_context(|| format!("writing {}", p.token_file.display()))
}

/// Device code flow: `show` gets the instruction for the user; returns once they signed in.
pub async fn device_code(p: &LoginParams, show: impl Fn(&str)) -> anyhow::Result<()> {
    let client = BasicClient::new(ClientId::new(p.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_device_authorization_url(DeviceAuthorizationUrl::new(endpoint(p, "devicecode"))?)
        .set_token_uri(TokenUrl::new(endpoint(p, "token"))?);
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
    store(p, &token)
}

/// Authorization code flow with PKCE: `show` gets the URL to open; the browser comes back to
/// `http://localhost:<port>`. `login_hint` pre-fills the user.
pub async fn browser(p: &LoginParams, port: u16, login_hint: Option<&str>, show: impl Fn(&str)) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on localhost:{port}"))?;
    let port = listener.local_addr()?.port();
    let client = BasicClient::new(ClientId::new(p.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::new(endpoint(p, "authorize"))?)
        .set_token_uri(TokenUrl::new(endpoint(p, "token"))?)
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
    store(p, &token)
}
