//! The scheduled key refresh (the `refresher` Lambda): fetches every configured JWKS,
//! checks it holds at least one usable signing key, and writes it to the keys table with
//! a new `fetched_at`/`expires_at`. A URL whose fetch fails or returns garbage leaves its
//! item unchanged; the others are still written, and the run reports the failure.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::clock::Clock;
use crate::config::{JwksLocation, KeySourceConfig, RefresherConfig};
use crate::error::UpstreamError;
use crate::jwk::{Algorithm, KeySet};
use crate::keys::{JwksClient, KeyRecord, KeyTable, fetch_keys, resolve_url};

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

/// Refreshes every JWKS issuer of a [`RefresherConfig`].
pub struct Refresher {
    sources: Vec<(String, JwksLocation, Vec<Algorithm>)>,
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
        let sources = config
            .issuers
            .iter()
            .filter_map(|issuer| match &issuer.keys {
                KeySourceConfig::Jwks(location) => Some((
                    issuer.issuer.clone(),
                    location.clone(),
                    issuer.algorithms.clone(),
                )),
                KeySourceConfig::Secret(_) => None,
            })
            .collect();
        Ok(Self {
            sources,
            client: JwksClient::new(config.keys.jwks_timeout)?,
            table,
            clock,
            ttl_seconds: config.keys.ttl_seconds,
        })
    }

    /// One refresh of every JWKS URL.
    pub async fn run(&self) -> Summary {
        let mut summary = Summary::default();
        if self.sources.is_empty() {
            summary.message = Some(
                "nothing to refresh: no JWKS issuer is configured (HS256 issuers only)".into(),
            );
            return summary;
        }
        for (issuer, location, algorithms) in &self.sources {
            let url = match resolve_url(&self.client, issuer, location).await {
                Ok(url) => url,
                Err(error) => {
                    summary
                        .failed
                        .insert(issuer.clone(), format!("discovery: {error}"));
                    continue;
                }
            };
            if summary.refreshed.contains_key(&url) || summary.failed.contains_key(&url) {
                continue;
            }
            match self.refresh(&url, algorithms).await {
                Ok(refreshed) => {
                    summary.refreshed.insert(url, refreshed);
                }
                Err(error) => {
                    summary.failed.insert(url, error.to_string());
                }
            }
        }
        summary
    }

    async fn refresh(
        &self,
        url: &str,
        algorithms: &[Algorithm],
    ) -> Result<Refreshed, UpstreamError> {
        let (keys, text) = fetch_keys(&self.client, url, algorithms).await?;
        let previous = self.table.get(url).await?;
        let kids: Vec<String> = keys.kids().into_iter().map(str::to_owned).collect();
        let changed = previous
            .and_then(|record| KeySet::from_jwks(record.jwks.as_bytes(), algorithms).ok())
            .is_none_or(|stored| stored.kids() != keys.kids());
        let record = KeyRecord::fetched(url, text, self.clock.now(), self.ttl_seconds);
        let written = self.table.put(&record).await?;
        Ok(Refreshed {
            kids,
            changed,
            written,
        })
    }
}
