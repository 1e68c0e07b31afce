//! When to build a snapshot: after enough log *bytes*, not only entries.
//!
//! A snapshot is the state machine's checkpoint. It bounds two things: the
//! log kept on disk (openraft purges the log up to a snapshot, less
//! [`keep_entries_after_snapshot`](crate::RaftSettings)), and — for the
//! in-memory engine, whose durable form *is* the newest snapshot plus the log
//! after it — how much log a restart re-applies. openraft's own policy counts
//! entries ([`snapshot_every_entries`](crate::RaftSettings)), but an entry
//! holds anywhere from one command to hundreds (see `proposer`), so entries
//! say little about either bound.
//!
//! So each replica also watches the bytes its log store appended and asks
//! openraft for a snapshot once they reach
//! `max(snapshot_every_log_bytes, size of the current snapshot)`. The second
//! term keeps the cost proportionate on large data sets: a snapshot rewrites
//! the whole state, so it waits until at least as many bytes of log arrived
//! (like Redis' `auto-aof-rewrite-percentage 100`); snapshots then cost at
//! most about one extra write of every byte logged, and a restart re-applies
//! at most about one data set's worth of log.
//!
//! The replicas of a group apply the same entries, so their logs grow alike
//! and, left alone, all of them would build a snapshot at the same moment —
//! one burst of disk writes on every replica at once, which stalls the log
//! fsyncs the group's writes wait on. So each replica's *first* snapshot
//! comes early by a share of the threshold that depends on its node id
//! ([`head_start`]: none, a third, two thirds); after that each one builds
//! at every threshold, so the three stay spread out.
//!
//! This decides *when* only; building, persisting and purging are openraft's
//! and [`crate::state_machine`]'s, and a request while a build runs is
//! ignored by openraft.

use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::group::Group;

/// How often a replica compares its log growth with the threshold.
const POLL: Duration = Duration::from_millis(500);

/// The bytes of log after which the next snapshot is due.
fn threshold(every_log_bytes: u64, current_snapshot_bytes: u64) -> u64 {
    every_log_bytes.max(current_snapshot_bytes)
}

/// How many bytes of log the first snapshot of node `node`'s replica comes
/// early by: 0, a third or two thirds of `every_log_bytes`, by node id.
fn head_start(node: u64, every_log_bytes: u64) -> u64 {
    every_log_bytes / 3 * (node % 3)
}

/// Watches `appended` (the group's log-store byte counter) while the group
/// lives and triggers a snapshot whenever the threshold is crossed.
pub(crate) fn start(group: Weak<Group>, node: u64, appended: Arc<AtomicU64>, every_log_bytes: u64) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(POLL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut since = appended.load(Ordering::Relaxed);
        let mut head_start = head_start(node, every_log_bytes);
        loop {
            ticks.tick().await;
            let Some(group) = group.upgrade() else { return };
            let now = appended.load(Ordering::Relaxed);
            let grown = now.saturating_sub(since) + head_start;
            if grown < every_log_bytes {
                // Below the smallest threshold: no need to look at the disk.
                continue;
            }
            let current = match group.snapshots.current() {
                Ok(Some(file)) => file.size_bytes().unwrap_or(0),
                Ok(None) => 0,
                Err(e) => {
                    tracing::warn!(group = group.id, error = %e, "cannot list snapshots");
                    0
                }
            };
            if grown < threshold(every_log_bytes, current) {
                continue;
            }
            since = now;
            head_start = 0;
            tracing::debug!(
                group = group.id,
                log_bytes = now,
                snapshot_bytes = current,
                "log grew past the checkpoint threshold; building a snapshot"
            );
            metrics::counter!("lauradb_raft_snapshots_triggered_total").increment(1);
            if let Err(e) = group.raft.trigger().snapshot().await {
                tracing::warn!(group = group.id, error = %e, "cannot trigger a snapshot");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_grows_with_the_snapshot() {
        assert_eq!(threshold(64 << 20, 0), 64 << 20);
        assert_eq!(threshold(64 << 20, 10 << 20), 64 << 20);
        assert_eq!(threshold(64 << 20, 1 << 30), 1 << 30);
    }

    #[test]
    fn three_replicas_start_a_third_of_the_threshold_apart() {
        let every = 64 << 20;
        let starts: Vec<u64> = (1..=3).map(|node| head_start(node, every)).collect();
        assert_eq!(starts, vec![every / 3, every / 3 * 2, 0]);
        assert!(starts.iter().all(|s| *s < every));
    }
}
