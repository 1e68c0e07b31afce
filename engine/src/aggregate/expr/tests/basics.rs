//! Field paths, missing values, variables, object and array expressions,
//! and the errors the parser reports.

use bson::doc;

use super::*;

#[test]
fn field_paths_walk_documents_and_map_over_arrays_of_documents() {
    let d = doc! {
        "a": { "b": { "c": 1 } },
        "arr": [{ "b": 1 }, { "b": [2, 3] }, { "c": 4 }, 5, [{ "b": 9 }]],
        "nums": [10, 20],
    };
    assert_eq!(value(bson!("$a.b.c"), &d), bson!(1));
    assert_eq!(value(bson!("$a.b"), &d), bson!({ "c": 1 }));
    // Documents without `b` are left out; scalars and nested arrays are
    // skipped (MongoDB's ExpressionFieldPath only descends into objects).
    assert_eq!(value(bson!("$arr.b"), &d), bson!([1, [2, 3]]));
    // Numeric components are field names in expressions, not indexes.
    assert_eq!(value(bson!("$nums.0"), &d), bson!([]));
    // A path through a scalar is missing.
    assert_missing(bson!("$a.b.c.d"), &d);
    assert_missing(bson!("$nope"), &d);
    assert_missing(bson!("$nope.deeper"), &d);
    // $$ROOT and $$CURRENT are the document.
    assert_eq!(value(bson!("$$ROOT.a.b.c"), &d), bson!(1));
    assert_eq!(value(bson!("$$CURRENT.nums"), &d), bson!([10, 20]));
    assert_eq!(value(bson!("$$ROOT"), &d), Bson::Document(d.clone()));
}

#[test]
fn missing_is_not_null() {
    let d = doc! { "n": Bson::Null };
    assert_eq!(value(bson!({ "$type": "$nope" }), &d), bson!("missing"));
    assert_eq!(value(bson!({ "$type": "$n" }), &d), bson!("null"));
    // Object expressions leave missing fields out, arrays turn them into null.
    assert_eq!(
        value(bson!({ "x": "$n", "y": "$nope", "z": 1 }), &d),
        bson!({ "x": Bson::Null, "z": 1 })
    );
    assert_eq!(
        value(bson!(["$nope", "$n"]), &d),
        bson!([Bson::Null, Bson::Null])
    );
    // $$REMOVE is missing on purpose.
    assert_missing(bson!("$$REMOVE"), &d);
    assert_eq!(value(bson!({ "$type": "$$REMOVE" }), &d), bson!("missing"));
    // Most operators treat missing like null.
    assert_eq!(value(bson!({ "$add": [1, "$nope"] }), &d), Bson::Null);
    assert_eq!(value(bson!({ "$toUpper": "$nope" }), &d), bson!(""));
}

#[test]
fn literals_and_dollar_strings() {
    assert_eq!(constant(bson!({ "$literal": "$a" })), bson!("$a"));
    assert_eq!(
        constant(bson!({ "$literal": { "$add": [1, 2] } })),
        bson!({ "$add": [1, 2] })
    );
    assert_eq!(constant(bson!("plain")), bson!("plain"));
    assert_eq!(constant(bson!({})), bson!({}));
    assert_eq!(
        constant(bson!({ "a": { "b": [1, { "$add": [1, 1] }] } })),
        bson!({ "a": { "b": [1, 2] } })
    );
}

#[test]
fn now_is_the_callers_clock_and_only_where_allowed() {
    assert_eq!(constant(bson!("$$NOW")), date(NOW));
    assert_eq!(constant(bson!({ "$year": "$$NOW" })), bson!(2023));
    // A plain filter has no clock: $$NOW is refused when parsing.
    let e = Expression::parse(&bson!("$$NOW")).unwrap_err();
    assert!(e.to_string().contains("$$NOW"), "{e}");
    let e = Expression::parse(&bson!({ "$add": ["$$NOW", 1] })).unwrap_err();
    assert!(e.to_string().contains("$$NOW"), "{e}");
}

