//! freebusy-ews: the Exchange Web Services provider component (GetUserAvailability).
//!
//! For Exchange Server on premises (Basic authentication) and, until Microsoft switches EWS off
//! there, Exchange Online (OAuth app-only with impersonation). Facts from
//! https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation
//! (GetUserAvailability), Learn "Control access to EWS in Exchange" (retirement),
//! Learn "Authenticate an EWS application by using OAuth" and "Configure impersonation" (impersonation), and the
//! schemas messages.xsd/types.xsd (as copied in jamesiarmes/php-ews src/assets/).

// Natively only the unit tests build; the Guest impl is exported on wasm alone.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod availability;
mod client;
mod directory;
mod soap;

#[cfg(test)]
#[path = "../../../core/src/fuzz_support.rs"]
mod fuzz_support;

use base64::Engine as _;
use freebusy_provider_sdk::entra::{ClientCredentials, RefreshToken};
use freebusy_provider_sdk::settings::Settings as Config;
use freebusy_provider_sdk::types::*;

/// EWS takes up to 100 mailboxes per GetUserAvailability
/// (https://learn.microsoft.com/exchange/client-developer/web-service-reference/getuseravailability-operation).
pub const MAX_MAILBOXES: u32 = 100;
/// The longest window any Exchange accepts (Exchange Online: 62 days). On premises the default
/// is 42; the `max_window_days` setting splits further inside the provider.
pub const MAX_WINDOW_DAYS: u32 = 62;
const DEFAULT_SERVER_WINDOW_DAYS: u32 = 42;

const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
const EXCHANGE_ONLINE_SCOPE: &str = "https://outlook.office365.com/.default";
/// Delegated EWS access (`EWS.AccessAsUser.All`: Learn "Authenticate an EWS application by using OAuth"), with a
/// refresh token.
const DELEGATED_SCOPE: &str = "https://outlook.office365.com/EWS.AccessAsUser.All offline_access";

/// How the provider authenticates.
pub(crate) enum Auth<'a> {
    /// On-premises Basic authentication with a service account.
    Basic { header: String },
    /// App-only OAuth (`full_access_as_app`), impersonating a mailbox per call.
    AppOnly { credentials: ClientCredentials<'a>, anchor: Option<&'a str> },
    /// A signed-in user (`EWS.AccessAsUser.All`), from the refresh token `freebusy login` stored.
    Delegated { credentials: RefreshToken<'a> },
}

/// Settings resolved for one call.
pub(crate) struct Connection<'a> {
    pub url: String,
    pub auth: Auth<'a>,
    pub server_version: &'a str,
    pub window_days: u32,
}

fn connection<'a>(s: &'a Config<'a>, authority: &'a str) -> Result<Connection<'a>, ProviderError> {
    let url = s.url("ews_url", "")?;
    let auth = match s.get("auth").unwrap_or("basic") {
        "basic" => {
            let user = s.required("username")?;
            let password = s.required("password")?;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Auth::Basic { header: format!("Basic {token}") }
        }
        "oauth" => Auth::AppOnly {
            credentials: ClientCredentials {
                authority,
                tenant: s.required("tenant_id")?,
                client_id: s.required("client_id")?,
                client_secret: freebusy_provider_sdk::entra::client_auth(s)?,
                scope: s.get("oauth_scope").unwrap_or(EXCHANGE_ONLINE_SCOPE),
            },
            anchor: s.get("impersonate_mailbox"),
        },
        "delegated" => Auth::Delegated {
            credentials: RefreshToken {
                authority,
                tenant: s.required("tenant_id")?,
                client_id: s.required("client_id")?,
                client_secret: s.get("client_secret"),
                refresh_token: s.required("refresh_token")?,
                scope: DELEGATED_SCOPE,
            },
        },
        other => {
            return Err(ProviderError::Misconfigured(format!(
                "setting 'auth' must be 'basic', 'oauth' or 'delegated', not '{other}'"
            )))
        }
    };
    let window_days = match s.get("max_window_days") {
        None => DEFAULT_SERVER_WINDOW_DAYS,
        Some(v) => v.parse::<u32>().ok().filter(|d| (1..=MAX_WINDOW_DAYS).contains(d)).ok_or_else(|| {
            ProviderError::Misconfigured(format!("setting 'max_window_days' must be 1..={MAX_WINDOW_DAYS}"))
        })?,
    };
    Ok(Connection { url, auth, server_version: s.get("server_version").unwrap_or("Exchange2013"), window_days })
}

use freebusy_provider_sdk::settings::spec as setting;

struct Ews;

