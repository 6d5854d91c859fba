//! The memory tier: the key set a container currently trusts for one issuer, shared
//! between requests as an `Arc` snapshot, and its lease: how long it may serve without a
//! reload (while its keys are live and, with a table, until `KEYS_MEMORY_SECONDS` after
//! the last table read; see `plan::lease_end`). Reading it takes no lock a reload holds.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::Tier;
use crate::clock::{AtomicMono, Now};
use crate::jwk::KeySet;

/// One loaded key set and its dates (epoch seconds).
#[derive(Debug)]
pub struct Snapshot {
    /// The parsed keys.
    pub keys: KeySet,
    /// When the issuer served them.
    pub fetched_at: u64,
    /// When they stop being live (they may still serve as stale, see `KEYS_MAX_STALE_SECONDS`).
    pub expires_at: u64,
    /// Where memory got them (`Memory`: handed over directly, e.g. a benchmark fixture).
    pub source: Tier,
}

/// The current keys of one issuer, replaced whole on every load, and their lease.
#[derive(Debug)]
pub struct MemoryTier {
    current: RwLock<Option<Arc<Snapshot>>>,
    /// The lease's end on the monotonic clock; `None`: no end (no table: keys serve
    /// until they expire).
    lease_end: AtomicMono,
}

impl Default for MemoryTier {
    fn default() -> Self {
        Self {
            current: RwLock::new(None),
            lease_end: AtomicMono::new(Some(Duration::ZERO)),
        }
    }
}

impl MemoryTier {
    /// The current snapshot, if any keys were ever loaded.
    pub fn get(&self) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The current snapshot if it may serve at `now` without a reload.
    pub fn leased(&self, now: Now) -> Option<Arc<Snapshot>> {
        let within = self.lease_end.load().is_none_or(|end| now.mono < end);
        self.get()
            .filter(|snapshot| within && now.wall < snapshot.expires_at)
    }

    /// Replaces the snapshot.
    pub fn set(&self, snapshot: Snapshot) {
        let mut guard = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *guard = Some(Arc::new(snapshot));
    }

    /// Sets the lease's end on the monotonic clock (`None`: only the keys' expiry).
    pub fn set_lease(&self, end: Option<Duration>) {
        self.lease_end.store(end);
    }
}
