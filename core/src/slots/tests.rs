//! Hand-written cases across a DST change with people in three zones and a room, and property
//! tests against a brute-force reading of the rules.

use std::collections::HashMap;

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::model::{Block, ErrorCode};
use crate::provider::MailboxSchedule;

const H: i64 = 3_600_000;
const M: i64 = MINUTE_MS;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Timestamp {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp_millis()
}

fn weekdays() -> Vec<Weekday> {
    vec![Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday, Weekday::Thursday, Weekday::Friday]
}

fn hours(zone: &str, start_h: u16, end_h: u16) -> WorkingHours {
    WorkingHours { days: weekdays(), start_minute: start_h * 60, end_minute: end_h * 60, time_zone: zone.into() }
}

fn person(blocks: Vec<Block>, hours: Option<WorkingHours>) -> MailboxOutcome {
    Ok(MailboxSchedule::of_blocks(blocks).with_working_hours(hours))
}

fn query(window: Window, groups: Vec<Group>) -> SlotQuery {
    SlotQuery {
        window,
        duration_ms: 30 * M,
        interval_minutes: 15,
        time_zone: "Europe/Berlin".parse().unwrap(),
        groups,
        buffer_before_ms: 0,
        buffer_after_ms: 0,
        hours: HoursRule::Participants,
        tentative_blocks: true,
        max_slots: 1000,
    }
}

fn all(mailboxes: &[&str]) -> Group {
    Group { mailboxes: mailboxes.iter().map(|m| m.to_string()).collect(), required: Required::All }
}

fn one_of(mailboxes: &[&str]) -> Group {
    Group { mailboxes: mailboxes.iter().map(|m| m.to_string()).collect(), required: Required::AtLeast(1) }
}

/// Berlin (8-17), London (9-17) and New York (9-17) people and a Berlin room, over Friday 27 March
/// to Tuesday 31 March 2026: Europe moves its clocks on Sunday 29 March, New York did on 8 March.
fn three_zones() -> (SlotQuery, HashMap<String, MailboxOutcome>) {
    let window = Window { start: utc(2026, 3, 27, 0, 0), end: utc(2026, 3, 31, 0, 0) };
    let q = query(window, vec![all(&["berlin@x.com", "london@x.com", "newyork@x.com"]), one_of(&["room@x.com"])]);
    let outcomes = HashMap::from([
        ("berlin@x.com".to_string(), person(vec![], Some(hours("Europe/Berlin", 8, 17)))),
        ("london@x.com".to_string(), person(vec![], Some(hours("Europe/London", 9, 17)))),
        // New York's zone as Exchange names it: Windows names map to IANA.
        ("newyork@x.com".to_string(), person(vec![], Some(hours("Eastern Standard Time", 9, 17)))),
        ("room@x.com".to_string(), person(vec![], None)),
    ]);
    (q, outcomes)
}

fn starts(slots: &Slots) -> Vec<Timestamp> {
    slots.slots.iter().map(|s| s.start).collect()
}

#[test]
fn working_hours_in_three_zones_intersect_before_and_after_the_clocks_change() {
    let (q, outcomes) = three_zones();
    let found = find(&q, &outcomes);
    // Friday: Berlin 07-16Z (CET), London 09-17Z, New York 13-21Z: 13:00-16:00Z, 30-minute
    // slots every 15 minutes from 13:00 to 15:30. Weekend: none. Monday: Berlin 06-15Z (CEST),
    // London 08-16Z (BST): 13:00-15:00Z, slots from 13:00 to 14:30.
    let friday: Vec<Timestamp> = (0..11).map(|i| utc(2026, 3, 27, 13, 0) + i * 15 * M).collect();
    let monday: Vec<Timestamp> = (0..7).map(|i| utc(2026, 3, 30, 13, 0) + i * 15 * M).collect();
    assert_eq!(starts(&found), [friday, monday].concat());
    assert!(found.slots.iter().all(|s| s.free[1] == ["room@x.com"]));
}

