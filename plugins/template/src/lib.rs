//! A freebusy provider to copy when writing one (see docs/writing-a-provider.md).
//!
//! It calls no upstream: every mailbox is busy each day of the window from `busy_from` to
//! `busy_until` (UTC, `HH:MM`), and `unknown@...` addresses are not found. A real provider
//! replaces [`canned_schedule`] with requests through `freebusy_provider_sdk::http::send`, to
//! URLs under its endpoint settings (the only origins the host lets it reach).

// Natively only the unit tests build; the Guest impl is exported on wasm alone.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use freebusy_provider_sdk::settings::{spec, Settings as Config};
use freebusy_provider_sdk::types::*;

const DAY_MS: i64 = 86_400_000;

/// `HH:MM` as milliseconds after midnight, or a `misconfigured` error naming the setting.
fn time_of_day(s: &Config, name: &str, default: &str) -> Result<i64, ProviderError> {
    let value = s.get(name).unwrap_or(default);
    let parsed = value.split_once(':').and_then(|(h, m)| Some((h.parse::<i64>().ok()?, m.parse::<i64>().ok()?)));
    match parsed {
        Some((h, m)) if (0..24).contains(&h) && (0..60).contains(&m) => Ok((h * 60 + m) * 60_000),
        _ => Err(ProviderError::Misconfigured(format!("setting '{name}' must be HH:MM, not '{value}'"))),
    }
}

/// The blocks for one mailbox: what a real provider reads from its upstream.
fn canned_schedule(from: i64, until: i64, window: &Window) -> MailboxSchedule {
    let mut blocks = Vec::new();
    let mut day = window.start.div_euclid(DAY_MS) * DAY_MS;
    while day < window.end {
        // The host clips blocks to the window and merges them; a provider reports what it read.
        blocks.push(BusyBlock {
            start: day + from,
            end: day + until,
            status: Availability::Busy,
            subject: None,
            location: None,
            is_private: false,
        });
        day += DAY_MS;
    }
    MailboxSchedule { blocks, working_hours: None, merged_view: None }
}

/// `get-schedules` without the bindings, so that it is unit-testable natively.
pub fn schedules(settings: &[(String, String)], q: &Query) -> Result<Vec<Schedule>, ProviderError> {
    let s = Config::new(settings);
    let (from, until) = (time_of_day(&s, "busy_from", "09:00")?, time_of_day(&s, "busy_until", "10:00")?);
    if until <= from {
        return Err(ProviderError::Misconfigured("busy_until must be after busy_from".into()));
    }
    Ok(q.mailboxes
        .iter()
        .map(|mailbox| Schedule {
            mailbox: mailbox.clone(),
            // One mailbox's problem is that mailbox's error; the rest of the batch is answered.
            outcome: if mailbox.starts_with("unknown@") {
                Err(MailboxError::NotFound(format!("no mailbox {mailbox}")))
            } else {
                Ok(canned_schedule(from, until, &q.window))
            },
        })
        .collect())
}

struct Template;

impl freebusy_provider_sdk::Guest for Template {
    fn describe() -> ProviderInfo {
        ProviderInfo {
            name: "template".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Canned schedules: every mailbox busy at the same time each day".into(),
            // The host splits every query to fit these.
            limits: Limits { max_mailboxes: 20, max_window_days: 31, upstream_max_mailboxes: 20 },
            settings: vec![
                spec("busy_from", "start of the daily busy block, HH:MM UTC", false, false, Some("09:00")),
                spec("busy_until", "its end, HH:MM UTC", false, false, Some("10:00")),
            ],
            // A provider that calls an upstream names the settings holding its URLs here.
            endpoint_settings: vec![],
        }
    }

    fn get_schedules(settings: Settings, q: Query) -> Result<Vec<Schedule>, ProviderError> {
        schedules(&settings, &q)
    }

    fn search_directory(_: Settings, _: String, _: EntryKind, _: u32) -> Result<Vec<DirectoryEntry>, ProviderError> {
        Err(ProviderError::Unsupported("the template has no directory".into()))
    }

    fn check(settings: Settings) -> Result<Health, ProviderError> {
        // A real provider signs in here (without reading calendars) and lists what it may do.
        schedules(
            &settings,
            &Query { mailboxes: vec![], window: Window { start: 0, end: 0 }, details: false, view_interval: None },
        )?;
        Ok(Health { summary: "settings valid".into(), granted: vec![], missing: vec![] })
    }

    fn delegated_sign_in(_: Settings) -> Result<Option<freebusy_provider_sdk::SignIn>, ProviderError> {
        Ok(None)
    }
}

// Only on wasm: the export symbols do not link natively.
#[cfg(target_arch = "wasm32")]
freebusy_provider_sdk::export!(Template);

#[cfg(test)]
mod tests {
    use super::*;

    fn query(mailboxes: &[&str]) -> Query {
        Query {
            mailboxes: mailboxes.iter().map(|m| m.to_string()).collect(),
            window: Window { start: 0, end: 2 * DAY_MS },
            details: false,
            view_interval: None,
        }
    }

    #[test]
    fn every_mailbox_is_busy_daily_at_the_configured_time_except_unknown_ones() {
        let settings =
            vec![("busy_from".to_string(), "13:30".to_string()), ("busy_until".to_string(), "14:00".to_string())];
        let answer = schedules(&settings, &query(&["a@example.com", "unknown@example.com"])).unwrap();
        let blocks = &answer[0].outcome.as_ref().unwrap().blocks;
        assert_eq!(
            blocks.iter().map(|b| (b.start, b.end)).collect::<Vec<_>>(),
            vec![(48_600_000, 50_400_000), (DAY_MS + 48_600_000, DAY_MS + 50_400_000)]
        );
        assert!(matches!(answer[1].outcome, Err(MailboxError::NotFound(_))));
    }

    #[test]
    fn a_malformed_setting_is_misconfigured_and_named() {
        let settings = vec![("busy_from".to_string(), "9am".to_string())];
        assert!(
            matches!(schedules(&settings, &query(&["a@example.com"])), Err(ProviderError::Misconfigured(m)) if m.contains("busy_from"))
        );
    }
}
