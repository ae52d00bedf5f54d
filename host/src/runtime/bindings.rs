//! Host bindings, one module per supported `freebusy:provider` contract version.
//!
//! [`v0_2`] is the current contract: the host works in its types. [`v0_1`] is kept so that
//! components built against the frozen 0.1.0 contract keep loading; [`super::legacy`] adapts
//! its calls. Both worlds import the same WASI interfaces, so the older bindings reuse the
//! newer ones' `wasi:keyvalue` and the linker holds each import once.

/// `freebusy:provider@0.2.0`, world `calendar-provider`.
pub mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/provider@0.2.0",
        world: "calendar-provider",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:keyvalue/store.bucket": crate::runtime::keyvalue::Bucket,
        },
    });
}

/// `freebusy:provider@0.1.0`, world `calendar-provider` (frozen; see [`super::legacy`]).
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/provider@0.1.0",
        world: "calendar-provider",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:keyvalue/store": super::v0_2::wasi::keyvalue::store,
        },
    });
}

pub use v0_2::*;
