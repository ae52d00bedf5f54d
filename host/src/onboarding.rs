//! Customer tenants onboarded by admin consent, for a SaaS vendor with one multi-tenant app
//! (`[onboarding]`): an invitation (`freebusy invite`, or an admin key) leads the customer's admin
//! to the identity platform's admin-consent endpoint
//! (https://learn.microsoft.com/entra/identity-platform/v2-admin-consent); the callback checks
//! `state` (kept server-side, single use, expiring), reads `tenant` and `admin_consent` or
//! `error`/`error_description`, and never trusts `tenant` alone: the new tenant is kept in the
//! store and served at once, and its provider's credential check (a client-credentials token for
//! that tenant, its `tid` and `roles`) says whether the consent works.
//!
//! Right after a consent Microsoft can take minutes (Entra) to two hours (Exchange's RBAC for
//! Applications) to apply it, so a check that fails then is retried with back-off for a bounded
//! time ("propagating") before the tenant's state is called an error. The states, each with text
//! for an admin: working, propagating, not consented, consented without application
//! permissions, revoked, declined.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use base64::Engine as _;
use ring::digest::{digest, SHA256};
use serde::Deserialize;

use crate::config::{SettingValue, TenantSection};
use crate::service::Service;
use crate::store::{OnboardingRecord, Store, StoredTenant};
use crate::tenant::health::{CheckMode, TenantHealth};

/// `[onboarding]`: the vendor's multi-tenant app and where customers come back to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnboardingSettings {
    /// The `[providers.<name>]` onboarded tenants use (the Graph provider).
    pub provider: String,
    /// The public URL of `/onboarding/callback`, registered as a redirect URI on the app.
    pub redirect_url: String,
    /// The identity platform (national clouds have their own).
    #[serde(default = "default_authority")]
    pub authority: String,
    /// What consent is asked for: the resource's `.default` scope (its application permissions).
    #[serde(default = "default_scope")]
    pub scope: String,
    /// The provider setting that names the customer's tenant.
    #[serde(default = "default_tenant_setting")]
    pub tenant_setting: String,
    /// Settings every onboarded tenant gets: `client_id` (literal), the secret or certificate by
    /// reference (`{ env = ... }`, `{ file = ... }`), endpoints. Never a plain secret.
    pub settings: BTreeMap<String, SettingValue>,
    /// How long an invitation works.
    #[serde(default = "default_invitation_hours")]
    pub invitation_ttl_hours: u64,
    /// How long after a consent a failing check counts as "propagating" and is retried.
    #[serde(default = "default_propagation")]
    pub propagation_secs: u64,
    /// The first retry's wait while propagating (it doubles, up to five minutes).
    #[serde(default = "default_first_retry")]
    pub first_retry_secs: u64,
}

fn default_authority() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_scope() -> String {
    "https://graph.microsoft.com/.default".into()
}
fn default_tenant_setting() -> String {
    "tenant_id".into()
}
fn default_invitation_hours() -> u64 {
    7 * 24
}
fn default_propagation() -> u64 {
    2 * 3600
}
fn default_first_retry() -> u64 {
    10
}

/// How long an admin has between opening the link and coming back.
const STATE_TTL_MS: i64 = 3600 * 1000;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn token() -> anyhow::Result<String> {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the random number generator failed"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Tokens are kept by digest: the store alone opens nothing.
fn digest_of(token: &str) -> Vec<u8> {
    digest(&SHA256, token.as_bytes()).as_ref().to_vec()
}

/// A name usable as a tenant name (in URLs).
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if !ok {
        bail!("'{name}' cannot name a tenant: use 1 to 40 lower-case letters, digits and dashes");
    }
    Ok(())
}

impl OnboardingSettings {
    /// The app's client id (a literal setting).
    fn client_id(&self) -> anyhow::Result<&str> {
        match self.settings.get("client_id") {
            Some(SettingValue::Literal(id)) => Ok(id),
            _ => bail!("[onboarding.settings] needs client_id = \"<the multi-tenant app's id>\""),
        }
    }

    /// Where invitations lead: `/onboarding/start` beside the callback.
    pub fn start_url(&self, invitation: &str) -> anyhow::Result<String> {
        let base = self.redirect_url.strip_suffix("/onboarding/callback").with_context(|| {
            format!("[onboarding] redirect_url must end with /onboarding/callback, not '{}'", self.redirect_url)
        })?;
        Ok(format!("{base}/onboarding/start?invitation={invitation}"))
    }

