//! The Raft log and vote on sled, shared by every group a node hosts.
//!
//! One sled database per node holds, for each group `g`, two trees:
//!
//! ```text
//!  g{g}/log   index (u64 BE) -> rmp(Entry)
//!  g{g}/meta  "vote" -> rmp(Vote), "committed" -> rmp(LogId),
//!             "last_purged" -> rmp(LogId)
//! ```
//!
//! Invariants openraft relies on:
//!
//! * **Durable before acknowledged.** `save_vote` returns only after the vote
//!   is flushed. `append` writes entries into the tree and hands its
//!   `IOFlushed` callback to the node's [`Flusher`], which calls it only after
//!   a sled flush that started after the write, followed by an `fdatasync`
//!   of sled's files (sled's own flush stops at `sync_file_range`, which does
//!   not survive a power loss; see `lauradb_engine::storage::DiskSync`) — so
//!   the callback means "on disk".
//! * **Group commit.** The flusher drains every callback that queued up while
//!   the previous flush ran and covers them all with one flush, across all
//!   groups of the node: many appends, one fsync. It is a thread of its own,
//!   not a task: a flush blocks, and every hand-off between threads costs a
//!   wake-up (on this project's VMs, tens of microseconds), so the append
//!   wakes the flusher and the flusher completes the callbacks — nothing in
//!   between.
//! * **No holes.** Entries are contiguous; `purge` records `last_purged`
//!   before deleting anything, so a crash mid-purge leaves a log that starts
//!   after `last_purged` or overlaps it, never a gap.
//! * **Purge in the background.** Deleting a purged prefix makes sled read
//!   the old leaves back from disk (tens of thousands of entries at a time
//!   under load), so `purge` only records `last_purged` and hands the
//!   deletion to the node's purger thread; the group's Raft core goes on at
//!   once. Until the purger is done, entries at or below `last_purged` may
//!   still be in sled: reads start above it and the log state ignores
//!   them. Nothing is ever written at those indexes again (Raft appends
//!   only past what it purged), so the purger cannot delete a live entry.
//!   It deletes front to back, one key at a time, so a crash leaves the
//!   overlap above, and opening a group hands any such leftover to it.
//! * **Ordered IO.** Every write goes to sled synchronously in call order, so
//!   a later write can never overtake an earlier one; sled recovers a prefix
//!   of what was written, so a crash mid-append leaves a prefix of the
//!   entries. Appends are plain inserts for that reason (a `sled::Batch`
//!   would cost two extra thread-pool wake-ups per append, see `append`);
//!   truncation keeps its batch, because deleting a suffix front to back
//!   without one could leave a hole.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use lauradb_engine::storage::DiskSync;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};

use crate::codec::{decode_io, encode_io};
use crate::log_cache::LogCache;
use crate::types::{Entry, GroupId, LogId, TypeConfig, Vote};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";
/// Encoded bytes of the newest entries each group keeps in memory (an
/// applied entry holds just its bytes, see `crate::commands`).
const CACHE_BYTES: usize = 32 << 20;

/// The node's log database: one sled `Db` and one flusher for all groups.
#[derive(Clone)]
pub struct LogDb {
    db: sled::Db,
    disk: Arc<DiskSync>,
    flusher: mpsc::Sender<IOFlushed<TypeConfig>>,
    purger: mpsc::Sender<PurgeJob>,
}

/// A sled flush followed by the fdatasync sled leaves out (see
/// `lauradb_engine::storage::DiskSync`): only then is the data durable
/// against power loss, not just against a crash of this process.
///
/// Both steps run on the calling thread: sled's `flush_async` would hand
/// the flush to sled's own thread pool, whose every new task wakes all of
/// its idle threads (`notify_all`), and then the fdatasync would need a
/// second hop.
fn flush_durably(db: &sled::Db, disk: &DiskSync) -> io::Result<()> {
    db.flush().map_err(io::Error::other)?;
    disk.sync()
}

