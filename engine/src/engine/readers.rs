//! The registry of running reads, which garbage collection must not overtake.
//!
//! A read registers its snapshot timestamp for as long as it runs; GC never
//! removes a version that the oldest registered read may still need (see
//! [`super::Engine::gc`]).
//!
//! Reads are the hot path and GC runs every few seconds, so the registry is
//! striped: each thread registers in its own stripe, a mutex on a cache line
//! of its own, and GC looks at every stripe. Concurrent reads on different
//! cores then never touch the same lock (one shared mutex, locked twice per
//! read, made point reads on two threads bounce its cache line between the
//! cores).
//!
//! Within a stripe, a timestamp's slot stays when its count drops to zero
//! (reads at the latest commit share one slot, so a read costs no
//! allocation); idle slots are swept once there are many.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

use crate::{Error, Result};

/// Stripes per registry: more than the cores of any machine we run on
/// usually have threads reading at once.
const STRIPES: usize = 16;

/// How many idle slots a stripe keeps before sweeping them.
const IDLE_SLOTS: usize = 64;

/// Running reads by snapshot timestamp.
#[derive(Debug, Default)]
pub(super) struct Readers {
    stripes: [CachePadded<Mutex<BTreeMap<u64, usize>>>; STRIPES],
}

impl Readers {
    /// Registers a read at `ts` until the guard is dropped.
    pub(super) fn register(&self, ts: u64) -> ReaderGuard<'_> {
        let stripe = &self.stripes[this_threads_stripe()];
        if let Ok(mut slots) = stripe.lock() {
            *slots.entry(ts).or_insert(0) += 1;
        }
        ReaderGuard { stripe, ts }
    }

    /// The snapshot timestamp of the oldest running read, if any.
    pub(super) fn oldest(&self) -> Result<Option<u64>> {
        let mut oldest: Option<u64> = None;
        for stripe in &self.stripes {
            let slots = stripe
                .lock()
                .map_err(|_| Error::Storage("reader registry poisoned".into()))?;
            if let Some((ts, _)) = slots.iter().find(|(_, count)| **count > 0) {
                oldest = Some(oldest.map_or(*ts, |o| o.min(*ts)));
            }
        }
        Ok(oldest)
    }
}

/// Unregisters a read when dropped.
pub(super) struct ReaderGuard<'a> {
    stripe: &'a Mutex<BTreeMap<u64, usize>>,
    ts: u64,
}

impl Drop for ReaderGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut slots) = self.stripe.lock()
            && let Some(count) = slots.get_mut(&self.ts)
        {
            *count -= 1;
            if *count == 0 && slots.len() > IDLE_SLOTS {
                slots.retain(|_, count| *count > 0);
            }
        }
    }
}

/// The stripe this thread registers in: threads take stripes round robin in
/// the order they first read.
fn this_threads_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|stripe| *stripe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_is_the_smallest_running_timestamp_across_threads() {
        let readers = Readers::default();
        assert_eq!(readers.oldest().unwrap(), None);
        let at_9 = readers.register(9);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let _at_4 = readers.register(4);
                assert_eq!(readers.oldest().unwrap(), Some(4));
            });
        });
        // The other thread's read ended.
        assert_eq!(readers.oldest().unwrap(), Some(9));
        drop(at_9);
        assert_eq!(readers.oldest().unwrap(), None);
    }

    #[test]
    fn idle_slots_are_swept_and_running_ones_kept() {
        let readers = Readers::default();
        let running = readers.register(1);
        for ts in 2..(IDLE_SLOTS as u64 + 10) {
            drop(readers.register(ts));
        }
        let stripe = readers.stripes[this_threads_stripe()].lock().unwrap();
        assert!(stripe.len() <= IDLE_SLOTS + 1, "{} slots", stripe.len());
        assert_eq!(stripe.get(&1), Some(&1));
        drop(stripe);
        drop(running);
        assert_eq!(readers.oldest().unwrap(), None);
    }
}
