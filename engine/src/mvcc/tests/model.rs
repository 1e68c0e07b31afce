//! The property test: random histories of commits, reads, scans, gcs and
//! reopenings agree with a model that keeps every version in a `BTreeMap`.
//! Reads only happen at or above the highest gc watermark so far, where gc
//! promises to change no answer.

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use proptest::prelude::*;

use crate::error::Result;
use crate::mvcc::Mvcc;
use crate::mvcc::key::{self, is_tombstone, split_version_key};
use crate::storage::{MemoryStore, Record, SledStore, Store, WriteBehindOptions, WriteBehindStore};

/// One step of the property test.
#[derive(Clone, Debug)]
enum Op {
    /// Commit at the latest timestamp plus `step`.
    Commit {
        step: u64,
        writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    },
    /// Reads pick a timestamp from `pick` among the readable ones.
    Get {
        key: Vec<u8>,
        pick: u64,
    },
    Scan {
        start: Bound<Vec<u8>>,
        end: Bound<Vec<u8>>,
        reverse: bool,
        pick: u64,
    },
    ScanPrefix {
        prefix: Vec<u8>,
        pick: u64,
    },
    /// Garbage-collect below a watermark picked among the readable timestamps.
    Gc {
        pick: u64,
    },
    /// Reopen the Mvcc on the same store.
    Reopen,
}

fn user_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0x00u8, 0x01, b'a', 0xff]), 0..3)
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        Just(Bound::Unbounded),
        user_key().prop_map(Bound::Included),
        user_key().prop_map(Bound::Excluded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let write = (
        user_key(),
        prop::option::weighted(0.7, prop::collection::vec(any::<u8>(), 0..3)),
    );
    prop_oneof![
        4 => (1..3u64, prop::collection::vec(write, 0..4)).prop_map(|(step, writes)| Op::Commit { step, writes }),
        4 => (user_key(), any::<u64>()).prop_map(|(key, pick)| Op::Get { key, pick }),
        2 => (bound(), bound(), any::<bool>(), any::<u64>())
            .prop_map(|(start, end, reverse, pick)| Op::Scan { start, end, reverse, pick }),
        1 => (user_key(), any::<u64>()).prop_map(|(prefix, pick)| Op::ScanPrefix { prefix, pick }),
        1 => any::<u64>().prop_map(|pick| Op::Gc { pick }),
        1 => Just(Op::Reopen),
    ]
}

/// A key's versions, oldest first.
type History = Vec<(u64, Option<Vec<u8>>)>;

/// Every version ever committed: what reads at or above the watermark must agree with.
#[derive(Default)]
struct Model {
    versions: BTreeMap<Vec<u8>, History>,
    latest: u64,
    watermark: u64,
}

impl Model {
    fn get(&self, key: &[u8], ts: u64) -> Option<Vec<u8>> {
        let versions = self.versions.get(key)?;
        versions
            .iter()
            .rev()
            .find(|(t, _)| *t <= ts)
            .and_then(|(_, v)| v.clone())
    }

    fn scan(&self, keep: impl Fn(&[u8]) -> bool, ts: u64) -> Vec<Record> {
        self.versions
            .keys()
            .filter(|k| keep(k))
            .filter_map(|k| Some((k.clone(), self.get(k, ts)?)))
            .collect()
    }

    /// A readable timestamp: from the watermark to a little past the latest commit.
    fn pick(&self, pick: u64) -> u64 {
        self.watermark + pick % (self.latest + 3 - self.watermark)
    }
}

fn run_ops(store: Arc<dyn Store>, ops: Vec<Op>) -> std::result::Result<(), TestCaseError> {
    let mut mvcc = Mvcc::new(Arc::clone(&store)).unwrap();
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Commit { step, writes } => {
                let ts = model.latest + step;
                mvcc.commit(ts, &writes).unwrap();
                for (key, value) in writes {
                    let versions = model.versions.entry(key).or_default();
                    if versions.last().is_some_and(|(t, _)| *t == ts) {
                        versions.pop(); // the last write in a commit wins
                    }
                    versions.push((ts, value));
                }
                model.latest = ts;
            }
            Op::Get { key, pick } => {
                let ts = model.pick(pick);
                prop_assert_eq!(
                    mvcc.get(&key, ts).unwrap(),
                    model.get(&key, ts),
                    "get {:?}@{}",
                    key,
                    ts
                );
            }
            Op::Scan {
                start,
                end,
                reverse,
                pick,
            } => {
                let ts = model.pick(pick);
                let range = (
                    start.as_ref().map(Vec::as_slice),
                    end.as_ref().map(Vec::as_slice),
                );
                let got: Vec<Record> = if reverse {
                    mvcc.scan_rev(range, ts).collect::<Result<_>>().unwrap()
                } else {
                    mvcc.scan(range, ts).collect::<Result<_>>().unwrap()
                };
                let bounds = (start.clone(), end.clone());
                let mut want = model.scan(|k| bounds.contains(&k.to_vec()), ts);
                if reverse {
                    want.reverse();
                }
                prop_assert_eq!(got, want, "scan {:?}..{:?}@{}", start, end, ts);
            }
            Op::ScanPrefix { prefix, pick } => {
                let ts = model.pick(pick);
                let got: Vec<Record> = mvcc
                    .scan_prefix(&prefix, ts)
                    .collect::<Result<_>>()
                    .unwrap();
                prop_assert_eq!(got, model.scan(|k| k.starts_with(&prefix), ts));
            }
            Op::Gc { pick } => {
                let watermark = model.pick(pick);
                mvcc.gc(watermark).unwrap();
                model.watermark = model.watermark.max(watermark);
                assert_collected(&mvcc, watermark)?;
            }
            Op::Reopen => {
                mvcc = Mvcc::new(Arc::clone(&store)).unwrap();
                prop_assert_eq!(mvcc.latest_commit_ts(), model.latest);
            }
        }
    }
    Ok(())
}

/// After gc(watermark), each key has at most one version at or below the
/// watermark, and it is not a tombstone.
fn assert_collected(mvcc: &Mvcc, watermark: u64) -> std::result::Result<(), TestCaseError> {
    let mut at_or_below: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
    for record in mvcc
        .store()
        .scan(key::store_range(Bound::Unbounded, Bound::Unbounded))
    {
        let (key, value) = record.unwrap();
        let (group, ts) = split_version_key(&key).unwrap();
        if ts <= watermark {
            prop_assert!(
                !is_tombstone(&value),
                "tombstone left at {} <= {}",
                ts,
                watermark
            );
            *at_or_below.entry(group.to_vec()).or_default() += 1;
        }
    }
    prop_assert!(at_or_below.values().all(|&n| n == 1));
    Ok(())
}

proptest! {
    #[test]
    fn random_histories_agree_with_the_model_in_memory(ops in prop::collection::vec(op(), 1..60)) {
        run_ops(Arc::new(MemoryStore::new()), ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn random_histories_agree_with_the_model_on_sled(ops in prop::collection::vec(op(), 1..60)) {
        run_ops(Arc::new(SledStore::temporary().unwrap()), ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn random_histories_agree_with_the_model_write_behind(ops in prop::collection::vec(op(), 1..60)) {
        let sled = Arc::new(SledStore::temporary().unwrap());
        let options = WriteBehindOptions { max_pending_bytes: 512 };
        run_ops(Arc::new(WriteBehindStore::new(sled, options).unwrap()), ops)?;
    }
}
