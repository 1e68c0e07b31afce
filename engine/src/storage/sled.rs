//! A [`Store`] on disk, backed by the [sled] embedded B-tree.
//!
//! ## Durability
//!
//! sled appends every write to a log and recovers, after a crash, a prefix of
//! that log in which each [`sled::Batch`] is either whole or absent. Writes
//! reach the disk when [`Store::flush`] is called, when the background flusher
//! runs (every [`SledOptions::flush_every_ms`], if set) or when an I/O buffer
//! fills. So with the flusher off a crash may lose any number of the most
//! recent batches, but never tears one and never keeps a later batch while
//! losing an earlier one. After `flush` returns, everything written before it
//! is durable. Dropping the store flushes too.
//!
//! ## The active tree and atomic replacement
//!
//! The records do not live in sled's default tree but in a *data tree* named
//! `data.<generation>`; the default tree holds only the pointer
//! `lauradb.active_tree → generation` saying which data tree is live.
//! [`Store::replace_all`] streams the new records into the next generation's
//! tree (never holding them all in memory), flushes, and only then flips the
//! pointer with a single write and flushes again:
//!
//! ```text
//!  default tree          lauradb.active_tree = 7
//!  data.7  (live)        a=1  b=2  c=3
//!  data.8  (being built) k=…  l=…  …      ← a crash here leaves data.7 live
//!                         └─ flush, then set active_tree = 8, flush
//! ```
//!
//! [`SledStore::open`] drops every data tree that is not the live one: a
//! half-built tree from a crashed replacement, or an old tree whose drop was
//! interrupted. While the process runs, an old tree is dropped as soon as no
//! scan holds it any more (a scan keeps reading the tree it started on).
//!
//! [sled]: https://docs.rs/sled/0.34.7

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Duration;
use std::{io, mem, thread};

use super::{KeyRange, Record, ScanIter, Store, StoreStats, WriteBatch, WriteOp, is_empty_range};
use crate::error::{Error, Result};

/// The key, in sled's default tree, of the live data tree's generation.
const ACTIVE_TREE_KEY: &[u8] = b"lauradb.active_tree";
/// Data trees are named this prefix followed by their generation.
const DATA_TREE_PREFIX: &str = "data.";
/// How long [`SledStore::open`] keeps retrying a locked directory.
const LOCK_RETRY_TOTAL: Duration = Duration::from_secs(2);
const LOCK_RETRY_PAUSE: Duration = Duration::from_millis(10);
/// Records per sled batch while building a replacement tree.
const REPLACE_BATCH_RECORDS: usize = 4096;

/// How to open a [`SledStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SledOptions {
    /// Bytes of sled's page cache.
    pub cache_capacity_bytes: u64,
    /// How often the background flusher makes recent writes durable; `None`
    /// turns it off, leaving durability to explicit [`Store::flush`] calls.
    pub flush_every_ms: Option<u64>,
}

impl Default for SledOptions {
    /// A 256 MiB cache and a flush every 500 ms (sled's own default period).
    fn default() -> Self {
        Self {
            cache_capacity_bytes: 256 << 20,
            flush_every_ms: Some(500),
        }
    }
}

/// The live data tree and its generation.
struct Active {
    generation: u64,
    tree: Arc<sled::Tree>,
}

/// A store in a sled database. See the [module documentation](self).
pub struct SledStore {
    db: sled::Db,
    /// Turns sled's flush into an fdatasync (`None` for temporary stores).
    disk: Option<super::DiskSync>,
    active: RwLock<Active>,
    /// Replaced trees still held by open scans, dropped once they are not.
    retired: Mutex<Vec<Active>>,
    /// Serializes replacements.
    replacing: Mutex<()>,
}

