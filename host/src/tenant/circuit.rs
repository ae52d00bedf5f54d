//! The credential circuit: after the upstream refuses a tenant's credentials (a wrong or expired
//! secret, a changed password, a revoked refresh token, consent removed), the circuit opens and
//! no sign-in and no upstream call is made for that tenant until its configuration changes,
//! `freebusy check` succeeds for it, or the probe interval passes; then one call at a time
//! probes. So a wrong password costs at most one failed sign-in per interval, never one per poll
//! of every console, and an account is not locked out in Active Directory.
//!
//! Until a tenant's credentials have worked once, its calls also go one at a time, so that a
//! burst of first requests with a wrong password makes one failed sign-in, not one per request.
//! Throttling and outages are not credential failures and leave the circuit as it is.
//!
//! Opening and closing is recorded in the store (with a fingerprint of the configuration), so a
//! restart keeps a circuit open for an unchanged configuration.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use freebusy_core::provider::CallFailure;

use crate::store::{HealthRecord, Store};

/// How often an open circuit lets one call try the credentials again.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// What the circuit says about a call about to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Call,
    /// Go ahead as the one probe of an open circuit.
    Probe,
    /// Do not call: the credentials were refused; this is the failure to report.
    Refuse(CallFailure),
}

/// The state the circuit is in, for `/readyz`, health and metrics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls are refused until `next_probe` (ms since the epoch).
    Open {
        /// When it opened.
        since: i64,
        /// When a sign-in was last tried.
        last_tried: i64,
        /// When the next probe may go.
        next_probe: i64,
        /// The refusal, for an admin.
        message: String,
    },
}

#[derive(Debug)]
enum State {
    Closed,
    Open { since: i64, last_tried: i64, message: String, probing: bool },
}

/// One tenant's circuit.
pub struct Circuit {
    tenant: String,
    fingerprint: String,
    probe_interval: Duration,
    state: Mutex<State>,
    store: Option<Arc<Store>>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn when(t: i64) -> String {
    freebusy_core::api::format_instant(t)
}

impl Circuit {
    /// A circuit for `tenant` whose configuration has `fingerprint`; open if the store says it
    /// was open for the same configuration.
    pub fn new(tenant: &str, fingerprint: &str, probe_interval: Duration, store: Option<Arc<Store>>) -> Circuit {
        let recorded = store
            .as_ref()
            .and_then(|s| s.health().ok())
            .and_then(|all| all.into_iter().find(|h| h.tenant == tenant && h.fingerprint == fingerprint));
        let state = match recorded {
            Some(h) if h.state == "open" && h.checked_ok.is_none_or(|ok| ok <= h.since) => {
                State::Open { since: h.since, last_tried: h.last_tried, message: h.message, probing: false }
            }
            _ => State::Closed,
        };
        Circuit {
            tenant: tenant.to_string(),
            fingerprint: fingerprint.to_string(),
            probe_interval,
            state: Mutex::new(state),
            store,
        }
    }

    /// Whether a call may go now.
    pub fn admit(&self, now: i64) -> Admission {
        let mut state = self.state.lock().expect("circuit lock");
        match &mut *state {
            State::Closed => Admission::Call,
            State::Open { since, last_tried, message, probing } => {
                let next = *last_tried + ms(self.probe_interval);
                if !*probing && now >= next {
                    *probing = true;
                    return Admission::Probe;
                }
                Admission::Refuse(CallFailure::AuthFailed(format!(
                    "not tried: sign-ins for this tenant are stopped since {} because the credentials were refused \
                     ({message}); last tried {}, next try after {} (fix the credentials, then run freebusy check or \
                     reload the configuration to try at once)",
                    when(*since),
                    when(*last_tried),
                    when(next.max(now)),
                )))
            }
        }
    }

    /// What a call admitted at `now` ended with.
    pub fn record<T>(&self, outcome: &Result<T, CallFailure>, now: i64) {
        let mut state = self.state.lock().expect("circuit lock");
        let changed = match (&mut *state, outcome) {
            (State::Closed, Err(CallFailure::AuthFailed(message))) => {
                *state = State::Open { since: now, last_tried: now, message: message.clone(), probing: false };
                true
            }
            (State::Open { last_tried, message, probing, .. }, Err(CallFailure::AuthFailed(m))) => {
                (*last_tried, *message, *probing) = (now, m.clone(), false);
                true
            }
            (State::Open { .. }, Ok(_)) => {
                *state = State::Closed;
                true
            }
            // Throttling and outages say nothing about the credentials: a probe that met one is
            // inconclusive, and the next may go at the next interval.
            (State::Open { last_tried, probing, .. }, Err(_)) if *probing => {
                (*last_tried, *probing) = (now, false);
                false
            }
            _ => false,
        };
        if changed {
            self.persist(&state, now);
        }
    }

    /// Close at once: the configuration is known good (`freebusy check` succeeded).
    pub fn close(&self, now: i64) {
        let mut state = self.state.lock().expect("circuit lock");
        if matches!(*state, State::Open { .. }) {
            *state = State::Closed;
            self.persist(&state, now);
        }
    }

    /// The state, as of `now`.
    pub fn state(&self) -> CircuitState {
        match &*self.state.lock().expect("circuit lock") {
            State::Closed => CircuitState::Closed,
            State::Open { since, last_tried, message, .. } => CircuitState::Open {
                since: *since,
                last_tried: *last_tried,
                next_probe: *last_tried + ms(self.probe_interval),
                message: message.clone(),
            },
        }
    }

