//! Splitting a request into provider calls and putting the answers back together. Shared by
//! the host and the edge so that both split, retry and report failures identically.

use crate::api::{format_instant, FreeBusyRequest, FreeBusyResponse, MailboxResult};
use crate::model::{Block, MailboxError, Window, WorkingHours, DAY_MS, MINUTE_MS};

/// One provider call: some mailboxes over some window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Addresses, at most the provider's `max-mailboxes`.
    pub mailboxes: Vec<String>,
    /// At most the provider's `max-window-days` long.
    pub window: Window,
}

/// Split a request by a provider's limits: every mailbox chunk over every window slice. With a
/// view interval, slices are whole multiples of it, so that the upstream's merged views of the
/// slices join into one string.
pub fn plan(req: &FreeBusyRequest, max_mailboxes: u32, max_window_days: u32) -> Vec<Piece> {
    let mut slice = i64::from(max_window_days.max(1)) * DAY_MS;
    if let Some(interval) = req.upstream_interval() {
        let slot = i64::from(interval.max(1)) * MINUTE_MS;
        slice = (slice / slot).max(1) * slot;
    }
    let windows = req.window.split(slice);
    req.mailboxes
        .chunks(max_mailboxes.max(1) as usize)
        .flat_map(|chunk| windows.iter().map(move |w| Piece { mailboxes: chunk.to_vec(), window: *w }))
        .collect()
}

/// A whole-call failure reported by a provider (the WIT `provider-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderFailure {
    /// Throttled; retry after this many milliseconds if the upstream said.
    Throttled(Option<u32>),
    /// Credentials rejected.
    AuthFailed(String),
    /// A setting is wrong.
    Misconfigured(String),
    /// The upstream is down or answered nonsense.
    Unavailable(String),
    /// The upstream refuses this kind of call.
    Unsupported(String),
}

impl ProviderFailure {
    /// The error each mailbox of the failed call reports.
    pub fn to_mailbox_error(&self) -> MailboxError {
        match self {
            ProviderFailure::Throttled(Some(ms)) => {
                MailboxError::new("throttled", format!("the upstream throttled the request; retry after {ms} ms"))
            }
            ProviderFailure::Throttled(None) => MailboxError::new("throttled", "the upstream throttled the request"),
            ProviderFailure::AuthFailed(m) => MailboxError::new("auth-failed", format!("authentication failed: {m}")),
            ProviderFailure::Misconfigured(m) => MailboxError::new("misconfigured", format!("misconfigured: {m}")),
            ProviderFailure::Unavailable(m) => MailboxError::new("unavailable", format!("upstream unavailable: {m}")),
            ProviderFailure::Unsupported(m) => MailboxError::new("unsupported", format!("unsupported: {m}")),
        }
    }
}

/// Retries after a throttled answer, per provider call.
pub const MAX_THROTTLE_RETRIES: u32 = 2;
/// Longest wait honoured within one request; a longer `Retry-After` is reported instead.
pub const MAX_RETRY_WAIT_MS: u64 = 10_000;
/// First back-off when the upstream throttled without saying for how long (doubles each time).
pub const DEFAULT_BACKOFF_MS: u64 = 500;

/// How long to wait before retry number `attempt` (0-based) of a throttled call, or `None` to
/// give up and report. Authentication failures never come here: they are never retried.
pub fn throttle_retry_delay_ms(attempt: u32, retry_after_ms: Option<u32>) -> Option<u64> {
    if attempt >= MAX_THROTTLE_RETRIES {
        return None;
    }
    let wait = retry_after_ms.map_or(DEFAULT_BACKOFF_MS << attempt, u64::from);
    (wait <= MAX_RETRY_WAIT_MS).then_some(wait)
}

/// What a provider said about one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxAnswer {
    /// The address the provider answered for.
    pub mailbox: String,
    /// Its schedule, or why it could not be read.
    pub outcome: Result<MailboxSchedule, MailboxError>,
}

/// One mailbox's schedule over one piece's window (the WIT `mailbox-schedule`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailboxSchedule {
    /// Items overlapping the window, in any order.
    pub blocks: Vec<Block>,
    /// When the upstream reported them.
    pub working_hours: Option<WorkingHours>,
    /// The upstream's own merged view of the window, when asked and available.
    pub merged_view: Option<String>,
}

impl MailboxSchedule {
    /// A schedule of just these blocks.
    pub fn of_blocks(blocks: Vec<Block>) -> Self {
        MailboxSchedule { blocks, ..Default::default() }
    }