#[test]
fn a_meeting_and_its_buffers_keep_slots_away() {
    let (mut q, mut outcomes) = three_zones();
    q.buffer_before_ms = 5 * M;
    q.buffer_after_ms = 5 * M;
    // London is busy Monday 13:30-14:00Z.
    let busy = Block::new(utc(2026, 3, 30, 13, 30), utc(2026, 3, 30, 14, 0), Availability::Busy);
    outcomes.insert("london@x.com".into(), person(vec![busy], Some(hours("Europe/London", 9, 17))));
    let monday: Vec<Timestamp> =
        starts(&find(&q, &outcomes)).into_iter().filter(|t| *t >= utc(2026, 3, 30, 0, 0)).collect();
    // 13:00 would end at 13:30 but its buffer reaches 13:35; from 14:15 the buffer before clears 14:00.
    assert_eq!(monday, vec![utc(2026, 3, 30, 14, 15), utc(2026, 3, 30, 14, 30)]);
}

#[test]
fn one_of_several_rooms_is_enough_and_the_free_ones_are_named() {
    let window = Window { start: utc(2026, 3, 23, 9, 0), end: utc(2026, 3, 23, 10, 0) };
    let mut q = query(window, vec![all(&["a@x.com"]), one_of(&["r1@x.com", "r2@x.com"])]);
    q.hours = HoursRule::Ignore;
    q.time_zone = Tz::UTC;
    let outcomes = HashMap::from([
        ("a@x.com".to_string(), person(vec![], None)),
        (
            "r1@x.com".to_string(),
            person(vec![Block::new(window.start, window.start + 30 * M, Availability::Busy)], None),
        ),
        ("r2@x.com".to_string(), Err(MailboxError::new(ErrorCode::NotFound, "no such room"))),
    ]);
    let found = find(&q, &outcomes);
    // r2 could not be read: never free. r1 is free from 09:30, so one slot fits.
    assert_eq!(starts(&found), vec![utc(2026, 3, 23, 9, 30)]);
    assert_eq!(found.slots[0].free, vec![vec!["a@x.com".to_string()], vec!["r1@x.com".to_string()]]);
    assert!(found.blocked.is_empty(), "an unreadable room in a one-of group blocks nothing");
}

#[test]
fn an_unreadable_required_mailbox_blocks_every_slot_and_is_named() {
    let (q, mut outcomes) = three_zones();
    outcomes.insert("london@x.com".into(), Err(MailboxError::new(ErrorCode::AuthFailed, "refused")));
    let found = find(&q, &outcomes);
    assert!(found.slots.is_empty());
    assert_eq!(found.blocked.len(), 1);
    assert_eq!((found.blocked[0].group, found.blocked[0].mailbox.as_str()), (0, "london@x.com"));
}

#[test]
fn tentative_blocks_unless_asked_and_working_elsewhere_never_does() {
    let window = Window { start: utc(2026, 3, 23, 9, 0), end: utc(2026, 3, 23, 10, 0) };
    let mut q = query(window, vec![all(&["a@x.com"])]);
    (q.hours, q.time_zone, q.duration_ms, q.interval_minutes) = (HoursRule::Ignore, Tz::UTC, H, 60);
    let with = |status| {
        HashMap::from([("a@x.com".to_string(), person(vec![Block::new(window.start, window.end, status)], None))])
    };
    assert!(find(&q, &with(Availability::Tentative)).slots.is_empty());
    assert!(find(&q, &with(Availability::Unknown)).slots.is_empty(), "unknown is never free");
    assert!(find(&q, &with(Availability::OutOfOffice)).slots.is_empty());
    assert_eq!(find(&q, &with(Availability::WorkingElsewhere)).slots.len(), 1);
    q.tentative_blocks = false;
    assert_eq!(find(&q, &with(Availability::Tentative)).slots.len(), 1);
}

