//! The free/busy cache of one tenant. Attendant consoles, presence clients and room panels poll
//! the same mailboxes every minute or so; the cache turns those N clients into one upstream call
//! per mailbox and TTL, and keeps answering (saying so) when the upstream fails for a while.
//!
//! Entries are per mailbox, UTC day and details flag: a request reads the days its window
//! touches, so windows that move with the clock ("now until tonight") still hit. A mailbox is
//! fetched when any of its days is missing or expired, over whole days, and stored per day.
//! Identical concurrent fetches share one upstream call ([`crate::single_flight`]); how a request
//! uses the cache is in [`crate::tenant`]. Only memory is used; nothing is written to disk.
//!
//! Answers read entirely from the cache are also kept rendered, keyed by the whole request,
//! until any part of them would read differently (an entry expires, or a `cacheAgeSeconds`
//! ticks to the next second): consoles polling the same question then cost one lookup and no
//! rendering ([`Cache::rendered`]).
//!
//! With a shared store ([`crate::shared`]) every entry is also written to Redis, expiring when
//! it may no longer be served even as stale, and a day this instance lacks is looked up there:
//! what one instance fetched, the others serve. Entries there carry the wall-clock time they were
//! fetched, so every instance judges their age alike. Redis must run without persistence
//! (`save ""`, `appendonly no`): calendar data is never written to disk.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use freebusy_core::model::{Block, Timestamp, Window, WorkingHours};

use crate::shared::Shared;

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

/// A mailbox-day to keep: the mailbox in lower case.
struct Key {
    mailbox: String,
    day: i64,
    details: bool,
}

/// What the cache holds: by lower-case mailbox, then by day and details flag, so that a lookup
/// of a mailbox's days finds the mailbox once and allocates nothing.
#[derive(Default)]
struct Entries {
    by_mailbox: HashMap<String, HashMap<(i64, bool), Entry>>,
    /// Mailbox-days held.
    len: usize,
}

impl Entries {
    fn insert(&mut self, key: Key, entry: Entry) {
        let days = self.by_mailbox.entry(key.mailbox).or_default();
        if days.insert((key.day, key.details), entry).is_none() {
            self.len += 1;
        }
    }

    /// Keep only entries for which `keep` holds.
    fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        let mut len = 0;
        self.by_mailbox.retain(|_, days| {
            days.retain(|_, e| keep(e));
            len += days.len();
            !days.is_empty()
        });
        self.len = len;
    }
}

/// `mailbox` in lower case, without copying one that already is.
fn lower(mailbox: &str) -> std::borrow::Cow<'_, str> {
    if mailbox.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(mailbox.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(mailbox)
    }
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

/// A day of a mailbox as kept in the shared store.
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedEntry {
    fetched_at: Timestamp,
    blocks: Vec<Block>,
    working_hours: Option<WorkingHours>,
}

/// Most rendered answers kept; beyond it, new ones are not kept until old ones expire.
const MAX_RENDERED: usize = 4096;
/// Longest request key whose answer is kept rendered (longer ones are rare and big).
const MAX_RENDERED_KEY: usize = 8 * 1024;

/// A rendered answer and until when it reads the same.
struct Rendered {
    until: Instant,
    body: bytes::Bytes,
}

/// A tenant's cache.
pub struct Cache {
    settings: CacheSettings,
    entries: Mutex<Entries>,
    rendered: Mutex<HashMap<String, Rendered>>,
    /// The shared store and this tenant's name in its keys.
    shared: Option<(Arc<Shared>, String)>,
}

impl Cache {
    /// An empty cache, also kept in `shared` (under `tenant`'s name) when given.
    pub fn new(settings: CacheSettings, shared: Option<(Arc<Shared>, String)>) -> Self {
        Cache { settings, entries: Mutex::new(Entries::default()), rendered: Mutex::new(HashMap::new()), shared }
    }

    fn shared_key(&self, tenant: &str, mailbox: &str, day: i64, details: bool) -> String {
        let shared = &self.shared.as_ref().expect("a shared store").0;
        shared.key(&format!("cache:{tenant}:{}:{day}:{}", u8::from(details), mailbox.to_ascii_lowercase()))
    }

    /// How long entries are served fresh.
    pub fn ttl(&self) -> Duration {
        self.settings.ttl
    }

    /// The rendered answer kept for request `key`, while it still reads the same.
    pub fn rendered(&self, key: &str) -> Option<bytes::Bytes> {
        let rendered = self.rendered.lock().expect("rendered lock");
        rendered.get(key).filter(|r| Instant::now() < r.until).map(|r| r.body.clone())
    }

    /// Keep `body`, the answer to request `key`, for `valid_for`.
    pub fn keep_rendered(&self, key: String, body: bytes::Bytes, valid_for: Duration) {
        if key.len() > MAX_RENDERED_KEY || valid_for.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut rendered = self.rendered.lock().expect("rendered lock");
        if rendered.len() >= MAX_RENDERED {
            rendered.retain(|_, r| now < r.until);
            // Still full of live answers (thousands of different questions a second): start
            // over rather than scan the whole memo again on every store; it is only a memo.
            if rendered.len() >= MAX_RENDERED * 3 / 4 {
                rendered.clear();
            }
        }
        rendered.insert(key, Rendered { until: now + valid_for, body });
    }

