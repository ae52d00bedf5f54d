//! What one provider call's `Store` holds.

use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::keyvalue;
use super::outbound::AllowList;

/// Per-call state: a sandboxed WASI context (no files, no sockets, no environment), HTTP
/// through the allow-list, the tenant's key-value store and the memory limits.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) outbound: AllowList,
    pub(crate) kv: keyvalue::Store,
    pub(crate) limits: StoreLimits,
}

impl HostState {
    /// A fresh state for one call.
    pub fn new(outbound: AllowList, kv: keyvalue::Store, limits: StoreLimits) -> Self {
        let wasi = WasiCtx::builder().allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).build();
        HostState { wasi, http: WasiHttpCtx::new(), table: ResourceTable::new(), outbound, kv, limits }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.outbound }
    }
}
