//! `$match` (and `$expr` errors in it), `$sort $skip $limit`, and the
//! stages and stage documents that are refused.

use bson::doc;

use super::*;

#[test]
fn match_sort_skip_limit() {
    let engine = engine_with(&[(
        "n",
        (1..=10)
            .map(|i| doc! { "_id": i, "v": i % 3, "neg": -i })
            .collect(),
    )]);
    assert_eq!(
        column(
            &ok(
                &engine,
                "n",
                bson!([
                    { "$match": { "v": { "$ne": 0 } } },
                    { "$sort": { "v": -1, "_id": 1 } },
                    { "$skip": 1 },
                    { "$limit": 4 },
                ])
            ),
            "_id"
        ),
        vec![bson!(5), bson!(8), bson!(1), bson!(4)]
    );
    // $match after other stages, with $expr comparing two fields.
    assert_eq!(
        column(
            &ok(
                &engine,
                "n",
                bson!([
                    { "$addFields": { "w": { "$multiply": ["$v", 4] } } },
                    { "$match": { "$expr": { "$gt": ["$w", "$_id"] } } },
                ])
            ),
            "_id"
        ),
        vec![bson!(1), bson!(2), bson!(5)]
    );
    // $expr may use $$NOW in a pipeline.
    assert_eq!(
        ok(
            &engine,
            "n",
            bson!([{ "$match": { "$expr": { "$gt": ["$$NOW", (date(0))] }, "_id": 3 } }])
        )
        .len(),
        1
    );
    assert_eq!(
        ok(&engine, "n", bson!([{ "$skip": 100 }])),
        Vec::<Document>::new()
    );
    assert_fails(
        &engine,
        "n",
        bson!([{ "$limit": 0 }]),
        "BadValue",
        "positive",
    );
    assert_fails(
        &engine,
        "n",
        bson!([{ "$limit": -1 }]),
        "BadValue",
        "$limit",
    );
    assert_fails(
        &engine,
        "n",
        bson!([{ "$limit": 1.5 }]),
        "BadValue",
        "$limit",
    );
    assert_fails(&engine, "n", bson!([{ "$skip": -1 }]), "BadValue", "$skip");
    assert_fails(&engine, "n", bson!([{ "$sort": {} }]), "BadValue", "$sort");
    assert_fails(
        &engine,
        "n",
        bson!([{ "$match": { "v": { "$bogus": 1 } } }]),
        "BadValue",
        "$bogus",
    );
}

#[test]
fn an_expr_error_fails_the_pipeline_wherever_the_match_is() {
    let engine = engine_with(&[(
        "n",
        vec![doc! { "_id": 1, "v": 0 }, doc! { "_id": 2, "v": 2 }],
    )]);
    let boom = bson!({ "$match": { "$expr": { "$gt": [{ "$divide": [10, "$v"] }, 1] } } });
    // As the first stage (applied while scanning) …
    assert_fails(
        &engine,
        "n",
        bson!([(boom.clone())]),
        "BadValue",
        "can't $divide by zero",
    );
    // … and after other stages.
    assert_fails(
        &engine,
        "n",
        bson!([{ "$project": { "v": 1 } }, (boom)]),
        "BadValue",
        "can't $divide by zero",
    );
}

#[test]
fn refused_and_unknown_stages() {
    let engine = engine_with(&[("p", vec![doc! { "_id": 1 }])]);
    for (stage, text) in [
        (bson!({ "$out": "copy" }), "$out"),
        (bson!({ "$merge": { "into": "copy" } }), "$merge"),
        (bson!({ "$geoNear": {} }), "$geoNear"),
        (bson!({ "$graphLookup": {} }), "$graphLookup"),
        (bson!({ "$setWindowFields": {} }), "$setWindowFields"),
    ] {
        assert_fails(
            &engine,
            "p",
            bson!([(stage.clone())]),
            "NotImplemented",
            text,
        );
    }
    assert_fails(
        &engine,
        "p",
        bson!([{ "$frobnicate": {} }]),
        "FailedToParse",
        "Unrecognized pipeline stage name: '$frobnicate'",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$match": {}, "$limit": 1 }]),
        "FailedToParse",
        "exactly one field",
    );
    let e = crate::aggregate::pipeline_documents(&bson!([1])).unwrap_err();
    assert!(e.to_string().contains("pipeline[0]"), "{e}");
    // Nothing runs before an invalid later stage is noticed.
    assert_fails(
        &engine,
        "p",
        bson!([{ "$match": {} }, { "$out": "x" }]),
        "NotImplemented",
        "$out",
    );
}

fn date(ms: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(ms))
}
