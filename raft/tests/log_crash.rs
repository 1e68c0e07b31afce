//! The Raft log survives `kill -9` in the middle of appends.
//!
//! Appends are plain sled inserts, one per entry, not an atomic batch (see
//! `log_store`): that is safe only because sled recovers a prefix of what
//! was written. This test checks exactly that, with a real process and a
//! real kill: a child process (this same test binary, re-run for its
//! ignored `child_appender` with [`CHILD_DIR`] set) appends multi-entry
//! batches of ~2 KiB entries as fast as it can — several appends in flight
//! before it waits for their flush — and prints the highest index whose
//! flush completed. The parent kills it
//! at a moment that varies per round, reopens the log and checks:
//!
//! * the log is contiguous: every index from the first to the last, no hole;
//! * nothing acknowledged is missing: the last index is at least the highest
//!   one the child reported flushed;
//! * every entry reads back whole (decodes, carries its own index).
//!
//! Each round continues the same log, so later rounds also recover on top
//! of earlier recoveries.

mod log_fixtures;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use lauradb_raft::log_store::LogStore;
use lauradb_raft::types::{Entry, TypeConfig};
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::type_config::TypeConfigExt;
use openraft::{EntryPayload, RaftLogReader};

use log_fixtures::{entry, open_when_free};

/// Set in the child's environment: the log directory to append to.
const CHILD_DIR: &str = "LAURADB_LOG_CRASH_CHILD_DIR";
const GROUP: u64 = 3;
/// Appends the child has out before it waits for their flushes.
const APPENDS_IN_FLIGHT: usize = 4;

async fn last_index(log: &mut LogStore) -> u64 {
    let state = log.get_log_state().await.expect("log state");
    state.last_log_id.map_or(0, |id| id.index)
}

/// The child: append until killed, printing `flushed <index>` lines.
async fn append_until_killed(dir: &Path) {
    let db = open_when_free(dir);
    let mut log = db.group(GROUP).expect("group log");
    let mut next = last_index(&mut log).await + 1;
    for round in 0_u64.. {
        let mut flushed = Vec::new();
        let mut last = next;
        for slot in 0..APPENDS_IN_FLIGHT as u64 {
            // 1 to 6 entries per append, varying.
            let count = 1 + (round + slot) % 6;
            let entries: Vec<Entry> = (next..next + count).map(|i| entry(i, 2048)).collect();
            next += count;
            last = next - 1;
            let (tx, rx) = TypeConfig::oneshot();
            log.append(entries, IOFlushed::signal(tx))
                .await
                .expect("append");
            flushed.push(rx);
        }
        for rx in flushed {
            rx.await.expect("flush callback").expect("flush");
        }
        println!("flushed {last}");
    }
}

/// Not a test of its own: the entry point of the child process, which the
/// test below starts with `--ignored --exact child_appender`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of a_killed_appender_leaves_a_contiguous_log_with_every_flushed_entry"]
async fn child_appender() {
    let dir = std::env::var(CHILD_DIR)
        .unwrap_or_else(|_| panic!("run by the kill test, with {CHILD_DIR} set"));
    append_until_killed(Path::new(&dir)).await;
}

/// Runs the child, kills it `after` the first flush report, and returns
/// the highest index it reported flushed.
fn run_and_kill(dir: &Path, after: Duration) -> u64 {
    let mut child = Process::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "child_appender",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if let Some(index) = line.strip_prefix("flushed ")
                && tx.send(index.parse::<u64>().expect("index")).is_err()
            {
                return;
            }
        }
    });
    let mut acknowledged = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the child reports a first flush");
    let kill_at = Instant::now() + after;
    while Instant::now() < kill_at {
        match rx.recv_timeout(kill_at.saturating_duration_since(Instant::now())) {
            Ok(index) => acknowledged = acknowledged.max(index),
            Err(_) => break,
        }
    }
    child.kill().expect("kill -9 the child");
    child.wait().expect("reap the child");
    // Every report printed before the kill counts as acknowledged: the
    // reader ends at the pipe's end, so after joining it none is in flight.
    reader.join().expect("stdout reader");
    while let Ok(index) = rx.try_recv() {
        acknowledged = acknowledged.max(index);
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_appender_leaves_a_contiguous_log_with_every_flushed_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log_dir = dir.path().join("log");
    let mut previous_last = 0;
    for (round, millis) in [35_u64, 180, 5, 90, 260].into_iter().enumerate() {
        let acknowledged = {
            let log_dir = log_dir.clone();
            tokio::task::spawn_blocking(move || {
                run_and_kill(&log_dir, Duration::from_millis(millis))
            })
            .await
            .expect("child runner")
        };
        let db = open_when_free(&log_dir);
        let mut log = db.group(GROUP).expect("group log");
        let state = log.get_log_state().await.expect("log state");
        assert_eq!(state.last_purged_log_id, None, "nothing was purged");
        let last = state.last_log_id.map_or(0, |id| id.index);
        assert!(
            last >= acknowledged,
            "round {round}: the log ends at {last}, but {acknowledged} was flushed"
        );
        assert!(last > previous_last, "round {round}: no progress");
        let entries = log
            .try_get_log_entries(1..last + 1)
            .await
            .expect("read back");
        assert_eq!(
            entries.len() as u64,
            last,
            "round {round}: a hole in 1..={last}"
        );
        for (expected, entry) in (1..).zip(&entries) {
            assert_eq!(entry.log_id.index, expected, "round {round}: out of place");
            let EntryPayload::Normal(proposal) = &entry.payload else {
                panic!("round {round}: entry {expected} lost its payload");
            };
            assert_eq!(proposal.stamp, expected);
            let commands = proposal.commands.decode().expect("commands decode");
            assert_eq!(commands.len(), 1);
        }
        eprintln!("round {round}: {acknowledged} flushed before the kill, {last} recovered");
        previous_last = last;
        drop(log);
        drop(db);
    }
}
