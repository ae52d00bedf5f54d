//! Answering a free/busy request for a tenant: each mailbox from the cache while its days are
//! fresh; the others fetched through the scheduler over whole UTC days (so the answer serves every
//! window within them), shared with identical concurrent requests and stored for the next one; an
//! upstream failure answered with an expired entry, marked stale, while the stale-if-error
//! allowance lasts and the error is one an old answer may stand in for.
//!
//! With a shared store, a fetch also takes a lease there, so that of several instances asked the
//! same question one fetches and the others read its answer from the shared cache; a lease whose
//! holder died expires after `[shared] lease_secs`, and nobody waits longer than that.

use std::ops::Range;
use std::sync::Arc;

use freebusy_core::api::{respond, AvailabilityRequest, AvailabilityResponse, FreeBusyRequest, FreeBusyResponse};
use freebusy_core::model::{ErrorCode, MailboxError};
use freebusy_core::provider::MailboxSchedule;
use freebusy_core::scheduler::MailboxOutcome;

use super::Tenant;

/// How often an instance waiting on another's fetch looks for its answer.
const LEASE_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// A short stable name for a fetch (leases are keyed by it).
fn digest(key: &str) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    hash.as_ref()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Schedules for a request's mailboxes, with where each came from.
pub struct Fetched {
    /// Each mailbox's schedule or error, in request order.
    pub outcomes: Vec<MailboxOutcome>,
    /// Seconds since the upstream answered, for those served from the cache.
    pub ages: Vec<Option<u64>>,
    /// Why a fresh answer could not be had, for those served stale.
    pub stale: Vec<Option<MailboxError>>,
}
use crate::cache::Cached;

impl Tenant {
    /// Answer a free/busy request.
    pub async fn freebusy(self: &Arc<Self>, req: &FreeBusyRequest) -> FreeBusyResponse {
        let fetched = self.schedules(req).await;
        let mut resp = respond(req, fetched.outcomes);
        for ((result, age), stale) in resp.mailboxes.iter_mut().zip(fetched.ages).zip(fetched.stale) {
            result.cache_age_seconds = age;
            result.stale = stale;
        }
        self.count_errors(&resp);
        resp
    }

    /// Each mailbox's schedule over `req`'s window, in request order: from the cache where it
    /// is fresh, else fetched (or, while the upstream fails, stale from the cache).
    pub async fn schedules(self: &Arc<Self>, req: &FreeBusyRequest) -> Fetched {
        let n = req.mailboxes.len();
        if !self.cache.serves(req.details, req.upstream_view) {
            return Fetched { outcomes: self.fetch(req).await, ages: vec![None; n], stale: vec![None; n] };
        }
        let days = req.window.utc_days();
        let now = chrono::Utc::now().timestamp_millis();
        let age = |fetched_at: i64| u64::try_from((now - fetched_at) / 1000).unwrap_or(0);
        let from_cache = |hit: Cached| MailboxSchedule::of_blocks(hit.blocks).with_working_hours(hit.working_hours);
        let mut outcomes: Vec<Option<MailboxOutcome>> = vec![None; n];
        let mut ages: Vec<Option<u64>> = vec![None; n];
        let mut stale: Vec<Option<MailboxError>> = vec![None; n];
        let mut missing = Vec::new();
        for (i, mailbox) in req.mailboxes.iter().enumerate() {
            match self.cache.fresh(mailbox, &days, req.details).await {
                Some(hit) => {
                    self.metrics.cache(&self.name, "hit");
                    ages[i] = Some(age(hit.fetched_at));
                    outcomes[i] = Some(Ok(from_cache(hit)));
                }
                None => {
                    self.metrics.cache(&self.name, "miss");
                    missing.push(i);
                }
            }
        }
        if !missing.is_empty() {
            let sub = FreeBusyRequest {
                mailboxes: missing.iter().map(|&i| req.mailboxes[i].clone()).collect(),
                window: freebusy_core::model::Window::of_days(&days),
                interval_minutes: None,
                details: req.details,
                upstream_view: false,
            };
            for (&i, outcome) in missing.iter().zip(self.fetch_shared(sub, days.clone()).await) {
                let mailbox = &req.mailboxes[i];
                outcomes[i] = Some(match outcome {
                    Ok(schedule) => Ok(schedule),
                    Err(e) if e.code.may_serve_stale() => match self.cache.stale(mailbox, &days, req.details).await {
                        Some(hit) => {
                            self.metrics.cache(&self.name, "stale");
                            ages[i] = Some(age(hit.fetched_at));
                            stale[i] = Some(e);
                            Ok(from_cache(hit))
                        }
                        None => Err(e),
                    },
                    Err(e) => Err(e),
                });
            }
        }
        let outcomes = outcomes.into_iter().map(|o| o.expect("every mailbox answered")).collect();
        Fetched { outcomes, ages, stale }
    }

