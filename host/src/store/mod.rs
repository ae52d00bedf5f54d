//! The tenant store: one SQLite file (`[store] path`), the embedded default, holding what changes
//! while the service runs: tenants added at run time (onboarding, `freebusy tenants add`), API
//! keys (digests only), invitations and consent states (digests of single-use tokens), credential
//! health (the circuit of each tenant), and the secrets the service received itself, sealed
//! ([`seal`]). No calendar data is ever written here.
//!
//! Several processes may open the same file (`freebusy serve` and the CLI): SQLite's locking
//! keeps writes whole, and [`Store::data_version`] tells a running server that another process
//! changed something, so it reloads without a restart.

pub mod seal;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};

use crate::auth::keys::{ApiKey, Scope};
use crate::config::TenantSection;
use seal::{SealError, SealKey};

/// The schema, one step per release that changed it; applied in order on open.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            tenant TEXT,
            scopes TEXT NOT NULL,
            digest BLOB NOT NULL,
            created INTEGER NOT NULL,
            last_used INTEGER,
            expires INTEGER,
            revoked INTEGER
        );
        CREATE TABLE tenants (
            name TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            section TEXT NOT NULL,
            source TEXT NOT NULL,
            created INTEGER NOT NULL,
            updated INTEGER NOT NULL
        );
        CREATE TABLE secrets (
            tenant TEXT NOT NULL,
            setting TEXT NOT NULL,
            sealed BLOB NOT NULL,
            updated INTEGER NOT NULL,
            PRIMARY KEY (tenant, setting)
        );
        CREATE TABLE invitations (
            digest BLOB PRIMARY KEY,
            name TEXT NOT NULL,
            created INTEGER NOT NULL,
            expires INTEGER NOT NULL,
            used INTEGER
        );
        CREATE TABLE consent_states (
            digest BLOB PRIMARY KEY,
            invitation TEXT NOT NULL,
            created INTEGER NOT NULL,
            expires INTEGER NOT NULL,
            used INTEGER
        );
        CREATE TABLE credential_health (
            tenant TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            message TEXT NOT NULL,
            since INTEGER NOT NULL,
            last_tried INTEGER NOT NULL,
            checked_ok INTEGER
        );
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value BLOB NOT NULL
        );",
        ),
        M::up(
            "CREATE TABLE onboardings (
            tenant TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            detail TEXT NOT NULL,
            consented INTEGER,
            updated INTEGER NOT NULL
        );",
        ),
    ])
}

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (the file is not writable, not a database, locked too long).
    #[error("the store {path}: {source}")]
    Sqlite {
        /// The file.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// Its schema could not be brought up to date.
    #[error("the store {path}: migrating its schema: {source}")]
    Migration {
        /// The file.
        path: String,
        /// What failed.
        source: rusqlite_migration::Error,
    },
    /// A sealed secret, or the lack of a key to seal one.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// A secret must be sealed and no key is configured.
    #[error("storing a secret needs the store's secret key: set [store] secret_key = {{ env = \"...\" }} or {{ file = \"...\" }} (freebusy store new-key makes one)")]
    NoSealKey,
    /// A row that does not parse (written by a newer version?).
    #[error("the store {path} holds an unreadable {what}: {why}")]
    Unreadable {
        /// The file.
        path: String,
        /// Which kind of row.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// A tenant kept in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTenant {
    /// Its name (in URLs).
    pub name: String,
    /// What a `[tenants.<name>]` table would say. Its settings are literal values, references
    /// (env, file) or `{ stored = true }` for a secret sealed in the store; never a plain secret.
    pub section: TenantSection,
    /// How it got here: `onboarding` or `cli`.
    pub source: String,
}

/// One tenant's credential health, as the circuit keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRecord {
    /// The tenant.
    pub tenant: String,
    /// `open` (sign-ins stopped) or `closed`; onboarding states (`propagating`, ...) too.
    pub state: String,
    /// What the settings looked like when it was recorded; another configuration starts afresh.
    pub fingerprint: String,
    /// What failed and what to fix, for an admin.
    pub message: String,
    /// Since when this state holds (ms).
    pub since: i64,
    /// When a sign-in was last tried (ms).
    pub last_tried: i64,
    /// When `freebusy check` last succeeded for the tenant (ms).
    pub checked_ok: Option<i64>,
}

