//! The engine: a deterministic document state machine over MVCC storage.
//!
//! ```text
//!   apply(Command, stamp) ──▶ one writer at a time ──▶ WriteSet ──▶ mvcc.commit(ts)
//!        │                      │   reads the latest state
//!        │                      └── exactly-once check (session records)
//!   find / count / distinct ─▶ any number of readers at a snapshot ts
//! ```
//!
//! **Timestamps.** Every applied command commits at a timestamp strictly
//! greater than the previous one: `ts = max(last + 1, stamp)`, where `stamp`
//! is the proposer's hybrid-logical-clock reading carried in the log. Readers
//! pick a snapshot timestamp and see exactly the commands committed at or
//! before it.
//!
//! **Atomicity.** A command's document changes, catalog changes and its
//! exactly-once record are written in *one* MVCC commit. A command that fails
//! (bad update, duplicate key in `insertOne`, …) writes no document changes —
//! never a partial write — but still records its outcome for its session, so a
//! retry returns the same error instead of running again.
//!
//! **Exactly-once.** A command carrying `RequestId { session, seq }` is applied
//! only if `seq` is newer than the session's last one; a retry of the last one
//! returns the recorded outcome (Raft thesis §6.3).
//!
//! **Determinism.** `apply` reads no clock or randomness; `_id`s, `now` and the
//! stamp come in the command; iteration is in key order.

mod found;
mod op_metrics;
mod read;
mod readers;
mod session;
mod snapshot;
mod write;
mod writeset;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crossbeam_utils::sync::{ShardedLock, ShardedLockReadGuard};

use crate::catalog::{Catalog, CollectionMeta};
use crate::command::{Command, CommandResult, Namespace};
use crate::keyspace;
use crate::mvcc::Mvcc;
use crate::sharding::CollectionRouting;
use crate::storage::{
    MemoryStore, SledOptions, SledStore, Store, WriteBehindOptions, WriteBehindStore,
};
use crate::{Error, Result};
use readers::{ReaderGuard, Readers};

pub(crate) use read::collect_path_values;
pub use read::{CollectionInfo, CollectionStats, DatabaseInfo, FindOptions, ReadAt};
pub use snapshot::{SNAPSHOT_FORMAT, SnapshotReader, SnapshotRecord, read_records, write_record};

/// Where the engine keeps its data.
#[derive(Debug, Clone)]
pub enum StorageConfig {
    /// In memory only; gone when the engine is dropped. For tests and `--ephemeral`.
    Memory,
    /// A sled database in a directory.
    Sled {
        /// Data directory (created if missing).
        path: PathBuf,
        /// Page cache size in bytes.
        cache_capacity_bytes: u64,
        /// Background flush interval; `None` flushes only on [`Engine::flush`].
        flush_every_ms: Option<u64>,
    },
    /// sled on disk behind an in-memory mirror: reads and writes run at
    /// memory speed, a background thread persists writes to sled in order
    /// (see `storage::WriteBehindStore`). The whole data set lives in RAM.
    /// Meant for Raft state machines, whose log is the durable record;
    /// [`Engine::flush`] still makes everything durable.
    SledWriteBehind {
        /// Data directory (created if missing).
        path: PathBuf,
        /// sled's page cache size in bytes.
        cache_capacity_bytes: u64,
        /// sled's background flush interval.
        flush_every_ms: Option<u64>,
        /// Most bytes of writes queued for sled before writers wait.
        max_pending_bytes: usize,
    },
}

/// The result of applying one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The commit timestamp the command was applied at.
    pub commit_ts: u64,
    /// What the command did (or why it failed).
    pub result: CommandResult,
}

/// The document engine. Cheap to share behind an `Arc`; `apply` serialises
/// writers internally, readers run concurrently.
pub struct Engine {
    mvcc: Mvcc,
    /// Read by every read, replaced by commands that change the catalog
    /// (sharded: see `storage::memory` for why).
    catalog: ShardedLock<Arc<Catalog>>,
    writer: Mutex<()>,
    readers: Readers,
    metrics: op_metrics::ApplyMetrics,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("latest_ts", &self.mvcc.latest_commit_ts())
            .finish()
    }
}

const NEXT_COLLECTION_ID: &str = "next_collection_id";

