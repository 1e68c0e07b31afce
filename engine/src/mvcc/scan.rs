//! Scans at a read timestamp: from the raw version records of a key range,
//! yield the newest visible version of each user key, skipping tombstones.
//!
//! Versions of one user key (one *group*, see [`super::key`]) are contiguous
//! and newest first. Going forward, the first version at or below the read
//! timestamp is the visible one and the rest of the group is skipped. Going
//! backward the group arrives oldest first, so the scan remembers the newest
//! version at or below the read timestamp seen so far and emits it when the
//! group ends.

use super::key::{decode_group, decode_value, split_version_key};
use crate::error::Result;
use crate::storage::{Record, ScanIter};

/// Visible `(user key, value)` pairs in ascending key order, from
/// [`Mvcc::scan`](super::Mvcc::scan) and friends.
pub struct Scan<'a> {
    records: ScanIter<'a>,
    read_ts: u64,
    /// The group whose visible version was already decided, if any.
    decided: Option<Vec<u8>>,
    done: bool,
}

impl<'a> Scan<'a> {
    pub(super) fn new(records: ScanIter<'a>, read_ts: u64) -> Self {
        Self {
            records,
            read_ts,
            decided: None,
            done: false,
        }
    }

    fn try_next(&mut self) -> Result<Option<Record>> {
        for record in self.records.by_ref() {
            let (key, value) = record?;
            let (group, ts) = split_version_key(&key)?;
            if ts > self.read_ts || self.decided.as_deref() == Some(group) {
                continue;
            }
            // The newest visible version of a new group.
            let decided = self.decided.get_or_insert_with(Vec::new);
            decided.clear();
            decided.extend_from_slice(group);
            if let Some(value) = decode_value(value)? {
                return Ok(Some((decode_group(group)?, value)));
            }
        }
        Ok(None)
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.try_next().transpose();
        // Stop after the end or an error.
        self.done = matches!(next, None | Some(Err(_)));
        next
    }
}

/// Visible `(user key, value)` pairs in descending key order, from
/// [`Mvcc::scan_rev`](super::Mvcc::scan_rev).
pub struct ScanRev<'a> {
    records: ScanIter<'a>,
    read_ts: u64,
    /// The group being read, and the stored value of its newest version at or
    /// below the read timestamp so far.
    group: Option<(Vec<u8>, Option<Vec<u8>>)>,
    done: bool,
}

impl<'a> ScanRev<'a> {
    pub(super) fn new(records: ScanIter<'a>, read_ts: u64) -> Self {
        Self {
            records,
            read_ts,
            group: None,
            done: false,
        }
    }

    fn try_next(&mut self) -> Result<Option<Record>> {
        while let Some(record) = self.records.next_back() {
            let (key, value) = record?;
            let (group, ts) = split_version_key(&key)?;
            let visible = (ts <= self.read_ts).then_some(value);
            match &mut self.group {
                Some((current, candidate)) if current.as_slice() == group => {
                    if visible.is_some() {
                        *candidate = visible;
                    }
                }
                _ => {
                    let finished = self.group.replace((group.to_vec(), visible));
                    if let Some(record) = Self::emit(finished)? {
                        return Ok(Some(record));
                    }
                }
            }
        }
        Self::emit(self.group.take())
    }

    /// The record a finished group yields: its visible version unless that is
    /// a tombstone or there is none.
    fn emit(group: Option<(Vec<u8>, Option<Vec<u8>>)>) -> Result<Option<Record>> {
        let Some((group, Some(stored))) = group else {
            return Ok(None);
        };
        match decode_value(stored)? {
            Some(value) => Ok(Some((decode_group(&group)?, value))),
            None => Ok(None),
        }
    }
}

impl Iterator for ScanRev<'_> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.try_next().transpose();
        self.done = matches!(next, None | Some(Err(_)));
        next
    }
}
