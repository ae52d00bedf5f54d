//! Every configured tenant, loaded once: provider components compiled (each once, however many
//! tenants use it) and each tenant set up from its table. Requests name a tenant, or go to the
//! default one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context as _;
use freebusy_core::api::{FreeBusyRequest, FreeBusyResponse, Problem};

use crate::config::LoadedConfig;
use crate::metrics::Metrics;
use crate::runtime::{Provider, Runtime};
use crate::tenant::{setup, Tenant};

/// Errors a request can meet before any provider is called.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The tenant named in the URL is not configured.
    #[error("no tenant named '{0}' is configured")]
    UnknownTenant(String),
    /// Several tenants and no `default_tenant`.
    #[error("several tenants are configured and no default_tenant; use /v1/tenants/{{tenant}}/freebusy")]
    NoDefaultTenant,
}

impl From<ServiceError> for Problem {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::UnknownTenant(t) => Problem::unknown_tenant(&t),
            ServiceError::NoDefaultTenant => Problem::no_default_tenant(),
        }
    }
}

/// Every configured tenant.
pub struct Service {
    tenants: BTreeMap<String, Arc<Tenant>>,
    default_tenant: Option<String>,
    metrics: Arc<Metrics>,
}

impl Service {
    /// Load every provider component once and set up each tenant.
    pub async fn from_config(loaded: &LoadedConfig, runtime: &Runtime) -> anyhow::Result<Service> {
        let mut providers: HashMap<String, Arc<Provider>> = HashMap::new();
        let mut tenants = BTreeMap::new();
        let metrics = Arc::new(Metrics::default());
        for (name, section) in &loaded.config.tenants {
            let provider = match providers.get(&section.provider) {
                Some(p) => p.clone(),
                None => {
                    let path = loaded.component_path(&section.provider).expect("validated provider");
                    let p = Arc::new(runtime.load_file(&path).await?);
                    providers.insert(section.provider.clone(), p.clone());
                    p
                }
            };
            let tenant = setup::build(name, section, provider, loaded, &loaded.config.cache, metrics.clone())
                .with_context(|| format!("tenant '{name}'"))?;
            tenants.insert(name.clone(), Arc::new(tenant));
        }
        let default_tenant = loaded
            .config
            .default_tenant
            .clone()
            .or_else(|| (tenants.len() == 1).then(|| tenants.keys().next().cloned()).flatten());
        Ok(Service { tenants, default_tenant, metrics })
    }

    /// The host's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A tenant by name, or the default one.
    pub fn tenant(&self, name: Option<&str>) -> Result<&Arc<Tenant>, ServiceError> {
        match name {
            Some(n) => self.tenants.get(n).ok_or_else(|| ServiceError::UnknownTenant(n.to_string())),
            None => {
                self.default_tenant.as_deref().and_then(|n| self.tenants.get(n)).ok_or(ServiceError::NoDefaultTenant)
            }
        }
    }

    /// Every tenant.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.tenants.values()
    }

    /// Answer a free/busy request for a tenant.
    pub async fn freebusy(
        &self,
        tenant: Option<&str>,
        req: &FreeBusyRequest,
    ) -> Result<FreeBusyResponse, ServiceError> {
        let tenant = self.tenant(tenant)?;
        Ok(tenant.freebusy(req).await)
    }
}