impl Engine {
    /// Opens (or creates) an engine on the given storage and loads its catalog.
    pub fn open(config: StorageConfig) -> Result<Engine> {
        let store: Arc<dyn Store> = match config {
            StorageConfig::Memory => Arc::new(MemoryStore::new()),
            StorageConfig::Sled {
                path,
                cache_capacity_bytes,
                flush_every_ms,
            } => Arc::new(SledStore::open(
                &path,
                SledOptions {
                    cache_capacity_bytes,
                    flush_every_ms,
                },
            )?),
            StorageConfig::SledWriteBehind {
                path,
                cache_capacity_bytes,
                flush_every_ms,
                max_pending_bytes,
            } => {
                let durable = Arc::new(SledStore::open(
                    &path,
                    SledOptions {
                        cache_capacity_bytes,
                        flush_every_ms,
                    },
                )?);
                Arc::new(WriteBehindStore::new(
                    durable,
                    WriteBehindOptions { max_pending_bytes },
                )?)
            }
        };
        Engine::with_store(store)
    }

    /// An engine over an in-memory store.
    pub fn in_memory() -> Engine {
        Engine::with_store(Arc::new(MemoryStore::new()))
            .expect("an empty in-memory store always opens")
    }

    /// Opens an engine over any store.
    pub fn with_store(store: Arc<dyn Store>) -> Result<Engine> {
        let mvcc = Mvcc::new(store)?;
        let catalog = load_catalog(&mvcc, u64::MAX)?;
        Ok(Engine {
            mvcc,
            catalog: ShardedLock::new(Arc::new(catalog)),
            writer: Mutex::new(()),
            readers: Readers::default(),
            metrics: op_metrics::ApplyMetrics::register(),
        })
    }

    /// Applies one command at a timestamp no earlier than `stamp`.
    ///
    /// `Err` means the storage failed (the state machine must stop); a command
    /// that fails for its own reasons is `Ok(Applied { result: Err(..) })`.
    pub fn apply(&self, command: &Command, stamp: u64) -> Result<Applied> {
        self.apply_with(command, stamp, &[])
    }

    /// Like [`Engine::apply`], and also stores the embedder's records (Raft's
    /// last-applied log id and membership) in the same atomic commit.
    pub fn apply_with(
        &self,
        command: &Command,
        stamp: u64,
        embedder: &[(&str, Vec<u8>)],
    ) -> Result<Applied> {
        let _writer = self
            .writer
            .lock()
            .map_err(|_| Error::Storage("engine writer lock poisoned".into()))?;
        let started = std::time::Instant::now();
        let commit_ts = self.next_commit_ts(stamp);
        let op_name = command.op.name();
        let (result, catalog) = write::apply_command(self, command, commit_ts, embedder)?;
        if let Some(catalog) = catalog {
            *self
                .catalog
                .write()
                .map_err(|_| Error::Storage("catalog lock poisoned".into()))? = Arc::new(catalog);
        }
        self.metrics
            .record(op_name, result.is_ok(), started.elapsed());
        Ok(Applied { commit_ts, result })
    }

    /// Stores only the embedder's records (for Raft entries that carry no
    /// command: blanks and membership changes), at a new commit timestamp.
    pub fn apply_embedder_records(&self, stamp: u64, embedder: &[(&str, Vec<u8>)]) -> Result<u64> {
        let _writer = self
            .writer
            .lock()
            .map_err(|_| Error::Storage("engine writer lock poisoned".into()))?;
        let commit_ts = self.next_commit_ts(stamp);
        let writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = embedder
            .iter()
            .map(|(name, value)| (keyspace::embedder_key(name), Some(value.clone())))
            .collect();
        self.mvcc.commit(commit_ts, &writes)?;
        Ok(commit_ts)
    }

    /// Reads a record the embedder stored with [`Engine::apply_with`].
    pub fn embedder_record(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.mvcc.get_latest(&keyspace::embedder_key(name))
    }

    /// Reads an embedder record as of commit timestamp `ts` (e.g. the Raft
    /// log id a snapshot taken at `ts` covers).
    pub fn embedder_record_at(&self, name: &str, ts: u64) -> Result<Option<Vec<u8>>> {
        self.mvcc.get(&keyspace::embedder_key(name), ts)
    }

