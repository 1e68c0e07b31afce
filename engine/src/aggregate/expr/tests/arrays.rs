//! Array, set and object operators.

use bson::doc;

use super::*;

fn xs() -> Document {
    doc! { "xs": [1, 2, 3, 4, 5], "empty": [], "n": Bson::Null, "five": 5 }
}

#[test]
fn array_elem_at_first_last() {
    let d = xs();
    assert_eq!(value(bson!({ "$arrayElemAt": ["$xs", 0] }), &d), bson!(1));
    assert_eq!(value(bson!({ "$arrayElemAt": ["$xs", -1] }), &d), bson!(5));
    assert_eq!(value(bson!({ "$arrayElemAt": ["$xs", -5] }), &d), bson!(1));
    assert_eq!(
        value(bson!({ "$arrayElemAt": ["$xs", (Bson::Int64(1))] }), &d),
        bson!(2)
    );
    // Out of range, either way, is missing (not null).
    assert_missing(bson!({ "$arrayElemAt": ["$xs", 5] }), &d);
    assert_missing(bson!({ "$arrayElemAt": ["$xs", -6] }), &d);
    assert_eq!(value(bson!({ "$arrayElemAt": ["$n", 0] }), &d), Bson::Null);
    assert_eq!(
        value(bson!({ "$arrayElemAt": ["$xs", "$nope"] }), &d),
        Bson::Null
    );
    assert_error(
        bson!({ "$arrayElemAt": ["$five", 0] }),
        &d,
        "TypeMismatch",
        "$arrayElemAt",
    );
    assert_error(
        bson!({ "$arrayElemAt": ["$xs", 1.5] }),
        &d,
        "BadValue",
        "$arrayElemAt",
    );
    assert_eq!(value(bson!({ "$first": "$xs" }), &d), bson!(1));
    assert_eq!(value(bson!({ "$last": "$xs" }), &d), bson!(5));
    assert_missing(bson!({ "$first": "$empty" }), &d);
    assert_eq!(value(bson!({ "$last": "$nope" }), &d), Bson::Null);
}

#[test]
fn slice_in_both_forms() {
    let d = xs();
    assert_eq!(value(bson!({ "$slice": ["$xs", 2] }), &d), bson!([1, 2]));
    assert_eq!(value(bson!({ "$slice": ["$xs", -2] }), &d), bson!([4, 5]));
    assert_eq!(
        value(bson!({ "$slice": ["$xs", 10] }), &d),
        bson!([1, 2, 3, 4, 5])
    );
    assert_eq!(
        value(bson!({ "$slice": ["$xs", -10] }), &d),
        bson!([1, 2, 3, 4, 5])
    );
    assert_eq!(value(bson!({ "$slice": ["$xs", 1, 2] }), &d), bson!([2, 3]));
    assert_eq!(value(bson!({ "$slice": ["$xs", -2, 1] }), &d), bson!([4]));
    assert_eq!(value(bson!({ "$slice": ["$xs", 10, 2] }), &d), bson!([]));
    assert_eq!(
        value(bson!({ "$slice": ["$xs", -10, 2] }), &d),
        bson!([1, 2])
    );
    assert_eq!(value(bson!({ "$slice": ["$n", 1] }), &d), Bson::Null);
    assert_error(
        bson!({ "$slice": ["$xs", 1, 0] }),
        &d,
        "BadValue",
        "positive",
    );
    assert_error(
        bson!({ "$slice": ["$five", 1] }),
        &d,
        "TypeMismatch",
        "$slice",
    );
}

#[test]
fn in_and_index_of_array() {
    let d = xs();
    assert_eq!(value(bson!({ "$in": [2, "$xs"] }), &d), bson!(true));
    assert_eq!(value(bson!({ "$in": [2.0, "$xs"] }), &d), bson!(true));
    assert_eq!(value(bson!({ "$in": ["2", "$xs"] }), &d), bson!(false));
    assert_eq!(value(bson!({ "$in": [[1], [[1], 2]] }), &d), bson!(true));
    // Missing is not null.
    assert_eq!(
        value(bson!({ "$in": ["$nope", [Bson::Null]] }), &d),
        bson!(false)
    );
    assert_eq!(
        value(bson!({ "$in": ["$n", [Bson::Null]] }), &d),
        bson!(true)
    );
    assert_error(
        bson!({ "$in": [1, "$nope"] }),
        &d,
        "TypeMismatch",
        "$in requires an array as a second argument, found: missing",
    );
    assert_eq!(
        value(bson!({ "$indexOfArray": [[1, 2, 3, 2], 2] }), &d),
        bson!(1)
    );
    assert_eq!(
        value(bson!({ "$indexOfArray": [[1, 2, 3, 2], 2, 2] }), &d),
        bson!(3)
    );
    assert_eq!(
        value(bson!({ "$indexOfArray": [[1, 2, 3, 2], 2, 2, 3] }), &d),
        bson!(-1)
    );
    assert_eq!(value(bson!({ "$indexOfArray": ["$xs", 9] }), &d), bson!(-1));
    assert_eq!(value(bson!({ "$indexOfArray": ["$n", 1] }), &d), Bson::Null);
}

