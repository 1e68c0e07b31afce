//! MVCC tests: stories on the example of the module documentation, and (in
//! `model`) a property test against a simple model.

mod model;

use std::ops::Bound;
use std::sync::Arc;

use super::key::{is_tombstone, split_version_key};
use super::*;
use crate::storage::{MemoryStore, SledOptions, SledStore, WriteBehindOptions, WriteBehindStore};

fn memory() -> Mvcc {
    Mvcc::new(Arc::new(MemoryStore::new())).unwrap()
}

fn sled() -> Mvcc {
    Mvcc::new(Arc::new(SledStore::temporary().unwrap())).unwrap()
}

fn write_behind() -> Mvcc {
    let sled = Arc::new(SledStore::temporary().unwrap());
    Mvcc::new(Arc::new(
        WriteBehindStore::new(sled, WriteBehindOptions::default()).unwrap(),
    ))
    .unwrap()
}

fn set(key: &str, value: &str) -> Write {
    (key.as_bytes().to_vec(), Some(value.as_bytes().to_vec()))
}

fn delete(key: &str) -> Write {
    (key.as_bytes().to_vec(), None)
}

fn get(mvcc: &Mvcc, key: &str, ts: u64) -> Option<String> {
    mvcc.get(key.as_bytes(), ts)
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

fn pairs(scan: impl Iterator<Item = Result<Record>>) -> Vec<(String, String)> {
    scan.map(|r| {
        let (k, v) = r.unwrap();
        (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap())
    })
    .collect()
}

fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The example of the module documentation:
///
/// ```text
///  5          b5
///  4  a4              x
///  3      x       c3
///  2  a2  b2
///  1  a1          c1  d1
///     a   b   c   d
/// ```
fn example(mvcc: &Mvcc) {
    mvcc.commit(1, &[set("a", "a1"), set("c", "c1"), set("d", "d1")])
        .unwrap();
    mvcc.commit(2, &[set("a", "a2"), set("b", "b2")]).unwrap();
    mvcc.commit(3, &[delete("b"), set("c", "c3")]).unwrap();
    mvcc.commit(4, &[set("a", "a4"), delete("d")]).unwrap();
    mvcc.commit(5, &[set("b", "b5")]).unwrap();
}

/// The visible state of the example at each timestamp.
fn example_state(ts: u64) -> Vec<(String, String)> {
    match ts {
        0 => expect(&[]),
        1 => expect(&[("a", "a1"), ("c", "c1"), ("d", "d1")]),
        2 => expect(&[("a", "a2"), ("b", "b2"), ("c", "c1"), ("d", "d1")]),
        3 => expect(&[("a", "a2"), ("c", "c3"), ("d", "d1")]),
        4 => expect(&[("a", "a4"), ("c", "c3")]),
        _ => expect(&[("a", "a4"), ("b", "b5"), ("c", "c3")]),
    }
}

fn assert_example_state(mvcc: &Mvcc, ts: u64) {
    let state = example_state(ts);
    assert_eq!(pairs(mvcc.scan(.., ts)), state, "scan at {ts}");
    let mut reversed = state.clone();
    reversed.reverse();
    assert_eq!(pairs(mvcc.scan_rev(.., ts)), reversed, "scan_rev at {ts}");
    assert_eq!(pairs(mvcc.export(ts)), state, "export at {ts}");
    for key in ["a", "b", "c", "d", "e"] {
        let value = state.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        assert_eq!(get(mvcc, key, ts), value, "get {key} at {ts}");
    }
}

#[test]
fn each_timestamp_sees_its_own_snapshot() {
    for mvcc in [memory(), sled(), write_behind()] {
        example(&mvcc);
        for ts in 0..=6 {
            assert_example_state(&mvcc, ts);
        }
        assert_eq!(mvcc.get_latest(b"a").unwrap(), Some(b"a4".to_vec()));
        assert_eq!(mvcc.get_latest(b"d").unwrap(), None);
        for key in [&b"a"[..], b"b", b"c", b"d", b"e", b"never"] {
            let read = mvcc
                .read_latest(key, |value| Ok(value.map(<[u8]>::to_vec)))
                .unwrap();
            assert_eq!(read, mvcc.get_latest(key).unwrap(), "read_latest {key:?}");
        }
        assert_eq!(mvcc.latest_commit_ts(), 5);
    }
}

#[test]
fn commit_timestamps_must_strictly_increase() {
    let mvcc = memory();
    assert!(
        mvcc.commit(0, &[set("a", "zero")]).is_err(),
        "0 is not after the initial 0"
    );
    mvcc.commit(5, &[set("a", "five")]).unwrap();
    let err = mvcc.commit(5, &[set("a", "again")]).unwrap_err();
    assert_eq!(
        err,
        Error::Storage("commit timestamp 5 is not after the latest commit timestamp 5".into())
    );
    assert!(mvcc.commit(4, &[set("a", "four")]).is_err());
    assert_eq!(get(&mvcc, "a", u64::MAX), Some("five".into()));
    // Gaps are fine, and an empty commit just advances the timestamp.
    mvcc.commit(9, &[]).unwrap();
    assert_eq!(mvcc.latest_commit_ts(), 9);
}

#[test]
fn a_tombstone_hides_a_key_until_it_is_written_again() {
    let mvcc = memory();
    mvcc.commit(1, &[set("k", "v1")]).unwrap();
    mvcc.commit(2, &[delete("k")]).unwrap();
    mvcc.commit(3, &[set("k", "v3")]).unwrap();
    assert_eq!(get(&mvcc, "k", 1), Some("v1".into()));
    assert_eq!(get(&mvcc, "k", 2), None);
    assert_eq!(get(&mvcc, "k", 3), Some("v3".into()));
    // Deleting a key that never existed is harmless.
    mvcc.commit(4, &[delete("never")]).unwrap();
    assert_eq!(pairs(mvcc.scan(.., 4)), expect(&[("k", "v3")]));
}

#[test]
fn the_last_write_to_a_key_in_one_commit_wins() {
    let mvcc = memory();
    mvcc.commit(1, &[set("k", "first"), set("k", "second")])
        .unwrap();
    mvcc.commit(2, &[set("j", "x"), delete("j")]).unwrap();
    assert_eq!(get(&mvcc, "k", 1), Some("second".into()));
    assert_eq!(get(&mvcc, "j", 2), None);
}

#[test]
fn empty_keys_and_values_are_ordinary() {
    let mvcc = memory();
    mvcc.commit(1, &[set("", ""), set("e", "")]).unwrap();
    assert_eq!(get(&mvcc, "", 1), Some(String::new()));
    assert_eq!(pairs(mvcc.scan(.., 1)), expect(&[("", ""), ("e", "")]));
}

#[test]
fn ranges_and_prefixes_treat_zero_bytes_as_ordinary_bytes() {
    let mvcc = memory();
    let keys: [&[u8]; 6] = [b"a", b"a\x00", b"a\x00b", b"a\xff", b"ab", b"b"];
    let writes: Vec<Write> = keys
        .iter()
        .map(|k| (k.to_vec(), Some(k.to_vec())))
        .collect();
    mvcc.commit(1, &writes).unwrap();
    mvcc.commit(2, &[(b"a\x00".to_vec(), Some(b"newer".to_vec()))])
        .unwrap();

    let keys_of = |scan: Scan| -> Vec<Vec<u8>> { scan.map(|r| r.unwrap().0).collect() };
    assert_eq!(
        keys_of(mvcc.scan_prefix(b"a\x00", 2)),
        vec![b"a\x00".to_vec(), b"a\x00b".to_vec()]
    );
    assert_eq!(keys_of(mvcc.scan_prefix(b"a", 2)).len(), 5);
    assert_eq!(keys_of(mvcc.scan_prefix(b"", 2)).len(), 6);
    assert_eq!(keys_of(mvcc.scan_prefix(b"c", 2)).len(), 0);
    let (a, ab): (&[u8], &[u8]) = (b"a", b"ab");
    // 0xff sorts after every other byte: a\xff > ab.
    assert_eq!(
        keys_of(mvcc.scan(a..ab, 2)),
        vec![a.to_vec(), b"a\x00".to_vec(), b"a\x00b".to_vec()]
    );
    assert_eq!(
        keys_of(mvcc.scan((Bound::Excluded(a), Bound::Included(ab)), 2)),
        vec![b"a\x00".to_vec(), b"a\x00b".to_vec(), ab.to_vec()]
    );
    assert_eq!(
        keys_of(mvcc.scan((Bound::Excluded(a), Bound::Excluded(a)), 2)).len(),
        0
    );
    assert_eq!(keys_of(mvcc.scan(ab..a, 2)).len(), 0, "inverted range");
    assert_eq!(mvcc.get(b"a\x00", 1).unwrap(), Some(b"a\x00".to_vec()));
    assert_eq!(mvcc.get(b"a\x00", 2).unwrap(), Some(b"newer".to_vec()));
    let rev: Vec<Vec<u8>> = mvcc
        .scan_prefix_rev(b"a\x00", 2)
        .map(|r| r.unwrap().0)
        .collect();
    assert_eq!(rev, vec![b"a\x00b".to_vec(), b"a\x00".to_vec()]);
}

/// The raw version records left in the store, as `key@ts` strings.
fn raw_versions(mvcc: &Mvcc) -> Vec<String> {
    mvcc.store()
        .scan(key::store_range(Bound::Unbounded, Bound::Unbounded))
        .map(|r| {
            let (k, v) = r.unwrap();
            let (group, ts) = split_version_key(&k).unwrap();
            let key = String::from_utf8(key::decode_group(group).unwrap()).unwrap();
            let tombstone = if is_tombstone(&v) { " x" } else { "" };
            format!("{key}@{ts}{tombstone}")
        })
        .collect()
}

#[test]
fn gc_removes_what_no_reader_at_or_above_the_watermark_can_see() {
    for mvcc in [memory(), sled(), write_behind()] {
        example(&mvcc);
        let stats = mvcc.gc(4).unwrap();
        assert_eq!(
            stats,
            GcStats {
                full_scan: true,
                versions_scanned: 10,
                versions_removed: 7,
                tombstones_removed: 2,
                interrupted: false
            }
        );
        assert_eq!(raw_versions(&mvcc), vec!["a@4", "b@5", "c@3"]);
        for ts in 4..=6 {
            assert_example_state(&mvcc, ts);
        }
        // Nothing more to do at the same watermark; commits carry on.
        assert_eq!(mvcc.gc(4).unwrap().versions_removed, 0);
        mvcc.commit(6, &[delete("a")]).unwrap();
        assert_eq!(mvcc.gc(6).unwrap().tombstones_removed, 1);
        assert_eq!(raw_versions(&mvcc), vec!["b@5", "c@3"]);
    }
}

#[test]
fn gc_keeps_versions_above_the_watermark() {
    let mvcc = memory();
    example(&mvcc);
    mvcc.gc(2).unwrap();
    assert_eq!(
        raw_versions(&mvcc),
        vec![
            "a@4", "a@2", "b@5", "b@3 x", "b@2", "c@3", "c@1", "d@4 x", "d@1"
        ]
    );
    for ts in 2..=6 {
        assert_example_state(&mvcc, ts);
    }
}

/// Keys 0..3000, each set to `tag`.
fn writes(tag: &str) -> Vec<Write> {
    (0..3000u32)
        .map(|i| (i.to_be_bytes().to_vec(), Some(tag.as_bytes().to_vec())))
        .collect()
}

#[test]
fn gc_handles_many_keys_across_batches() {
    let mvcc = memory();
    mvcc.commit(1, &writes("old")).unwrap();
    mvcc.commit(2, &writes("new")).unwrap();
    let stats = mvcc.gc(2).unwrap();
    assert_eq!(
        (stats.versions_scanned, stats.versions_removed),
        (6000, 3000)
    );
    assert_eq!(mvcc.scan(.., 2).count(), 3000);
    assert!(mvcc.scan(.., 2).all(|r| r.unwrap().1 == b"new"));
}

#[test]
fn gc_of_written_keys_handles_many_keys_across_batches() {
    // The second collection visits only the keys written since the first
    // (each in place, see `Store::visit`), and removes more than one batch.
    let mvcc = memory();
    mvcc.commit(1, &writes("first")).unwrap();
    assert!(mvcc.gc(1).unwrap().full_scan);
    mvcc.commit(2, &writes("old")).unwrap();
    mvcc.commit(3, &writes("new")).unwrap();
    mvcc.commit(4, &[(5u32.to_be_bytes().to_vec(), None)])
        .unwrap();
    let stats = mvcc.gc(3).unwrap();
    assert!(!stats.full_scan);
    // 3000 keys × 3 versions, plus key 5's tombstone above the watermark.
    assert_eq!(stats.versions_scanned, 9001);
    assert_eq!(stats.versions_removed, 6000);
    assert_eq!(mvcc.scan(.., 3).count(), 3000);
    assert!(mvcc.scan(.., 3).all(|r| r.unwrap().1 == b"new"));
    // Key 5 stays dirty (a version above the watermark): the next round
    // removes its last old version and then the tombstone.
    let later = mvcc.gc(4).unwrap();
    assert_eq!(
        (
            later.versions_scanned,
            later.versions_removed,
            later.tombstones_removed
        ),
        (2, 2, 1)
    );
    assert_eq!(mvcc.get(&5u32.to_be_bytes(), 4).unwrap(), None);
    assert_eq!(mvcc.scan(.., 4).count(), 2999);
}

#[test]
fn after_the_first_gc_only_keys_written_since_are_visited() {
    for mvcc in [memory(), sled()] {
        let writes: Vec<Write> = (0..3000u32)
            .map(|i| (i.to_be_bytes().to_vec(), Some(b"v1".to_vec())))
            .collect();
        mvcc.commit(1, &writes).unwrap();
        let first = mvcc.gc(1).unwrap();
        assert!(first.full_scan);
        assert_eq!(first.versions_scanned, 3000);

        mvcc.commit(2, &[(7u32.to_be_bytes().to_vec(), Some(b"v2".to_vec()))])
            .unwrap();
        let second = mvcc.gc(2).unwrap();
        assert_eq!(
            second,
            GcStats {
                full_scan: false,
                versions_scanned: 2,
                versions_removed: 1,
                tombstones_removed: 0,
                interrupted: false
            }
        );
        // Nothing written since: nothing to visit.
        assert_eq!(mvcc.gc(2).unwrap().versions_scanned, 0);
        assert_eq!(
            mvcc.get(&7u32.to_be_bytes(), 2).unwrap(),
            Some(b"v2".to_vec())
        );
    }
}

#[test]
fn a_key_with_versions_above_the_watermark_is_collected_later_unwritten() {
    let mvcc = memory();
    mvcc.gc(0).unwrap(); // the full scan of an empty store
    for ts in 1..=3 {
        mvcc.commit(ts, &[set("a", &format!("a{ts}"))]).unwrap();
    }
    mvcc.commit(4, &[delete("b")]).unwrap();
    // At watermark 1, a@1 is the version to keep; a@2, a@3 and b's
    // tombstone at 4 are above it.
    assert_eq!(mvcc.gc(1).unwrap().versions_removed, 0);
    assert_eq!(raw_versions(&mvcc), vec!["a@3", "a@2", "a@1", "b@4 x"]);
    // No new writes, a higher watermark: the rest is collected.
    let stats = mvcc.gc(4).unwrap();
    assert_eq!(
        (
            stats.full_scan,
            stats.versions_removed,
            stats.tombstones_removed
        ),
        (false, 3, 1)
    );
    assert_eq!(raw_versions(&mvcc), vec!["a@3"]);
    assert_eq!(mvcc.gc(4).unwrap().versions_scanned, 0);
}

#[test]
fn the_first_gc_after_opening_or_an_import_scans_everything() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mvcc = Mvcc::new(store.clone()).unwrap();
    example(&mvcc);
    assert!(mvcc.gc(2).unwrap().full_scan);
    assert!(!mvcc.gc(2).unwrap().full_scan);
    // Reopened: versions written before are unknown to the new instance.
    let reopened = Mvcc::new(store).unwrap();
    let stats = reopened.gc(4).unwrap();
    assert!(stats.full_scan);
    assert_eq!(raw_versions(&reopened), vec!["a@4", "b@5", "c@3"]);
    let mut records = vec![Ok((b"k".to_vec(), b"v".to_vec()))].into_iter();
    reopened.import(&mut records, 10).unwrap();
    assert!(reopened.gc(10).unwrap().full_scan);
    assert_eq!(raw_versions(&reopened), vec!["k@10"]);
}

