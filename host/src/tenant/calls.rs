//! The tenant's provider as the scheduler's [`ScheduleSource`]: each call waits for a place
//! within the tenant's concurrency cap and for one per mailbox it asks about ([`super::limiter`]),
//! is timed and counted by outcome, and marks the tenant warm once one succeeds; a throttled call
//! waits on tokio's timer, counted as a retry.
//!
//! With a shared store the credential circuit is shared too: an instance that finds the
//! credentials refused publishes it, the others open theirs before calling, and until the
//! credentials have worked once only one instance at a time signs in. So a wrong password costs
//! one failed sign-in for all instances, not one each.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use freebusy_core::api::FreeBusyRequest;
use freebusy_core::provider::{CallFailure, MailboxAnswer, Query};
use freebusy_core::scheduler::{self, FetchOptions, MailboxOutcome, ScheduleSource};

use super::circuit::Admission;
use super::Tenant;

/// A circuit as instances share it.
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedCircuit {
    fingerprint: String,
    since: i64,
    last_tried: i64,
    message: String,
}

/// How often an instance waiting for another's first sign-in looks again.
const FIRST_SIGN_IN_POLL: Duration = Duration::from_millis(25);

impl ScheduleSource for Tenant {
    async fn get_schedules(&self, query: Query) -> Result<Vec<MailboxAnswer>, CallFailure> {
        let deadline = Instant::now() + self.call_timeout;
        let Some(_places) = self.limiter.acquire(&query.mailboxes, deadline).await else {
            // Every place stayed taken for a whole call's time: as the upstream would say.
            return Err(CallFailure::Throttled(Some(1000)));
        };
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
        self.adopt_shared_circuit().await;
        let first_shared = match self.warm.load(Ordering::Relaxed) {
            true => None,
            false => self.first_sign_in_across_instances().await,
        };
        // The instance that signed in before us may have just found the credentials refused.
        if first_shared.is_some() {
            self.adopt_shared_circuit().await;
        }
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
        let was_open = self.circuit.is_open();
        self.circuit.record(&result, chrono::Utc::now().timestamp_millis());
        self.publish_circuit(was_open).await;
        if let Some((shared, key, holder)) = first_shared {
            shared.release_lease(&key, &holder).await;
        }
        match &result {
            Ok(_) => {
                if !self.warm.swap(true, Ordering::Relaxed) {
                    self.publish_signed_in().await;
                }
            }
            Err(CallFailure::Throttled(_)) => {}
            Err(e) => tracing::warn!(tenant = self.name.as_str(), operation, error = %e, "provider call failed"),
        }
        result
    }

    fn shared_circuit_key(&self, shared: &crate::shared::Shared) -> String {
        shared.key(&format!("circuit:{}", self.name))
    }

    /// Open the circuit if another instance found these credentials refused.
    async fn adopt_shared_circuit(&self) {
        let Some(shared) = &self.shared else { return };
        if self.circuit.is_open() {
            return;
        }
        let Some(Some(bytes)) = shared.get(&self.shared_circuit_key(shared)).await else { return };
        if let Ok(c) = serde_json::from_slice::<SharedCircuit>(&bytes) {
            if c.fingerprint == self.shared_definition {
                self.circuit.adopt(c.since, c.last_tried, &c.message);
            }
        }
    }

    /// Tell the other instances when this call opened or closed the circuit.
    async fn publish_circuit(&self, was_open: bool) {
        let Some(shared) = &self.shared else { return };
        let key = self.shared_circuit_key(shared);
        match self.circuit.state() {
            super::circuit::CircuitState::Open { since, last_tried, message, .. } => {
                let c = SharedCircuit { fingerprint: self.shared_definition.clone(), since, last_tried, message };
                if let Ok(bytes) = serde_json::to_vec(&c) {
                    shared.set_many(&[(key, bytes)], self.circuit.probe_interval()).await;
                }
            }
            super::circuit::CircuitState::Closed if was_open => {
                shared.delete(&key).await;
            }
            super::circuit::CircuitState::Closed => {}
        }
    }

    /// Until the credentials have worked once, one instance at a time signs in: wait for the
    /// shared first-sign-in lease (or for another instance to find the credentials refused, or
    /// to have signed in). The lease, when taken, is given back after the call.
    async fn first_sign_in_across_instances(&self) -> Option<(std::sync::Arc<crate::shared::Shared>, String, String)> {
        let shared = self.shared.clone()?;
        let key = shared.key(&format!("first-sign-in:{}", self.name));
        let warm_key = shared.key(&format!("signed-in:{}:{}", self.name, self.shared_definition));
        let holder = crate::shared::holder_id();
        // The lease time, not the call's: an instance killed while signing in holds others up no
        // longer than a fetch lease would.
        let give_up = Instant::now() + shared.lease;
        loop {
            if let Some(Some(_)) = shared.get(&warm_key).await {
                return None;
            }
            match shared.try_lease(&key, &holder, shared.lease).await {
                Some(true) => return Some((shared, key, holder)),
                None => return None,
                Some(false) => {}
            }
            self.adopt_shared_circuit().await;
            if self.circuit.is_open() || Instant::now() >= give_up {
                return None;
            }
            tokio::time::sleep(FIRST_SIGN_IN_POLL).await;
        }
    }

    /// Note in the shared store that these credentials worked (the others skip the wait).
    pub(super) async fn publish_signed_in(&self) {
        let Some(shared) = &self.shared else { return };
        let key = shared.key(&format!("signed-in:{}:{}", self.name, self.shared_definition));
        shared.set_many(&[(key, b"1".to_vec())], Duration::from_secs(24 * 3600)).await;
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
