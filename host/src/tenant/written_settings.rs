//! Settings a provider replaces: an identity platform rotates refresh tokens on use, and the
//! provider stores the new one under `setting:<name>` in its key-value store (the convention
//! `wit/provider@0.3.0` documents). After each call the host keeps such a value where the setting
//! comes from, so that a restart signs in with the token that still works: sealed in the store
//! for `{ stored = true }`. A value read from a file or the environment is not written back (the
//! service writes no secret in plain text); it lives on in memory, and a warning says to use
//! `{ stored = true }`.

use std::sync::Mutex;

use crate::config::SettingValue;
use crate::runtime::keyvalue;
use crate::store::Store;

/// The key-value key under which a provider leaves a replacement for setting `name`.
pub fn replacement_key(name: &str) -> String {
    format!("setting:{name}")
}

/// Where a setting came from and the value last kept there.
struct Kept {
    name: String,
    stored: bool,
    last: Mutex<String>,
}

/// A tenant's settings that a provider may replace.
#[derive(Default)]
pub(super) struct WrittenSettings(Vec<Kept>);

impl WrittenSettings {
    /// Remember setting `name`, configured as `value` and resolved to `resolved`.
    pub(super) fn add(&mut self, name: &str, value: &SettingValue, resolved: &str) {
        let stored = matches!(value, SettingValue::Stored { .. });
        self.0.push(Kept { name: name.to_string(), stored, last: Mutex::new(resolved.to_string()) });
    }

    /// Keep every setting whose replacement in `kv` differs from the value last kept.
    pub(super) fn persist(&self, tenant: &str, kv: &keyvalue::Store, store: &Store) {
        for setting in &self.0 {
            let Some(value) = kv.get(&replacement_key(&setting.name)).and_then(|v| String::from_utf8(v).ok()) else {
                continue;
            };
            let mut last = setting.last.lock().expect("setting lock");
            if *last == value {
                continue;
            }
            let setting_name = setting.name.as_str();
            if !setting.stored {
                tracing::warn!(
                    tenant,
                    setting = setting_name,
                    "the provider replaced this setting (a rotated token), which is not {{ stored = true }}: the new \
                     value is kept in memory only, and a restart uses the configured one"
                );
                *last = value;
                continue;
            }
            match store.put_secret(tenant, setting_name, &value, chrono::Utc::now().timestamp_millis()) {
                Ok(()) => {
                    tracing::info!(tenant, setting = setting_name, "stored the provider's new value, sealed");
                    *last = value;
                }
                Err(e) => {
                    tracing::error!(tenant, setting = setting_name, error = %e, "could not store the provider's new value")
                }
            }
        }
    }
}
