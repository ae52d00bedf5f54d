//! Delegated (user) sign-in at the v2 endpoint: the device code flow
//! (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code), the authorization code flow with PKCE,
//! and the refresh-token grant with rotation, expiry and revocation
//! (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow). The emulator has no sign-in page:
//! the test (or demo) approves a device code through [`crate::Emulator::approve_device_code`], and `/authorize`
//! signs in the user named by `login_hint` at once.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::entra::{error, random_id, signed, IssuedToken};
use crate::tenant::{App, Tenant};
use crate::State as Emu;

/// A device code waiting for its user.
#[derive(Debug, Clone)]
pub struct DeviceGrant {
    pub user_code: String,
    pub tenant_id: String,
    pub client_id: String,
    pub scope: String,
    pub expires: DateTime<Utc>,
    pub approved_user: Option<String>,
    pub polls: u32,
    /// When the client last polled, to tell it to slow down when it polls too often.
    pub last_poll: Option<DateTime<Utc>>,
}

/// An authorization code waiting to be redeemed.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub tenant_id: String,
    pub client_id: String,
    pub user: String,
    pub scope: String,
    pub redirect_uri: String,
    pub challenge: String,
    pub expires: DateTime<Utc>,
}

/// A refresh token's grant.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub tenant_id: String,
    pub client_id: String,
    pub user: String,
    pub scope: String,
    pub expires: DateTime<Utc>,
    pub revoked: bool,
}

/// Delegated sign-in state.
#[derive(Default)]
pub struct Delegated {
    pub device_codes: HashMap<String, DeviceGrant>,
    pub auth_codes: HashMap<String, AuthCode>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
}

