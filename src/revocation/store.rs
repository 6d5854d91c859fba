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
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::{Key, Lookup, Revocation, RevocationStore};
    use crate::error::UpstreamError;

    /// Items in memory, for tests and benchmarks: counts lookups and the keys asked
    /// for, and can be made slow or failing.
    #[derive(Debug, Default)]
    pub struct MemoryStore {
        items: Mutex<HashMap<String, Revocation>>,
        asked: Mutex<Vec<String>>,
        lookups: AtomicUsize,
        failing: AtomicBool,
        delay: Mutex<Duration>,
    }

    impl MemoryStore {
        /// Stores `item` under `pk` (replacing any).
        pub fn put(&self, pk: &str, item: Revocation) {
            lock(&self.items).insert(pk.to_owned(), item);
        }

        /// Lookups so far.
        pub fn lookups(&self) -> usize {
            self.lookups.load(Ordering::SeqCst)
        }

        /// Every key asked for so far, in order.
        pub fn asked(&self) -> Vec<String> {
            lock(&self.asked).clone()
        }

        /// Makes every lookup fail (`true`) or succeed.
        pub fn set_failing(&self, failing: bool) {
            self.failing.store(failing, Ordering::SeqCst);
        }

        /// Makes every lookup take `delay` (tokio time) before answering.
        pub fn set_delay(&self, delay: Duration) {
            *lock(&self.delay) = delay;
        }
    }

    fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    impl RevocationStore for MemoryStore {
        fn lookup<'a>(&'a self, keys: &'a [Key]) -> Lookup<'a> {
            Box::pin(async move {
                self.lookups.fetch_add(1, Ordering::SeqCst);
                lock(&self.asked).extend(keys.iter().map(|k| k.pk.clone()));
                let delay = *lock(&self.delay);
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                if self.failing.load(Ordering::SeqCst) {
                    return Err(UpstreamError::Timeout);
                }
                let items = lock(&self.items);
                Ok(keys
                    .iter()
                    .filter_map(|k| items.get(&k.pk).map(|item| (k.pk.clone(), *item)))
                    .collect())
            })
        }
    }
}
