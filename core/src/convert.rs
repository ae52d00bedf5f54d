//! Conversions from `freebusy:provider` bindings to the core model, shared by the host (wasmtime
//! bindgen) and the edge (wit-bindgen). The two generators make different Rust types from the same
//! WIT, with the same names and shapes, so one macro body converts either: expand
//! [`provider_conversions!`](crate::provider_conversions) where an identifier names the bindings'
//! `types` module.

/// Defines `query`, `failure`, `answer`, `mailbox_error`, `block` and `working_hours` for the
/// bindings module named by `$wit` (for example `use bindings::freebusy::provider::types as wit;`).
#[macro_export]
macro_rules! provider_conversions {
    ($wit:ident) => {
        /// The provider query for one piece of a request.
        pub fn query(piece: &$crate::plan::Piece, req: &$crate::api::FreeBusyRequest) -> $wit::Query {
            $wit::Query {
                mailboxes: piece.mailboxes.clone(),
                window: $wit::Window { start: piece.window.start, end: piece.window.end },
                details: req.details,
                view_interval: req.upstream_interval(),
            }
        }

        /// A provider error in core's terms (worded the same everywhere).
        pub fn failure(e: &$wit::ProviderError) -> $crate::plan::ProviderFailure {
            use $crate::plan::ProviderFailure;
            match e {
                $wit::ProviderError::Throttled(ms) => ProviderFailure::Throttled(*ms),
                $wit::ProviderError::AuthFailed(m) => ProviderFailure::AuthFailed(m.clone()),
                $wit::ProviderError::Misconfigured(m) => ProviderFailure::Misconfigured(m.clone()),
                $wit::ProviderError::Unavailable(m) => ProviderFailure::Unavailable(m.clone()),
                $wit::ProviderError::Unsupported(m) => ProviderFailure::Unsupported(m.clone()),
            }
        }

        /// One mailbox's schedule in core's terms.
        pub fn answer(s: &$wit::Schedule) -> $crate::plan::MailboxAnswer {
            $crate::plan::MailboxAnswer {
                mailbox: s.mailbox.clone(),
                outcome: match &s.outcome {
                    Ok(ms) => Ok($crate::plan::MailboxSchedule {
                        blocks: ms.blocks.iter().map(block).collect(),
                        working_hours: ms.working_hours.as_ref().map(working_hours),
                        merged_view: ms.merged_view.clone(),
                    }),
                    Err(e) => Err(mailbox_error(e)),
                },
            }
        }

        /// A per-mailbox error in core's terms.
        pub fn mailbox_error(e: &$wit::MailboxError) -> $crate::model::MailboxError {
            use $crate::model::MailboxError;
            match e {
                $wit::MailboxError::NotFound(m) => MailboxError::new("not-found", m.clone()),
                $wit::MailboxError::AccessDenied(m) => MailboxError::new("access-denied", m.clone()),
                $wit::MailboxError::TooLarge(m) => MailboxError::new("too-large", m.clone()),
                $wit::MailboxError::Other(m) => MailboxError::new("other", m.clone()),
            }
        }

        /// A busy block in core's terms.
        pub fn block(b: &$wit::BusyBlock) -> $crate::model::Block {
            use $crate::model::Availability;
            $crate::model::Block {
                start: b.start,
                end: b.end,
                status: match b.status {
                    $wit::Availability::Free => Availability::Free,
                    $wit::Availability::Tentative => Availability::Tentative,
                    $wit::Availability::Busy => Availability::Busy,
                    $wit::Availability::OutOfOffice => Availability::OutOfOffice,
                    $wit::Availability::WorkingElsewhere => Availability::WorkingElsewhere,
                    $wit::Availability::Unknown => Availability::Unknown,
                },
                subject: b.subject.clone(),
                location: b.location.clone(),
                is_private: b.is_private,
            }
        }

        /// Working hours in core's terms.
        pub fn working_hours(w: &$wit::WorkingHours) -> $crate::model::WorkingHours {
            use $crate::model::Weekday;
            $crate::model::WorkingHours {
                days: w
                    .days
                    .iter()
                    .map(|d| match d {
                        $wit::Weekday::Monday => Weekday::Monday,
                        $wit::Weekday::Tuesday => Weekday::Tuesday,
                        $wit::Weekday::Wednesday => Weekday::Wednesday,
                        $wit::Weekday::Thursday => Weekday::Thursday,
                        $wit::Weekday::Friday => Weekday::Friday,
                        $wit::Weekday::Saturday => Weekday::Saturday,
                        $wit::Weekday::Sunday => Weekday::Sunday,
                    })
                    .collect(),
                start_minute: w.start_minute,
                end_minute: w.end_minute,
                time_zone: w.time_zone.clone(),
            }
        }
    };
}
