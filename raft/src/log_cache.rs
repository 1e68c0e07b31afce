//! The newest log entries, kept in memory as entries (not sled records).
//!
//! openraft reads every entry back from the log store after appending it:
//! each replication stream reads the entries it sends (a leader has one per
//! follower) and the state machine worker reads the entries it applies. From
//! sled that is a lookup plus a MessagePack decode of the whole entry, every
//! time — on a leader three decodes of each entry, more CPU than the append.
//! Nearly all of these reads are of entries appended moments ago, so the log
//! store keeps the newest ones here and reads sled only for older ones
//! (a follower catching up from far behind, a restart).
//!
//! Invariant: the cache holds a *contiguous suffix* of the log — entries
//! `first..=last` with `last` the newest appended — of at most its budget of
//! encoded bytes (always at least the newest entry).
//! Appends extend it (an append that does not continue it replaces what it
//! overlaps, as after a truncation), the oldest entries are evicted past the
//! budget, and truncation and purge remove exactly what they remove from
//! sled. So every entry the cache returns is the entry sled holds at that
//! index. Entries are cheap to clone: a proposal's commands are shared.

use std::collections::VecDeque;
use std::ops::Range;

use crate::types::Entry;

/// A contiguous suffix of the log. See the [module documentation](self).
#[derive(Debug)]
pub struct LogCache {
    /// `(entry, encoded size)`, oldest first, indexes consecutive.
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
    max_bytes: usize,
}

impl LogCache {
    pub fn new(max_bytes: usize) -> LogCache {
        LogCache {
            entries: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.log_id.index)
    }

    fn next_index(&self) -> Option<u64> {
        self.entries.back().map(|(e, _)| e.log_id.index + 1)
    }

    /// Records an appended entry of `size` encoded bytes.
    pub fn append(&mut self, entry: Entry, size: usize) {
        let index = entry.log_id.index;
        match (self.first_index(), self.next_index()) {
            (Some(_), Some(next)) if index == next => {}
            (Some(first), Some(next)) if first < index && index < next => self.remove_from(index),
            // Empty, not contiguous, or replacing everything cached.
            _ => self.clear(),
        }
        self.bytes += size;
        self.entries.push_back((entry, size));
        while self.bytes > self.max_bytes && self.entries.len() > 1 {
            let (_, size) = self.entries.pop_front().expect("more than one entry");
            self.bytes -= size;
        }
    }

    /// Forgets entries at `index` and after (a truncation).
    pub fn remove_from(&mut self, index: u64) {
        while let Some((entry, size)) = self.entries.back() {
            if entry.log_id.index < index {
                break;
            }
            self.bytes -= size;
            self.entries.pop_back();
        }
    }

    /// Forgets entries at `index` and before (a purge).
    pub fn remove_through(&mut self, index: u64) {
        while let Some((entry, size)) = self.entries.front() {
            if entry.log_id.index > index {
                break;
            }
            self.bytes -= size;
            self.entries.pop_front();
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Splits `range` into the part older than the cache (to read from
    /// sled) and the cached entries of the rest, which are returned.
    pub fn split(&self, range: Range<u64>) -> (Range<u64>, Vec<Entry>) {
        let Some(first) = self.first_index() else {
            return (range, Vec::new());
        };
        let cached_from = range.start.max(first);
        let older = range.start..range.end.min(first);
        let entries = self
            .entries
            .iter()
            .skip((cached_from - first) as usize)
            .take_while(|(e, _)| e.log_id.index < range.end)
            .map(|(e, _)| e.clone())
            .collect();
        (older, entries)
    }
}

#[cfg(test)]
mod tests {
    use openraft::EntryPayload;
    use openraft::testing::log_id;

    use super::*;

    fn entry(term: u64, index: u64) -> Entry {
        Entry {
            log_id: log_id::<crate::types::TypeConfig>(term, 1, index),
            payload: EntryPayload::Blank,
        }
    }

    fn indexes(entries: &[Entry]) -> Vec<(u64, u64)> {
        entries
            .iter()
            .map(|e| (e.log_id.leader_id.term, e.log_id.index))
            .collect()
    }

    #[test]
    fn ranges_split_at_the_oldest_cached_entry() {
        let mut cache = LogCache::new(1000);
        for i in 5..10 {
            cache.append(entry(1, i), 10);
        }
        let (older, cached) = cache.split(2..8);
        assert_eq!(older, 2..5);
        assert_eq!(indexes(&cached), vec![(1, 5), (1, 6), (1, 7)]);
        let (older, cached) = cache.split(7..20);
        assert!(older.is_empty());
        assert_eq!(indexes(&cached), vec![(1, 7), (1, 8), (1, 9)]);
        let (older, cached) = cache.split(1..3);
        assert_eq!(older, 1..3);
        assert!(cached.is_empty());
    }

    #[test]
    fn the_budget_evicts_the_oldest_but_keeps_the_newest() {
        let mut cache = LogCache::new(25);
        for i in 1..=4 {
            cache.append(entry(1, i), 10);
        }
        assert_eq!(indexes(&cache.split(1..5).1), vec![(1, 3), (1, 4)]);
        cache.append(entry(1, 5), 100);
        assert_eq!(indexes(&cache.split(1..6).1), vec![(1, 5)]);
    }

    #[test]
    fn an_append_after_a_conflict_replaces_the_overlap() {
        let mut cache = LogCache::new(1000);
        for i in 1..=5 {
            cache.append(entry(1, i), 10);
        }
        // A new leader's entry 4 replaces 4 and 5 (openraft truncates first;
        // the cache must be right even if only the append is seen).
        cache.append(entry(2, 4), 10);
        assert_eq!(
            indexes(&cache.split(1..10).1),
            vec![(1, 1), (1, 2), (1, 3), (2, 4)]
        );
        // A gap (after a snapshot install) starts over.
        cache.append(entry(2, 9), 10);
        assert_eq!(indexes(&cache.split(1..10).1), vec![(2, 9)]);
        assert_eq!(cache.split(1..10).0, 1..9);
    }

    #[test]
    fn truncate_and_purge_remove_what_they_remove_from_the_log() {
        let mut cache = LogCache::new(1000);
        for i in 1..=6 {
            cache.append(entry(1, i), 10);
        }
        cache.remove_from(5);
        cache.remove_through(2);
        assert_eq!(indexes(&cache.split(1..10).1), vec![(1, 3), (1, 4)]);
        assert_eq!(cache.bytes, 20);
        cache.remove_through(4);
        assert_eq!(cache.split(1..10), (1..10, Vec::new()));
    }
}