    /// Whether a request with these options is served through the cache.
    pub fn serves(&self, details: bool, upstream_view: bool) -> bool {
        !self.settings.ttl.is_zero() && (!details || self.settings.details) && !upstream_view
    }

    /// Every day of `days` for `mailbox`, if each is younger than the TTL: from this instance's
    /// memory, else from the shared store.
    pub async fn fresh(&self, mailbox: &str, days: &Range<i64>, details: bool) -> Option<Cached> {
        match self.lookup(mailbox, days, details, self.settings.ttl) {
            Some(hit) => Some(hit),
            None => self.lookup_shared(mailbox, days, details, self.settings.ttl).await,
        }
    }

    /// Every day of `days` for `mailbox` within the TTL plus the stale-if-error allowance.
    pub async fn stale(&self, mailbox: &str, days: &Range<i64>, details: bool) -> Option<Cached> {
        let max_age = self.settings.ttl + self.settings.stale_if_error;
        match self.lookup(mailbox, days, details, max_age) {
            Some(hit) => Some(hit),
            None => self.lookup_shared(mailbox, days, details, max_age).await,
        }
    }

    /// The days from the shared store, if it has each within `max_age`; kept in memory too.
    async fn lookup_shared(
        &self,
        mailbox: &str,
        days: &Range<i64>,
        details: bool,
        max_age: Duration,
    ) -> Option<Cached> {
        let (shared, tenant) = self.shared.as_ref()?;
        let keys: Vec<String> = days.clone().map(|day| self.shared_key(tenant, mailbox, day, details)).collect();
        let values = shared.get_many(&keys).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let max_age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        let mut found = Vec::with_capacity(values.len());
        for value in values {
            let entry: SharedEntry = serde_json::from_slice(&value?).ok()?;
            if now - entry.fetched_at > max_age_ms {
                return None;
            }
            found.push(entry);
        }
        // Keep them here as old as they are, so that they expire here when they do there.
        let kept = days.clone().zip(found).map(|(day, entry)| {
            let age = Duration::from_millis(u64::try_from(now - entry.fetched_at).unwrap_or(0));
            let entry = Entry {
                fetched: Instant::now().checked_sub(age).unwrap_or_else(Instant::now),
                fetched_at: entry.fetched_at,
                blocks: entry.blocks,
                working_hours: entry.working_hours,
            };
            (Key { mailbox: mailbox.to_ascii_lowercase(), day, details }, entry)
        });
        self.keep(kept.collect());
        self.lookup(mailbox, days, details, max_age)
    }

