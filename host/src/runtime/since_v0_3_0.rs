//! `freebusy:provider@0.3.0`, the current contract: its bindings and their conversions to core's
//! types. Its `types` interface is 0.2.0's unchanged, so the bindings reuse 0.2.0's Rust types
//! (and with them [`super::since_v0_2_0`]'s conversions); what is new is `delegated-sign-in`.

use freebusy_core::api::{DirectoryEntry, EntryKind};
use freebusy_core::provider::{CallFailure, Health, MailboxAnswer, ProviderInfo, Query, SignIn};
use wasmtime::component::InstancePre;
use wasmtime::Store;

use super::since_v0_2_0::{entry_kind, query_of};
use super::state::HostState;

#[allow(missing_docs)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/provider@0.3.0",
        world: "calendar-provider",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:keyvalue/store": crate::runtime::keyvalue::bindings::wasi::keyvalue::store,
            "freebusy:provider/types": crate::runtime::since_v0_2_0::generated::freebusy::provider::types,
        },
    });
}

use generated::exports::freebusy::provider::provider as exported;

super::unchanged::calls_since_v0_1_0!(generated);

impl Component {
    /// `delegated-sign-in`.
    pub async fn delegated_sign_in(
        &self,
        store: &mut Store<HostState>,
        settings: &Vec<(String, String)>,
    ) -> Answer<Option<SignIn>> {
        let p = self.0.instantiate_async(&mut *store).await?;
        let answer = p.freebusy_provider_provider().call_delegated_sign_in(store, settings).await?;
        Ok(answer.map(|s| s.map(sign_in)).map_err(Into::into))
    }
}

fn sign_in(s: exported::SignIn) -> SignIn {
    SignIn {
        authorization_url: s.authorization_url,
        device_authorization_url: s.device_authorization_url,
        token_url: s.token_url,
        client_id: s.client_id,
        scopes: s.scopes,
        refresh_token_setting: s.refresh_token_setting,
    }
}
