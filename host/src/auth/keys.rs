//! API keys: `fbk_<id>_<secret>`, where the id (16 hex digits) names the key in lists, logs and
//! metrics and the secret (256 random bits, base64url) is shown once, when the key is created.
//! Only the SHA-256 digest of the secret is kept: a 256-bit random secret needs no slow hash or
//! salt (nothing to guess), and the digest alone cannot sign in.
//!
//! Verification takes the same path for an unknown id as for a wrong secret: the presented
//! secret is always hashed and compared in constant time ([`subtle`]) against the key's digest
//! or a stand-in, and both fail with the same error, so neither timing nor wording tells a caller
//! whether a key id exists.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine as _;
use ring::digest::{digest, SHA256};
use subtle::ConstantTimeEq;

/// What every key starts with, so that secret scanners and people recognise one.
pub const PREFIX: &str = "fbk_";
/// Hex digits of a key id.
const ID_LEN: usize = 16;
/// Random bytes of a key secret (256 bits).
const SECRET_BYTES: usize = 32;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `/v1/freebusy` and `/v1/availability` without details.
    FreebusyRead,
    /// `/v1/directory`.
    DirectoryRead,
    /// Subjects and locations (`details=true`).
    DetailsRead,
    /// Keys, tenants, invitations, reload, health of every tenant, `/metrics` and `/readyz`.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 4] = [Scope::FreebusyRead, Scope::DirectoryRead, Scope::DetailsRead, Scope::Admin];

    /// The scopes a key gets when none are named: reading free/busy and the directory.
    pub const DEFAULT: [Scope; 2] = [Scope::FreebusyRead, Scope::DirectoryRead];

    /// The name used on the command line, in the store and in `WWW-Authenticate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::FreebusyRead => "freebusy:read",
            Scope::DirectoryRead => "directory:read",
            Scope::DetailsRead => "details:read",
            Scope::Admin => "admin",
        }
    }

    /// A scope by name.
    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text.trim())
    }

    /// A comma-separated list of scopes; the error names the unknown one.
    pub fn parse_list(text: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let scope = Scope::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown scope '{name}' (known: {})", known.join(", "))
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes.sort();
        Ok(scopes)
    }
}

/// A key as the store keeps it (no secret, only its digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The public part.
    pub id: String,
    /// What it is for ("reception console").
    pub name: String,
    /// The one tenant it may read, or `None` for every tenant (admin keys of a SaaS vendor).
    pub tenant: Option<String>,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// SHA-256 of the secret.
    pub digest: [u8; 32],
    /// Milliseconds since the epoch.
    pub created: i64,
    /// When it last opened a request, if ever.
    pub last_used: Option<i64>,
    /// When it stops working, if set.
    pub expires: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked: Option<i64>,
}

/// A new key: the record to store and the whole key to show once.
pub struct NewKey {
    /// The record (digest only).
    pub record: ApiKey,
    /// `fbk_<id>_<secret>`: shown once, never stored.
    pub key: String,
}

/// Make a new key for `tenant` (or every tenant) with `scopes`.
pub fn generate(
    name: &str,
    tenant: Option<&str>,
    scopes: Vec<Scope>,
    expires: Option<i64>,
    now: i64,
) -> anyhow::Result<NewKey> {
    use ring::rand::SecureRandom as _;
    let rng = ring::rand::SystemRandom::new();
    let mut id = [0u8; ID_LEN / 2];
    let mut secret = [0u8; SECRET_BYTES];
    rng.fill(&mut id).map_err(|_| anyhow::anyhow!("the system's random number generator failed"))?;
    rng.fill(&mut secret).map_err(|_| anyhow::anyhow!("the system's random number generator failed"))?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let record = ApiKey {
        id: id.clone(),
        name: name.to_string(),
        tenant: tenant.map(str::to_string),
        scopes,
        digest: secret_digest(&secret),
        created: now,
        last_used: None,
        expires,
        revoked: None,
    };
    Ok(NewKey { record, key: format!("{PREFIX}{id}_{secret}") })
}

fn secret_digest(secret: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, secret.as_bytes()).as_ref());
    out
}

/// A presented key split into its id and secret, if it has the shape of one.
fn split(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_at_checked(ID_LEN)?;
    let secret = secret.strip_prefix('_')?;
    let id_ok = id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    let secret_ok = secret.len() == 43 && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some((id, secret))
}

/// The key id of a presented key, when it has the shape of one (for logs: the id is not secret).
pub fn id_of(key: &str) -> Option<&str> {
    split(key).map(|(id, _)| id)
}

