//! freebusy-graph: the Microsoft Graph provider component.
//!
//! App-only (client credentials) token from the Microsoft identity platform, then
//! `POST /v1.0/users/{anchor}/calendar/getSchedule` for up to [`MAX_MAILBOXES`] mailboxes over
//! at most [`MAX_WINDOW_DAYS`] (the host splits bigger queries). Facts from
//! https://learn.microsoft.com/graph/api/calendar-getschedule (getSchedule),
//! https://learn.microsoft.com/graph/errors and https://learn.microsoft.com/graph/throttling (errors,
//! throttling), and https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow (tokens).

// Natively only the unit tests build; the Guest impl is exported on wasm alone.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod calendar_view;
mod client;
mod directory;
mod schedule;

#[cfg(test)]
#[path = "../../../core/src/fuzz_support.rs"]
mod fuzz_support;

use freebusy_provider_sdk::entra::{token_permissions, ClientCredentials, Credentials, RefreshToken};
use freebusy_provider_sdk::settings::Settings as Config;
use freebusy_provider_sdk::types::*;

/// Mailboxes per getSchedule call. Graph's docs say 20 (the service accepts 100); 20 keeps each
/// call well inside the 4-concurrent-requests-per-mailbox throttling budget.
pub const MAX_MAILBOXES: u32 = 20;
/// What getSchedule accepts on the service: the 101st address gets ErrorMailboxDataArrayTooBig
/// (microsoftgraph/microsoft-graph-docs#7047). Admins may raise [`MAX_MAILBOXES`] up to this.
pub const UPSTREAM_MAX_MAILBOXES: u32 = 100;
/// getSchedule rejects windows of 63 days and more (ErrorTimeIntervalTooBig).
pub const MAX_WINDOW_DAYS: u32 = 62;

/// Events per calendarView page: Graph's default is 10 (microsoftgraph/microsoft-graph-explorer#91), far too few.
const DEFAULT_CALENDAR_VIEW_PAGE: u32 = 100;
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";
/// Graph hosts whose token scope is `<host>/.default` (global and national clouds).
const GRAPH_CLOUDS: &[&str] = &[
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
];

/// The token scope: `graph_scope` when set; else the national cloud's Graph resource when
/// `graph_base_url` is one; else the global one (a proxy or test endpoint still takes tokens
/// for Graph itself).
fn scope(settings: &Config) -> Result<String, ProviderError> {
    if let Some(scope) = settings.get("graph_scope") {
        return Ok(scope.to_string());
    }
    let base = settings.url("graph_base_url", DEFAULT_GRAPH)?;
    let resource = GRAPH_CLOUDS.iter().find(|c| c.eq_ignore_ascii_case(&base)).copied().unwrap_or(DEFAULT_GRAPH);
    // Delegated tokens are redeemed from a refresh token, which offline_access keeps coming.
    let offline = if settings.get("auth") == Some("delegated") { " offline_access" } else { "" };
    Ok(format!("{resource}/.default{offline}"))
}

/// Connection settings resolved from the call's settings.
pub(crate) struct Connection<'a> {
    pub credentials: Credentials<'a>,
    pub graph: String,
    pub anchor: Option<&'a str>,
    /// `Some(page size)` when details come from calendarView (`details_source`).
    pub calendar_view_page_size: Option<u32>,
}

pub(crate) fn connection<'a>(
    settings: &'a Config<'a>,
    authority: &'a str,
    scope: &'a str,
) -> Result<Connection<'a>, ProviderError> {
    let credentials = match settings.get("auth").unwrap_or("app") {
        "app" => Credentials::App(ClientCredentials {
            authority,
            tenant: settings.required("tenant_id")?,
            client_id: settings.required("client_id")?,
            client_secret: freebusy_provider_sdk::entra::client_auth(settings)?,
            scope,
        }),
        "delegated" => Credentials::Delegated(RefreshToken {
            authority,
            tenant: settings.required("tenant_id")?,
            client_id: settings.required("client_id")?,
            client_secret: settings.get("client_secret"),
            refresh_token: settings.required("refresh_token")?,
            scope,
        }),
        other => {
            return Err(ProviderError::Misconfigured(format!(
                "setting 'auth' must be 'app' or 'delegated', not '{other}'"
            )))
        }
    };
    let calendar_view_page_size = match settings.get("details_source").unwrap_or("schedule") {
        "schedule" => None,
        "calendar-view" => Some(match settings.get("calendar_view_page_size") {
            None => DEFAULT_CALENDAR_VIEW_PAGE,
            Some(v) => v.parse().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                ProviderError::Misconfigured("setting 'calendar_view_page_size' must be 1..=1000".into())
            })?,
        }),
        other => {
            return Err(ProviderError::Misconfigured(format!(
                "setting 'details_source' must be 'schedule' or 'calendar-view', not '{other}'"
            )))
        }
    };
    Ok(Connection {
        credentials,
        graph: settings.url("graph_base_url", DEFAULT_GRAPH)?,
        anchor: settings.get("anchor_mailbox"),
        calendar_view_page_size,
    })
}