#[test]
fn outside_variables_come_from_the_environment() {
    let scope = ParseScope::with_now(["limit".to_string()]);
    let e = Expression::parse_in(&bson!({ "$lt": ["$a", "$$limit"] }), &scope).unwrap();
    let env = Env::at(NOW).with_var("limit", bson!(5));
    assert_eq!(
        e.evaluate(&doc! { "a": 3 }, &env).unwrap(),
        Some(bson!(true))
    );
    assert_eq!(
        e.evaluate(&doc! { "a": 7 }, &env).unwrap(),
        Some(bson!(false))
    );
    // A path inside a variable.
    let e = Expression::parse_in(&bson!("$$limit.x"), &scope).unwrap();
    let env = Env::at(NOW).with_var("limit", bson!([{ "x": 1 }, { "x": 2 }]));
    assert_eq!(e.evaluate(&doc! {}, &env).unwrap(), Some(bson!([1, 2])));
}

#[test]
fn parse_errors_name_what_is_wrong() {
    let d = Document::new();
    assert_error(
        bson!({ "$frobnicate": 1 }),
        &d,
        "FailedToParse",
        "Unrecognized expression '$frobnicate'",
    );
    assert_error(bson!("$$x"), &d, "BadValue", "Use of undefined variable: x");
    assert_error(
        bson!({ "$map": { "input": [1], "in": "$$x" } }),
        &d,
        "BadValue",
        "Use of undefined variable: x",
    );
    assert_error(bson!({ "$divide": [1] }), &d, "FailedToParse", "$divide");
    assert_error(
        bson!({ "$divide": [1, 2, 3] }),
        &d,
        "FailedToParse",
        "$divide",
    );
    assert_error(bson!({ "$ifNull": ["$a"] }), &d, "FailedToParse", "$ifNull");
    assert_error(bson!({ "$size": [1, 2] }), &d, "FailedToParse", "$size");
    assert_error(
        bson!({ "$add": [1], "$subtract": [1, 2] }),
        &d,
        "FailedToParse",
        "exactly one field",
    );
    assert_error(bson!({ "a": 1, "$add": [1] }), &d, "FailedToParse", "$add");
    assert_error(bson!({ "a.b": 1 }), &d, "FailedToParse", "a.b");
    assert_error(bson!("$"), &d, "BadValue", "field path");
    assert_error(bson!("$a..b"), &d, "BadValue", "field path");
    assert_error(
        bson!({ "$cond": { "if": true, "then": 1 } }),
        &d,
        "FailedToParse",
        "else",
    );
    assert_error(
        bson!({ "$trim": { "input": "a", "bogus": 1 } }),
        &d,
        "FailedToParse",
        "bogus",
    );
    // User variable names start with a lowercase letter.
    assert_error(
        bson!({ "$let": { "vars": { "Upper": 1 }, "in": 1 } }),
        &d,
        "FailedToParse",
        "Upper",
    );
    assert_error(
        bson!({ "$let": { "vars": { "_under": 1 }, "in": 1 } }),
        &d,
        "FailedToParse",
        "_under",
    );
    assert_error(
        bson!({ "$let": { "vars": { "x": 1 } } }),
        &d,
        "FailedToParse",
        "in",
    );
    // Operators MongoDB has and this engine lacks are refused by name.
    assert_error(bson!({ "$rand": {} }), &d, "NotImplemented", "$rand");
    assert_error(
        bson!("$$CLUSTER_TIME"),
        &d,
        "NotImplemented",
        "CLUSTER_TIME",
    );
}

#[test]
fn let_binds_in_the_outer_scope() {
    let d = doc! { "price": 10, "qty": 3 };
    assert_eq!(
        value(
            bson!({ "$let": {
                "vars": { "total": { "$multiply": ["$price", "$qty"] }, "tax": 0.5 },
                "in": { "$multiply": ["$$total", "$$tax"] },
            } }),
            &d
        ),
        bson!(15.0)
    );
    // The bindings of one $let see the outer variables, not each other.
    assert_eq!(
        constant(bson!({ "$let": {
            "vars": { "a": 1 },
            "in": { "$let": { "vars": { "a": 2, "b": "$$a" }, "in": ["$$a", "$$b"] } },
        } })),
        bson!([2, 1])
    );
    // A variable bound to missing holds missing.
    assert_eq!(
        value(
            bson!({ "$let": { "vars": { "m": "$nope" }, "in": { "$type": "$$m" } } }),
            &d
        ),
        bson!("missing")
    );
    assert_missing(
        bson!({ "$let": { "vars": { "m": "$nope" }, "in": "$$m.x" } }),
        &d,
    );
}

