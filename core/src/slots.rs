//! Finding a time: the free slots common to people and rooms, from the schedules every provider
//! returns, so the answer is the same whichever upstream serves each mailbox.
//!
//! A slot starts on an `interval` boundary counted in the request's time zone (a booking page in
//! Berlin wants :00, :15, :30, :45 local time, also on the day the clocks change), lasts
//! `duration`, and keeps `buffer` clear of busy time on both sides. Out of office, busy and
//! unknown always block; tentative blocks unless asked otherwise; working elsewhere and free do
//! not. With working hours, a slot lies wholly inside each counted mailbox's hours, in that
//! mailbox's own zone (across DST changes). Buffers must lie inside the request's window: busy
//! time outside it is not known, so a slot is never offered on a guess.
//!
//! A group of mailboxes is satisfied when all of them are free (`required: all`) or at least N
//! of them are (any one of these rooms). A mailbox that could not be read is never free: in an
//! "all" group it blocks every slot (and the answer names it); in an N-of group it is simply not
//! one of the N.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::{Availability, MailboxError, Timestamp, Weekday, Window, WorkingHours, DAY_MS, MINUTE_MS};
use crate::scheduler::MailboxOutcome;

/// How many of a group must be free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// Every one.
    All,
    /// At least this many (for example one of several rooms).
    AtLeast(usize),
}

/// Mailboxes that are asked about together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Addresses, as requested.
    pub mailboxes: Vec<String>,
    /// How many must be free.
    pub required: Required,
}

/// Whose working hours bound the slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoursRule {
    /// Each mailbox's own, as its upstream reports them (a mailbox without any is not bound).
    Participants,
    /// These hours for everyone.
    Override(WorkingHours),
    /// None: any time of day.
    Ignore,
}

/// A validated question.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotQuery {
    /// Where slots may lie.
    pub window: Window,
    /// How long the meeting is.
    pub duration_ms: i64,
    /// Slots start on multiples of this many minutes after local midnight in `time_zone`.
    pub interval_minutes: u32,
    /// The zone slots are aligned in.
    pub time_zone: Tz,
    /// Who must be free.
    pub groups: Vec<Group>,
    /// Clear time before each slot.
    pub buffer_before_ms: i64,
    /// Clear time after each slot.
    pub buffer_after_ms: i64,
    /// Working hours.
    pub hours: HoursRule,
    /// Whether tentative time blocks.
    pub tentative_blocks: bool,
    /// At most this many slots.
    pub max_slots: usize,
}

/// One free slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Start instant.
    pub start: Timestamp,
    /// End instant (exclusive).
    pub end: Timestamp,
    /// For each group, in order, the mailboxes free for the whole slot.
    pub free: Vec<Vec<String>>,
}

/// A mailbox of an "all" group that could not be read, so no slot can be offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// Index of its group.
    pub group: usize,
    /// The address.
    pub mailbox: String,
    /// Why it could not be read.
    pub error: MailboxError,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Slots {
    /// Free slots, earliest first.
    pub slots: Vec<Slot>,
    /// More slots exist than `max_slots`.
    pub truncated: bool,
    /// Why there can be none, when a required mailbox could not be read.
    pub blocked: Vec<Blocked>,
}

/// Whether an item of this status keeps a slot from being offered.
pub fn blocks(status: Availability, tentative_blocks: bool) -> bool {
    match status {
        Availability::Busy | Availability::OutOfOffice | Availability::Unknown => true,
        Availability::Tentative => tentative_blocks,
        Availability::Free | Availability::WorkingElsewhere => false,
    }
}

/// A zone by IANA name (or Windows name), if known.
pub fn zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok().or_else(|| crate::zones::windows_to_iana(name).and_then(|n| n.parse().ok()))
}

/// A local wall-clock time in `tz` as an instant: the earlier one when the clocks fall back, the
/// first instant after the gap when they spring forward.
fn local_to_utc(tz: Tz, local: NaiveDateTime) -> Timestamp {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp_millis(),
        LocalResult::None => {
            // In the spring gap: the offset before it applies to the wall time, landing after it.
            let before = tz.offset_from_utc_datetime(&(local - Duration::hours(3))).fix();
            (local - Duration::seconds(i64::from(before.local_minus_utc()))).and_utc().timestamp_millis()
        }
    }
}

fn chrono_weekday(d: NaiveDate) -> Weekday {
    match d.weekday() {
        chrono::Weekday::Mon => Weekday::Monday,
        chrono::Weekday::Tue => Weekday::Tuesday,
        chrono::Weekday::Wed => Weekday::Wednesday,
        chrono::Weekday::Thu => Weekday::Thursday,
        chrono::Weekday::Fri => Weekday::Friday,
        chrono::Weekday::Sat => Weekday::Saturday,
        chrono::Weekday::Sun => Weekday::Sunday,
    }
}

