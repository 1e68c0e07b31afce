//! `$group` and its accumulators, group keys, and the grouping shorthands
//! (`$count`, `$sortByCount`, `$bucket`).

use bson::doc;

use super::*;

fn sales() -> Engine {
    engine_with(&[(
        "sales",
        vec![
            doc! { "_id": 1, "item": "a", "price": 10, "qty": 2, "meta": { "x": 1 } },
            doc! { "_id": 2, "item": "b", "price": 20, "qty": 1 },
            doc! { "_id": 3, "item": "a", "price": 5, "qty": 10, "meta": { "x": 2, "y": 1 } },
            doc! { "_id": 4, "item": "c", "price": 5.5, "qty": Bson::Int64(3) },
            doc! { "_id": 5, "item": Bson::Null, "price": 1 },
            doc! { "_id": 6, "price": 2 },
        ],
    )])
}

#[test]
fn every_accumulator() {
    let engine = sales();
    let out = ok(
        &engine,
        "sales",
        bson!([{ "$group": {
            "_id": "$item",
            "n": { "$sum": 1 },
            "count": { "$count": {} },
            "total": { "$sum": "$qty" },
            "avgPrice": { "$avg": "$price" },
            "avgQty": { "$avg": "$qty" },
            "minQty": { "$min": "$qty" },
            "maxQty": { "$max": "$qty" },
            "first": { "$first": "$qty" },
            "last": { "$last": "$qty" },
            "all": { "$push": "$qty" },
            "prices": { "$addToSet": "$price" },
            "meta": { "$mergeObjects": "$meta" },
            "sdPop": { "$stdDevPop": "$price" },
            "sdSamp": { "$stdDevSamp": "$price" },
        } }]),
    );
    // Groups come out in the order their keys first appear; a null and a
    // missing key are the same group, null.
    assert_eq!(
        column(&out, "_id"),
        vec![bson!("a"), bson!("b"), bson!("c"), Bson::Null]
    );
    let mut out = out.into_iter();
    let mut a = out.next().unwrap();
    assert_eq!(sorted(&a.remove("prices").unwrap()), bson!([5, 10]));
    assert_eq!(
        a,
        doc! {
            "_id": "a", "n": 2, "count": 2, "total": 12, "avgPrice": 7.5, "avgQty": 6.0,
            "minQty": 2, "maxQty": 10, "first": 2, "last": 10, "all": [2, 10],
            "meta": { "x": 2, "y": 1 }, "sdPop": 2.5, "sdSamp": 3.535_533_905_932_737_6,
        }
    );
    let mut b = out.next().unwrap();
    assert_eq!(b.remove("prices"), Some(bson!([20])));
    assert_eq!(
        b,
        doc! {
            "_id": "b", "n": 1, "count": 1, "total": 1, "avgPrice": 20.0, "avgQty": 1.0,
            "minQty": 1, "maxQty": 1, "first": 1, "last": 1, "all": [1],
            "meta": {}, "sdPop": 0.0, "sdSamp": Bson::Null,
        }
    );
    // An int64 among the inputs makes an int64 sum.
    let c = out.next().unwrap();
    assert_eq!(c.get("total"), Some(&Bson::Int64(3)));
    assert_eq!(c.get("minQty"), Some(&Bson::Int64(3)));
    let mut none = out.next().unwrap();
    assert_eq!(sorted(&none.remove("prices").unwrap()), bson!([1, 2]));
    // No values at all: $sum is 0, $avg/$min/$max null, $first/$last of
    // a missing field null, $push nothing.
    assert_eq!(
        none,
        doc! {
            "_id": Bson::Null, "n": 2, "count": 2, "total": 0, "avgPrice": 1.5,
            "avgQty": Bson::Null, "minQty": Bson::Null, "maxQty": Bson::Null,
            "first": Bson::Null, "last": Bson::Null, "all": [], "meta": {},
            "sdPop": 0.5, "sdSamp": std::f64::consts::FRAC_1_SQRT_2,
        }
    );
}

#[test]
fn sums_keep_mongodbs_types() {
    let engine = engine_with(&[(
        "n",
        vec![
            doc! { "_id": 1, "v": i32::MAX },
            doc! { "_id": 2, "v": 1 },
            doc! { "_id": 3, "v": -1 },
            doc! { "_id": 4, "v": "text" },
            doc! { "_id": 5, "w": i64::MAX, "d": 0.5 },
            doc! { "_id": 6, "w": 1, "d": 0.25 },
        ],
    )]);
    let out = ok(
        &engine,
        "n",
        bson!([{ "$group": {
            "_id": Bson::Null,
            "v": { "$sum": "$v" },
            "w": { "$sum": "$w" },
            "d": { "$sum": "$d" },
            "avg": { "$avg": "$v" },
        } }]),
    );
    // All int32, and the total fits one: an int32, whatever the order the
    // numbers came in (the running total went past i32::MAX on the way).
    assert_eq!(out[0].get("v"), Some(&Bson::Int32(i32::MAX)));
    // An int64 total past i64::MAX becomes a double.
    assert_eq!(
        out[0].get("w"),
        Some(&Bson::Double(9_223_372_036_854_775_808.0))
    );
    assert_eq!(out[0].get("d"), Some(&Bson::Double(0.75)));
    assert_eq!(
        out[0].get("avg"),
        Some(&Bson::Double(f64::from(i32::MAX) / 3.0))
    );
}