#[test]
fn an_export_at_an_old_timestamp_ignores_newer_commits() {
    for mvcc in [memory(), sled(), write_behind()] {
        example(&mvcc);
        let mut export = mvcc.export(2);
        let first = export.next().unwrap().unwrap();
        // Commits land while the export is being read.
        mvcc.commit(6, &[set("b", "b6"), set("c", "c6"), set("bb", "new")])
            .unwrap();
        mvcc.commit(7, &[delete("d")]).unwrap();
        let mut exported = vec![first];
        exported.extend(export.map(Result::unwrap));
        assert_eq!(pairs(exported.into_iter().map(Ok)), example_state(2));
    }
}

#[test]
fn import_replaces_the_whole_state() {
    for mvcc in [memory(), sled(), write_behind()] {
        example(&mvcc);
        let source = memory();
        source.commit(10, &[set("x", "1"), set("y", "2")]).unwrap();
        source.commit(11, &[set("z", "3")]).unwrap();

        mvcc.import(&mut source.export(10), 10).unwrap();
        assert_eq!(mvcc.latest_commit_ts(), 10);
        assert_eq!(pairs(mvcc.scan(.., 10)), expect(&[("x", "1"), ("y", "2")]));
        assert_eq!(get(&mvcc, "a", 10), None);
        assert_eq!(raw_versions(&mvcc), vec!["x@10", "y@10"]);
        assert!(mvcc.commit(10, &[set("w", "no")]).is_err());
        mvcc.commit(11, &[set("w", "yes")]).unwrap();
        assert_eq!(get(&mvcc, "w", 11), Some("yes".into()));
        // A fresh Mvcc on the same store recovers the timestamp.
        assert_eq!(
            Mvcc::new(Arc::clone(mvcc.store()))
                .unwrap()
                .latest_commit_ts(),
            11
        );
    }
}