    /// The same with these working hours.
    pub fn with_working_hours(self, working_hours: Option<WorkingHours>) -> Self {
        MailboxSchedule { working_hours, ..self }
    }
}

/// The result of one [`Piece`].
pub type PieceResult = Result<Vec<MailboxAnswer>, MailboxError>;

/// Put the answers of every piece back together, in request order. A mailbox with any failed
/// piece is an error (a partial timeline would look free where it was not read), and so is a
/// mailbox a provider did not answer for.
pub fn assemble(req: &FreeBusyRequest, pieces: &[Piece], results: Vec<PieceResult>) -> FreeBusyResponse {
    respond(req, join(req, pieces, results))
}

/// What the pieces said about each requested mailbox, in request order: its schedule over the
/// whole window (every item once, sorted; the upstream view only if every piece had one and it
/// has one digit per slot), or the first error.
pub fn join(req: &FreeBusyRequest, pieces: &[Piece], results: Vec<PieceResult>) -> Vec<MailboxOutcome> {
    let mut state: Vec<MailboxOutcome> = req
        .mailboxes
        .iter()
        .map(|_| {
            Ok(MailboxSchedule {
                merged_view: req.upstream_interval().map(|_| String::new()),
                ..MailboxSchedule::default()
            })
        })
        .collect();
    let index = |m: &str| req.mailboxes.iter().position(|x| x.eq_ignore_ascii_case(m));
    for (piece, result) in pieces.iter().zip(results) {
        for mailbox in &piece.mailboxes {
            let Some(i) = index(mailbox) else { continue };
            let Ok(joined) = &mut state[i] else { continue };
            let outcome = match &result {
                Err(e) => Err(e.clone()),
                Ok(answers) => match answers.iter().find(|a| a.mailbox.eq_ignore_ascii_case(mailbox)) {
                    None => {
                        Err(MailboxError::new("provider-fault", "the provider returned no schedule for this mailbox"))
                    }
                    Some(a) => a.outcome.clone(),
                },
            };
            match outcome {
                Err(e) => state[i] = Err(e),
                Ok(schedule) => {
                    joined.blocks.extend(schedule.blocks.into_iter().filter(|b| b.end > b.start));
                    if joined.working_hours.is_none() {
                        joined.working_hours = schedule.working_hours;
                    }
                    // Pieces of a mailbox come in window order, so their views join in order.
                    joined.merged_view = match (joined.merged_view.take(), schedule.merged_view) {
                        (Some(mut whole), Some(piece)) => {
                            whole.push_str(&piece);
                            Some(whole)
                        }
                        _ => None,
                    };
                }
            }
        }
    }
    for joined in state.iter_mut().flatten() {
        // An item spanning a window split comes back from both calls.
        joined.blocks.sort_by_key(|b| (b.start, b.end, b.status.precedence()));
        joined.blocks.dedup();
        joined.merged_view = joined.merged_view.take().filter(|v| Some(v.chars().count()) == req.view_slots());
    }
    state
}

/// One mailbox's schedule over a request's window, or why it could not be read.
pub type MailboxOutcome = Result<MailboxSchedule, MailboxError>;