/// The stretches of `window` (with a day's margin) that lie inside `hours`, as instants.
pub fn working_intervals(hours: &WorkingHours, window: Window) -> Vec<(Timestamp, Timestamp)> {
    let tz = zone(&hours.time_zone).unwrap_or(Tz::UTC);
    let first =
        DateTime::<Utc>::from_timestamp_millis(window.start - DAY_MS).map(|t| t.with_timezone(&tz).date_naive());
    let last = DateTime::<Utc>::from_timestamp_millis(window.end + DAY_MS).map(|t| t.with_timezone(&tz).date_naive());
    let (Some(mut day), Some(last)) = (first, last) else { return Vec::new() };
    let mut out = Vec::new();
    while day <= last {
        if hours.days.contains(&chrono_weekday(day)) && hours.end_minute > hours.start_minute {
            let midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
            let start = local_to_utc(tz, midnight + Duration::minutes(i64::from(hours.start_minute)));
            let end = local_to_utc(tz, midnight + Duration::minutes(i64::from(hours.end_minute.min(1440))));
            if end > start {
                out.push((start, end));
            }
        }
        day = day.succ_opt().expect("a next day");
    }
    out
}

/// Whether `t` is on an interval boundary counted from local midnight in `tz`.
pub fn aligned(t: Timestamp, tz: Tz, interval_minutes: u32) -> bool {
    if t.rem_euclid(MINUTE_MS) != 0 {
        return false;
    }
    let Some(utc) = DateTime::<Utc>::from_timestamp_millis(t) else { return false };
    let offset = i64::from(tz.offset_from_utc_datetime(&utc.naive_utc()).fix().local_minus_utc());
    let minute_of_day = (t / MINUTE_MS + offset / 60).rem_euclid(1440);
    minute_of_day % i64::from(interval_minutes.max(1)) == 0
}

/// What one mailbox allows.
struct Constraints {
    /// Blocking items, merged, sorted.
    busy: Vec<(Timestamp, Timestamp)>,
    /// Where slots may lie, when bound by working hours.
    working: Option<Vec<(Timestamp, Timestamp)>>,
}

impl Constraints {
    fn of(q: &SlotQuery, outcome: &MailboxOutcome) -> Result<Constraints, MailboxError> {
        let schedule = outcome.as_ref().map_err(Clone::clone)?;
        let mut busy: Vec<(Timestamp, Timestamp)> = schedule
            .blocks
            .iter()
            .filter(|b| b.end > b.start && blocks(b.status, q.tentative_blocks))
            .map(|b| (b.start, b.end))
            .collect();
        busy.sort_unstable();
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(busy.len());
        for (s, e) in busy {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let working = match &q.hours {
            HoursRule::Ignore => None,
            HoursRule::Override(hours) => Some(working_intervals(hours, q.window)),
            HoursRule::Participants => schedule.working_hours.as_ref().map(|h| working_intervals(h, q.window)),
        };
        Ok(Constraints { busy: merged, working })
    }

    /// Free for `[start, end)`, with the buffers around it clear.
    fn free(&self, start: Timestamp, end: Timestamp, before: i64, after: i64) -> bool {
        let (clear_from, clear_to) = (start - before, end + after);
        let at = self.busy.partition_point(|b| b.1 <= clear_from);
        let busy_free = self.busy.get(at).is_none_or(|b| b.0 >= clear_to);
        let in_hours = self.working.as_ref().is_none_or(|w| w.iter().any(|&(s, e)| s <= start && end <= e));
        busy_free && in_hours
    }
}

/// The free slots for `q`, given each mailbox's outcome (by lower-cased address).
pub fn find(q: &SlotQuery, outcomes: &HashMap<String, MailboxOutcome>) -> Slots {
    let missing = MailboxError::new(crate::model::ErrorCode::ProviderFault, "no schedule was fetched for this mailbox");
    let groups: Vec<Vec<(String, Result<Constraints, MailboxError>)>> = q
        .groups
        .iter()
        .map(|g| {
            g.mailboxes
                .iter()
                .map(|m| {
                    let c = match outcomes.get(&m.to_ascii_lowercase()) {
                        Some(outcome) => Constraints::of(q, outcome),
                        None => Err(missing.clone()),
                    };
                    (m.clone(), c)
                })
                .collect()
        })
        .collect();
    let mut answer = Slots::default();
    for (i, (group, members)) in q.groups.iter().zip(&groups).enumerate() {
        if group.required == Required::All {
            for (mailbox, c) in members {
                if let Err(error) = c {
                    answer.blocked.push(Blocked { group: i, mailbox: mailbox.clone(), error: error.clone() });
                }
            }
        }
    }
    if !answer.blocked.is_empty() {
        return answer;
    }
    let first = (q.window.start + q.buffer_before_ms).div_euclid(MINUTE_MS) * MINUTE_MS;
    let first = if first < q.window.start + q.buffer_before_ms { first + MINUTE_MS } else { first };
    let mut t = first;
    while t + q.duration_ms + q.buffer_after_ms <= q.window.end {
        if aligned(t, q.time_zone, q.interval_minutes) {
            let end = t + q.duration_ms;
            let free: Vec<Vec<String>> = groups
                .iter()
                .map(|members| {
                    members
                        .iter()
                        .filter(|(_, c)| {
                            c.as_ref().is_ok_and(|c| c.free(t, end, q.buffer_before_ms, q.buffer_after_ms))
                        })
                        .map(|(m, _)| m.clone())
                        .collect()
                })
                .collect();
            let satisfied = q.groups.iter().zip(&free).all(|(g, f)| match g.required {
                Required::All => f.len() == g.mailboxes.len(),
                Required::AtLeast(n) => f.len() >= n,
            });
            if satisfied {
                if answer.slots.len() == q.max_slots {
                    answer.truncated = true;
                    break;
                }
                answer.slots.push(Slot { start: t, end, free });
            }
        }
        t += MINUTE_MS;
    }
    answer
}

#[cfg(test)]
mod tests;
