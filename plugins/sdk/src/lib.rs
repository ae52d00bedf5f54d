//! freebusy-provider-sdk: the shared guest side of every freebusy provider component.
//!
//! A provider crate implements [`bindings::exports::freebusy::provider::provider::Guest`] and
//! calls [`export!`]. This crate gives it:
//! - [`bindings`]: the `freebusy:provider@0.3.0` world (and the WASI interfaces it imports);
//! - [`http`]: blocking HTTP requests over `wasi:http/outgoing-handler`;
//! - [`cache`]: the `wasi:keyvalue` token cache that outlives the per-call instance;
//! - [`settings`]: typed access to the settings the host passes with each call;
//! - [`entra`]: Microsoft identity platform (Entra ID) tokens and their errors;
//! - `xml` (feature `xml`): an element tree matched by local name, for SOAP and WebDAV.
//!
//! Everything is synchronous: a provider serves one call per instance, so there is nothing to
//! overlap, and a blocking `pollable.block()` keeps the component small.
#![deny(unsafe_code)]

/// Generated bindings for the `calendar-provider` world.
#[allow(missing_docs, unsafe_code)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/provider@0.3.0",
        world: "calendar-provider",
        generate_all,
        pub_export_macro: true,
        default_bindings_module: "freebusy_provider_sdk::bindings",
    });
}

pub mod cache;
pub mod entra;
pub mod http;
pub mod settings;
#[cfg(feature = "xml")]
pub mod xml;

#[cfg(test)]
#[path = "../../../core/src/fuzz_support.rs"]
mod fuzz_support;

pub use bindings::export;
pub use bindings::exports::freebusy::provider::provider::{Guest, SignIn};
pub use bindings::freebusy::provider::types;
