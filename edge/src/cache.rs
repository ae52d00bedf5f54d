//! Answers kept at the edge, per mailbox and UTC day, in Spin's `default` key-value store, so
//! that repeated questions cost no upstream call. Spin's store has no expiry of its own, so each
//! value carries when it stops being fresh (`expires_at`); an expired one is fetched again and
//! overwritten. Pointing the store at Redis (`[key_value_store.default] type = "redis"` in a
//! runtime config) shares the answers, and the provider's token, between edge instances.
//!
//! Like the host's cache (host/src/cache.rs): a request reads the days its window touches; a
//! mailbox with any day missing or expired is fetched over whole days and kept per day; answers
//! with details and upstream views are not kept. `cache_ttl_secs` (a Spin variable) sets the
//! freshness; 0, the default in the manifests, keeps nothing, because `spin up`'s default store
//! is a SQLite file and calendar data is never written to disk.

use freebusy_core::api::FreeBusyRequest;
use freebusy_core::model::{Block, Timestamp, Window, WorkingHours};
use freebusy_core::provider::MailboxSchedule;
use freebusy_core::scheduler::{fetch, FetchOptions, MailboxOutcome, ScheduleSource};
use spin_sdk::key_value::Store;

/// One mailbox-day as kept.
#[derive(serde::Serialize, serde::Deserialize)]
struct Day {
    expires_at: Timestamp,
    blocks: Vec<Block>,
    working_hours: Option<WorkingHours>,
}

/// The edge's cache (nothing kept when the store cannot be opened or the TTL is zero).
pub struct EdgeCache {
    store: Option<Store>,
    ttl_ms: i64,
}

fn key(mailbox: &str, day: i64) -> String {
    format!("edge:freebusy:{day}:{}", mailbox.to_ascii_lowercase())
}

impl EdgeCache {
    /// The `default` store with `ttl_secs` of freshness.
    pub fn open(ttl_secs: u64) -> EdgeCache {
        let store = if ttl_secs == 0 { None } else { Store::open_default().ok() };
        EdgeCache { store, ttl_ms: i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX) }
    }

    fn get(&self, mailbox: &str, days: &std::ops::Range<i64>, now: Timestamp) -> Option<MailboxSchedule> {
        let store = self.store.as_ref()?;
        let mut blocks = Vec::new();
        let mut working_hours = None;
        for day in days.clone() {
            let bytes = store.get(&key(mailbox, day)).ok()??;
            let kept: Day = serde_json::from_slice(&bytes).ok()?;
            if kept.expires_at <= now {
                return None;
            }
            blocks.extend(kept.blocks);
            working_hours = working_hours.or(kept.working_hours);
        }
        // An item across midnight is kept with both days.
        blocks.sort_by_key(|b| (b.start, b.end, b.status.precedence()));
        blocks.dedup();
        Some(MailboxSchedule::of_blocks(blocks).with_working_hours(working_hours))
    }

    fn put(&self, mailbox: &str, days: &std::ops::Range<i64>, schedule: &MailboxSchedule, now: Timestamp) {
        let Some(store) = &self.store else { return };
        for day in days.clone() {
            let window = Window::of_days(&(day..day + 1));
            let blocks =
                schedule.blocks.iter().filter(|b| b.start < window.end && b.end > window.start).cloned().collect();
            let kept = Day { expires_at: now + self.ttl_ms, blocks, working_hours: schedule.working_hours.clone() };
            if let Ok(bytes) = serde_json::to_vec(&kept) {
                // The cache is an optimisation: a failed write is a later miss, not an error.
                let _ = store.set(&key(mailbox, day), &bytes);
            }
        }
    }

    /// Each mailbox's schedule for `req`: kept ones from the store, the others fetched through
    /// the scheduler over whole days and kept.
    pub async fn schedules<S: ScheduleSource>(
        &self,
        source: &S,
        req: &FreeBusyRequest,
        max_mailboxes: u32,
        max_window_days: u32,
        now: Timestamp,
    ) -> Vec<MailboxOutcome> {
        if self.store.is_none() || req.details || req.upstream_view {
            return fetch(source, req, max_mailboxes, max_window_days, FetchOptions::default()).await;
        }
        let days = req.window.utc_days();
        let mut outcomes: Vec<Option<MailboxOutcome>> =
            req.mailboxes.iter().map(|m| self.get(m, &days, now).map(Ok)).collect();
        let missing: Vec<usize> = (0..outcomes.len()).filter(|&i| outcomes[i].is_none()).collect();
        if !missing.is_empty() {
            let sub = FreeBusyRequest {
                mailboxes: missing.iter().map(|&i| req.mailboxes[i].clone()).collect(),
                window: Window::of_days(&days),
                interval_minutes: None,
                details: false,
                upstream_view: false,
            };
            let fetched = fetch(source, &sub, max_mailboxes, max_window_days, FetchOptions::default()).await;
            for (&i, outcome) in missing.iter().zip(fetched) {
                if let Ok(schedule) = &outcome {
                    self.put(&req.mailboxes[i], &days, schedule, now);
                }
                outcomes[i] = Some(outcome);
            }
        }
        outcomes.into_iter().map(|o| o.expect("every mailbox answered")).collect()
    }
}
