//! Microsoft identity platform v2 token endpoint: the client-credentials grant with a client
//! secret, and its error responses
//! (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow; AADSTS codes from
//! https://learn.microsoft.com/entra/identity-platform/reference-error-codes).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde_json::json;

use crate::State as Emu;

/// A token the emulator issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub tenant_id: String,
    pub client_id: String,
    pub audience: String,
    /// Application permissions (app-only tokens).
    pub roles: Vec<String>,
    /// Delegated permissions (`scp`, user tokens).
    pub scopes: Vec<String>,
    /// The signed-in user's address (user tokens).
    pub user: Option<String>,
    pub expires: DateTime<Utc>,
}

pub(crate) fn random_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// An Entra error body: `error`, `error_description` ending in trace/correlation ids and a
/// timestamp, `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.
pub(crate) fn error(status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    let now = Utc::now();
    let (trace, correlation) = (random_id(), random_id());
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {message}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {}",
            now.format("%Y-%m-%d %H:%M:%SZ")
        ),
        "error_codes": [code],
        "timestamp": now.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, Json(body)).into_response()
}

/// The endpoint down ([`crate::Fault::TokenUnavailable`]): `status` (5xx) with the OAuth error
/// `temporarily_unavailable`, whose meaning the error table of
/// https://learn.microsoft.com/entra/identity-platform/reference-error-codes gives as "The server
/// is temporarily too busy to handle the request". No AADSTS number: none is documented for it.
fn unavailable(status: u16) -> Response {
    let now = Utc::now();
    let (trace, correlation) = (random_id(), random_id());
    let body = json!({
        "error": "temporarily_unavailable",
        "error_description": format!(
            "The server is temporarily too busy to handle the request. Retry the request after a small delay.\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {}",
            now.format("%Y-%m-%d %H:%M:%SZ")
        ),
        "timestamp": now.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": trace,
        "correlation_id": correlation,
    });
    let status =
        StatusCode::from_u16(status).ok().filter(|s| s.is_server_error()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    (status, Json(body)).into_response()
}

/// Client credentials from the form or from HTTP Basic authentication (RFC 6749 §2.3.1, which
/// the endpoint also accepts).
fn client_credentials(form: &HashMap<String, String>, headers: &HeaderMap) -> (Option<String>, Option<String>) {
    if let Some(basic) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
    {
        if let Some((id, secret)) = basic.split_once(':') {
            return (Some(id.to_string()), Some(secret.to_string()));
        }
    }
    (form.get("client_id").cloned(), form.get("client_secret").cloned())
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(
    State(emu): State<Arc<Emu>>,
    Path(tenant_name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    crate::count_token_request(&emu);
    if let Some(crate::Fault::TokenUnavailable { status }) = emu.next_fault_for(crate::FaultTarget::Token) {
        return unavailable(status);
    }
    let Some(tenant) = emu.tenant(&tenant_name) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant_name}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
        );
    };
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(grant @ ("refresh_token" | "authorization_code" | "urn:ietf:params:oauth:grant-type:device_code")) => {
            return crate::delegated::grant(&emu, tenant, grant, &form)
        }
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            )
        }
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        }
    }
    let (client_id, secret) = client_credentials(&form, &headers);
    let Some(client_id) = client_id else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    if tenant.apps.iter().all(|a| !a.client_id.eq_ignore_ascii_case(&client_id)) {
        if let Some(app) = emu.multi_tenant_apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(&client_id)) {
            return multi_tenant_token(&emu, tenant, app, secret.as_deref(), &form, &headers);
        }
    }
    let Some(app) = tenant.apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(&client_id)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", tenant.display_name),
        );
    };
    if let Some(assertion) = form.get("client_assertion") {
        let scheme = if emu.tls.load(std::sync::atomic::Ordering::Relaxed) { "https" } else { "http" };
        let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("login.microsoftonline.com");
        let audiences = [
            format!("{scheme}://{host}/{tenant_name}/oauth2/v2.0/token"),
            format!("{scheme}://{host}/{}/oauth2/v2.0/token", tenant.id),
        ];
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                700023,
                "The client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            );
        }
        if let Err(resp) = verify_assertion(app, assertion, &audiences) {
            return resp;
        }
    } else {
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        };
        let rejected = emu.next_fault_where(|f| matches!(f, crate::Fault::SecretRejected)).is_some();
        if secret != app.secret || rejected {
            return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", app.client_id),
        );
        }
        if app.secret_expires <= Utc::now() {
            return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000222,
            &format!("The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", app.client_id),
        );
        }
    }
    // Client credentials take exactly one `<resource>/.default` scope.
    let scope = form.get("scope").map(String::as_str).unwrap_or("");
    let host_header = headers.get("host").and_then(|h| h.to_str().ok());
    let resource = scope.strip_suffix("/.default");
    if let Some(r) = resource {
        if let Err(crate::clouds::ResourceRefusal::OtherCloud) = crate::clouds::check_resource(host_header, r) {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_resource",
                500011,
                &format!("The resource principal named {r} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", tenant.display_name),
            );
        }
    }
    let Some(resource) = resource.filter(|r| crate::clouds::check_resource(host_header, r).is_ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            &format!("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid: '{scope}'. The scope for the client credentials flow must be a resource identifier followed by /.default."),
        );
    };
    // Roles are those consented for the token's resource.
    let roles =
        if resource == "https://outlook.office365.com" { app.exchange_roles.clone() } else { app.roles.clone() };
    issue(&emu, resource, tenant, app, roles)
}