#[test]
fn range() {
    assert_eq!(
        constant(bson!({ "$range": [0, 5] })),
        bson!([0, 1, 2, 3, 4])
    );
    assert_eq!(
        constant(bson!({ "$range": [0, 10, 3] })),
        bson!([0, 3, 6, 9])
    );
    assert_eq!(constant(bson!({ "$range": [5, 0, -2] })), bson!([5, 3, 1]));
    assert_eq!(constant(bson!({ "$range": [5, 0] })), bson!([]));
    assert_eq!(
        constant(bson!({ "$range": [(Bson::Int64(1)), 3.0] })),
        bson!([1, 2])
    );
    assert_error(
        bson!({ "$range": [0, 5, 0] }),
        &Document::new(),
        "BadValue",
        "step",
    );
    assert_error(
        bson!({ "$range": [0, 1.5] }),
        &Document::new(),
        "BadValue",
        "$range",
    );
    assert_error(
        bson!({ "$range": ["a", 2] }),
        &Document::new(),
        "TypeMismatch",
        "$range",
    );
}

#[test]
fn concat_reverse_size_is_array() {
    let d = xs();
    assert_eq!(
        value(bson!({ "$concatArrays": [[1], [2, 3], []] }), &d),
        bson!([1, 2, 3])
    );
    assert_eq!(
        value(bson!({ "$concatArrays": [[1], "$nope"] }), &d),
        Bson::Null
    );
    assert_eq!(
        value(bson!({ "$reverseArray": "$xs" }), &d),
        bson!([5, 4, 3, 2, 1])
    );
    assert_eq!(value(bson!({ "$reverseArray": "$n" }), &d), Bson::Null);
    assert_eq!(value(bson!({ "$size": "$xs" }), &d), bson!(5));
    assert_eq!(value(bson!({ "$size": ["$empty"] }), &d), bson!(0));
    assert_error(
        bson!({ "$size": "$five" }),
        &d,
        "TypeMismatch",
        "The argument to $size must be an array. Type of argument: int",
    );
    assert_error(
        bson!({ "$size": "$nope" }),
        &d,
        "TypeMismatch",
        "The argument to $size must be an array. Type of argument: missing",
    );
    assert_eq!(value(bson!({ "$isArray": ["$xs"] }), &d), bson!(true));
    assert_eq!(value(bson!({ "$isArray": "$five" }), &d), bson!(false));
    assert_eq!(value(bson!({ "$isArray": "$nope" }), &d), bson!(false));
}

#[test]
fn set_operators() {
    let d = xs();
    assert_eq!(
        sorted(value(bson!({ "$setUnion": [[1, 2, 2], [3, 1.0]] }), &d)),
        bson!([1, 2, 3])
    );
    assert_eq!(
        sorted(value(
            bson!({ "$setIntersection": [[1, 2, 3], [2, 3, 4], [3, 2]] }),
            &d
        )),
        bson!([2, 3])
    );
    assert_eq!(
        sorted(value(bson!({ "$setDifference": [[1, 2, 3, 1], [2]] }), &d)),
        bson!([1, 3])
    );
    assert_eq!(
        value(bson!({ "$setEquals": [[1, 2], [2, 1, 1], [1.0, 2]] }), &d),
        bson!(true)
    );
    assert_eq!(
        value(bson!({ "$setEquals": [[1, 2], [1]] }), &d),
        bson!(false)
    );
    assert_eq!(
        value(bson!({ "$setIsSubset": [[1], [1, 2]] }), &d),
        bson!(true)
    );
    assert_eq!(
        value(bson!({ "$setIsSubset": [[1, 3], [1, 2]] }), &d),
        bson!(false)
    );
    // Null or missing operands make union, intersection and difference null …
    assert_eq!(
        value(bson!({ "$setUnion": [[1], "$nope"] }), &d),
        Bson::Null
    );
    assert_eq!(
        value(bson!({ "$setIntersection": ["$n", [1]] }), &d),
        Bson::Null
    );
    assert_eq!(
        value(bson!({ "$setDifference": [[1], "$n"] }), &d),
        Bson::Null
    );
    // … and are errors for the predicates.
    assert_error(
        bson!({ "$setEquals": [[1], "$n"] }),
        &d,
        "TypeMismatch",
        "$setEquals",
    );
    assert_error(
        bson!({ "$setIsSubset": ["$n", [1]] }),
        &d,
        "TypeMismatch",
        "$setIsSubset",
    );
    assert_eq!(
        value(bson!({ "$allElementsTrue": [[1, true, "a", []]] }), &d),
        bson!(true)
    );
    assert_eq!(
        value(bson!({ "$allElementsTrue": [[1, 0]] }), &d),
        bson!(false)
    );
    assert_eq!(value(bson!({ "$allElementsTrue": [[]] }), &d), bson!(true));
    assert_eq!(
        value(bson!({ "$anyElementTrue": [[0, Bson::Null, false]] }), &d),
        bson!(false)
    );
    assert_eq!(
        value(bson!({ "$anyElementTrue": [[0, 2]] }), &d),
        bson!(true)
    );
    assert_error(
        bson!({ "$anyElementTrue": "$five" }),
        &d,
        "TypeMismatch",
        "$anyElementTrue",
    );
}

