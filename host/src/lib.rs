//! freebusy-host: the native freebusy service.
//!
//! It runs provider components (Graph, EWS, ...) in wasmtime ([`runtime`]), configures tenants
//! from one TOML file ([`config`]), answers repeated questions from memory ([`cache`]), splits
//! and schedules queries within each provider's limits ([`service`]), and serves the HTTP API
//! ([`api`]). [`demo`] wires it to the in-process emulator for `freebusy demo`.
//!
//! Data flows one way: HTTP request -> [`api`] (validation, via `freebusy-core`) -> [`cache`] ->
//! [`service`] (split by limits, concurrency, retries, single flight) -> [`runtime`] (fresh
//! instance per call, outbound allow-list) -> upstream -> normalized answer -> `freebusy-core`
//! merge and render.

pub mod api;
pub mod cache;
pub mod config;
pub mod demo;
pub mod login;
pub mod metrics;
pub mod runtime;
pub mod service;
