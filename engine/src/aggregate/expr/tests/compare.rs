//! Comparisons in BSON order, truthiness, and the conditional operators.

use bson::doc;
use bson::oid::ObjectId;

use super::*;

#[test]
fn comparisons_cross_types_in_bson_order() {
    let d = doc! { "n": Bson::Null };
    // Numbers compare by value whatever their type.
    assert_eq!(constant(bson!({ "$eq": [1, 1.0] })), bson!(true));
    assert_eq!(
        constant(bson!({ "$eq": [(Bson::Int64(1)), 1] })),
        bson!(true)
    );
    assert_eq!(constant(bson!({ "$gt": [2.5, 2] })), bson!(true));
    // Unlike query operators, different types compare by type order:
    // null < numbers < strings < objects < arrays < ObjectId < bool < date.
    assert_eq!(constant(bson!({ "$gt": ["abc", 5] })), bson!(true));
    assert_eq!(constant(bson!({ "$lt": [Bson::Null, 0] })), bson!(true));
    assert_eq!(
        constant(bson!({ "$lt": ["zzz", { "$literal": {} }] })),
        bson!(true)
    );
    assert_eq!(constant(bson!({ "$cmp": [{ "a": 1 }, [1]] })), bson!(-1));
    assert_eq!(
        constant(bson!({ "$lt": [[1], (Bson::ObjectId(ObjectId::from_bytes([0; 12])))] })),
        bson!(true)
    );
    assert_eq!(constant(bson!({ "$gt": [true, 100] })), bson!(true));
    assert_eq!(constant(bson!({ "$lt": [true, (date(0))] })), bson!(true));
    // Missing sorts below null and is not equal to it.
    assert_eq!(value(bson!({ "$lt": ["$nope", "$n"] }), &d), bson!(true));
    assert_eq!(value(bson!({ "$eq": ["$nope", "$n"] }), &d), bson!(false));
    assert_eq!(
        value(bson!({ "$eq": ["$nope", "$other"] }), &d),
        bson!(true)
    );
    assert_eq!(value(bson!({ "$eq": ["$n", Bson::Null] }), &d), bson!(true));
    // Arrays and documents compare element by element.
    assert_eq!(constant(bson!({ "$eq": [[1, 2], [1, 2]] })), bson!(true));
    assert_eq!(constant(bson!({ "$lt": [[1, 2], [1, 3]] })), bson!(true));
    assert_eq!(constant(bson!({ "$lt": [[1], [1, 0]] })), bson!(true));
    assert_eq!(
        constant(bson!({ "$eq": [{ "a": 1, "b": 2 }, { "b": 2, "a": 1 }] })),
        bson!(false)
    );
    // $cmp gives an int32 -1, 0 or 1; strings compare by bytes.
    assert_eq!(constant(bson!({ "$cmp": ["a", "b"] })), bson!(-1));
    assert_eq!(constant(bson!({ "$cmp": ["b", "B"] })), bson!(1));
    assert_eq!(constant(bson!({ "$cmp": [3, 3.0] })), bson!(0));
    assert_eq!(constant(bson!({ "$ne": [1, "1"] })), bson!(true));
    assert_eq!(constant(bson!({ "$gte": [1, 1] })), bson!(true));
    assert_eq!(constant(bson!({ "$lte": [2, 1] })), bson!(false));
}

#[test]
fn truthiness() {
    let d = doc! { "zero": 0.0, "empty": "", "arr": [], "obj": {} };
    // False: false, null, missing, numeric zero. True: everything else,
    // empty strings, empty arrays and empty objects included.
    for falsy in ["$zero", "$nope"] {
        assert_eq!(
            value(bson!({ "$not": [falsy] }), &d),
            bson!(true),
            "{falsy}"
        );
    }
    for truthy in ["$empty", "$arr", "$obj"] {
        assert_eq!(
            value(bson!({ "$not": [truthy] }), &d),
            bson!(false),
            "{truthy}"
        );
    }
    assert_eq!(constant(bson!({ "$not": [[false]] })), bson!(false));
    assert_eq!(constant(bson!({ "$not": [Bson::Null] })), bson!(true));
    assert_eq!(constant(bson!({ "$not": [(Bson::Int64(0))] })), bson!(true));
    assert_eq!(constant(bson!({ "$and": [1, "a", true] })), bson!(true));
    assert_eq!(constant(bson!({ "$and": [1, 0] })), bson!(false));
    assert_eq!(constant(bson!({ "$and": [] })), bson!(true));
    assert_eq!(
        constant(bson!({ "$or": [Bson::Null, 0, false, "$nope"] })),
        bson!(false)
    );
    assert_eq!(constant(bson!({ "$or": [0, -1] })), bson!(true));
    assert_eq!(constant(bson!({ "$or": [] })), bson!(false));
}

