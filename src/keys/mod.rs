//! The key tiers of one issuer: memory first, then the DynamoDB item, then the JWKS
//! endpoint as last resort (written through to the table).
//!
//! - Memory serves while its keys are live and, with a table, for `KEYS_MEMORY_SECONDS`
//!   after the table was last read; then the table is read again.
//! - An unknown `kid` re-reads the table (another container or the refresher may have
//!   stored the new key), then fetches the JWKS, each at most once per
//!   `JWKS_COOLDOWN_SECONDS`; concurrent misses wait for the same refresh.
//! - Outages: table down → JWKS; JWKS down → the keys of the table or memory even past
//!   `expires_at`, up to `KEYS_MAX_STALE_SECONDS` (logged as a warning); both down and
//!   nothing cached → no key, so the configured denial, and a later request tries again.

mod dynamo;
mod jwks;
mod memory;
mod record;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, OnceCell};

pub use dynamo::KeyTable;
pub use jwks::{JwksClient, MAX_DOCUMENT_BYTES};
pub use memory::{MemoryTier, Snapshot};
pub use record::KeyRecord;

use crate::clock::Clock;
use crate::config::{IssuerConfig, JwksLocation, KeySettings};
use crate::error::{KeyError, UpstreamError};
use crate::jwk::{Algorithm, KeySet};
use crate::metrics::{Counter, Counters, Tier};

/// Fetches a JWKS document and checks that it holds at least one usable key for
/// `algorithms`. Shared by the authorizer's last-resort tier and the refresher.
pub async fn fetch_keys(
    client: &JwksClient,
    url: &str,
    algorithms: &[Algorithm],
) -> Result<(KeySet, String), UpstreamError> {
    let body = client.get(url).await?;
    let keys = KeySet::from_jwks(&body, algorithms)?;
    let text = String::from_utf8(body)
        .map_err(|_| UpstreamError::InvalidDocument("JWKS is not UTF-8".into()))?;
    Ok((keys, text))
}

/// The JWKS URL of an issuer: configured, or found by discovery (once per container).
pub async fn resolve_url(
    client: &JwksClient,
    issuer: &str,
    location: &JwksLocation,
) -> Result<String, UpstreamError> {
    match location {
        JwksLocation::Url(url) => Ok(url.clone()),
        JwksLocation::Discover => client.discover(issuer).await,
    }
}

/// What the tiers share across issuers.
#[derive(Clone)]
pub struct TierDeps {
    /// The JWKS HTTP client.
    pub client: Arc<JwksClient>,
    /// The keys table, when `KEYS_TABLE_NAME` is set.
    pub table: Option<Arc<KeyTable>>,
    /// Fetch bounds and cache lifetimes.
    pub settings: KeySettings,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Operational counters.
    pub counters: Arc<Counters>,
}

/// The keys of one JWKS issuer and the tiers behind them.
pub struct IssuerKeys {
    issuer: String,
    algorithms: Vec<Algorithm>,
    location: JwksLocation,
    resolved_url: OnceCell<String>,
    deps: TierDeps,
    memory: MemoryTier,
    /// Until when memory may serve without looking further (epoch seconds).
    fresh_until: AtomicU64,
    refresh: Mutex<RefreshState>,
}

/// Guarded by the refresh lock: when each upstream tier was last asked.
#[derive(Debug, Default)]
struct RefreshState {
    table_read_at: Option<u64>,
    jwks_attempt_at: Option<u64>,
}

/// Why the tiers below memory are consulted.
#[derive(Debug, Clone, Copy)]
enum Need<'a> {
    /// Lambda init: load whatever is best.
    ColdStart,
    /// A request needs this `kid`.
    Kid(&'a str),
}

impl IssuerKeys {
    /// Key store for `issuer`; loads nothing until [`IssuerKeys::warm_up`] or a lookup.
    pub fn new(issuer: &IssuerConfig, location: JwksLocation, deps: TierDeps) -> Self {
        Self {
            issuer: issuer.issuer.clone(),
            algorithms: issuer.algorithms.clone(),
            location,
            resolved_url: OnceCell::new(),
            deps,
            memory: MemoryTier::default(),
            fresh_until: AtomicU64::new(0),
            refresh: Mutex::new(RefreshState::default()),
        }
    }

    /// The keys in memory if they may serve at `now` without consulting the tiers below
    /// (live, and read from the table less than `KEYS_MEMORY_SECONDS` ago).
    pub fn fresh(&self, now: u64) -> Option<Arc<Snapshot>> {
        if now < self.fresh_until.load(Ordering::Acquire) {
            self.memory.get()
        } else {
            None
        }
    }

