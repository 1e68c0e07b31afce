//! Versions and the routing state a shard keeps per collection.

use serde::{Deserialize, Serialize};

use super::ShardKeyPattern;

/// The version of a collection's placement. Ordered: epoch first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ShardVersion {
    /// Changes when the collection is sharded, dropped or recreated.
    pub epoch: u64,
    /// Grows when a chunk changes owner.
    pub major: u64,
    /// Grows when a chunk is split (owners unchanged).
    pub minor: u64,
}

impl ShardVersion {
    /// The version of a namespace nobody has ever sharded or dropped.
    pub const UNSHARDED: ShardVersion = ShardVersion {
        epoch: 0,
        major: 0,
        minor: 0,
    };

    /// Whether a request routed with `self` may run on a shard at `have`:
    /// the placement (epoch and major) must be the same. Splits (minor) do
    /// not move documents, so they never make a route wrong.
    pub fn routes_like(&self, have: &ShardVersion) -> bool {
        self.epoch == have.epoch && self.major == have.major
    }
}

impl std::fmt::Display for ShardVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}|{}.{}", self.epoch, self.major, self.minor)
    }
}

/// A range of routing keys, `[min, max)`; `max_inclusive` marks the last
/// chunk, whose upper bound is the top of the key space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRange {
    #[serde(with = "serde_bytes")]
    pub min: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub max: Vec<u8>,
    pub max_inclusive: bool,
}

impl KeyRange {
    /// Whether `key` falls in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.min.as_slice()
            && (key < self.max.as_slice() || (self.max_inclusive && key <= self.max.as_slice()))
    }

    /// Whether the range overlaps the closed interval `[lo, hi]`.
    pub fn overlaps(&self, lo: &[u8], hi: &[u8]) -> bool {
        let below_max = if self.max_inclusive {
            lo <= self.max.as_slice()
        } else {
            lo < self.max.as_slice()
        };
        below_max && hi >= self.min.as_slice()
    }
}

/// What a shard knows about one collection's placement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionRouting {
    /// The catalog version this state is a copy of.
    pub version: ShardVersion,
    /// The epoch of the collection's latest drop (0: never dropped).
    pub incarnation: u64,
    /// The shard key, when the collection is sharded.
    pub key: Option<ShardKeyPattern>,
    /// The routing-key ranges this shard owns (empty: owns nothing of a
    /// sharded collection). Unused when `key` is `None`.
    pub owned: Vec<KeyRange>,
}

impl CollectionRouting {
    /// Whether this shard owns a document with routing key `key`. An
    /// unsharded collection's documents all belong to its primary shard.
    pub fn owns(&self, key: &[u8]) -> bool {
        self.key.is_none() || self.owned.iter().any(|r| r.contains(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_by_epoch_then_major() {
        let v = |epoch, major, minor| ShardVersion {
            epoch,
            major,
            minor,
        };
        assert!(v(1, 9, 9) < v(2, 1, 0));
        assert!(v(2, 1, 5) < v(2, 2, 0));
        assert!(v(2, 1, 0).routes_like(&v(2, 1, 7)));
        assert!(!v(2, 1, 0).routes_like(&v(2, 2, 0)));
        assert!(!v(1, 1, 0).routes_like(&v(2, 1, 0)));
    }

    #[test]
    fn ranges_are_half_open_except_the_last() {
        let r = KeyRange {
            min: vec![2],
            max: vec![5],
            max_inclusive: false,
        };
        assert!(r.contains(&[2]) && r.contains(&[4, 9]) && !r.contains(&[5]) && !r.contains(&[1]));
        assert!(r.overlaps(&[0], &[2]) && r.overlaps(&[4], &[9]) && !r.overlaps(&[5], &[9]));
        let last = KeyRange {
            max_inclusive: true,
            ..r
        };
        assert!(last.contains(&[5]) && last.overlaps(&[5], &[9]));
    }

    #[test]
    fn routing_state_round_trips_through_messagepack() {
        let state = CollectionRouting {
            version: ShardVersion {
                epoch: 3,
                major: 1,
                minor: 0,
            },
            incarnation: 2,
            key: Some(ShardKeyPattern {
                fields: vec!["k".into()],
                hashed: true,
            }),
            owned: vec![KeyRange {
                min: vec![1, 2],
                max: vec![3],
                max_inclusive: true,
            }],
        };
        let bytes = rmp_serde::to_vec_named(&state).unwrap();
        assert_eq!(
            rmp_serde::from_slice::<CollectionRouting>(&bytes).unwrap(),
            state
        );
    }
}
