//! The revocation check, carried out: for a valid token, the cache says which of its
//! items are known, which another decision is reading, and which to read; this decision
//! reads its share in one round trip (unless the table rests after a failure), waits for
//! the rest, and [`decide::judge`] gives the verdict. Logs and counts what it did.

use std::sync::Arc;
use std::time::Duration;

use super::cache::{Cache, Claim, Flight, Found};
use super::decide::{self, Check, ERROR_WINDOW, Known, MAX_ITEMS, TokenIds, Via};
use super::store::RevocationStore;
use crate::claims::Claims;
use crate::clock::{AtomicMono, Now};
use crate::config::{OnError, RevocationSettings};
use crate::error::TokenError;
use crate::metrics::{Counter, Counters};

/// Longest a decision waits for another decision's lookup of the same item (that
/// lookup is itself bounded by the store; this only guards against a lost one).
const WAIT_BOUND: Duration = Duration::from_millis(1500);

/// Revocation checks of one container: the settings, the store, the cache.
pub struct Revocations {
    settings: RevocationSettings,
    store: Arc<dyn RevocationStore>,
    cache: Cache,
    skew: u64,
    counters: Arc<Counters>,
    /// When the last lookup failed (monotonic); `None` before any failure.
    failed_at: AtomicMono,
}

impl Revocations {
    /// Checks against `store`, with `skew` (`CLOCK_SKEW_SECONDS`) added to every item's
    /// `expires_at`.
    pub fn new(
        settings: RevocationSettings,
        store: Arc<dyn RevocationStore>,
        counters: Arc<Counters>,
        skew: u64,
    ) -> Self {
        Self {
            cache: Cache::new(settings.cache, settings.cache_bytes),
            settings,
            store,
            skew,
            counters,
            failed_at: AtomicMono::new(None),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &RevocationSettings {
        &self.settings
    }

    /// Items held by the cache (for tests).
    pub fn cached_items(&self) -> usize {
        self.cache.len()
    }

    /// Whether the valid token of `issuer` with `claims` may pass at `now`: `Ok`, or
    /// [`TokenError::Revoked`], or (items unreadable and `REVOCATION_ON_ERROR=deny`)
    /// [`TokenError::RevocationUnavailable`].
    pub async fn check(&self, issuer: &str, claims: &Claims, now: Now) -> Result<(), TokenError> {
        let ids = TokenIds::from_claims(claims);
        let items = decide::items(issuer, &ids);
        let wanted = items.as_slice();
        if wanted.is_empty() {
            return Ok(());
        }
        let callable = decide::may_call(self.failed_at.load(), now.mono, ERROR_WINDOW);
        let (classified, flight) = self.cache.begin(issuer, wanted, now.mono, callable);
        let found = match flight {
            // Boxed: only a lookup pays for its future's size, not every decision.
            Some(flight) => Some(Box::pin(self.look_up(issuer, flight, now)).await),
            None => None,
        };
        let mut known = [(Via::Subject, Known::Current(None)); MAX_ITEMS];
        for ((slot, (via, _, _)), claim) in known.iter_mut().zip(wanted).zip(classified) {
            let item = match claim {
                None => continue,
                Some(Claim::Ready(item)) => item,
                Some(Claim::Mine { last, pk }) => Claim::resolve(found.as_deref(), &pk, last),
                Some(Claim::Wait {
                    mut result,
                    last,
                    pk,
                }) => {
                    let waited = Box::pin(tokio::time::timeout(
                        WAIT_BOUND,
                        result.wait_for(Option::is_some),
                    ))
                    .await;
                    let published = match &waited {
                        Ok(Ok(value)) => Option::clone(value),
                        _ => None,
                    };
                    Claim::resolve(published.as_deref(), &pk, last)
                }
            };
            *slot = (*via, item);
        }
        let known = known.get(..wanted.len()).unwrap_or(&[]);
        match decide::judge(ids.iat, known, now.wall, self.skew, self.settings.on_error) {
            Check::Clear => Ok(()),
            Check::Revoked(via) => {
                self.counters.add(Counter::RevokedTokens);
                tracing::debug!(iss = issuer, via = via.as_str(), "token revoked");
                Err(TokenError::Revoked)
            }
            Check::Unknown(on_error) => {
                self.counters.add(Counter::RevocationUnchecked);
                match on_error {
                    OnError::Allow => {
                        tracing::warn!(
                            iss = issuer,
                            on_error = on_error.as_str(),
                            "revocation status unknown: token allowed unchecked (REVOCATION_ON_ERROR=allow)"
                        );
                        Ok(())
                    }
                    OnError::Deny => Err(TokenError::RevocationUnavailable),
                }
            }
        }
    }

    /// Reads the items of `flight` in one round trip and stores what it found.
    async fn look_up(&self, issuer: &str, flight: Flight<'_>, now: Now) -> Arc<Found> {
        self.counters.add(Counter::RevocationLookups);
        let keys = flight.keys();
        let result = self.store.lookup(&keys).await;
        if let Err(error) = &result {
            self.counters.add(Counter::RevocationErrors);
            self.failed_at.store(Some(now.mono));
            tracing::warn!(iss = issuer, error = %error, error_kind = error.as_str(), window_s = ERROR_WINDOW.as_secs(), on_error = self.settings.on_error.as_str(), "revocation lookup failed; REVOCATION_ON_ERROR decides until the table answers again");
        }
        flight.finish(
            result
                .map(|items| items.into_iter().collect())
                .map_err(|_| ()),
        )
    }
}