    /// Puts the keys of a JWKS document in memory as if just fetched (key material that
    /// arrives another way, e.g. a benchmark fixture).
    pub fn load_document(&self, document: &[u8]) -> Result<(), UpstreamError> {
        let keys = KeySet::from_jwks(document, &self.algorithms)?;
        let now = self.deps.clock.now();
        let expires_at = now.saturating_add(self.deps.settings.ttl_seconds);
        self.memory.set(Snapshot {
            keys,
            fetched_at: now,
            expires_at,
        });
        self.fresh_until.store(
            self.fresh_limit(now, expires_at, Some(now)),
            Ordering::Release,
        );
        Ok(())
    }

    /// Loads the keys during Lambda init: from the table when it has a live item (no JWKS
    /// request then), else from the JWKS endpoint. Failures are logged; requests retry.
    pub async fn warm_up(&self) {
        let mut state = self.refresh.lock().await;
        let tier = self.refresh_locked(&mut state, Need::ColdStart).await;
        match self.memory.get() {
            Some(snapshot) => {
                tracing::info!(issuer = %self.issuer, tier = tier.map_or("memory", Tier::as_str), reason = "cold_start", kids = ?snapshot.keys.kids(), "keys loaded")
            }
            None => {
                tracing::warn!(issuer = %self.issuer, reason = "cold_start", "no keys loaded; requests will retry")
            }
        }
    }

    /// The key set holding `kid`, and the tier that provided it.
    pub async fn key_set_with(&self, kid: &str) -> Result<(Arc<Snapshot>, Tier), KeyError> {
        let now = self.deps.clock.now();
        if now < self.fresh_until.load(Ordering::Acquire) {
            if let Some(snapshot) = self.memory.get().filter(|s| s.keys.contains(kid)) {
                return Ok((snapshot, Tier::Memory));
            }
        }
        let mut state = self.refresh.lock().await;
        let now = self.deps.clock.now();
        // Another request may have refreshed while this one waited for the lock.
        if now < self.fresh_until.load(Ordering::Acquire) {
            if let Some(snapshot) = self.memory.get().filter(|s| s.keys.contains(kid)) {
                return Ok((snapshot, Tier::Memory));
            }
        }
        let tier = self.refresh_locked(&mut state, Need::Kid(kid)).await;
        if let Some(tier) = tier {
            tracing::info!(issuer = %self.issuer, tier = tier.as_str(), reason = "key_miss", kid, "keys loaded");
        }
        let snapshot = self.memory.get().ok_or(KeyError::Unavailable)?;
        if !snapshot.keys.contains(kid) {
            return Err(KeyError::UnknownKid);
        }
        if now >= snapshot.expires_at {
            if now
                >= snapshot
                    .expires_at
                    .saturating_add(self.deps.settings.max_stale_seconds)
            {
                tracing::warn!(issuer = %self.issuer, expires_at = snapshot.expires_at, "keys too stale to serve");
                return Err(KeyError::Unavailable);
            }
            self.deps.counters.add(Counter::StaleKeysServed);
            tracing::warn!(issuer = %self.issuer, expires_at = snapshot.expires_at, "serving stale keys: fresher ones are unreachable");
        }
        Ok((snapshot, tier.unwrap_or(Tier::Memory)))
    }