use freebusy_provider_sdk::settings::spec as setting;

/// The token must be for the configured tenant: onboarding never trusts the tenant a consent
/// redirect names, and a token for another directory would read the wrong people.
fn check_token_tenant(token: &str, configured: Option<&str>) -> Result<(), ProviderError> {
    let claims = freebusy_provider_sdk::entra::token_claims(token);
    let tid = claims.as_ref().and_then(|c| c["tid"].as_str());
    let is_guid = |t: &str| t.len() == 36 && t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    match (tid, configured) {
        (Some(tid), Some(tenant)) if is_guid(tenant) && !tid.eq_ignore_ascii_case(tenant) => {
            Err(ProviderError::AuthFailed(format!(
                "the identity platform issued a token for tenant {tid}, not for the configured {tenant}"
            )))
        }
        _ => Ok(()),
    }
}

/// The verdict from a readable token's roles.
fn permissions_from_token(conn: &Connection, granted: Vec<String>) -> Health {
    let has = |p: &str| granted.iter().any(|g| g == p);
    let calendars = ["Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"].iter().any(|p| has(p));
    let mut missing = Vec::new();
    if !calendars {
        missing.push(
            "Calendars.ReadBasic (application permission, with admin consent): needed for getSchedule".to_string(),
        );
    }
    if conn.calendar_view_page_size.is_some() && !has("Calendars.Read") && !has("Calendars.ReadWrite") {
        missing.push(
            "Calendars.Read (application permission, with admin consent): needed for details_source = \"calendar-view\"".to_string(),
        );
    }
    let summary = if missing.is_empty() {
        format!("token acquired; permissions (read from the token's roles): {}", granted.join(", "))
    } else {
        "token acquired, but a needed permission is missing (read from the token's roles)".to_string()
    };
    Health { summary, granted, missing }
}

/// The verdict when the token cannot be read: one getSchedule for `mailbox`, which Graph answers
/// 403 ErrorAccessDenied without the permission.
fn probe(conn: &Connection, mailbox: Option<&str>) -> Result<Health, ProviderError> {
    let Some(mailbox) = mailbox else {
        return Ok(Health {
            summary: "token acquired; it cannot be read (access tokens are opaque to clients) and no probe_mailbox is \
                      set, so the permissions were not checked: set probe_mailbox to any mailbox of the tenant"
                .into(),
            granted: Vec::new(),
            missing: Vec::new(),
        });
    };
    let now = freebusy_provider_sdk::cache::now_ms();
    let q = Query {
        mailboxes: vec![mailbox.to_string()],
        window: Window { start: now, end: now + 3_600_000 },
        details: false,
        view_interval: None,
    };
    match schedule::get_schedules(conn, &q) {
        Ok(_) => Ok(Health {
            summary: format!(
                "token acquired; getSchedule works (decided by a probe for {mailbox}: the token cannot be read)"
            ),
            granted: vec!["Calendars.ReadBasic".into()],
            missing: Vec::new(),
        }),
        Err(ProviderError::AuthFailed(said)) => Ok(Health {
            summary: format!(
                "token acquired, but a probe getSchedule for {mailbox} was refused (the token cannot be read)"
            ),
            granted: Vec::new(),
            missing: vec![format!("Calendars.ReadBasic (application permission, with admin consent): {said}")],
        }),
        Err(other) => Err(other),
    }
}

struct Graph;

