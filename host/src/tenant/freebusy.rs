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

/// Everything an answer depends on, as a key for its rendered form.
fn rendered_key(req: &FreeBusyRequest) -> String {
    let mut key = format!(
        "{}|{}|{}|{}|{:?}|",
        req.details, req.upstream_view, req.window.start, req.window.end, req.interval_minutes
    );
    for mailbox in &req.mailboxes {
        key.push_str(mailbox);
        key.push(',');
    }
    key
}

/// Schedules for a request's mailboxes, with where each came from.
pub struct Fetched {
    /// Each mailbox's schedule or error, in request order.
    pub outcomes: Vec<MailboxOutcome>,
    /// Seconds since the upstream answered, for those served from the cache.
    pub ages: Vec<Option<u64>>,
    /// Why a fresh answer could not be had, for those served stale.
    pub stale: Vec<Option<MailboxError>>,
    /// When the upstream answered (ms since the epoch), for those served fresh from the cache.
    pub fetched_at: Vec<Option<i64>>,
}

impl Fetched {
    /// How long an answer made of these outcomes reads the same, if it came entirely from the
    /// cache: until the first entry's TTL ends or the first `cacheAgeSeconds` would tick.
    fn reads_the_same_for(&self, ttl: std::time::Duration, now: i64) -> Option<std::time::Duration> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let mut until = i64::MAX;
        let parts = self.outcomes.iter().zip(&self.fetched_at).zip(self.ages.iter().zip(&self.stale));
        for ((outcome, fetched_at), (age, stale)) in parts {
            let (Ok(_), Some(fetched_at), Some(age), None) = (outcome, fetched_at, age, stale) else { return None };
            // The age the answer says, plus one second: when it would say the next.
            let next_second = fetched_at + (i64::try_from(*age).unwrap_or(i64::MAX / 2000) + 1) * 1000;
            until = until.min(fetched_at.saturating_add(ttl_ms)).min(next_second);
        }
        u64::try_from(until - now).ok().map(std::time::Duration::from_millis)
    }
}
use crate::cache::Cached;

impl Tenant {
    /// Answer a free/busy request.
    pub async fn freebusy(self: &Arc<Self>, req: &FreeBusyRequest) -> FreeBusyResponse {
        let fetched = self.schedules(req).await;
        self.respond(req, fetched)
    }

    /// [`Self::freebusy`] as JSON. An answer read entirely from the cache is kept rendered
    /// while it reads the same ([`crate::cache::Cache::rendered`]), so that identical polls in
    /// that time are one lookup.
    pub async fn freebusy_json(self: &Arc<Self>, req: &FreeBusyRequest) -> bytes::Bytes {
        let serves = self.cache.serves(req.details, req.upstream_view);
        let key = serves.then(|| rendered_key(req));
        if let Some(body) = key.as_deref().and_then(|k| self.cache.rendered(k)) {
            self.metrics.cache_many(&self.name, "hit", req.mailboxes.len() as u64);
            return body;
        }
        let fetched = self.schedules(req).await;
        let valid_for = fetched.reads_the_same_for(self.cache.ttl(), chrono::Utc::now().timestamp_millis());
        let resp = self.respond(req, fetched);
        let body = bytes::Bytes::from(serde_json::to_vec(&resp).expect("responses serialize"));
        if let (Some(key), Some(valid_for)) = (key, valid_for) {
            self.cache.keep_rendered(key, body.clone(), valid_for);
        }
        body
    }

    /// The answer to `req` from `fetched`, with where each mailbox came from.
    fn respond(&self, req: &FreeBusyRequest, fetched: Fetched) -> FreeBusyResponse {
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
            return Fetched {
                outcomes: self.fetch(req).await,
                ages: vec![None; n],
                stale: vec![None; n],
                fetched_at: vec![None; n],
            };
        }
        let days = req.window.utc_days();
        let now = chrono::Utc::now().timestamp_millis();
        let age = |fetched_at: i64| u64::try_from((now - fetched_at) / 1000).unwrap_or(0);
        let from_cache = |hit: Cached| MailboxSchedule::of_blocks(hit.blocks).with_working_hours(hit.working_hours);
        let mut outcomes: Vec<Option<MailboxOutcome>> = vec![None; n];
        let mut ages: Vec<Option<u64>> = vec![None; n];
        let mut stale: Vec<Option<MailboxError>> = vec![None; n];
        let mut fetched_at: Vec<Option<i64>> = vec![None; n];
        let mut missing = Vec::new();
        for (i, mailbox) in req.mailboxes.iter().enumerate() {
            match self.cache.fresh(mailbox, &days, req.details).await {
                Some(hit) => {
                    ages[i] = Some(age(hit.fetched_at));
                    fetched_at[i] = Some(hit.fetched_at);
                    outcomes[i] = Some(Ok(from_cache(hit)));
                }
                None => missing.push(i),
            }
        }
        // Counted once per request, not per mailbox: each count looks its labels up.
        self.metrics.cache_many(&self.name, "hit", (n - missing.len()) as u64);
        self.metrics.cache_many(&self.name, "miss", missing.len() as u64);
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
        Fetched { outcomes, ages, stale, fetched_at }
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