#[test]
fn a_failed_import_leaves_the_old_state() {
    for mvcc in [memory(), sled(), write_behind()] {
        example(&mvcc);
        let mut records = (0..100u32)
            .map(|i| Ok((i.to_be_bytes().to_vec(), b"v".to_vec())))
            .chain(std::iter::once(Err(Error::Storage("stream broken".into()))));
        assert_eq!(
            mvcc.import(&mut records, 20),
            Err(Error::Storage("stream broken".into()))
        );
        assert_eq!(mvcc.latest_commit_ts(), 5);
        for ts in 0..=6 {
            assert_example_state(&mvcc, ts);
        }
        mvcc.commit(6, &[]).unwrap();
    }
}

#[test]
fn the_latest_commit_ts_is_recovered_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let options = SledOptions {
        cache_capacity_bytes: 8 << 20,
        flush_every_ms: None,
    };
    {
        let mvcc = Mvcc::new(Arc::new(
            SledStore::open(dir.path(), options.clone()).unwrap(),
        ))
        .unwrap();
        assert_eq!(mvcc.latest_commit_ts(), 0);
        example(&mvcc);
        mvcc.flush().unwrap();
    }
    let mvcc = Mvcc::new(Arc::new(SledStore::open(dir.path(), options).unwrap())).unwrap();
    assert_eq!(mvcc.latest_commit_ts(), 5);
    for ts in 0..=6 {
        assert_example_state(&mvcc, ts);
    }
}

