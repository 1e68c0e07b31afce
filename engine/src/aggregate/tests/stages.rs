//! Per-document stages: `$unwind $project $addFields $set $unset
//! $replaceRoot $replaceWith`.

use bson::doc;

use super::*;

fn inventory() -> Engine {
    engine_with(&[(
        "inv",
        vec![
            doc! { "_id": 1, "item": "ABC", "sizes": ["S", "M", "L"] },
            doc! { "_id": 2, "item": "EFG", "sizes": [] },
            doc! { "_id": 3, "item": "IJK", "sizes": "M" },
            doc! { "_id": 4, "item": "LMN" },
            doc! { "_id": 5, "item": "XYZ", "sizes": Bson::Null },
        ],
    )])
}

#[test]
fn unwind_skips_empty_null_and_missing_by_default() {
    let engine = inventory();
    let out = ok(&engine, "inv", bson!([{ "$unwind": "$sizes" }]));
    assert_eq!(
        out,
        vec![
            doc! { "_id": 1, "item": "ABC", "sizes": "S" },
            doc! { "_id": 1, "item": "ABC", "sizes": "M" },
            doc! { "_id": 1, "item": "ABC", "sizes": "L" },
            // A non-array operand is treated as a one-element array.
            doc! { "_id": 3, "item": "IJK", "sizes": "M" },
        ]
    );
    assert_eq!(
        ok(&engine, "inv", bson!([{ "$unwind": { "path": "$sizes" } }])),
        out
    );
}

#[test]
fn unwind_with_index_and_preserve() {
    let engine = inventory();
    let out = ok(
        &engine,
        "inv",
        bson!([{ "$unwind": {
            "path": "$sizes",
            "includeArrayIndex": "idx",
            "preserveNullAndEmptyArrays": true,
        } }]),
    );
    assert_eq!(
        out,
        vec![
            doc! { "_id": 1, "item": "ABC", "sizes": "S", "idx": 0_i64 },
            doc! { "_id": 1, "item": "ABC", "sizes": "M", "idx": 1_i64 },
            doc! { "_id": 1, "item": "ABC", "sizes": "L", "idx": 2_i64 },
            // An empty array loses the field; null stays null.
            doc! { "_id": 2, "item": "EFG", "idx": Bson::Null },
            doc! { "_id": 3, "item": "IJK", "sizes": "M", "idx": Bson::Null },
            doc! { "_id": 4, "item": "LMN", "idx": Bson::Null },
            doc! { "_id": 5, "item": "XYZ", "sizes": Bson::Null, "idx": Bson::Null },
        ]
    );
}

#[test]
fn unwind_a_nested_path_and_errors() {
    let engine = engine_with(&[("c", vec![doc! { "_id": 1, "a": { "b": [1, 2], "c": 0 } }])]);
    assert_eq!(
        ok(&engine, "c", bson!([{ "$unwind": "$a.b" }])),
        vec![
            doc! { "_id": 1, "a": { "b": 1, "c": 0 } },
            doc! { "_id": 1, "a": { "b": 2, "c": 0 } },
        ]
    );
    assert_fails(
        &engine,
        "c",
        bson!([{ "$unwind": "a" }]),
        "FailedToParse",
        "$unwind",
    );
    assert_fails(
        &engine,
        "c",
        bson!([{ "$unwind": { "path": "$a", "bogus": 1 } }]),
        "FailedToParse",
        "bogus",
    );
    assert_fails(
        &engine,
        "c",
        bson!([{ "$unwind": { "includeArrayIndex": "i" } }]),
        "FailedToParse",
        "path",
    );
    assert_fails(
        &engine,
        "c",
        bson!([{ "$unwind": { "path": "$a", "includeArrayIndex": "$i" } }]),
        "FailedToParse",
        "includeArrayIndex",
    );
}

fn people() -> Engine {
    engine_with(&[(
        "p",
        vec![
            doc! { "_id": 1, "name": "ann", "age": 30, "address": { "city": "Oslo", "zip": "0150" }, "tags": [{ "k": 1, "v": 2 }, { "k": 3 }] },
            doc! { "_id": 2, "name": "bob", "address": "unknown" },
        ],
    )])
}

#[test]
fn project_inclusion() {
    let engine = people();
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([{ "$project": { "age": 1, "name": true } }])
        ),
        // _id is kept unless excluded; fields keep the document's order;
        // a missing field is not added.
        vec![
            doc! { "_id": 1, "name": "ann", "age": 30 },
            doc! { "_id": 2, "name": "bob" }
        ]
    );
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([{ "$project": { "_id": 0, "address.city": 1, "tags.k": 1 } }])
        ),
        vec![
            doc! { "address": { "city": "Oslo" }, "tags": [{ "k": 1 }, { "k": 3 }] },
            // A dotted inclusion through a scalar keeps nothing.
            doc! {},
        ]
    );
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([{ "$project": { "_id": 0, "address": { "zip": 1 } } }])
        )[0],
        doc! { "address": { "zip": "0150" } }
    );
    // Computed fields: expressions, literals, and missing values left out.
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([{ "$project": {
                "upper": { "$toUpper": "$name" },
                "next": { "$add": ["$age", 1] },
                "label": "person",
                "one": { "$literal": 1 },
                "gone": "$nope",
                "removed": "$$REMOVE",
                "city": "$address.city",
            } }])
        ),
        vec![
            doc! { "_id": 1, "upper": "ANN", "next": 31, "label": "person", "one": 1, "city": "Oslo" },
            doc! { "_id": 2, "upper": "BOB", "next": Bson::Null, "label": "person", "one": 1 },
        ]
    );
    assert_eq!(
        ok(&engine, "p", bson!([{ "$project": { "_id": 1 } }])),
        vec![doc! { "_id": 1 }, doc! { "_id": 2 }]
    );
    // $$ROOT and $$CURRENT alone are the whole document (SERVER-5916).
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([
                { "$match": { "_id": 2 } },
                { "$project": { "_id": 0, "obj": "$$ROOT", "cur": "$$CURRENT" } },
            ])
        ),
        vec![doc! {
            "obj": { "_id": 2, "name": "bob", "address": "unknown" },
            "cur": { "_id": 2, "name": "bob", "address": "unknown" },
        }]
    );
}

