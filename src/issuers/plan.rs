//! What to do with a token whose `iss` is not configured, decided as pure functions of
//! what the container remembers, the clock and the settings (the executor is
//! `registry.rs`). Scenario tests below cover each case: outside the patterns, cached
//! (found, disabled, absent, bad), over the lookup budget, a read that fails with or
//! without something cached.

use std::time::Duration;

/// The longest a container waits before it reads a registry item again after a read
/// failed, while it serves what it remembers (an outage costs one slow read per issuer
/// per this window, not one per request).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// What a container remembers of one issuer's registry item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known<T> {
    /// An active issuer, ready to verify tokens.
    Active(T),
    /// Registered, and disabled.
    Disabled,
    /// No item.
    Absent,
    /// An item that does not parse or names an issuer the patterns refuse.
    Invalid,
}

/// One remembered lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<T> {
    /// What the last successful read found.
    pub known: Known<T>,
    /// When that read started (monotonic clock).
    pub read_at: Duration,
    /// After a failed read: no new read before this instant.
    pub retry_at: Option<Duration>,
}

/// Why a token's issuer is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not configured, not registered, outside the patterns, a bad item, or over the
    /// lookup budget.
    Unknown,
    /// Registered and disabled.
    Disabled,
    /// The registry could not be read and nothing usable is remembered.
    Unavailable,
}

/// The step for one lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    /// Use this issuer.
    Use(T),
    /// Refuse the token, without a read.
    Refuse(Refusal),
    /// Read the item. `budgeted`: the read spends one of the lookup budget's tokens
    /// (an issuer this container has not cached, or only as absent or bad).
    Read {
        /// Whether the read counts against `TENANT_LOOKUPS_PER_SECOND`.
        budgeted: bool,
    },
}

/// The lookup settings the plan needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// `TENANT_CACHE_SECONDS`.
    pub cache: Duration,
    /// `KEYS_MAX_STALE_SECONDS`: how long past its cache time an active issuer may still
    /// serve while the registry cannot be read.
    pub max_stale: Duration,
}

/// The step for `iss` at `now`: `in_pattern` says whether it matches
/// `TENANT_ISSUER_PATTERN`, `entry` is what the container remembers of it.
pub fn lookup<T: Clone>(
    in_pattern: bool,
    entry: Option<&Entry<T>>,
    now: Duration,
    windows: Windows,
) -> Step<T> {
    if !in_pattern {
        return Step::Refuse(Refusal::Unknown);
    }
    let Some(entry) = entry else {
        return Step::Read { budgeted: true };
    };
    let fresh = now.saturating_sub(entry.read_at) < windows.cache;
    let waiting = entry.retry_at.is_some_and(|at| now < at);
    match (&entry.known, fresh || waiting) {
        (Known::Active(issuer), true) => Step::Use(issuer.clone()),
        (Known::Disabled, true) => Step::Refuse(Refusal::Disabled),
        (Known::Absent | Known::Invalid, true) => Step::Refuse(Refusal::Unknown),
        (Known::Active(_) | Known::Disabled, false) => Step::Read { budgeted: false },
        (Known::Absent | Known::Invalid, false) => Step::Read { budgeted: true },
    }
}

/// What a read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read<T> {
    /// The item, active, turned into an issuer.
    Active(T),
    /// The item, disabled.
    Disabled,
    /// No item.
    Absent,
    /// An item that does not parse or that the patterns refuse.
    Invalid,
    /// The table could not be read (timeout, throttling, unreachable).
    Failed,
}

