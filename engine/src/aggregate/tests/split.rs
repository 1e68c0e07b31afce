//! The sharding property: running a pipeline split by [`split::split`] —
//! the shard part on each shard's documents (partial groups where the plan
//! says so), the shards' outputs merged as the plan says, then the router
//! part — gives what running the whole pipeline over all documents gives.
//!
//! Shards here hold contiguous runs of the documents in `_id` order (range
//! sharding), so even order-sensitive answers (`$first`, `$push`, groups in
//! first-seen order, `$limit` without `$sort`) must agree exactly, types
//! included. A second property spreads documents over shards arbitrarily
//! (hash sharding) for pipelines whose answer MongoDB defines regardless of
//! order.

use bson::doc;
use proptest::prelude::*;

use super::*;
use crate::aggregate::split::{self, Merge};
use crate::aggregate::{Env, NoForeign, ParseScope, Pipeline, RunCtx, merge_partial_groups};
use crate::sort::{SortSpec, sort_documents};
use crate::value::Number;

fn scope() -> ParseScope {
    ParseScope::with_now([])
}

fn parse(stages: &[Document]) -> crate::Result<Pipeline> {
    Pipeline::parse(stages, &scope())
}

fn run_whole(stages: &[Document], docs: Vec<Document>) -> crate::Result<Vec<Document>> {
    let env = Env::at(NOW);
    let ctx = RunCtx {
        env: &env,
        foreign: &NoForeign,
    };
    parse(stages)?.run(docs, ctx)
}

/// What a router answers when each of `shards` holds the given documents.
fn run_split(
    stages: &[Document],
    shards: Vec<Vec<Document>>,
    single_shard: bool,
) -> crate::Result<Vec<Document>> {
    let env = Env::at(NOW);
    let ctx = RunCtx {
        env: &env,
        foreign: &NoForeign,
    };
    let plan = split::split(stages, single_shard, &scope())?;
    let shard_part = parse(&plan.shard_stages)?;
    let mut outputs = Vec::new();
    for docs in shards {
        outputs.push(if plan.partial_group {
            shard_part.run_partial_group(docs, ctx)?
        } else {
            shard_part.run(docs, ctx)?
        });
    }
    let merged = match &plan.merge {
        Merge::Concat => outputs.concat(),
        Merge::Sorted(spec) => {
            // Each output is sorted; a stable sort of the concatenation is
            // the k-way merge (ties in shard order).
            let mut all = outputs.concat();
            sort_documents(&mut all, &SortSpec::parse(spec)?)?;
            all
        }
        Merge::Group(spec) => merge_partial_groups(spec, &outputs.concat(), &scope())?,
    };
    parse(&plan.router_stages)?.run(merged, ctx)
}

/// Equal, with doubles compared to a relative 1e-9 (a sum or standard
/// deviation added up in another grouping may differ in the last bits);
/// with `exact_types` false, numbers of different types compare by value.
fn same(a: &Bson, b: &Bson, exact_types: bool) -> bool {
    let close = |x: f64, y: f64| x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs());
    match (a, b) {
        (Bson::Double(x), Bson::Double(y)) => close(*x, *y),
        (Bson::Document(x), Bson::Document(y)) => same_docs(x, y, exact_types),
        (Bson::Array(x), Bson::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q, exact_types))
        }
        _ if !exact_types => match (Number::from_bson(a), Number::from_bson(b)) {
            (Some(x), Some(y)) => close(x.as_f64(), y.as_f64()),
            _ => a == b,
        },
        _ => a == b,
    }
}

fn same_docs(a: &Document, b: &Document, exact_types: bool) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb, exact_types))
}

fn same_results(
    whole: &crate::Result<Vec<Document>>,
    split: &crate::Result<Vec<Document>>,
    exact_types: bool,
) -> bool {
    match (whole, split) {
        (Ok(a), Ok(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_docs(x, y, exact_types))
        }
        (Err(a), Err(b)) => a.code_name() == b.code_name(),
        _ => false,
    }
}