impl LogDb {
    /// Opens (or creates) the log database in `path` and starts its flusher
    /// task on the current tokio runtime.
    pub fn open(path: &std::path::Path, cache_capacity_bytes: u64) -> io::Result<LogDb> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_capacity_bytes)
            // Durability comes from explicit flushes; no background timer.
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(io::Error::other)?;
        let disk = Arc::new(DiskSync::open(path)?);
        let (tx, rx) = mpsc::channel();
        let flusher = Flusher {
            db: db.clone(),
            disk: disk.clone(),
            rx,
        };
        std::thread::Builder::new()
            .name("raft-log-flush".into())
            .spawn(move || flusher.run())?;
        let (purger, jobs) = mpsc::channel();
        std::thread::Builder::new()
            .name("raft-log-purge".into())
            .spawn(move || run_purger(jobs))?;
        Ok(LogDb {
            db,
            disk,
            flusher: tx,
            purger,
        })
    }

    /// The log store of one group (created on first use).
    pub fn group(&self, group: GroupId) -> io::Result<LogStore> {
        let log = self
            .db
            .open_tree(format!("g{group}/log"))
            .map_err(io::Error::other)?;
        let meta = self
            .db
            .open_tree(format!("g{group}/meta"))
            .map_err(io::Error::other)?;
        let store = LogStore {
            group,
            db: self.db.clone(),
            disk: self.disk.clone(),
            log,
            meta,
            flusher: self.flusher.clone(),
            purger: self.purger.clone(),
            first_kept: Arc::default(),
            appended_bytes: Arc::default(),
            cache: Arc::new(Mutex::new(LogCache::new(CACHE_BYTES))),
        };
        // A purge that a crash or shutdown interrupted is finished now.
        if let Some(purged) = store.meta_get::<LogId>(LAST_PURGED)? {
            store.first_kept.store(purged.index + 1, Ordering::Release);
            store.delete_purged(purged.index)?;
        }
        Ok(store)
    }

    /// Flushes everything written so far.
    pub async fn flush(&self) -> io::Result<()> {
        flush_off_runtime(&self.db, &self.disk).await
    }
}

/// [`flush_durably`] for async callers (a vote, a purge): on a blocking
/// thread, so the runtime's workers never wait for the disk.
async fn flush_off_runtime(db: &sled::Db, disk: &Arc<DiskSync>) -> io::Result<()> {
    let (db, disk) = (db.clone(), Arc::clone(disk));
    tokio::task::spawn_blocking(move || flush_durably(&db, &disk))
        .await
        .map_err(|e| io::Error::other(format!("log flush task failed: {e}")))?
}

/// Completes append callbacks once their entries are on disk, many per flush.
/// Runs until every [`LogDb`] and [`LogStore`] of the database is dropped.
struct Flusher {
    db: sled::Db,
    disk: Arc<DiskSync>,
    rx: mpsc::Receiver<IOFlushed<TypeConfig>>,
}

impl Flusher {
    fn run(self) {
        let mut waiting = Vec::new();
        while let Ok(first) = self.rx.recv() {
            waiting.push(first);
            while let Ok(more) = self.rx.try_recv() {
                waiting.push(more);
            }
            let started = std::time::Instant::now();
            let result = flush_durably(&self.db, &self.disk);
            metrics::histogram!("lauradb_raft_log_flush_seconds")
                .record(started.elapsed().as_secs_f64());
            metrics::histogram!("lauradb_raft_log_flush_batch").record(waiting.len() as f64);
            tracing::trace!(callbacks = waiting.len(), elapsed = ?started.elapsed(), "raft log flush");
            for callback in waiting.drain(..) {
                callback.io_completed(match &result {
                    Ok(_) => Ok(()),
                    Err(e) => Err(io::Error::other(format!("raft log flush failed: {e}"))),
                });
            }
        }
    }
}

/// A purged prefix still to delete: every entry at or below `through`.
struct PurgeJob {
    group: GroupId,
    log: sled::Tree,
    through: u64,
}

/// Keys the purger reads ahead before deleting them.
const PURGE_CHUNK: usize = 1024;

