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
//! - [`plan`]: splitting a request by a provider's limits, the retry policy, and reassembly.
//! - [`api`]: the `/v1/freebusy` request (parsing, validation into problem details) and response.
//! - [`ical`]: iCalendar `VFREEBUSY` rendering.
//! - [`zones`]: Windows time-zone names to IANA names and back.
//! - [`convert`]: provider bindings (host or edge) to this model, one macro for both.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod convert;
pub mod ical;
pub mod model;
pub mod plan;
pub mod timeline;
pub mod view;
pub mod zones;

pub use model::{Availability, Block, MailboxError, Timestamp, Window, WorkingHours};
