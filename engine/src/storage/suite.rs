//! The test suite every [`Store`] must pass, written once.
//!
//! Each scenario is a function taking a fresh, empty store;
//! [`store_suite!`] turns them into `#[test]`s for one implementation:
//!
//! ```ignore
//! suite::store_suite!(MemoryStore::new());
//! ```

use std::ops::Bound::{self, Excluded, Included, Unbounded};

use super::{Record, Store, WriteBatch};
use crate::error::{Error, Result};

/// Generates one `#[test]` per scenario below for the store built by `$make`.
macro_rules! store_suite {
    ($make:expr) => {
        mod store_suite {
            use super::*;
            use $crate::storage::suite as s;

            #[test]
            fn point_reads_and_writes() {
                s::point_reads_and_writes(&$make);
            }
            #[test]
            fn the_last_operation_of_a_batch_wins() {
                s::the_last_operation_of_a_batch_wins(&$make);
            }
            #[test]
            fn scans_follow_byte_order_in_both_directions() {
                s::scans_follow_byte_order_in_both_directions(&$make);
            }
            #[test]
            fn scans_and_visits_respect_every_kind_of_bound() {
                s::scans_and_visits_respect_every_kind_of_bound(&$make);
            }
            #[test]
            fn scans_from_both_ends_meet_without_overlap() {
                s::scans_from_both_ends_meet_without_overlap(&$make);
            }
            #[test]
            fn prefix_scans_handle_0xff_bytes() {
                s::prefix_scans_handle_0xff_bytes(&$make);
            }
            #[test]
            fn first_value_seeks_to_the_smallest_key_in_range() {
                s::first_value_seeks_to_the_smallest_key_in_range(&$make);
            }
            #[test]
            fn replace_all_swaps_the_whole_contents() {
                s::replace_all_swaps_the_whole_contents(&$make);
            }
            #[test]
            fn a_failed_replace_all_leaves_the_old_contents() {
                s::a_failed_replace_all_leaves_the_old_contents(&$make);
            }
            #[test]
            fn readers_on_other_threads_see_whole_batches() {
                s::readers_on_other_threads_see_whole_batches(&$make);
            }
        }
    };
}
pub(crate) use store_suite;

fn set(store: &dyn Store, pairs: &[(&[u8], &[u8])]) {
    let mut batch = WriteBatch::new();
    for (key, value) in pairs {
        batch.set(*key, *value);
    }
    store.write(batch).unwrap();
}

fn collect(scan: impl Iterator<Item = Result<Record>>) -> Vec<Vec<u8>> {
    scan.map(|r| r.unwrap().0).collect()
}

fn keys(keys: &[&[u8]]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| k.to_vec()).collect()
}

fn range(start: Bound<&[u8]>, end: Bound<&[u8]>) -> super::KeyRange {
    (start.map(<[u8]>::to_vec), end.map(<[u8]>::to_vec))
}

pub fn point_reads_and_writes(store: &dyn Store) {
    assert_eq!(store.get(b"a").unwrap(), None);
    set(store, &[(b"a", b"1")]);
    assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    set(store, &[(b"a", b"2")]);
    assert_eq!(store.get(b"a").unwrap(), Some(b"2".to_vec()));

    // The empty key and the empty value are ordinary.
    set(store, &[(b"", b"")]);
    assert_eq!(store.get(b"").unwrap(), Some(vec![]));

    let mut batch = WriteBatch::new();
    batch.delete(b"a".to_vec());
    batch.delete(b"never-written".to_vec());
    store.write(batch).unwrap();
    assert_eq!(store.get(b"a").unwrap(), None);
    assert_eq!(store.get(b"").unwrap(), Some(vec![]));

    // An empty batch is a no-op, and flush succeeds.
    store.write(WriteBatch::new()).unwrap();
    store.flush().unwrap();
}

pub fn the_last_operation_of_a_batch_wins(store: &dyn Store) {
    set(store, &[(b"c", b"old")]);
    let mut batch = WriteBatch::new();
    batch.set(b"a".to_vec(), b"1".to_vec());
    batch.delete(b"a".to_vec());
    batch.set(b"b".to_vec(), b"1".to_vec());
    batch.set(b"b".to_vec(), b"2".to_vec());
    batch.delete(b"c".to_vec());
    batch.set(b"c".to_vec(), b"new".to_vec());
    store.write(batch).unwrap();
    assert_eq!(store.get(b"a").unwrap(), None);
    assert_eq!(store.get(b"b").unwrap(), Some(b"2".to_vec()));
    assert_eq!(store.get(b"c").unwrap(), Some(b"new".to_vec()));
}

