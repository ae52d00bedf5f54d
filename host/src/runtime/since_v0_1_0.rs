//! `freebusy:provider@0.1.0`, the first contract (frozen): its bindings and their conversions to
//! core's types, so that components released before 0.2.0 keep loading. What it lacks is filled
//! in: a query's view interval is dropped (the host then computes the view from the blocks), a
//! schedule carries no merged view, and the one mailbox limit is also the upstream's.

use freebusy_core::api::{DirectoryEntry, EntryKind};
use freebusy_core::model::{Availability, Block, MailboxError, Weekday, WorkingHours};
use freebusy_core::provider::{
    CallFailure, Health, Limits, MailboxAnswer, MailboxSchedule, ProviderInfo, Query, SettingSpec,
};
use wasmtime::component::InstancePre;
use wasmtime::Store;

use super::state::HostState;

#[allow(missing_docs)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/provider@0.1.0",
        world: "calendar-provider",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:keyvalue/store": crate::runtime::keyvalue::bindings::wasi::keyvalue::store,
        },
    });
}

use generated::freebusy::provider::types as wit;

pub(super) fn query_of(q: &Query) -> wit::Query {
    wit::Query {
        mailboxes: q.mailboxes.clone(),
        window: wit::Window { start: q.window.start, end: q.window.end },
        details: q.details,
    }
}

impl From<wit::Schedule> for MailboxAnswer {
    fn from(s: wit::Schedule) -> Self {
        // 0.1.0 has no merged view.
        answer(s, |_| None)
    }
}

impl From<wit::ProviderInfo> for ProviderInfo {
    fn from(i: wit::ProviderInfo) -> Self {
        // 0.1.0 had one limit, which the host could only lower.
        info(i, |limits| limits.max_mailboxes)
    }
}

super::unchanged::calls_since_v0_1_0!(generated);
super::unchanged::types_since_v0_1_0!(wit);
