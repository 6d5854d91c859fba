//! The scheduled key refresh (the `refresher` Lambda): fetches every configured JWKS,
//! checks it holds at least one usable signing key, and writes it to the keys table with
//! a new `fetched_at`/`expires_at` (a discovery issuer's `jwks_uri` too, in its discovery
//! item). A URL whose fetch fails or returns garbage leaves its item unchanged; the others
//! are still written, and the run reports the failure. An unusable stored item is
//! replaced, never a reason to fail. With `TENANT_REGISTRY=on`, every `active`
//! registered issuer within `TENANT_ISSUER_PATTERN` is refreshed too (listed with a Scan
//! of the `ISSUER#` items at each run; one the authorizer would ignore is skipped).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::clock::Clock;
use crate::config::{IssuerConfig, JwksLocation, KeySourceConfig, RefresherConfig, TenantSettings};
use crate::error::UpstreamError;
use crate::issuers::{Status, TableRegistry};
use crate::jwk::{Algorithm, KeySet};
use crate::keys::record::{Poison, Stored};
use crate::keys::{Budget, DiscoveryRecord, JwksClient, KeyRecord, KeyTable, fetch_keys};

/// What one run did, per JWKS URL (the invocation's JSON answer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// URLs whose keys were fetched and stored.
    pub refreshed: BTreeMap<String, Refreshed>,
    /// URLs (or issuers, when discovery failed) and why they failed; their items are unchanged.
    pub failed: BTreeMap<String, String>,
    /// A note when there was nothing to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The outcome for one JWKS URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refreshed {
    /// The kids of the usable keys now stored.
    pub kids: Vec<String>,
    /// Whether the kids differ from the stored item's (or there was none).
    pub changed: bool,
    /// Whether the item was written (false: the table already held a newer fetch).
    pub written: bool,
}

/// One issuer's keys to refresh: its `iss`, where the keys are, which algorithms count.
type Source = (String, JwksLocation, Vec<Algorithm>);

/// Refreshes every JWKS issuer of a [`RefresherConfig`].
pub struct Refresher {
    sources: Vec<Source>,
    tenants: Option<TenantSettings>,
    client: JwksClient,
    table: KeyTable,
    clock: Arc<dyn Clock>,
    ttl_seconds: u64,
}

impl Refresher {
    /// A refresher over `table`.
    pub fn new(
        config: &RefresherConfig,
        table: KeyTable,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, UpstreamError> {
        Ok(Self {
            sources: config.issuers.iter().filter_map(source).collect(),
            tenants: config.tenants.clone(),
            client: JwksClient::new(config.keys.jwks_timeout)?,
            table,
            clock,
            ttl_seconds: config.keys.ttl_seconds,
        })
    }

    /// One refresh of every JWKS URL (and, for discovery issuers, of their discovery item).
    pub async fn run(&self) -> Summary {
        let mut summary = Summary::default();
        let mut sources = self.sources.clone();
        if let Some(tenants) = &self.tenants {
            match self.registered(tenants).await {
                Ok(registered) => sources.extend(registered),
                Err(error) => {
                    summary
                        .failed
                        .insert("registry".into(), format!("listing ISSUER# items: {error}"));
                }
            }
        }
        if sources.is_empty() && summary.failed.is_empty() {
            summary.message = Some(
                "nothing to refresh: no JWKS issuer is configured (HS256 issuers only)".into(),
            );
            return summary;
        }
        let Some(now) = self.clock.wall() else {
            summary
                .failed
                .insert("clock".into(), "the system clock reads before 1970".into());
            return summary;
        };
        for (issuer, location, algorithms) in &sources {
            let (url, discovered) = match location {
                JwksLocation::Url(url) => (url.clone(), None),
                JwksLocation::Discover => match self.client.discover(issuer).await {
                    Ok(uri) => {
                        let record =
                            DiscoveryRecord::discovered(issuer, &uri, now, self.ttl_seconds);
                        (uri, Some(record))
                    }
                    Err(error) => {
                        summary
                            .failed
                            .insert(issuer.clone(), format!("discovery: {error}"));
                        continue;
                    }
                },
            };
            if summary.refreshed.contains_key(&url) || summary.failed.contains_key(&url) {
                continue;
            }
            match self.refresh(&url, algorithms, now).await {
                Ok(refreshed) => {
                    summary.refreshed.insert(url, refreshed);
                    if let Some(record) = discovered {
                        if let Err(error) = self.store(&record, now).await {
                            summary
                                .failed
                                .insert(issuer.clone(), format!("discovery item: {error}"));
                        }
                    }
                }
                Err(error) => {
                    summary.failed.insert(url, error.to_string());
                }
            }
        }
        summary
    }

    /// The active registered issuers the authorizer would accept (not a configured
    /// one: the configuration wins).
    async fn registered(&self, tenants: &TenantSettings) -> Result<Vec<Source>, UpstreamError> {
        let items = TableRegistry::new(&self.table).list().await?;
        let mut sources = Vec::new();
        for (pk, item) in items {
            let config = item.and_then(|registration| {
                if registration.status == Status::Disabled {
                    return Ok(None);
                }
                registration.issuer_config(&tenants.patterns).map(Some)
            });
            match config {
                Ok(Some(config)) if !self.sources.iter().any(|s| s.0 == config.issuer) => {
                    sources.extend(source(&config));
                }
                Ok(_) => {}
                Err(reason) => {
                    tracing::error!(item = pk, reason, "registry item ignored: not refreshed");
                }
            }
        }
        Ok(sources)
    }

    async fn refresh(
        &self,
        url: &str,
        algorithms: &[Algorithm],
        now: u64,
    ) -> Result<Refreshed, UpstreamError> {
        let (keys, text) = fetch_keys(&self.client, url, algorithms).await?;
        let kids: Vec<String> = keys.kids().into_iter().map(str::to_owned).collect();
        let (changed, replacing) = match self.table.get::<KeyRecord>(url, now, Budget::Init).await?
        {
            Some(Stored::Usable(stored)) => {
                match KeySet::from_jwks(stored.jwks.as_bytes(), algorithms) {
                    Ok(stored_keys) => (stored_keys.kids() != keys.kids(), None),
                    Err(error) => (true, Some(Poison::unusable(&stored, error.to_string()))),
                }
            }
            Some(Stored::Poisoned(poison)) => (true, Some(poison)),
            None => (true, None),
        };
        if let Some(poison) = &replacing {
            tracing::error!(jwks_url = url, reason = %poison.reason, "replacing an unusable keys item");
        }
        let record = KeyRecord::fetched(url, text, now, self.ttl_seconds);
        let written = self.table.put(&record, now, replacing.as_ref()).await?;
        Ok(Refreshed {
            kids,
            changed,
            written,
        })
    }

    /// Writes a discovery item, replacing a poisoned one.
    async fn store(&self, record: &DiscoveryRecord, now: u64) -> Result<bool, UpstreamError> {
        let replacing = match self
            .table
            .get::<DiscoveryRecord>(&record.issuer, now, Budget::Init)
            .await?
        {
            Some(Stored::Poisoned(poison)) => Some(poison),
            Some(Stored::Usable(_)) | None => None,
        };
        self.table.put(record, now, replacing.as_ref()).await
    }
}

/// What to refresh for `issuer`: nothing for an HS256 issuer.
fn source(issuer: &IssuerConfig) -> Option<Source> {
    match &issuer.keys {
        KeySourceConfig::Jwks(location) => Some((
            issuer.issuer.clone(),
            location.clone(),
            issuer.algorithms.clone(),
        )),
        KeySourceConfig::Secret(_) => None,
    }
}