#[test]
fn corrupt_records_are_errors() {
    let mvcc = memory();
    let mut batch = WriteBatch::new();
    batch.set(key::version_key(b"k", 1), b"no marker\x07".to_vec());
    batch.set(vec![0x01, b'z'], b"\x01".to_vec()); // too short to be a version key
    mvcc.store().write(batch).unwrap();
    assert!(matches!(mvcc.get(b"k", 1), Err(Error::Encoding(_))));
    let results: Vec<_> = mvcc.scan(.., 1).collect();
    assert_eq!(results.len(), 1, "a scan stops at its first error");
    assert!(matches!(results[0], Err(Error::Encoding(_))));
    assert!(mvcc.gc(1).is_err());

    let store = MemoryStore::new();
    let mut batch = WriteBatch::new();
    batch.set(key::LATEST_COMMIT_TS_KEY, b"short".to_vec());
    store.write(batch).unwrap();
    assert!(matches!(
        Mvcc::new(Arc::new(store)),
        Err(Error::Encoding(_))
    ));
}

#[test]
fn readers_at_a_fixed_timestamp_are_undisturbed_by_a_concurrent_writer() {
    for mvcc in [memory(), sled(), write_behind()] {
        example(&mvcc);
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        for _ in 0..200 {
                            assert_eq!(pairs(mvcc.scan(.., 5)), example_state(5));
                            assert_eq!(get(&mvcc, "c", 3), Some("c3".into()));
                        }
                    })
                })
                .collect();
            for ts in 6..300 {
                mvcc.commit(ts, &[set("a", "later"), delete("c"), set("e", "new")])
                    .unwrap();
            }
            readers.into_iter().for_each(|r| r.join().unwrap());
        });
    }
}

