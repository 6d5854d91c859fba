//! Where revocation items are read from: the [`RevocationStore`] trait, which the
//! DynamoDB table implements (`dynamo.rs`) and, for tests and benchmarks, an in-memory
//! [`MemoryStore`] that counts its lookups.

use std::future::Future;
use std::pin::Pin;

use super::record::{Key, Revocation};
use crate::error::UpstreamError;

/// A lookup under way: the items found among those asked for (absent ones left out).
pub type Lookup<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<(String, Revocation)>, UpstreamError>> + Send + 'a>>;

/// A source of revocation items.
pub trait RevocationStore: Send + Sync {
    /// Reads `keys` (at most three, distinct) in one round trip. An item that exists
    /// but does not parse is [`Revocation::Unreadable`], never "absent" nor an error.
    fn lookup<'a>(&'a self, keys: &'a [Key]) -> Lookup<'a>;
}

#[cfg(any(test, feature = "testkit"))]
pub use memory::MemoryStore;

#[cfg(any(test, feature = "testkit"))]
mod memory {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::{Key, Lookup, Revocation, RevocationStore};
    use crate::testkit::{Faults, lock};

    /// Items in memory, for tests and benchmarks: counts lookups and the keys asked
    /// for, and can be made slow or failing.
    #[derive(Debug, Default)]
    pub struct MemoryStore {
        items: Mutex<HashMap<String, Revocation>>,
        asked: Mutex<Vec<String>>,
        faults: Faults,
    }

    impl MemoryStore {
        /// Stores `item` under `pk` (replacing any).
        pub fn put(&self, pk: &str, item: Revocation) {
            lock(&self.items).insert(pk.to_owned(), item);
        }

        /// Lookups so far.
        pub fn lookups(&self) -> usize {
            self.faults.calls()
        }

        /// Every key asked for so far, in order.
        pub fn asked(&self) -> Vec<String> {
            lock(&self.asked).clone()
        }

        /// Makes every lookup fail (`true`) or succeed.
        pub fn set_failing(&self, failing: bool) {
            self.faults.set_failing(failing);
        }

        /// Makes every lookup take `delay` (tokio time) before answering.
        pub fn set_delay(&self, delay: Duration) {
            self.faults.set_delay(delay);
        }
    }

    impl RevocationStore for MemoryStore {
        fn lookup<'a>(&'a self, keys: &'a [Key]) -> Lookup<'a> {
            Box::pin(async move {
                lock(&self.asked).extend(keys.iter().map(|k| k.pk.clone()));
                self.faults.call().await?;
                let items = lock(&self.items);
                Ok(keys
                    .iter()
                    .filter_map(|k| items.get(&k.pk).map(|item| (k.pk.clone(), *item)))
                    .collect())
            })
        }
    }
}
