//! A tenant's credential health, for `freebusy check` and `/readyz`: the provider's own check
//! (token acquired? permissions granted?) and the configured secret expiry, which silently stops
//! everything when it passes.

use std::time::Instant;

use super::Tenant;

/// Days before a secret's expiry from which it is reported.
pub const SECRET_WARNING_DAYS: i64 = 30;

/// A tenant's credential health.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantHealth {
    /// Tenant name.
    pub tenant: String,
    /// Credentials work and nothing needed is missing.
    pub ok: bool,
    /// One line for an admin.
    pub summary: String,
    /// Permissions the credential carries.
    pub granted: Vec<String>,
    /// Permissions it lacks.
    pub missing: Vec<String>,
    /// The configured secret expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_expires: Option<chrono::NaiveDate>,
    /// Things to act on soon (an expiring secret).
    pub warnings: Vec<String>,
    /// The credential circuit.
    pub circuit: super::circuit::CircuitState,
    /// For a tenant onboarded by admin consent: where its consent stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<crate::store::OnboardingRecord>,
}

/// Whether a health check may sign in while the tenant's circuit is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMode {
    /// Only through the circuit (the service's own health routes): no sign-in while it is open.
    ThroughCircuit,
    /// An admin asked explicitly (`freebusy check`): sign in once, and a success closes the
    /// circuit (in every process sharing the store).
    Explicit,
}

impl Tenant {
    /// Check credentials through the provider, and the secret's expiry date as of `today`.
    pub async fn health(&self, today: chrono::NaiveDate, mode: CheckMode) -> TenantHealth {
        let mut warnings = Vec::new();
        let mut expired = false;
        if let Some(expires) = self.secret_expires {
            let days = (expires - today).num_days();
            if days < 0 {
                expired = true;
                warnings
                    .push(format!("the client secret expired on {expires}: create a new one and update the config"));
            } else if days <= SECRET_WARNING_DAYS {
                warnings.push(format!(
                    "the client secret expires on {expires}, in {days} days: create a new one before then"
                ));
            }
        }
        let checked = match mode {
            CheckMode::ThroughCircuit => self.guarded("check", |provider, ctx| provider.check(ctx)).await,
            CheckMode::Explicit if self.unusable.is_some() => {
                Err(freebusy_core::provider::CallFailure::Misconfigured(self.unusable.clone().unwrap_or_default()))
            }
            CheckMode::Explicit => {
                let _permit = self.calls.acquire().await.expect("semaphore never closed");
                let started = Instant::now();
                let checked = self.provider.check(&self.ctx).await;
                self.observe("check", started, &checked);
                let now = chrono::Utc::now().timestamp_millis();
                self.circuit.record(&checked, now);
                if checked.as_ref().is_ok_and(|h| h.missing.is_empty()) {
                    self.circuit.close(now);
                    if let Err(e) = self.store.record_check_ok(&self.name, &self.definition, now) {
                        tracing::warn!(tenant = self.name.as_str(), error = %e, "could not record the check");
                    }
                }
                checked
            }
        };
        self.written_settings.persist(&self.name, &self.ctx.kv, &self.store);
        let (ok, summary, granted, missing) = match checked {
            Ok(h) => (h.missing.is_empty(), h.summary, h.granted, h.missing),
            Err(e) => (false, e.to_string(), Vec::new(), Vec::new()),
        };
        TenantHealth {
            tenant: self.name.clone(),
            ok: ok && !expired,
            summary,
            granted,
            missing,
            secret_expires: self.secret_expires,
            warnings,
            circuit: self.circuit.state(),
            consent: None,
        }
    }
}
