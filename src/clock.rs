//! Time as an injected dependency, so expiry, cooldown and window logic is testable.
//!
//! Two clocks, for two jobs: the wall clock (epoch seconds) judges what carries a date
//! (`exp`, `nbf`, an item's `expires_at`); the monotonic clock measures durations
//! (cooldowns, how long memory may serve), so a wall clock that steps back cannot freeze
//! them. A wall clock that reads before 1970 is no time at all: [`Clock::now`] is `None`
//! and callers fail closed (a token is then refused, never accepted as "not expired").

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One reading of both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Wall clock: whole seconds since the Unix epoch.
    pub wall: u64,
    /// Monotonic clock: time since an arbitrary fixed point; never goes back.
    pub mono: Duration,
}

/// An optional instant of the monotonic clock that threads share without a lock (a
/// lease's end, the last failure); `None` is stored as `u64::MAX` nanoseconds, and an
/// instant that far away (584 years) is kept just short of it.
#[derive(Debug)]
pub struct AtomicMono(AtomicU64);

impl AtomicMono {
    const NONE: u64 = u64::MAX;

    /// Holding `at`.
    pub fn new(at: Option<Duration>) -> Self {
        Self(AtomicU64::new(Self::encode(at)))
    }

    /// The instant held.
    pub fn load(&self) -> Option<Duration> {
        match self.0.load(Ordering::Acquire) {
            Self::NONE => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// Holds `at` from now on.
    pub fn store(&self, at: Option<Duration>) {
        self.0.store(Self::encode(at), Ordering::Release);
    }

    fn encode(at: Option<Duration>) -> u64 {
        at.map_or(Self::NONE, |at| {
            u64::try_from(at.as_nanos()).unwrap_or(Self::NONE - 1)
        })
    }
}

/// Source of the current time.
pub trait Clock: Send + Sync {
    /// Whole seconds since the Unix epoch; `None` when the system clock reads before it.
    fn wall(&self) -> Option<u64>;

    /// Time since a fixed point of this process; never goes back.
    fn monotonic(&self) -> Duration;

    /// Both clocks; `None` when the wall clock is unusable.
    fn now(&self) -> Option<Now> {
        Some(Now {
            wall: self.wall()?,
            mono: self.monotonic(),
        })
    }
}

/// The system's clocks.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// The system clocks; the monotonic one counts from this call.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn wall(&self) -> Option<u64> {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }

    fn monotonic(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Marks a manual wall clock set before the epoch.
const BEFORE_EPOCH: u64 = u64::MAX;

/// Clocks that only move when told to; for tests and benchmarks.
#[derive(Debug, Default)]
pub struct ManualClock {
    wall: AtomicU64,
    mono_nanos: AtomicU64,
}

impl ManualClock {
    /// Clocks standing at `now` epoch seconds (and monotonic zero).
    pub fn new(now: u64) -> Self {
        Self {
            wall: AtomicU64::new(now),
            mono_nanos: AtomicU64::new(0),
        }
    }

    /// Sets the wall clock to `now`, as a clock adjustment would: the monotonic clock
    /// does not move.
    pub fn set(&self, now: u64) {
        self.wall.store(now, Ordering::SeqCst);
    }

    /// Sets the wall clock before 1970.
    pub fn set_before_epoch(&self) {
        self.wall.store(BEFORE_EPOCH, Ordering::SeqCst);
    }

    /// Lets `seconds` pass: both clocks move forward.
    pub fn advance(&self, seconds: u64) {
        self.advance_by(Duration::from_secs(seconds));
    }

    /// Lets `elapsed` pass: both clocks move forward (the wall clock in whole seconds,
    /// rounded down).
    pub fn advance_by(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let before = self.mono_nanos.fetch_add(nanos, Ordering::SeqCst);
        let whole = |n: u64| n / 1_000_000_000;
        let seconds = whole(before.saturating_add(nanos)) - whole(before);
        let _ = self
            .wall
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
                (w != BEFORE_EPOCH).then(|| w.saturating_add(seconds))
            });
    }
}

impl Clock for ManualClock {
    fn wall(&self) -> Option<u64> {
        Some(self.wall.load(Ordering::SeqCst)).filter(|w| *w != BEFORE_EPOCH)
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(self.mono_nanos.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_instant_keeps_none_apart_from_any_instant() {
        let at = AtomicMono::new(None);
        assert_eq!(at.load(), None);
        at.store(Some(Duration::from_millis(1500)));
        assert_eq!(at.load(), Some(Duration::from_millis(1500)));
        at.store(Some(Duration::MAX));
        assert!(at.load().is_some(), "a far instant is not 'none'");
        at.store(None);
        assert_eq!(at.load(), None);
    }

    #[test]
    fn advancing_moves_both_clocks_and_setting_only_the_wall_clock() {
        let clock = ManualClock::new(1_000);
        clock.advance(5);
        assert_eq!(clock.wall(), Some(1_005));
        assert_eq!(clock.monotonic(), Duration::from_secs(5));
        clock.set(900);
        assert_eq!(clock.wall(), Some(900));
        assert_eq!(clock.monotonic(), Duration::from_secs(5));
    }

    #[test]
    fn sub_second_steps_add_up_on_the_wall_clock() {
        let clock = ManualClock::new(0);
        for _ in 0..4 {
            clock.advance_by(Duration::from_millis(300));
        }
        assert_eq!(clock.wall(), Some(1));
        assert_eq!(clock.monotonic(), Duration::from_millis(1_200));
    }

    #[test]
    fn a_wall_clock_before_1970_is_no_time() {
        let clock = ManualClock::new(1_000);
        clock.set_before_epoch();
        assert_eq!(clock.wall(), None);
        assert_eq!(clock.now(), None);
        clock.advance(10);
        assert_eq!(clock.wall(), None, "advancing does not make it valid");
    }

    #[test]
    fn the_system_clock_reads_after_1970_and_never_goes_back() {
        let clock = SystemClock::new();
        assert!(clock.wall().is_some_and(|w| w > 1_700_000_000));
        let a = clock.monotonic();
        assert!(clock.monotonic() >= a);
    }
}
