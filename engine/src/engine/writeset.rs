//! The pending writes of one command, read through before they are committed.
//!
//! A command may read what it has written so far (the second document of an
//! `insertMany` must see the first for the duplicate-key check). The write set
//! is an ordered map overlaid on the latest committed state; `commit` hands
//! it to MVCC as one atomic batch, in key order (deterministic bytes).

use std::collections::BTreeMap;

use crate::Result;
use crate::mvcc::Mvcc;

/// Writes buffered by the command being applied.
#[derive(Debug, Default)]
pub(super) struct WriteSet {
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl WriteSet {
    /// True when `key` has a value as this command sees it.
    pub fn contains(&self, mvcc: &Mvcc, key: &[u8]) -> Result<bool> {
        match self.writes.get(key) {
            Some(pending) => Ok(pending.is_some()),
            None => Ok(mvcc.get_latest(key)?.is_some()),
        }
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.writes.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// Drops every buffered write (the command failed as a whole).
    pub fn clear(&mut self) {
        self.writes.clear();
    }

    /// The buffered writes in key order, ready for one MVCC commit.
    pub fn into_batch(self) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        self.writes.into_iter().collect()
    }
}
