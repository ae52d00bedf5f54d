//! The free/busy cache of one tenant. Attendant consoles, presence clients and room panels poll
//! the same mailboxes every minute or so; the cache turns those N clients into one upstream call
//! per mailbox and TTL, and keeps answering (saying so) when the upstream fails for a while.
//!
//! Entries are per mailbox, UTC day and details flag: a request reads the days its window
//! touches, so windows that move with the clock ("now until tonight") still hit. A mailbox is
//! fetched when any of its days is missing or expired, over whole days, and stored per day.
//! Identical concurrent fetches share one upstream call ([`crate::single_flight`]); how a request
//! uses the cache is in [`crate::tenant`]. Only memory is used; nothing is written to disk.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use freebusy_core::model::{Block, Timestamp, Window, WorkingHours, DAY_MS};

/// How the cache behaves: the `[cache]` table of the config, with one default per setting.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// How long an answer is served without asking the upstream again; zero turns the cache off
    /// (`ttl_secs`).
    #[serde(rename = "ttl_secs", deserialize_with = "crate::config::seconds")]
    pub ttl: Duration,
    /// How much longer an expired answer may be served, marked stale, while the upstream fails
    /// (`stale_if_error_secs`).
    #[serde(rename = "stale_if_error_secs", deserialize_with = "crate::config::seconds")]
    pub stale_if_error: Duration,
    /// Cache answers with subjects too (off by default: details are read fresh).
    pub details: bool,
    /// Most mailbox-days kept; the oldest are dropped beyond it.
    pub max_entries: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl: Duration::from_secs(30),
            stale_if_error: Duration::from_secs(600),
            details: false,
            max_entries: 200_000,
        }
    }
}

/// The UTC days (day numbers since the epoch) a window touches.
pub fn days_of(window: Window) -> Range<i64> {
    window.start.div_euclid(DAY_MS)..(window.end - 1).div_euclid(DAY_MS) + 1
}

/// Those days as one window.
pub fn window_of(days: &Range<i64>) -> Window {
    Window { start: days.start * DAY_MS, end: days.end * DAY_MS }
}

#[derive(Hash, PartialEq, Eq, Clone)]
struct Key {
    mailbox: String,
    day: i64,
    details: bool,
}

struct Entry {
    fetched: Instant,
    /// When the upstream answered, for `cacheAgeSeconds`.
    fetched_at: Timestamp,
    /// Items overlapping the day.
    blocks: Vec<Block>,
    working_hours: Option<WorkingHours>,
}

/// What the cache holds for a mailbox over some days.
#[derive(Debug, Clone)]
pub struct Cached {
    /// Items of those days, each once, sorted.
    pub blocks: Vec<Block>,
    /// The mailbox's working hours, when known.
    pub working_hours: Option<WorkingHours>,
    /// When the oldest of those days was fetched (ms since the epoch).
    pub fetched_at: Timestamp,
}