/// A store that runs an import the first time it is scanned, after reading
/// the records the scan yields: a gc then computes its deletions from contents
/// an import has already replaced.
/// A memory store whose next write fails once armed.
/// A memory store with faults to inject: the next `write` fails, or
/// something runs during the next `scan` (after its records are read).
#[derive(Default)]
struct HookedStore {
    inner: MemoryStore,
    fail_next_write: std::sync::atomic::AtomicBool,
    during_next_scan: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl Store for HookedStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn first_value(&self, from: &[u8], to: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.first_value(from, to)
    }
    fn scan(&self, range: crate::storage::KeyRange) -> crate::storage::ScanIter<'_> {
        let records: Vec<_> = self.inner.scan(range).collect();
        let hook = self.during_next_scan.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        Box::new(records.into_iter())
    }
    fn write(&self, batch: WriteBatch) -> Result<()> {
        if self
            .fail_next_write
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(Error::Storage("injected write failure".into()));
        }
        self.inner.write(batch)
    }
    fn flush(&self) -> Result<()> {
        Ok(())
    }
    fn replace_all(&self, records: &mut dyn Iterator<Item = Result<Record>>) -> Result<()> {
        self.inner.replace_all(records)
    }
    fn stats(&self) -> Result<crate::storage::StoreStats> {
        self.inner.stats()
    }
}

