//! freebusy-host: the native freebusy service.
//!
//! Data flows one way: HTTP request -> [`http`] (validation, via `freebusy-core`) -> [`tenant`]
//! (the tenant's [`cache`], then single flight) -> the scheduler (`freebusy_core::scheduler`: split
//! by the provider's limits, retries, join) -> [`runtime`] (a fresh instance per call, outbound
//! allow-list) -> provider component -> upstream; the normalized answers come back the same way
//! and `freebusy-core` merges and renders them.
//!
//! - [`config`]: the TOML file, straight into the settings types of each part.
//! - [`service`]: every configured tenant, loaded once.
//! - [`tenant`]: one tenant: set-up, answering from the cache, provider calls, directory, health.
//! - [`cache`] and [`single_flight`]: answers kept per mailbox and day; identical fetches shared.
//! - [`shared`]: the same, plus leases, the per-mailbox limiter and providers' tokens, shared by
//!   several instances through Redis (memory only without it).
//! - [`runtime`]: wasmtime, the contract versions and the sandbox.
//! - [`http`], [`metrics`]: the API and what it counts.
//! - [`auth`], [`store`]: API keys; the SQLite store of run-time tenants, keys, onboarding,
//!   credential health and sealed secrets.
//! - [`onboarding`]: customer tenants added by admin consent to a multi-tenant app.
//! - [`login`], [`files`]: delegated sign-in, and the private files it writes.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod files;
pub mod http;
pub mod login;
pub mod metrics;
pub mod onboarding;
pub mod runtime;
pub mod service;
pub mod shared;
pub mod single_flight;
pub mod store;
pub mod tenant;

#[cfg(test)]
#[path = "../../core/src/fuzz_support.rs"]
mod fuzz_support;
