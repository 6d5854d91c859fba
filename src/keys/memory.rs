//! The memory tier: the key set a container currently trusts for one issuer, shared
//! lock-free-for-readers between requests as an `Arc` snapshot.

use std::sync::{Arc, RwLock};

use crate::jwk::KeySet;

/// The current keys of one issuer, replaced whole on every successful refresh.
#[derive(Debug, Default)]
pub struct MemoryTier {
    current: RwLock<Option<Arc<KeySet>>>,
}

impl MemoryTier {
    /// The current snapshot, if any keys were ever loaded.
    pub fn get(&self) -> Option<Arc<KeySet>> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the snapshot.
    pub fn set(&self, keys: Arc<KeySet>) {
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Some(keys);
    }
}