#[test]
fn group_keys_can_be_documents_and_expressions() {
    let engine = sales();
    // Compound keys: a missing field is left out of the key document, so
    // {item: null} and {} are different groups.
    let out = ok(
        &engine,
        "sales",
        bson!([
            { "$group": { "_id": { "item": "$item", "cheap": { "$lt": ["$price", 6] } }, "n": { "$sum": 1 } } },
        ]),
    );
    assert_eq!(
        column(&out, "_id"),
        vec![
            bson!({ "item": "a", "cheap": false }),
            bson!({ "item": "b", "cheap": false }),
            bson!({ "item": "a", "cheap": true }),
            bson!({ "item": "c", "cheap": true }),
            bson!({ "item": Bson::Null, "cheap": true }),
            bson!({ "cheap": true }),
        ]
    );
    // A one-field key document groups on its expression, missing as null.
    let out = ok(
        &engine,
        "sales",
        bson!([{ "$group": { "_id": { "item": "$item" }, "n": { "$sum": 1 } } }]),
    );
    assert_eq!(
        out.last().unwrap(),
        &doc! { "_id": { "item": Bson::Null }, "n": 2 }
    );
    assert_eq!(out.len(), 4);
    // Numbers of different types are one key; the first one seen is kept.
    let engine = engine_with(&[(
        "k",
        vec![
            doc! { "_id": 1, "k": 1 },
            doc! { "_id": 2, "k": 1.0 },
            doc! { "_id": 3, "k": Bson::Int64(1) },
            doc! { "_id": 4, "k": "1" },
        ],
    )]);
    let out = ok(
        &engine,
        "k",
        bson!([{ "$group": { "_id": "$k", "n": { "$sum": 1 } } }]),
    );
    assert_eq!(
        out,
        vec![doc! { "_id": 1, "n": 3 }, doc! { "_id": "1", "n": 1 }]
    );
    // A constant key puts everything in one group.
    let out = ok(
        &engine,
        "k",
        bson!([{ "$group": { "_id": Bson::Null, "ids": { "$push": "$_id" } } }]),
    );
    assert_eq!(out, vec![doc! { "_id": Bson::Null, "ids": [1, 2, 3, 4] }]);
    // $$ROOT can be pushed whole.
    let out = ok(
        &engine,
        "k",
        bson!([{ "$match": { "_id": 4 } }, { "$group": { "_id": "$k", "docs": { "$push": "$$ROOT" } } }]),
    );
    assert_eq!(
        out,
        vec![doc! { "_id": "1", "docs": [{ "_id": 4, "k": "1" }] }]
    );
}

#[test]
fn group_specification_errors() {
    let engine = sales();
    assert_fails(
        &engine,
        "sales",
        bson!([{ "$group": { "n": { "$sum": 1 } } }]),
        "FailedToParse",
        "_id",
    );
    assert_fails(
        &engine,
        "sales",
        bson!([{ "$group": { "_id": 1, "n": { "$bogus": 1 } } }]),
        "FailedToParse",
        "$bogus",
    );
    assert_fails(
        &engine,
        "sales",
        bson!([{ "$group": { "_id": 1, "n": { "$sum": [1, 2] } } }]),
        "FailedToParse",
        "unary",
    );
    assert_fails(
        &engine,
        "sales",
        bson!([{ "$group": { "_id": 1, "a.b": { "$sum": 1 } } }]),
        "FailedToParse",
        "a.b",
    );
    assert_fails(
        &engine,
        "sales",
        bson!([{ "$group": { "_id": 1, "n": 1 } }]),
        "FailedToParse",
        "n",
    );
    assert_fails(
        &engine,
        "sales",
        bson!([{ "$group": { "_id": 1, "n": { "$sum": 1, "$avg": 1 } } }]),
        "FailedToParse",
        "exactly one",
    );
    assert_fails(
        &engine,
        "sales",
        bson!([{ "$group": { "_id": 1, "n": { "$count": 1 } } }]),
        "FailedToParse",
        "$count",
    );
    assert_fails(
        &engine,
        "sales",
        bson!([{ "$group": { "_id": 1, "n": { "$mergeObjects": "$price" } } }]),
        "TypeMismatch",
        "$mergeObjects",
    );
}

