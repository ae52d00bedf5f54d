//! freebusy-core: the normalized free/busy model and the pure logic every part of freebusy shares.
//!
//! No I/O lives here, so the same code runs in the native host, in provider components and in
//! the Spin edge component (it builds for `wasm32-wasip2`). That is what keeps the host's and the
//! edge's answers identical.
//!
//! - [`model`]: statuses, blocks, working hours, per-mailbox errors.
//! - [`timeline`]: sort, clip and merge blocks into a non-overlapping timeline, with status
//!   precedence.
//! - [`view`]: the merged availability string (one digit per interval, Graph `availabilityView`
//!   semantics).
//! - [`provider`]: what crosses the provider boundary (query, answers, call failures, provider
//!   info), in core's terms.
//! - [`scheduler`]: a request -> provider calls within the provider's limits -> retries -> one
//!   outcome per mailbox, over a [`scheduler::ScheduleSource`] (the host's and the edge's).
//! - [`api`]: the `/v1/freebusy` request (parsing, validation into problem details), response
//!   and the problems every front end answers with.
//! - [`slots`]: finding a time: free slots common to groups of people and rooms.
//! - [`ical`]: iCalendar `VFREEBUSY` rendering.
//! - [`zones`]: Windows time-zone names to IANA names and back.

pub mod api;
pub mod ical;
pub mod model;
pub mod provider;
pub mod scheduler;
pub mod slots;
pub mod timeline;
pub mod view;
pub mod zones;

#[cfg(test)]
mod fuzz_support;

pub use model::{Availability, Block, ErrorCode, MailboxError, Timestamp, Window, WorkingHours};
