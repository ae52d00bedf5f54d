//! Settings kept in files that a provider may replace: an identity platform rotates refresh
//! tokens on use, and the provider stores the new one under `setting:<name>` in its key-value
//! store (the convention `wit/provider@0.3.0` documents). After each call the host writes such a
//! value back to the setting's file, readable by its owner only, so that a restart signs in with
//! the token that still works.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::files::write_private_file;
use crate::runtime::keyvalue;

/// The key-value key under which a provider leaves a replacement for setting `name`.
pub fn replacement_key(name: &str) -> String {
    format!("setting:{name}")
}

/// One setting read from a file, with the value last written there.
struct FileSetting {
    name: String,
    path: PathBuf,
    written: Mutex<String>,
}

/// A tenant's file-backed settings.
#[derive(Default)]
pub(super) struct WrittenSettings(Vec<FileSetting>);

impl WrittenSettings {
    /// Remember that setting `name` came from `path` with `value`.
    pub(super) fn add(&mut self, name: &str, path: PathBuf, value: &str) {
        self.0.push(FileSetting { name: name.to_string(), path, written: Mutex::new(value.to_string()) });
    }

    /// Write back every setting whose replacement in `kv` differs from what its file holds.
    pub(super) fn persist(&self, tenant: &str, kv: &keyvalue::Store) {
        for setting in &self.0 {
            let Some(value) = kv.get(&replacement_key(&setting.name)).and_then(|v| String::from_utf8(v).ok()) else {
                continue;
            };
            let mut written = setting.written.lock().expect("setting lock");
            if *written == value {
                continue;
            }
            match write_private_file(&setting.path, &value) {
                Ok(()) => {
                    tracing::info!(tenant, setting = setting.name.as_str(), "stored the provider's new value");
                    *written = value;
                }
                Err(e) => {
                    tracing::error!(tenant, setting = setting.name.as_str(), error = %e, "could not store the provider's new value")
                }
            }
        }
    }
}