/// Where a tenant's onboarding by admin consent stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingRecord {
    /// The tenant (the invitation's name).
    pub tenant: String,
    /// `working`, `propagating`, `not-consented`, `no-application-permissions`, `revoked`,
    /// `declined`.
    pub state: String,
    /// What it means and what to do, for an admin.
    pub detail: String,
    /// When the admin consented (ms), if they did.
    pub consented: Option<i64>,
    /// When this was recorded (ms).
    pub updated: i64,
}

/// The store.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
    seal_key: Option<SealKey>,
}

impl Store {
    /// Open (creating when missing) the store at `path` and bring its schema up to date.
    pub fn open(path: &Path, seal_key: Option<SealKey>) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let sqlite = |source| StoreError::Sqlite { path: shown.clone(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut conn = Connection::open(path).map_err(sqlite)?;
        // Several processes share the file: wait for a writer instead of failing at once.
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sqlite)?;
        migrations().to_latest(&mut conn).map_err(|source| StoreError::Migration { path: shown.clone(), source })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(Store { path: path.to_path_buf(), conn: Mutex::new(conn), seal_key })
    }

    /// Whether secrets can be sealed (a secret key is configured).
    pub fn can_seal(&self) -> bool {
        self.seal_key.is_some()
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let conn = self.conn.lock().expect("store lock");
        f(&conn).map_err(|source| StoreError::Sqlite { path: self.path.display().to_string(), source })
    }

    fn unreadable(&self, what: &'static str, why: impl ToString) -> StoreError {
        StoreError::Unreadable { path: self.path.display().to_string(), what, why: why.to_string() }
    }