/// Deletes purged prefixes, one job after another, front to back.
/// Runs until every [`LogDb`] and [`LogStore`] of the database is dropped.
fn run_purger(jobs: mpsc::Receiver<PurgeJob>) {
    while let Ok(job) = jobs.recv() {
        let started = std::time::Instant::now();
        match delete_through(&job.log, job.through) {
            Ok(deleted) => {
                metrics::counter!("lauradb_raft_log_purged_entries_total").increment(deleted);
                metrics::histogram!("lauradb_raft_log_purge_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
            // The entries stay (reads start above `last_purged`); the next
            // purge of this group, or its next opening, deletes them.
            Err(e) => tracing::warn!(group = job.group, through = job.through, error = %e,
                "cannot delete a purged part of the raft log"),
        }
    }
}

/// Deletes every entry with an index at or below `through`, lowest first;
/// returns how many there were. One `remove` per key, not a `sled::Batch`:
/// a batch takes the whole database's write lock and would stall every
/// append of every group while sled reads the old leaves back. Removes are
/// written in order and sled recovers a prefix of its writes, so a crash
/// leaves the log starting somewhere after `last_purged`, never a hole.
fn delete_through(log: &sled::Tree, through: u64) -> io::Result<u64> {
    let mut deleted = 0;
    loop {
        let keys = log
            .range(..=index_key(through))
            .keys()
            .take(PURGE_CHUNK)
            .collect::<Result<Vec<_>, _>>()
            .map_err(sled_io)?;
        if keys.is_empty() {
            return Ok(deleted);
        }
        for key in keys {
            log.remove(key).map_err(sled_io)?;
            deleted += 1;
        }
    }
}

/// One group's log and vote. Cheap to clone; clones share the trees.
#[derive(Clone)]
pub struct LogStore {
    group: GroupId,
    db: sled::Db,
    disk: Arc<DiskSync>,
    log: sled::Tree,
    meta: sled::Tree,
    flusher: mpsc::Sender<IOFlushed<TypeConfig>>,
    purger: mpsc::Sender<PurgeJob>,
    /// The lowest index not purged (`last_purged + 1`, 0 before any purge):
    /// sled may still hold entries below it until the purger is done.
    first_kept: Arc<AtomicU64>,
    /// Bytes of entries appended since this store was opened (for the
    /// checkpoint policy, see `crate::checkpoint`).
    appended_bytes: Arc<AtomicU64>,
    /// The newest entries, decoded (see `crate::log_cache`).
    cache: Arc<Mutex<LogCache>>,
}

fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn sled_io(e: sled::Error) -> io::Error {
    io::Error::other(e)
}

impl LogStore {
    /// The group this log belongs to.
    pub fn group(&self) -> GroupId {
        self.group
    }

    /// A counter of the bytes of entries appended since the store was
    /// opened, shared with every clone.
    pub fn appended_bytes(&self) -> Arc<AtomicU64> {
        self.appended_bytes.clone()
    }

    /// The lowest index sled still holds, purged entries the purger has not
    /// deleted yet included (for diagnostics and tests).
    pub fn first_stored_index(&self) -> io::Result<Option<u64>> {
        Ok(match self.log.first().map_err(sled_io)? {
            Some((key, _)) => {
                Some(u64::from_be_bytes(key.as_ref().try_into().map_err(
                    |_| io::Error::other("a raft log key is not 8 bytes"),
                )?))
            }
            None => None,
        })
    }

    fn cache(&self) -> MutexGuard<'_, LogCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads and decodes entries `range` from sled.
    fn read_stored(&self, range: std::ops::Range<u64>) -> io::Result<Vec<Entry>> {
        // Purged entries may not be deleted yet; they are not part of the log.
        let start = range.start.max(self.first_kept.load(Ordering::Acquire));
        if start >= range.end {
            return Ok(Vec::new());
        }
        let mut entries: Vec<Entry> = self
            .log
            .range(index_key(start)..index_key(range.end))
            .values()
            .map(|value| decode_io(&value.map_err(sled_io)?))
            .collect::<io::Result<_>>()?;
        // A purge that ran meanwhile may have deleted some of what this read
        // started at, leaving a gap; what is above its purge point is whole.
        let first_kept = self.first_kept.load(Ordering::Acquire);
        if first_kept > start {
            entries.retain(|entry| entry.log_id.index >= first_kept);
        }
        Ok(entries)
    }

    fn meta_get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> io::Result<Option<T>> {
        match self.meta.get(key).map_err(sled_io)? {
            Some(bytes) => Ok(Some(decode_io(&bytes)?)),
            None => Ok(None),
        }
    }

    fn meta_put<T: serde::Serialize>(&self, key: &[u8], value: &T) -> io::Result<()> {
        self.meta.insert(key, encode_io(value)?).map_err(sled_io)?;
        Ok(())
    }

    /// Hands the deletion of entries at or below `through` (already
    /// recorded as purged) to the purger thread.
    fn delete_purged(&self, through: u64) -> io::Result<()> {
        self.purger
            .send(PurgeJob {
                group: self.group,
                log: self.log.clone(),
                through,
            })
            .map_err(|_| io::Error::other("raft log purger has stopped"))
    }

    /// Deletes every entry whose index lies in `range`.
    fn remove_range(&self, range: impl RangeBounds<[u8; 8]>) -> io::Result<()> {
        let mut batch = sled::Batch::default();
        for key in self.log.range(range).keys() {
            batch.remove(key.map_err(sled_io)?);
        }
        self.log.apply_batch(batch).map_err(sled_io)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<Entry>> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => i.saturating_add(1),
            Bound::Excluded(i) => *i,
            Bound::Unbounded => u64::MAX,
        };
        if start >= end {
            return Ok(Vec::new());
        }
        let (older, cached) = self.cache().split(start..end);
        if older.is_empty() {
            metrics::counter!("lauradb_raft_log_cache_reads_total", "from" => "memory")
                .increment(1);
            return Ok(cached);
        }
        metrics::counter!("lauradb_raft_log_cache_reads_total", "from" => "disk").increment(1);
        // Entries older than the cache come from sled; if the cache moved on
        // meanwhile, the rest is read from sled too (it holds every entry).
        let mut entries = self.read_stored(older.clone())?;
        match cached.first() {
            Some(first) if first.log_id.index == older.end => entries.extend(cached),
            _ => entries.extend(self.read_stored(older.end..end)?),
        }
        Ok(entries)
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        self.meta_get(VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> io::Result<LogState<TypeConfig>> {
        let last_purged_log_id: Option<LogId> = self.meta_get(LAST_PURGED)?;
        // The newest entry, unless it is a purged one the purger has not
        // deleted yet (then everything is purged).
        let newest = match self.log.last().map_err(sled_io)? {
            Some((_, value)) => Some(decode_io::<Entry>(&value)?.log_id),
            None => None,
        };
        let last_log_id = match (newest, last_purged_log_id) {
            (Some(newest), Some(purged)) if newest.index <= purged.index => Some(purged),
            (None, purged) => purged,
            (newest, _) => newest,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> io::Result<()> {
        self.meta_put(VOTE, vote)?;
        flush_off_runtime(&self.db, &self.disk).await?;
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> io::Result<()> {
        // Not flushed: losing it only means re-applying fewer entries eagerly
        // after a restart; the leader re-establishes the commit index.
        match committed {
            Some(log_id) => self.meta_put(COMMITTED, &log_id),
            None => self.meta.remove(COMMITTED).map(|_| ()).map_err(sled_io),
        }
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogId>> {
        self.meta_get(COMMITTED)
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> io::Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // One `insert` per entry, in index order, not one `sled::Batch`: a
        // batch pins sled's log, which seals the current IO buffer twice,
        // and every sealed buffer is a task on sled's thread pool that wakes
        // all of its idle threads — that alone doubled the context switches
        // per write. Atomicity is not needed here: sled recovers a prefix of
        // its log, so a crash mid-append leaves a prefix of these entries
        // (contiguous, no hole), and none of them was acknowledged yet
        // (`tests/log_crash.rs` kills an appender mid-stream to check this).
        // Everything is encoded before anything is written, so an entry
        // that cannot be encoded leaves the log as it was.
        let encoded_entries = entries
            .into_iter()
            .map(|entry| Ok((encode_io(&entry)?, entry)))
            .collect::<io::Result<Vec<_>>>()?;
        let (mut count, mut bytes) = (0_u64, 0_u64);
        let mut appended = Vec::with_capacity(encoded_entries.len());
        for (encoded, entry) in encoded_entries {
            let size = encoded.len();
            bytes += size as u64;
            self.log
                .insert(index_key(entry.log_id.index), encoded)
                .map_err(sled_io)?;
            appended.push((entry, size));
            count += 1;
        }
        {
            let mut cache = self.cache();
            for (entry, size) in appended {
                cache.append(entry, size);
            }
        }
        self.appended_bytes.fetch_add(bytes, Ordering::Relaxed);
        metrics::counter!("lauradb_raft_log_entries_appended_total").increment(count);
        self.flusher
            .send(callback)
            .map_err(|_| io::Error::other("raft log flusher has stopped"))?;
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> io::Result<()> {
        match last_log_id {
            Some(log_id) => {
                self.cache().remove_from(log_id.index + 1);
                self.remove_range((Bound::Excluded(index_key(log_id.index)), Bound::Unbounded))?
            }
            None => {
                self.cache().clear();
                self.remove_range(..)?
            }
        }
        // Conflicting entries must not come back after a crash.
        flush_off_runtime(&self.db, &self.disk).await?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        // Record the purge point first: a crash after this line leaves extra
        // entries at the front (harmless), never a hole.
        self.meta_put(LAST_PURGED, &log_id)?;
        self.first_kept
            .fetch_max(log_id.index + 1, Ordering::AcqRel);
        self.cache().remove_through(log_id.index);
        self.delete_purged(log_id.index)
    }
}