#[test]
fn slots_align_to_local_time_on_the_day_the_clocks_spring_forward() {
    // Sunday 29 March 2026 in Berlin: 02:00 becomes 03:00. Hourly slots over the whole day start
    // at local 00:00, 01:00, 03:00, ... 23:00: 23 of them.
    let window = Window { start: utc(2026, 3, 28, 23, 0), end: utc(2026, 3, 29, 22, 0) };
    let mut q = query(window, vec![all(&["a@x.com"])]);
    (q.hours, q.duration_ms, q.interval_minutes) = (HoursRule::Ignore, H, 60);
    let outcomes = HashMap::from([("a@x.com".to_string(), person(vec![], None))]);
    let found = find(&q, &outcomes);
    assert_eq!(found.slots.len(), 23);
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let local: Vec<String> = found
        .slots
        .iter()
        .map(|s| {
            DateTime::<Utc>::from_timestamp_millis(s.start).unwrap().with_timezone(&tz).format("%H:%M").to_string()
        })
        .collect();
    assert_eq!(&local[..3], ["00:00", "01:00", "03:00"]);
    // Aligned in Kolkata (UTC+5:30), hourly slots start at half past the UTC hour.
    q.time_zone = "Asia/Kolkata".parse().unwrap();
    assert!(find(&q, &outcomes).slots.iter().all(|s| s.start.rem_euclid(H) == 30 * M));
}

#[test]
fn max_slots_caps_the_answer_and_says_so() {
    let (mut q, outcomes) = three_zones();
    q.max_slots = 5;
    let found = find(&q, &outcomes);
    assert_eq!(found.slots.len(), 5);
    assert!(found.truncated);
    q.max_slots = 18;
    assert!(!find(&q, &outcomes).truncated, "exactly 18 exist");
}

#[test]
fn working_hours_over_the_autumn_change_are_placed_in_local_time() {
    // Sunday 25 October 2026 Berlin falls back; Monday 26 October hours 08-17 are 07-16Z.
    let w = hours("Europe/Berlin", 8, 17);
    let window = Window { start: utc(2026, 10, 23, 0, 0), end: utc(2026, 10, 27, 0, 0) };
    let got: Vec<(Timestamp, Timestamp)> =
        working_intervals(&w, window).into_iter().filter(|(s, _)| *s >= window.start && *s < window.end).collect();
    assert_eq!(
        got,
        vec![(utc(2026, 10, 23, 6, 0), utc(2026, 10, 23, 15, 0)), (utc(2026, 10, 26, 7, 0), utc(2026, 10, 26, 16, 0))]
    );
}

// ---- properties ----

const ZONES: [&str; 4] = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"];

fn arb_status() -> impl Strategy<Value = Availability> {
    prop_oneof![
        Just(Availability::Busy),
        Just(Availability::Tentative),
        Just(Availability::OutOfOffice),
        Just(Availability::WorkingElsewhere),
        Just(Availability::Free),
        Just(Availability::Unknown),
    ]
}

/// Two to four people over two days from a Friday, each with a zone, working hours or not,
/// busy items, and sometimes an error.
fn arb_case() -> impl Strategy<Value = (SlotQuery, HashMap<String, MailboxOutcome>)> {
    let start = utc(2026, 3, 27, 0, 0);
    let arb_person = (
        0..ZONES.len(),
        prop::option::of((6u16..11, 14u16..20)),
        prop::collection::vec((0i64..2 * 24 * 4, 1i64..12, arb_status()), 0..6),
        prop::bool::weighted(0.1),
    );
    (
        prop::collection::vec(arb_person, 2..5),
        1usize..4,
        prop::sample::select(vec![15u32, 30, 45, 60]),
        prop::sample::select(vec![15i64, 30, 60, 90]),
        (0i64..20, 0i64..20),
        0..ZONES.len(),
        prop::bool::ANY,
        1usize..40,
    )
        .prop_map(move |(people, rooms_from, interval, duration, (before, after), zone, tentative, max)| {
            let mut outcomes = HashMap::new();
            let mut names = Vec::new();
            for (i, (z, hours_of, items, broken)) in people.into_iter().enumerate() {
                let name = format!("p{i}@x.com");
                let blocks = items
                    .into_iter()
                    .map(|(at, len, status)| Block::new(start + at * 15 * M, start + (at + len) * 15 * M, status))
                    .collect();
                let wh = hours_of.map(|(s, e)| hours(ZONES[z], s, e));
                let outcome =
                    if broken { Err(MailboxError::new(ErrorCode::Unavailable, "down")) } else { person(blocks, wh) };
                outcomes.insert(name.clone(), outcome);
                names.push(name);
            }
            let split = rooms_from.min(names.len() - 1);
            let groups = vec![
                Group { mailboxes: names[..split].to_vec(), required: Required::All },
                Group { mailboxes: names[split..].to_vec(), required: Required::AtLeast(1) },
            ];
            let q = SlotQuery {
                window: Window { start, end: start + 2 * DAY_MS },
                duration_ms: duration * M,
                interval_minutes: interval,
                time_zone: ZONES[zone].parse().unwrap(),
                groups,
                buffer_before_ms: before * M,
                buffer_after_ms: after * M,
                hours: HoursRule::Participants,
                tentative_blocks: tentative,
                max_slots: max,
            };
            (q, outcomes)
        })
}

