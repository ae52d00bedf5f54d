//! The scheduler: one free/busy request becomes provider calls and comes back as one outcome per
//! mailbox. Split by the provider's limits ([`plan`]) -> call each piece ([`ScheduleSource`]) ->
//! retry throttled calls as the upstream asked ([`RetryPolicy`]) -> join the answers per mailbox
//! ([`join`]).
//!
//! The host and the edge run this same code over their own [`ScheduleSource`] (a component in
//! wasmtime within the tenant's concurrency cap; a composed component under Spin), and the unit
//! tests below over an in-process fake, so splitting, retrying and failure reporting cannot drift
//! apart.

use std::future::Future;
use std::time::Duration;

use crate::api::FreeBusyRequest;
use crate::model::{ErrorCode, MailboxError, DAY_MS, MINUTE_MS};
use crate::provider::{CallFailure, MailboxAnswer, MailboxSchedule, Query};

/// Where the scheduler gets schedules: one provider call per [`Query`].
pub trait ScheduleSource: Sync {
    /// Answer one query within the provider's limits.
    fn get_schedules(&self, query: Query) -> impl Future<Output = Result<Vec<MailboxAnswer>, CallFailure>> + Send;

    /// Wait `duration` before retrying a throttled call (the host sleeps on its timer, the edge
    /// blocks its single request, a test records the wait).
    fn wait_before_retry(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}

/// Split a request by a provider's limits: every mailbox chunk over every window slice. With a
/// view interval, slices are whole multiples of it, so that the upstream's merged views of the
/// slices join into one string.
pub fn plan(req: &FreeBusyRequest, max_mailboxes: u32, max_window_days: u32) -> Vec<Query> {
    let mut slice = i64::from(max_window_days.max(1)) * DAY_MS;
    let view_interval = req.upstream_interval();
    if let Some(interval) = view_interval {
        let slot = i64::from(interval.max(1)) * MINUTE_MS;
        slice = (slice / slot).max(1) * slot;
    }
    let windows = req.window.split(slice);
    req.mailboxes
        .chunks(max_mailboxes.max(1) as usize)
        .flat_map(|chunk| {
            windows.iter().map(move |w| Query {
                mailboxes: chunk.to_vec(),
                window: *w,
                details: req.details,
                view_interval,
            })
        })
        .collect()
}

/// When a throttled call is tried again. Authentication failures never reach it: they are never
/// retried, since retrying a rejected credential locks accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after a throttled answer, per provider call.
    pub max_retries: u32,
    /// Longest wait honoured within one request; a longer `Retry-After` is reported instead.
    pub max_wait: Duration,
    /// First back-off when the upstream throttled without saying for how long (doubles each time;
    /// Graph's throttling guidance: https://learn.microsoft.com/graph/throttling).
    pub default_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_retries: 2, max_wait: Duration::from_secs(10), default_backoff: Duration::from_millis(500) }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `attempt` (0-based) of a throttled call, or `None`
    /// to give up and report.
    pub fn delay(&self, attempt: u32, retry_after_ms: Option<u32>) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let wait = match retry_after_ms {
            Some(ms) => Duration::from_millis(u64::from(ms)),
            None => self.default_backoff.saturating_mul(1 << attempt.min(16)),
        };
        (wait <= self.max_wait).then_some(wait)
    }
}

/// The result of one piece: what the provider said for each of its mailboxes, or why the whole
/// call failed.
pub type PieceResult = Result<Vec<MailboxAnswer>, MailboxError>;

/// One mailbox's schedule over a request's window, or why it could not be read.
pub type MailboxOutcome = Result<MailboxSchedule, MailboxError>;

/// How [`fetch`] runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchOptions {
    /// Run the first piece alone before the rest, so that what it caches in the provider's store
    /// (an access token, a known mailbox) serves the others instead of every concurrent piece
    /// signing in on its own. The host sets this until a tenant's first successful call.
    pub first_piece_alone: bool,
    /// When throttled calls are retried.
    pub retry: RetryPolicy,
}

