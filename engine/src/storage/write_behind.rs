//! A [`Store`] that serves reads from an in-memory mirror and persists writes
//! to a durable store on a background thread.
//!
//! sled commits a small batch in tens of microseconds on a small machine,
//! while an in-memory map takes about one. A [`WriteBehindStore`] keeps the
//! whole contents in a [`MemoryStore`] and a durable copy in another store
//! (normally a [`SledStore`](super::SledStore)):
//!
//! ```text
//!   write(batch) ──► memory (readers see it at once)
//!        │
//!        └──► queue ──► persister thread ──► durable store
//!                       (consecutive batches merged into one durable batch)
//! ```
//!
//! The durable store receives the batches in the order they were written,
//! several whole batches per durable batch, so after a crash it holds a
//! prefix of the batches with none torn: the guarantees of the module
//! documentation hold, with "written but not yet flushed" now also covering
//! batches still in the queue. [`Store::flush`] waits for the queue to drain
//! and then flushes the durable store. Dropping the store drains the queue.
//!
//! The queue is bounded by [`WriteBehindOptions::max_pending_bytes`]: a write
//! that would exceed it waits for the persister. So bursts of writes run at
//! memory speed while sustained writing runs at the durable store's speed.
//!
//! If the durable store fails, the error is kept and every later `write`,
//! `flush` and `replace_all` returns it: memory may then hold batches the
//! durable store never got, and the store must be reopened.
//!
//! The mirror costs memory: the whole contents live in RAM, on top of the
//! durable store's cache, and opening reads everything from the durable store.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use super::{KeyRange, MemoryStore, Record, ScanIter, Store, StoreStats, WriteBatch, WriteOp};
use crate::error::{Error, Result};

/// Most operations the persister merges into one durable batch (a single
/// larger written batch still goes whole).
const MAX_GROUP_OPS: usize = 512;
/// Bytes counted per operation on top of its key and value.
const OP_OVERHEAD_BYTES: usize = 32;

/// How to build a [`WriteBehindStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteBehindOptions {
    /// The most bytes (keys, values and a small overhead per operation) of
    /// batches waiting for the durable store before writes wait.
    pub max_pending_bytes: usize,
}

impl Default for WriteBehindOptions {
    /// 256 MiB of pending writes.
    fn default() -> Self {
        Self {
            max_pending_bytes: 256 << 20,
        }
    }
}

/// An in-memory mirror of a durable store. See the [module documentation](self).
pub struct WriteBehindStore {
    memory: MemoryStore,
    shared: Arc<Shared>,
    /// Serializes writers, so memory and the queue see batches in one order.
    writer: Mutex<()>,
    persister: Option<JoinHandle<()>>,
}

/// What the writers and the persister thread share.
struct Shared {
    durable: Arc<dyn Store>,
    queue: Mutex<Queue>,
    /// Signalled whenever the queue changes.
    changed: Condvar,
    max_pending_bytes: usize,
}

#[derive(Default)]
struct Queue {
    batches: VecDeque<(WriteBatch, usize)>,
    /// Bytes of the queued batches and of the group being persisted.
    pending_bytes: usize,
    persisting: bool,
    failed: Option<Error>,
    stop: bool,
}