    /// A number that changes whenever another connection (another process) committed a change.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.with(|c| c.query_row("PRAGMA data_version", [], |r| r.get(0)))
    }

    /// This store's random salt (made on first use), for fingerprints of configurations that
    /// must compare across restarts without revealing the secrets in them.
    pub fn salt(&self) -> Result<Vec<u8>, StoreError> {
        use ring::rand::SecureRandom as _;
        let mut fresh = [0u8; 16];
        ring::rand::SystemRandom::new().fill(&mut fresh).map_err(|_| SealError::Random)?;
        self.with(|c| {
            c.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('salt', ?1)", params![fresh.as_slice()])?;
            c.query_row("SELECT value FROM meta WHERE key = 'salt'", [], |r| r.get(0))
        })
    }

    // ---- API keys ----

    /// Keep a new key.
    pub fn insert_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
        self.with(|c| {
            c.execute(
                "INSERT INTO api_keys (id, name, tenant, scopes, digest, created, last_used, expires, revoked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    key.id,
                    key.name,
                    key.tenant,
                    scopes.join(","),
                    key.digest.as_slice(),
                    key.created,
                    key.last_used,
                    key.expires,
                    key.revoked
                ],
            )
            .map(drop)
        })
    }

    /// Every key, revoked ones included, oldest first.
    pub fn keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        type Row = (String, String, Option<String>, String, Vec<u8>, i64, Option<i64>, Option<i64>, Option<i64>);
        let rows: Vec<Row> = self.with(|c| {
            let mut q = c.prepare(
                "SELECT id, name, tenant, scopes, digest, created, last_used, expires, revoked
                 FROM api_keys ORDER BY created, id",
            )?;
            let rows = q.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
            })?;
            rows.collect()
        })?;
        rows.into_iter()
            .map(|(id, name, tenant, scopes, digest, created, last_used, expires, revoked)| {
                let scopes = Scope::parse_list(&scopes).map_err(|e| self.unreadable("API key", e))?;
                let digest: [u8; 32] = digest.try_into().map_err(|_| self.unreadable("API key", "digest length"))?;
                Ok(ApiKey { id, name, tenant, scopes, digest, created, last_used, expires, revoked })
            })
            .collect()
    }

    /// Revoke a key at `now`; false when no such key.
    pub fn revoke_key(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        self.with(|c| {
            c.execute("UPDATE api_keys SET revoked = COALESCE(revoked, ?2) WHERE id = ?1", params![id, now])
                .map(|n| n > 0)
        })
    }

    /// Record when keys were last used.
    pub fn touch_keys(&self, used: &[(String, i64)]) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            for (id, at) in used {
                tx.execute(
                    "UPDATE api_keys SET last_used = MAX(COALESCE(last_used, 0), ?2) WHERE id = ?1",
                    params![id, at],
                )?;
            }
            tx.commit()
        })
    }

    // ---- tenants ----

    /// Add or replace a tenant.
    pub fn put_tenant(&self, tenant: &StoredTenant, now: i64) -> Result<(), StoreError> {
        let section = serde_json::to_string(&tenant.section).expect("tenant sections serialize");
        self.with(|c| {
            c.execute(
                "INSERT INTO tenants (name, provider, section, source, created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT(name) DO UPDATE SET provider = ?2, section = ?3, source = ?4, updated = ?5",
                params![tenant.name, tenant.section.provider, section, tenant.source, now],
            )
            .map(drop)
        })
    }

    /// Every stored tenant, by name.
    pub fn tenants(&self) -> Result<Vec<StoredTenant>, StoreError> {
        let rows: Vec<(String, String, String)> = self.with(|c| {
            let mut q = c.prepare("SELECT name, section, source FROM tenants ORDER BY name")?;
            let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })?;
        rows.into_iter()
            .map(|(name, section, source)| {
                let section = serde_json::from_str(&section).map_err(|e| self.unreadable("tenant", e))?;
                Ok(StoredTenant { name, section, source })
            })
            .collect()
    }

    /// Remove a tenant with its secrets and health; false when no such tenant.
    pub fn remove_tenant(&self, name: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let n = tx.execute("DELETE FROM tenants WHERE name = ?1", params![name])?;
            tx.execute("DELETE FROM secrets WHERE tenant = ?1", params![name])?;
            tx.execute("DELETE FROM credential_health WHERE tenant = ?1", params![name])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    // ---- sealed secrets ----

    /// Seal and keep `value` as `tenant`'s setting `setting`.
    pub fn put_secret(&self, tenant: &str, setting: &str, value: &str, now: i64) -> Result<(), StoreError> {
        let key = self.seal_key.as_ref().ok_or(StoreError::NoSealKey)?;
        let sealed = key.seal(&format!("{tenant}/{setting}"), value)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO secrets (tenant, setting, sealed, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(tenant, setting) DO UPDATE SET sealed = ?3, updated = ?4",
                params![tenant, setting, sealed, now],
            )
            .map(drop)
        })
    }

    /// The opened value of `tenant`'s sealed setting, if one is kept.
    pub fn secret(&self, tenant: &str, setting: &str) -> Result<Option<String>, StoreError> {
        let sealed: Option<Vec<u8>> = self.with(|c| {
            c.query_row(
                "SELECT sealed FROM secrets WHERE tenant = ?1 AND setting = ?2",
                params![tenant, setting],
                |r| r.get(0),
            )
            .optional()
        })?;
        let Some(sealed) = sealed else { return Ok(None) };
        let key = self.seal_key.as_ref().ok_or(StoreError::NoSealKey)?;
        Ok(Some(key.open(&format!("{tenant}/{setting}"), &sealed)?))
    }

    // ---- single-use tokens: invitations and consent states ----

    /// Keep an invitation (by the digest of its token) for `name`, valid until `expires`.
    pub fn put_invitation(&self, digest: &[u8], name: &str, now: i64, expires: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO invitations (digest, name, created, expires) VALUES (?1, ?2, ?3, ?4)",
                params![digest, name, now, expires],
            )
            .map(drop)
        })
    }

    /// The invitation's name, if the token is known, unused and unexpired (it stays usable until
    /// the consent it leads to comes back: an admin may open the link twice).
    pub fn invitation(&self, digest: &[u8], now: i64) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT name FROM invitations WHERE digest = ?1 AND used IS NULL AND expires > ?2",
                params![digest, now],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Mark an invitation used.
    pub fn use_invitation(&self, name: &str, now: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute("UPDATE invitations SET used = ?2 WHERE name = ?1 AND used IS NULL", params![name, now]).map(drop)
        })
    }

    /// Keep a consent `state` (by digest) for an invitation, valid until `expires`.
    pub fn put_consent_state(&self, digest: &[u8], invitation: &str, now: i64, expires: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO consent_states (digest, invitation, created, expires) VALUES (?1, ?2, ?3, ?4)",
                params![digest, invitation, now, expires],
            )
            .map(drop)
        })
    }

    /// Use a consent state once: the invitation it belongs to, if it was unused and unexpired.
    pub fn take_consent_state(&self, digest: &[u8], now: i64) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let found: Option<String> = tx
                .query_row(
                    "SELECT invitation FROM consent_states WHERE digest = ?1 AND used IS NULL AND expires > ?2",
                    params![digest, now],
                    |r| r.get(0),
                )
                .optional()?;
            if found.is_some() {
                tx.execute("UPDATE consent_states SET used = ?2 WHERE digest = ?1", params![digest, now])?;
            }
            tx.commit()?;
            Ok(found)
        })
    }

    // ---- onboarding ----

    /// Record where a tenant's onboarding stands.
    pub fn put_onboarding(&self, r: &OnboardingRecord) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO onboardings (tenant, state, detail, consented, updated) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(tenant) DO UPDATE SET state = ?2, detail = ?3, consented = COALESCE(?4, consented), updated = ?5",
                params![r.tenant, r.state, r.detail, r.consented, r.updated],
            )
            .map(drop)
        })
    }

    /// Every onboarding, by tenant.
    pub fn onboardings(&self) -> Result<Vec<OnboardingRecord>, StoreError> {
        self.with(|c| {
            let mut q =
                c.prepare("SELECT tenant, state, detail, consented, updated FROM onboardings ORDER BY tenant")?;
            let rows = q.query_map([], |r| {
                Ok(OnboardingRecord {
                    tenant: r.get(0)?,
                    state: r.get(1)?,
                    detail: r.get(2)?,
                    consented: r.get(3)?,
                    updated: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    // ---- credential health ----

    /// Record a tenant's credential health.
    pub fn put_health(&self, h: &HealthRecord) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO credential_health (tenant, state, fingerprint, message, since, last_tried, checked_ok)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(tenant) DO UPDATE SET state = ?2, fingerprint = ?3, message = ?4, since = ?5,
                   last_tried = ?6, checked_ok = COALESCE(?7, checked_ok)",
                params![h.tenant, h.state, h.fingerprint, h.message, h.since, h.last_tried, h.checked_ok],
            )
            .map(drop)
        })
    }

    /// Every tenant's recorded health.
    pub fn health(&self) -> Result<Vec<HealthRecord>, StoreError> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT tenant, state, fingerprint, message, since, last_tried, checked_ok FROM credential_health",
            )?;
            let rows = q.query_map([], |r| {
                Ok(HealthRecord {
                    tenant: r.get(0)?,
                    state: r.get(1)?,
                    fingerprint: r.get(2)?,
                    message: r.get(3)?,
                    since: r.get(4)?,
                    last_tried: r.get(5)?,
                    checked_ok: r.get(6)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Record that `freebusy check` succeeded for a tenant at `now` (a running server then closes
    /// an open circuit).
    pub fn record_check_ok(&self, tenant: &str, fingerprint: &str, now: i64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO credential_health (tenant, state, fingerprint, message, since, last_tried, checked_ok)
                 VALUES (?1, 'closed', ?2, 'freebusy check succeeded', ?3, ?3, ?3)
                 ON CONFLICT(tenant) DO UPDATE SET checked_ok = ?3",
                params![tenant, fingerprint, now],
            )
            .map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::auth::keys;
    use crate::config::SettingValue;

    fn temp_store(name: &str, sealed: bool) -> (Store, PathBuf) {
        let dir = std::env::temp_dir().join(format!("freebusy-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("freebusy.db");
        let key = sealed.then(|| SealKey::from_base64(&SealKey::generate().unwrap()).unwrap());
        (Store::open(&path, key).unwrap(), dir)
    }

    #[test]
    fn keys_tenants_and_health_survive_a_reopen() {
        let (store, dir) = temp_store("reopen", false);
        let new = keys::generate("console", Some("contoso"), Scope::DEFAULT.to_vec(), None, 1).unwrap();
        store.insert_key(&new.record).unwrap();
        let settings = BTreeMap::from([
            ("tenant_id".to_string(), SettingValue::Literal("acme.example".into())),
            ("client_secret".to_string(), SettingValue::Env { env: "VENDOR_SECRET".into() }),
        ]);
        let tenant =
            StoredTenant { name: "acme".into(), section: TenantSection::new("graph", settings), source: "cli".into() };
        store.put_tenant(&tenant, 2).unwrap();
        drop(store);
        let store = Store::open(&dir.join("freebusy.db"), None).unwrap();
        assert_eq!(store.keys().unwrap(), vec![new.record.clone()]);
        assert_eq!(store.tenants().unwrap(), vec![tenant]);
        assert!(store.revoke_key(&new.record.id, 9).unwrap());
        assert_eq!(store.keys().unwrap()[0].revoked, Some(9));
        assert!(store.remove_tenant("acme").unwrap());
        assert!(store.tenants().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn secrets_are_sealed_at_rest_and_need_the_key() {
        let (store, dir) = temp_store("sealed", true);
        store.put_secret("contoso", "refresh_token", "0.AXoA-refresh-token-value", 1).unwrap();
        assert_eq!(store.secret("contoso", "refresh_token").unwrap().as_deref(), Some("0.AXoA-refresh-token-value"));
        drop(store);
        let bytes = std::fs::read(dir.join("freebusy.db")).unwrap();
        let wal = std::fs::read(dir.join("freebusy.db-wal")).unwrap_or_default();
        for file in [&bytes, &wal] {
            assert!(!file.windows(13).any(|w| w == b"refresh-token"), "the secret is not in the file in plain text");
        }
        let without_key = Store::open(&dir.join("freebusy.db"), None).unwrap();
        assert!(matches!(without_key.secret("contoso", "refresh_token"), Err(StoreError::NoSealKey)));
        assert!(matches!(without_key.put_secret("c", "s", "v", 1), Err(StoreError::NoSealKey)));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_consent_state_works_once_and_not_after_it_expires() {
        let (store, dir) = temp_store("states", false);
        store.put_consent_state(b"state-1", "acme", 0, 100).unwrap();
        store.put_consent_state(b"state-2", "acme", 0, 100).unwrap();
        assert_eq!(store.take_consent_state(b"state-1", 50).unwrap().as_deref(), Some("acme"));
        assert_eq!(store.take_consent_state(b"state-1", 51).unwrap(), None, "single use");
        assert_eq!(store.take_consent_state(b"state-2", 100).unwrap(), None, "expired");
        assert_eq!(store.take_consent_state(b"unknown", 1).unwrap(), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn another_connection_writing_changes_the_data_version() {
        let (store, dir) = temp_store("version", false);
        let before = store.data_version().unwrap();
        let other = Store::open(&dir.join("freebusy.db"), None).unwrap();
        other.put_invitation(b"x", "acme", 0, 10).unwrap();
        assert_ne!(store.data_version().unwrap(), before);
        let _ = std::fs::remove_dir_all(dir);
    }
}