/// Pipelines covering every way `split` cuts: per-document stages only,
/// `$sort` (with and without a `$skip`/`$limit` to push down), `$limit`,
/// mergeable and non-mergeable `$group`s, the shorthands, and stages that
/// run on the router.
fn pipelines() -> Vec<Bson> {
    vec![
        bson!([{ "$match": { "x": { "$gte": 0 } } }, { "$project": { "k": 1, "x": 1 } }, { "$unwind": "$tags" }]),
        bson!([{ "$unwind": { "path": "$tags", "includeArrayIndex": "i", "preserveNullAndEmptyArrays": true } }]),
        bson!([
            { "$group": {
                "_id": "$k",
                "n": { "$sum": 1 }, "s": { "$sum": "$x" }, "avg": { "$avg": "$x" },
                "mn": { "$min": "$x" }, "mx": { "$max": "$x" }, "set": { "$addToSet": "$sub.v" },
                "sd": { "$stdDevPop": "$y" }, "sds": { "$stdDevSamp": "$y" }, "c": { "$count": {} },
            } },
            { "$sort": { "_id": 1 } },
        ]),
        bson!([
            { "$unwind": "$tags" },
            { "$group": { "_id": { "t": "$tags", "k": "$k" }, "n": { "$sum": 1 }, "s": { "$sum": "$x" } } },
            { "$match": { "n": { "$gt": 1 } } },
        ]),
        bson!([{ "$group": { "_id": "$k", "first": { "$first": "$x" }, "last": { "$last": "$x" }, "ids": { "$push": "$_id" } } }]),
        bson!([{ "$sort": { "x": -1, "_id": 1 } }, { "$skip": 2 }, { "$limit": 5 }, { "$project": { "x": 1 } }]),
        bson!([{ "$sort": { "k": 1 } }, { "$limit": 4 }]),
        bson!([{ "$sort": { "x": 1 } }, { "$group": { "_id": "$k", "lowest": { "$first": "$_id" } } }]),
        bson!([{ "$addFields": { "y": { "$multiply": ["$x", 2] } } }, { "$sort": { "y": 1 } }, { "$limit": 3 }]),
        bson!([{ "$match": { "k": "a" } }, { "$limit": 3 }, { "$project": { "_id": 1 } }]),
        bson!([{ "$skip": 3 }, { "$count": "n" }]),
        bson!([{ "$count": "n" }]),
        bson!([{ "$sortByCount": "$k" }]),
        bson!([{ "$match": { "x": { "$type": "number" } } }, { "$group": { "_id": Bson::Null, "total": { "$sum": "$x" }, "n": { "$sum": 1 } } }]),
        bson!([{ "$bucket": { "groupBy": "$x", "boundaries": [-1000, 0, 10, 10000], "default": "other" } }]),
        bson!([{ "$facet": { "n": [{ "$count": "n" }], "byK": [{ "$group": { "_id": "$k", "s": { "$sum": "$x" } } }] } }]),
        bson!([{ "$replaceWith": { "$ifNull": ["$sub", { "v": "none" }] } }, { "$group": { "_id": "$v", "n": { "$sum": 1 } } }]),
        bson!([{ "$group": { "_id": "$k", "s": { "$sum": "$x" } } }, { "$group": { "_id": Bson::Null, "total": { "$sum": "$s" }, "keys": { "$sum": 1 } } }]),
    ]
}

/// Pipelines whose answer does not depend on the order of the documents
/// (sums, counts, extremes of distinct keys, then a total order).
fn order_free_pipelines() -> Vec<Bson> {
    vec![
        bson!([
            { "$group": {
                "_id": "$k", "n": { "$sum": 1 }, "s": { "$sum": "$x" }, "avg": { "$avg": "$x" },
                "sd": { "$stdDevPop": "$y" }, "sds": { "$stdDevSamp": "$y" },
            } },
            { "$sort": { "_id": 1 } },
        ]),
        bson!([{ "$sort": { "x": -1, "_id": 1 } }, { "$skip": 1 }, { "$limit": 4 }]),
        bson!([{ "$count": "n" }]),
        bson!([{ "$unwind": "$tags" }, { "$sortByCount": "$tags" }, { "$sort": { "count": -1, "_id": 1 } }]),
        bson!([{ "$match": { "x": { "$gt": 0 } } }, { "$group": { "_id": Bson::Null, "s": { "$sum": "$x" }, "mx": { "$max": "$x" } } }]),
    ]
}