#[test]
fn project_exclusion_and_errors() {
    let engine = people();
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([{ "$project": { "address": 0, "tags.v": 0, "age": false } }])
        ),
        vec![
            doc! { "_id": 1, "name": "ann", "tags": [{ "k": 1 }, { "k": 3 }] },
            doc! { "_id": 2, "name": "bob" },
        ]
    );
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([{ "$project": { "_id": 0, "address": 0, "tags": 0 } }])
        ),
        vec![doc! { "name": "ann", "age": 30 }, doc! { "name": "bob" }]
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$project": { "name": 1, "age": 0 } }]),
        "BadValue",
        "exclusion",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$project": { "age": 0, "x": "$name" } }]),
        "BadValue",
        "inclusion",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$project": {} }]),
        "BadValue",
        "at least one",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$project": { "a": 1, "a.b": 1 } }]),
        "BadValue",
        "Path collision",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$project": { "$a": 1 } }]),
        "BadValue",
        "$a",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$project": { "a": {} } }]),
        "BadValue",
        "empty object",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$project": { "a": { "$bogus": 1 } } }]),
        "FailedToParse",
        "$bogus",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$project": 1 }]),
        "FailedToParse",
        "$project",
    );
}

#[test]
fn add_fields_set_and_unset() {
    let engine = people();
    let out = ok(
        &engine,
        "p",
        bson!([{ "$addFields": {
            "address.country": "NO",
            "tags.seen": true,
            "age": { "$add": ["$age", 1] },
            "copy": "$age",
            "nested": { "a": { "b": 1 } },
            "empty": {},
        } }]),
    );
    assert_eq!(
        out[0],
        doc! {
            "_id": 1, "name": "ann", "age": 31,
            // Dotted paths reach into documents and into each document of
            // an array; every expression sees the input document.
            "address": { "city": "Oslo", "zip": "0150", "country": "NO" },
            "tags": [{ "k": 1, "v": 2, "seen": true }, { "k": 3, "seen": true }],
            "copy": 30,
            "nested": { "a": { "b": 1 } },
            "empty": {},
        }
    );
    // A scalar in the way is replaced by a document; $add of missing is null.
    assert_eq!(
        out[1],
        doc! {
            "_id": 2, "name": "bob", "address": { "country": "NO" },
            "tags": { "seen": true }, "age": Bson::Null,
            "nested": { "a": { "b": 1 } }, "empty": {},
        }
    );
    // $set is $addFields; $$REMOVE removes, also at a dotted path.
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([
                { "$match": { "_id": 1 } },
                { "$set": { "name": "$$REMOVE", "address.zip": "$$REMOVE", "x": "$nope" } },
            ])
        ),
        vec![doc! {
            "_id": 1, "age": 30, "address": { "city": "Oslo" },
            "tags": [{ "k": 1, "v": 2 }, { "k": 3 }],
        }]
    );
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([{ "$unset": ["tags", "address.zip"] }, { "$match": { "_id": 1 } }])
        ),
        vec![doc! { "_id": 1, "name": "ann", "age": 30, "address": { "city": "Oslo" } }]
    );
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([{ "$unset": "address" }, { "$match": { "_id": 2 } }])
        ),
        vec![doc! { "_id": 2, "name": "bob" }]
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$addFields": {} }]),
        "BadValue",
        "$addFields",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$addFields": { "$x": 1 } }]),
        "BadValue",
        "$x",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$unset": [] }]),
        "BadValue",
        "$unset",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$unset": [1] }]),
        "FailedToParse",
        "$unset",
    );
}

#[test]
fn replace_root_and_replace_with() {
    let engine = people();
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([{ "$match": { "_id": 1 } }, { "$replaceRoot": { "newRoot": "$address" } }])
        ),
        vec![doc! { "city": "Oslo", "zip": "0150" }]
    );
    assert_eq!(
        ok(
            &engine,
            "p",
            bson!([
                { "$replaceWith": { "$mergeObjects": [{ "age": 0, "extra": true }, "$$ROOT"] } },
                { "$project": { "tags": 0, "address": 0 } },
            ])
        ),
        vec![
            doc! { "age": 30, "extra": true, "_id": 1, "name": "ann" },
            doc! { "age": 0, "extra": true, "_id": 2, "name": "bob" },
        ]
    );
    // A non-object new root is an error, missing included.
    assert_fails(
        &engine,
        "p",
        bson!([{ "$replaceRoot": { "newRoot": "$address" } }]),
        "BadValue",
        "'newRoot' expression must evaluate to an object, but resulting value was: \"unknown\"",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$replaceWith": "$nope" }]),
        "BadValue",
        "Type of resulting value: 'missing'",
    );
    assert_fails(
        &engine,
        "p",
        bson!([{ "$replaceRoot": {} }]),
        "FailedToParse",
        "newRoot",
    );
}