pub fn scans_follow_byte_order_in_both_directions(store: &dyn Store) {
    set(
        store,
        &[
            (b"b", b"2"),
            (b"\xff", b"5"),
            (b"a\x00", b"1"),
            (b"", b"0"),
            (b"a", b"x"),
        ],
    );
    let all: Vec<Record> = store
        .scan((Unbounded, Unbounded))
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(
        all,
        vec![
            (b"".to_vec(), b"0".to_vec()),
            (b"a".to_vec(), b"x".to_vec()),
            (b"a\x00".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
            (b"\xff".to_vec(), b"5".to_vec()),
        ]
    );
    let reversed: Vec<Record> = store
        .scan((Unbounded, Unbounded))
        .rev()
        .collect::<Result<_>>()
        .unwrap();
    assert_eq!(reversed, all.into_iter().rev().collect::<Vec<_>>());
}

pub fn scans_and_visits_respect_every_kind_of_bound(store: &dyn Store) {
    set(store, &[(b"a", b""), (b"b", b""), (b"c", b""), (b"d", b"")]);
    let (b, c): (&[u8], &[u8]) = (b"b", b"c");
    type Case<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>, Vec<Vec<u8>>);
    let cases: Vec<Case> = vec![
        (Included(b), Included(c), keys(&[b"b", b"c"])),
        (Included(b), Excluded(c), keys(&[b"b"])),
        (Excluded(b), Included(c), keys(&[b"c"])),
        (Excluded(b), Excluded(c), keys(&[])),
        (Unbounded, Excluded(c), keys(&[b"a", b"b"])),
        (Excluded(b), Unbounded, keys(&[b"c", b"d"])),
        (Included(b"bb"), Included(b"zz"), keys(&[b"c", b"d"])),
        // Empty and inverted ranges yield nothing rather than panicking.
        (Included(b), Excluded(b), keys(&[])),
        (Excluded(b), Excluded(b), keys(&[])),
        (Included(c), Included(b), keys(&[])),
    ];
    for (start, end, expect) in cases {
        assert_eq!(
            collect(store.scan(range(start, end))),
            expect,
            "{start:?}..{end:?}"
        );
        let mut visited = Vec::new();
        store
            .visit(range(start, end), &mut |key, value| {
                assert_eq!(value, b"", "visit {start:?}..{end:?}: value of {key:?}");
                visited.push(key.to_vec());
                Ok(())
            })
            .unwrap();
        assert_eq!(visited, expect, "visit {start:?}..{end:?}");
        let mut reversed = expect.clone();
        reversed.reverse();
        assert_eq!(
            collect(store.scan(range(start, end)).rev()),
            reversed,
            "rev {start:?}..{end:?}"
        );
    }
}

pub fn scans_from_both_ends_meet_without_overlap(store: &dyn Store) {
    // Enough keys that the memory store copies several chunks per side.
    let mut batch = WriteBatch::new();
    for i in 0..3000u16 {
        batch.set(i.to_be_bytes(), i.to_le_bytes());
    }
    store.write(batch).unwrap();

    assert_eq!(collect(store.scan((Unbounded, Unbounded))).len(), 3000);
    let mut scan = store.scan((Unbounded, Unbounded));
    let (mut front, mut back) = (Vec::new(), Vec::new());
    while let Some(f) = scan.next() {
        front.push(f.unwrap().0);
        let Some(b) = scan.next_back() else { break };
        back.push(b.unwrap().0);
        // Drain the front in a burst now and then, to unbalance the sides.
        if front.len() % 100 == 0 {
            front.extend(scan.by_ref().take(250).map(|r| r.unwrap().0));
        }
    }
    back.reverse();
    front.extend(back);
    let expect: Vec<Vec<u8>> = (0..3000u16).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(front, expect);
}

pub fn prefix_scans_handle_0xff_bytes(store: &dyn Store) {
    for key in [
        &b"a"[..],
        b"ab",
        b"abc",
        b"a\xff",
        b"a\xff\xff",
        b"b",
        b"\xff",
        b"\xff\xff",
    ] {
        set(store, &[(key, b"")]);
    }
    assert_eq!(
        collect(store.scan_prefix(b"a")),
        keys(&[b"a", b"ab", b"abc", b"a\xff", b"a\xff\xff"])
    );
    assert_eq!(
        collect(store.scan_prefix(b"a\xff")),
        keys(&[b"a\xff", b"a\xff\xff"])
    );
    assert_eq!(
        collect(store.scan_prefix(b"\xff")),
        keys(&[b"\xff", b"\xff\xff"])
    );
    assert_eq!(collect(store.scan_prefix(b"ac")), keys(&[]));
    assert_eq!(collect(store.scan_prefix(b"")).len(), 8);
    assert_eq!(
        collect(store.scan_prefix(b"a").rev())[0],
        b"a\xff\xff".to_vec()
    );
}

