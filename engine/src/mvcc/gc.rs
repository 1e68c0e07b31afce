//! Garbage collection that visits only the keys that can have garbage.
//!
//! A key has something to collect only if it has more than one version or
//! a tombstone, and it gets there only by being written. So commits record
//! the *group* (escaped user key) of every key they write in a dirty set,
//! and a collection takes that set and visits just those groups, each with
//! one short range scan, applying the rule of the module above.
//!
//! After a group is collected at watermark `w`, what remains of it is every
//! version above `w` and at most one live version at or below it. If
//! nothing is above `w`, that single version has nothing to collect under
//! any later watermark until the key is written again; if something is,
//! a later collection (with a higher watermark) may remove what is left, so
//! the group goes back into the set.
//!
//! Invariant: **every group that may hold a version some collection would
//! remove is in the dirty set, or the set is marked incomplete.** The set
//! is incomplete after opening (versions written before are unknown) and
//! after an import; the next collection then scans everything, marking the
//! set complete *before* it starts, so commits that land during the scan
//! are recorded for the round after.

use std::collections::HashSet;
use std::ops::Bound;

use foldhash::fast::RandomState;

use super::key::{group_versions_range, is_tombstone, split_version_key, store_range};
use super::{Mvcc, Result};
use crate::storage::{ScanIter, WriteBatch};

/// What a [`Mvcc::gc`] run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Whether the run scanned every version (the first run after opening
    /// or an import) rather than only the keys written since.
    pub full_scan: bool,
    /// Version records examined.
    pub versions_scanned: u64,
    /// Version records removed, tombstones included.
    pub versions_removed: u64,
    /// Of those, tombstones.
    pub tombstones_removed: u64,
    /// True if an import replaced the contents during the run, which then
    /// stopped early (its removals so far stand; they were correct).
    pub interrupted: bool,
}

/// Deletions per store batch during gc. A key's deletions always share a batch.
const GC_BATCH: usize = 1024;

/// The groups a collection has to visit (see the module documentation).
///
/// Every commit looks its keys up here, so the set hashes with foldhash
/// rather than SipHash: about half the cost per key. Its keys are document
/// ids that clients choose; foldhash's seed is random per process, so they
/// cannot aim for collisions, though unlike SipHash it makes no
/// cryptographic promise. Its order is never seen: [`DirtyGroups::take`]
/// sorts.
#[derive(Debug, Default)]
pub(super) struct DirtyGroups {
    groups: HashSet<Vec<u8>, RandomState>,
    /// False until a full scan starts: the set does not cover older writes.
    complete: bool,
}

impl DirtyGroups {
    /// Records that `group` was written (or still has versions to collect).
    pub(super) fn insert(&mut self, group: &[u8]) {
        // An incomplete set is not consulted: the next run scans everything.
        if self.complete && !self.groups.contains(group) {
            self.groups.insert(group.to_vec());
        }
    }

    /// After an import or a failed collection: what is recorded no longer
    /// covers every group with garbage, so the next run scans everything.
    pub(super) fn mark_incomplete(&mut self) {
        self.groups = HashSet::default();
        self.complete = false;
    }

    /// The groups to visit, sorted, or `None` if everything must be
    /// scanned; either way the set starts afresh, complete.
    fn take(&mut self) -> Option<Vec<Vec<u8>>> {
        let complete = std::mem::replace(&mut self.complete, true);
        // The next round will likely dirty as many groups: start that big
        // (within reason, so one burst does not keep its memory for ever).
        let size = self.groups.len().min(1 << 16);
        let groups = std::mem::replace(
            &mut self.groups,
            HashSet::with_capacity_and_hasher(size, RandomState::default()),
        );
        complete.then(|| {
            let mut groups: Vec<Vec<u8>> = groups.into_iter().collect();
            groups.sort_unstable();
            groups
        })
    }
}

impl Mvcc {
    /// Removes every version that no read at a timestamp at or above
    /// `watermark` can see: per key, all versions older than the newest one
    /// at or below the watermark, and that one too if it is a tombstone.
    /// Visits only keys that can have such versions (see the `gc`
    /// submodule). Runs alongside reads and commits; it takes the write lock
    /// only to take the dirty set and to apply each batch of deletions.
    pub fn gc(&self, watermark: u64) -> Result<GcStats> {
        let result = self.collect_garbage(watermark);
        if result.is_err() {
            // The groups this run took and did not finish are lost.
            self.lock_writer()?.dirty.mark_incomplete();
        }
        result
    }