/// Client credentials for a multi-tenant app in a customer tenant: its secret, then the customer's
/// consent (https://learn.microsoft.com/entra/identity-platform/v2-admin-consent): without one
/// AADSTS700016, while it takes effect AADSTS7000229, then a token with the consented roles (none
/// when the admin consented without the application permissions).
fn multi_tenant_token(
    emu: &Emu,
    tenant: &crate::tenant::Tenant,
    app: &crate::consent::MultiTenantApp,
    secret: Option<&str>,
    form: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let rejected = emu.next_fault_where(|f| matches!(f, crate::Fault::SecretRejected)).is_some();
    if secret != Some(app.secret.as_str()) || rejected {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", app.client_id),
        );
    }
    let roles = match crate::consent::roles_for(emu, tenant, &app.client_id) {
        Ok(roles) => roles,
        Err((code, message)) => return error(StatusCode::BAD_REQUEST, "unauthorized_client", code, &message),
    };
    let scope = form.get("scope").map(String::as_str).unwrap_or("");
    let host_header = headers.get("host").and_then(|h| h.to_str().ok());
    let Some(resource) =
        scope.strip_suffix("/.default").filter(|r| crate::clouds::check_resource(host_header, r).is_ok())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            &format!("The provided value for the input parameter 'scope' is not valid: '{scope}'. The scope for the client credentials flow must be a resource identifier followed by /.default."),
        );
    };
    let registered = crate::tenant::App {
        client_id: app.client_id.clone(),
        display_name: app.display_name.clone(),
        secret: app.secret.clone(),
        secret_expires: Utc::now() + Duration::days(365),
        roles: roles.clone(),
        exchange_roles: Vec::new(),
        certificates: Vec::new(),
        public_client: false,
        delegated_scopes: Vec::new(),
        delegated_exchange_scopes: Vec::new(),
    };
    issue(emu, resource, tenant, &registered, roles)
}

/// An app-only access token for `resource`, remembered for the resource servers.
fn issue(
    emu: &Emu,
    resource: &str,
    tenant: &crate::tenant::Tenant,
    app: &crate::tenant::App,
    roles: Vec<String>,
) -> Response {
    let now = Utc::now();
    let expires = now + Duration::seconds(emu.token_lifetime_secs);
    let access_token = if emu.opaque_tokens {
        format!("EwB{}", random_id())
    } else {
        jwt(resource, tenant, app, &roles, now, expires)
    };
    emu.tokens.lock().expect("token table").insert(
        access_token.clone(),
        IssuedToken {
            tenant_id: tenant.id.clone(),
            client_id: app.client_id.clone(),
            audience: resource.to_string(),
            roles,
            scopes: Vec::new(),
            user: None,
            expires,
        },
    );
    Json(json!({
        "token_type": "Bearer",
        "expires_in": emu.token_lifetime_secs,
        "ext_expires_in": emu.token_lifetime_secs,
        "access_token": access_token,
    }))
    .into_response()
}

