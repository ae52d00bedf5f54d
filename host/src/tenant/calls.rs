//! The tenant's provider as the scheduler's [`ScheduleSource`]: each call waits for a place
//! within the tenant's concurrency cap, is timed and counted by outcome, and marks the tenant
//! warm once one succeeds; a throttled call waits on tokio's timer, counted as a retry.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use freebusy_core::api::FreeBusyRequest;
use freebusy_core::provider::{CallFailure, MailboxAnswer, Query};
use freebusy_core::scheduler::{self, FetchOptions, MailboxOutcome, ScheduleSource};

use super::Tenant;

impl ScheduleSource for Tenant {
    async fn get_schedules(&self, query: Query) -> Result<Vec<MailboxAnswer>, CallFailure> {
        let _permit = self.calls.acquire().await.expect("semaphore never closed");
        let started = Instant::now();
        let result = self.provider.get_schedules(&self.ctx, query).await;
        self.observe("get-schedules", started, &result);
        match &result {
            Ok(_) => self.warm.store(true, Ordering::Relaxed),
            Err(CallFailure::Throttled(_)) => {}
            Err(e) => tracing::warn!(tenant = self.name.as_str(), error = %e, "provider call failed"),
        }
        result
    }

    async fn wait_before_retry(&self, duration: Duration) {
        tracing::info!(
            tenant = self.name.as_str(),
            wait_ms = duration.as_millis() as u64,
            "upstream throttled; retrying"
        );
        self.metrics.retry(&self.name);
        tokio::time::sleep(duration).await;
    }
}

impl Tenant {
    /// Ask the provider for `req` through the scheduler (split by its limits, concurrently within
    /// the cap, retried after throttling, joined per mailbox), then write back settings it
    /// replaced.
    pub(super) async fn fetch(&self, req: &FreeBusyRequest) -> Vec<MailboxOutcome> {
        let options = FetchOptions { first_piece_alone: !self.warm.load(Ordering::Relaxed), ..FetchOptions::default() };
        let outcomes = scheduler::fetch(self, req, self.max_mailboxes, self.max_window_days, options).await;
        self.written_settings.persist(&self.name, &self.ctx.kv);
        outcomes
    }

    /// Count a finished provider call by its outcome.
    pub(super) fn observe<T>(&self, operation: &str, started: Instant, result: &Result<T, CallFailure>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        };
        self.metrics.call(&self.name, operation, outcome, started.elapsed());
    }
}