    /// Open as another instance found it open (through the shared store), unless it is open
    /// here already. The same configuration's credentials were refused there: calling them here
    /// would be one more failed sign-in for the same account.
    pub fn adopt(&self, since: i64, last_tried: i64, message: &str) {
        let mut state = self.state.lock().expect("circuit lock");
        if matches!(*state, State::Closed) {
            tracing::warn!(
                tenant = self.tenant.as_str(),
                "another instance found the credentials refused: sign-ins stop here too"
            );
            *state = State::Open { since, last_tried, message: message.to_string(), probing: false };
            self.persist(&state, last_tried);
        }
    }

    /// The configuration's fingerprint (instances sharing a circuit compare it).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// How often an open circuit probes.
    pub fn probe_interval(&self) -> Duration {
        self.probe_interval
    }

    /// Whether it is open.
    pub fn is_open(&self) -> bool {
        matches!(*self.state.lock().expect("circuit lock"), State::Open { .. })
    }

    /// Close if the store says `freebusy check` succeeded after the circuit opened.
    pub fn close_if_checked(&self, records: &[HealthRecord], now: i64) {
        let since = match &*self.state.lock().expect("circuit lock") {
            State::Open { since, .. } => *since,
            State::Closed => return,
        };
        let checked = records.iter().find(|h| h.tenant == self.tenant).and_then(|h| h.checked_ok);
        if checked.is_some_and(|ok| ok > since) {
            tracing::info!(tenant = self.tenant.as_str(), "freebusy check succeeded: sign-ins resume");
            self.close(now);
        }
    }

    fn persist(&self, state: &State, now: i64) {
        let Some(store) = &self.store else { return };
        let record = match state {
            State::Closed => HealthRecord {
                tenant: self.tenant.clone(),
                state: "closed".into(),
                fingerprint: self.fingerprint.clone(),
                message: "the credentials work".into(),
                since: now,
                last_tried: now,
                checked_ok: None,
            },
            State::Open { since, last_tried, message, .. } => HealthRecord {
                tenant: self.tenant.clone(),
                state: "open".into(),
                fingerprint: self.fingerprint.clone(),
                message: message.clone(),
                since: *since,
                last_tried: *last_tried,
                checked_ok: None,
            },
        };
        if let Err(e) = store.put_health(&record) {
            tracing::warn!(tenant = self.tenant.as_str(), error = %e, "could not record the credential circuit");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn refused() -> Result<(), CallFailure> {
        Err(CallFailure::AuthFailed("AADSTS7000215: Invalid client secret provided".into()))
    }

    #[test]
    fn a_refused_credential_opens_the_circuit_until_the_probe_interval() {
        let circuit = Circuit::new("contoso", "f", Duration::from_secs(15 * 60), None);
        assert_eq!(circuit.admit(0), Admission::Call);
        circuit.record(&refused(), 0);
        let Admission::Refuse(failure) = circuit.admit(MINUTE) else { panic!("refused while open") };
        assert!(
            failure.to_string().contains("AADSTS7000215") && failure.to_string().contains("last tried"),
            "{failure}"
        );
        // One probe after the interval, and only one at a time.
        assert_eq!(circuit.admit(15 * MINUTE), Admission::Probe);
        assert!(matches!(circuit.admit(15 * MINUTE), Admission::Refuse(_)));
        circuit.record(&refused(), 15 * MINUTE);
        assert!(matches!(circuit.admit(16 * MINUTE), Admission::Refuse(_)), "the failed probe restarts the wait");
        assert_eq!(circuit.admit(30 * MINUTE), Admission::Probe);
        circuit.record(&Ok::<(), CallFailure>(()), 30 * MINUTE);
        assert_eq!(circuit.admit(30 * MINUTE), Admission::Call);
    }

    #[test]
    fn throttling_is_not_a_credential_failure() {
        let circuit = Circuit::new("contoso", "f", DEFAULT_PROBE_INTERVAL, None);
        circuit.record(&Err::<(), _>(CallFailure::Throttled(Some(1000))), 0);
        circuit.record(&Err::<(), _>(CallFailure::Unavailable("503".into())), 0);
        assert_eq!(circuit.admit(1), Admission::Call);
    }

    #[test]
    fn an_open_circuit_survives_a_restart_for_the_same_configuration_only() {
        let dir = std::env::temp_dir().join(format!("freebusy-circuit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(Store::open(&dir.join("db"), None).unwrap());
        let circuit = Circuit::new("contoso", "config-1", DEFAULT_PROBE_INTERVAL, Some(store.clone()));
        circuit.record(&refused(), 0);
        let restarted = Circuit::new("contoso", "config-1", DEFAULT_PROBE_INTERVAL, Some(store.clone()));
        assert!(restarted.is_open());
        let changed = Circuit::new("contoso", "config-2", DEFAULT_PROBE_INTERVAL, Some(store.clone()));
        assert!(!changed.is_open(), "another configuration starts closed");
        // freebusy check succeeded in another process: the running circuit closes.
        store.record_check_ok("contoso", "config-1", 5).unwrap();
        restarted.close_if_checked(&store.health().unwrap(), 6);
        assert!(!restarted.is_open());
        let _ = std::fs::remove_dir_all(dir);
    }
}