#[test]
fn count_and_sort_by_count() {
    let engine = sales();
    assert_eq!(
        ok(&engine, "sales", bson!([{ "$count": "n" }])),
        vec![doc! { "n": 6 }]
    );
    assert_eq!(
        ok(
            &engine,
            "sales",
            bson!([{ "$match": { "price": { "$gt": 5 } } }, { "$count": "expensive" }])
        ),
        vec![doc! { "expensive": 3 }]
    );
    // No input, no output document (not {n: 0}).
    assert_eq!(
        ok(
            &engine,
            "sales",
            bson!([{ "$match": { "price": { "$gt": 1000 } } }, { "$count": "n" }])
        ),
        Vec::<Document>::new()
    );
    assert_eq!(
        ok(&engine, "nothing_here", bson!([{ "$count": "n" }])),
        Vec::<Document>::new()
    );
    for bad in [bson!(""), bson!("$n"), bson!("a.b"), bson!(1)] {
        assert_eq!(
            fails(&engine, "sales", bson!([{ "$count": (bad.clone()) }])).code_name(),
            "FailedToParse",
            "{bad}"
        );
    }

    let out = ok(&engine, "sales", bson!([{ "$sortByCount": "$item" }]));
    // Counts in descending order (ties in no particular order).
    let counts = column(&out, "count");
    assert_eq!(counts, vec![bson!(2), bson!(2), bson!(1), bson!(1)]);
    let mut pairs: Vec<_> = out
        .iter()
        .map(|d| {
            (
                d.get("_id").unwrap().to_string(),
                d.get_i32("count").unwrap(),
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            ("\"a\"".to_string(), 2),
            ("\"b\"".to_string(), 1),
            ("\"c\"".to_string(), 1),
            ("null".to_string(), 2)
        ]
    );
    let out = ok(
        &engine,
        "sales",
        bson!([{ "$sortByCount": { "$gt": ["$price", 5] } }]),
    );
    let mut keys = column(&out, "_id");
    keys.sort_by(crate::value::compare);
    assert_eq!(keys, vec![bson!(false), bson!(true)]);
    assert_eq!(column(&out, "count"), vec![bson!(3), bson!(3)]);
    assert_fails(
        &engine,
        "sales",
        bson!([{ "$sortByCount": "item" }]),
        "FailedToParse",
        "$sortByCount",
    );
}

#[test]
fn bucket_with_default() {
    let engine = engine_with(&[(
        "art",
        vec![
            doc! { "_id": 1, "price": 10, "title": "t1" },
            doc! { "_id": 2, "price": 20, "title": "t2" },
            doc! { "_id": 3, "price": 5, "title": "t3" },
            doc! { "_id": 4, "price": 5.5, "title": "t4" },
            doc! { "_id": 5, "price": 1, "title": "t5" },
            doc! { "_id": 6, "price": "free", "title": "t6" },
            doc! { "_id": 7, "title": "t7" },
            doc! { "_id": 8, "price": 100, "title": "t8" },
        ],
    )]);
    let out = ok(
        &engine,
        "art",
        bson!([{ "$bucket": {
            "groupBy": "$price",
            "boundaries": [0, 5, 10, 100],
            "default": "Other",
            "output": { "n": { "$sum": 1 }, "titles": { "$push": "$title" } },
        } }]),
    );
    // Buckets in boundary order, lower bound inclusive, upper exclusive;
    // the default bucket (other types, missing, out of range) last.
    assert_eq!(
        out,
        vec![
            doc! { "_id": 0, "n": 1, "titles": ["t5"] },
            doc! { "_id": 5, "n": 2, "titles": ["t3", "t4"] },
            doc! { "_id": 10, "n": 2, "titles": ["t1", "t2"] },
            doc! { "_id": "Other", "n": 3, "titles": ["t6", "t7", "t8"] },
        ]
    );
    // Without output, each bucket counts; empty buckets are left out.
    let out = ok(
        &engine,
        "art",
        bson!([
            { "$match": { "price": { "$lt": 10 } } },
            { "$bucket": { "groupBy": "$price", "boundaries": [0, 5, 10, 20] } },
        ]),
    );
    assert_eq!(
        out,
        vec![doc! { "_id": 0, "count": 1 }, doc! { "_id": 5, "count": 2 }]
    );
    // A value outside every bucket with no default is an error.
    assert_fails(
        &engine,
        "art",
        bson!([{ "$bucket": { "groupBy": "$price", "boundaries": [0, 5] } }]),
        "BadValue",
        "$bucket",
    );
    assert_fails(
        &engine,
        "art",
        bson!([{ "$bucket": { "groupBy": "$price", "boundaries": [5, 0] } }]),
        "BadValue",
        "ascending",
    );
    assert_fails(
        &engine,
        "art",
        bson!([{ "$bucket": { "groupBy": "$price", "boundaries": [0, "a"] } }]),
        "BadValue",
        "same type",
    );
    assert_fails(
        &engine,
        "art",
        bson!([{ "$bucket": { "groupBy": "$price", "boundaries": [0, 10], "default": 5 } }]),
        "BadValue",
        "default",
    );
    assert_fails(
        &engine,
        "art",
        bson!([{ "$bucket": { "groupBy": "price", "boundaries": [0, 10] } }]),
        "FailedToParse",
        "groupBy",
    );
}
