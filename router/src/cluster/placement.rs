//! Where a collection's documents live, as a router sees it.
//!
//! A [`Placement`] is built from the catalog: an unsharded collection lives
//! on its database's primary shard; a sharded one is a sorted list of chunks
//! (routing-key ranges, see `lauradb_engine::sharding`) with their shards.
//! Targeting a filter or a document is a lookup in that list. Every request
//! carries the placement's [`ShardVersion`], which the shard checks.

use std::collections::BTreeSet;

use bson::{Bson, Document, doc};
use lauradb_engine::sharding::{
    CollectionRouting, KeyRange, KeyTarget, ShardKeyPattern, ShardVersion, target_of,
};
use lauradb_raft::GroupId;

use lauradb_engine::command::Namespace;

/// One chunk: a routing-key range and its owner, with the bounds as the
/// catalog shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub min: Document,
    pub max: Document,
    pub shard: GroupId,
    pub range: KeyRange,
}

/// The sharded part of a placement.
#[derive(Debug, Clone, PartialEq)]
pub struct Sharding {
    pub key: ShardKeyPattern,
    pub unique: bool,
    /// Sorted by range, covering the whole key space.
    pub chunks: Vec<Chunk>,
}

/// A collection's placement at one catalog version.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub ns: Namespace,
    pub version: ShardVersion,
    /// Epoch of the collection's latest drop.
    pub incarnation: u64,
    /// The database's primary shard (home of unsharded collections).
    pub primary: GroupId,
    pub sharding: Option<Sharding>,
}

impl Placement {
    /// Every shard that owns part of the collection.
    pub fn all_shards(&self) -> Vec<GroupId> {
        match &self.sharding {
            None => vec![self.primary],
            Some(s) => s
                .chunks
                .iter()
                .map(|c| c.shard)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        }
    }

    /// The shards that may hold documents matching `filter`.
    pub fn shards_for_filter(&self, filter: &Document) -> Vec<GroupId> {
        let Some(sharding) = &self.sharding else {
            return vec![self.primary];
        };
        let chunks = &sharding.chunks;
        let shards: BTreeSet<GroupId> = match target_of(&sharding.key, filter) {
            KeyTarget::All => return self.all_shards(),
            KeyTarget::Points(points) => points
                .iter()
                .filter_map(|p| chunks.iter().find(|c| c.range.contains(p)))
                .map(|c| c.shard)
                .collect(),
            KeyTarget::Range { lo, hi } => chunks
                .iter()
                .filter(|c| c.range.overlaps(&lo, &hi))
                .map(|c| c.shard)
                .collect(),
        };
        shards.into_iter().collect()
    }

    /// The shard a document belongs to, or why it cannot be stored.
    pub fn shard_for_document(
        &self,
        document: &Document,
    ) -> Result<GroupId, lauradb_engine::Error> {
        let Some(sharding) = &self.sharding else {
            return Ok(self.primary);
        };
        let key = sharding.key.routing_key_of(document)?;
        sharding
            .chunks
            .iter()
            .find(|c| c.range.contains(&key))
            .map(|c| c.shard)
            .ok_or_else(|| {
                lauradb_engine::Error::Storage(format!(
                    "the catalog's chunks of {} do not cover every key",
                    self.ns
                ))
            })
    }

    /// What `shard` must know about this placement.
    pub fn routing_for(&self, shard: GroupId) -> CollectionRouting {
        CollectionRouting {
            version: self.version,
            incarnation: self.incarnation,
            key: self.sharding.as_ref().map(|s| s.key.clone()),
            owned: self
                .sharding
                .iter()
                .flat_map(|s| s.chunks.iter())
                .filter(|c| c.shard == shard)
                .map(|c| c.range.clone())
                .collect(),
        }
    }

    /// The placement as `explain` and `ctl` show it.
    pub fn describe(&self) -> Document {
        let mut out = doc! {
            "namespace": self.ns.to_string(),
            "version": format!("{}", self.version),
            "primary": self.primary as i64,
            "sharded": self.sharding.is_some(),
        };
        if let Some(s) = &self.sharding {
            out.insert("shardKey", s.key.to_document());
            out.insert("unique", s.unique);
            out.insert(
                "chunks",
                s.chunks
                    .iter()
                    .map(|c| {
                        Bson::Document(doc! { "min": c.min.clone(), "max": c.max.clone(), "shard": c.shard as i64 })
                    })
                    .collect::<Vec<_>>(),
            );
        }
        out
    }
}