impl SledStore {
    /// Opens (or creates) the store in the directory `path`.
    ///
    /// sled locks the directory; a handle dropped by this process may hold the
    /// lock for a moment while sled's background threads finish, so a lock
    /// conflict is retried for up to 2 seconds before it is returned.
    pub fn open(path: impl AsRef<Path>, options: SledOptions) -> Result<Self> {
        let config = sled::Config::new()
            .path(path.as_ref())
            .cache_capacity(options.cache_capacity_bytes)
            .flush_every_ms(options.flush_every_ms)
            // Less eager segment cleaning: more disk space, fewer rewrites
            // (+8% Raft writes/s with the write-behind engine, docs/benchmarks.md).
            .mode(sled::Mode::HighThroughput);
        let mut store = Self::init(open_db(&config)?)?;
        store.disk = Some(super::DiskSync::open(path.as_ref())?);
        Ok(store)
    }

    /// A store in a temporary directory that is deleted when the store is
    /// dropped. The background flusher is off.
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new()
            .temporary(true)
            .flush_every_ms(None)
            .open()?;
        Self::init(db)
    }

    /// Finds the live data tree and drops any other.
    fn init(db: sled::Db) -> Result<Self> {
        let generation = match db.get(ACTIVE_TREE_KEY)? {
            Some(value) => decode_generation(&value)?,
            None => 0,
        };
        let live = tree_name(generation);
        for name in db.tree_names() {
            if name.starts_with(DATA_TREE_PREFIX.as_bytes()) && name != live.as_bytes() {
                db.drop_tree(&name)?;
            }
        }
        let tree = Arc::new(db.open_tree(&live)?);
        Ok(Self {
            db,
            disk: None,
            active: RwLock::new(Active { generation, tree }),
            retired: Mutex::new(Vec::new()),
            replacing: Mutex::new(()),
        })
    }

    fn active(&self) -> Result<RwLockReadGuard<'_, Active>> {
        self.active.read().map_err(|_| poisoned())
    }

    fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
        mutex.lock().map_err(|_| poisoned())
    }

    /// Drops the retired trees that no scan holds any more.
    fn drop_retired(&self) -> Result<()> {
        let mut retired = Self::lock(&self.retired)?;
        let (idle, busy): (Vec<_>, Vec<_>) = mem::take(&mut *retired)
            .into_iter()
            .partition(|old| Arc::strong_count(&old.tree) == 1);
        *retired = busy;
        drop(retired);
        for old in idle {
            drop(old.tree);
            self.db.drop_tree(tree_name(old.generation))?;
        }
        Ok(())
    }

    /// Writes `records` into `tree`, in batches.
    fn fill(tree: &sled::Tree, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<()> {
        let mut batch = sled::Batch::default();
        let mut batched = 0;
        for record in records {
            let (key, value) = record?;
            batch.insert(key, value);
            batched += 1;
            if batched == REPLACE_BATCH_RECORDS {
                tree.apply_batch(mem::take(&mut batch))?;
                batched = 0;
            }
        }
        tree.apply_batch(batch)?;
        Ok(())
    }
}