/// A small document. Group keys mix types (`1` and `1.0` are one key);
/// `x` includes int32 extremes (so sums widen) and doubles that are exact
/// binary fractions (so sums in any grouping are exact).
fn document() -> impl Strategy<Value = Document> {
    let key = prop_oneof![
        Just(Some(bson!("a"))),
        Just(Some(bson!("b"))),
        Just(Some(bson!("c"))),
        Just(Some(Bson::Int32(1))),
        Just(Some(Bson::Double(1.0))),
        Just(Some(Bson::Null)),
        Just(None),
    ];
    let number = prop_oneof![
        4 => (-20i32..20).prop_map(|i| Some(Bson::Int32(i))),
        1 => (-20i64..20).prop_map(|i| Some(Bson::Int64(i))),
        2 => (-40i32..40).prop_map(|i| Some(Bson::Double(f64::from(i) / 4.0))),
        1 => prop::sample::select(vec![i32::MAX, i32::MIN, i32::MAX - 1]).prop_map(|i| Some(Bson::Int32(i))),
        1 => Just(Some(bson!("text"))),
        1 => Just(Some(Bson::Null)),
        1 => Just(None),
    ];
    // Small numbers for the standard deviations (whose running form loses
    // precision on huge values in any order, as MongoDB's does).
    let small = prop_oneof![
        (-10i32..10).prop_map(|i| Some(Bson::Int32(i))),
        (-40i32..40).prop_map(|i| Some(Bson::Double(f64::from(i) / 4.0))),
        Just(Some(bson!("text"))),
        Just(None),
    ];
    let tags = prop_oneof![
        3 => prop::collection::vec((0i32..4).prop_map(Bson::Int32), 0..4).prop_map(|v| Some(Bson::Array(v))),
        1 => Just(Some(bson!(7))),
        1 => Just(None),
    ];
    let sub = prop::option::of((0i32..3).prop_map(|v| bson!({ "v": v })));
    (key, number, small, tags, sub).prop_map(|(k, x, y, tags, sub)| {
        let mut d = Document::new();
        for (name, value) in [("k", k), ("x", x), ("y", y), ("tags", tags), ("sub", sub)] {
            if let Some(v) = value {
                d.insert(name, v);
            }
        }
        d
    })
}

/// Documents with `_id`s 0, 1, … (the order a collection scan gives).
fn collection() -> impl Strategy<Value = Vec<Document>> {
    prop::collection::vec(document(), 0..24).prop_map(|docs| {
        docs.into_iter()
            .enumerate()
            .map(|(i, d)| {
                let mut with_id = doc! { "_id": i as i32 };
                with_id.extend(d);
                with_id
            })
            .collect()
    })
}

/// Splits `docs` into contiguous runs at the given cut fractions.
fn contiguous(docs: &[Document], cuts: &[usize]) -> Vec<Vec<Document>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (docs.len() + 1)).collect();
    points.sort_unstable();
    let mut parts = Vec::new();
    let mut start = 0;
    for p in points.into_iter().chain([docs.len()]) {
        parts.push(docs[start..p.max(start)].to_vec());
        start = p.max(start);
    }
    parts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn range_sharded_pipelines_match_the_whole(
        docs in collection(),
        cuts in prop::collection::vec(any::<usize>(), 0..4),
    ) {
        let shards = contiguous(&docs, &cuts);
        for pipeline in pipelines() {
            let stages = stages(pipeline.clone());
            let whole = run_whole(&stages, docs.clone());
            let split = run_split(&stages, shards.clone(), false);
            prop_assert!(
                same_results(&whole, &split, true),
                "{}\nshards: {:?}\nwhole: {:?}\nsplit: {:?}",
                pipeline, shards.iter().map(Vec::len).collect::<Vec<_>>(), whole, split
            );
            let single = run_split(&stages, vec![docs.clone()], true);
            prop_assert!(same_results(&whole, &single, true), "{} on one shard: {:?}", pipeline, single);
        }
    }

    #[test]
    fn hash_sharded_order_free_pipelines_match_the_whole(
        docs in collection(),
        placement in prop::collection::vec(0usize..3, 24),
    ) {
        let mut shards = vec![Vec::new(); 3];
        for (i, d) in docs.iter().enumerate() {
            shards[placement[i]].push(d.clone());
        }
        for pipeline in order_free_pipelines() {
            let stages = stages(pipeline.clone());
            let whole = run_whole(&stages, docs.clone());
            let split = run_split(&stages, shards.clone(), false);
            prop_assert!(
                same_results(&whole, &split, false),
                "{}\nwhole: {:?}\nsplit: {:?}", pipeline, whole, split
            );
        }
    }
}

