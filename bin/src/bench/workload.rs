//! Workloads: which operation a client sends next.
//!
//! A workload is a mix of operations on uniformly chosen keys:
//!
//! | workload | operations |
//! |---|---|
//! | `insert` | insert a key never used before in this run |
//! | `put` | upsert a key (write whether or not it exists) |
//! | `read` | point read of an existing key |
//! | `update` | update an existing key |
//! | `ycsb-a` | 50% read, 50% update |
//! | `ycsb-b` | 95% read, 5% update |
//! | `ycsb-c` | 100% read |
//! | `range` | the 10 keys from a key on, in key order |
//!
//! Every workload except `insert` and `put` reads or updates keys that must
//! exist, so the run first preloads all `--keys` keys.

use std::sync::atomic::{AtomicU64, Ordering};

use clap::ValueEnum;

use super::keys::Rng;

/// What `--workload` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    Insert,
    Put,
    Read,
    Update,
    YcsbA,
    YcsbB,
    YcsbC,
    Range,
}

/// One operation, carrying the number of the key it touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Insert(u64),
    Put(u64),
    Read(u64),
    Update(u64),
    Range(u64),
}

impl Workload {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Insert => "insert",
            Workload::Put => "put",
            Workload::Read => "read",
            Workload::Update => "update",
            Workload::YcsbA => "ycsb-a",
            Workload::YcsbB => "ycsb-b",
            Workload::YcsbC => "ycsb-c",
            Workload::Range => "range",
        }
    }

    /// Whether the keys must exist before the run starts.
    pub fn needs_preload(self) -> bool {
        !matches!(self, Workload::Insert | Workload::Put)
    }

    /// Percentage of reads in a read/update mix.
    fn read_percent(self) -> u64 {
        match self {
            Workload::YcsbA => 50,
            Workload::YcsbB => 95,
            _ => 100,
        }
    }

    /// The next operation over `keys` keys. `fresh` hands out the key
    /// numbers of `insert`, shared by all clients so none repeats.
    pub fn next_op(self, rng: &mut Rng, keys: u64, fresh: &AtomicU64) -> Op {
        match self {
            Workload::Insert => Op::Insert(fresh.fetch_add(1, Ordering::Relaxed)),
            Workload::Put => Op::Put(rng.below(keys)),
            Workload::Read | Workload::YcsbC => Op::Read(rng.below(keys)),
            Workload::Update => Op::Update(rng.below(keys)),
            Workload::Range => Op::Range(rng.below(keys)),
            Workload::YcsbA | Workload::YcsbB => {
                let key = rng.below(keys);
                if rng.below(100) < self.read_percent() {
                    Op::Read(key)
                } else {
                    Op::Update(key)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(workload: Workload, n: u32) -> (u32, u32, u32) {
        let mut rng = Rng::new(9);
        let fresh = AtomicU64::new(0);
        let (mut reads, mut updates, mut other) = (0, 0, 0);
        for _ in 0..n {
            match workload.next_op(&mut rng, 1000, &fresh) {
                Op::Read(k) | Op::Update(k) | Op::Put(k) | Op::Range(k) if k >= 1000 => {
                    panic!("key {k} out of range")
                }
                Op::Read(_) => reads += 1,
                Op::Update(_) => updates += 1,
                _ => other += 1,
            }
        }
        (reads, updates, other)
    }

    #[test]
    fn ycsb_mixes_have_their_read_share() {
        let (r, u, o) = mix(Workload::YcsbA, 100_000);
        assert_eq!(o, 0);
        assert!((48_000..52_000).contains(&r) && r + u == 100_000, "{r} {u}");
        let (r, u, _) = mix(Workload::YcsbB, 100_000);
        assert!((94_000..96_000).contains(&r), "{r} {u}");
        assert_eq!(mix(Workload::YcsbC, 10_000), (10_000, 0, 0));
        assert_eq!(mix(Workload::Update, 10_000), (0, 10_000, 0));
    }

    #[test]
    fn inserts_never_repeat_a_key() {
        let mut rng = Rng::new(1);
        let fresh = AtomicU64::new(0);
        let ops: Vec<Op> = (0..5)
            .map(|_| Workload::Insert.next_op(&mut rng, 10, &fresh))
            .collect();
        assert_eq!(
            ops,
            (0..5).map(Op::Insert).collect::<Vec<_>>(),
            "consecutive key numbers"
        );
    }

    #[test]
    fn names_match_the_command_line() {
        for w in Workload::value_variants() {
            let parsed = Workload::from_str(w.name(), false).unwrap();
            assert_eq!(parsed, *w);
        }
        assert!(Workload::Read.needs_preload() && Workload::Range.needs_preload());
        assert!(!Workload::Put.needs_preload() && !Workload::Insert.needs_preload());
    }
}
