//! Typed access to the settings passed with each call.

use crate::types::{ProviderError, SettingSpec};

/// The settings of one call.
pub struct Settings<'a>(&'a [(String, String)]);

impl<'a> Settings<'a> {
    /// Wrap the pairs the host passed.
    pub fn new(pairs: &'a [(String, String)]) -> Self {
        Settings(pairs)
    }

    /// A setting's value, if present and not blank.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// A required setting, or a `misconfigured` error naming it.
    pub fn required(&self, name: &str) -> Result<&'a str, ProviderError> {
        self.get(name).ok_or_else(|| ProviderError::Misconfigured(format!("setting '{name}' is required")))
    }

    /// A URL setting (no trailing slash), with a default.
    pub fn url(&self, name: &str, default: &str) -> Result<String, ProviderError> {
        let url = self.get(name).unwrap_or(default).trim_end_matches('/').to_string();
        if url.starts_with("https://") || url.starts_with("http://") {
            Ok(url)
        } else {
            Err(ProviderError::Misconfigured(format!("setting '{name}' must be an http(s) URL")))
        }
    }
}

/// A setting's description for `describe` (`secret` ones are never logged or echoed by hosts).
pub fn spec(name: &str, description: &str, required: bool, secret: bool, default: Option<&str>) -> SettingSpec {
    SettingSpec {
        name: name.into(),
        description: description.into(),
        required,
        secret,
        default_value: default.map(String::from),
    }
}
