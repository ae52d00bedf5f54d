//! Answering a free/busy request for a tenant: each mailbox from the cache while its days are
//! fresh; the others fetched through the scheduler over whole UTC days (so the answer serves every
//! window within them), shared with identical concurrent requests and stored for the next one; an
//! upstream failure answered with an expired entry, marked stale, while the stale-if-error
//! allowance lasts and the error is one an old answer may stand in for.

use std::ops::Range;
use std::sync::Arc;

use freebusy_core::api::{respond, AvailabilityRequest, AvailabilityResponse, FreeBusyRequest, FreeBusyResponse};
use freebusy_core::model::{ErrorCode, MailboxError};
use freebusy_core::provider::MailboxSchedule;
use freebusy_core::scheduler::MailboxOutcome;

use super::Tenant;

/// Schedules for a request's mailboxes, with where each came from.
pub struct Fetched {
    /// Each mailbox's schedule or error, in request order.
    pub outcomes: Vec<MailboxOutcome>,
    /// Seconds since the upstream answered, for those served from the cache.
    pub ages: Vec<Option<u64>>,
    /// Why a fresh answer could not be had, for those served stale.
    pub stale: Vec<Option<MailboxError>>,
}
use crate::cache::{days_of, window_of, Cached};

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
        let days = days_of(req.window);
        let now = chrono::Utc::now().timestamp_millis();
        let age = |fetched_at: i64| u64::try_from((now - fetched_at) / 1000).unwrap_or(0);
        let from_cache = |hit: Cached| MailboxSchedule::of_blocks(hit.blocks).with_working_hours(hit.working_hours);
        let mut outcomes: Vec<Option<MailboxOutcome>> = vec![None; n];
        let mut ages: Vec<Option<u64>> = vec![None; n];
        let mut stale: Vec<Option<MailboxError>> = vec![None; n];
        let mut missing = Vec::new();
        for (i, mailbox) in req.mailboxes.iter().enumerate() {
            match self.cache.fresh(mailbox, &days, req.details) {
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
                window: window_of(&days),
                interval_minutes: None,
                details: req.details,
                upstream_view: false,
            };
            for (&i, outcome) in missing.iter().zip(self.fetch_shared(sub, days.clone()).await) {
                let mailbox = &req.mailboxes[i];
                outcomes[i] = Some(outcome.or_else(|e| {
                    match self.cache.stale(mailbox, &days, req.details).filter(|_| e.code.may_serve_stale()) {
                        Some(hit) => {
                            self.metrics.cache(&self.name, "stale");
                            ages[i] = Some(age(hit.fetched_at));
                            stale[i] = Some(e);
                            Ok(from_cache(hit))
                        }
                        None => Err(e),
                    }
                }));
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
        let fetch = async move {
            let outcomes = tenant.fetch(&req).await;
            for (mailbox, outcome) in req.mailboxes.iter().zip(&outcomes) {
                if let Ok(s) = outcome {
                    tenant.cache.store(mailbox, &days, req.details, &s.blocks, s.working_hours.as_ref());
                }
            }
            outcomes
        };
        let lost = move |why: String| {
            vec![Err(MailboxError::new(ErrorCode::ProviderFault, format!("the fetch failed: {why}"))); mailboxes]
        };
        self.in_flight.run(key, fetch, lost).await
    }

    /// Count the mailboxes a response could not read.
    fn count_errors(&self, resp: &FreeBusyResponse) {
        for error in resp.mailboxes.iter().filter_map(|m| m.error.as_ref()) {
            self.metrics.mailbox_error(&self.name, error.code.as_str());
        }
    }
}