#[test]
fn a_failed_gc_leaves_the_next_one_to_scan_everything() {
    let store = Arc::new(HookedStore::default());
    let mvcc = Mvcc::new(store.clone()).unwrap();
    mvcc.commit(1, &[set("a", "a1")]).unwrap();
    assert!(mvcc.gc(1).unwrap().full_scan);
    mvcc.commit(2, &[set("a", "a2")]).unwrap();
    mvcc.commit(3, &[set("a", "a3")]).unwrap();
    store
        .fail_next_write
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(mvcc.gc(3).is_err());
    // The keys that failed round had taken are not forgotten.
    let stats = mvcc.gc(3).unwrap();
    assert!(stats.full_scan);
    assert_eq!(raw_versions(&mvcc), vec!["a@3"]);
}

#[test]
fn a_gc_overtaken_by_an_import_deletes_nothing() {
    let store = Arc::new(HookedStore::default());
    let mvcc = Arc::new(Mvcc::new(store.clone()).unwrap());
    mvcc.commit(1, &[set("a", "a1")]).unwrap();
    mvcc.commit(2, &[set("a", "a2")]).unwrap();

    // gc(2) decides to delete a@1, but meanwhile an import writes a new a@1.
    let importer = Arc::downgrade(&mvcc);
    *store.during_next_scan.lock().unwrap() = Some(Box::new(move || {
        let mvcc = importer.upgrade().unwrap();
        let imported = vec![Ok((b"a".to_vec(), b"imported".to_vec()))];
        mvcc.import(&mut imported.into_iter(), 1).unwrap();
    }));
    let stats = mvcc.gc(2).unwrap();
    assert!(stats.interrupted);
    assert_eq!(stats.versions_removed, 0);
    assert_eq!(get(&mvcc, "a", 1), Some("imported".into()));
}