fn app<'a>(tenant: &'a Tenant, client_id: &str) -> Result<&'a App, Response> {
    tenant.apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(client_id) && a.public_client).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", tenant.display_name),
        )
    })
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`
/// (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code).
pub async fn devicecode(
    State(emu): State<Arc<Emu>>,
    Path(tenant_name): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(tenant) = emu.tenant(&tenant_name) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", 90002, &format!("Tenant '{tenant_name}' not found."));
    };
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    if let Err(resp) = app(tenant, &client_id) {
        return resp;
    }
    let user_code: String = random_id().replace('-', "").chars().take(9).collect::<String>().to_uppercase();
    let device_code = format!("DAQABAAEAAA{}", random_id().replace('-', ""));
    let interval = emu.device_code_interval_secs;
    emu.delegated.lock().expect("delegated").device_codes.insert(
        device_code.clone(),
        DeviceGrant {
            user_code: user_code.clone(),
            tenant_id: tenant.id.clone(),
            client_id,
            scope: form.get("scope").cloned().unwrap_or_default(),
            expires: Utc::now() + Duration::seconds(emu.device_code_lifetime_secs),
            approved_user: None,
            polls: 0,
            last_poll: None,
        },
    );
    Json(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": emu.device_code_lifetime_secs,
        "interval": interval,
        "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: signs in `login_hint` and redirects with a code.
pub async fn authorize(
    State(emu): State<Arc<Emu>>,
    Path(tenant_name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let bad = |m: &str| (StatusCode::BAD_REQUEST, m.to_string()).into_response();
    let Some(tenant) = emu.tenant(&tenant_name) else { return bad("unknown tenant") };
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    if app(tenant, &client_id).is_err() {
        return bad("AADSTS700016: unknown application");
    }
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    // Public clients may use any port on a loopback redirect URI.
    if !(redirect_uri.starts_with("http://localhost") || redirect_uri.starts_with("http://127.0.0.1")) {
        return bad("AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured for the application.");
    }
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") || !q.contains_key("code_challenge") {
        return bad(
            "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        );
    }
    let Some(user) = q.get("login_hint").and_then(|u| tenant.mailbox(u)).map(|m| m.address.clone()) else {
        return bad("the emulator signs in the user named by login_hint, which must be a mailbox of the tenant");
    };
    let code = format!("0.A{}", random_id().replace('-', ""));
    emu.delegated.lock().expect("delegated").auth_codes.insert(
        code.clone(),
        AuthCode {
            tenant_id: tenant.id.clone(),
            client_id,
            user,
            scope: q.get("scope").cloned().unwrap_or_default(),
            redirect_uri: redirect_uri.clone(),
            challenge: q.get("code_challenge").cloned().unwrap_or_default(),
            expires: Utc::now() + Duration::minutes(10),
        },
    );
    let state = q
        .get("state")
        .map(|s| format!("&state={}", form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()))
        .unwrap_or_default();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    (StatusCode::FOUND, [(header::LOCATION, format!("{redirect_uri}{sep}code={code}{state}"))]).into_response()
}

/// The token endpoint's delegated grants.
pub(crate) fn grant(emu: &Emu, tenant: &Tenant, grant: &str, form: &HashMap<String, String>) -> Response {
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    let app = match app(tenant, &client_id) {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let mut state = emu.delegated.lock().expect("delegated");
    let (user, scope) = match grant {
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let code = form.get("device_code").cloned().unwrap_or_default();
            let Some(device) = state.device_codes.get_mut(&code) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "bad_verification_code",
                    70019,
                    "The provided value for the input parameter 'device_code' is not valid.",
                );
            };
            device.polls += 1;
            let now = Utc::now();
            if device.expires <= now {
                return error(StatusCode::BAD_REQUEST, "expired_token", 70019, "Verification code expired.");
            }
            // RFC 8628 slow_down for a client that polls before the interval has passed; Entra's table
            // (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code) does not list it, but clients
            // must handle it [I].
            let interval = Duration::seconds(emu.device_code_interval_secs as i64);
            let too_soon = device.last_poll.is_some_and(|last| now - last < interval);
            device.last_poll = Some(now);
            if too_soon {
                return error(
                    StatusCode::BAD_REQUEST,
                    "slow_down",
                    70016,
                    "OAuth 2.0 device flow error. Polling too frequently: wait the interval between requests.",
                );
            }
            let Some(user) = device.approved_user.clone() else {
                // The real wording and envelope of a pending answer (toblum/ESPTeamsPresence#49,
                // AzureAD/azure-activedirectory-library-for-nodejs#137).
                return error(
                    StatusCode::BAD_REQUEST,
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                );
            };
            let scope = device.scope.clone();
            state.device_codes.remove(&code);
            (user, scope)
        }
        "authorization_code" => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(auth) =
                state.auth_codes.remove(&code).filter(|c| c.expires > Utc::now() && c.client_id == client_id)
            else {
                return error(StatusCode::BAD_REQUEST, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.");
            };
            if form.get("redirect_uri") != Some(&auth.redirect_uri) {
                return error(StatusCode::BAD_REQUEST, "invalid_grant", 50011, "The redirect URI specified in the request does not match the redirect URI used to obtain the authorization code.");
            }
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let digest = sha256(verifier.as_bytes());
            if base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) != auth.challenge {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                );
            }
            (auth.user, auth.scope)
        }
        _ => {
            let token = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(refresh) =
                state.refresh_tokens.get(&token).filter(|r| r.client_id.eq_ignore_ascii_case(&client_id)).cloned()
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                );
            };
            if refresh.revoked {
                return error(StatusCode::BAD_REQUEST, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.");
            }
            if refresh.expires <= Utc::now() {
                return error(StatusCode::BAD_REQUEST, "invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on a date more than 90 days ago and was inactive.");
            }
            let scope = form.get("scope").cloned().unwrap_or(refresh.scope);
            (refresh.user, scope)
        }
    };
    // Access is for one resource: the first scope names it (`https://graph.microsoft.com/...`
    // or `.default`); a bare permission name means Graph.
    let requested: Vec<&str> = scope.split_whitespace().collect();
    let resource = requested
        .iter()
        .filter_map(|s| s.rsplit_once('/').map(|(r, _)| r))
        .find(|r| r.starts_with("https://"))
        .unwrap_or("https://graph.microsoft.com")
        .to_string();
    let consented = if resource == "https://outlook.office365.com" {
        &app.delegated_exchange_scopes
    } else {
        &app.delegated_scopes
    };
    let wants_default = requested.iter().any(|s| s.ends_with("/.default"));
    let scopes: Vec<String> = consented
        .iter()
        .filter(|c| wants_default || requested.iter().any(|r| r.rsplit('/').next() == Some(c.as_str())))
        .cloned()
        .collect();
    let now = Utc::now();
    let expires = now + Duration::seconds(emu.token_lifetime_secs);
    let access_token = signed(json!({
        "aud": resource, "iss": format!("https://sts.windows.net/{}/", tenant.id),
        "iat": now.timestamp(), "nbf": now.timestamp(), "exp": expires.timestamp(),
        "appid": app.client_id, "idtyp": "user", "scp": scopes.join(" "), "tid": tenant.id,
        "upn": user, "oid": crate::tenant::object_id(&user), "ver": "1.0",
    }));
    emu.tokens.lock().expect("token table").insert(
        access_token.clone(),
        IssuedToken {
            tenant_id: tenant.id.clone(),
            client_id: app.client_id.clone(),
            audience: resource.clone(),
            roles: Vec::new(),
            scopes: scopes.clone(),
            user: Some(user.clone()),
            expires,
        },
    );
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scopes.iter().map(|s| format!("{resource}/{s}")).collect::<Vec<_>>().join(" "),
        "expires_in": emu.token_lifetime_secs,
        "ext_expires_in": emu.token_lifetime_secs,
        "access_token": access_token,
    });
    // A refresh token only with offline_access
    // (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow); a new one on every use.
    if requested.contains(&"offline_access") || grant == "refresh_token" {
        let refresh = format!("1.A{}{}", random_id().replace('-', ""), random_id().replace('-', ""));
        state.refresh_tokens.insert(
            refresh.clone(),
            RefreshGrant {
                tenant_id: tenant.id.clone(),
                client_id: app.client_id.clone(),
                user,
                scope: scope.clone(),
                expires: now + Duration::seconds(emu.refresh_token_lifetime_secs),
                revoked: false,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    Json(body).into_response()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