    fn lookup(&self, mailbox: &str, days: &Range<i64>, details: bool, max_age: Duration) -> Option<Cached> {
        let mailbox = lower(mailbox);
        let entries = self.entries.lock().expect("cache lock");
        let held = entries.by_mailbox.get(mailbox.as_ref())?;
        let mut blocks = Vec::new();
        let mut working_hours = None;
        let mut fetched_at = Timestamp::MAX;
        let now = Instant::now();
        for day in days.clone() {
            let entry = held.get(&(day, details))?;
            if now.saturating_duration_since(entry.fetched) > max_age {
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

    /// Store a mailbox's fresh answer over `days`, one entry per day, here and in the shared
    /// store.
    pub async fn store(
        &self,
        mailbox: &str,
        days: &Range<i64>,
        details: bool,
        blocks: &[Block],
        working_hours: Option<&WorkingHours>,
    ) {
        let fetched_at = chrono::Utc::now().timestamp_millis();
        let by_day: Vec<(i64, Vec<Block>)> = days
            .clone()
            .map(|day| {
                let window = Window::of_days(&(day..day + 1));
                (day, blocks.iter().filter(|b| b.start < window.end && b.end > window.start).cloned().collect())
            })
            .collect();
        if let Some((shared, tenant)) = &self.shared {
            let entries: Vec<(String, Vec<u8>)> = by_day
                .iter()
                .filter_map(|(day, blocks)| {
                    let entry =
                        SharedEntry { fetched_at, blocks: blocks.clone(), working_hours: working_hours.cloned() };
                    Some((self.shared_key(tenant, mailbox, *day, details), serde_json::to_vec(&entry).ok()?))
                })
                .collect();
            shared.set_many(&entries, self.settings.ttl + self.settings.stale_if_error).await;
        }
        self.store_local(mailbox, details, by_day, fetched_at, working_hours);
    }

    fn store_local(
        &self,
        mailbox: &str,
        details: bool,
        by_day: Vec<(i64, Vec<Block>)>,
        fetched_at: Timestamp,
        working_hours: Option<&WorkingHours>,
    ) {
        let fetched = Instant::now();
        let entries = by_day.into_iter().map(|(day, blocks)| {
            let entry = Entry { fetched, fetched_at, blocks, working_hours: working_hours.cloned() };
            (Key { mailbox: mailbox.to_ascii_lowercase(), day, details }, entry)
        });
        self.keep(entries.collect());
    }

    /// Put entries in memory, within `max_entries`.
    fn keep(&self, new: Vec<(Key, Entry)>) {
        let mut entries = self.entries.lock().expect("cache lock");
        for (key, entry) in new {
            entries.insert(key, entry);
        }
        if entries.len > self.settings.max_entries {
            // Making room reads every entry under the lock, so it makes room for a tenth of
            // `max_entries` at once: making room for just the newcomers made every store into a
            // full cache scan and sort it (`scripts/bench --only footprint` measures a store at
            // capacity next to one below it).
            let room_for = self.settings.max_entries - self.settings.max_entries / 10;
            // Expired entries go first; if that is not enough, the oldest.
            let keep_for = self.settings.ttl + self.settings.stale_if_error;
            entries.retain(|e| e.fetched.elapsed() <= keep_for);
            let excess = entries.len.saturating_sub(room_for);
            if excess > 0 {
                let mut ages: Vec<Instant> =
                    entries.by_mailbox.values().flat_map(|days| days.values().map(|e| e.fetched)).collect();
                // Drop everything fetched at or before the excess-th oldest time.
                let (_, &mut cutoff, _) = ages.select_nth_unstable(excess - 1);
                entries.retain(|e| e.fetched > cutoff);
            }
        }
    }

    /// Mailbox-days held.
    pub fn len(&self) -> usize {
        self.entries.lock().expect("cache lock").len
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freebusy_core::model::{Availability, DAY_MS};

    #[tokio::test]
    async fn an_item_across_midnight_is_stored_with_both_days_and_read_once() {
        let cache = Cache::new(CacheSettings::default(), None);
        let night = Block::new(DAY_MS - 3_600_000, DAY_MS + 3_600_000, Availability::Busy);
        cache.store("A@x.com", &(0..2), false, std::slice::from_ref(&night), None).await;
        assert_eq!(cache.len(), 2);
        let hit = cache.fresh("a@X.com", &(0..2), false).await.unwrap();
        assert_eq!(hit.blocks, vec![night.clone()]);
        assert_eq!(cache.fresh("a@x.com", &(1..2), false).await.unwrap().blocks, vec![night]);
        // A day never fetched, or the other details flag, is a miss.
        assert!(cache.fresh("a@x.com", &(0..3), false).await.is_none());
        assert!(cache.fresh("a@x.com", &(0..2), true).await.is_none());
    }

    #[tokio::test]
    async fn expired_entries_are_only_served_as_stale() {
        let cache = Cache::new(
            CacheSettings {
                ttl: Duration::from_millis(1),
                stale_if_error: Duration::from_secs(60),
                ..CacheSettings::default()
            },
            None,
        );
        cache.store("a@x.com", &(0..1), false, &[], None).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(cache.fresh("a@x.com", &(0..1), false).await.is_none());
        assert!(cache.stale("a@x.com", &(0..1), false).await.is_some());
    }

    #[tokio::test]
    async fn beyond_max_entries_the_oldest_are_dropped() {
        let cache = Cache::new(CacheSettings { max_entries: 3, ..CacheSettings::default() }, None);
        for day in 0..5 {
            cache.store("a@x.com", &(day..day + 1), false, &[], None).await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.fresh("a@x.com", &(0..1), false).await.is_none());
        assert!(cache.fresh("a@x.com", &(4..5), false).await.is_some());
    }

    #[tokio::test]
    async fn a_full_cache_makes_room_for_a_tenth_at_once_not_one_entry_per_store() {
        let cache = Cache::new(CacheSettings { max_entries: 100, ..CacheSettings::default() }, None);
        for day in 0..100 {
            cache.store("a@x.com", &(day..day + 1), false, &[], None).await;
        }
        assert_eq!(cache.len(), 100, "nothing goes before the cache is over max_entries");
        cache.store("a@x.com", &(100..101), false, &[], None).await;
        let after = cache.len();
        assert!((80..=90).contains(&after), "room made for a tenth: {after} entries left");
        assert!(cache.fresh("a@x.com", &(100..101), false).await.is_some(), "the newest stays");
        assert!(cache.fresh("a@x.com", &(0..1), false).await.is_none(), "the oldest went");
        // The next stores fit without another pass over the cache.
        for day in 101..111 {
            cache.store("a@x.com", &(day..day + 1), false, &[], None).await;
        }
        assert_eq!(cache.len(), after + 10);
    }

    #[test]
    fn the_rendered_memo_stays_bounded_and_keeps_the_newest_answer() {
        let cache = Cache::new(CacheSettings::default(), None);
        let body = bytes::Bytes::from_static(b"{}");
        for n in 0..MAX_RENDERED {
            cache.keep_rendered(format!("q{n}"), body.clone(), Duration::from_secs(60));
        }
        assert_eq!(cache.rendered.lock().unwrap().len(), MAX_RENDERED);
        cache.keep_rendered("newest".into(), body.clone(), Duration::from_secs(60));
        assert!(cache.rendered.lock().unwrap().len() <= MAX_RENDERED);
        assert_eq!(cache.rendered("newest"), Some(body), "the newest answer is kept");
    }
}
