//! `freebusy:provider@0.2.0`: its bindings and their conversions to core's types. Nothing outside
//! this module sees a 0.2.0 type.
//!
//! 0.2.0 added to 0.1.0: the upstream's merged view (`query.view-interval`,
//! `mailbox-schedule.merged-view`) and `limits.upstream-max-mailboxes`.

use freebusy_core::api::{DirectoryEntry, EntryKind};
use freebusy_core::model::{Availability, Block, MailboxError, Weekday, WorkingHours};
use freebusy_core::provider::{
    CallFailure, Health, Limits, MailboxAnswer, MailboxSchedule, ProviderInfo, Query, SettingSpec,
};
use wasmtime::component::InstancePre;
use wasmtime::Store;

use super::state::HostState;

#[allow(missing_docs)]
pub(super) mod generated {
    wasmtime::component::bindgen!({
        path: "../wit/provider@0.2.0",
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
        view_interval: q.view_interval,
    }
}

impl From<wit::Schedule> for MailboxAnswer {
    fn from(s: wit::Schedule) -> Self {
        answer(s, |ms| ms.merged_view.clone())
    }
}

impl From<wit::ProviderInfo> for ProviderInfo {
    fn from(i: wit::ProviderInfo) -> Self {
        info(i, |limits| limits.upstream_max_mailboxes)
    }
}

super::unchanged::calls_since_v0_1_0!(generated);
super::unchanged::types_since_v0_1_0!(wit);