/// After a read that started at `now`: what to remember (`None`: forget the issuer)
/// and the step it leads to. A failed read keeps an active issuer serving until
/// `max_stale` past its cache time (stale beats down) and a disabled one refused;
/// an issuer never read successfully is refused and forgotten, so the next invocation
/// tries again (within the lookup budget).
pub fn settle<T: Clone>(
    previous: Option<Entry<T>>,
    read: Read<T>,
    now: Duration,
    windows: Windows,
) -> (Option<Entry<T>>, Step<T>) {
    let remember = |known: Known<T>| Entry {
        known,
        read_at: now,
        retry_at: None,
    };
    match read {
        Read::Active(issuer) => (
            Some(remember(Known::Active(issuer.clone()))),
            Step::Use(issuer),
        ),
        Read::Disabled => (
            Some(remember(Known::Disabled)),
            Step::Refuse(Refusal::Disabled),
        ),
        Read::Absent => (
            Some(remember(Known::Absent)),
            Step::Refuse(Refusal::Unknown),
        ),
        Read::Invalid => (
            Some(remember(Known::Invalid)),
            Step::Refuse(Refusal::Unknown),
        ),
        Read::Failed => {
            let Some(mut entry) = previous else {
                return (None, Step::Refuse(Refusal::Unavailable));
            };
            let usable_until = entry
                .read_at
                .saturating_add(windows.cache)
                .saturating_add(windows.max_stale);
            entry.retry_at = Some(now.saturating_add(RETRY_AFTER_FAILURE));
            let step = match &entry.known {
                Known::Active(issuer) if now <= usable_until => Step::Use(issuer.clone()),
                Known::Active(_) => Step::Refuse(Refusal::Unavailable),
                Known::Disabled => Step::Refuse(Refusal::Disabled),
                Known::Absent | Known::Invalid => Step::Refuse(Refusal::Unknown),
            };
            if matches!(step, Step::Refuse(Refusal::Unavailable)) {
                return (None, step);
            }
            (Some(entry), step)
        }
    }
}

/// A token bucket: `rate` reads a second, at most `rate` at once. Counted in
/// billionths of a read, so refills are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    nano_reads: u128,
    last: Duration,
}

const NANOS_PER_READ: u128 = 1_000_000_000;

impl Budget {
    /// A full bucket at `now`.
    pub fn full(rate: u32, now: Duration) -> Self {
        Self {
            nano_reads: u128::from(rate) * NANOS_PER_READ,
            last: now,
        }
    }

