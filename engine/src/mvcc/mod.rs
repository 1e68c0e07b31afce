//! # MVCC: versioned keys on an ordered store
//!
//! Multi-version concurrency control keeps every committed value of a key as
//! a separate *version*, stamped with the timestamp of the commit that wrote
//! it. A reader picks a *read timestamp* and sees, for each key, the newest
//! version at or below it: a consistent snapshot of the database as of that
//! moment, unaffected by commits that happen while it reads. Deleting a key
//! writes a *tombstone* version.
//!
//! ## Versions over time
//!
//! Keys `a`..`d` after five commits (`x` is a tombstone):
//!
//! ```text
//!  Time
//!   5          b5
//!   4  a4              x
//!   3      x       c3
//!   2  a2  b2
//!   1  a1          c1  d1
//!      a   b   c   d   Keys
//! ```
//!
//! A read at ts 1 sees `a=a1, c=c1, d=d1`; at ts 2 `a=a2, b=b2, c=c1, d=d1`;
//! at ts 3 `a=a2, c=c3, d=d1` (b is deleted); at ts 4 and later `a=a4, c=c3`
//! plus `b=b5` from ts 5 on.
//!
//! Commits are not transactions with conflicts: the engine above runs as a
//! Raft state machine that decides every write itself and applies them one
//! at a time, so [`Mvcc::commit`] just writes a set of versions at a commit
//! timestamp that must be strictly greater than the previous one, in one
//! atomic store batch together with the new latest timestamp (recovered by
//! [`Mvcc::new`]).
//!
//! ## Layout
//!
//! Each version is one store record, keyed by the user key in a prefix-free,
//! order-preserving escaping followed by the *inverted* big-endian commit
//! timestamp (the details are in the `key` submodule). The store then keeps
//! a key's versions together and newest first, so a point read at `read_ts`
//! is a single forward seek to `key @ read_ts`, which lands on the newest
//! visible version:
//!
//! ```text
//!  store order (one record per version)       read a @ ts 3
//!  01 'a' 00 00 │ !4   a4
//!  01 'a' 00 00 │ !2   a2                  ←─ seek to 01 'a' 00 00 │ !3
//!  01 'a' 00 00 │ !1   a1
//!  01 'b' 00 00 │ !5   b5
//!  01 'b' 00 00 │ !3   x
//!  …
//! ```
//!
//! ## Garbage collection
//!
//! Old versions are only needed by readers at old timestamps. Given a
//! *watermark* below which no reader will ever read again, [`Mvcc::gc`]
//! removes, for each key, every version older than the newest one at or below
//! the watermark, and that one too if it is a tombstone. In the diagram above,
//! `gc(4)` keeps `a4` and drops `a2 a1`; keeps `b5` (newer than the watermark)
//! and drops the tombstone `x@3` with `b2` under it; keeps `c3` and drops `c1`;
//! drops both of `d`'s versions, its newest at or below 4 being a tombstone.
//! What remains is `a4 b5 c3`. Reads at any timestamp at or above the
//! watermark answer exactly as before.
//!
//! A collection only visits keys that can have garbage: those written since
//! they were last collected, and those that still had versions above the
//! watermark then (see the `gc` submodule). Its cost follows the write
//! rate, not the size of the data.
//!
//! ## Concurrency
//!
//! [`Mvcc`] is `Send + Sync` and every method takes `&self`. Reads (`get`,
//! `scan`, `export`) may run on any number of threads, concurrently with one
//! another and with writes; they never block writers. Writes (`commit`,
//! `import`, and the deletions of `gc`) are serialized by an internal lock.
//! A read at `read_ts` is repeatable as long as `read_ts` is at most
//! [`Mvcc::latest_commit_ts`] when it starts (a later commit cannot land at or
//! below it) and at least the watermark of any `gc` that runs meanwhile.
//! [`Mvcc::import`] replaces everything: reads that overlap it may see the
//! old state, the new one or a mix, so the caller quiesces reads first.

mod gc;
mod key;
mod scan;

#[cfg(test)]
mod tests;

pub use self::gc::GcStats;
pub use self::scan::{Scan, ScanRev};

use std::cell::RefCell;
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use self::key::{
    LATEST_COMMIT_TS_KEY, encode_group, encode_ts, encode_value, store_prefix_range, store_range,
    version_key,
};
use crate::error::{Error, Result};
use crate::storage::{Record, Store, WriteBatch};

