//! # Storage: an ordered key/value store
//!
//! The bottom layer of the engine. A [`Store`] maps byte-string keys to
//! byte-string values and keeps the keys in lexicographic byte order, so that
//! everything above it can be built from point reads, ordered range scans and
//! atomic write batches. It knows nothing of versions, documents or indexes:
//! [`crate::mvcc`] gives the keys their meaning.
//!
//! Three implementations pass the same test suite:
//!
//! * [`MemoryStore`] — a `BTreeMap` behind a lock; nothing survives the
//!   process. For tests and for nodes that rebuild from Raft.
//! * [`SledStore`] — the embedded [sled] B-tree on disk.
//! * [`WriteBehindStore`] — a [`MemoryStore`] mirror of a durable store
//!   (normally a [`SledStore`]) that serves every read from memory and
//!   persists batches on a background thread: memory-speed reads and write
//!   bursts, with the durable store's crash guarantees. Sustained writes are
//!   still bounded by the durable store.
//!
//! ## Guarantees every store gives
//!
//! * **Order.** Scans yield records in ascending key order (or descending,
//!   from the back of the [`ScanIter`]).
//! * **Atomic batches.** [`Store::write`] applies a [`WriteBatch`] all or
//!   nothing: a reader sees either none of its operations or all of them, and
//!   after a crash the batch is either wholly present or wholly absent.
//! * **No reordering.** After a crash the store holds a *prefix* of the
//!   batches written: if batch B was written after batch A and B survived,
//!   so did A.
//! * **Durability only on request.** A store may keep recent batches in
//!   memory. Once [`Store::flush`] returns, every batch written before the
//!   call is on disk. Without a flush, a crash may lose a suffix of the most
//!   recent batches (for sled, those of the last `flush_every_ms`, if set;
//!   for the write-behind store, also those still queued), never a part of
//!   one.
//! * **Atomic replacement.** [`Store::replace_all`] swaps the whole contents
//!   for a new set of records (installing a snapshot). If it fails or the
//!   process crashes half-way, the old contents are intact.
//!
//! ## Concurrency
//!
//! All methods take `&self`; a store is `Send + Sync` and may be shared as
//! `Arc<dyn Store>`. Reads may run on any number of threads at once, and
//! concurrently with writes. A scan does not hold a lock or a snapshot while
//! it is being iterated: it sees every batch that was complete before it
//! started and may or may not see batches written while it runs (each
//! record it yields is the value of that key at some moment during the
//! scan). [`crate::mvcc`] makes this harmless, because a versioned reader
//! ignores versions newer than its read timestamp. A scan that spans a
//! [`Store::replace_all`] may see old or new contents or a mix of them: the
//! caller must not install a snapshot while scans that matter are running.
//!
//! [sled]: https://docs.rs/sled/0.34.7

mod disk_sync;
pub mod memory;
pub mod sled;
pub mod write_behind;

#[cfg(test)]
mod suite;

pub use self::disk_sync::DiskSync;
pub use self::memory::MemoryStore;
pub use self::sled::{SledOptions, SledStore};
pub use self::write_behind::{WriteBehindOptions, WriteBehindStore};

use std::ops::Bound;

use crate::error::Result;

/// A key range: a pair of owned bounds, as taken by [`Store::scan`].
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// A record: a key and its value.
pub type Record = (Vec<u8>, Vec<u8>);

/// An iterator over the records of a scan, in ascending key order from the
/// front and descending from the back.
pub type ScanIter<'a> = Box<dyn DoubleEndedIterator<Item = Result<Record>> + 'a>;

/// What [`Store::visit`] calls with each record's key and value.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// What [`Store::visit_first_value`] calls with the value it found.
pub type ValueVisitor<'a> = dyn FnMut(&[u8]) -> Result<()> + 'a;

/// Calls `visit` on `value` if there is one, and says whether there was.
fn visit_found(value: Option<&[u8]>, visit: &mut ValueVisitor<'_>) -> Result<bool> {
    value
        .map(visit)
        .transpose()
        .map(|visited| visited.is_some())
}

/// An ordered key/value store. See the [module documentation](self) for the
/// guarantees every implementation gives.
pub trait Store: Send + Sync {
    /// Returns the value of `key`, or `None` if it is absent.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Returns the value of the smallest key in the inclusive range
    /// `from..=to`, without copying the key out: the primitive behind
    /// versioned point reads, which seek to the newest version at or below a
    /// timestamp. Returns `None` if the range is empty or `from > to`.
    fn first_value(&self, from: &[u8], to: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Like [`Store::first_value`], but hands the value to `visit` instead
    /// of returning a copy, and returns whether there was one. A store that
    /// can (the memory store) calls `visit` on the value in place, under its
    /// read lock, so `visit` must not write to the store; the default copies
    /// the value out first.
    fn visit_first_value(
        &self,
        from: &[u8],
        to: &[u8],
        visit: &mut ValueVisitor<'_>,
    ) -> Result<bool> {
        visit_found(self.first_value(from, to)?.as_deref(), visit)
    }

    /// Iterates over the records whose keys fall in `range`, in key order
    /// (reverse it with [`Iterator::rev`] or `next_back`). An empty
    /// or inverted range yields nothing.
    fn scan(&self, range: KeyRange) -> ScanIter<'_>;

    /// Calls `visit` with each record whose key falls in `range`, in key
    /// order, without copying the records out where the store can avoid it.
    /// Meant for short ranges (a key's versions): the memory store holds its
    /// read lock throughout, so writers wait, and `visit` must not call back
    /// into the store. Stops at the first error `visit` returns, and
    /// returns it. Long ranges should [`Store::scan`].
    fn visit(&self, range: KeyRange, visit: &mut Visitor<'_>) -> Result<()> {
        for record in self.scan(range) {
            let (key, value) = record?;
            visit(&key, &value)?;
        }
        Ok(())
    }

    /// Iterates over the records whose keys start with `prefix`.
    fn scan_prefix(&self, prefix: &[u8]) -> ScanIter<'_> {
        self.scan(prefix_range(prefix))
    }