/// Answer `req` through `source`: split by `max_mailboxes` and `max_window_days`, call every
/// piece (concurrently, as far as the source allows), retry throttled calls, and join the
/// answers into one outcome per requested mailbox, in request order.
pub async fn fetch<S: ScheduleSource>(
    source: &S,
    req: &FreeBusyRequest,
    max_mailboxes: u32,
    max_window_days: u32,
    options: FetchOptions,
) -> Vec<MailboxOutcome> {
    let pieces = plan(req, max_mailboxes, max_window_days);
    let mut results = Vec::with_capacity(pieces.len());
    let mut rest = &pieces[..];
    if options.first_piece_alone && pieces.len() > 1 {
        results.push(call_with_retries(source, &pieces[0], options.retry).await);
        rest = &pieces[1..];
    }
    results
        .extend(futures_util::future::join_all(rest.iter().map(|p| call_with_retries(source, p, options.retry))).await);
    join(req, &pieces, results)
}

/// One piece, retried while the upstream throttles and the policy allows; any other failure is
/// final at once.
async fn call_with_retries<S: ScheduleSource>(source: &S, piece: &Query, policy: RetryPolicy) -> PieceResult {
    let mut attempt = 0;
    loop {
        match source.get_schedules(piece.clone()).await {
            Ok(answers) => return Ok(answers),
            Err(CallFailure::Throttled(after)) => match policy.delay(attempt, after) {
                Some(wait) => {
                    source.wait_before_retry(wait).await;
                    attempt += 1;
                }
                None => return Err(CallFailure::Throttled(after).to_mailbox_error()),
            },
            Err(failure) => return Err(failure.to_mailbox_error()),
        }
    }
}

