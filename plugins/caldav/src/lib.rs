//! freebusy-caldav: the CalDAV provider component, for calendars on open-standard servers
//! (Nextcloud, SOGo, Fastmail, iCloud, Zimbra, Radicale, Xandikos, Baïkal).
//!
//! Free/busy comes from the scheduling outbox (RFC 6638 §6.1.4) where the server takes free/busy
//! requests, else from the `free-busy-query` REPORT (RFC 4791 §7.10) on each mailbox's
//! calendars. Both need only the free/busy privilege (`CALDAV:schedule-send-freebusy`,
//! `CALDAV:read-free-busy`), never the events themselves, so a CalDAV provider never sees a
//! subject, location or privacy flag.
//!
//! What CalDAV cannot say, compared with Graph: iCalendar has no out-of-office and no working
//! elsewhere. `BUSY-UNAVAILABLE` is read as out of office (the closest, RFC 5545 §3.2.9); an
//! out-of-office event written by a client is a plain busy event, and a working-elsewhere one is
//! transparent (free). Working hours (RFC 7953 `VAVAILABILITY`) are not read.

// Natively only the unit tests build; the Guest impl is exported on wasm alone.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod directory;
mod discovery;
mod ical;
mod schedule;
mod webdav;

#[cfg(test)]
#[path = "../../../core/src/fuzz_support.rs"]
mod fuzz_support;

use base64::Engine as _;
use freebusy_provider_sdk::settings::{spec as setting, Settings as Config};
use freebusy_provider_sdk::types::*;

/// Mailboxes per call: one outbox POST carries them all, a REPORT costs a few requests each.
pub const MAX_MAILBOXES: u32 = 20;
/// The most an admin may raise `max_mailboxes` to (RFC 6638 servers advertise
/// `max-attendees-per-instance`, commonly 100 or more).
pub const UPSTREAM_MAX_MAILBOXES: u32 = 100;
/// CalDAV sets no window limit; servers bound the occurrences they expand (Radicale's
/// `max_freebusy_occurrence`, 10000 by default), which two months stay well inside.
pub const MAX_WINDOW_DAYS: u32 = 62;

/// How free/busy is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// The outbox where the server offers it, else REPORT.
    Auto,
    /// Only the outbox.
    Outbox,
    /// Only REPORT.
    Report,
}

/// Settings resolved for one call.
pub(crate) struct Connection<'a> {
    /// The server's CalDAV root, without trailing slash.
    pub base_url: String,
    /// The `Authorization` header value.
    pub authorization: String,
    /// Who signs in (the user name, or `bearer`), for cache keys; never a secret.
    pub identity: String,
    bearer: bool,
    pub method: Method,
    pub home_template: Option<&'a str>,
    pub organizer: Option<&'a str>,
}

impl Connection<'_> {
    /// An href from the server (absolute, or a path on the server's origin) as an absolute URL.
    pub fn resolve(&self, href: &str) -> String {
        let href = href.trim();
        if href.starts_with("http://") || href.starts_with("https://") {
            return href.to_string();
        }
        let origin = freebusy_provider_sdk::http::origin(&self.base_url);
        if href.starts_with('/') {
            format!("{origin}{href}")
        } else {
            format!("{}/{href}", self.base_url)
        }
    }

    /// Which settings hold the credentials, for messages.
    pub fn credential_settings(&self) -> &'static str {
        if self.bearer {
            "the token setting"
        } else {
            "username and password"
        }
    }
}

fn connection<'a>(s: &'a Config<'a>) -> Result<Connection<'a>, ProviderError> {
    let base_url = s.url("base_url", "")?;
    let (authorization, identity, bearer) = match s.get("auth").unwrap_or("basic") {
        "basic" => {
            let user = s.required("username")?;
            let password = s.required("password")?;
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            (format!("Basic {token}"), user.to_string(), false)
        }
        "bearer" => (format!("Bearer {}", s.required("token")?), "bearer".to_string(), true),
        other => {
            return Err(ProviderError::Misconfigured(format!(
                "setting 'auth' must be 'basic' or 'bearer', not '{other}'"
            )))
        }
    };
    let method = match s.get("free_busy").unwrap_or("auto") {
        "auto" => Method::Auto,
        "outbox" => Method::Outbox,
        "report" => Method::Report,
        other => {
            return Err(ProviderError::Misconfigured(format!(
                "setting 'free_busy' must be 'auto', 'outbox' or 'report', not '{other}'"
            )))
        }
    };
    Ok(Connection {
        base_url,
        authorization,
        identity,
        bearer,
        method,
        home_template: s.get("calendar_home_template"),
        organizer: s.get("organizer"),
    })
}

struct CalDav;

