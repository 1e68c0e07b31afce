//! A hybrid logical clock for stamping proposals.
//!
//! A stamp is `physical_millis << 16 | logical`: it tracks wall time when the
//! clock moves forward and still increases strictly when it does not (or
//! when it jumps back). The leader stamps each proposal; the engine commits at
//! `max(previous + 1, stamp)` (DESIGN.md §3), so commit timestamps stay
//! unique and ordered even across leader changes with skewed clocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const LOGICAL_BITS: u32 = 16;

/// A hybrid logical clock. Cheap to share; `now` is lock-free.
#[derive(Debug, Default)]
pub struct HybridClock {
    last: AtomicU64,
}

impl HybridClock {
    pub fn new() -> HybridClock {
        HybridClock::default()
    }

    /// A stamp strictly greater than every stamp this clock returned or
    /// observed before.
    pub fn now(&self) -> u64 {
        let physical = wall_millis() << LOGICAL_BITS;
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = physical.max(last + 1);
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Moves the clock past a stamp seen elsewhere (e.g. the newest commit
    /// timestamp of the engine when this node becomes leader).
    pub fn observe(&self, stamp: u64) {
        self.last.fetch_max(stamp, Ordering::AcqRel);
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn wall_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_strictly_increase() {
        let clock = HybridClock::new();
        let mut previous = 0;
        for _ in 0..10_000 {
            let now = clock.now();
            assert!(now > previous);
            previous = now;
        }
    }

    #[test]
    fn observing_a_future_stamp_moves_the_clock_past_it() {
        let clock = HybridClock::new();
        let future = (wall_millis() + 60_000) << LOGICAL_BITS;
        clock.observe(future);
        assert!(clock.now() > future);
    }

    #[test]
    fn tracks_wall_time() {
        let clock = HybridClock::new();
        let stamp = clock.now() >> LOGICAL_BITS;
        assert!(stamp.abs_diff(wall_millis()) < 5_000);
    }
}