/// What the pieces said about each requested mailbox, in request order: its schedule over the
/// whole window (every item once, sorted; the upstream view only if every piece had one and it
/// has one digit per slot), or the first error. A mailbox with any failed piece is an error (a
/// partial timeline would look free where it was not read), and so is a mailbox a provider did
/// not answer for.
pub fn join(req: &FreeBusyRequest, pieces: &[Query], results: Vec<PieceResult>) -> Vec<MailboxOutcome> {
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
                    None => Err(MailboxError::new(
                        ErrorCode::ProviderFault,
                        "the provider returned no schedule for this mailbox",
                    )),
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::api::respond;
    use crate::model::{Availability, Block, Window};

    fn request(mailboxes: &[&str], days: i64) -> FreeBusyRequest {
        FreeBusyRequest {
            mailboxes: mailboxes.iter().map(|m| m.to_string()).collect(),
            window: Window { start: 0, end: days * DAY_MS },
            interval_minutes: None,
            details: false,
            upstream_view: false,
        }
    }

    fn busy_hour(mailbox: &str, q: &Query) -> MailboxAnswer {
        MailboxAnswer {
            mailbox: mailbox.to_string(),
            outcome: Ok(MailboxSchedule::of_blocks(vec![Block::new(
                q.window.start,
                q.window.start + 3_600_000,
                Availability::Busy,
            )])),
        }
    }

    /// A provider in a box: answers each mailbox busy for the first hour of the call's window,
    /// unless a scripted failure is queued; records every call and every wait.
    #[derive(Default)]
    struct Fake {
        failures: Mutex<VecDeque<CallFailure>>,
        calls: Mutex<Vec<Query>>,
        waits: Mutex<Vec<Duration>>,
    }

    impl Fake {
        fn failing(failures: impl IntoIterator<Item = CallFailure>) -> Self {
            Fake { failures: Mutex::new(failures.into_iter().collect()), ..Fake::default() }
        }
        fn calls(&self) -> Vec<Query> {
            self.calls.lock().unwrap().clone()
        }
        fn waits(&self) -> Vec<Duration> {
            self.waits.lock().unwrap().clone()
        }
    }

    impl ScheduleSource for Fake {
        async fn get_schedules(&self, query: Query) -> Result<Vec<MailboxAnswer>, CallFailure> {
            self.calls.lock().unwrap().push(query.clone());
            if let Some(failure) = self.failures.lock().unwrap().pop_front() {
                return Err(failure);
            }
            Ok(query.mailboxes.iter().map(|m| busy_hour(m, &query)).collect())
        }

        async fn wait_before_retry(&self, duration: Duration) {
            self.waits.lock().unwrap().push(duration);
        }
    }

    fn run(source: &Fake, req: &FreeBusyRequest, max_mailboxes: u32, max_days: u32) -> Vec<MailboxOutcome> {
        futures_executor::block_on(fetch(source, req, max_mailboxes, max_days, FetchOptions::default()))
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
    fn the_scheduler_makes_one_call_per_mailbox_chunk_and_window_slice() {
        let names: Vec<String> = (0..45).map(|i| format!("p{i}@x.com")).collect();
        let req = request(&names.iter().map(String::as_str).collect::<Vec<_>>(), 100);
        let fake = Fake::default();
        let outcomes = run(&fake, &req, 20, 62);
        // ceil(45 / 20) chunks x ceil(100 / 62) slices.
        assert_eq!(fake.calls().len(), 3 * 2);
        assert!(fake.calls().iter().all(|q| q.mailboxes.len() <= 20 && q.window.len_ms() <= 62 * DAY_MS));
        assert_eq!(outcomes.len(), 45);
        // Each mailbox got both slices' items.
        assert!(outcomes.iter().all(|o| o.as_ref().unwrap().blocks.len() == 2));
    }

    #[test]
    fn a_throttled_call_waits_the_retry_after_the_upstream_gave_then_succeeds() {
        let fake = Fake::failing([CallFailure::Throttled(Some(1500)), CallFailure::Throttled(None)]);
        let outcomes = run(&fake, &request(&["a@x.com"], 1), 20, 62);
        assert!(outcomes[0].is_ok(), "{outcomes:?}");
        assert_eq!(fake.calls().len(), 3);
        // The upstream's Retry-After, then the default back-off for the retry it did not time.
        assert_eq!(fake.waits(), vec![Duration::from_millis(1500), Duration::from_millis(1000)]);
    }

    #[test]
    fn throttling_is_retried_a_bounded_number_of_times_then_reported() {
        let fake = Fake::failing(std::iter::repeat_n(CallFailure::Throttled(Some(10)), 10));
        let outcomes = run(&fake, &request(&["a@x.com"], 1), 20, 62);
        assert_eq!(fake.calls().len(), 1 + RetryPolicy::default().max_retries as usize);
        assert_eq!(outcomes[0].as_ref().unwrap_err().code, ErrorCode::Throttled);
    }

    #[test]
    fn a_retry_after_longer_than_the_request_can_wait_is_reported_not_slept_on() {
        let fake = Fake::failing([CallFailure::Throttled(Some(60_000))]);
        let outcomes = run(&fake, &request(&["a@x.com"], 1), 20, 62);
        assert_eq!(fake.calls().len(), 1);
        assert!(fake.waits().is_empty());
        let error = outcomes[0].as_ref().unwrap_err();
        assert_eq!(error.code, ErrorCode::Throttled);
        assert!(error.message.contains("60000 ms"), "{}", error.message);
    }

    #[test]
    fn an_authentication_failure_is_never_retried() {
        let fake = Fake::failing([CallFailure::AuthFailed("AADSTS7000215: Invalid client secret".into())]);
        let outcomes = run(&fake, &request(&["a@x.com", "b@x.com"], 1), 20, 62);
        assert_eq!(fake.calls().len(), 1, "a rejected credential must not be tried again");
        assert!(fake.waits().is_empty());
        for outcome in outcomes {
            assert_eq!(outcome.unwrap_err().code, ErrorCode::AuthFailed);
        }
    }

    #[test]
    fn one_failed_slice_makes_the_mailbox_an_error_not_a_partial_timeline() {
        // Two slices of 90 days; the second fails for good.
        let fake = Fake::failing([]);
        let req = request(&["a@x.com"], 90);
        let pieces = plan(&req, 20, 62);
        let first = futures_executor::block_on(fake.get_schedules(pieces[0].clone()));
        let failed = Err(CallFailure::Unavailable("503".into()).to_mailbox_error());
        let outcomes = join(&req, &pieces, vec![first.map_err(|e| e.to_mailbox_error()), failed]);
        assert_eq!(outcomes[0].as_ref().unwrap_err().code, ErrorCode::Unavailable);
        let resp = respond(&req, outcomes);
        assert!(resp.mailboxes[0].busy.is_none(), "an unread slice must not look free");
    }

    #[test]
    fn the_first_piece_runs_alone_until_the_tenant_is_warm() {
        // A source that counts calls in flight at once.
        #[derive(Default)]
        struct Concurrency {
            now: std::sync::atomic::AtomicUsize,
            seen: Mutex<Vec<usize>>,
        }
        impl ScheduleSource for Concurrency {
            async fn get_schedules(&self, query: Query) -> Result<Vec<MailboxAnswer>, CallFailure> {
                use std::sync::atomic::Ordering;
                let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
                self.seen.lock().unwrap().push(n);
                // Yield once, so that concurrent calls overlap.
                let mut yielded = false;
                std::future::poll_fn(|cx| {
                    if yielded {
                        std::task::Poll::Ready(())
                    } else {
                        yielded = true;
                        cx.waker().wake_by_ref();
                        std::task::Poll::Pending
                    }
                })
                .await;
                self.now.fetch_sub(1, Ordering::SeqCst);
                Ok(query.mailboxes.iter().map(|m| busy_hour(m, &query)).collect())
            }
            async fn wait_before_retry(&self, _: Duration) {}
        }
        let req = request(&["a@x.com", "b@x.com", "c@x.com"], 1);
        let source = Concurrency::default();
        let options = FetchOptions { first_piece_alone: true, ..FetchOptions::default() };
        futures_executor::block_on(fetch(&source, &req, 1, 62, options));
        let seen = source.seen.lock().unwrap().clone();
        assert_eq!(seen[0], 1, "the first call ran alone");
        assert_eq!(seen[1..], [1, 2], "the rest ran together");
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
        let resp = respond(&req, join(&req, &pieces, vec![answer(), answer()]));
        assert_eq!(resp.mailboxes[0].events.as_ref().unwrap().len(), 1);
        assert_eq!(resp.mailboxes[0].busy.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn a_mailbox_the_provider_skipped_is_a_provider_fault() {
        let req = request(&["a@x.com", "b@x.com"], 1);
        let pieces = plan(&req, 20, 62);
        let outcomes = join(
            &req,
            &pieces,
            vec![Ok(vec![MailboxAnswer { mailbox: "a@x.com".into(), outcome: Ok(MailboxSchedule::default()) }])],
        );
        assert!(outcomes[0].is_ok());
        assert_eq!(outcomes[1].as_ref().unwrap_err().code, ErrorCode::ProviderFault);
    }

    #[test]
    fn slices_are_whole_intervals_so_upstream_views_join() {
        // 63 days at 7-minute slots: the 62-day limit is not a multiple of 7 minutes.
        let req = FreeBusyRequest { interval_minutes: Some(7), upstream_view: true, ..request(&["a@x.com"], 63) };
        let pieces = plan(&req, 20, 62);
        assert_eq!(pieces.len(), 2);
        let first = pieces[0].window.len_ms();
        assert!(first <= 62 * DAY_MS && first % (7 * MINUTE_MS) == 0, "{first}");
        let view = |p: &Query| "2".repeat(((p.window.len_ms() + 7 * MINUTE_MS - 1) / (7 * MINUTE_MS)) as usize);
        let answer = |p: &Query| {
            Ok(vec![MailboxAnswer {
                mailbox: "a@x.com".into(),
                outcome: Ok(MailboxSchedule { merged_view: Some(view(p)), ..Default::default() }),
            }])
        };
        let joined = join(&req, &pieces, pieces.iter().map(answer).collect());
        let view_of = |o: &MailboxOutcome| o.as_ref().unwrap().merged_view.clone();
        assert_eq!(view_of(&joined[0]).map(|v| v.len()), req.view_slots());
        // One piece without the upstream's view: the joined string would have a hole, so none.
        let mut results: Vec<PieceResult> = pieces.iter().map(answer).collect();
        results[1] = Ok(vec![MailboxAnswer { mailbox: "a@x.com".into(), outcome: Ok(MailboxSchedule::default()) }]);
        assert_eq!(view_of(&join(&req, &pieces, results)[0]), None);
    }

    #[test]
    fn retry_delays_follow_retry_after_then_give_up() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(0, Some(250)), Some(Duration::from_millis(250)));
        assert_eq!(policy.delay(0, None), Some(Duration::from_millis(500)));
        assert_eq!(policy.delay(1, None), Some(Duration::from_millis(1000)));
        assert_eq!(policy.delay(2, Some(1)), None);
        assert_eq!(policy.delay(0, Some(60_000)), None, "a long Retry-After is reported, not slept on");
    }
}