impl freebusy_provider_sdk::Guest for Graph {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "graph".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Microsoft 365 free/busy through Microsoft Graph getSchedule (application permission Calendars.ReadBasic)".into(),
            limits: Limits {
                max_mailboxes: MAX_MAILBOXES,
                max_window_days: MAX_WINDOW_DAYS,
                upstream_max_mailboxes: UPSTREAM_MAX_MAILBOXES,
            },
            settings: vec![
                setting("tenant_id", "Directory (tenant) ID or verified domain", true, false, None),
                setting("client_id", "Application (client) ID of the app registration", true, false, None),
                setting("auth", "app (client credentials, application permissions) or delegated (a user signed in with `freebusy login`)", false, false, Some("app")),
                setting("client_secret", "Client secret value (not its ID); not needed for delegated public clients", false, true, None),
                setting("client_certificate", "Instead of a secret: the certificate uploaded to the app registration (PEM)", false, false, None),
                setting("client_certificate_key", "Its RSA private key (PKCS#8 PEM)", false, true, None),
                setting("refresh_token", "delegated: the refresh token `freebusy login` stored (use { file = ... })", false, true, None),
                setting("authority", "Identity platform host (national clouds: https://login.microsoftonline.us, https://login.chinacloudapi.cn)", false, false, Some(DEFAULT_AUTHORITY)),
                setting("graph_base_url", "Graph host (national clouds: https://graph.microsoft.us, https://dod-graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn)", false, false, Some(DEFAULT_GRAPH)),
                setting("graph_scope", "Token scope (default: <Graph resource of graph_base_url>/.default)", false, false, None),
                setting("directory_page_size", "Entries per Graph page when searching the directory (1..999)", false, false, None),
                setting("directory_match", "People search: prefix (start of name or address, $filter) or words (start of any word, e.g. a surname; $search)", false, false, Some("prefix")),
                setting("anchor_mailbox", "Mailbox whose URL getSchedule is called on (default: the first requested)", false, false, None),
                setting("probe_mailbox", "A mailbox freebusy check asks about when the access token cannot be read (default: anchor_mailbox)", false, false, None),
                setting("details_source", "Where details=true queries get subjects: schedule (getSchedule, what each mailbox shares) or calendar-view (calendarView, needs Calendars.Read)", false, false, Some("schedule")),
                setting("calendar_view_page_size", "Events per calendarView page (1..1000)", false, false, None),
            ],
            endpoint_settings: vec!["authority".into(), "graph_base_url".into()],
        }
    }

    fn get_schedules(settings: Settings, q: Query) -> Result<Vec<Schedule>, ProviderError> {
        let settings = Config::new(&settings);
        let authority = settings.url("authority", DEFAULT_AUTHORITY)?;
        let scope = scope(&settings)?;
        let conn = connection(&settings, &authority, &scope)?;
        schedule::get_schedules(&conn, &q)
    }

    fn search_directory(
        settings: Settings,
        prefix: String,
        kind: EntryKind,
        max: u32,
    ) -> Result<Vec<DirectoryEntry>, ProviderError> {
        let settings = Config::new(&settings);
        let authority = settings.url("authority", DEFAULT_AUTHORITY)?;
        let scope = scope(&settings)?;
        let conn = connection(&settings, &authority, &scope)?;
        let page_size = match settings.get("directory_page_size") {
            None => None,
            Some(v) => Some(
                v.parse().map_err(|_| ProviderError::Misconfigured("directory_page_size must be a number".into()))?,
            ),
        };
        let match_words = match settings.get("directory_match").unwrap_or("prefix") {
            "prefix" => false,
            "words" => true,
            other => {
                return Err(ProviderError::Misconfigured(format!(
                    "setting 'directory_match' must be 'prefix' or 'words', not '{other}'"
                )))
            }
        };
        directory::search(&conn, &prefix, kind, max, page_size, match_words)
    }

    fn check(settings: Settings) -> Result<Health, ProviderError> {
        let settings = Config::new(&settings);
        let authority = settings.url("authority", DEFAULT_AUTHORITY)?;
        let scope = scope(&settings)?;
        let conn = connection(&settings, &authority, &scope)?;
        let token = conn.credentials.token()?;
        check_token_tenant(&token, settings.get("tenant_id"))?;
        match token_permissions(&token) {
            Some(granted) => Ok(permissions_from_token(&conn, granted)),
            None => probe(&conn, settings.get("probe_mailbox").or(conn.anchor)),
        }
    }

    fn delegated_sign_in(settings: Settings) -> Result<Option<freebusy_provider_sdk::SignIn>, ProviderError> {
        let settings = Config::new(&settings);
        if settings.get("auth") != Some("delegated") {
            return Ok(None);
        }
        let authority = settings.url("authority", DEFAULT_AUTHORITY)?;
        let scope = scope(&settings)?;
        let tenant = settings.required("tenant_id")?;
        Ok(Some(freebusy_provider_sdk::entra::sign_in(&authority, tenant, settings.required("client_id")?, &scope)))
    }
}

// Only on wasm: the export symbols (`freebusy:provider/provider@0.3.0#...`) do not link natively,
// and native builds exist only for unit tests.
#[cfg(target_arch = "wasm32")]
freebusy_provider_sdk::export!(Graph);
