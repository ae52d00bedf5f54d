//! The tenant's provider as the scheduler's [`ScheduleSource`]: each call waits for a place
//! within the tenant's concurrency cap, is timed and counted by outcome, and marks the tenant
//! warm once one succeeds; a throttled call waits on tokio's timer, counted as a retry.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use freebusy_core::api::FreeBusyRequest;
use freebusy_core::provider::{CallFailure, MailboxAnswer, Query};
use freebusy_core::scheduler::{self, FetchOptions, MailboxOutcome, ScheduleSource};

use super::circuit::Admission;
use super::Tenant;

impl ScheduleSource for Tenant {
    async fn get_schedules(&self, query: Query) -> Result<Vec<MailboxAnswer>, CallFailure> {
        self.guarded("get-schedules", |provider, ctx| provider.get_schedules(ctx, query)).await
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
    /// One provider call through the credential circuit and within the tenant's cap: refused
    /// while the circuit is open; one at a time until the credentials have worked once; timed,
    /// counted and recorded by the circuit.
    pub(super) async fn guarded<'a, T, F, Fut>(&'a self, operation: &str, call: F) -> Result<T, CallFailure>
    where
        F: FnOnce(&'a crate::runtime::Provider, &'a crate::runtime::CallContext) -> Fut,
        Fut: std::future::Future<Output = Result<T, CallFailure>>,
    {
        if let Some(problem) = &self.unusable {
            self.metrics.call(&self.name, operation, "misconfigured", std::time::Duration::ZERO);
            return Err(CallFailure::Misconfigured(problem.clone()));
        }
        let refused = |failure: CallFailure| {
            self.metrics.call(&self.name, operation, "circuit-open", std::time::Duration::ZERO);
            Err(failure)
        };
        let admission = self.circuit.admit(chrono::Utc::now().timestamp_millis());
        if let Admission::Refuse(failure) = admission {
            return refused(failure);
        }
        let first = match self.warm.load(Ordering::Relaxed) {
            true => None,
            false => Some(self.first_sign_in.lock().await),
        };
        // A call that waited behind the first sign-in asks the circuit again: that one may have
        // just been refused.
        if first.is_some() && admission == Admission::Call {
            if let Admission::Refuse(failure) = self.circuit.admit(chrono::Utc::now().timestamp_millis()) {
                return refused(failure);
            }
        }
        let _permit = self.calls.acquire().await.expect("semaphore never closed");
        let started = Instant::now();
        let result = call(&self.provider, &self.ctx).await;
        self.observe(operation, started, &result);
        self.circuit.record(&result, chrono::Utc::now().timestamp_millis());
        match &result {
            Ok(_) => self.warm.store(true, Ordering::Relaxed),
            Err(CallFailure::Throttled(_)) => {}
            Err(e) => tracing::warn!(tenant = self.name.as_str(), operation, error = %e, "provider call failed"),
        }
        result
    }

    /// Ask the provider for `req` through the scheduler (split by its limits, concurrently within
    /// the cap, retried after throttling, joined per mailbox), then write back settings it
    /// replaced.
    pub(super) async fn fetch(&self, req: &FreeBusyRequest) -> Vec<MailboxOutcome> {
        let options = FetchOptions { first_piece_alone: !self.warm.load(Ordering::Relaxed), ..FetchOptions::default() };
        let outcomes = scheduler::fetch(self, req, self.max_mailboxes, self.max_window_days, options).await;
        self.written_settings.persist(&self.name, &self.ctx.kv, &self.store);
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