/// Why a presented key opens nothing. The wording is for the problem body; the RFC 6750 error
/// code goes into `WWW-Authenticate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No `Authorization: Bearer` header.
    #[error("this route needs an API key: send Authorization: Bearer <key> (freebusy keys create makes one)")]
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("the Authorization header must be 'Bearer <key>'")]
    NotBearer,
    /// A token that is not shaped like a freebusy key.
    #[error("the bearer token is not a freebusy API key (fbk_<id>_<secret>)")]
    Malformed,
    /// An id no key has, or a secret that is not the key's: the same answer for both.
    #[error("the API key is not valid")]
    Invalid,
    /// Past its expiry date.
    #[error("the API key has expired: create a new one (freebusy keys create)")]
    Expired,
    /// Revoked by an admin.
    #[error("the API key was revoked")]
    Revoked,
}

/// Every key, by id, in memory: verifying a request touches no disk.
#[derive(Default)]
pub struct Keyring {
    keys: RwLock<HashMap<String, ApiKey>>,
}

/// What a stand-in digest is compared with when the id is unknown.
const STAND_IN: [u8; 32] = [0x5a; 32];

impl Keyring {
    /// Replace every key (after reading the store).
    pub fn replace_all(&self, keys: Vec<ApiKey>) {
        *self.keys.write().expect("keyring lock") = keys.into_iter().map(|k| (k.id.clone(), k)).collect();
    }

    /// Add or replace one key.
    pub fn put(&self, key: ApiKey) {
        self.keys.write().expect("keyring lock").insert(key.id.clone(), key);
    }

    /// Number of keys held (revoked ones included).
    pub fn len(&self) -> usize {
        self.keys.read().expect("keyring lock").len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key a presented token opens at `now`.
    pub fn verify(&self, presented: &str, now: i64) -> Result<ApiKey, KeyError> {
        let (id, secret) = split(presented).ok_or(KeyError::Malformed)?;
        let presented = secret_digest(secret);
        let keys = self.keys.read().expect("keyring lock");
        let found = keys.get(id);
        // Always one digest and one constant-time comparison, known id or not.
        let expected = found.map_or(&STAND_IN, |k| &k.digest);
        let matches: bool = presented.ct_eq(expected).into();
        let key = found.filter(|_| matches).ok_or(KeyError::Invalid)?;
        if key.revoked.is_some() {
            return Err(KeyError::Revoked);
        }
        if key.expires.is_some_and(|e| e <= now) {
            return Err(KeyError::Expired);
        }
        Ok(key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_with(key: &NewKey) -> Keyring {
        let ring = Keyring::default();
        ring.put(key.record.clone());
        ring
    }

    #[test]
    fn a_new_key_has_a_public_id_a_256_bit_secret_and_only_its_digest_is_kept() {
        let new = generate("console", Some("contoso"), Scope::DEFAULT.to_vec(), None, 0).unwrap();
        let (id, secret) = split(&new.key).expect("the key has the documented shape");
        assert_eq!(id, new.record.id);
        assert_eq!(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(secret).unwrap().len(), 32);
        assert_eq!(new.record.digest, secret_digest(secret));
        assert!(!format!("{:?}", new.record).contains(secret), "the record never holds the secret");
        assert_ne!(generate("b", None, Vec::new(), None, 0).unwrap().key, new.key);
    }

    #[test]
    fn verification_accepts_the_key_and_refuses_everything_else() {
        let new = generate("console", Some("contoso"), Scope::DEFAULT.to_vec(), Some(1_000), 0).unwrap();
        let ring = ring_with(&new);
        assert_eq!(ring.verify(&new.key, 10).unwrap().id, new.record.id);
        assert_eq!(ring.verify("Bearer nonsense", 10), Err(KeyError::Malformed));
        assert_eq!(ring.verify(&format!("{}x", new.key), 10), Err(KeyError::Malformed));
        assert_eq!(ring.verify(&new.key, 1_000), Err(KeyError::Expired));
        let mut revoked = new.record.clone();
        revoked.revoked = Some(5);
        ring.put(revoked);
        assert_eq!(ring.verify(&new.key, 10), Err(KeyError::Revoked));
    }

    #[test]
    fn an_unknown_id_and_a_wrong_secret_get_the_same_answer() {
        let new = generate("console", None, Scope::DEFAULT.to_vec(), None, 0).unwrap();
        let ring = ring_with(&new);
        let other = generate("other", None, Scope::DEFAULT.to_vec(), None, 0).unwrap();
        let (_, other_secret) = split(&other.key).unwrap();
        let wrong_secret = format!("{PREFIX}{}_{other_secret}", new.record.id);
        assert_eq!(ring.verify(&other.key, 1), Err(KeyError::Invalid), "unknown id");
        assert_eq!(ring.verify(&wrong_secret, 1), Err(KeyError::Invalid), "known id, wrong secret");
        assert_eq!(KeyError::Invalid.to_string(), "the API key is not valid");
    }

    #[test]
    fn scopes_parse_from_their_names_and_unknown_ones_are_named() {
        assert_eq!(
            Scope::parse_list("details:read, freebusy:read,details:read").unwrap(),
            vec![Scope::FreebusyRead, Scope::DetailsRead]
        );
        let err = Scope::parse_list("freebusy:write").unwrap_err();
        assert!(err.contains("freebusy:write") && err.contains("admin"), "{err}");
    }
}