impl freebusy_provider_sdk::Guest for CalDav {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "caldav".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Free/busy from CalDAV servers (RFC 6638 scheduling outbox, or RFC 4791 free-busy-query)".into(),
            limits: Limits {
                max_mailboxes: MAX_MAILBOXES,
                max_window_days: MAX_WINDOW_DAYS,
                upstream_max_mailboxes: UPSTREAM_MAX_MAILBOXES,
            },
            settings: vec![
                setting("base_url", "the server's CalDAV root, e.g. https://cloud.example.com/remote.php/dav (its origin is the only one the provider may call)", true, false, None),
                setting("auth", "basic (username and password) or bearer (a token)", false, false, Some("basic")),
                setting("username", "basic: an account that may read others' free/busy", false, false, None),
                setting("password", "basic: its password (an app password where the server has them)", false, true, None),
                setting("token", "bearer: the access token", false, true, None),
                setting("free_busy", "auto (the outbox where offered, else REPORT), outbox or report", false, false, Some("auto")),
                setting("calendar_home_template", "a mailbox's calendar home, with {address}, {local} and {domain}, e.g. /calendars/{local}/ (default: discovered)", false, false, None),
                setting("organizer", "the address free/busy requests are sent as (default: the account's first calendar user address)", false, false, None),
            ],
            endpoint_settings: vec!["base_url".into()],
        }
    }

    fn get_schedules(settings: Settings, q: Query) -> Result<Vec<Schedule>, ProviderError> {
        let s = Config::new(&settings);
        schedule::get_schedules(&connection(&s)?, &q)
    }

    fn search_directory(
        settings: Settings,
        prefix: String,
        kind: EntryKind,
        max: u32,
    ) -> Result<Vec<DirectoryEntry>, ProviderError> {
        let s = Config::new(&settings);
        directory::search(&connection(&s)?, &prefix, kind, max)
    }

    fn check(settings: Settings) -> Result<Health, ProviderError> {
        let s = Config::new(&settings);
        let conn = connection(&s)?;
        // A check always asks the server afresh.
        discovery::forget_account(&conn);
        let account = discovery::account(&conn)?;
        let how = if account.schedules() && conn.method != Method::Report {
            "free/busy through the scheduling outbox (RFC 6638)"
        } else {
            "free/busy by free-busy-query on each calendar (RFC 4791)"
        };
        let mut missing = Vec::new();
        if !account.features.iter().any(|f| f == "calendar-access") {
            missing
                .push("calendar-access: the server's DAV header does not announce CalDAV (RFC 4791 §5.1)".to_string());
        }
        Ok(Health {
            summary: format!("signed in as {}; {how}", webdav::path_of(&account.principal)),
            granted: account.features.iter().filter(|f| f.starts_with("calendar-")).cloned().collect(),
            missing,
        })
    }

    fn delegated_sign_in(_settings: Settings) -> Result<Option<freebusy_provider_sdk::SignIn>, ProviderError> {
        // CalDAV servers sign in with a password or a token an admin issues; no OAuth flow here.
        Ok(None)
    }
}

// Only on wasm: the export symbols do not link natively, and native builds exist only for tests.
#[cfg(target_arch = "wasm32")]
freebusy_provider_sdk::export!(CalDav);

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn hrefs_resolve_against_the_server() {
        let pairs =
            settings(&[("base_url", "https://dav.example.com/remote.php/dav/"), ("username", "u"), ("password", "p")]);
        let s = Config::new(&pairs);
        let conn = connection(&s).unwrap();
        assert_eq!(conn.resolve("/principals/u/"), "https://dav.example.com/principals/u/");
        assert_eq!(conn.resolve("calendars/u/"), "https://dav.example.com/remote.php/dav/calendars/u/");
        assert_eq!(conn.resolve("https://other.example.com/x"), "https://other.example.com/x");
        assert_eq!(conn.authorization, "Basic dTpw");
    }

    #[test]
    fn bearer_tokens_go_in_the_authorization_header_and_stay_out_of_cache_keys() {
        let pairs = settings(&[("base_url", "https://dav.example.com"), ("auth", "bearer"), ("token", "tok-123")]);
        let s = Config::new(&pairs);
        let conn = connection(&s).unwrap();
        assert_eq!(conn.authorization, "Bearer tok-123");
        assert_eq!(conn.identity, "bearer");
        assert_eq!(conn.credential_settings(), "the token setting");
    }

    #[test]
    fn settings_are_checked_by_name() {
        let missing = settings(&[("base_url", "https://dav.example.com"), ("username", "u")]);
        assert!(
            matches!(connection(&Config::new(&missing)), Err(ProviderError::Misconfigured(m)) if m.contains("password"))
        );
        let bad = settings(&[
            ("base_url", "https://dav.example.com"),
            ("auth", "bearer"),
            ("token", "t"),
            ("free_busy", "magic"),
        ]);
        assert!(
            matches!(connection(&Config::new(&bad)), Err(ProviderError::Misconfigured(m)) if m.contains("free_busy"))
        );
    }
}