/// A JWT-shaped token with the claims a real app-only token carries. Its signature is random:
/// the emulator recognises its own tokens by lookup, and clients must not verify access tokens.
fn jwt(
    audience: &str,
    tenant: &crate::tenant::Tenant,
    app: &crate::tenant::App,
    roles: &[String],
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> String {
    signed(json!({
        "aud": audience,
        "iss": format!("https://sts.windows.net/{}/", tenant.id),
        "iat": now.timestamp(), "nbf": now.timestamp(), "exp": expires.timestamp(),
        "app_displayname": app.display_name,
        "appid": app.client_id,
        "idtyp": "app",
        "oid": random_id(),
        "roles": roles,
        "tid": tenant.id,
        "ver": "1.0",
    }))
}

/// A JWT-shaped token carrying `claims`, with a random signature (see [`jwt`]).
pub(crate) fn signed(claims: serde_json::Value) -> String {
    let enc = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let header = enc(json!({"typ": "JWT", "alg": "RS256", "kid": "freebusy-emulator"}));
    let mut sig = [0u8; 64];
    rand::rng().fill_bytes(&mut sig);
    format!("{header}.{}.{}", enc(claims), base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig))
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`: the tenant's OpenID Connect metadata,
/// which MSAL reads to find the token, authorization and device-code endpoints (MSAL's tenant
/// discovery; the endpoints of https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
/// and https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code).
pub async fn openid_configuration(
    State(emu): State<Arc<Emu>>,
    Path(tenant_name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(tenant) = emu.tenant(&tenant_name) else {
        return error(StatusCode::BAD_REQUEST, "invalid_tenant", 90002, &format!("Tenant '{tenant_name}' not found."));
    };
    let scheme = if emu.tls.load(std::sync::atomic::Ordering::Relaxed) { "https" } else { "http" };
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("login.microsoftonline.com");
    let base = format!("{scheme}://{host}/{}", tenant.id);
    Json(json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{scheme}://{host}/{}/discovery/v2.0/keys", tenant.id),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{scheme}://{host}/{}/v2.0", tenant.id),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver", "oid"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    }))
    .into_response()
}

/// Check a JWT client assertion (https://learn.microsoft.com/entra/identity-platform/certificate-credentials): signed
/// RS256 or PS256 by a certificate registered on the app (found by `x5t#S256`, or the older SHA-1 `x5t`),
/// for this token endpoint, issued by and about the client, and within its time range.
fn verify_assertion(app: &crate::tenant::App, assertion: &str, audiences: &[String]) -> Result<(), Response> {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    use sha2::Digest;
    let invalid = |code: u32, m: &str| error(StatusCode::UNAUTHORIZED, "invalid_client", code, m);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(invalid(700027, "Client assertion is not a JWT."));
    };
    let decode = |part: &str| b64.decode(part).ok().and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let (Some(head), Some(body), Ok(sig)) = (decode(header), decode(claims), b64.decode(signature)) else {
        return Err(invalid(700027, "Client assertion is not a well-formed JWT."));
    };
    let thumb256 = head["x5t#S256"].as_str();
    let thumb1 = head["x5t"].as_str();
    let Some(cert) = app.certificates.iter().find(|c| {
        thumb256 == Some(b64.encode(sha2::Sha256::digest(&c.der)).as_str())
            || thumb1 == Some(b64.encode(<sha1::Sha1 as sha1::Digest>::digest(&c.der)).as_str())
    }) else {
        return Err(invalid(700027, &format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}']", thumb256.or(thumb1).unwrap_or(""))));
    };
    let key = rsa::RsaPublicKey::from_public_key_der(&cert.public_key_der)
        .map_err(|_| invalid(700027, "The registered key is not an RSA key."))?;
    let message = format!("{header}.{claims}");
    let verified = match head["alg"].as_str() {
        Some("RS256") => rsa::pkcs1v15::Signature::try_from(sig.as_slice())
            .map(|s| rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key).verify(message.as_bytes(), &s).is_ok())
            .unwrap_or(false),
        Some("PS256") => rsa::pss::Signature::try_from(sig.as_slice())
            .map(|s| rsa::pss::VerifyingKey::<sha2::Sha256>::new(key).verify(message.as_bytes(), &s).is_ok())
            .unwrap_or(false),
        _ => false,
    };
    if !verified {
        return Err(invalid(700027, "Client assertion failed signature validation."));
    }
    if !body["aud"].as_str().is_some_and(|a| audiences.iter().any(|x| x == a)) {
        return Err(invalid(700021, "Client assertion audience claim does not match Realm issuer."));
    }
    if body["iss"].as_str() != Some(app.client_id.as_str()) || body["sub"].as_str() != Some(app.client_id.as_str()) {
        return Err(invalid(700023, "Client assertion issuer and subject must be the client id."));
    }
    let now = Utc::now().timestamp();
    let (nbf, exp) = (body["nbf"].as_i64().unwrap_or(0), body["exp"].as_i64().unwrap_or(0));
    if exp <= now || nbf > now + 300 {
        return Err(invalid(700024, "Client assertion is not within its valid time range."));
    }
    Ok(())
}
