//! The `/v1/directory` request and answer: people and rooms by name or address prefix.

use serde::{Deserialize, Serialize};

use super::problem::{InvalidParam, Problem};

/// Most directory entries one request returns.
pub const MAX_DIRECTORY_RESULTS: u32 = 200;

/// What a directory search looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// People (users).
    Person,
    /// Rooms.
    Room,
}

/// A validated `/v1/directory` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRequest {
    /// Name or address prefix.
    pub prefix: String,
    /// People or rooms.
    pub kind: EntryKind,
    /// At most this many entries.
    pub max: u32,
}

/// Parse `q=<prefix>&kind=person|room&max=<n>`.
pub fn parse_directory_query(query: &str) -> Result<DirectoryRequest, Problem> {
    let mut errors = Vec::new();
    let (mut prefix, mut kind, mut max) = (None, EntryKind::Person, 25);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "q" => prefix = Some(value.trim().to_string()),
            "kind" => match value.as_ref() {
                "person" | "people" => kind = EntryKind::Person,
                "room" | "rooms" => kind = EntryKind::Room,
                other => errors.push(InvalidParam::new("kind", format!("must be person or room, got '{other}'"))),
            },
            "max" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_DIRECTORY_RESULTS).contains(&n) => max = n,
                _ => {
                    errors.push(InvalidParam::new("max", format!("must be a number from 1 to {MAX_DIRECTORY_RESULTS}")))
                }
            },
            other => errors.push(InvalidParam::new(other, "unknown parameter")),
        }
    }
    match prefix {
        Some(p) if !p.is_empty() && p.chars().count() <= 64 => {
            if errors.is_empty() {
                return Ok(DirectoryRequest { prefix: p, kind, max });
            }
        }
        Some(p) if !p.is_empty() => errors.push(InvalidParam::new("q", "must be at most 64 characters")),
        _ => errors.push(InvalidParam::new("q", "a name or address prefix is required, e.g. q=ad")),
    }
    Err(Problem::invalid(errors))
}

/// One person or room found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryEntry {
    /// Person or room.
    pub kind: EntryKind,
    /// Name to show.
    pub display_name: String,
    /// SMTP address, usable in `/v1/freebusy`.
    pub address: String,
    /// Seats (rooms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// Building (rooms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building: Option<String>,
}

/// The `/v1/directory` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryResponse {
    /// Matches, at most `max`.
    pub entries: Vec<DirectoryEntry>,
}