#[test]
fn objects_and_arrays_convert_both_ways() {
    let d = doc! { "o": { "a": 1, "b": { "c": 2 } } };
    assert_eq!(
        value(bson!({ "$objectToArray": "$o" }), &d),
        bson!([{ "k": "a", "v": 1 }, { "k": "b", "v": { "c": 2 } }])
    );
    assert_eq!(
        value(bson!({ "$arrayToObject": [[["x", 1], ["y", 2]]] }), &d),
        bson!({ "x": 1, "y": 2 })
    );
    assert_eq!(
        value(
            bson!({ "$arrayToObject": [[{ "k": "x", "v": 1 }, { "k": "x", "v": 2 }]] }),
            &d
        ),
        bson!({ "x": 2 })
    );
    assert_eq!(
        value(bson!({ "$arrayToObject": { "$objectToArray": "$o" } }), &d),
        bson!({ "a": 1, "b": { "c": 2 } })
    );
    assert_eq!(value(bson!({ "$objectToArray": "$nope" }), &d), Bson::Null);
    assert_error(
        bson!({ "$arrayToObject": [[[1, 2]]] }),
        &d,
        "TypeMismatch",
        "$arrayToObject",
    );
    assert_error(
        bson!({ "$objectToArray": 5 }),
        &d,
        "TypeMismatch",
        "$objectToArray",
    );
}

#[test]
fn merge_objects_and_get_field() {
    let d = doc! { "a": { "x": 1, "y": 1 }, "b": { "y": 2 }, "n": Bson::Null };
    assert_eq!(
        value(bson!({ "$mergeObjects": ["$a", "$b", "$n", "$nope"] }), &d),
        bson!({ "x": 1, "y": 2 })
    );
    assert_eq!(
        value(bson!({ "$mergeObjects": [[{ "a": 1 }, { "b": 2 }]] }), &d),
        bson!({ "a": 1, "b": 2 })
    );
    assert_eq!(value(bson!({ "$mergeObjects": "$nope" }), &d), bson!({}));
    assert_error(
        bson!({ "$mergeObjects": ["$a", 5] }),
        &d,
        "TypeMismatch",
        "$mergeObjects",
    );
    // $getField reads names that field paths cannot (dots, dollars).
    let d = doc! { "a.b": 1, "$price": 2, "a": { "b": 3 } };
    assert_eq!(value(bson!({ "$getField": "a.b" }), &d), bson!(1));
    assert_eq!(
        value(
            bson!({ "$getField": { "field": { "$literal": "$price" }, "input": "$$ROOT" } }),
            &d
        ),
        bson!(2)
    );
    assert_eq!(
        value(bson!({ "$getField": { "field": "a.b" } }), &d),
        bson!(1)
    );
    assert_error(
        bson!({ "$getField": { "field": "$price" } }),
        &d,
        "FailedToParse",
        "constant string",
    );
    assert_eq!(
        value(bson!({ "$getField": { "field": "b", "input": "$a" } }), &d),
        bson!(3)
    );
    assert_missing(bson!({ "$getField": { "field": "zz", "input": "$a" } }), &d);
    assert_eq!(
        value(
            bson!({ "$getField": { "field": "b", "input": "$nope" } }),
            &d
        ),
        Bson::Null
    );
}

#[test]
fn sort_array() {
    assert_eq!(
        constant(bson!({ "$sortArray": { "input": [3, 1, "a", 2], "sortBy": 1 } })),
        bson!([1, 2, 3, "a"])
    );
    assert_eq!(
        constant(bson!({ "$sortArray": { "input": [3, 1, 2], "sortBy": -1 } })),
        bson!([3, 2, 1])
    );
    assert_eq!(
        constant(bson!({ "$sortArray": {
            "input": [{ "n": "b", "age": 3 }, { "n": "a", "age": 1 }, { "n": "c", "age": 2 }],
            "sortBy": { "age": -1 },
        } })),
        bson!([{ "n": "b", "age": 3 }, { "n": "c", "age": 2 }, { "n": "a", "age": 1 }])
    );
    assert_eq!(
        constant(bson!({ "$sortArray": { "input": Bson::Null, "sortBy": 1 } })),
        Bson::Null
    );
}