    /// Free slots common to the request's groups, from the same schedules as
    /// [`Self::freebusy`] (so the cache serves both).
    pub async fn availability(self: &Arc<Self>, req: &AvailabilityRequest) -> AvailabilityResponse {
        let fetched = self.schedules(&req.freebusy_request()).await;
        for error in fetched.outcomes.iter().filter_map(|o| o.as_ref().err()) {
            self.metrics.mailbox_error(&self.name, error.code.as_str());
        }
        let mut resp = freebusy_core::api::availability::answer(req, fetched.outcomes);
        for ((status, age), stale) in resp.mailboxes.iter_mut().zip(fetched.ages).zip(fetched.stale) {
            status.cache_age_seconds = age;
            status.stale = stale;
        }
        resp
    }

    /// [`Self::fetch`] over whole `days`, shared with identical requests already under way, its
    /// answers stored in the cache.
    async fn fetch_shared(self: &Arc<Self>, req: FreeBusyRequest, days: Range<i64>) -> Vec<MailboxOutcome> {
        let key = format!(
            "{}|{}|{}|{}",
            req.details,
            req.window.start,
            req.window.end,
            req.mailboxes.iter().map(|m| m.to_ascii_lowercase()).collect::<Vec<_>>().join(",")
        );
        let mailboxes = req.mailboxes.len();
        let tenant = self.clone();
        let lease = self.shared.as_ref().map(|shared| shared.key(&format!("lease:{}:{}", self.name, digest(&key))));
        let fetch = async move {
            match lease {
                Some(lease) => tenant.fetch_leased(&req, &days, &lease).await,
                None => tenant.fetch_and_store(&req, &days).await,
            }
        };
        let lost = move |why: String| {
            vec![Err(MailboxError::new(ErrorCode::ProviderFault, format!("the fetch failed: {why}"))); mailboxes]
        };
        self.in_flight.run(key, fetch, lost).await
    }

    /// Fetch and keep each answer in the cache.
    async fn fetch_and_store(&self, req: &FreeBusyRequest, days: &Range<i64>) -> Vec<MailboxOutcome> {
        let outcomes = self.fetch(req).await;
        for (mailbox, outcome) in req.mailboxes.iter().zip(&outcomes) {
            if let Ok(s) = outcome {
                self.cache.store(mailbox, days, req.details, &s.blocks, s.working_hours.as_ref()).await;
            }
        }
        outcomes
    }

    /// [`Self::fetch_and_store`] by the one instance holding the lease `lease`; the others wait
    /// for its answers in the shared cache, or for the lease to end (its holder finished without
    /// an answer to keep, or died), then try to take it themselves. Nobody waits past the lease
    /// time; with the shared store down, everyone fetches for themselves.
    async fn fetch_leased(&self, req: &FreeBusyRequest, days: &Range<i64>, lease: &str) -> Vec<MailboxOutcome> {
        let Some(shared) = self.shared.clone() else { return self.fetch_and_store(req, days).await };
        let holder = crate::shared::holder_id();
        let give_up = std::time::Instant::now() + shared.lease;
        loop {
            match shared.try_lease(lease, &holder, shared.lease).await {
                Some(true) => {
                    let outcomes = self.fetch_and_store(req, days).await;
                    shared.release_lease(lease, &holder).await;
                    return outcomes;
                }
                None => return self.fetch_and_store(req, days).await,
                Some(false) => {}
            }
            tokio::time::sleep(LEASE_POLL).await;
            if let Some(outcomes) = self.all_cached(req, days).await {
                self.metrics.cache(&self.name, "shared");
                return outcomes;
            }
            if std::time::Instant::now() >= give_up {
                tracing::warn!(tenant = self.name.as_str(), "a fetch lease outlived its wait; fetching here");
                return self.fetch_and_store(req, days).await;
            }
        }
    }

    /// Every mailbox of `req` from the cache, if each is fresh there.
    async fn all_cached(&self, req: &FreeBusyRequest, days: &Range<i64>) -> Option<Vec<MailboxOutcome>> {
        let mut outcomes = Vec::with_capacity(req.mailboxes.len());
        for mailbox in &req.mailboxes {
            let hit = self.cache.fresh(mailbox, days, req.details).await?;
            let window = req.window;
            let blocks = hit.blocks.into_iter().filter(|b| b.start < window.end && b.end > window.start).collect();
            outcomes.push(Ok(MailboxSchedule::of_blocks(blocks).with_working_hours(hit.working_hours)));
        }
        Some(outcomes)
    }

    /// Count the mailboxes a response could not read.
    fn count_errors(&self, resp: &FreeBusyResponse) {
        for error in resp.mailboxes.iter().filter_map(|m| m.error.as_ref()) {
            self.metrics.mailbox_error(&self.name, error.code.as_str());
        }
    }
}