/// A user key and the value it is set to, or `None` to delete it.
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// Versioned keys on a [`Store`]. See the [module documentation](self).
pub struct Mvcc {
    store: Arc<dyn Store>,
    /// The latest commit timestamp, also persisted at `LATEST_COMMIT_TS_KEY`.
    latest_commit_ts: AtomicU64,
    /// Serializes writes; holds what gc needs to know about them.
    writer: Mutex<WriterState>,
}

/// What the writer lock guards besides the right to write.
#[derive(Default)]
struct WriterState {
    /// Imports so far, so that a running gc notices an import that
    /// replaced the contents under it.
    imports: u64,
    /// The keys gc has to visit (see the `gc` submodule).
    dirty: gc::DirtyGroups,
}

thread_local! {
    /// Scratch space for the seek bounds of point reads.
    static SEEK_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Mvcc {
    /// Opens versioned keys on `store`, recovering the latest commit timestamp
    /// (0 for an empty store).
    pub fn new(store: Arc<dyn Store>) -> Result<Self> {
        let latest = match store.get(LATEST_COMMIT_TS_KEY)? {
            Some(value) => decode_ts(&value)?,
            None => 0,
        };
        Ok(Self {
            store,
            latest_commit_ts: AtomicU64::new(latest),
            writer: Mutex::new(WriterState::default()),
        })
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The timestamp of the latest commit or import (0 if none).
    pub fn latest_commit_ts(&self) -> u64 {
        self.latest_commit_ts.load(Ordering::Acquire)
    }

    /// Writes `writes` as versions at `commit_ts`, atomically, in one store
    /// batch with the new latest commit timestamp. `None` writes a tombstone.
    /// If a key appears twice, the last write wins. `commit_ts` must be
    /// greater than [`Mvcc::latest_commit_ts`]; an empty `writes` just
    /// advances it.
    pub fn commit(&self, commit_ts: u64, writes: &[Write]) -> Result<()> {
        let mut writer = self.lock_writer()?;
        let latest = self.latest_commit_ts();
        if commit_ts <= latest {
            return Err(Error::Storage(format!(
                "commit timestamp {commit_ts} is not after the latest commit timestamp {latest}"
            )));
        }
        let mut batch = WriteBatch::with_capacity(writes.len() + 1);
        for (key, value) in writes {
            let version = version_key(key, commit_ts);
            writer.dirty.insert(&version[..version.len() - 8]);
            batch.set(version, encode_value(value.as_deref()));
        }
        batch.set(LATEST_COMMIT_TS_KEY, commit_ts.to_be_bytes());
        self.store.write(batch)?;
        self.latest_commit_ts.store(commit_ts, Ordering::Release);
        Ok(())
    }

    /// The value of `key` as of `read_ts`: its newest version at or below
    /// `read_ts`, or `None` if there is none or it is a tombstone.
    pub fn get(&self, key: &[u8], read_ts: u64) -> Result<Option<Vec<u8>>> {
        let stored = with_seek_buf(|buf| {
            let (from, to) = seek_bounds(buf, key, read_ts);
            self.store.first_value(from, to)
        })?;
        match stored {
            Some(stored) => key::decode_value(stored),
            None => Ok(None),
        }
    }

    /// The newest value of `key`, whatever its timestamp.
    pub fn get_latest(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get(key, u64::MAX)
    }

    /// Calls `read` with the newest value of `key` — what
    /// [`Mvcc::get_latest`] returns — borrowed in place instead of copied
    /// (see [`Store::visit_first_value`]: `read` must not write).
    pub fn read_latest<T>(
        &self,
        key: &[u8],
        read: impl FnOnce(Option<&[u8]>) -> Result<T>,
    ) -> Result<T> {
        let mut read = Some(read);
        let mut answer = None;
        with_seek_buf(|buf| {
            let (from, to) = seek_bounds(buf, key, u64::MAX);
            self.store.visit_first_value(from, to, &mut |stored| {
                if let Some(read) = read.take() {
                    answer = Some(read(key::live_value(stored)?)?);
                }
                Ok(())
            })
        })?;
        match (answer, read) {
            (Some(answer), _) => Ok(answer),
            (None, Some(read)) => read(None),
            (None, None) => Err(Error::Storage(
                "a store visited a value without passing it on".into(),
            )),
        }
    }

    /// The visible `(key, value)` pairs of the user keys in `range` as of
    /// `read_ts`, in ascending key order.
    pub fn scan<'r>(&self, range: impl RangeBounds<&'r [u8]>, read_ts: u64) -> Scan<'_> {
        let (start, end) = (range.start_bound().cloned(), range.end_bound().cloned());
        Scan::new(self.store.scan(store_range(start, end)), read_ts)
    }

    /// Like [`Mvcc::scan`], in descending key order.
    pub fn scan_rev<'r>(&self, range: impl RangeBounds<&'r [u8]>, read_ts: u64) -> ScanRev<'_> {
        let (start, end) = (range.start_bound().cloned(), range.end_bound().cloned());
        ScanRev::new(self.store.scan(store_range(start, end)), read_ts)
    }

    /// The visible `(key, value)` pairs of the user keys starting with
    /// `prefix` as of `read_ts`, in ascending key order.
    pub fn scan_prefix(&self, prefix: &[u8], read_ts: u64) -> Scan<'_> {
        Scan::new(self.store.scan(store_prefix_range(prefix)), read_ts)
    }

    /// Like [`Mvcc::scan_prefix`], in descending key order.
    pub fn scan_prefix_rev(&self, prefix: &[u8], read_ts: u64) -> ScanRev<'_> {
        ScanRev::new(self.store.scan(store_prefix_range(prefix)), read_ts)
    }

    /// The whole visible state as of `read_ts`, in key order: what a snapshot
    /// taken at `read_ts` holds, unaffected by commits after `read_ts` made
    /// while it is read (as long as no gc passes `read_ts` meanwhile).
    pub fn export(&self, read_ts: u64) -> Scan<'_> {
        self.scan(.., read_ts)
    }

    /// Replaces the entire contents with `records` (user key and value pairs,
    /// e.g. from [`Mvcc::export`] on another node) as versions at `ts`, which
    /// becomes the latest commit timestamp. Atomic, also across a crash: on
    /// error the old contents remain (see [`Store::replace_all`]).
    pub fn import(&self, records: &mut dyn Iterator<Item = Result<Record>>, ts: u64) -> Result<()> {
        let mut writer = self.lock_writer()?;
        let meta = (LATEST_COMMIT_TS_KEY.to_vec(), ts.to_be_bytes().to_vec());
        let mut versions = records
            .map(|record| {
                let (key, value) = record?;
                Ok((version_key(&key, ts), encode_value(Some(&value))))
            })
            .chain(std::iter::once(Ok(meta)));
        writer.imports += 1;
        // Whatever happens to the contents, the dirty set no longer
        // describes them.
        writer.dirty.mark_incomplete();
        self.store.replace_all(&mut versions)?;
        self.latest_commit_ts.store(ts, Ordering::Release);
        Ok(())
    }

    /// Makes every commit so far durable (see [`Store::flush`]).
    pub fn flush(&self) -> Result<()> {
        self.store.flush()
    }

    fn lock_writer(&self) -> Result<MutexGuard<'_, WriterState>> {
        self.writer
            .lock()
            .map_err(|_| Error::Storage("MVCC writer lock poisoned by a panicked writer".into()))
    }
}

/// The store range a point read at `read_ts` seeks through, built in `buf`:
/// `[group │ !read_ts │ group │ !0]`, from the first half to the second.
fn seek_bounds<'b>(buf: &'b mut Vec<u8>, key: &[u8], read_ts: u64) -> (&'b [u8], &'b [u8]) {
    encode_group(buf, key);
    let group_len = buf.len();
    buf.extend_from_slice(&encode_ts(read_ts));
    buf.extend_from_within(..group_len);
    buf.extend_from_slice(&encode_ts(0));
    buf.split_at(group_len + 8)
}

/// Runs `f` with an empty scratch buffer, reused across calls on one thread.
fn with_seek_buf<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    SEEK_BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf)
        }
        // Only if `f` re-entered this function: fall back to a fresh buffer.
        Err(_) => f(&mut Vec::new()),
    })
}

fn decode_ts(value: &[u8]) -> Result<u64> {
    let bytes = value.try_into().map_err(|_| {
        Error::Encoding(format!(
            "corrupt latest commit timestamp: {} bytes, expected 8",
            value.len()
        ))
    })?;
    Ok(u64::from_be_bytes(bytes))
}