/// Opens a sled database, retrying while its directory is locked (see
/// [`SledStore::open`]).
fn open_db(config: &sled::Config) -> Result<sled::Db> {
    let mut waited = Duration::ZERO;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(err)) if is_lock_conflict(&err) && waited < LOCK_RETRY_TOTAL => {
                thread::sleep(LOCK_RETRY_PAUSE);
                waited += LOCK_RETRY_PAUSE;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

/// sled reports a locked directory as an `Other` I/O error with this message.
fn is_lock_conflict(err: &io::Error) -> bool {
    err.to_string().starts_with("could not acquire lock")
}

fn tree_name(generation: u64) -> String {
    format!("{DATA_TREE_PREFIX}{generation}")
}

fn decode_generation(value: &[u8]) -> Result<u64> {
    let bytes = value.try_into().map_err(|_| {
        Error::Storage(format!(
            "corrupt active tree pointer: {} bytes, expected 8",
            value.len()
        ))
    })?;
    Ok(u64::from_be_bytes(bytes))
}

fn poisoned() -> Error {
    Error::Storage("sled store lock poisoned by a panicked thread".into())
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.active()?.tree.get(key)?.map(|v| v.to_vec()))
    }

    fn first_value(&self, from: &[u8], to: &[u8]) -> Result<Option<Vec<u8>>> {
        if from > to {
            return Ok(None);
        }
        let first = self.active()?.tree.range(from..=to).next().transpose()?;
        Ok(first.map(|(_, v)| v.to_vec()))
    }

    fn scan(&self, range: KeyRange) -> ScanIter<'_> {
        let empty = is_empty_range(
            range.0.as_ref().map(Vec::as_slice),
            range.1.as_ref().map(Vec::as_slice),
        );
        let tree = match self.active() {
            Ok(active) => Arc::clone(&active.tree),
            Err(err) => return Box::new(std::iter::once(Err(err))),
        };
        if empty {
            return Box::new(std::iter::empty());
        }
        let iter = tree.range::<Vec<u8>, _>(range);
        Box::new(SledScan { iter, _tree: tree })
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        let mut sled_batch = sled::Batch::default();
        for op in batch.into_ops() {
            match op {
                WriteOp::Set(key, value) => sled_batch.insert(key, value),
                WriteOp::Delete(key) => sled_batch.remove(key),
            }
        }
        self.active()?.tree.apply_batch(sled_batch)?;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        if let Some(disk) = &self.disk {
            disk.sync()?;
        }
        Ok(())
    }

    fn replace_all(&self, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<()> {
        let _replacing = Self::lock(&self.replacing)?;
        self.drop_retired()?;
        let generation = self.active()?.generation + 1;
        let name = tree_name(generation);
        // A leftover from a replacement that failed without cleaning up.
        self.db.drop_tree(&name)?;
        let tree = self.db.open_tree(&name)?;
        if let Err(err) = Self::fill(&tree, records) {
            drop(tree);
            self.db.drop_tree(&name)?;
            return Err(err);
        }
        // The new tree must be durable before the pointer to it can be.
        self.db.flush()?;
        self.db.insert(ACTIVE_TREE_KEY, &generation.to_be_bytes())?;
        self.db.flush()?;

        let new = Active {
            generation,
            tree: Arc::new(tree),
        };
        let old = mem::replace(&mut *self.active.write().map_err(|_| poisoned())?, new);
        Self::lock(&self.retired)?.push(old);
        self.drop_retired()
    }

    fn stats(&self) -> Result<StoreStats> {
        Ok(StoreStats {
            kind: "sled",
            size_on_disk: self.db.size_on_disk()?,
        })
    }
}

/// A scan over one data tree, which it keeps alive.
struct SledScan {
    iter: sled::Iter,
    _tree: Arc<sled::Tree>,
}

fn to_record(item: sled::Result<(sled::IVec, sled::IVec)>) -> Result<Record> {
    let (key, value) = item?;
    Ok((key.to_vec(), value.to_vec()))
}

impl Iterator for SledScan {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        self.iter.next().map(to_record)
    }
}

