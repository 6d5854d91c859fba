//! The one place [`crate::verify`] asks for a token's issuer: the configured ones
//! (environment), then, with `TENANT_REGISTRY=on`, issuers registered at runtime as
//! `ISSUER#` items in the keys table (SPEC.md "Tenants"). A configured issuer always
//! wins over a registry item with the same `iss`.
//!
//! - [`pattern`]: `TENANT_ISSUER_PATTERN`, checked before any read;
//! - [`registered`]: one registry item, parsed and checked as strictly as configuration;
//! - [`plan`]: what to do with an unconfigured `iss` (cached? over budget? read?), pure;
//! - [`registry`]: the executor, with its bounded memory of lookups;
//! - [`store`]: the reads and writes of items (the table, or memory in tests).

pub mod pattern;
pub mod plan;
pub mod registered;
pub mod registry;
pub mod store;

use std::sync::Arc;

pub use pattern::IssuerPattern;
pub use registered::{Registration, Status, check_tenant};
pub use registry::Registry;
pub use store::{RegistryStore, TableRegistry};

#[cfg(any(test, feature = "testkit"))]
pub use store::MemoryRegistry;

use crate::clock::Now;
use crate::config::IssuerConfig;
use crate::error::TokenError;
use crate::keys::{KeySource, TierDeps};

/// One issuer whose tokens may be verified: its configuration and its keys.
pub struct Issuer {
    /// How its tokens are checked.
    pub config: IssuerConfig,
    /// Where its keys come from.
    pub keys: KeySource,
    /// The issuer identifier (`config.issuer`), shared with every verification it makes
    /// rather than copied into each.
    pub iss: Arc<str>,
    /// The tenant a registry item names (never set for a configured issuer).
    pub tenant: Option<Arc<str>>,
}

impl Issuer {
    /// An issuer with its key source (which loads nothing yet).
    pub fn new(config: IssuerConfig, deps: &TierDeps, tenant: Option<String>) -> Self {
        Self {
            keys: KeySource::new(&config, deps),
            iss: config.issuer.as_str().into(),
            tenant: tenant.map(Arc::from),
            config,
        }
    }
}

/// Where issuers come from: the configuration, then the registry.
pub struct Issuers {
    configured: Vec<Arc<Issuer>>,
    registry: Option<Registry>,
}

impl Issuers {
    /// The configured issuers (their key sources load nothing yet), and `registry`.
    pub fn new(configured: &[IssuerConfig], deps: &TierDeps, registry: Option<Registry>) -> Self {
        Self {
            configured: configured
                .iter()
                .map(|config| Arc::new(Issuer::new(config.clone(), deps, None)))
                .collect(),
            registry,
        }
    }

    /// The configured issuers.
    pub fn configured(&self) -> &[Arc<Issuer>] {
        &self.configured
    }

    /// The registry, when `TENANT_REGISTRY=on`.
    pub fn registry(&self) -> Option<&Registry> {
        self.registry.as_ref()
    }

    /// The configured issuer whose `iss` is `iss`.
    pub fn configured_issuer(&self, iss: &str) -> Option<&Arc<Issuer>> {
        self.configured.iter().find(|i| i.config.issuer == iss)
    }

    /// The issuer of `iss`: a configured one, else a registered one; or why none.
    pub async fn find(&self, iss: &str, now: Now) -> Result<Arc<Issuer>, TokenError> {
        if let Some(issuer) = self.configured_issuer(iss) {
            return Ok(Arc::clone(issuer));
        }
        match &self.registry {
            Some(registry) => registry.find(iss, now).await,
            None => Err(TokenError::UnknownIssuer),
        }
    }
}
