//! The merged availability string: one character per interval of the window, like Graph's
//! `availabilityView` and EWS's `MergedFreeBusy` (https://learn.microsoft.com/graph/api/calendar-getschedule and
//! https://learn.microsoft.com/exchange/client-developer/web-service-reference/mergedfreebusy: length = window ÷
//! interval, the highest state in a slot wins).
//!
//! Differences from Graph, on purpose: working elsewhere is written as `4` as Graph's docs say
//! (the service writes `0` "for backward compatibility"), the last slot may be partial (length is
//! `ceil(window / interval)`), and a slot holding unread time is `?` rather than silently `0`.

use crate::model::{Availability, Block, Window, MINUTE_MS};

/// Smallest interval Graph and EWS accept, in minutes.
pub const MIN_INTERVAL_MINUTES: u32 = 5;
/// Largest interval Graph and EWS accept, in minutes.
pub const MAX_INTERVAL_MINUTES: u32 = 1440;

/// The availability string for `blocks` over `window` at `interval_minutes` per character.
///
/// Each slot gets the digit of the highest-precedence status of any block overlapping it
/// ([`Availability::precedence`]), or `0` when none does.
pub fn availability_view(blocks: &[Block], window: Window, interval_minutes: u32) -> String {
    assert!(interval_minutes > 0, "interval must be positive");
    let step = i64::from(interval_minutes) * MINUTE_MS;
    let slots = usize::try_from((window.len_ms() + step - 1) / step).unwrap_or(0);
    // Each block paints the slots it overlaps (a block covers few slots, so this is linear in
    // blocks plus slots, where asking every block about every slot was their product: 168 slots
    // of a week at interval 60 times each item, on every cached answer).
    let mut view = vec![Availability::Free; slots];
    for b in blocks {
        let (start, end) = (b.start.max(window.start), b.end.min(window.end));
        let covered = if start < end {
            // Slot i is [window.start + i*step, +step): the first holding `start` to the one
            // holding the block's last millisecond.
            (start - window.start) / step..=(end - 1 - window.start) / step
        } else if b.start == b.end
            && b.start > window.start
            && b.start < window.end
            && (b.start - window.start) % step != 0
        {
            // An instant strictly inside a slot overlaps it (start < slot end, end > slot start).
            let slot = (b.start - window.start) / step;
            slot..=slot
        } else {
            continue;
        };
        for slot in covered {
            let cell = &mut view[slot as usize];
            if b.status.precedence() > cell.precedence() {
                *cell = b.status;
            }
        }
    }
    view.into_iter().map(Availability::digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Availability::*;
    use proptest::prelude::*;

    const HOUR: i64 = 60 * MINUTE_MS;

    #[test]
    fn ews_documented_example_oof_then_busy_then_free() {
        // mergedfreebusy.md: 4-hour window, 60-minute slots, OOF 1 h, busy 90 min, then free -> "3220".
        let w = Window { start: 0, end: 4 * HOUR };
        let blocks = [Block::new(0, HOUR, OutOfOffice), Block::new(HOUR, HOUR * 5 / 2, Busy)];
        assert_eq!(availability_view(&blocks, w, 60), "3220");
    }

    #[test]
    fn graph_documented_example_busy_wins_over_tentative_in_a_slot() {
        // getSchedule example: 09:00-18:00 at 60 min; busy 08:30-09:30 marks the 09:00 slot busy,
        // tentative 12:00-13:00 under busy 12:00-14:00 stays busy, tentative 16:00-17:00.
        let nine = 9 * HOUR;
        let w = Window { start: nine, end: 18 * HOUR };
        let blocks = [
            Block::new(8 * HOUR + HOUR / 2, nine + HOUR / 2, Busy),
            Block::new(12 * HOUR, 14 * HOUR, Busy),
            Block::new(12 * HOUR, 13 * HOUR, Tentative),
            Block::new(13 * HOUR, 14 * HOUR, Busy),
            Block::new(16 * HOUR, 17 * HOUR, Tentative),
        ];
        assert_eq!(availability_view(&blocks, w, 60), "200220010");
    }

    #[test]
    fn partial_last_slot_counts_and_unknown_is_question_mark() {
        let w = Window { start: 0, end: 90 * MINUTE_MS };
        let blocks = [Block::new(70 * MINUTE_MS, 80 * MINUTE_MS, Unknown)];
        assert_eq!(availability_view(&blocks, w, 60), "0?");
    }

    /// The definition, slot by slot: the highest status of any block overlapping the slot.
    fn by_definition(blocks: &[Block], window: Window, interval_minutes: u32) -> String {
        let step = i64::from(interval_minutes) * MINUTE_MS;
        let slots = (window.len_ms() + step - 1) / step;
        (0..slots)
            .map(|i| {
                let slot_start = window.start + i * step;
                let slot_end = (slot_start + step).min(window.end);
                blocks
                    .iter()
                    .filter(|b| b.start < slot_end && b.end > slot_start)
                    .map(|b| b.status)
                    .max_by_key(|s| s.precedence())
                    .unwrap_or(Free)
                    .digit()
            })
            .collect()
    }

    fn any_status() -> impl Strategy<Value = Availability> {
        prop_oneof![Just(Free), Just(WorkingElsewhere), Just(Unknown), Just(Tentative), Just(Busy), Just(OutOfOffice)]
    }

    proptest! {
        #[test]
        fn painting_slots_gives_the_slot_by_slot_definition(
            blocks in proptest::collection::vec((-200i64..2000, 0i64..400, any_status()), 0..12),
            window_start in -100i64..500,
            window_len in 0i64..1500,
            interval in 5u32..120,
        ) {
            // Minutes here, milliseconds inside: odd offsets put edges inside slots.
            let blocks: Vec<Block> = blocks
                .into_iter()
                .map(|(start, len, status)| Block::new(start * MINUTE_MS + 7, (start + len) * MINUTE_MS + 7, status))
                .collect();
            let window = Window { start: window_start * MINUTE_MS, end: (window_start + window_len) * MINUTE_MS };
            prop_assert_eq!(availability_view(&blocks, window, interval), by_definition(&blocks, window, interval));
        }

        #[test]
        fn length_is_the_ceiling_of_window_over_interval(len_min in 0i64..5000, interval in 5u32..1440) {
            let w = Window { start: 0, end: len_min * MINUTE_MS };
            let s = availability_view(&[], w, interval);
            let expected = (len_min + i64::from(interval) - 1) / i64::from(interval);
            prop_assert_eq!(s.len() as i64, expected);
            prop_assert!(s.chars().all(|c| c == '0'));
        }

        #[test]
        fn a_block_marks_exactly_the_slots_it_overlaps(start_min in 0i64..600, len_min in 1i64..300, interval in 5u32..120) {
            let w = Window { start: 0, end: 600 * MINUTE_MS };
            let b = Block::new(start_min * MINUTE_MS, (start_min + len_min) * MINUTE_MS, Busy);
            let s = availability_view(std::slice::from_ref(&b), w, interval);
            let step = i64::from(interval) * MINUTE_MS;
            for (i, c) in s.chars().enumerate() {
                let slot_start = i as i64 * step;
                let slot_end = (slot_start + step).min(w.end);
                let overlaps = b.start < slot_end && b.end > slot_start;
                prop_assert_eq!(c == '2', overlaps);
            }
        }
    }
}