#[test]
fn and_or_cond_and_if_null_do_not_evaluate_what_they_do_not_need() {
    let boom = bson!({ "$divide": [1, 0] });
    assert_eq!(
        constant(bson!({ "$and": [false, (boom.clone())] })),
        bson!(false)
    );
    assert_eq!(
        constant(bson!({ "$or": [true, (boom.clone())] })),
        bson!(true)
    );
    assert_eq!(
        constant(bson!({ "$cond": [true, 1, (boom.clone())] })),
        bson!(1)
    );
    assert_eq!(
        constant(bson!({ "$ifNull": [1, (boom.clone())] })),
        bson!(1)
    );
    // …but an operand that is needed does raise its error.
    assert_error(
        bson!({ "$and": [true, (boom)] }),
        &Document::new(),
        "BadValue",
        "can't $divide by zero",
    );
}

#[test]
fn cond_in_both_forms() {
    let d = doc! { "qty": 250 };
    let array_form = bson!({ "$cond": [{ "$gte": ["$qty", 250] }, 30, 20] });
    let named_form = bson!({ "$cond": {
        "if": { "$gte": ["$qty", 250] }, "then": 30, "else": 20,
    } });
    assert_eq!(value(array_form.clone(), &d), bson!(30));
    assert_eq!(value(named_form.clone(), &d), bson!(30));
    let d = doc! { "qty": 100 };
    assert_eq!(value(array_form, &d), bson!(20));
    assert_eq!(value(named_form, &d), bson!(20));
    // The condition is truthiness, not a boolean.
    assert_eq!(
        constant(bson!({ "$cond": [[], "yes", "no"] })),
        bson!("yes")
    );
    assert_eq!(
        constant(bson!({ "$cond": ["$nope", "yes", "no"] })),
        bson!("no")
    );
    // A branch may be missing.
    assert_missing(bson!({ "$cond": [true, "$nope", 1] }), &d);
    assert_error(bson!({ "$cond": [true, 1] }), &d, "FailedToParse", "$cond");
}

#[test]
fn if_null_takes_any_number_of_candidates() {
    let d = doc! { "a": Bson::Null, "b": 0, "c": "x" };
    assert_eq!(
        value(bson!({ "$ifNull": ["$a", "$nope", "$b", "$c"] }), &d),
        bson!(0)
    );
    assert_eq!(
        value(bson!({ "$ifNull": ["$nope", "$a", "default"] }), &d),
        bson!("default")
    );
    // Only null and missing are replaced: false and "" are values.
    assert_eq!(value(bson!({ "$ifNull": [false, 1] }), &d), bson!(false));
    assert_eq!(value(bson!({ "$ifNull": ["$c", 1] }), &d), bson!("x"));
    // The replacement is returned as is, even when null.
    assert_eq!(value(bson!({ "$ifNull": ["$nope", "$a"] }), &d), Bson::Null);
}

#[test]
fn switch_takes_the_first_true_branch() {
    let grade = |score: i32| {
        value(
            bson!({ "$switch": {
                "branches": [
                    { "case": { "$gte": ["$score", 90] }, "then": "A" },
                    { "case": { "$gte": ["$score", 80] }, "then": "B" },
                ],
                "default": "C",
            } }),
            &doc! { "score": score },
        )
    };
    assert_eq!(grade(95), bson!("A"));
    assert_eq!(grade(85), bson!("B"));
    assert_eq!(grade(10), bson!("C"));
    // No match and no default is an error; no branches is a parse error.
    assert_error(
        bson!({ "$switch": { "branches": [{ "case": false, "then": 1 }] } }),
        &Document::new(),
        "BadValue",
        "$switch could not find a matching branch",
    );
    assert_error(
        bson!({ "$switch": { "branches": [] } }),
        &Document::new(),
        "FailedToParse",
        "branch",
    );
    assert_error(
        bson!({ "$switch": { "branches": [{ "case": true }] } }),
        &Document::new(),
        "FailedToParse",
        "then",
    );
}
