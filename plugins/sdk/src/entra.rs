//! Microsoft identity platform v2 (Entra ID) tokens for providers: the client-credentials grant
//! (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow), cached in the key-value
//! store until shortly before expiry, and token-endpoint errors turned into messages an admin can act on
//! (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).

use base64::Engine as _;
use serde::Deserialize;

use crate::cache;
use crate::http::{self, Request};
use crate::types::ProviderError;

/// How a confidential client authenticates at the token endpoint.
pub enum ClientAuth<'a> {
    /// A client secret's value.
    Secret(&'a str),
    /// A certificate registered on the app and its private key (PEM, PKCS#8): the client sends a signed
    /// JWT assertion instead of a secret (https://learn.microsoft.com/entra/identity-platform/certificate-credentials).
    Certificate {
        /// The certificate registered on the app (PEM).
        certificate_pem: &'a str,
        /// Its private key (PEM, PKCS#8).
        private_key_pem: &'a str,
    },
}

/// Where to get a token and for what.
pub struct ClientCredentials<'a> {
    /// `https://login.microsoftonline.com` or a national cloud's authority host.
    pub authority: &'a str,
    /// Tenant id (GUID) or verified domain.
    pub tenant: &'a str,
    /// Application (client) id.
    pub client_id: &'a str,
    /// How the client proves itself. Never logged, never part of an error or a cache key.
    pub client_secret: ClientAuth<'a>,
    /// `<resource>/.default`, e.g. `https://graph.microsoft.com/.default`.
    pub scope: &'a str,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<String>,
}

#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

impl ClientCredentials<'_> {
    fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, http::encode_component(self.tenant))
    }

    fn cache_key(&self) -> String {
        format!("entra-token|{}|{}|{}|{}", self.authority, self.tenant, self.client_id, self.scope)
    }

    /// Forget the cached token (after the resource server rejected it).
    pub fn forget(&self) {
        cache::remove(&self.cache_key());
    }

    /// A valid access token: from the cache, or a new one from the token endpoint.
    pub fn token(&self) -> Result<String, ProviderError> {
        let key = self.cache_key();
        if let Some(token) = cache::get(&key) {
            return Ok(token);
        }
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("client_id", self.client_id)
            .append_pair("scope", self.scope)
            .append_pair("grant_type", "client_credentials");
        match &self.client_secret {
            ClientAuth::Secret(secret) => {
                form.append_pair("client_secret", secret);
            }
            ClientAuth::Certificate { certificate_pem, private_key_pem } => {
                let assertion = client_assertion(self.client_id, &self.token_url(), certificate_pem, private_key_pem)?;
                form.append_pair("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                    .append_pair("client_assertion", &assertion);
            }
        }
        let form = form.finish();
        let req = Request::new("POST", self.token_url()).body("application/x-www-form-urlencoded", form);
        let resp = http::send(&req).map_err(|e| ProviderError::Unavailable(format!("token endpoint: {e}")))?;
        if resp.status == 200 {
            let parsed: TokenResponse = serde_json::from_slice(&resp.body)
                .map_err(|_| ProviderError::Unavailable("token endpoint sent an unreadable token response".into()))?;
            cache::put(&key, &parsed.access_token, cache::now_ms() + cache_lifetime_ms(parsed.expires_in.as_ref()));
            return Ok(parsed.access_token);
        }
        Err(token_error(resp.status, &resp.body, resp.header("retry-after")))
    }
}

/// Longest token lifetime believed (Entra's configurable lifetimes end at a day).
const MAX_TOKEN_LIFETIME_S: i64 = 86_400;

/// How long a token answered with `expires_in` (3599 s when absent) is cached, in milliseconds:
/// renewed five minutes early (half the lifetime for short-lived tokens), so a token never
/// expires between the check and its use upstream. The lifetime is read within 0..=1 day: an
/// `expires_in` near `i64::MAX` overflowed this arithmetic (a panic in debug builds; a token
/// cached for ever or not at all in release ones).
fn cache_lifetime_ms(expires_in: Option<&serde_json::Value>) -> i64 {
    let lifetime_s = expires_in.and_then(seconds).unwrap_or(3599).clamp(0, MAX_TOKEN_LIFETIME_S);
    let margin_s = (lifetime_s / 2).min(300);
    (lifetime_s - margin_s) * 1000
}

