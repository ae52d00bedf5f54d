//! Components built against the frozen `freebusy:provider@0.1.0` contract, called in the
//! current contract's terms. 0.2.0 only added fields (`query.view-interval`,
//! `mailbox-schedule.merged-view`, `limits.upstream-max-mailboxes`), so adapting means dropping
//! the first and filling in the others; everything else is copied field by field. wasmtime's bindgen makes distinct
//! Rust types per version even where the WIT is identical, hence the copying.

use super::bindings::v0_1::freebusy::provider::types as old;
use super::bindings::v0_2::freebusy::provider::types as new;

/// A current query as 0.1.0 asks it.
pub fn query(q: &new::Query) -> old::Query {
    old::Query {
        mailboxes: q.mailboxes.clone(),
        window: old::Window { start: q.window.start, end: q.window.end },
        details: q.details,
    }
}

/// A 0.1.0 schedule; it never carries an upstream merged view.
pub fn schedule(s: old::Schedule) -> new::Schedule {
    new::Schedule {
        mailbox: s.mailbox,
        outcome: match s.outcome {
            Ok(ms) => Ok(new::MailboxSchedule {
                blocks: ms.blocks.into_iter().map(block).collect(),
                working_hours: ms.working_hours.map(working_hours),
                merged_view: None,
            }),
            Err(e) => Err(match e {
                old::MailboxError::NotFound(m) => new::MailboxError::NotFound(m),
                old::MailboxError::AccessDenied(m) => new::MailboxError::AccessDenied(m),
                old::MailboxError::TooLarge(m) => new::MailboxError::TooLarge(m),
                old::MailboxError::Other(m) => new::MailboxError::Other(m),
            }),
        },
    }
}

fn block(b: old::BusyBlock) -> new::BusyBlock {
    new::BusyBlock {
        start: b.start,
        end: b.end,
        status: match b.status {
            old::Availability::Free => new::Availability::Free,
            old::Availability::Tentative => new::Availability::Tentative,
            old::Availability::Busy => new::Availability::Busy,
            old::Availability::OutOfOffice => new::Availability::OutOfOffice,
            old::Availability::WorkingElsewhere => new::Availability::WorkingElsewhere,
            old::Availability::Unknown => new::Availability::Unknown,
        },
        subject: b.subject,
        location: b.location,
        is_private: b.is_private,
    }
}

fn working_hours(w: old::WorkingHours) -> new::WorkingHours {
    new::WorkingHours {
        days: w
            .days
            .into_iter()
            .map(|d| match d {
                old::Weekday::Monday => new::Weekday::Monday,
                old::Weekday::Tuesday => new::Weekday::Tuesday,
                old::Weekday::Wednesday => new::Weekday::Wednesday,
                old::Weekday::Thursday => new::Weekday::Thursday,
                old::Weekday::Friday => new::Weekday::Friday,
                old::Weekday::Saturday => new::Weekday::Saturday,
                old::Weekday::Sunday => new::Weekday::Sunday,
            })
            .collect(),
        start_minute: w.start_minute,
        end_minute: w.end_minute,
        time_zone: w.time_zone,
    }
}

/// A 0.1.0 provider error.
pub fn error(e: old::ProviderError) -> new::ProviderError {
    match e {
        old::ProviderError::Throttled(ms) => new::ProviderError::Throttled(ms),
        old::ProviderError::AuthFailed(m) => new::ProviderError::AuthFailed(m),
        old::ProviderError::Misconfigured(m) => new::ProviderError::Misconfigured(m),
        old::ProviderError::Unavailable(m) => new::ProviderError::Unavailable(m),
        old::ProviderError::Unsupported(m) => new::ProviderError::Unsupported(m),
    }
}

/// What a 0.1.0 provider says about itself.
pub fn info(i: old::ProviderInfo) -> new::ProviderInfo {
    new::ProviderInfo {
        name: i.name,
        version: i.version,
        description: i.description,
        limits: new::Limits {
            max_mailboxes: i.limits.max_mailboxes,
            max_window_days: i.limits.max_window_days,
            // 0.1.0 had one limit, which the host could only lower.
            upstream_max_mailboxes: i.limits.max_mailboxes,
        },
        settings: i
            .settings
            .into_iter()
            .map(|s| new::SettingSpec {
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

/// A directory kind as 0.1.0 names it.
pub fn entry_kind(k: new::EntryKind) -> old::EntryKind {
    match k {
        new::EntryKind::Person => old::EntryKind::Person,
        new::EntryKind::Room => old::EntryKind::Room,
    }
}

/// A 0.1.0 directory entry.
pub fn entry(e: old::DirectoryEntry) -> new::DirectoryEntry {
    new::DirectoryEntry {
        kind: match e.kind {
            old::EntryKind::Person => new::EntryKind::Person,
            old::EntryKind::Room => new::EntryKind::Room,
        },
        display_name: e.display_name,
        address: e.address,
        capacity: e.capacity,
        building: e.building,
    }
}

/// A 0.1.0 health report.
pub fn health(h: old::Health) -> new::Health {
    new::Health { summary: h.summary, granted: h.granted, missing: h.missing }
}