    /// Consults the tiers below memory as `need` requires; returns the tier that loaded
    /// new keys into memory, if any.
    async fn refresh_locked(&self, state: &mut RefreshState, need: Need<'_>) -> Option<Tier> {
        let now = self.deps.clock.now();
        let settings = &self.deps.settings;
        let satisfied = |snapshot: Option<&Snapshot>| match (snapshot, need) {
            (Some(s), Need::Kid(kid)) => s.keys.contains(kid) && now < s.expires_at,
            (Some(s), Need::ColdStart) => now < s.expires_at,
            (None, _) => false,
        };
        let mut loaded = None;
        let mut stale_from_table = None;
        let mut table_down = false;

        // One cooldown decision for this refresh: it bounds discovery and the JWKS fetch alike.
        let cooled = state
            .jwks_attempt_at
            .is_none_or(|t| now >= t.saturating_add(settings.cooldown_seconds));
        let url = match self.resolved_url.get() {
            Some(url) => url.as_str(),
            None if !cooled => return None,
            None => {
                state.jwks_attempt_at = Some(now);
                match self.url().await {
                    Ok(url) => url,
                    Err(error) => {
                        self.deps.counters.add(Counter::JwksErrors);
                        tracing::warn!(issuer = %self.issuer, error = %error, "OIDC discovery failed");
                        return None;
                    }
                }
            }
        };

        if let Some(table) = &self.deps.table {
            let current = self.memory.get();
            let due = state
                .table_read_at
                .is_none_or(|t| now >= t.saturating_add(settings.memory_seconds));
            let missing = !satisfied(current.as_deref())
                && (current.is_none()
                    || state
                        .table_read_at
                        .is_none_or(|t| now >= t.saturating_add(settings.cooldown_seconds)));
            if due || missing {
                state.table_read_at = Some(now);
                self.deps.counters.add(Counter::TableReads);
                match table.get(url).await {
                    Ok(Some(record)) if record.is_live(now) => {
                        if current
                            .as_ref()
                            .is_none_or(|s| record.fetched_at > s.fetched_at)
                            && self.install(&record, "table")
                        {
                            loaded = Some(Tier::Table);
                        }
                    }
                    Ok(Some(record)) => stale_from_table = Some(record),
                    Ok(None) => {}
                    Err(error) => {
                        table_down = true;
                        self.deps.counters.add(Counter::TableErrors);
                        tracing::warn!(issuer = %self.issuer, table = table.name(), error = %error, error_kind = error.kind(), "keys table read failed");
                    }
                }
            }
        }

        if !satisfied(self.memory.get().as_deref()) && cooled {
            state.jwks_attempt_at = Some(now);
            self.deps.counters.add(Counter::JwksFetches);
            match fetch_keys(&self.deps.client, url, &self.algorithms).await {
                Ok((keys, text)) => {
                    let record = KeyRecord::fetched(url, text, now, settings.ttl_seconds);
                    self.memory.set(Snapshot {
                        keys,
                        fetched_at: record.fetched_at,
                        expires_at: record.expires_at,
                    });
                    loaded = Some(Tier::Jwks);
                    if let (Some(table), false) = (&self.deps.table, table_down) {
                        self.write_through(table, &record).await;
                    }
                }
                Err(error) => {
                    self.deps.counters.add(Counter::JwksErrors);
                    let kept = self.memory.get().map_or(0, |s| s.keys.len());
                    tracing::warn!(issuer = %self.issuer, tier = "jwks", error = %error, error_kind = error.kind(), kept_keys = kept, "JWKS fetch failed; keeping cached keys");
                }
            }
        }

        // Stale beats down: an expired item newer than memory still serves, within bounds.
        if let Some(record) = stale_from_table {
            let current = self.memory.get();
            let fresher = current
                .as_ref()
                .is_none_or(|s| record.fetched_at > s.fetched_at);
            if !satisfied(current.as_deref()) && fresher && self.install(&record, "table (expired)")
            {
                loaded = Some(Tier::Table);
            }
        }

        if let Some(snapshot) = self.memory.get() {
            self.fresh_until.store(
                self.fresh_limit(now, snapshot.expires_at, state.table_read_at),
                Ordering::Release,
            );
        }
        loaded
    }

    /// Until when memory may serve without consulting the tiers below.
    fn fresh_limit(&self, now: u64, expires_at: u64, table_read_at: Option<u64>) -> u64 {
        match (&self.deps.table, table_read_at) {
            (Some(_), Some(read)) => {
                expires_at.min(read.saturating_add(self.deps.settings.memory_seconds))
            }
            (Some(_), None) => now,
            (None, _) => expires_at,
        }
    }

    /// Parses a stored record into memory; a record that does not parse is ignored.
    fn install(&self, record: &KeyRecord, source: &str) -> bool {
        match KeySet::from_jwks(record.jwks.as_bytes(), &self.algorithms) {
            Ok(keys) => {
                self.memory.set(Snapshot {
                    keys,
                    fetched_at: record.fetched_at,
                    expires_at: record.expires_at,
                });
                true
            }
            Err(error) => {
                tracing::warn!(issuer = %self.issuer, source, error = %error, "stored keys unusable; ignored");
                false
            }
        }
    }

    async fn write_through(&self, table: &KeyTable, record: &KeyRecord) {
        match table.put(record).await {
            Ok(true) => self.deps.counters.add(Counter::TableWrites),
            Ok(false) => {
                tracing::info!(issuer = %self.issuer, "keys table already holds a newer key set")
            }
            Err(error) => {
                self.deps.counters.add(Counter::TableErrors);
                tracing::warn!(issuer = %self.issuer, table = table.name(), error = %error, "keys table write failed");
            }
        }
    }

    async fn url(&self) -> Result<&str, UpstreamError> {
        let url = self
            .resolved_url
            .get_or_try_init(|| async {
                if matches!(self.location, JwksLocation::Discover) {
                    self.deps.counters.add(Counter::JwksFetches);
                }
                resolve_url(&self.deps.client, &self.issuer, &self.location).await
            })
            .await?;
        Ok(url.as_str())
    }
}