    /// Spends one read if the bucket, refilled up to `now`, holds one.
    pub fn take(&mut self, rate: u32, now: Duration) -> bool {
        let elapsed = now.saturating_sub(self.last).as_nanos();
        self.last = self.last.max(now);
        let cap = u128::from(rate) * NANOS_PER_READ;
        self.nano_reads = self
            .nano_reads
            .saturating_add(elapsed.saturating_mul(u128::from(rate)))
            .min(cap);
        if self.nano_reads >= NANOS_PER_READ {
            self.nano_reads -= NANOS_PER_READ;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    const WINDOWS: Windows = Windows {
        cache: Duration::from_secs(60),
        max_stale: Duration::from_secs(600),
    };

    fn at(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    fn entry(known: Known<&'static str>, read_at: u64) -> Entry<&'static str> {
        Entry {
            known,
            read_at: at(read_at),
            retry_at: None,
        }
    }

    #[test]
    fn an_issuer_outside_the_patterns_is_refused_without_a_read() {
        let cached = entry(Known::Active("t1"), 0);
        assert_eq!(
            lookup(false, Some(&cached), at(1), WINDOWS),
            Step::Refuse(Refusal::Unknown)
        );
        assert_eq!(
            lookup::<&str>(false, None, at(1), WINDOWS),
            Step::Refuse(Refusal::Unknown)
        );
    }

    #[test]
    fn an_unknown_issuer_is_read_within_the_budget() {
        assert_eq!(
            lookup::<&str>(true, None, at(0), WINDOWS),
            Step::Read { budgeted: true }
        );
    }

    #[test]
    fn a_fresh_lookup_is_reused_found_or_not() {
        for (known, step) in [
            (Known::Active("t1"), Step::Use("t1")),
            (Known::Disabled, Step::Refuse(Refusal::Disabled)),
            (Known::Absent, Step::Refuse(Refusal::Unknown)),
            (Known::Invalid, Step::Refuse(Refusal::Unknown)),
        ] {
            assert_eq!(
                lookup(true, Some(&entry(known, 100)), at(159), WINDOWS),
                step
            );
        }
    }

    #[test]
    fn an_expired_lookup_is_read_again_known_issuers_outside_the_budget() {
        for (known, budgeted) in [
            (Known::Active("t1"), false),
            (Known::Disabled, false),
            (Known::Absent, true),
            (Known::Invalid, true),
        ] {
            assert_eq!(
                lookup(true, Some(&entry(known, 100)), at(160), WINDOWS),
                Step::Read { budgeted }
            );
        }
    }

    #[test]
    fn a_read_is_remembered_from_when_it_started() {
        for (read, known, step) in [
            (Read::Active("t1"), Known::Active("t1"), Step::Use("t1")),
            (
                Read::Disabled,
                Known::Disabled,
                Step::Refuse(Refusal::Disabled),
            ),
            (Read::Absent, Known::Absent, Step::Refuse(Refusal::Unknown)),
            (
                Read::Invalid,
                Known::Invalid,
                Step::Refuse(Refusal::Unknown),
            ),
        ] {
            let (kept, got) = settle(Some(entry(Known::Active("old"), 0)), read, at(70), WINDOWS);
            assert_eq!(kept, Some(entry(known, 70)));
            assert_eq!(got, step);
        }
    }

    #[test]
    fn a_disable_takes_effect_at_the_next_read() {
        let cached = entry(Known::Active("t1"), 0);
        assert_eq!(
            lookup(true, Some(&cached), at(59), WINDOWS),
            Step::Use("t1")
        );
        assert_eq!(
            lookup(true, Some(&cached), at(60), WINDOWS),
            Step::Read { budgeted: false }
        );
        let (kept, step) = settle(Some(cached), Read::Disabled, at(60), WINDOWS);
        assert_eq!(step, Step::Refuse(Refusal::Disabled));
        assert_eq!(
            lookup(true, kept.as_ref(), at(61), WINDOWS),
            Step::Refuse(Refusal::Disabled)
        );
    }

    #[test]
    fn a_failed_read_serves_a_known_issuer_stale_and_retries_a_second_later() {
        let cached = entry(Known::Active("t1"), 0);
        let (kept, step) = settle(Some(cached), Read::Failed, at(100), WINDOWS);
        assert_eq!(step, Step::Use("t1"));
        let kept = kept.unwrap();
        assert_eq!(kept.retry_at, Some(at(101)));
        assert_eq!(kept.read_at, at(0));
        assert_eq!(lookup(true, Some(&kept), at(100), WINDOWS), Step::Use("t1"));
        assert_eq!(
            lookup(true, Some(&kept), at(101), WINDOWS),
            Step::Read { budgeted: false }
        );
    }

    #[test]
    fn stale_is_bounded() {
        let cached = entry(Known::Active("t1"), 0);
        let (kept, step) = settle(Some(cached.clone()), Read::Failed, at(660), WINDOWS);
        assert_eq!(step, Step::Use("t1"));
        assert!(kept.is_some());
        let (kept, step) = settle(Some(cached), Read::Failed, at(661), WINDOWS);
        assert_eq!(step, Step::Refuse(Refusal::Unavailable));
        assert_eq!(kept, None);
    }

    #[test]
    fn a_failed_read_keeps_a_disabled_issuer_refused() {
        let (kept, step) = settle(
            Some(entry(Known::<&str>::Disabled, 0)),
            Read::Failed,
            at(100),
            WINDOWS,
        );
        assert_eq!(step, Step::Refuse(Refusal::Disabled));
        assert!(kept.is_some());
    }

    #[test]
    fn an_issuer_never_read_is_refused_and_forgotten_when_the_table_is_down() {
        let (kept, step) = settle::<&str>(None, Read::Failed, at(5), WINDOWS);
        assert_eq!(step, Step::Refuse(Refusal::Unavailable));
        assert_eq!(kept, None);
    }

    #[test]
    fn the_budget_allows_rate_reads_a_second() {
        let mut budget = Budget::full(5, at(0));
        let taken = (0..20).filter(|_| budget.take(5, at(0))).count();
        assert_eq!(taken, 5);
        assert!(!budget.take(5, Duration::from_millis(100)));
        assert!(budget.take(5, Duration::from_millis(200)));
        let later = (0..20).filter(|_| budget.take(5, at(10))).count();
        assert_eq!(later, 5, "the bucket holds at most one second of reads");
    }
}