/// Builds the chunk list from catalog bounds, checking that the chunks are
/// sorted and cover the key space without gaps.
pub fn chunks_from_bounds(
    key: &ShardKeyPattern,
    bounds: Vec<(Document, Document, GroupId)>,
) -> Result<Vec<Chunk>, String> {
    let mut chunks = Vec::with_capacity(bounds.len());
    let count = bounds.len();
    for (i, (min, max, shard)) in bounds.into_iter().enumerate() {
        let lo = key.bound_key(&min).map_err(|e| e.to_string())?;
        let hi = key.bound_key(&max).map_err(|e| e.to_string())?;
        if lo >= hi {
            return Err(format!("chunk {min} .. {max} is empty or reversed"));
        }
        chunks.push(Chunk {
            min,
            max,
            shard,
            range: KeyRange {
                min: lo,
                max: hi,
                max_inclusive: i + 1 == count,
            },
        });
    }
    let global_min = key
        .bound_key(&key.global_min())
        .map_err(|e| e.to_string())?;
    let global_max = key
        .bound_key(&key.global_max())
        .map_err(|e| e.to_string())?;
    let covers = chunks.first().is_some_and(|c| c.range.min == global_min)
        && chunks.last().is_some_and(|c| c.range.max == global_max)
        && chunks.windows(2).all(|w| w[0].range.max == w[1].range.min);
    if !covers {
        return Err("the chunks do not cover the key space exactly".into());
    }
    Ok(chunks)
}

/// The initial chunk bounds of a new sharded collection: `splits` cut the
/// key space; for a hashed key with no splits, `hashed_chunks` equal slices
/// of the 64-bit hash space.
pub fn initial_bounds(
    key: &ShardKeyPattern,
    splits: &[Document],
    hashed_chunks: u64,
) -> Vec<(Document, Document)> {
    let field = key.fields[0].clone();
    let mut cuts: Vec<Document> = if key.hashed && splits.is_empty() {
        let n = hashed_chunks.max(1) as i128;
        let span = (i64::MAX as i128 - i64::MIN as i128 + 1) / n;
        (1..n)
            .map(|i| doc! { field.clone(): Bson::Int64((i64::MIN as i128 + i * span) as i64) })
            .collect()
    } else {
        splits.to_vec()
    };
    let mut bounds = vec![key.global_min()];
    bounds.append(&mut cuts);
    bounds.push(key.global_max());
    bounds
        .windows(2)
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placement(key: Document, splits: &[Document], hashed_chunks: u64) -> Placement {
        let key = ShardKeyPattern::parse(&key).unwrap();
        let bounds = initial_bounds(&key, splits, hashed_chunks)
            .into_iter()
            .enumerate()
            .map(|(i, (min, max))| (min, max, (i % 3) as GroupId + 1))
            .collect();
        Placement {
            ns: Namespace::new("d", "c"),
            version: ShardVersion {
                epoch: 1,
                major: 1,
                minor: 0,
            },
            incarnation: 0,
            primary: 1,
            sharding: Some(Sharding {
                chunks: chunks_from_bounds(&key, bounds).unwrap(),
                key,
                unique: false,
            }),
        }
    }

    #[test]
    fn hashed_placement_spreads_documents_and_targets_equalities() {
        let p = placement(doc! {"_id": "hashed"}, &[], 6);
        let mut per_shard = [0; 4];
        for i in 0..3000 {
            per_shard[p.shard_for_document(&doc! {"_id": i}).unwrap() as usize] += 1;
        }
        assert!(per_shard[1..].iter().all(|n| *n > 700), "{per_shard:?}");
        let shard = p.shard_for_document(&doc! {"_id": 42}).unwrap();
        assert_eq!(p.shards_for_filter(&doc! {"_id": 42, "x": 1}), vec![shard]);
        assert_eq!(p.shards_for_filter(&doc! {"x": 1}), vec![1, 2, 3]);
    }

    #[test]
    fn ranged_placement_targets_overlapping_chunks() {
        // Chunks: [min,100)→1, [100,200)→2, [200,max]→3.
        let p = placement(doc! {"k": 1}, &[doc! {"k": 100}, doc! {"k": 200}], 0);
        assert_eq!(
            p.shards_for_filter(&doc! {"k": {"$gte": 120, "$lt": 150}}),
            vec![2]
        );
        assert_eq!(p.shards_for_filter(&doc! {"k": {"$gte": 150}}), vec![2, 3]);
        assert_eq!(p.shards_for_filter(&doc! {"k": 5}), vec![1]);
        assert_eq!(p.shard_for_document(&doc! {"k": 200}).unwrap(), 3);
        assert_eq!(
            p.shard_for_document(&doc! {"other": 1}).unwrap(),
            1,
            "missing is null"
        );
        let owned = p.routing_for(2).owned;
        assert_eq!(owned.len(), 1);
    }

    #[test]
    fn gaps_and_overlaps_are_refused() {
        let key = ShardKeyPattern::parse(&doc! {"k": 1}).unwrap();
        let gap = vec![
            (key.global_min(), doc! {"k": 1}, 1),
            (doc! {"k": 2}, key.global_max(), 2),
        ];
        assert!(chunks_from_bounds(&key, gap).is_err());
        assert!(chunks_from_bounds(&key, vec![]).is_err());
    }
}