/// The answer to `req` from each mailbox's outcome (in request order): clipped, merged and
/// rendered as the request asked.
pub fn respond(req: &FreeBusyRequest, outcomes: Vec<MailboxOutcome>) -> FreeBusyResponse {
    let mailboxes = req
        .mailboxes
        .iter()
        .zip(outcomes)
        .map(|(m, outcome)| match outcome {
            Err(e) => MailboxResult::from_error(m, e),
            Ok(schedule) => {
                let mut result = MailboxResult::from_blocks(m, &schedule.blocks, schedule.working_hours, req);
                result.upstream_view = schedule.merged_view;
                result
            }
        })
        .collect();
    FreeBusyResponse {
        start: format_instant(req.window.start),
        end: format_instant(req.window.end),
        interval: req.interval_minutes,
        mailboxes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Availability;

    fn request(mailboxes: &[&str], days: i64) -> FreeBusyRequest {
        FreeBusyRequest {
            mailboxes: mailboxes.iter().map(|m| m.to_string()).collect(),
            window: Window { start: 0, end: days * DAY_MS },
            interval_minutes: None,
            details: false,
            upstream_view: false,
        }
    }

    #[test]
    fn plan_covers_every_mailbox_over_every_slice() {
        let req = request(&["a@x.com", "b@x.com", "c@x.com"], 90);
        let pieces = plan(&req, 2, 62);
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces[0].mailboxes, vec!["a@x.com", "b@x.com"]);
        assert_eq!(pieces[1].window, Window { start: 62 * DAY_MS, end: 90 * DAY_MS });
        assert_eq!(pieces[3].mailboxes, vec!["c@x.com"]);
    }

    #[test]
    fn one_failed_slice_makes_the_mailbox_an_error_not_a_partial_timeline() {
        let req = request(&["a@x.com"], 90);
        let pieces = plan(&req, 20, 62);
        let ok = Ok(vec![MailboxAnswer {
            mailbox: "a@x.com".into(),
            outcome: Ok(MailboxSchedule::of_blocks(vec![Block::new(0, 1000, Availability::Busy)])),
        }]);
        let failed = Err(ProviderFailure::Throttled(None).to_mailbox_error());
        let resp = assemble(&req, &pieces, vec![ok, failed]);
        assert_eq!(resp.mailboxes[0].error.as_ref().unwrap().code, "throttled");
        assert!(resp.mailboxes[0].busy.is_none());
    }

    #[test]
    fn an_item_returned_by_two_slices_counts_once() {
        let req = FreeBusyRequest { details: true, ..request(&["a@x.com"], 90) };
        let pieces = plan(&req, 20, 62);
        let spanning = Block::new(61 * DAY_MS, 63 * DAY_MS, Availability::OutOfOffice);
        let answer = || {
            Ok(vec![MailboxAnswer {
                mailbox: "a@x.com".into(),
                outcome: Ok(MailboxSchedule::of_blocks(vec![spanning.clone()])),
            }])
        };
        let resp = assemble(&req, &pieces, vec![answer(), answer()]);
        assert_eq!(resp.mailboxes[0].events.as_ref().unwrap().len(), 1);
        assert_eq!(resp.mailboxes[0].busy.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn a_mailbox_the_provider_skipped_is_a_provider_fault() {
        let req = request(&["a@x.com", "b@x.com"], 1);
        let pieces = plan(&req, 20, 62);
        let resp = assemble(
            &req,
            &pieces,
            vec![Ok(vec![MailboxAnswer { mailbox: "a@x.com".into(), outcome: Ok(MailboxSchedule::default()) }])],
        );
        assert!(resp.mailboxes[0].error.is_none());
        assert_eq!(resp.mailboxes[1].error.as_ref().unwrap().code, "provider-fault");
    }

    #[test]
    fn slices_are_whole_intervals_so_upstream_views_join() {
        // 63 days at 7-minute slots: the 62-day limit is not a multiple of 7 minutes.
        let req = FreeBusyRequest { interval_minutes: Some(7), upstream_view: true, ..request(&["a@x.com"], 63) };
        let pieces = plan(&req, 20, 62);
        assert_eq!(pieces.len(), 2);
        let first = pieces[0].window.len_ms();
        assert!(first <= 62 * DAY_MS && first % (7 * MINUTE_MS) == 0, "{first}");
        let view = |p: &Piece| "2".repeat(((p.window.len_ms() + 7 * MINUTE_MS - 1) / (7 * MINUTE_MS)) as usize);
        let answer = |p: &Piece| {
            Ok(vec![MailboxAnswer {
                mailbox: "a@x.com".into(),
                outcome: Ok(MailboxSchedule { merged_view: Some(view(p)), ..Default::default() }),
            }])
        };
        let resp = assemble(&req, &pieces, pieces.iter().map(answer).collect());
        let joined = resp.mailboxes[0].upstream_view.as_deref().expect("both pieces had a view");
        assert_eq!(Some(joined.len()), req.view_slots());
        // One piece without the upstream's view: the joined string would have a hole, so none.
        let mut results: Vec<PieceResult> = pieces.iter().map(answer).collect();
        results[1] = Ok(vec![MailboxAnswer { mailbox: "a@x.com".into(), outcome: Ok(MailboxSchedule::default()) }]);
        assert_eq!(assemble(&req, &pieces, results).mailboxes[0].upstream_view, None);
    }

    #[test]
    fn throttle_retries_follow_retry_after_then_give_up() {
        assert_eq!(throttle_retry_delay_ms(0, Some(250)), Some(250));
        assert_eq!(throttle_retry_delay_ms(0, None), Some(500));
        assert_eq!(throttle_retry_delay_ms(1, None), Some(1000));
        assert_eq!(throttle_retry_delay_ms(2, Some(1)), None);
        assert_eq!(throttle_retry_delay_ms(0, Some(60_000)), None, "a long Retry-After is reported, not slept on");
    }
}