    /// The timestamp of the newest committed command (0 for a new engine).
    pub fn latest_commit_ts(&self) -> u64 {
        self.mvcc.latest_commit_ts()
    }

    /// Makes every applied command durable (sled flush).
    pub fn flush(&self) -> Result<()> {
        self.mvcc.flush()
    }

    /// Removes versions no reader can see any more. The effective watermark is
    /// the smaller of `watermark` and the oldest running read.
    pub fn gc(&self, watermark: u64) -> Result<crate::mvcc::GcStats> {
        let oldest_reader = self.readers.oldest()?;
        let effective = oldest_reader.map_or(watermark, |r| r.min(watermark));
        self.mvcc.gc(effective)
    }

    fn next_commit_ts(&self, stamp: u64) -> u64 {
        (self.mvcc.latest_commit_ts() + 1).max(stamp)
    }

    fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog_in_place())
    }

    /// The catalog, read in place: cloning its `Arc` would make every read
    /// write the shared reference count.
    fn catalog_in_place(&self) -> ShardedLockReadGuard<'_, Arc<Catalog>> {
        match self.catalog.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The permanent id of a collection, if it exists.
    fn collection_id(&self, ns: &Namespace) -> Option<u64> {
        self.catalog_in_place().get(ns).map(|meta| meta.id)
    }

    /// This shard's copy of a namespace's placement (default: unsharded,
    /// never dropped).
    pub fn routing(&self, ns: &Namespace) -> CollectionRouting {
        self.catalog()
            .routing(ns)
            .map(|r| CollectionRouting::clone(r))
            .unwrap_or_default()
    }

    /// Checks that a read routed with `sent` may run here (see
    /// [`crate::sharding`]); [`Error::StaleConfig`] otherwise.
    pub fn check_routing(&self, ns: &Namespace, sent: crate::sharding::ShardVersion) -> Result<()> {
        check_version(
            self.catalog_in_place().routing(ns).map(Arc::as_ref),
            ns,
            sent,
        )
    }

    /// Registers a reader at `ts` so GC keeps the versions it may need.
    fn register_reader(&self, ts: u64) -> ReaderGuard<'_> {
        self.readers.register(ts)
    }
}

/// The placement check shared by reads and writes.
fn check_version(
    have: Option<&crate::sharding::CollectionRouting>,
    ns: &Namespace,
    sent: crate::sharding::ShardVersion,
) -> Result<()> {
    let have = have.map(|r| r.version).unwrap_or_default();
    if sent.routes_like(&have) {
        Ok(())
    } else {
        Err(Error::StaleConfig {
            ns: ns.to_string(),
            sent,
            have,
        })
    }
}

/// Reads the catalog as of `ts` from storage.
fn load_catalog(mvcc: &Mvcc, ts: u64) -> Result<Catalog> {
    let mut entries = Vec::new();
    for item in mvcc.scan_prefix(&keyspace::catalog_prefix(), ts) {
        let (key, value) = item?;
        let ns = parse_catalog_key(&key)?;
        let meta: CollectionMeta = rmp_serde::from_slice(&value)?;
        entries.push((ns, meta));
    }
    let next_id = match mvcc.get(&keyspace::meta_key(NEXT_COLLECTION_ID), ts)? {
        Some(bytes) => rmp_serde::from_slice(&bytes)?,
        None => 1,
    };
    let mut routing = Vec::new();
    for item in mvcc.scan_prefix(&keyspace::routing_prefix(), ts) {
        let (key, value) = item?;
        routing.push((parse_catalog_key(&key)?, rmp_serde::from_slice(&value)?));
    }
    Ok(Catalog::from_entries(entries, next_id).with_routing(routing))
}

fn parse_catalog_key(key: &[u8]) -> Result<Namespace> {
    let body = key
        .get(1..)
        .ok_or_else(|| Error::Encoding("empty catalog key".into()))?;
    let split = body
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| Error::Encoding("catalog key without separator".into()))?;
    let db = std::str::from_utf8(&body[..split]).map_err(|e| Error::Encoding(e.to_string()))?;
    let coll =
        std::str::from_utf8(&body[split + 1..]).map_err(|e| Error::Encoding(e.to_string()))?;
    Ok(Namespace::new(db, coll))
}

#[cfg(test)]
mod sharding_tests;
#[cfg(test)]
mod tests;
