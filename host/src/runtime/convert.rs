//! The current provider bindings' types in core's terms (shared with the edge through
//! `freebusy_core::provider_conversions!`).

use super::bindings::freebusy::provider::types as wit;

freebusy_core::provider_conversions!(wit);
