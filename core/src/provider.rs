//! What crosses the provider boundary, in core's terms: the query one provider call answers, what
//! it says about each mailbox, why a whole call failed, and how a provider describes itself.
//!
//! The host's runtime (one module per contract version) and the edge convert the generated WIT
//! bindings to and from these types at the boundary, so nothing past it depends on a contract
//! version or a binding generator.

use std::time::Duration;

use crate::model::{Block, ErrorCode, MailboxError, Window, WorkingHours};

/// One provider call: some mailboxes over some window, within the provider's [`Limits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Addresses, at most the provider's `max_mailboxes`.
    pub mailboxes: Vec<String>,
    /// At most the provider's `max_window_days` long.
    pub window: Window,
    /// Ask for subjects and locations where the upstream allows them.
    pub details: bool,
    /// Ask the upstream for its own merged view at this many minutes per slot.
    pub view_interval: Option<u32>,
}

/// What a provider said about one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxAnswer {
    /// The address the provider answered for.
    pub mailbox: String,
    /// Its schedule, or why it could not be read.
    pub outcome: Result<MailboxSchedule, MailboxError>,
}

/// One mailbox's schedule over one call's window (the WIT `mailbox-schedule`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailboxSchedule {
    /// Items overlapping the window, in any order.
    pub blocks: Vec<Block>,
    /// When the upstream reported them.
    pub working_hours: Option<WorkingHours>,
    /// The upstream's own merged view of the window, when asked and available.
    pub merged_view: Option<String>,
}

impl MailboxSchedule {
    /// A schedule of just these blocks.
    pub fn of_blocks(blocks: Vec<Block>) -> Self {
        MailboxSchedule { blocks, ..Default::default() }
    }

    /// The same with these working hours.
    pub fn with_working_hours(self, working_hours: Option<WorkingHours>) -> Self {
        MailboxSchedule { working_hours, ..self }
    }
}

/// Why a whole provider call failed: what the provider reported (the WIT `provider-error`), or
/// what the host saw happen to it (a refused outbound request, a deadline, a trap).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    /// Throttled; retry after this many milliseconds if the upstream said.
    #[error("the upstream throttled the request{}", .0.map(|ms| format!("; retry after {ms} ms")).unwrap_or_default())]
    Throttled(Option<u32>),
    /// Credentials rejected; never retried automatically (retrying locks accounts).
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    /// A setting is wrong.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// The upstream is down or answered nonsense.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    /// The upstream refuses this kind of call.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The provider tried to reach origins outside its allow-list, and failed.
    #[error("the provider tried to reach {}, which is not among its allowed hosts ({said})", .origins.join(", "))]
    OutboundDenied {
        /// Refused origins.
        origins: Vec<String>,
        /// What the provider reported after the refusal.
        said: String,
    },
    /// The call ran past its deadline and was stopped.
    #[error("the provider did not answer within {0:?} and was stopped")]
    Timeout(Duration),
    /// The component trapped (a bug or a resource limit): reported, never retried.
    #[error("the provider component failed: {0}")]
    Fault(String),
}

impl CallFailure {
    /// The error code each mailbox of the failed call reports.
    pub fn code(&self) -> ErrorCode {
        match self {
            CallFailure::Throttled(_) => ErrorCode::Throttled,
            CallFailure::AuthFailed(_) => ErrorCode::AuthFailed,
            CallFailure::Misconfigured(_) => ErrorCode::Misconfigured,
            CallFailure::Unavailable(_) => ErrorCode::Unavailable,
            CallFailure::Unsupported(_) => ErrorCode::Unsupported,
            CallFailure::OutboundDenied { .. } => ErrorCode::OutboundDenied,
            CallFailure::Timeout(_) => ErrorCode::ProviderTimeout,
            CallFailure::Fault(_) => ErrorCode::ProviderFault,
        }
    }

    /// The error each mailbox of the failed call reports.
    pub fn to_mailbox_error(&self) -> MailboxError {
        MailboxError::new(self.code(), self.to_string())
    }
}

/// How a provider wants queries split: the host never sends more than this in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Mailboxes per call.
    pub max_mailboxes: u32,
    /// Days per call.
    pub max_window_days: u32,
    /// The most mailboxes the upstream itself accepts; an admin may raise `max_mailboxes` to it.
    pub upstream_max_mailboxes: u32,
}

/// A setting a provider needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingSpec {
    /// snake_case name, as in host config and Spin variables.
    pub name: String,
    /// What it is, for an admin.
    pub description: String,
    /// The provider cannot work without it.
    pub required: bool,
    /// Never logged or echoed back.
    pub secret: bool,
    /// Used when the setting is absent.
    pub default_value: Option<String>,
}

