//! Splitting a pipeline between the shards and the router.
//!
//! A sharded collection's documents live on several shards, so the router
//! runs a pipeline in two parts: a **shard part** that every targeted shard
//! runs on its own documents, and a **router part** that runs on the merged
//! outputs. The split point is the first stage that needs all documents at
//! once:
//!
//! ```text
//!  $match $project $addFields $unset $replaceRoot $unwind   per document: shard part
//!  $sort          shards sort (and keep skip+limit if a $limit follows),
//!                 the router merges in sort order, then the rest
//!  $limit n       shards keep n, the router keeps n of the union
//!  $group         mergeable accumulators: shards emit partial groups, the
//!                 router merges them ($sum of sums, $avg from sums and
//!                 counts …); otherwise the router groups
//!  anything else  ($skip, $lookup, $facet, $bucket, $unionWith) router part
//! ```
//!
//! With a single target shard everything up to the first stage that reads
//! other collections (`$lookup`, `$unionWith`, `$facet`) runs on that shard,
//! since there is nothing to merge. Every stage after the split point runs on
//! the router, so the result is the same as running the whole pipeline over
//! the union of the shards' documents.

use bson::{Bson, Document, doc};

use super::stage::{Group, expand, stage_parts};
use super::{ParseScope, Pipeline};
use crate::Result;

/// How the router combines the shards' outputs before its own stages.
#[derive(Debug, Clone, PartialEq)]
pub enum Merge {
    /// Concatenate, in shard order.
    Concat,
    /// Merge by this sort specification (each shard's output is sorted).
    Sorted(Document),
    /// Merge partial groups of this `$group` specification.
    Group(Document),
}

/// The two parts of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitPlan {
    /// Stages every targeted shard runs.
    pub shard_stages: Vec<Document>,
    /// The shard part ends with a `$group` whose partial states the shards
    /// return (see [`Merge::Group`]).
    pub partial_group: bool,
    pub merge: Merge,
    /// Stages the router runs on the merged documents.
    pub router_stages: Vec<Document>,
}

fn per_document(name: &str) -> bool {
    matches!(
        name,
        "$match" | "$project" | "$addFields" | "$unset" | "$replaceRoot" | "$unwind"
    )
}

fn reads_other_collections(name: &str) -> bool {
    matches!(name, "$lookup" | "$unionWith" | "$facet")
}

/// Splits `stages` (validated first, so errors come once, not per shard).
pub fn split(stages: &[Document], single_shard: bool, scope: &ParseScope) -> Result<SplitPlan> {
    Pipeline::parse(stages, scope)?;
    let stages = expand(stages)?;
    let names: Vec<&str> = stages
        .iter()
        .map(|s| stage_parts(s).map(|(name, _)| name))
        .collect::<Result<_>>()?;
    let plan = |shard: usize, partial_group: bool, merge: Merge, router_from: usize| SplitPlan {
        shard_stages: stages[..shard].to_vec(),
        partial_group,
        merge,
        router_stages: stages[router_from..].to_vec(),
    };
    if single_shard {
        let cut = names
            .iter()
            .position(|n| reads_other_collections(n))
            .unwrap_or(names.len());
        return Ok(plan(cut, false, Merge::Concat, cut));
    }
    for (i, name) in names.iter().enumerate() {
        if per_document(name) {
            continue;
        }
        let (_, body) = stage_parts(&stages[i])?;
        match *name {
            "$sort" => {
                let Bson::Document(spec) = body else {
                    unreachable!("validated by Pipeline::parse")
                };
                let mut shard = stages[..=i].to_vec();
                if let Some(keep) = limit_after(&stages[i + 1..]) {
                    shard.push(doc! { "$limit": keep });
                }
                return Ok(SplitPlan {
                    shard_stages: shard,
                    partial_group: false,
                    merge: Merge::Sorted(spec.clone()),
                    router_stages: stages[i + 1..].to_vec(),
                });
            }
            "$limit" => return Ok(plan(i + 1, false, Merge::Concat, i)),
            "$group" => {
                let Bson::Document(spec) = body else {
                    unreachable!("validated by Pipeline::parse")
                };
                if Group::parse(spec, scope)?.mergeable() {
                    return Ok(plan(i + 1, true, Merge::Group(spec.clone()), i + 1));
                }
                return Ok(plan(i, false, Merge::Concat, i));
            }
            _ => return Ok(plan(i, false, Merge::Concat, i)),
        }
    }
    Ok(plan(stages.len(), false, Merge::Concat, stages.len()))
}

