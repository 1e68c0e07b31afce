//! Purging the Raft log: `purge` returns as soon as the purge point is
//! recorded, reads and the log state leave the purged prefix out at once,
//! the node's purger thread deletes it from sled soon after, and a purge
//! that did not get to delete everything is finished when the group opens.

mod log_fixtures;

use std::path::Path;
use std::time::{Duration, Instant};

use lauradb_raft::log_store::{LogDb, LogStore};
use lauradb_raft::types::{Entry, TypeConfig};
use openraft::RaftLogReader;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::testing::log_id;
use openraft::type_config::TypeConfigExt;

use log_fixtures::{entry, open_when_free};

const GROUP: u64 = 3;

/// Appends entries `1..=last` and waits until they are flushed.
async fn append_through(log: &mut LogStore, last: u64) {
    for first in (1..=last).step_by(100) {
        let entries: Vec<Entry> = (first..=(first + 99).min(last))
            .map(|i| entry(i, 512))
            .collect();
        let (tx, rx) = TypeConfig::oneshot();
        log.append(entries, IOFlushed::signal(tx))
            .await
            .expect("append");
        rx.await.expect("flush callback").expect("flush");
    }
}

/// Waits (with a deadline) until sled holds nothing at or below `through`.
async fn wait_until_deleted(log: &LogStore, through: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let first = log.first_stored_index().expect("first stored index");
        if first.is_none_or(|first| first > through) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "entries from {first:?} up to {through} still stored after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What the log shows after entries up to `purged` of `1..=last` were purged.
async fn assert_purged(log: &mut LogStore, purged: u64, last: u64) {
    let state = log.get_log_state().await.expect("log state");
    assert_eq!(state.last_purged_log_id.map(|id| id.index), Some(purged));
    assert_eq!(state.last_log_id.map(|id| id.index), Some(last));
    let entries = log.try_get_log_entries(0..last + 1).await.expect("read");
    let indexes: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
    assert_eq!(indexes, (purged + 1..=last).collect::<Vec<_>>());
}

fn open(dir: &Path) -> (LogDb, LogStore) {
    let db = open_when_free(dir);
    let log = db.group(GROUP).expect("group log");
    (db, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purged_entries_leave_reads_at_once_and_sled_soon_after() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_db, mut log) = open(dir.path());
    append_through(&mut log, 3_000).await;

    log.purge(log_id::<TypeConfig>(1, 1, 2_000))
        .await
        .expect("purge");
    assert_purged(&mut log, 2_000, 3_000).await;
    wait_until_deleted(&log, 2_000).await;
    assert_eq!(log.first_stored_index().unwrap(), Some(2_001));
    assert_purged(&mut log, 2_000, 3_000).await;

    // Everything purged: the log state names the purge point as the last
    // entry, whether or not the purger got there yet.
    log.purge(log_id::<TypeConfig>(1, 1, 3_000))
        .await
        .expect("purge all");
    let state = log.get_log_state().await.expect("log state");
    assert_eq!(state.last_purged_log_id.map(|id| id.index), Some(3_000));
    assert_eq!(state.last_log_id.map(|id| id.index), Some(3_000));
    wait_until_deleted(&log, 3_000).await;
    assert_eq!(log.first_stored_index().unwrap(), None);

    // Appending goes on after the purge point.
    let (tx, rx) = TypeConfig::oneshot();
    log.append(vec![entry(3_001, 512)], IOFlushed::signal(tx))
        .await
        .expect("append after purge");
    rx.await.expect("flush callback").expect("flush");
    assert_purged(&mut log, 3_000, 3_001).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_cut_short_by_closing_is_finished_when_the_group_opens() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let (db, mut log) = open(dir.path());
        append_through(&mut log, 2_000).await;
        log.purge(log_id::<TypeConfig>(1, 1, 1_500))
            .await
            .expect("purge");
        // Make the purge point durable, then close at once: the purger may
        // have deleted all, some or none of the prefix.
        db.flush().await.expect("flush");
    }
    // The previous purger thread lets go of sled's lock when it ends.
    let db = open_when_free(dir.path());
    let mut log = db.group(GROUP).expect("group log");
    assert_purged(&mut log, 1_500, 2_000).await;
    wait_until_deleted(&log, 1_500).await;
    assert_eq!(log.first_stored_index().unwrap(), Some(1_501));
}