/// What a provider is and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Short identifier, for example `graph`.
    pub name: String,
    /// The provider's own version.
    pub version: String,
    /// One line for an admin.
    pub description: String,
    /// How queries are split.
    pub limits: Limits,
    /// Settings it knows.
    pub settings: Vec<SettingSpec>,
    /// Settings whose values are URLs it calls; the host allows exactly their origins.
    pub endpoint_settings: Vec<String>,
}

impl ProviderInfo {
    /// The spec of a setting by name.
    pub fn setting(&self, name: &str) -> Option<&SettingSpec> {
        self.settings.iter().find(|s| s.name == name)
    }

    /// Whether settings with these names are complete and all known to the provider: every
    /// required one present, none it does not describe. The host checks its config with this
    /// and the edge its Spin variables, so both refuse the same mistakes with the same words.
    pub fn check_setting_names<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<(), SettingsError> {
        let names: Vec<&str> = names.into_iter().collect();
        if let Some(unknown) = names.iter().find(|n| self.setting(n).is_none()) {
            return Err(SettingsError::Unknown {
                name: unknown.to_string(),
                provider: self.name.clone(),
                known: self.settings.iter().map(|s| s.name.clone()).collect(),
            });
        }
        if let Some(missing) = self.settings.iter().find(|s| s.required && !names.contains(&s.name.as_str())) {
            return Err(SettingsError::Missing {
                name: missing.name.clone(),
                provider: self.name.clone(),
                description: missing.description.clone(),
            });
        }
        Ok(())
    }
}

/// Settings a provider cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A setting the provider does not describe (a typo, or another provider's setting).
    #[error("setting '{name}' is not one the {provider} provider knows ({})", .known.join(", "))]
    Unknown {
        /// The unknown name.
        name: String,
        /// The provider's name.
        provider: String,
        /// Every name it knows.
        known: Vec<String>,
    },
    /// A required setting is absent.
    #[error("setting '{name}' is required by the {provider} provider: {description}")]
    Missing {
        /// The missing name.
        name: String,
        /// The provider's name.
        provider: String,
        /// What the setting is.
        description: String,
    },
}

/// The result of a credential check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// One line for an admin.
    pub summary: String,
    /// Permissions the credential carries.
    pub granted: Vec<String>,
    /// Permissions it lacks, each with why it is needed.
    pub missing: Vec<String>,
}

/// Where and how a user signs in for a provider that acts for them (delegated access): an OAuth
/// 2.0 public client, by the device authorization grant (RFC 8628) or the authorization code
/// grant with PKCE (RFC 7636) on a loopback redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// Authorization endpoint, for a sign-in in a browser.
    pub authorization_url: String,
    /// Device authorization endpoint.
    pub device_authorization_url: String,
    /// Token endpoint.
    pub token_url: String,
    /// The public client's id.
    pub client_id: String,
    /// Scopes to ask for, including the one that yields a refresh token.
    pub scopes: Vec<String>,
    /// The setting the refresh token goes to.
    pub refresh_token_setting: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ProviderInfo {
        let spec = |name: &str, required| SettingSpec {
            name: name.into(),
            description: format!("the {name}"),
            required,
            secret: false,
            default_value: None,
        };
        ProviderInfo {
            name: "graph".into(),
            version: "1".into(),
            description: String::new(),
            limits: Limits { max_mailboxes: 20, max_window_days: 62, upstream_max_mailboxes: 100 },
            settings: vec![spec("tenant_id", true), spec("anchor_mailbox", false)],
            endpoint_settings: Vec::new(),
        }
    }

    #[test]
    fn settings_are_refused_when_unknown_or_when_a_required_one_is_missing() {
        assert_eq!(info().check_setting_names(["tenant_id"]), Ok(()));
        let unknown = info().check_setting_names(["tenant_id", "tenant"]).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "setting 'tenant' is not one the graph provider knows (tenant_id, anchor_mailbox)"
        );
        let missing = info().check_setting_names(["anchor_mailbox"]).unwrap_err();
        assert_eq!(missing.to_string(), "setting 'tenant_id' is required by the graph provider: the tenant_id");
    }

    #[test]
    fn call_failures_keep_their_codes_and_words() {
        assert_eq!(
            CallFailure::Throttled(Some(250)).to_string(),
            "the upstream throttled the request; retry after 250 ms"
        );
        assert_eq!(CallFailure::Throttled(None).to_string(), "the upstream throttled the request");
        assert_eq!(CallFailure::Timeout(Duration::from_secs(2)).code(), ErrorCode::ProviderTimeout);
        assert_eq!(CallFailure::Fault("trap".into()).to_mailbox_error().code, ErrorCode::ProviderFault);
    }
}