fn seconds(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The first `AADSTSnnnn` code in a token error.
fn aadsts(err: &TokenError) -> Option<String> {
    if let Some(code) = err.error_codes.first() {
        return Some(format!("AADSTS{code}"));
    }
    let at = err.error_description.find("AADSTS")?;
    let digits: String = err.error_description[at + 6..].chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then(|| format!("AADSTS{digits}"))
}

/// The first line of Entra's description (the rest is trace and correlation ids).
fn first_line(description: &str) -> &str {
    description.split(['\r', '\n']).next().unwrap_or("").trim()
}

/// Map a token-endpoint failure to a provider error with an admin-facing explanation.
fn token_error(status: u16, body: &[u8], retry_after: Option<&str>) -> ProviderError {
    if status == 429 {
        return ProviderError::Throttled(http::retry_after_ms(retry_after));
    }
    let err: TokenError = serde_json::from_slice(body).unwrap_or_default();
    let code = aadsts(&err).unwrap_or_default();
    let said = first_line(&err.error_description);
    let hint = match code.as_str() {
        "AADSTS7000215" => "the client secret is wrong: use the secret's Value, not its Secret ID",
        "AADSTS7000222" => "the client secret has expired: create a new one under Certificates & secrets and update the config",
        "AADSTS700016" => "no application with this client id in this tenant: check client_id and tenant_id, or grant admin consent in this tenant",
        "AADSTS90002" => "the tenant does not exist: check tenant_id (a GUID or a verified domain)",
        "AADSTS65001" => "admin consent is missing (it can take up to two hours to take effect after granting)",
        "AADSTS7000229" => "the app has no service principal in this tenant yet: admin consent is missing or still being applied",
        "AADSTS70008" => "the refresh token has expired or was revoked",
        "AADSTS700082" => "the refresh token expired after a long time unused",
        "AADSTS70043" => "the refresh token expired under a Conditional Access sign-in frequency policy",
        "AADSTS70011" => "the scope is not valid for this flow",
        "AADSTS7000218" => "the request carries no client secret or certificate assertion",
        _ => "",
    };
    let message = match (code.is_empty(), hint.is_empty()) {
        (false, false) => format!("{code}: {hint} ({said})"),
        (false, true) => format!("{code}: {said}"),
        _ => format!("token endpoint answered HTTP {status} {}", err.error),
    };
    match (status, err.error.as_str()) {
        (500..=599, _) | (_, "temporarily_unavailable") => ProviderError::Unavailable(message),
        (_, "invalid_request") if code == "AADSTS90002" => ProviderError::Misconfigured(message),
        (_, "invalid_scope") => ProviderError::Misconfigured(message),
        _ => ProviderError::AuthFailed(message),
    }
}

/// The claims of an access token that is a readable JWT, without verifying it (the resource
/// server verifies; this only explains). Microsoft documents access tokens as opaque to clients:
/// tokens for its APIs may not be JWTs and may be encrypted
/// (https://learn.microsoft.com/entra/identity-platform/access-tokens), so `None` is normal.
pub fn token_claims(token: &str) -> Option<serde_json::Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok().filter(serde_json::Value::is_object)
}

/// The `roles` (application permissions) and `scp` (delegated scopes) of an access token, when
/// it can be read ([`token_claims`]).
pub fn token_permissions(token: &str) -> Option<Vec<String>> {
    let claims = token_claims(token)?;
    let mut out: Vec<String> = claims["roles"]
        .as_array()
        .map(|roles| roles.iter().filter_map(|r| r.as_str().map(String::from)).collect())
        .unwrap_or_default();
    if let Some(scp) = claims["scp"].as_str() {
        out.extend(scp.split(' ').filter(|s| !s.is_empty()).map(String::from));
    }
    Some(out)
}

