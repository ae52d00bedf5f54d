//! A small expiring cache in the `wasi:keyvalue` store the host (or Spin) gives the component.
//! Provider instances live for one call, so this is where tokens survive between calls.

use serde::{Deserialize, Serialize};

use crate::bindings::wasi::keyvalue::store::{self, Bucket};

/// The store label; on Spin it must be listed in the component's `key_value_stores`.
pub const STORE: &str = "default";

#[derive(Serialize, Deserialize)]
struct Entry {
    value: String,
    expires_at_ms: i64,
}

/// Milliseconds since the epoch from the wall clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn bucket() -> Option<Bucket> {
    // No store (or access denied) means no caching, not a failed call.
    store::open(STORE).ok()
}

/// The cached value for `key`, if present and not expired.
pub fn get(key: &str) -> Option<String> {
    let bytes = bucket()?.get(key).ok()??;
    let entry: Entry = serde_json::from_slice(&bytes).ok()?;
    (entry.expires_at_ms > now_ms()).then_some(entry.value)
}

/// Cache `value` under `key` until `expires_at_ms`. Failures are ignored: the cache is an
/// optimisation.
pub fn put(key: &str, value: &str, expires_at_ms: i64) {
    if let Some(bucket) = bucket() {
        if let Ok(bytes) = serde_json::to_vec(&Entry { value: value.to_string(), expires_at_ms }) {
            let _ = bucket.set(key, &bytes);
        }
    }
}

/// Forget `key` (for example a token the upstream has just rejected).
pub fn remove(key: &str) {
    if let Some(bucket) = bucket() {
        let _ = bucket.delete(key);
    }
}

/// Key under which a provider stores a new value for one of its settings (for example a rotated
/// refresh token). Hosts that keep that setting in a file write the value back to it; the
/// provider prefers the stored value over the one passed in the settings.
pub fn setting_key(name: &str) -> String {
    format!("setting:{name}")
}

/// The replacement value of a setting, if the provider stored one.
pub fn updated_setting(name: &str) -> Option<String> {
    let bytes = bucket()?.get(&setting_key(name)).ok()??;
    String::from_utf8(bytes).ok()
}

/// Store a replacement value for a setting (raw UTF-8, no expiry).
pub fn update_setting(name: &str, value: &str) {
    if let Some(bucket) = bucket() {
        let _ = bucket.set(&setting_key(name), value.as_bytes());
    }
}