/// Partial sums of int32 values whose running total overflows on one shard
/// and not another still merge to MongoDB's int32 answer.
#[test]
fn partial_sums_merge_to_the_unsharded_type() {
    let docs: Vec<Document> = [i32::MAX, 1, -1, 5, -5]
        .iter()
        .enumerate()
        .map(|(i, v)| doc! { "_id": i as i32, "v": *v })
        .collect();
    let stages = stages(
        bson!([{ "$group": { "_id": Bson::Null, "s": { "$sum": "$v" }, "a": { "$avg": "$v" } } }]),
    );
    let expected = vec![doc! { "_id": Bson::Null, "s": i32::MAX, "a": f64::from(i32::MAX) / 5.0 }];
    assert_eq!(run_whole(&stages, docs.clone()).unwrap(), expected);
    for cut in 0..=docs.len() {
        let shards = vec![docs[..cut].to_vec(), docs[cut..].to_vec()];
        assert_eq!(
            run_split(&stages, shards, false).unwrap(),
            expected,
            "cut at {cut}"
        );
    }
}

/// The same property through real engines: each "shard" is an engine
/// holding its documents, asked with `Engine::aggregate` (with
/// `partial_group` when the plan says so), as the router asks.
#[test]
fn engines_as_shards_answer_like_one_engine() {
    let docs: Vec<Document> = (0..30)
        .map(|i: i32| {
            let k = ["a", "b", "c"][(i % 3) as usize];
            doc! { "_id": i, "k": k, "x": (i * 7 % 11), "t": [(i % 2), (i % 4)] }
        })
        .collect();
    let all = engine_with(&[("c", docs.clone())]);
    let shards: Vec<Engine> = docs
        .chunks(11)
        .map(|part| engine_with(&[("c", part.to_vec())]))
        .collect();
    for pipeline in [
        bson!([{ "$match": { "x": { "$gt": 2 } } }, { "$group": { "_id": "$k", "s": { "$sum": "$x" }, "m": { "$max": "$x" }, "a": { "$avg": "$x" } } }, { "$sort": { "_id": 1 } }]),
        bson!([{ "$unwind": "$t" }, { "$sortByCount": "$t" }]),
        bson!([{ "$sort": { "x": -1, "_id": 1 } }, { "$limit": 4 }, { "$project": { "x": 1 } }]),
        bson!([{ "$match": { "k": "b" } }, { "$count": "n" }]),
        bson!([{ "$group": { "_id": "$k", "ids": { "$push": "$_id" } } }]),
    ] {
        let stages = stages(pipeline.clone());
        let expected = all
            .aggregate(&ns("c"), &stages, NOW, false, ReadAt::Latest)
            .unwrap();
        let plan = split::split(&stages, false, &scope()).unwrap();
        let mut outputs = Vec::new();
        for shard in &shards {
            outputs.push(
                shard
                    .aggregate(
                        &ns("c"),
                        &plan.shard_stages,
                        NOW,
                        plan.partial_group,
                        ReadAt::Latest,
                    )
                    .unwrap(),
            );
        }
        let merged = match &plan.merge {
            Merge::Concat => outputs.concat(),
            Merge::Sorted(spec) => {
                let mut all = outputs.concat();
                sort_documents(&mut all, &SortSpec::parse(spec).unwrap()).unwrap();
                all
            }
            Merge::Group(spec) => merge_partial_groups(spec, &outputs.concat(), &scope()).unwrap(),
        };
        let env = Env::at(NOW);
        let got = parse(&plan.router_stages)
            .unwrap()
            .run(
                merged,
                RunCtx {
                    env: &env,
                    foreign: &NoForeign,
                },
            )
            .unwrap();
        assert_eq!(got, expected, "{pipeline}");
    }
}