impl DoubleEndedIterator for SledScan {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.iter.next_back().map(to_record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::suite;
    use std::ops::Bound;

    suite::store_suite!(SledStore::temporary().unwrap());

    fn options() -> SledOptions {
        SledOptions {
            cache_capacity_bytes: 8 << 20,
            flush_every_ms: None,
        }
    }

    fn all(store: &SledStore) -> Vec<Record> {
        store
            .scan((Bound::Unbounded, Bound::Unbounded))
            .collect::<Result<_>>()
            .unwrap()
    }

    fn data_trees(db: &sled::Db) -> Vec<String> {
        let mut names: Vec<String> = db
            .tree_names()
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .filter(|n| n.starts_with(DATA_TREE_PREFIX))
            .collect();
        names.sort();
        names
    }

    fn record(key: &str, value: &str) -> Record {
        (key.as_bytes().to_vec(), value.as_bytes().to_vec())
    }

    #[test]
    fn everything_flushed_is_found_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), options()).unwrap();
            let mut batch = WriteBatch::new();
            for i in 0..1000u32 {
                batch.set(i.to_be_bytes(), i.to_le_bytes());
            }
            store.write(batch).unwrap();
            let mut batch = WriteBatch::new();
            batch.delete(7u32.to_be_bytes());
            store.write(batch).unwrap();
            store.flush().unwrap();
            assert!(store.stats().unwrap().size_on_disk > 0);
        }
        let store = SledStore::open(dir.path(), options()).unwrap();
        let records = all(&store);
        assert_eq!(records.len(), 999);
        assert_eq!(
            store.get(&8u32.to_be_bytes()).unwrap(),
            Some(8u32.to_le_bytes().to_vec())
        );
        assert_eq!(store.get(&7u32.to_be_bytes()).unwrap(), None);
    }

    #[test]
    fn a_replacement_survives_reopening_and_drops_the_old_tree() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), options()).unwrap();
            let mut batch = WriteBatch::new();
            batch.set(b"old".to_vec(), b"1".to_vec());
            store.write(batch).unwrap();
            let records = vec![Ok(record("new", "2"))];
            store.replace_all(&mut records.into_iter()).unwrap();
            assert_eq!(data_trees(&store.db), vec!["data.1"]);
        }
        let store = SledStore::open(dir.path(), options()).unwrap();
        assert_eq!(all(&store), vec![record("new", "2")]);
    }

    #[test]
    fn a_failed_replacement_leaves_the_old_contents_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), options()).unwrap();
            let mut batch = WriteBatch::new();
            batch.set(b"old".to_vec(), b"1".to_vec());
            store.write(batch).unwrap();
            store.flush().unwrap();
            assert!(
                store
                    .replace_all(&mut suite::failing_records(10_000))
                    .is_err()
            );
            assert_eq!(data_trees(&store.db), vec!["data.0"]);
        }
        let store = SledStore::open(dir.path(), options()).unwrap();
        assert_eq!(all(&store), vec![record("old", "1")]);
    }

    #[test]
    fn open_drops_a_half_built_tree_and_an_undropped_old_one() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), options()).unwrap();
            let records = vec![Ok(record("live", "1"))];
            store.replace_all(&mut records.into_iter()).unwrap(); // live is data.1
        }
        {
            // Simulate two crashes' leftovers: the old generation 0 whose drop
            // never happened, and a generation 2 that was being built.
            let db = open_db(&sled::Config::new().path(dir.path())).unwrap();
            db.open_tree("data.0")
                .unwrap()
                .insert(b"stale", b"0")
                .unwrap();
            db.open_tree("data.2")
                .unwrap()
                .insert(b"partial", b"2")
                .unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path(), options()).unwrap();
        assert_eq!(all(&store), vec![record("live", "1")]);
        assert_eq!(data_trees(&store.db), vec!["data.1"]);
        // The next replacement reuses generation 2 from scratch.
        let records = vec![Ok(record("next", "3"))];
        store.replace_all(&mut records.into_iter()).unwrap();
        assert_eq!(all(&store), vec![record("next", "3")]);
    }

    #[test]
    fn a_scan_open_across_a_replacement_keeps_reading_the_old_tree() {
        let store = SledStore::temporary().unwrap();
        let mut batch = WriteBatch::new();
        for i in 0..100u8 {
            batch.set(vec![i], vec![i]);
        }
        store.write(batch).unwrap();
        let mut scan = store.scan((Bound::Unbounded, Bound::Unbounded));
        assert_eq!(scan.next().unwrap().unwrap(), (vec![0], vec![0]));

        let records = vec![Ok(record("new", "1"))];
        store.replace_all(&mut records.into_iter()).unwrap();
        assert_eq!(data_trees(&store.db), vec!["data.0", "data.1"]);
        assert_eq!(scan.count(), 99);

        // The next replacement drops the idle old tree.
        let records = vec![Ok(record("newer", "2"))];
        store.replace_all(&mut records.into_iter()).unwrap();
        assert_eq!(data_trees(&store.db), vec!["data.2"]);
    }
}
