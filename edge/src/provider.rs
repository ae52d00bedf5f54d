//! The provider the edge imports (`freebusy:provider/provider`, satisfied by a component
//! dependency in `spin.toml`), in core's terms: its bindings, their conversions to core's types,
//! and the provider as the scheduler's [`ScheduleSource`]. Nothing outside this module sees a
//! generated type.

use std::time::Duration;

use freebusy_core::model::{Availability, Block, ErrorCode, MailboxError, Weekday, WorkingHours};
use freebusy_core::provider::{CallFailure, Limits, MailboxAnswer, MailboxSchedule, ProviderInfo, Query, SettingSpec};
use freebusy_core::scheduler::ScheduleSource;

#[allow(missing_docs, clippy::all)]
mod bindings {
    spin_sdk::wit_bindgen::generate!({
        path: "../wit/provider@0.3.0",
        world: "calendar-consumer",
        runtime_path: "::spin_sdk::wit_bindgen::rt",
        generate_all,
    });
}

use bindings::freebusy::provider::provider as imported;
use bindings::freebusy::provider::types as wit;

/// What the composed provider says about itself.
pub fn describe() -> ProviderInfo {
    let i = imported::describe();
    ProviderInfo {
        name: i.name,
        version: i.version,
        description: i.description,
        limits: Limits {
            max_mailboxes: i.limits.max_mailboxes,
            max_window_days: i.limits.max_window_days,
            upstream_max_mailboxes: i.limits.upstream_max_mailboxes,
        },
        settings: i
            .settings
            .into_iter()
            .map(|s| SettingSpec {
                name: s.name,
                description: s.description,
                required: s.required,
                secret: s.secret,
                default_value: s.default_value,
            })
            .collect(),
        endpoint_settings: i.endpoint_settings,
    }
}

/// The composed provider called with one request's settings. A call blocks the edge's one
/// request (the import is synchronous), so its futures are ready when first polled.
pub struct Imported<'a> {
    /// Settings passed with every call.
    pub settings: &'a [(String, String)],
}

impl ScheduleSource for Imported<'_> {
    async fn get_schedules(&self, q: Query) -> Result<Vec<MailboxAnswer>, CallFailure> {
        let query = wit::Query {
            mailboxes: q.mailboxes,
            window: wit::Window { start: q.window.start, end: q.window.end },
            details: q.details,
            view_interval: q.view_interval,
        };
        match imported::get_schedules(self.settings, &query) {
            Ok(schedules) => Ok(schedules.into_iter().map(answer).collect()),
            Err(e) => Err(failure(e)),
        }
    }

    async fn wait_before_retry(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

fn failure(e: wit::ProviderError) -> CallFailure {
    match e {
        wit::ProviderError::Throttled(ms) => CallFailure::Throttled(ms),
        wit::ProviderError::AuthFailed(m) => CallFailure::AuthFailed(m),
        wit::ProviderError::Misconfigured(m) => CallFailure::Misconfigured(m),
        wit::ProviderError::Unavailable(m) => CallFailure::Unavailable(m),
        wit::ProviderError::Unsupported(m) => CallFailure::Unsupported(m),
    }
}

fn answer(s: wit::Schedule) -> MailboxAnswer {
    MailboxAnswer {
        mailbox: s.mailbox,
        outcome: match s.outcome {
            Ok(ms) => Ok(MailboxSchedule {
                blocks: ms.blocks.into_iter().map(block).collect(),
                working_hours: ms.working_hours.map(working_hours),
                merged_view: ms.merged_view,
            }),
            Err(wit::MailboxError::NotFound(m)) => Err(MailboxError::new(ErrorCode::NotFound, m)),
            Err(wit::MailboxError::AccessDenied(m)) => Err(MailboxError::new(ErrorCode::AccessDenied, m)),
            Err(wit::MailboxError::TooLarge(m)) => Err(MailboxError::new(ErrorCode::TooLarge, m)),
            Err(wit::MailboxError::Other(m)) => Err(MailboxError::new(ErrorCode::Other, m)),
        },
    }
}

fn block(b: wit::BusyBlock) -> Block {
    let status = match b.status {
        wit::Availability::Free => Availability::Free,
        wit::Availability::Tentative => Availability::Tentative,
        wit::Availability::Busy => Availability::Busy,
        wit::Availability::OutOfOffice => Availability::OutOfOffice,
        wit::Availability::WorkingElsewhere => Availability::WorkingElsewhere,
        wit::Availability::Unknown => Availability::Unknown,
    };
    Block { start: b.start, end: b.end, status, subject: b.subject, location: b.location, is_private: b.is_private }
}

fn working_hours(w: wit::WorkingHours) -> WorkingHours {
    let day = |d: wit::Weekday| match d {
        wit::Weekday::Monday => Weekday::Monday,
        wit::Weekday::Tuesday => Weekday::Tuesday,
        wit::Weekday::Wednesday => Weekday::Wednesday,
        wit::Weekday::Thursday => Weekday::Thursday,
        wit::Weekday::Friday => Weekday::Friday,
        wit::Weekday::Saturday => Weekday::Saturday,
        wit::Weekday::Sunday => Weekday::Sunday,
    };
    WorkingHours {
        days: w.days.into_iter().map(day).collect(),
        start_minute: w.start_minute,
        end_minute: w.end_minute,
        time_zone: w.time_zone,
    }
}