#[test]
fn map_filter_and_reduce() {
    let d = doc! { "xs": [1, 2, 3, 4], "words": ["a", "b", "c"], "n": Bson::Null };
    assert_eq!(
        value(
            bson!({ "$map": { "input": "$xs", "as": "x", "in": { "$multiply": ["$$x", 10] } } }),
            &d
        ),
        bson!([10, 20, 30, 40])
    );
    // The default variable is $$this; a missing result becomes null.
    assert_eq!(
        value(
            bson!({ "$map": { "input": [{ "a": 1 }, {}], "in": "$$this.a" } }),
            &d
        ),
        bson!([1, Bson::Null])
    );
    assert_eq!(
        value(bson!({ "$map": { "input": "$nope", "in": 1 } }), &d),
        Bson::Null
    );
    assert_error(
        bson!({ "$map": { "input": 5, "in": 1 } }),
        &d,
        "TypeMismatch",
        "input to $map must be an array",
    );

    assert_eq!(
        value(
            bson!({ "$filter": { "input": "$xs", "as": "x", "cond": { "$gte": ["$$x", 2] } } }),
            &d
        ),
        bson!([2, 3, 4])
    );
    assert_eq!(
        value(
            bson!({ "$filter": { "input": "$xs", "cond": { "$gte": ["$$this", 2] }, "limit": 2 } }),
            &d
        ),
        bson!([2, 3])
    );
    // A null limit means no limit; zero or negative limits are errors.
    assert_eq!(
        value(
            bson!({ "$filter": { "input": "$xs", "cond": true, "limit": Bson::Null } }),
            &d
        ),
        bson!([1, 2, 3, 4])
    );
    assert_error(
        bson!({ "$filter": { "input": "$xs", "cond": true, "limit": 0 } }),
        &d,
        "BadValue",
        "limit",
    );
    assert_eq!(
        value(bson!({ "$filter": { "input": "$n", "cond": true } }), &d),
        Bson::Null
    );

    assert_eq!(
        value(
            bson!({ "$reduce": {
                "input": "$xs",
                "initialValue": 0,
                "in": { "$add": ["$$value", "$$this"] },
            } }),
            &d
        ),
        bson!(10)
    );
    assert_eq!(
        value(
            bson!({ "$reduce": {
                "input": "$words",
                "initialValue": "",
                "in": { "$concat": ["$$value", "$$this"] },
            } }),
            &d
        ),
        bson!("abc")
    );
    assert_eq!(
        value(
            bson!({ "$reduce": { "input": [], "initialValue": { "sum": 0 }, "in": 1 } }),
            &d
        ),
        bson!({ "sum": 0 })
    );
    assert_eq!(
        value(
            bson!({ "$reduce": { "input": "$nope", "initialValue": 0, "in": 1 } }),
            &d
        ),
        Bson::Null
    );
    // The accumulated value may be missing.
    assert_missing(
        bson!({ "$reduce": { "input": [], "initialValue": "$nope", "in": 1 } }),
        &d,
    );
}

#[test]
fn hostile_expressions_stop_with_an_error_not_a_crash() {
    let d = doc! {};
    // Nesting an array 200,000 deep would overflow the stack on clone/drop.
    let nest = bson!({ "$reduce": { "input": { "$range": [0, 200_000] }, "initialValue": [], "in": ["$$value"] } });
    assert_error(nest, &d, "BadValue", "nested deeper than 100 levels");
    // Doubling an array 40 times would need 2^40 elements.
    let double = bson!({ "$reduce": { "input": { "$range": [0, 40] }, "initialValue": [1], "in": { "$concatArrays": ["$$value", "$$value"] } } });
    assert_error(double, &d, "BadValue", "work limit");
    // Doubling a string runs into the string limit or the work limit.
    let text = bson!({ "$reduce": { "input": { "$range": [0, 40] }, "initialValue": "ab", "in": { "$concat": ["$$value", "$$value"] } } });
    let e = error(text, &d).to_string();
    assert!(e.contains("work limit") || e.contains("bytes"), "{e}");
    // Ordinary work stays well inside the budget.
    let sum = bson!({ "$reduce": { "input": { "$range": [0, 100_000] }, "initialValue": 0, "in": { "$add": ["$$value", "$$this"] } } });
    assert_eq!(value(sum, &d), bson!(4_999_950_000_i64));
}

#[test]
fn dates_at_the_edge_of_the_range_are_errors_not_overflows() {
    let d = doc! { "d": Bson::DateTime(bson::DateTime::from_millis(i64::MAX)) };
    assert_error(
        bson!({ "$hour": { "date": "$d", "timezone": "+01:00" } }),
        &d,
        "BadValue",
        "out of range",
    );
}
