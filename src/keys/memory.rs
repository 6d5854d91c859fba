//! The memory tier: the key set a container currently trusts for one issuer, with when it
//! was fetched and until when it is live, shared between requests as an `Arc` snapshot.

use std::sync::{Arc, RwLock};

use crate::jwk::KeySet;

/// One loaded key set and its timestamps (epoch seconds).
#[derive(Debug)]
pub struct Snapshot {
    /// The parsed keys.
    pub keys: KeySet,
    /// When the issuer served them.
    pub fetched_at: u64,
    /// When they stop being live (they may still serve as stale, see `KEYS_MAX_STALE_SECONDS`).
    pub expires_at: u64,
}

/// The current keys of one issuer, replaced whole on every load.
#[derive(Debug, Default)]
pub struct MemoryTier {
    current: RwLock<Option<Arc<Snapshot>>>,
}

impl MemoryTier {
    /// The current snapshot, if any keys were ever loaded.
    pub fn get(&self) -> Option<Arc<Snapshot>> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the snapshot.
    pub fn set(&self, snapshot: Snapshot) {
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Some(Arc::new(snapshot));
    }
}