/// How many sorted documents each shard must return so that the `$skip`
/// and `$limit` stages right after a `$sort` still see the right ones.
fn limit_after(rest: &[Document]) -> Option<i64> {
    let mut offset: i64 = 0;
    for stage in rest {
        let (name, body) = stage_parts(stage).ok()?;
        let n = crate::value::Number::from_bson(body)?.as_f64() as i64;
        match name {
            "$skip" => offset = offset.saturating_add(n),
            // Push down only what a shard accepts as a `$limit`.
            "$limit" => {
                return Some(offset.saturating_add(n)).filter(|k| *k < 9_000_000_000_000_000_000);
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(json: &str) -> Vec<Document> {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| crate::dataapi::document_from_json(v.clone()).unwrap())
            .collect()
    }

    fn split_many(json: &str) -> SplitPlan {
        split(&stages(json), false, &ParseScope::with_now([])).unwrap()
    }

    #[test]
    fn per_document_stages_go_to_the_shards() {
        let p = split_many(r#"[{"$match":{"a":1}},{"$project":{"a":1}},{"$unwind":"$a"}]"#);
        assert_eq!(p.shard_stages.len(), 3);
        assert!(p.router_stages.is_empty());
        assert_eq!(p.merge, Merge::Concat);
    }

    #[test]
    fn sort_pushes_down_skip_plus_limit() {
        let p = split_many(
            r#"[{"$match":{}},{"$sort":{"a":-1}},{"$skip":2},{"$limit":3},{"$project":{"a":1}}]"#,
        );
        assert_eq!(p.shard_stages.len(), 3);
        assert_eq!(p.shard_stages[2], doc! { "$limit": 5_i64 });
        assert_eq!(p.merge, Merge::Sorted(doc! { "a": -1 }));
        assert_eq!(p.router_stages.len(), 3);
    }

    #[test]
    fn mergeable_groups_are_partial_and_others_run_on_the_router() {
        let p = split_many(
            r#"[{"$group":{"_id":"$k","n":{"$sum":1},"m":{"$avg":"$x"}}},{"$sort":{"_id":1}}]"#,
        );
        assert!(p.partial_group);
        assert_eq!(p.shard_stages.len(), 1);
        assert!(matches!(p.merge, Merge::Group(_)));
        assert_eq!(p.router_stages.len(), 1);

        let p = split_many(r#"[{"$sort":{"_id":1}},{"$group":{"_id":"$k","f":{"$first":"$x"}}}]"#);
        assert!(!p.partial_group);
        assert_eq!(p.merge, Merge::Sorted(doc! { "_id": 1 }));
        assert_eq!(p.router_stages.len(), 1);

        let p = split_many(r#"[{"$match":{"a":1}},{"$count":"n"}]"#);
        assert!(p.partial_group);
        assert_eq!(p.router_stages, vec![doc! { "$project": { "_id": 0 } }]);
    }

    #[test]
    fn lookups_stop_the_shard_part_even_on_one_shard() {
        let json = r#"[{"$match":{"a":1}},{"$lookup":{"from":"o","localField":"a","foreignField":"b","as":"x"}},{"$group":{"_id":null,"n":{"$sum":1}}}]"#;
        let p = split(&stages(json), true, &ParseScope::with_now([])).unwrap();
        assert_eq!(p.shard_stages.len(), 1);
        assert_eq!(p.router_stages.len(), 2);
        let p = split_many(json);
        assert_eq!(p.shard_stages.len(), 1);
        assert!(!p.partial_group);
    }

    #[test]
    fn invalid_pipelines_fail_before_splitting() {
        assert!(split(&stages(r#"[{"$bogus":1}]"#), false, &ParseScope::default()).is_err());
    }
}