/// The client authentication the settings describe: `client_certificate` and
/// `client_certificate_key`, or `client_secret`.
pub fn client_auth<'a>(settings: &crate::settings::Settings<'a>) -> Result<ClientAuth<'a>, ProviderError> {
    match (settings.get("client_certificate"), settings.get("client_certificate_key"), settings.get("client_secret")) {
        (Some(certificate_pem), Some(private_key_pem), _) => {
            Ok(ClientAuth::Certificate { certificate_pem, private_key_pem })
        }
        (Some(_), None, _) | (None, Some(_), _) => {
            Err(ProviderError::Misconfigured("client_certificate and client_certificate_key go together".into()))
        }
        (None, None, Some(secret)) => Ok(ClientAuth::Secret(secret)),
        (None, None, None) => Err(ProviderError::Misconfigured(
            "setting 'client_secret' (or client_certificate and client_certificate_key) is required".into(),
        )),
    }
}

/// A JWT client assertion (https://learn.microsoft.com/entra/identity-platform/certificate-credentials): header with
/// `x5t#S256` (the certificate's SHA-256 thumbprint) and claims `aud` (the token endpoint), `iss` = `sub` =
/// the client id, a unique `jti`, `nbf`/`iat` now and `exp` ten minutes on; signed RS256 (RSASSA
/// PKCS#1 v1.5, deterministic, so the component needs no randomness source for it).
fn client_assertion(
    client_id: &str,
    audience: &str,
    certificate_pem: &str,
    private_key_pem: &str,
) -> Result<String, ProviderError> {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use sha2::Digest;
    let bad = |what: &str| ProviderError::Misconfigured(format!("client certificate: {what}"));
    let (label, der) = rsa::pkcs8::der::pem::decode_vec(certificate_pem.trim().as_bytes())
        .map_err(|_| bad("client_certificate is not a PEM certificate"))?;
    if label != "CERTIFICATE" {
        return Err(bad("client_certificate must be a PEM CERTIFICATE"));
    }
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_key_pem.trim())
        .map_err(|_| bad("client_certificate_key is not an RSA private key in PKCS#8 PEM"))?;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = cache::now_ms() / 1000;
    let jti = {
        // jti only has to be unique; the clock's nanoseconds are (std::process::id() is not
        // available to a component).
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let seed = format!("{client_id}|{nanos}|{audience}");
        let h = sha2::Sha256::digest(seed.as_bytes());
        let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &x[0..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
    };
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t#S256": b64(&sha2::Sha256::digest(&der))});
    let claims = serde_json::json!({
        "aud": audience, "iss": client_id, "sub": client_id, "jti": jti,
        "nbf": now, "iat": now, "exp": now + 600,
    });
    let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
    let signature = signer.sign(signing_input.as_bytes());
    Ok(format!("{signing_input}.{}", b64(&signature.to_bytes())))
}

/// How a user of tenant `tenant` signs in at the identity platform `authority` for `scope` (space
/// separated; `offline_access` is added so the sign-in yields a refresh token): Entra's v2
/// endpoints for the device code flow (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code)
/// and the authorization code flow with PKCE
/// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow).
pub fn sign_in(authority: &str, tenant: &str, client_id: &str, scope: &str) -> crate::SignIn {
    let endpoint = |path: &str| format!("{authority}/{}/oauth2/v2.0/{path}", http::encode_component(tenant));
    let mut scopes: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
    if !scopes.iter().any(|s| s == "offline_access") {
        scopes.push("offline_access".into());
    }
    crate::SignIn {
        authorization_url: endpoint("authorize"),
        device_authorization_url: endpoint("devicecode"),
        token_url: endpoint("token"),
        client_id: client_id.to_string(),
        scopes,
        refresh_token_setting: REFRESH_TOKEN_SETTING.to_string(),
    }
}