impl freebusy_provider_sdk::Guest for Ews {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "ews".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Exchange free/busy through EWS GetUserAvailability (Exchange Server on premises; Exchange Online until EWS is retired there)".into(),
            limits: Limits {
                max_mailboxes: MAX_MAILBOXES,
                max_window_days: MAX_WINDOW_DAYS,
                upstream_max_mailboxes: MAX_MAILBOXES,
            },
            settings: vec![
                setting("ews_url", "EWS endpoint, e.g. https://mail.contoso.com/EWS/Exchange.asmx", true, false, None),
                setting("auth", "basic (on premises), oauth (app-only) or delegated (a user signed in with `freebusy login`)", false, false, Some("basic")),
                setting("refresh_token", "delegated: the refresh token `freebusy login` stored (use { file = ... })", false, true, None),
                setting("username", "basic: service account (user@domain or DOMAIN\\user)", false, false, None),
                setting("password", "basic: the service account's password", false, true, None),
                setting("tenant_id", "oauth: directory (tenant) ID", false, false, None),
                setting("client_id", "oauth: application (client) ID with full_access_as_app", false, false, None),
                setting("client_secret", "oauth: client secret value", false, true, None),
                setting("client_certificate", "oauth: instead of a secret, the app's certificate (PEM)", false, false, None),
                setting("client_certificate_key", "oauth: its RSA private key (PKCS#8 PEM)", false, true, None),
                setting("authority", "oauth: identity platform host", false, false, Some(DEFAULT_AUTHORITY)),
                setting("oauth_scope", "oauth: token scope", false, false, Some(EXCHANGE_ONLINE_SCOPE)),
                setting("impersonate_mailbox", "oauth: mailbox to impersonate (default: the first requested)", false, false, None),
                setting("max_window_days", "longest window the server accepts per call (on premises 42; Exchange Online 62)", false, false, Some("42")),
                setting("server_version", "RequestServerVersion (Exchange2013 or later returns WorkingElsewhere)", false, false, Some("Exchange2013")),
            ],
            endpoint_settings: vec!["ews_url".into(), "authority".into()],
        }
    }

    fn get_schedules(settings: Settings, q: Query) -> Result<Vec<Schedule>, ProviderError> {
        let s = Config::new(&settings);
        let authority = s.url("authority", DEFAULT_AUTHORITY)?;
        let conn = connection(&s, &authority)?;
        availability::get_schedules(&conn, &q)
    }

    fn search_directory(
        settings: Settings,
        prefix: String,
        kind: EntryKind,
        max: u32,
    ) -> Result<Vec<DirectoryEntry>, ProviderError> {
        let s = Config::new(&settings);
        let authority = s.url("authority", DEFAULT_AUTHORITY)?;
        let conn = connection(&s, &authority)?;
        directory::search(&conn, &prefix, kind, max)
    }

    fn check(settings: Settings) -> Result<Health, ProviderError> {
        let s = Config::new(&settings);
        let authority = s.url("authority", DEFAULT_AUTHORITY)?;
        let conn = connection(&s, &authority)?;
        if let Auth::AppOnly { credentials, .. } = &conn.auth {
            let token = credentials.token()?;
            let Some(granted) = freebusy_provider_sdk::entra::token_permissions(&token) else {
                return Ok(Health {
                    summary: "token acquired; it cannot be read (access tokens are opaque to clients), so \
                              full_access_as_app was not checked: a query shows whether it works"
                        .into(),
                    granted: Vec::new(),
                    missing: Vec::new(),
                });
            };
            let missing = if granted.iter().any(|r| r == "full_access_as_app") {
                Vec::new()
            } else {
                vec!["full_access_as_app (Office 365 Exchange Online application permission, with admin consent)"
                    .to_string()]
            };
            return Ok(Health { summary: "token acquired".into(), granted, missing });
        }
        Ok(Health {
            summary: format!("settings valid for {}", freebusy_provider_sdk::http::origin(&conn.url)),
            granted: Vec::new(),
            missing: Vec::new(),
        })
    }

    fn delegated_sign_in(settings: Settings) -> Result<Option<freebusy_provider_sdk::SignIn>, ProviderError> {
        let s = Config::new(&settings);
        if s.get("auth") != Some("delegated") {
            return Ok(None);
        }
        let authority = s.url("authority", DEFAULT_AUTHORITY)?;
        let (tenant, client_id) = (s.required("tenant_id")?, s.required("client_id")?);
        Ok(Some(freebusy_provider_sdk::entra::sign_in(&authority, tenant, client_id, DELEGATED_SCOPE)))
    }
}

// Only on wasm: the export symbols (`freebusy:provider/provider@0.3.0#...`) do not link natively,
// and native builds exist only for unit tests.
#[cfg(target_arch = "wasm32")]
freebusy_provider_sdk::export!(Ews);