impl WriteBehindStore {
    /// Mirrors `durable`: loads its whole contents into memory and starts the
    /// persister thread.
    pub fn new(durable: Arc<dyn Store>, options: WriteBehindOptions) -> Result<Self> {
        let memory = MemoryStore::new();
        memory.replace_all(&mut durable.scan((Bound::Unbounded, Bound::Unbounded)))?;
        let shared = Arc::new(Shared {
            durable,
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
            max_pending_bytes: options.max_pending_bytes,
        });
        let persister = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("lauradb-persister".into())
                .spawn(move || shared.persist_until_stopped())
                .map_err(|e| Error::Storage(format!("cannot start the persister thread: {e}")))?
        };
        Ok(Self {
            memory,
            shared,
            writer: Mutex::new(()),
            persister: Some(persister),
        })
    }

    /// The durable store behind the mirror.
    pub fn durable(&self) -> &Arc<dyn Store> {
        &self.shared.durable
    }

    fn lock_writer(&self) -> Result<MutexGuard<'_, ()>> {
        self.writer.lock().map_err(|_| poisoned())
    }
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, Queue>> {
        self.queue.lock().map_err(|_| poisoned())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, Queue>) -> Result<MutexGuard<'a, Queue>> {
        self.changed.wait(guard).map_err(|_| poisoned())
    }

    /// Waits until nothing is queued or being persisted.
    fn wait_drained(&self) -> Result<()> {
        let mut queue = self.lock()?;
        loop {
            if let Some(err) = &queue.failed {
                return Err(err.clone());
            }
            if queue.batches.is_empty() && !queue.persisting {
                return Ok(());
            }
            queue = self.wait(queue)?;
        }
    }

    /// The persister thread: writes queued batches to the durable store, in
    /// order, in groups, until stopped and drained.
    fn persist_until_stopped(&self) {
        while let Ok(Some((group, bytes))) = self.next_group() {
            let result = self.durable.write(group);
            let Ok(mut queue) = self.lock() else { return };
            queue.persisting = false;
            queue.pending_bytes -= bytes;
            if let Err(err) = result {
                queue.failed = Some(err);
                queue.batches.clear();
                queue.pending_bytes = 0;
            }
            drop(queue);
            self.changed.notify_all();
        }
    }

    /// Waits for queued batches and takes a group of them, or `None` once
    /// stopped with nothing left.
    fn next_group(&self) -> Result<Option<(WriteBatch, usize)>> {
        let mut queue = self.lock()?;
        while queue.batches.is_empty() {
            if queue.stop {
                return Ok(None);
            }
            queue = self.wait(queue)?;
        }
        let (mut group, mut bytes) = (WriteBatch::new(), 0);
        while let Some((batch, _)) = queue.batches.front() {
            if !group.is_empty() && group.len() + batch.len() > MAX_GROUP_OPS {
                break;
            }
            if let Some((batch, batch_bytes)) = queue.batches.pop_front() {
                group.append(batch);
                bytes += batch_bytes;
            }
        }
        queue.persisting = true;
        Ok(Some((group, bytes)))
    }
}

fn batch_bytes(batch: &WriteBatch) -> usize {
    let op_bytes = |op: &WriteOp| match op {
        WriteOp::Set(key, value) => key.len() + value.len(),
        WriteOp::Delete(key) => key.len(),
    };
    batch
        .ops()
        .iter()
        .map(|op| op_bytes(op) + OP_OVERHEAD_BYTES)
        .sum()
}

fn poisoned() -> Error {
    Error::Storage("write-behind store lock poisoned by a panicked thread".into())
}

impl Store for WriteBehindStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.memory.get(key)
    }

    fn first_value(&self, from: &[u8], to: &[u8]) -> Result<Option<Vec<u8>>> {
        self.memory.first_value(from, to)
    }

    fn visit_first_value(
        &self,
        from: &[u8],
        to: &[u8],
        visit: &mut super::ValueVisitor<'_>,
    ) -> Result<bool> {
        self.memory.visit_first_value(from, to, visit)
    }

    fn scan(&self, range: KeyRange) -> ScanIter<'_> {
        self.memory.scan(range)
    }

    fn write(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let _writer = self.lock_writer()?;
        let bytes = batch_bytes(&batch);
        let shared = &self.shared;
        let mut queue = shared.lock()?;
        loop {
            if let Some(err) = &queue.failed {
                return Err(err.clone());
            }
            // A batch larger than the bound goes alone once the queue is empty.
            if queue.pending_bytes == 0 || queue.pending_bytes + bytes <= shared.max_pending_bytes {
                break;
            }
            queue = shared.wait(queue)?;
        }
        self.memory.write(batch.clone())?;
        queue.batches.push_back((batch, bytes));
        queue.pending_bytes += bytes;
        drop(queue);
        shared.changed.notify_all();
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let _writer = self.lock_writer()?;
        self.shared.wait_drained()?;
        self.shared.durable.flush()
    }

    fn replace_all(&self, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<()> {
        let _writer = self.lock_writer()?;
        self.shared.wait_drained()?;
        let durable = &self.shared.durable;
        durable.replace_all(records)?;
        // Reload the mirror from what was persisted, rather than holding a
        // second copy of the records while they stream in.
        let reloaded = self
            .memory
            .replace_all(&mut durable.scan((Bound::Unbounded, Bound::Unbounded)));
        if let Err(err) = &reloaded {
            self.shared.lock()?.failed = Some(err.clone());
        }
        reloaded
    }

    fn stats(&self) -> Result<StoreStats> {
        let durable = self.shared.durable.stats()?;
        Ok(StoreStats {
            kind: "write-behind",
            size_on_disk: durable.size_on_disk,
        })
    }
}

