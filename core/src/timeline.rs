//! Turning a provider's raw items into the timeline an integrator wants: sorted, clipped to the
//! query window, overlaps resolved by status precedence, free time left out.

use crate::model::{Availability, Block, Window};

/// One stretch of a merged timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Start instant.
    pub start: i64,
    /// End instant (exclusive).
    pub end: i64,
    /// The highest-precedence status of the items covering this stretch.
    pub status: Availability,
}

/// Clip `blocks` to `window`, dropping what lies outside it (or is empty), sorted by start,
/// then end, then status.
pub fn clip(blocks: &[Block], window: Window) -> Vec<Block> {
    let mut clipped: Vec<Block> = blocks
        .iter()
        .filter_map(|b| {
            let start = b.start.max(window.start);
            let end = b.end.min(window.end);
            (start < end).then(|| Block { start, end, ..b.clone() })
        })
        .collect();
    clipped.sort_by_key(|b| (b.start, b.end, b.status.precedence()));
    clipped
}

/// Merge `blocks` within `window` into non-overlapping segments, sorted, each carrying the
/// highest-precedence status among the items covering it. Free time is not a segment, and
/// adjacent segments with the same status are joined.
pub fn merge(blocks: &[Block], window: Window) -> Vec<Segment> {
    let clipped = clip(blocks, window);
    // Sweep over every boundary; between two consecutive boundaries the covering set is fixed.
    let mut bounds: Vec<i64> = clipped.iter().flat_map(|b| [b.start, b.end]).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut segments: Vec<Segment> = Vec::new();
    for pair in bounds.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let status = clipped
            .iter()
            .filter(|b| b.start <= start && b.end >= end)
            .map(|b| b.status)
            .max_by_key(|s| s.precedence());
        let Some(status) = status.filter(|s| *s != Availability::Free) else { continue };
        match segments.last_mut() {
            Some(last) if last.end == start && last.status == status => last.end = end,
            _ => segments.push(Segment { start, end, status }),
        }
    }
    segments
}

/// The status at one instant, from merged segments (free where no segment covers it).
pub fn status_at(segments: &[Segment], instant: i64) -> Availability {
    segments.iter().find(|s| s.start <= instant && instant < s.end).map_or(Availability::Free, |s| s.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Availability::*;
    use proptest::prelude::*;

    const W: Window = Window { start: 0, end: 100 };

    #[test]
    fn overlapping_busy_and_tentative_gives_busy_where_they_overlap() {
        let blocks = [Block::new(10, 30, Tentative), Block::new(20, 40, Busy)];
        assert_eq!(
            merge(&blocks, W),
            vec![Segment { start: 10, end: 20, status: Tentative }, Segment { start: 20, end: 40, status: Busy }]
        );
    }

    #[test]
    fn out_of_office_beats_busy_and_free_items_are_dropped() {
        let blocks = [Block::new(0, 50, Busy), Block::new(10, 20, OutOfOffice), Block::new(60, 70, Free)];
        assert_eq!(
            merge(&blocks, W),
            vec![
                Segment { start: 0, end: 10, status: Busy },
                Segment { start: 10, end: 20, status: OutOfOffice },
                Segment { start: 20, end: 50, status: Busy }
            ]
        );
    }

    #[test]
    fn adjacent_blocks_with_the_same_status_are_joined() {
        let blocks = [Block::new(10, 20, Busy), Block::new(20, 30, Busy)];
        assert_eq!(merge(&blocks, W), vec![Segment { start: 10, end: 30, status: Busy }]);
    }

    #[test]
    fn blocks_are_clipped_to_the_window() {
        let blocks = [Block::new(-50, 10, Busy), Block::new(90, 200, Tentative), Block::new(150, 160, Busy)];
        assert_eq!(
            merge(&blocks, W),
            vec![Segment { start: 0, end: 10, status: Busy }, Segment { start: 90, end: 100, status: Tentative }]
        );
    }

    #[test]
    fn unknown_stays_distinct_and_is_not_free() {
        let blocks = [Block::new(0, 10, Unknown), Block::new(5, 15, WorkingElsewhere)];
        assert_eq!(
            merge(&blocks, W),
            vec![
                Segment { start: 0, end: 10, status: Unknown },
                Segment { start: 10, end: 15, status: WorkingElsewhere }
            ]
        );
    }

    #[test]
    fn window_split_covers_exactly() {
        let w = Window { start: 0, end: 25 };
        assert_eq!(
            w.split(10),
            vec![Window { start: 0, end: 10 }, Window { start: 10, end: 20 }, Window { start: 20, end: 25 }]
        );
    }

    fn status() -> impl Strategy<Value = Availability> {
        prop_oneof![Just(Free), Just(Tentative), Just(Busy), Just(OutOfOffice), Just(WorkingElsewhere), Just(Unknown)]
    }

    fn block() -> impl Strategy<Value = Block> {
        (-20i64..120, 1i64..60, status()).prop_map(|(s, len, st)| Block::new(s, s + len, st))
    }

    proptest! {
        #[test]
        fn merged_segments_are_sorted_disjoint_inside_the_window_and_never_free(blocks in prop::collection::vec(block(), 0..12)) {
            let segments = merge(&blocks, W);
            for s in &segments {
                prop_assert!(s.start < s.end);
                prop_assert!(s.start >= W.start && s.end <= W.end);
                prop_assert_ne!(s.status, Free);
            }
            for pair in segments.windows(2) {
                prop_assert!(pair[0].end <= pair[1].start);
                // Touching neighbours never repeat a status (they would have been joined).
                prop_assert!(pair[0].end < pair[1].start || pair[0].status != pair[1].status);
            }
        }

        #[test]
        fn every_instant_gets_the_highest_status_covering_it(blocks in prop::collection::vec(block(), 0..12), t in 0i64..100) {
            let segments = merge(&blocks, W);
            let expected = blocks.iter()
                .filter(|b| b.start <= t && t < b.end)
                .map(|b| b.status)
                .max_by_key(|s| s.precedence())
                .unwrap_or(Free);
            prop_assert_eq!(status_at(&segments, t), expected);
        }

        #[test]
        fn window_split_pieces_are_contiguous_and_bounded(start in -1000i64..1000, len in 0i64..5000, max in 1i64..700) {
            let w = Window { start, end: start + len };
            let pieces = w.split(max);
            let mut at = start;
            for p in &pieces {
                prop_assert_eq!(p.start, at);
                prop_assert!(p.end - p.start <= max && p.end > p.start);
                at = p.end;
            }
            prop_assert_eq!(at, w.end.max(start));
        }
    }
}
