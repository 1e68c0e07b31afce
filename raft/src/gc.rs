//! Garbage collection of old MVCC versions, one background task per replica.
//!
//! Every write leaves a version behind: the previous value of an updated
//! document, a deleted document's tombstone, the previous result of each
//! client session, the previous `raft_applied` record. Nothing reads them
//! once no read can be at their timestamp, so each replica removes them in
//! the background: every [`RaftSettings::gc_every`](crate::RaftSettings) it
//! asks the engine to drop what no read at or after *latest commit −
//! [`gc_retention`](crate::RaftSettings)* can see (the engine lowers that
//! watermark further below any read still running, such as a snapshot
//! being built).
//!
//! This is housekeeping outside the log, not a command: replicas collect at
//! different moments, but what they remove is invisible to every read at or
//! above the watermark, so all replicas still answer every such read — and
//! export every snapshot — identically.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use lauradb_engine::engine::Engine;

use crate::group::Group;

/// Totals of one replica's collections, for status and tests.
#[derive(Debug, Default)]
pub struct GcTotals {
    pub runs: AtomicU64,
    pub versions_removed: AtomicU64,
}

/// The oldest commit timestamp reads may still use: `retention` of hybrid
/// clock time before `latest` (stamps are `millis << 16 | logical`).
fn watermark(latest: u64, retention: Duration) -> u64 {
    latest.saturating_sub((retention.as_millis() as u64) << 16)
}

/// Collects `group`'s engine every `every` while the group lives, skipping
/// rounds in which nothing was committed.
pub(crate) fn start(group: Weak<Group>, every: Duration, retention: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        let mut collected_at = None;
        loop {
            ticks.tick().await;
            let Some(group) = group.upgrade() else { return };
            let latest = group.engine.latest_commit_ts();
            if collected_at == Some(latest) {
                continue;
            }
            collected_at = Some(latest);
            let (engine, id, totals) = (group.engine.clone(), group.id, group.gc.clone());
            drop(group);
            let mark = watermark(latest, retention);
            collect(engine, id, mark, totals).await;
        }
    });
}

async fn collect(engine: Arc<Engine>, group: u64, watermark: u64, totals: Arc<GcTotals>) {
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || engine.gc(watermark)).await;
    match result {
        Ok(Ok(stats)) => {
            totals.runs.fetch_add(1, Ordering::Relaxed);
            totals
                .versions_removed
                .fetch_add(stats.versions_removed, Ordering::Relaxed);
            metrics::counter!("lauradb_engine_gc_versions_removed_total")
                .increment(stats.versions_removed);
            metrics::histogram!("lauradb_engine_gc_seconds")
                .record(started.elapsed().as_secs_f64());
            tracing::debug!(group, ?stats, elapsed = ?started.elapsed(), "mvcc gc");
        }
        Ok(Err(e)) => tracing::warn!(group, error = %e, "mvcc gc failed"),
        Err(e) => tracing::warn!(group, error = %e, "mvcc gc task failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_trails_the_latest_commit_by_the_retention() {
        let latest = 1_700_000_000_000_u64 << 16 | 7;
        let mark = watermark(latest, Duration::from_secs(5));
        assert_eq!(latest - mark, 5_000 << 16);
        assert_eq!(watermark(3, Duration::from_secs(5)), 0);
    }
}