    /// Applies `batch` atomically: all of its operations or none, also across
    /// a crash. Operations apply in order, so the last one on a key wins.
    fn write(&self, batch: WriteBatch) -> Result<()>;

    /// Makes every write that completed before this call durable: once it
    /// returns `Ok`, a crash loses none of them.
    fn flush(&self) -> Result<()>;

    /// Replaces the entire contents of the store with `records` (in any order;
    /// the last of duplicate keys wins), atomically: if `records` yields an
    /// error, or this call fails, or the process crashes before it returns,
    /// the old contents are left intact. On `Ok` the new contents are durable.
    fn replace_all(&self, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<()>;

    /// Cheap statistics about the store.
    fn stats(&self) -> Result<StoreStats>;
}

/// Statistics returned by [`Store::stats`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreStats {
    /// The kind of store: `"memory"` or `"sled"`.
    pub kind: &'static str,
    /// Bytes the store occupies on disk (live data and garbage); 0 in memory.
    pub size_on_disk: u64,
}

/// One operation of a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Set `key` to `value`, replacing any previous value.
    Set(Vec<u8>, Vec<u8>),
    /// Remove `key` if present.
    Delete(Vec<u8>),
}

/// A batch of sets and deletes, applied atomically by [`Store::write`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `capacity` operations.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            ops: Vec::with_capacity(capacity),
        }
    }

    /// Adds "set `key` to `value`".
    pub fn set(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Set(key.into(), value.into()));
    }

    /// Adds "remove `key`".
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.ops.push(WriteOp::Delete(key.into()));
    }

    /// The number of operations in the batch.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True if the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The operations, in the order they were added.
    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    /// Appends the operations of `other` after this batch's own.
    pub fn append(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
    }

    /// Consumes the batch, yielding its operations in order.
    pub fn into_ops(self) -> Vec<WriteOp> {
        self.ops
    }
}

/// The range of all keys that start with `prefix`.
///
/// The upper bound is the prefix with its last byte below 0xff incremented
/// and the rest dropped (`ab\xff` → `ac`); a prefix of only 0xff bytes (or
/// an empty one) has no upper bound.
pub fn prefix_range(prefix: &[u8]) -> KeyRange {
    let start = Bound::Included(prefix.to_vec());
    match prefix.iter().rposition(|&b| b != 0xff) {
        Some(i) => {
            let mut end = prefix[..=i].to_vec();
            end[i] += 1;
            (start, Bound::Excluded(end))
        }
        None => (start, Bound::Unbounded),
    }
}

/// True if no key can fall between `start` and `end`, including when the
/// bounds are inverted. Used to avoid passing such ranges to `BTreeMap`, which
/// panics on them.
pub(crate) fn is_empty_range(start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    match (start, end) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Bound::{Excluded, Included, Unbounded};

    #[test]
    fn prefix_range_increments_the_last_byte_below_0xff() {
        assert_eq!(
            prefix_range(b"ab"),
            (Included(b"ab".to_vec()), Excluded(b"ac".to_vec()))
        );
        assert_eq!(
            prefix_range(b"a\xff\xff"),
            (Included(b"a\xff\xff".to_vec()), Excluded(b"b".to_vec()))
        );
        assert_eq!(
            prefix_range(b"\xff\xff"),
            (Included(b"\xff\xff".to_vec()), Unbounded)
        );
        assert_eq!(prefix_range(b""), (Included(vec![]), Unbounded));
    }

    #[test]
    fn empty_ranges_are_detected() {
        let (a, b): (&[u8], &[u8]) = (b"a", b"b");
        assert!(!is_empty_range(Included(a), Included(a)));
        assert!(is_empty_range(Included(a), Excluded(a)));
        assert!(is_empty_range(Excluded(a), Included(a)));
        assert!(is_empty_range(Excluded(a), Excluded(a)));
        assert!(is_empty_range(Included(b), Included(a)));
        assert!(!is_empty_range(Excluded(a), Excluded(b)));
        assert!(!is_empty_range(Unbounded, Excluded(a)));
        assert!(!is_empty_range(Included(b), Unbounded));
    }

    #[test]
    fn a_batch_keeps_its_operations_in_order() {
        let mut batch = WriteBatch::new();
        batch.set(b"a".to_vec(), b"1".to_vec());
        batch.delete(b"a".to_vec());
        assert_eq!(batch.len(), 2);
        assert_eq!(
            batch.into_ops(),
            vec![
                WriteOp::Set(b"a".to_vec(), b"1".to_vec()),
                WriteOp::Delete(b"a".to_vec())
            ]
        );
    }
}