    fn collect_garbage(&self, watermark: u64) -> Result<GcStats> {
        // An import in progress finishes before this starts; one that starts
        // later is noticed when deletions are applied.
        let (imports, visit) = {
            let mut writer = self.lock_writer()?;
            (writer.imports, writer.dirty.take())
        };
        let mut run = Run {
            mvcc: self,
            watermark,
            imports,
            stats: GcStats {
                full_scan: visit.is_none(),
                ..GcStats::default()
            },
            batch: WriteBatch::new(),
            tombstones: 0,
            group: Vec::new(),
            kept: false,
            above_watermark: false,
            still_dirty: Vec::new(),
        };
        match visit {
            None => {
                run.collect(
                    self.store
                        .scan(store_range(Bound::Unbounded, Bound::Unbounded)),
                )?;
            }
            Some(groups) => {
                // Each group is a few versions: visited in place, not copied.
                for group in groups {
                    self.store
                        .visit(group_versions_range(&group), &mut |key, value| {
                            run.consider(key, value)
                        })?;
                    if !run.group_done()? {
                        break;
                    }
                }
            }
        }
        run.finish()
    }
}

/// One collection in progress.
struct Run<'m> {
    mvcc: &'m Mvcc,
    watermark: u64,
    /// The import count when the run started.
    imports: u64,
    stats: GcStats,
    /// Deletions not yet applied, and how many of them are tombstones.
    batch: WriteBatch,
    tombstones: u64,
    /// The group being visited.
    group: Vec<u8>,
    /// Whether its newest version at or below the watermark was seen.
    kept: bool,
    /// Whether it has versions above the watermark.
    above_watermark: bool,
    /// Visited groups that go back into the dirty set.
    still_dirty: Vec<Vec<u8>>,
}

impl Run<'_> {
    /// Collects the versions `records` yields (in store order). Returns
    /// false if an import interrupted the run.
    fn collect(&mut self, records: ScanIter<'_>) -> Result<bool> {
        for record in records {
            let (key, value) = record?;
            if !self.next_group_starts(&key)? {
                return Ok(false);
            }
            self.consider(&key, &value)?;
        }
        Ok(true)
    }

    /// Before the first version of a new group: ends the current one and
    /// applies the pending deletions once there are enough. False if an
    /// import interrupted the run.
    fn next_group_starts(&mut self, key: &[u8]) -> Result<bool> {
        let (key_group, _) = split_version_key(key)?;
        if key_group == self.group.as_slice() {
            return Ok(true);
        }
        self.group_done()
    }

    /// Ends the current group (see [`Run::next_group_starts`]).
    fn group_done(&mut self) -> Result<bool> {
        self.end_group();
        self.group.clear();
        if self.batch.len() >= GC_BATCH {
            return self.apply();
        }
        Ok(true)
    }

    /// One version, in store order within its group.
    fn consider(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.stats.versions_scanned += 1;
        let (key_group, ts) = split_version_key(key)?;
        if self.group.is_empty() {
            self.group.extend_from_slice(key_group);
        }
        if ts > self.watermark {
            self.above_watermark = true;
            return Ok(());
        }
        if self.kept {
            self.batch.delete(key.to_vec());
        } else {
            self.kept = true;
            if is_tombstone(value) {
                self.batch.delete(key.to_vec());
                self.tombstones += 1;
            }
        }
        Ok(())
    }

    /// Done with the current group: it stays dirty if it has versions a
    /// later, higher watermark may still collect.
    fn end_group(&mut self) {
        if self.above_watermark && !self.group.is_empty() {
            self.still_dirty.push(self.group.clone());
        }
        self.kept = false;
        self.above_watermark = false;
    }

    /// Applies the pending deletions and returns the still-dirty groups to
    /// the set, unless an import happened since the run started (then
    /// marks the run interrupted and returns false).
    fn apply(&mut self) -> Result<bool> {
        // Held until the deletions are written, so no import can slip between.
        let mut writer = self.mvcc.lock_writer()?;
        if writer.imports != self.imports {
            self.stats.interrupted = true;
            return Ok(false);
        }
        let batch = std::mem::take(&mut self.batch);
        let removed = batch.len() as u64;
        if removed > 0 {
            self.mvcc.store.write(batch)?;
        }
        for group in self.still_dirty.drain(..) {
            writer.dirty.insert(&group);
        }
        self.stats.versions_removed += removed;
        self.stats.tombstones_removed += std::mem::take(&mut self.tombstones);
        Ok(true)
    }

    fn finish(mut self) -> Result<GcStats> {
        if !self.stats.interrupted {
            self.end_group();
            self.apply()?;
        }
        Ok(self.stats)
    }
}
