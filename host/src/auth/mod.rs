//! Who may ask what. Every `/v1` route needs an API key ([`keys`]) naming the one tenant it reads
//! (or every tenant, for a vendor's admin keys) and its scopes; `auth = "none"` turns that off for
//! a development setup on a loopback address, and `serve` refuses it on any other address unless
//! told explicitly.

pub mod keys;

use std::net::SocketAddr;

use keys::{ApiKey, KeyError, Scope};

/// `[auth]`: how clients authenticate.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// `keys` (API keys, the default) or `none` (everyone may read everything).
    pub mode: AuthMode,
    /// Allow `mode = "none"` on an address other than loopback (a private network behind a
    /// gateway that authenticates). Off: `serve` refuses to start that way.
    pub allow_unauthenticated_non_loopback: bool,
    /// A second listener for `/healthz`, `/readyz` and `/metrics` without a key (for load
    /// balancers, Kubernetes probes and Prometheus); on the main listener they need an admin key.
    pub ops_listen: Option<SocketAddr>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings { mode: AuthMode::Keys, allow_unauthenticated_non_loopback: false, ops_listen: None }
    }
}

/// How clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// API keys (`Authorization: Bearer fbk_...`).
    Keys,
    /// No authentication (development on loopback).
    None,
}

impl AuthSettings {
    /// Refuse to serve without authentication on an address others can reach, unless allowed.
    pub fn check_listener(&self, addr: SocketAddr) -> anyhow::Result<()> {
        if self.mode == AuthMode::None && !addr.ip().is_loopback() && !self.allow_unauthenticated_non_loopback {
            anyhow::bail!(
                "[auth] mode = \"none\" on {addr} would let anyone who reaches it read every mailbox's free/busy: \
                 listen on 127.0.0.1, use API keys (mode = \"keys\"), or set allow_unauthenticated_non_loopback = true"
            );
        }
        Ok(())
    }
}

/// Who is asking: a verified key, or anyone when authentication is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A verified API key.
    Key(ApiKey),
    /// `auth = "none"`: everything is allowed.
    Anyone,
}

/// Why a verified caller may not do this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Forbidden {
    /// The key is for another tenant.
    #[error("this API key is for tenant '{key_tenant}', not '{asked}'")]
    OtherTenant {
        /// The key's tenant.
        key_tenant: String,
        /// The tenant asked for.
        asked: String,
    },
    /// The key lacks a scope.
    #[error("this API key lacks the scope {}", .0.as_str())]
    MissingScope(Scope),
}

/// Why a request is not authenticated (401).
pub type Unauthenticated = KeyError;

impl Principal {
    /// The key id, for logs (never the key).
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Principal::Key(k) => Some(&k.id),
            Principal::Anyone => None,
        }
    }

    /// The one tenant this caller is bound to, if any: the tenant a route without one means.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Principal::Key(k) => k.tenant.as_deref(),
            Principal::Anyone => None,
        }
    }

    /// Whether the caller has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Forbidden> {
        match self {
            Principal::Anyone => Ok(()),
            Principal::Key(k) if k.scopes.contains(&scope) => Ok(()),
            Principal::Key(_) => Err(Forbidden::MissingScope(scope)),
        }
    }

    /// Whether the caller may act on `tenant` with `scope`.
    pub fn allows(&self, tenant: &str, scope: Scope) -> Result<(), Forbidden> {
        match self.tenant() {
            Some(own) if own != tenant => {
                Err(Forbidden::OtherTenant { key_tenant: own.to_string(), asked: tenant.to_string() })
            }
            _ => self.require(scope),
        }
    }
}

/// The bearer token of an `Authorization` header value (RFC 6750 section 2.1).
pub fn bearer(header: Option<&str>) -> Result<&str, KeyError> {
    let value = header.ok_or(KeyError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(KeyError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(KeyError::NotBearer);
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tenant: Option<&str>, scopes: &[Scope]) -> Principal {
        Principal::Key(keys::generate("k", tenant, scopes.to_vec(), None, 0).unwrap().record)
    }

    #[test]
    fn a_key_reads_its_own_tenant_with_its_scopes_only() {
        let console = key(Some("contoso"), &Scope::DEFAULT);
        assert_eq!(console.allows("contoso", Scope::FreebusyRead), Ok(()));
        assert!(matches!(console.allows("fabrikam", Scope::FreebusyRead), Err(Forbidden::OtherTenant { .. })));
        assert_eq!(console.allows("contoso", Scope::DetailsRead), Err(Forbidden::MissingScope(Scope::DetailsRead)));
        let vendor = key(None, &[Scope::Admin, Scope::FreebusyRead]);
        assert_eq!(vendor.allows("fabrikam", Scope::FreebusyRead), Ok(()));
        assert_eq!(Principal::Anyone.allows("x", Scope::Admin), Ok(()));
    }

    #[test]
    fn only_bearer_headers_carry_a_key() {
        assert_eq!(bearer(Some("Bearer fbk_x")), Ok("fbk_x"));
        assert_eq!(bearer(Some("bearer  fbk_x ")), Ok("fbk_x"));
        assert_eq!(bearer(None), Err(KeyError::Missing));
        assert_eq!(bearer(Some("Basic dXNlcjpwYXNz")), Err(KeyError::NotBearer));
        assert_eq!(bearer(Some("Bearer")), Err(KeyError::NotBearer));
    }

    #[test]
    fn no_authentication_is_refused_off_loopback_unless_allowed() {
        let none = AuthSettings { mode: AuthMode::None, ..AuthSettings::default() };
        assert!(none.check_listener("127.0.0.1:8080".parse().unwrap()).is_ok());
        assert!(none.check_listener("[::1]:8080".parse().unwrap()).is_ok());
        assert!(none.check_listener("0.0.0.0:8080".parse().unwrap()).is_err());
        let allowed = AuthSettings { allow_unauthenticated_non_loopback: true, ..none };
        assert!(allowed.check_listener("0.0.0.0:8080".parse().unwrap()).is_ok());
        assert!(AuthSettings::default().check_listener("0.0.0.0:8080".parse().unwrap()).is_ok());
    }
}
