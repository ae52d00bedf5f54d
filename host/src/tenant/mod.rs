//! A tenant: one customer directory (a Microsoft 365 tenant, an Exchange organisation) served
//! through one provider component with its own settings, outbound allow-list, token store,
//! concurrency cap and free/busy cache.
//!
//! - [`setup`]: from a `[tenants.<name>]` table to a ready tenant (settings checked against what
//!   the provider describes, secrets resolved, allow-list, limits).
//! - [`freebusy`]: answering a request, from the cache where it can and through the scheduler
//!   (shared with identical concurrent requests) where it must.
//! - [`calls`]: the tenant's provider as the scheduler's [`ScheduleSource`]: each call within the
//!   tenant's cap, counted, settings the provider replaced written back.
//! - [`circuit`]: after a refused credential, no sign-in until something changed.
//! - [`limiter`]: calls in flight per mailbox, across instances with a shared store.
//! - [`directory`] and [`health`]: people and rooms; credential checks and secret expiry.
//!
//! [`ScheduleSource`]: freebusy_core::scheduler::ScheduleSource

pub mod calls;
pub mod circuit;
pub mod directory;
pub mod freebusy;
pub mod health;
pub mod limiter;
pub mod setup;
mod written_settings;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::cache::Cache;
use crate::metrics::Metrics;
use crate::runtime::{CallContext, Provider};
use crate::single_flight::SingleFlight;
use crate::store::Store;
use freebusy_core::scheduler::MailboxOutcome;

pub use health::TenantHealth;

/// A tenant ready to serve.
pub struct Tenant {
    /// Name from the config (it appears in URLs: `/v1/tenants/{name}/freebusy`).
    pub name: String,
    /// Its provider.
    pub provider: Arc<Provider>,
    ctx: CallContext,
    max_mailboxes: u32,
    max_window_days: u32,
    /// Provider calls in flight at once for this tenant.
    calls: Semaphore,
    /// Settings kept in files; a provider that replaces one (a rotated refresh token) has it
    /// written back.
    written_settings: written_settings::WrittenSettings,
    /// When the credential expires, if configured.
    pub secret_expires: Option<chrono::NaiveDate>,
    /// Set after the first successful call. Until then a request's first piece runs alone, so
    /// that what it caches (the access token, a known mailbox) serves the pieces after it
    /// instead of every concurrent piece fetching its own token.
    warm: AtomicBool,
    /// Held by each call until the credentials have worked once: a burst of first requests
    /// with a wrong password makes one failed sign-in, not one per request.
    first_sign_in: tokio::sync::Mutex<()>,
    /// Stops sign-ins after the credentials were refused.
    pub circuit: circuit::Circuit,
    /// Why the tenant cannot call its provider at all (a setting that could not be resolved);
    /// every call answers `misconfigured` with it.
    unusable: Option<String>,
    /// Where sealed settings and the circuit are kept.
    store: Arc<Store>,
    /// What the tenant was built from ([`setup::definition`]); a reload rebuilds it when this
    /// changes.
    pub(crate) definition: String,
    /// Answers by mailbox and day.
    cache: Cache,
    /// Where calls, cache lookups and errors are counted.
    metrics: Arc<Metrics>,
    /// Upstream fetches under way, shared by identical concurrent requests.
    in_flight: SingleFlight<Vec<MailboxOutcome>>,
    /// Calls in flight per mailbox.
    limiter: limiter::MailboxLimiter,
    /// State shared with other instances (fetch leases, the circuit), when configured.
    shared: Option<Arc<crate::shared::Shared>>,
    /// How long one provider call may take.
    call_timeout: std::time::Duration,
    /// The fingerprint instances compare before sharing a circuit ([`setup::shared_definition`]).
    shared_definition: String,
}

impl Tenant {
    /// The call context (settings, allow-list, key-value store).
    pub fn context(&self) -> &CallContext {
        &self.ctx
    }

    /// Mailboxes asked about in one provider call.
    pub fn max_mailboxes(&self) -> u32 {
        self.max_mailboxes
    }

    /// Days asked about in one provider call.
    pub fn max_window_days(&self) -> u32 {
        self.max_window_days
    }
}
