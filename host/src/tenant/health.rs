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
}

impl Tenant {
    /// Check credentials through the provider, and the secret's expiry date as of `today`.
    pub async fn health(&self, today: chrono::NaiveDate) -> TenantHealth {
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
        let checked = {
            let _permit = self.calls.acquire().await.expect("semaphore never closed");
            let started = Instant::now();
            let checked = self.provider.check(&self.ctx).await;
            self.observe("check", started, &checked);
            checked
        };
        self.written_settings.persist(&self.name, &self.ctx.kv);
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
        }
    }
}