/// A tenant's cache.
pub struct Cache {
    settings: CacheSettings,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Cache {
    /// An empty cache.
    pub fn new(settings: CacheSettings) -> Self {
        Cache { settings, entries: Mutex::new(HashMap::new()) }
    }

    /// Whether a request with these options is served through the cache.
    pub fn serves(&self, details: bool, upstream_view: bool) -> bool {
        !self.settings.ttl.is_zero() && (!details || self.settings.details) && !upstream_view
    }

    /// Every day of `days` for `mailbox`, if each is younger than the TTL.
    pub fn fresh(&self, mailbox: &str, days: &Range<i64>, details: bool) -> Option<Cached> {
        self.lookup(mailbox, days, details, self.settings.ttl)
    }

    /// Every day of `days` for `mailbox` within the TTL plus the stale-if-error allowance.
    pub fn stale(&self, mailbox: &str, days: &Range<i64>, details: bool) -> Option<Cached> {
        self.lookup(mailbox, days, details, self.settings.ttl + self.settings.stale_if_error)
    }

    fn lookup(&self, mailbox: &str, days: &Range<i64>, details: bool, max_age: Duration) -> Option<Cached> {
        let entries = self.entries.lock().expect("cache lock");
        let mut blocks = Vec::new();
        let mut working_hours = None;
        let mut fetched_at = Timestamp::MAX;
        for day in days.clone() {
            let entry = entries.get(&Key { mailbox: mailbox.to_ascii_lowercase(), day, details })?;
            if entry.fetched.elapsed() > max_age {
                return None;
            }
            blocks.extend(entry.blocks.iter().cloned());
            working_hours = working_hours.or_else(|| entry.working_hours.clone());
            fetched_at = fetched_at.min(entry.fetched_at);
        }
        // An item spanning midnight is stored with both days.
        blocks.sort_by_key(|b| (b.start, b.end, b.status.precedence()));
        blocks.dedup();
        Some(Cached { blocks, working_hours, fetched_at })
    }

    /// Store a mailbox's fresh answer over `days`, one entry per day.
    pub fn store(
        &self,
        mailbox: &str,
        days: &Range<i64>,
        details: bool,
        blocks: &[Block],
        working_hours: Option<&WorkingHours>,
    ) {
        let now = Instant::now();
        let fetched_at = chrono::Utc::now().timestamp_millis();
        let mut entries = self.entries.lock().expect("cache lock");
        for day in days.clone() {
            let window = window_of(&(day..day + 1));
            let blocks = blocks.iter().filter(|b| b.start < window.end && b.end > window.start).cloned().collect();
            entries.insert(
                Key { mailbox: mailbox.to_ascii_lowercase(), day, details },
                Entry { fetched: now, fetched_at, blocks, working_hours: working_hours.cloned() },
            );
        }
        if entries.len() > self.settings.max_entries {
            // Expired entries go first; if that is not enough, the oldest.
            let keep_for = self.settings.ttl + self.settings.stale_if_error;
            entries.retain(|_, e| e.fetched.elapsed() <= keep_for);
            let excess = entries.len().saturating_sub(self.settings.max_entries);
            if excess > 0 {
                let mut by_age: Vec<(Instant, Key)> = entries.iter().map(|(k, e)| (e.fetched, k.clone())).collect();
                by_age.sort_by_key(|(fetched, _)| *fetched);
                for (_, key) in by_age.into_iter().take(excess) {
                    entries.remove(&key);
                }
            }
        }
    }

    /// Mailbox-days held.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("cache lock").len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freebusy_core::model::Availability;

    #[test]
    fn a_window_touches_the_days_it_overlaps_only() {
        assert_eq!(days_of(Window { start: 0, end: DAY_MS }), 0..1);
        assert_eq!(days_of(Window { start: DAY_MS - 1, end: DAY_MS + 1 }), 0..2);
        assert_eq!(days_of(Window { start: -1, end: 1 }), -1..1);
    }

    #[test]
    fn an_item_across_midnight_is_stored_with_both_days_and_read_once() {
        let cache = Cache::new(CacheSettings::default());
        let night = Block::new(DAY_MS - 3_600_000, DAY_MS + 3_600_000, Availability::Busy);
        cache.store("A@x.com", &(0..2), false, std::slice::from_ref(&night), None);
        assert_eq!(cache.len(), 2);
        let hit = cache.fresh("a@X.com", &(0..2), false).unwrap();
        assert_eq!(hit.blocks, vec![night.clone()]);
        assert_eq!(cache.fresh("a@x.com", &(1..2), false).unwrap().blocks, vec![night]);
        // A day never fetched, or the other details flag, is a miss.
        assert!(cache.fresh("a@x.com", &(0..3), false).is_none());
        assert!(cache.fresh("a@x.com", &(0..2), true).is_none());
    }

    #[test]
    fn expired_entries_are_only_served_as_stale() {
        let cache = Cache::new(CacheSettings {
            ttl: Duration::from_millis(1),
            stale_if_error: Duration::from_secs(60),
            ..CacheSettings::default()
        });
        cache.store("a@x.com", &(0..1), false, &[], None);
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.fresh("a@x.com", &(0..1), false).is_none());
        assert!(cache.stale("a@x.com", &(0..1), false).is_some());
    }

    #[test]
    fn beyond_max_entries_the_oldest_are_dropped() {
        let cache = Cache::new(CacheSettings { max_entries: 3, ..CacheSettings::default() });
        for day in 0..5 {
            cache.store("a@x.com", &(day..day + 1), false, &[], None);
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.fresh("a@x.com", &(0..1), false).is_none());
        assert!(cache.fresh("a@x.com", &(4..5), false).is_some());
    }
}
