//! The tenant registry's executor: follows [`plan`](super::plan)'s steps for a token
//! whose `iss` is not configured, does the one read a step asks for, and remembers the
//! answer within a memory bound. Every critical section is short and holds no `await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::Issuer;
use super::pattern::any_matches;
use super::plan::{self, Budget, Entry, Known, Read, Refusal, Step, Windows};
use super::registered::Status;
use super::store::RegistryStore;
use crate::clock::Now;
use crate::config::{IssuerConfig, TenantSettings};
use crate::error::TokenError;
use crate::keys::TierDeps;
use crate::metrics::Counter;

/// At most this many issuers remembered per container, found or not. A flood of random
/// issuers adds at most `TENANT_LOOKUPS_PER_SECOND` × `TENANT_CACHE_SECONDS` entries
/// (300 by default); past the bound, lookups that found nothing are forgotten first, and
/// new ones are not remembered.
pub const MAX_ENTRIES: usize = 4_096;

/// Registered issuers, found through the keys table.
pub struct Registry {
    settings: TenantSettings,
    windows: Windows,
    store: Arc<dyn RegistryStore>,
    deps: TierDeps,
    state: Mutex<State>,
}

struct State {
    entries: HashMap<String, Entry<Arc<Issuer>>>,
    budget: Option<Budget>,
}

impl Registry {
    /// The registry of `settings`, read through `store`; registered issuers' keys take
    /// the tiers of `deps`.
    pub fn new(settings: TenantSettings, store: Arc<dyn RegistryStore>, deps: TierDeps) -> Self {
        Self {
            windows: Windows {
                cache: settings.cache,
                max_stale: Duration::from_secs(deps.settings.max_stale_seconds),
            },
            settings,
            store,
            deps,
            state: Mutex::new(State {
                entries: HashMap::new(),
                budget: None,
            }),
        }
    }

    /// The settings (for `explain`).
    pub fn settings(&self) -> &TenantSettings {
        &self.settings
    }

    /// How many issuers this container remembers (for tests of the memory bound).
    pub fn remembered(&self) -> usize {
        self.lock().entries.len()
    }

    /// The registered issuer whose `iss` is `iss`, or why there is none.
    pub async fn find(&self, iss: &str, now: Now) -> Result<Arc<Issuer>, TokenError> {
        let in_pattern = any_matches(&self.settings.patterns, iss);
        let step = {
            let mut state = self.lock();
            let step = plan::lookup(in_pattern, state.entries.get(iss), now.mono, self.windows);
            if matches!(step, Step::Read { budgeted: true }) {
                let rate = self.settings.lookups_per_second;
                let budget = state
                    .budget
                    .get_or_insert_with(|| Budget::full(rate, now.mono));
                if !budget.take(rate, now.mono) {
                    self.deps.counters.add(Counter::RegistryOverBudget);
                    return Err(TokenError::UnknownIssuer);
                }
            }
            step
        };
        match step {
            Step::Use(issuer) => return Ok(issuer),
            Step::Refuse(refusal) => return Err(refused(refusal)),
            Step::Read { .. } => {}
        }
        // Boxed, as a key reload is: only a registry read pays for its future's size.
        let read = Box::pin(self.read(iss)).await;
        let mut state = self.lock();
        let previous = state.entries.remove(iss);
        let read = match read {
            Read::Active((config, tenant)) => Read::Active(self.issuer(config, tenant, &previous)),
            Read::Disabled => Read::Disabled,
            Read::Absent => Read::Absent,
            Read::Invalid => Read::Invalid,
            Read::Failed => Read::Failed,
        };
        let (kept, step) = plan::settle(previous, read, now.mono, self.windows);
        if let Some(entry) = kept {
            remember(&mut state.entries, iss, entry, now.mono, self.windows);
        }
        match step {
            Step::Use(issuer) => Ok(issuer),
            Step::Refuse(refusal) => Err(refused(refusal)),
            Step::Read { .. } => Err(TokenError::UnknownIssuer),
        }
    }

    /// Reads `iss`'s item and judges it; logs an item it ignores.
    async fn read(&self, iss: &str) -> Read<(IssuerConfig, Option<String>)> {
        self.deps.counters.add(Counter::RegistryLookups);
        match self.store.lookup(iss).await {
            Ok(None) => Read::Absent,
            Ok(Some(Err(reason))) => {
                tracing::error!(iss, reason, "registry item ignored: it does not parse");
                Read::Invalid
            }
            Ok(Some(Ok(registration))) if registration.issuer != iss => {
                tracing::error!(iss, "registry item ignored: it names another issuer");
                Read::Invalid
            }
            Ok(Some(Ok(registration))) => match registration.status {
                Status::Disabled => Read::Disabled,
                Status::Active => match registration.issuer_config(&self.settings.patterns) {
                    Ok(config) => Read::Active((config, registration.tenant)),
                    Err(reason) => {
                        tracing::error!(iss, reason, "registry item ignored");
                        Read::Invalid
                    }
                },
            },
            Err(error) => {
                self.deps.counters.add(Counter::RegistryErrors);
                tracing::warn!(
                    iss,
                    error = %error,
                    "registry read failed: issuers already known serve as they were"
                );
                Read::Failed
            }
        }
    }

    /// The issuer for a registration just read: the one already in use when nothing
    /// changed (its keys stay in memory, and cached tokens stay valid), else a new one.
    fn issuer(
        &self,
        config: IssuerConfig,
        tenant: Option<String>,
        previous: &Option<Entry<Arc<Issuer>>>,
    ) -> Arc<Issuer> {
        if let Some(Entry {
            known: Known::Active(old),
            ..
        }) = previous
        {
            if old.config == config && old.tenant.as_deref() == tenant.as_deref() {
                return Arc::clone(old);
            }
        }
        Arc::new(Issuer::new(config, &self.deps, tenant))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps `entry` for `iss` within [`MAX_ENTRIES`]: when full, forgets expired lookups
/// that found no active issuer, then any that found none; if still full (thousands of
/// active tenants), `entry` is not kept.
fn remember(
    entries: &mut HashMap<String, Entry<Arc<Issuer>>>,
    iss: &str,
    entry: Entry<Arc<Issuer>>,
    now: Duration,
    windows: Windows,
) {
    if entries.len() >= MAX_ENTRIES {
        entries.retain(|_, e| {
            matches!(e.known, Known::Active(_)) || now.saturating_sub(e.read_at) < windows.cache
        });
    }
    if entries.len() >= MAX_ENTRIES {
        entries.retain(|_, e| matches!(e.known, Known::Active(_)));
    }
    if entries.len() < MAX_ENTRIES {
        entries.insert(iss.to_owned(), entry);
    }
}

fn refused(refusal: Refusal) -> TokenError {
    match refusal {
        Refusal::Unknown => TokenError::UnknownIssuer,
        Refusal::Disabled => TokenError::IssuerDisabled,
        Refusal::Unavailable => TokenError::RegistryUnavailable,
    }
}