    /// The admin-consent URL for a new consent state.
    fn consent_url(&self, state: &str) -> anyhow::Result<String> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", self.client_id()?)
            .append_pair("scope", &self.scope)
            .append_pair("redirect_uri", &self.redirect_url)
            .append_pair("state", state)
            .finish();
        Ok(format!("{}/organizations/v2.0/adminconsent?{query}", self.authority.trim_end_matches('/')))
    }

    /// The table an onboarded tenant gets.
    fn section(&self, tenant_id: &str) -> TenantSection {
        let mut settings = self.settings.clone();
        settings.insert(self.tenant_setting.clone(), SettingValue::Literal(tenant_id.to_string()));
        TenantSection::new(&self.provider, settings)
    }
}

/// `freebusy invite --name acme`: a single-use invitation link.
pub fn invite(settings: &OnboardingSettings, store: &Store, name: &str, taken: &[String]) -> anyhow::Result<String> {
    check_name(name)?;
    if taken.iter().any(|t| t == name) {
        bail!("a tenant named '{name}' exists already");
    }
    let invitation = token()?;
    let now = now_ms();
    let expires = now + i64::try_from(settings.invitation_ttl_hours * 3_600_000).unwrap_or(i64::MAX);
    store.put_invitation(&digest_of(&invitation), name, now, expires)?;
    settings.start_url(&invitation)
}

/// Where the customer's admin goes to consent, for invitation `name`: a fresh single-use state.
pub fn consent_url_for(settings: &OnboardingSettings, store: &Store, name: &str) -> anyhow::Result<String> {
    let state = token()?;
    let now = now_ms();
    store.put_consent_state(&digest_of(&state), name, now, now + STATE_TTL_MS)?;
    settings.consent_url(&state)
}

/// `/onboarding/start?invitation=...`: the consent URL, if the invitation is good.
pub fn start(settings: &OnboardingSettings, store: &Store, invitation: &str) -> anyhow::Result<Option<String>> {
    match store.invitation(&digest_of(invitation), now_ms())? {
        None => Ok(None),
        Some(name) => consent_url_for(settings, store, &name).map(Some),
    }
}

/// What the identity platform sent back to the callback.
#[derive(Debug, Deserialize)]
pub struct Callback {
    /// The state we sent.
    pub state: Option<String>,
    /// `True` when the admin consented.
    pub admin_consent: Option<String>,
    /// The consenting tenant's id.
    pub tenant: Option<String>,
    /// Why not, when not.
    pub error: Option<String>,
    /// The identity platform's words.
    pub error_description: Option<String>,
}

/// What the callback page tells the customer's admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// HTTP status.
    pub status: u16,
    /// One sentence.
    pub message: String,
}

fn outcome(status: u16, message: impl Into<String>) -> Outcome {
    Outcome { status, message: message.into() }
}

/// Handle `/onboarding/callback`.
pub async fn callback(service: &Arc<Service>, settings: &OnboardingSettings, cb: Callback) -> anyhow::Result<Outcome> {
    let store = service.store();
    let Some(name) =
        cb.state.as_deref().map(|s| store.take_consent_state(&digest_of(s), now_ms())).transpose()?.flatten()
    else {
        return Ok(outcome(400, "This consent link was already used or has expired; ask for a new invitation."));
    };
    let now = now_ms();
    if let Some(error) = cb.error {
        let description = cb.error_description.unwrap_or_default();
        let first_line = description.lines().next().unwrap_or_default().to_string();
        store.put_onboarding(&OnboardingRecord {
            tenant: name.clone(),
            state: "declined".into(),
            detail: format!("{error}: {first_line}"),
            consented: None,
            updated: now,
        })?;
        return Ok(outcome(400, format!("Consent was not given ({error}: {first_line}). The invitation still works.")));
    }
    let tenant_id = cb.tenant.unwrap_or_default();
    let guid = tenant_id.len() == 36 && tenant_id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if cb.admin_consent.as_deref() != Some("True") || !guid {
        return Ok(outcome(400, "The identity platform's answer named no consenting tenant; nothing was changed."));
    }
    if service.snapshot().tenant(Some(&name)).is_ok() && !store.tenants()?.iter().any(|t| t.name == name) {
        return Ok(outcome(409, format!("A tenant named '{name}' is configured already.")));
    }
    store.put_tenant(
        &StoredTenant { name: name.clone(), section: settings.section(&tenant_id), source: "onboarding".into() },
        now,
    )?;
    store.use_invitation(&name, now)?;
    store.put_onboarding(&OnboardingRecord {
        tenant: name.clone(),
        state: "propagating".into(),
        detail: "consent received; checking that it works".into(),
        consented: Some(now),
        updated: now,
    })?;
    service.reload_store().await?;
    let record = verify(service, &name).await?;
    if record.state == "propagating" {
        tokio::spawn(keep_verifying(service.clone(), settings.clone(), name.clone()));
        return Ok(outcome(
            202,
            "Consent received. Microsoft is still applying it (this can take minutes, for Exchange up to two hours); \
             freebusy keeps checking and starts reading free/busy as soon as it works.",
        ));
    }
    let ok = record.state == "working";
    Ok(outcome(
        if ok { 200 } else { 400 },
        format!("{}: {}", if ok { "Connected" } else { "Not connected" }, record.detail),
    ))
}