/// The rules read plainly, for one mailbox and one slot.
fn plainly_free(q: &SlotQuery, outcome: &MailboxOutcome, start: Timestamp, end: Timestamp) -> bool {
    let Ok(s) = outcome else { return false };
    let clear = s.blocks.iter().all(|b| {
        !blocks(b.status, q.tentative_blocks)
            || b.end <= start - q.buffer_before_ms
            || b.start >= end + q.buffer_after_ms
    });
    let in_hours = s
        .working_hours
        .as_ref()
        .is_none_or(|w| working_intervals(w, q.window).iter().any(|&(a, b)| a <= start && end <= b));
    clear && in_hours
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn every_slot_keeps_the_rules_and_none_is_missed((q, outcomes) in arb_case()) {
        let found = find(&q, &outcomes);
        let required: Vec<&String> = q.groups[0].mailboxes.iter().collect();
        if required.iter().any(|m| outcomes[*m].is_err()) {
            // A mailbox error in an "all" group never yields a slot.
            prop_assert!(found.slots.is_empty());
            prop_assert!(!found.blocked.is_empty());
            return Ok(());
        }
        for slot in &found.slots {
            prop_assert_eq!(slot.end - slot.start, q.duration_ms);
            prop_assert!(aligned(slot.start, q.time_zone, q.interval_minutes));
            prop_assert!(slot.start - q.buffer_before_ms >= q.window.start && slot.end + q.buffer_after_ms <= q.window.end);
            for m in &required {
                // No slot overlaps a required participant's blocking item widened by the buffers,
                // and every slot lies inside each one's working hours.
                prop_assert!(plainly_free(&q, &outcomes[*m], slot.start, slot.end), "{} at {}", m, slot.start);
            }
            prop_assert!(!slot.free[1].is_empty());
            for room in &slot.free[1] {
                prop_assert!(plainly_free(&q, &outcomes[room], slot.start, slot.end));
            }
        }
        // As many as allowed: every aligned start that keeps the rules, up to max_slots.
        let mut expected = Vec::new();
        let mut t = q.window.start;
        while t + q.duration_ms + q.buffer_after_ms <= q.window.end {
            let end = t + q.duration_ms;
            let ok = t - q.buffer_before_ms >= q.window.start
                && aligned(t, q.time_zone, q.interval_minutes)
                && required.iter().all(|m| plainly_free(&q, &outcomes[*m], t, end))
                && q.groups[1].mailboxes.iter().any(|r| plainly_free(&q, &outcomes[r], t, end));
            if ok {
                expected.push(t);
            }
            t += M;
        }
        let got: Vec<Timestamp> = found.slots.iter().map(|s| s.start).collect();
        let n = expected.len().min(q.max_slots);
        prop_assert_eq!(&got[..], &expected[..n]);
        prop_assert_eq!(found.truncated, expected.len() > q.max_slots);
    }
}