/// `first_value` and `visit_first_value` (which must agree) over a range.
fn first_values(store: &dyn Store, from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    let returned = store.first_value(from, to).unwrap();
    let mut visited = Vec::new();
    let found = store
        .visit_first_value(from, to, &mut |value| {
            visited.push(value.to_vec());
            Ok(())
        })
        .unwrap();
    assert_eq!(found, returned.is_some(), "{from:?}..={to:?}");
    assert_eq!(visited.first(), returned.as_ref(), "{from:?}..={to:?}");
    assert!(visited.len() <= 1, "visited {} values", visited.len());
    returned
}

pub fn first_value_seeks_to_the_smallest_key_in_range(store: &dyn Store) {
    set(store, &[(b"k1", b"one"), (b"k3", b"three")]);
    assert_eq!(first_values(store, b"k0", b"k9"), Some(b"one".to_vec()));
    assert_eq!(first_values(store, b"k1", b"k1"), Some(b"one".to_vec()));
    assert_eq!(first_values(store, b"k2", b"k9"), Some(b"three".to_vec()));
    assert_eq!(first_values(store, b"k2", b"k2\xff"), None);
    assert_eq!(first_values(store, b"k4", b"k9"), None);
    assert_eq!(first_values(store, b"k9", b"k0"), None);
    // An error from the visitor comes back as it is.
    let failed = store.visit_first_value(b"k0", b"k9", &mut |_| {
        Err(crate::Error::BadValue("stop".into()))
    });
    assert!(matches!(failed, Err(crate::Error::BadValue(m)) if m == "stop"));
}

pub fn replace_all_swaps_the_whole_contents(store: &dyn Store) {
    set(store, &[(b"old1", b"x"), (b"shared", b"old")]);
    let new: Vec<Result<Record>> = vec![
        Ok((b"shared".to_vec(), b"new".to_vec())),
        Ok((b"new2".to_vec(), b"y".to_vec())),
        Ok((b"new1".to_vec(), b"z".to_vec())),
    ];
    store.replace_all(&mut new.into_iter()).unwrap();
    assert_eq!(store.get(b"old1").unwrap(), None);
    assert_eq!(store.get(b"shared").unwrap(), Some(b"new".to_vec()));
    assert_eq!(
        collect(store.scan((Unbounded, Unbounded))),
        keys(&[b"new1", b"new2", b"shared"])
    );

    // The store stays writable afterwards, and replacing with nothing empties it.
    set(store, &[(b"after", b"1")]);
    assert_eq!(store.get(b"after").unwrap(), Some(b"1".to_vec()));
    store.replace_all(&mut std::iter::empty()).unwrap();
    assert_eq!(collect(store.scan((Unbounded, Unbounded))), keys(&[]));
}

/// Records that fail after `ok` good ones, as a snapshot stream cut off by a
/// broken connection would.
pub fn failing_records(ok: usize) -> impl Iterator<Item = Result<Record>> {
    (0..ok)
        .map(|i| Ok((format!("new{i:05}").into_bytes(), b"v".to_vec())))
        .chain(std::iter::once(Err(Error::Storage(
            "snapshot stream broken".into(),
        ))))
}

pub fn a_failed_replace_all_leaves_the_old_contents(store: &dyn Store) {
    set(store, &[(b"old1", b"x"), (b"old2", b"y")]);
    let err = store.replace_all(&mut failing_records(5000)).unwrap_err();
    assert_eq!(err, Error::Storage("snapshot stream broken".into()));
    assert_eq!(
        collect(store.scan((Unbounded, Unbounded))),
        keys(&[b"old1", b"old2"])
    );
    assert_eq!(store.get(b"new00001").unwrap(), None);
    // Still writable.
    set(store, &[(b"old3", b"z")]);
    assert_eq!(store.get(b"old3").unwrap(), Some(b"z".to_vec()));
}

pub fn readers_on_other_threads_see_whole_batches(store: &dyn Store) {
    // Each batch moves one unit from `a` to `b`, writing `b` first. A reader
    // that reads `b` and then `a` sees a + b <= 100 if batches are atomic; a
    // torn batch would show the new `b` with the old `a`, summing to 101.
    set(
        store,
        &[(b"a", &100u32.to_be_bytes()), (b"b", &0u32.to_be_bytes())],
    );
    let read = |key: &[u8]| -> u32 {
        let value = store.get(key).unwrap().unwrap();
        u32::from_be_bytes(value.try_into().unwrap())
    };
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            for _ in 0..20_000 {
                let b = read(b"b");
                let a = read(b"a");
                assert!(a + b <= 100, "torn batch: a={a} b={b}");
            }
        });
        for i in 1..=100u32 {
            let mut batch = WriteBatch::new();
            batch.set(b"b".to_vec(), i.to_be_bytes().to_vec());
            batch.set(b"a".to_vec(), (100 - i).to_be_bytes().to_vec());
            store.write(batch).unwrap();
        }
        reader.join().unwrap();
    });
    assert_eq!((read(b"a"), read(b"b")), (0, 100));
}
