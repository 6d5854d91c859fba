//! The key tiers of one issuer: memory first, then the JWKS endpoint as last resort.
//! Unknown `kid`s refresh at most once per cooldown window, and concurrent misses share
//! one in-flight fetch; a failed refresh keeps the keys the container had.

mod jwks;
mod memory;

use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};

pub use jwks::{JwksClient, MAX_DOCUMENT_BYTES};
pub use memory::MemoryTier;

use crate::clock::Clock;
use crate::config::{IssuerConfig, JwksLocation};
use crate::error::{KeyError, UpstreamError};
use crate::jwk::{Algorithm, KeySet};

/// The keys of one JWKS issuer and the tiers behind them.
pub struct IssuerKeys {
    issuer: String,
    algorithms: Vec<Algorithm>,
    location: JwksLocation,
    resolved_url: OnceCell<String>,
    client: Arc<JwksClient>,
    memory: MemoryTier,
    refresh: Mutex<RefreshState>,
    cooldown_seconds: u64,
    clock: Arc<dyn Clock>,
}

/// Guarded by the refresh lock: when the upstream was last asked.
#[derive(Debug, Default)]
struct RefreshState {
    last_attempt: Option<u64>,
}

impl IssuerKeys {
    /// Key store for `issuer`; loads nothing until [`IssuerKeys::warm_up`] or a lookup.
    pub fn new(
        issuer: &IssuerConfig,
        location: JwksLocation,
        client: Arc<JwksClient>,
        cooldown_seconds: u64,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            issuer: issuer.issuer.clone(),
            algorithms: issuer.algorithms.clone(),
            location,
            resolved_url: OnceCell::new(),
            client,
            memory: MemoryTier::default(),
            refresh: Mutex::new(RefreshState::default()),
            cooldown_seconds,
            clock,
        }
    }

    /// The issuer these keys belong to.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The keys in memory, if any.
    pub fn cached(&self) -> Option<Arc<KeySet>> {
        self.memory.get()
    }

    /// Puts the keys of a JWKS document in memory, as if fetched (for key material that
    /// arrives another way: a stored copy, a benchmark fixture).
    pub fn load_document(&self, document: &[u8]) -> Result<(), UpstreamError> {
        let set = KeySet::from_jwks(document, &self.algorithms)?;
        self.memory.set(Arc::new(set));
        Ok(())
    }

    /// Loads the keys during Lambda init. Counts as a fetch for the cooldown; a failure is
    /// logged and the first request that needs a key tries again once the window passed.
    pub async fn warm_up(&self) {
        let mut state = self.refresh.lock().await;
        self.refresh_locked(&mut state, "cold_start").await;
    }

    /// A key set that holds `kid`: from memory, else after at most one refresh per
    /// cooldown window (concurrent misses wait for the same refresh).
    pub async fn key_set_with(&self, kid: &str) -> Result<Arc<KeySet>, KeyError> {
        if let Some(set) = self.memory.get().filter(|set| set.contains(kid)) {
            return Ok(set);
        }
        let mut state = self.refresh.lock().await;
        // Another request may have refreshed while this one waited for the lock.
        if let Some(set) = self.memory.get().filter(|set| set.contains(kid)) {
            return Ok(set);
        }
        let now = self.clock.now();
        let cooling = state
            .last_attempt
            .is_some_and(|t| now < t.saturating_add(self.cooldown_seconds));
        if !cooling {
            self.refresh_locked(&mut state, "key_miss").await;
        }
        match self.memory.get() {
            Some(set) if set.contains(kid) => Ok(set),
            Some(_) => Err(KeyError::UnknownKid),
            None => Err(KeyError::Unavailable),
        }
    }

    async fn refresh_locked(&self, state: &mut RefreshState, reason: &'static str) {
        state.last_attempt = Some(self.clock.now());
        match self.fetch().await {
            Ok(set) => {
                tracing::info!(issuer = %self.issuer, tier = "jwks", reason, kids = ?set.kids(), "keys loaded");
                self.memory.set(Arc::new(set));
            }
            Err(error) => {
                let kept = self.memory.get().map_or(0, |set| set.len());
                tracing::warn!(issuer = %self.issuer, tier = "jwks", reason, error = %error, error_kind = error.kind(), kept_keys = kept, "key refresh failed; keeping cached keys");
            }
        }
    }

    async fn url(&self) -> Result<&str, UpstreamError> {
        let url = self
            .resolved_url
            .get_or_try_init(|| async {
                match &self.location {
                    JwksLocation::Url(url) => Ok(url.clone()),
                    JwksLocation::Discover => self.client.discover(&self.issuer).await,
                }
            })
            .await?;
        Ok(url.as_str())
    }

    async fn fetch(&self) -> Result<KeySet, UpstreamError> {
        let url = self.url().await?;
        let body = self.client.get(url).await?;
        KeySet::from_jwks(&body, &self.algorithms)
    }
}