impl Drop for WriteBehindStore {
    /// Persists everything still queued, then stops the persister.
    fn drop(&mut self) {
        if let Ok(mut queue) = self.shared.queue.lock() {
            queue.stop = true;
        }
        self.shared.changed.notify_all();
        if let Some(persister) = self.persister.take() {
            // A panicked persister has nothing left to report here.
            let _ = persister.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{SledOptions, SledStore, suite};
    use std::sync::atomic::{AtomicUsize, Ordering};

    suite::store_suite!(
        WriteBehindStore::new(
            Arc::new(SledStore::temporary().unwrap()),
            WriteBehindOptions::default()
        )
        .unwrap()
    );

    fn all(store: &dyn Store) -> Vec<Record> {
        store
            .scan((Bound::Unbounded, Bound::Unbounded))
            .collect::<Result<_>>()
            .unwrap()
    }

    fn write_numbers(store: &dyn Store, range: std::ops::Range<u32>) {
        for i in range {
            let mut batch = WriteBatch::new();
            batch.set(i.to_be_bytes(), i.to_le_bytes());
            batch.set(b"last".to_vec(), i.to_be_bytes());
            store.write(batch).unwrap();
        }
    }

    #[test]
    fn after_flush_the_durable_store_holds_every_write() {
        let durable = Arc::new(MemoryStore::new());
        let store = WriteBehindStore::new(durable.clone(), WriteBehindOptions::default()).unwrap();
        write_numbers(&store, 0..2000);
        let mut batch = WriteBatch::new();
        batch.delete(5u32.to_be_bytes());
        store.write(batch).unwrap();
        store.flush().unwrap();
        assert_eq!(all(durable.as_ref()), all(&store));
        assert_eq!(all(&store).len(), 2000);
    }

    #[test]
    fn a_tiny_queue_bound_makes_writers_wait_but_loses_nothing() {
        let durable = Arc::new(MemoryStore::new());
        let options = WriteBehindOptions {
            max_pending_bytes: 1,
        };
        let store = WriteBehindStore::new(durable.clone(), options).unwrap();
        write_numbers(&store, 0..300);
        store.flush().unwrap();
        assert_eq!(all(durable.as_ref()).len(), 301);
    }

    #[test]
    fn opening_loads_the_durable_contents_and_dropping_persists_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let options = SledOptions {
            cache_capacity_bytes: 8 << 20,
            flush_every_ms: None,
        };
        let open = || {
            let sled = Arc::new(SledStore::open(dir.path(), options.clone()).unwrap());
            WriteBehindStore::new(sled, WriteBehindOptions::default()).unwrap()
        };
        {
            let store = open();
            write_numbers(&store, 0..500);
            store.flush().unwrap();
            write_numbers(&store, 500..1000); // persisted by drop, not flushed
        }
        let store = open();
        assert_eq!(all(&store).len(), 1001);
        assert_eq!(
            store.get(b"last").unwrap(),
            Some(999u32.to_be_bytes().to_vec())
        );
        assert_eq!(store.stats().unwrap().kind, "write-behind");
    }

    /// A durable store whose writes fail after a number of successes.
    struct Failing {
        inner: MemoryStore,
        writes_left: AtomicUsize,
    }

    impl Store for Failing {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.inner.get(key)
        }
        fn first_value(&self, from: &[u8], to: &[u8]) -> Result<Option<Vec<u8>>> {
            self.inner.first_value(from, to)
        }
        fn scan(&self, range: KeyRange) -> ScanIter<'_> {
            self.inner.scan(range)
        }
        fn write(&self, batch: WriteBatch) -> Result<()> {
            let left = self.writes_left.load(Ordering::SeqCst);
            if left == 0 {
                return Err(Error::Storage("disk full".into()));
            }
            self.writes_left.store(left - 1, Ordering::SeqCst);
            self.inner.write(batch)
        }
        fn flush(&self) -> Result<()> {
            Ok(())
        }
        fn replace_all(&self, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<()> {
            self.inner.replace_all(records)
        }
        fn stats(&self) -> Result<StoreStats> {
            self.inner.stats()
        }
    }

    #[test]
    fn a_durable_failure_is_reported_by_every_later_write_and_flush() {
        let durable = Arc::new(Failing {
            inner: MemoryStore::new(),
            writes_left: AtomicUsize::new(0),
        });
        let store = WriteBehindStore::new(durable, WriteBehindOptions::default()).unwrap();
        let mut batch = WriteBatch::new();
        batch.set(b"a".to_vec(), b"1".to_vec());
        // The write itself is accepted; the failure surfaces once persisted.
        store.write(batch.clone()).unwrap();
        let disk_full = Error::Storage("disk full".into());
        assert_eq!(store.flush(), Err(disk_full.clone()));
        assert_eq!(store.write(batch), Err(disk_full.clone()));
        assert_eq!(store.replace_all(&mut std::iter::empty()), Err(disk_full));
    }
}