/// Check a freshly onboarded (or any onboarded) tenant once and record its consent state.
pub async fn verify(service: &Service, name: &str) -> anyhow::Result<OnboardingRecord> {
    let tenant = service.tenant(Some(name))?;
    let health = tenant.health(chrono::Utc::now().date_naive(), CheckMode::Explicit).await;
    consent_of(service, &health)?.context("the tenant has no onboarding record")
}

/// For a tenant onboarded by admin consent, its consent state in the light of `health`
/// (recorded, so that a later check can tell "revoked" from "never consented"); `None` for other
/// tenants.
pub fn consent_of(service: &Service, health: &TenantHealth) -> anyhow::Result<Option<OnboardingRecord>> {
    let store = service.store();
    let Some(previous) = store.onboardings()?.into_iter().find(|r| r.tenant == health.tenant) else {
        return Ok(None);
    };
    let propagation =
        service.snapshot().config.config.onboarding.as_ref().map_or(default_propagation(), |o| o.propagation_secs);
    let record = classify(&health.tenant, Some(&previous), health, now_ms(), propagation);
    if record.state != previous.state || record.detail != previous.detail {
        store.put_onboarding(&record)?;
    }
    Ok(Some(record))
}

/// Retry [`verify`] with back-off while the consent is propagating.
async fn keep_verifying(service: Arc<Service>, settings: OnboardingSettings, name: String) {
    let mut wait = Duration::from_secs(settings.first_retry_secs.max(1));
    loop {
        tokio::time::sleep(wait).await;
        match verify(&service, &name).await {
            Ok(r) if r.state == "propagating" => {}
            Ok(r) => {
                tracing::info!(tenant = name.as_str(), state = r.state.as_str(), "onboarding settled");
                return;
            }
            Err(e) => {
                tracing::warn!(tenant = name.as_str(), error = %format!("{e:#}"), "onboarding check failed");
                return;
            }
        }
        wait = (wait * 2).min(Duration::from_secs(300));
    }
}

/// The consent state a health check shows, given what was recorded before.
pub fn classify(
    tenant: &str,
    previous: Option<&OnboardingRecord>,
    health: &TenantHealth,
    now: i64,
    propagation_secs: u64,
) -> OnboardingRecord {
    let consented = previous.and_then(|p| p.consented);
    let fresh = consented.is_some_and(|at| now - at < i64::try_from(propagation_secs * 1000).unwrap_or(i64::MAX));
    let was_working = previous.is_some_and(|p| p.state == "working");
    let (state, detail) = if health.ok {
        ("working", format!("the consent works: {}", health.summary))
    } else if fresh && !was_working {
        ("propagating", format!("consent given; Microsoft is still applying it ({})", health.summary))
    } else if !health.missing.is_empty() {
        (
            "no-application-permissions",
            format!(
                "the admin consented, but without the application permissions ({}): consent again and grant them",
                health.missing.join("; ")
            ),
        )
    } else if was_working {
        (
            "revoked",
            format!(
                "the consent was removed or no longer works ({}): the customer's admin must consent again",
                health.summary
            ),
        )
    } else {
        ("not-consented", format!("the customer's admin has not consented ({}): send a new invitation", health.summary))
    };
    OnboardingRecord { tenant: tenant.to_string(), state: state.into(), detail, consented, updated: now }
}