/// A signed-in user's refresh token (delegated access), as `freebusy login` stores it.
pub struct RefreshToken<'a> {
    /// `https://login.microsoftonline.com` or a national cloud's authority host.
    pub authority: &'a str,
    /// Tenant id (GUID) or verified domain.
    pub tenant: &'a str,
    /// Application (client) id of the public client the user signed in to.
    pub client_id: &'a str,
    /// Only for confidential (web) app registrations; public clients have none.
    pub client_secret: Option<&'a str>,
    /// The refresh token from the settings; a rotated one in the key-value store wins.
    pub refresh_token: &'a str,
    /// For example `https://graph.microsoft.com/.default offline_access`.
    pub scope: &'a str,
}

/// Setting that holds the refresh token.
pub const REFRESH_TOKEN_SETTING: &str = "refresh_token";

impl RefreshToken<'_> {
    fn cache_key(&self) -> String {
        format!("entra-user-token|{}|{}|{}|{}", self.authority, self.tenant, self.client_id, self.scope)
    }

    /// A valid access token: cached, or redeemed from the refresh token, whose successor is
    /// stored for next time (Entra rotates refresh tokens:
    /// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow).
    pub fn token(&self) -> Result<String, ProviderError> {
        let key = self.cache_key();
        if let Some(token) = cache::get(&key) {
            return Ok(token);
        }
        let refresh = cache::updated_setting(REFRESH_TOKEN_SETTING).unwrap_or_else(|| self.refresh_token.to_string());
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("client_id", self.client_id)
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", &refresh)
            .append_pair("scope", self.scope);
        if let Some(secret) = self.client_secret {
            form.append_pair("client_secret", secret);
        }
        let url = format!("{}/{}/oauth2/v2.0/token", self.authority, http::encode_component(self.tenant));
        let req = Request::new("POST", url).body("application/x-www-form-urlencoded", form.finish());
        let resp = http::send(&req).map_err(|e| ProviderError::Unavailable(format!("token endpoint: {e}")))?;
        if resp.status != 200 {
            return Err(match token_error(resp.status, &resp.body, resp.header("retry-after")) {
                ProviderError::AuthFailed(m) => ProviderError::AuthFailed(format!(
                    "{m}; the signed-in user's refresh token no longer works: sign in again with `freebusy login`"
                )),
                other => other,
            });
        }
        let parsed: TokenResponse = serde_json::from_slice(&resp.body)
            .map_err(|_| ProviderError::Unavailable("token endpoint sent an unreadable token response".into()))?;
        if let Some(next) = parsed.refresh_token.as_deref().filter(|n| *n != refresh) {
            cache::update_setting(REFRESH_TOKEN_SETTING, next);
        }
        cache::put(&key, &parsed.access_token, cache::now_ms() + cache_lifetime_ms(parsed.expires_in.as_ref()));
        Ok(parsed.access_token)
    }

    /// Forget the cached access token.
    pub fn forget(&self) {
        cache::remove(&self.cache_key());
    }
}

/// App-only or delegated credentials.
pub enum Credentials<'a> {
    /// Client credentials (application permissions).
    App(ClientCredentials<'a>),
    /// A signed-in user's refresh token (delegated permissions).
    Delegated(RefreshToken<'a>),
}

impl Credentials<'_> {
    /// A valid access token.
    pub fn token(&self) -> Result<String, ProviderError> {
        match self {
            Credentials::App(c) => c.token(),
            Credentials::Delegated(c) => c.token(),
        }
    }

    /// Forget the cached access token.
    pub fn forget(&self) {
        match self {
            Credentials::App(c) => c.forget(),
            Credentials::Delegated(c) => c.forget(),
        }
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        match self {
            Credentials::App(c) => c.tenant,
            Credentials::Delegated(c) => c.tenant,
        }
    }
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_secret_names_the_code_and_what_to_do() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x","error_codes":[7000215]}"#;
        match token_error(401, body, None) {
            ProviderError::AuthFailed(m) => {
                assert!(m.starts_with("AADSTS7000215: the client secret is wrong"), "{m}");
                assert!(!m.contains("Trace ID"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn throttling_and_outages_are_not_auth_failures() {
        assert!(matches!(token_error(429, b"", Some("3")), ProviderError::Throttled(Some(3000))));
        assert!(matches!(token_error(503, b"<html>", None), ProviderError::Unavailable(_)));
    }
}
