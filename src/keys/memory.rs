//! The memory tier: the key set a container currently trusts for one issuer, shared
//! between requests as an `Arc` snapshot, and its lease: how long it may serve without a
//! reload (while its keys are live and, with a table, until `KEYS_MEMORY_SECONDS` after
//! the last table read; see `plan::lease_end`). Reading it takes no lock a reload holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::Tier;
use crate::clock::Now;
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

/// A lease without a monotonic end (no table: keys serve until they expire).
const UNBOUNDED: u64 = u64::MAX;

/// The current keys of one issuer, replaced whole on every load, and their lease.
#[derive(Debug)]
pub struct MemoryTier {
    current: RwLock<Option<Arc<Snapshot>>>,
    /// The lease's end on the monotonic clock, in nanoseconds.
    lease_end_nanos: AtomicU64,
}

impl Default for MemoryTier {
    fn default() -> Self {
        Self {
            current: RwLock::new(None),
            lease_end_nanos: AtomicU64::new(0),
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
        let end = self.lease_end_nanos.load(Ordering::Acquire);
        let within = end == UNBOUNDED || now.mono.as_nanos() < u128::from(end);
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
        let nanos = end.map_or(UNBOUNDED, |end| {
            u64::try_from(end.as_nanos()).unwrap_or(UNBOUNDED - 1)
        });
        self.lease_end_nanos.store(nanos, Ordering::Release);
    }
}
