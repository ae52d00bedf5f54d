//! Host bindings for `freebusy:provider@0.1.0` (world `calendar-provider`).
//!
//! One module per supported contract version: when `wit/provider@0.2.0` exists it gets a
//! sibling module, and [`super::provider`] dispatches on the version a component exports.

wasmtime::component::bindgen!({
    path: "../wit/provider@0.1.0",
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
