//! Stages that read other collections or run sub-pipelines: `$lookup`
//! (equality and pipeline forms), `$facet`, `$unionWith`.

use bson::doc;

use super::*;

fn shop() -> Engine {
    engine_with(&[
        (
            "orders",
            vec![
                doc! { "_id": 1, "item": "a", "qty": 2 },
                doc! { "_id": 2, "item": ["a", "b"] },
                doc! { "_id": 3 },
                doc! { "_id": 4, "item": Bson::Null },
                doc! { "_id": 5, "item": "zzz" },
            ],
        ),
        (
            "inventory",
            vec![
                doc! { "_id": 10, "sku": "a", "stock": 5 },
                doc! { "_id": 11, "sku": "b", "stock": 0 },
                doc! { "_id": 12, "stock": 1 },
                doc! { "_id": 13, "sku": Bson::Null },
                doc! { "_id": 14, "sku": ["a", "c"] },
            ],
        ),
    ])
}

/// The `_id`s in each document's `field` array.
fn matched_ids(docs: &[Document], field: &str) -> Vec<Vec<i32>> {
    docs.iter()
        .map(|d| {
            d.get_array(field)
                .unwrap_or_else(|_| panic!("no array '{field}' in {d}"))
                .iter()
                .map(|m| m.as_document().unwrap().get_i32("_id").unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn lookup_by_equality() {
    let engine = shop();
    let out = ok(
        &engine,
        "orders",
        bson!([{ "$lookup": {
            "from": "inventory", "localField": "item", "foreignField": "sku", "as": "stock",
        } }]),
    );
    assert_eq!(
        matched_ids(&out, "stock"),
        vec![
            // "a" matches "a" and an array holding "a".
            vec![10, 14],
            // An array localField matches any of its elements.
            vec![10, 11, 14],
            // A missing or null localField matches foreign documents whose
            // foreignField is null or missing.
            vec![12, 13],
            vec![12, 13],
            vec![],
        ]
    );
    // The matches are whole documents, added to the input document.
    assert_eq!(
        out[0],
        doc! {
            "_id": 1, "item": "a", "qty": 2,
            "stock": [{ "_id": 10, "sku": "a", "stock": 5 }, { "_id": 14, "sku": ["a", "c"] }],
        }
    );
    // `as` may be a dotted path; a missing foreign collection matches nothing.
    let out = ok(
        &engine,
        "orders",
        bson!([
            { "$match": { "_id": 1 } },
            { "$lookup": { "from": "nothing", "localField": "item", "foreignField": "sku", "as": "x.y" } },
        ]),
    );
    assert_eq!(
        out,
        vec![doc! { "_id": 1, "item": "a", "qty": 2, "x": { "y": [] } }]
    );
}

/// MongoDB's equality-join rules for null, missing and empty arrays
/// (the cases of `jstests/aggregation/sources/lookup/lookup_equijoin_semantics.js`).
#[test]
fn lookup_equality_treats_a_path_without_values_as_null() {
    let local = vec![
        doc! { "_id": 0, "no_a": 1 },
        doc! { "_id": 1, "a": Bson::Null },
        doc! { "_id": 2, "a": [Bson::Null, 1] },
        doc! { "_id": 10, "a": [] },
        doc! { "_id": 20, "a": 1 },
        doc! { "_id": 21, "a": { "x": Bson::Null } },
        doc! { "_id": 22, "a": [[Bson::Null, 1], 2] },
    ];
    let matching = |foreign: Document, local_field: &str| -> Vec<i32> {
        let engine = engine_with(&[("l", local.clone()), ("f", vec![foreign])]);
        let out = ok(
            &engine,
            "l",
            bson!([{ "$lookup": { "from": "f", "localField": local_field, "foreignField": "b", "as": "m" } }]),
        );
        out.iter()
            .filter(|d| !d.get_array("m").unwrap().is_empty())
            .map(|d| d.get_i32("_id").unwrap())
            .collect()
    };
    // A null or missing foreign field matches local null, missing, arrays
    // holding null, and the empty array.
    assert_eq!(
        matching(doc! { "_id": 0, "b": Bson::Null }, "a"),
        vec![0, 1, 2, 10]
    );
    assert_eq!(
        matching(doc! { "_id": 0, "no_b": 1 }, "a"),
        vec![0, 1, 2, 10]
    );
    // Along a path: missing at the end, arrays of documents that all lack
    // the field, and arrays of scalars all count as null.
    let local = vec![
        doc! { "_id": 0, "a": { "no_x": 1 } },
        doc! { "_id": 2, "a": [{ "no_x": 1 }, { "no_x": 2 }] },
        doc! { "_id": 3, "a": [{ "no_x": 2 }, { "x": 1 }] },
        doc! { "_id": 5, "a": { "x": Bson::Null } },
        doc! { "_id": 6, "a": [{ "x": Bson::Null }, { "x": 1 }] },
        doc! { "_id": 9, "a": [1] },
        doc! { "_id": 10, "a": [] },
        doc! { "_id": 12, "a": [[]] },
        doc! { "_id": 20, "a": { "x": 2 } },
    ];
    let engine = engine_with(&[
        ("l", local),
        ("f", vec![doc! { "_id": 0, "b": Bson::Null }]),
    ]);
    let out = ok(
        &engine,
        "l",
        bson!([{ "$lookup": { "from": "f", "localField": "a.x", "foreignField": "b", "as": "m" } }]),
    );
    let ids: Vec<i32> = out
        .iter()
        .filter(|d| !d.get_array("m").unwrap().is_empty())
        .map(|d| d.get_i32("_id").unwrap())
        .collect();
    assert_eq!(ids, vec![0, 2, 5, 6, 9, 10, 12]);
}

#[test]
fn lookup_with_let_and_a_pipeline() {
    let engine = shop();
    let out = ok(
        &engine,
        "orders",
        bson!([{ "$lookup": {
            "from": "inventory",
            "let": { "want": "$item", "q": "$qty" },
            "pipeline": [
                { "$match": { "$expr": { "$and": [
                    { "$eq": ["$sku", "$$want"] },
                    { "$gte": ["$stock", "$$q"] },
                ] } } },
                { "$project": { "_id": 1 } },
            ],
            "as": "m",
        } }]),
    );
    assert_eq!(out[0].get_array("m").unwrap(), &vec![bson!({ "_id": 10 })]);
    assert_eq!(
        matched_ids(&out, "m"),
        vec![
            vec![10],
            // $eq compares the whole array: nothing equals ["a", "b"].
            vec![],
            // A let variable of a missing field is missing, which $eq
            // finds equal to a missing sku (and not to a null one).
            vec![12],
            // A null one matches the null sku.
            vec![13],
            vec![],
        ]
    );
    // Without let or an equality, every input document sees the same
    // sub-pipeline result.
    let out = ok(
        &engine,
        "orders",
        bson!([{ "$lookup": {
            "from": "inventory",
            "pipeline": [{ "$match": { "stock": { "$gt": 0 } } }, { "$count": "n" }],
            "as": "c",
        } }]),
    );
    assert!(
        out.iter()
            .all(|d| d.get_array("c").unwrap() == &vec![bson!({ "n": 2 })]),
        "{out:?}"
    );
    // Equality and a pipeline together: the pipeline runs on the matches.
    let out = ok(
        &engine,
        "orders",
        bson!([
            { "$match": { "_id": { "$in": [1, 3] } } },
            { "$lookup": {
                "from": "inventory", "localField": "item", "foreignField": "sku",
                "pipeline": [{ "$project": { "_id": 1 } }, { "$sort": { "_id": -1 } }],
                "as": "m",
            } },
        ]),
    );
    assert_eq!(matched_ids(&out, "m"), vec![vec![14, 10], vec![13, 12]]);
}

#[test]
fn lookup_specification_errors() {
    let engine = shop();
    for (spec, code, text) in [
        (
            bson!({ "from": "inventory", "localField": "item", "foreignField": "sku" }),
            "FailedToParse",
            "as",
        ),
        (
            bson!({ "from": "inventory", "localField": "item", "as": "x" }),
            "FailedToParse",
            "foreignField",
        ),
        (
            bson!({ "localField": "item", "foreignField": "sku", "as": "x" }),
            "FailedToParse",
            "from",
        ),
        (
            bson!({ "from": "inventory", "as": "x" }),
            "FailedToParse",
            "pipeline",
        ),
        (
            bson!({ "from": "inventory", "localField": "a", "foreignField": "b", "let": { "v": 1 }, "as": "x" }),
            "FailedToParse",
            "let",
        ),
        (
            bson!({ "from": "inventory", "pipeline": [], "as": "x", "bogus": 1 }),
            "FailedToParse",
            "bogus",
        ),
        (
            bson!({ "from": { "db": "other", "coll": "c" }, "pipeline": [], "as": "x" }),
            "NotImplemented",
            "another database",
        ),
        (
            bson!({ "from": "inventory", "pipeline": [{ "$facet": { "a": [] } }], "as": "x" }),
            "BadValue",
            "$facet",
        ),
        (
            bson!({ "from": "inventory", "pipeline": [{ "$match": { "$expr": "$$nope" } }], "as": "x" }),
            "BadValue",
            "nope",
        ),
        (
            bson!({ "from": "inventory", "let": { "Bad": 1 }, "pipeline": [], "as": "x" }),
            "FailedToParse",
            "Bad",
        ),
    ] {
        assert_fails(
            &engine,
            "orders",
            bson!([{ "$lookup": (spec.clone()) }]),
            code,
            text,
        );
    }
}

#[test]
fn facet_runs_every_sub_pipeline_on_the_same_input() {
    let engine = shop();
    let pipeline = bson!([{ "$facet": {
        "count": [{ "$count": "n" }],
        "firstTwo": [{ "$sort": { "_id": 1 } }, { "$limit": 2 }, { "$project": { "_id": 1 } }],
        "byType": [{ "$group": { "_id": { "$type": "$item" }, "n": { "$sum": 1 } } }, { "$sort": { "_id": 1 } }],
        "none": [{ "$match": { "nope": 1 } }],
    } }]);
    assert_eq!(
        ok(&engine, "orders", pipeline.clone()),
        vec![doc! {
            "count": [{ "n": 5 }],
            "firstTwo": [{ "_id": 1 }, { "_id": 2 }],
            "byType": [
                { "_id": "array", "n": 1 },
                { "_id": "missing", "n": 1 },
                { "_id": "null", "n": 1 },
                { "_id": "string", "n": 2 },
            ],
            "none": [],
        }]
    );
    // No input still makes one document, of empty arrays.
    assert_eq!(
        ok(&engine, "empty", pipeline),
        vec![doc! { "count": [], "firstTwo": [], "byType": [], "none": [] }]
    );
    assert_fails(
        &engine,
        "orders",
        bson!([{ "$facet": {} }]),
        "BadValue",
        "$facet",
    );
    assert_fails(
        &engine,
        "orders",
        bson!([{ "$facet": { "a": [{ "$facet": { "b": [] } }] } }]),
        "BadValue",
        "$facet is not allowed",
    );
    assert_fails(
        &engine,
        "orders",
        bson!([{ "$facet": { "a": 1 } }]),
        "FailedToParse",
        "$facet",
    );
}

#[test]
fn union_with_appends_another_collection() {
    let engine = shop();
    let out = ok(
        &engine,
        "orders",
        bson!([
            { "$project": { "_id": 1 } },
            { "$unionWith": {
                "coll": "inventory",
                "pipeline": [{ "$match": { "stock": { "$gt": 0 } } }, { "$project": { "_id": 1 } }],
            } },
        ]),
    );
    assert_eq!(
        column(&out, "_id"),
        [1, 2, 3, 4, 5, 10, 12].map(Bson::Int32).to_vec()
    );
    assert_eq!(
        ok(
            &engine,
            "orders",
            bson!([{ "$unionWith": "inventory" }, { "$count": "n" }])
        ),
        vec![doc! { "n": 10 }]
    );
    assert_eq!(
        ok(
            &engine,
            "orders",
            bson!([{ "$unionWith": { "coll": "nothing" } }, { "$count": "n" }])
        ),
        vec![doc! { "n": 5 }]
    );
    assert_fails(
        &engine,
        "orders",
        bson!([{ "$unionWith": { "pipeline": [] } }]),
        "FailedToParse",
        "coll",
    );
    assert_fails(
        &engine,
        "orders",
        bson!([{ "$unionWith": 5 }]),
        "FailedToParse",
        "$unionWith",
    );
}

#[test]
fn lookup_equality_compares_regexes_and_undefined_as_values() {
    let re = |p: &str| {
        Bson::RegularExpression(bson::Regex {
            pattern: bson::raw::CString::try_from(p).unwrap(),
            options: bson::raw::CString::try_from("").unwrap(),
        })
    };
    let engine = engine_with(&[
        (
            "l",
            vec![
                doc! { "_id": 1, "k": re("^x") },
                doc! { "_id": 2, "k": Bson::Undefined },
            ],
        ),
        (
            "f",
            vec![
                doc! { "_id": 10, "k": "xyz" },
                doc! { "_id": 11, "k": re("^x") },
                doc! { "_id": 12, "k": Bson::Undefined },
            ],
        ),
    ]);
    let out = ok(
        &engine,
        "l",
        bson!([{ "$lookup": { "from": "f", "localField": "k", "foreignField": "k", "as": "m" } }, { "$sort": { "_id": 1 } }]),
    );
    // A regex matches the equal regex, not the strings it would match.
    assert_eq!(matched_ids(&out, "m"), vec![vec![11], vec![12]]);
}
