//! `$slice`, `$elemMatch` and the positional `$`.

use super::*;
use bson::{bson, doc};

// ----- $slice -------------------------------------------------------------------

fn slice_doc() -> Document {
    doc! {"_id": 1, "a": [0, 1, 2, 3, 4, 5, -5, -4, -3, -2, -1], "b": 1, "c": 1}
}

#[test]
fn slice_alone_keeps_every_other_field() {
    assert_eq!(
        project(doc! {"a": {"$slice": 3}}, slice_doc()),
        doc! {"_id": 1, "a": [0, 1, 2], "b": 1, "c": 1}
    );
    assert_eq!(
        project(doc! {"a": {"$slice": -3}}, slice_doc()).get("a"),
        Some(&bson!([-3, -2, -1]))
    );
    assert_eq!(
        project(doc! {"a": {"$slice": [2, 3]}}, slice_doc()).get("a"),
        Some(&bson!([2, 3, 4]))
    );
    assert_eq!(
        project(doc! {"a": {"$slice": [-5, 4]}}, slice_doc()).get("a"),
        Some(&bson!([-5, -4, -3, -2]))
    );
    assert_eq!(
        project(doc! {"a": {"$slice": 2.9}}, slice_doc()).get("a"),
        Some(&bson!([0, 1]))
    );
}

#[test]
fn slice_with_inclusion_or_exclusion() {
    assert_eq!(
        project(doc! {"a": {"$slice": 3}, "b": true}, slice_doc()),
        doc! {"_id": 1, "a": [0, 1, 2], "b": 1}
    );
    assert_eq!(
        project(doc! {"a": {"$slice": 3}, "b": false}, slice_doc()),
        doc! {"_id": 1, "a": [0, 1, 2], "c": 1}
    );
    assert_eq!(
        project(doc! {"_id": 1, "a": {"$slice": [1, 1]}}, slice_doc()),
        doc! {"_id": 1, "a": [1]}
    );
    assert_eq!(
        project(doc! {"_id": 0, "a": {"$slice": [1, 1]}}, slice_doc()),
        doc! {"a": [1], "b": 1, "c": 1}
    );
}

#[test]
fn slice_of_a_non_array_keeps_the_value() {
    assert_eq!(
        project(doc! {"a": {"$slice": 1}}, doc! {"a": {"c": 123}}),
        doc! {"a": {"c": 123}}
    );
    assert_eq!(
        project(
            doc! {"a": {"$slice": 1}, "d": 1},
            doc! {"a": {"c": 1}, "d": 4}
        ),
        doc! {"a": {"c": 1}, "d": 4}
    );
    assert_eq!(
        project(doc! {"a": {"$slice": 1}, "d": 1}, doc! {"b": 1, "d": 4}),
        doc! {"d": 4}
    );
    assert_eq!(
        project(doc! {"a": {"$slice": 1}, "d": 0}, doc! {"b": 1, "d": 4}),
        doc! {"b": 1}
    );
}

#[test]
fn slice_goes_one_array_level_per_component() {
    let docs = [
        (
            doc! {"_id": 1, "a": {"b": [1, 2, 3]}},
            doc! {"_id": 1, "a": {"b": [2]}},
        ),
        (
            doc! {"_id": 2, "a": [{"b": [1, 2, 3]}]},
            doc! {"_id": 2, "a": [{"b": [2]}]},
        ),
        (
            doc! {"_id": 3, "a": [[{"b": [1, 2, 3]}]]},
            doc! {"_id": 3, "a": [[{"b": [1, 2, 3]}]]},
        ),
        (
            doc! {"_id": 4, "a": [[{"b": [1, 2, 3]}], {"b": [1, 2, 3]}, 1, null, {}]},
            doc! {"_id": 4, "a": [[{"b": [1, 2, 3]}], {"b": [2]}, 1, null, {}]},
        ),
    ];
    for (input, expected) in docs {
        assert_eq!(
            project(doc! {"a": {"b": {"$slice": [1, 1]}}}, input),
            expected
        );
    }
    assert_eq!(
        project(
            doc! {"a.b.c.d.e": {"$slice": [1, 1]}, "_id": 0},
            doc! {"a": [{"b": [{"c": [{"d": [{"e": [1, 2, 3]}]}]}]}]}
        ),
        doc! {"a": [{"b": [{"c": [{"d": [{"e": [2]}]}]}]}]}
    );
}

#[test]
fn slice_in_inclusion_filters_deep_arrays_without_slicing_them() {
    let input = doc! {"a": [
        {"b": {"c": [1, 2, 3], "d": 123, "x": 0}},
        [{"b": {"c": [1, 2, 3], "d": 123}}, {"b": {"c": [4, 5, 6], "d": 456}}],
        {"b": [{"c": [1, 2, 3], "d": 123}, {"c": [4, 5, 6], "d": 456}]},
        {"b": [[{"c": [1, 2, 3], "d": 123}], [{"c": [4, 5, 6], "d": 456}]]}
    ]};
    let expected_including_d = doc! {"a": [
        {"b": {"c": [2], "d": 123}},
        [{"b": {"c": [1, 2, 3], "d": 123}}, {"b": {"c": [4, 5, 6], "d": 456}}],
        {"b": [{"c": [2], "d": 123}, {"c": [5], "d": 456}]},
        {"b": [[{"c": [1, 2, 3], "d": 123}], [{"c": [4, 5, 6], "d": 456}]]}
    ]};
    assert_eq!(
        project(
            doc! {"_id": 0, "a": {"b": {"c": {"$slice": [1, 1]}, "d": 1}}},
            input.clone()
        ),
        expected_including_d
    );
    let expected_excluding_d = doc! {"a": [
        {"b": {"c": [2], "x": 0}},
        [{"b": {"c": [1, 2, 3]}}, {"b": {"c": [4, 5, 6]}}],
        {"b": [{"c": [2]}, {"c": [5]}]},
        {"b": [[{"c": [1, 2, 3]}], [{"c": [4, 5, 6]}]]}
    ]};
    assert_eq!(
        project(
            doc! {"_id": 0, "a": {"b": {"c": {"$slice": [1, 1]}, "d": 0}}},
            input
        ),
        expected_excluding_d
    );
    assert_eq!(
        project(
            doc! {"e": 1, "a.b": {"$slice": 1}, "_id": 0},
            doc! {"e": 1, "a": [[[{"b": [1, 2, 3], "d": 4}]]]}
        ),
        doc! {"e": 1, "a": [[[{"b": [1, 2, 3]}]]]}
    );
}

#[test]
fn slice_argument_errors() {
    assert!(
        parse_msg(doc! {"a": {"$slice": "x"}})
            .starts_with("$slice only supports numbers and [skip, limit] arrays")
    );
    assert!(
        parse_msg(doc! {"a": {"$slice": [1]}})
            .starts_with("$slice array argument should be of form [skip, limit]")
    );
    assert!(
        parse_msg(doc! {"a": {"$slice": [1, 0]}})
            .starts_with("$slice limit must be positive, got 0")
    );
    assert!(
        parse_msg(doc! {"a": {"$slice": [1, -2]}})
            .starts_with("$slice limit must be positive, got -2")
    );
}

// ----- $elemMatch ---------------------------------------------------------------

fn parts_doc() -> Document {
    doc! {
        "_id": 1, "name": "lamp",
        "parts": [{"pn": "bulb", "n": 1}, {"pn": "cord", "n": 2}, {"pn": "plug", "n": 3}],
        "hist": [1, 2, 3, 4, 5], "joined": 7
    }
}

#[test]
fn elem_match_keeps_the_first_matching_element_and_acts_as_inclusion() {
    assert_eq!(
        project(
            doc! {"parts": {"$elemMatch": {"n": {"$gte": 2}}}},
            parts_doc()
        ),
        doc! {"_id": 1, "parts": [{"pn": "cord", "n": 2}]}
    );
    // Scalars match operator conditions.
    assert_eq!(
        project(
            doc! {"hist": {"$elemMatch": {"$gt": 3}}, "_id": 0},
            parts_doc()
        ),
        doc! {"hist": [4]}
    );
    // No match, a non-array or a missing field: the field is left out.
    let none = doc! {"parts": {"$elemMatch": {"n": 9}}, "name": 1};
    assert_eq!(project(none, parts_doc()), doc! {"_id": 1, "name": "lamp"});
    assert_eq!(
        project(doc! {"name": {"$elemMatch": {"$eq": "lamp"}}}, parts_doc()),
        doc! {"_id": 1}
    );
    assert_eq!(
        project(doc! {"zz": {"$elemMatch": {"a": 1}}}, parts_doc()),
        doc! {"_id": 1}
    );
}

#[test]
fn elem_match_field_comes_after_the_included_fields() {
    let out = project(
        doc! {"parts": {"$elemMatch": {"pn": "plug"}}, "joined": 1, "name": 1},
        parts_doc(),
    );
    assert_eq!(
        out.keys().collect::<Vec<_>>(),
        vec!["_id", "name", "joined", "parts"]
    );
    assert_eq!(out.get("parts"), Some(&bson!([{"pn": "plug", "n": 3}])));
}

#[test]
fn elem_match_in_an_exclusion_projection() {
    let out = project(
        doc! {"hist": 0, "parts": {"$elemMatch": {"n": 1}}},
        parts_doc(),
    );
    assert_eq!(
        out,
        doc! {"_id": 1, "name": "lamp", "joined": 7, "parts": [{"pn": "bulb", "n": 1}]}
    );
}

#[test]
fn elem_match_errors() {
    assert!(
        parse_msg(doc! {"a.b": {"$elemMatch": {"x": 1}}})
            .starts_with("Cannot use $elemMatch projection on a nested field")
    );
    assert!(
        parse_msg(doc! {"a": {"b": {"$elemMatch": {"x": 1}}}})
            .starts_with("Cannot use $elemMatch projection on a nested field")
    );
    assert!(
        parse_msg(doc! {"a": {"$elemMatch": 1}})
            .starts_with("elemMatch: Invalid argument, object required")
    );
    assert!(
        parse_err(doc! {"a": {"$elemMatch": {"x": {"$bogus": 1}}}})
            .to_string()
            .contains("$bogus")
    );
    assert_eq!(
        parse_msg(doc! {"a.$": 1, "b": {"$elemMatch": {"x": 1}}}),
        "Cannot specify positional operator and $elemMatch."
    );
    assert_eq!(
        parse_msg(doc! {"b": {"$elemMatch": {"x": 1}}, "a.$": 1}),
        "Cannot specify positional operator and $elemMatch."
    );
}

// ----- positional $ --------------------------------------------------------------

#[test]
fn positional_keeps_the_element_the_query_matched() {
    let input =
        doc! {"_id": 1, "x": [{"a": 1, "b": 2}, {"a": 2, "c": 3}, {"a": 1, "d": 5}], "y": [1]};
    assert_eq!(
        find_one(doc! {"x.a": 2}, doc! {"x.$": 1}, input.clone()).unwrap(),
        doc! {"_id": 1, "x": [{"a": 2, "c": 3}]}
    );
    assert_eq!(
        find_one(doc! {"x.a": 1}, doc! {"x.$": 1, "_id": 0}, input.clone()).unwrap(),
        doc! {"x": [{"a": 1, "b": 2}]}
    );
    let hist = doc! {"_id": 2, "hist": [9, 8]};
    assert_eq!(
        find_one(doc! {"hist": {"$gte": 4}}, doc! {"hist.$": 1}, hist).unwrap(),
        doc! {"_id": 2, "hist": [9]}
    );
    let nested = doc! {"x": {"y": [{"a": 1, "b": 1}, {"a": 1, "b": 2}]}};
    assert_eq!(
        find_one(doc! {"x.y.a": 1}, doc! {"x.y.$": 1}, nested).unwrap(),
        doc! {"x": {"y": [{"a": 1, "b": 1}]}}
    );
    let elem = doc! {"x": [1, 2, 3]};
    assert_eq!(
        find_one(
            doc! {"x": {"$elemMatch": {"$gt": 1, "$lt": 3}}},
            doc! {"x.$": 1},
            elem
        )
        .unwrap(),
        doc! {"x": [2]}
    );
}

#[test]
fn positional_uses_the_first_array_on_its_path() {
    let input = doc! {"x": {"y": {"z": [0, 1, 2]}}, "a": [{"b": {"c": [1, 2, 3]}}, {"b": {"c": [4, 5, 6]}}]};
    assert_eq!(
        find_one(doc! {"x.y.z": 1}, doc! {"a.b.c.$": 1}, input).unwrap(),
        doc! {"a": [{"b": {"c": [4, 5, 6]}}]}
    );
    let input = doc! {"x": {"y": {"z": [0, 1, 2]}}, "a": {"b": {"c": [1, 2, 3]}}};
    assert_eq!(
        find_one(doc! {"x.y.z": 1}, doc! {"a.b.c.$": 1}, input).unwrap(),
        doc! {"a": {"b": {"c": [2]}}}
    );
}

#[test]
fn positional_without_an_array_keeps_the_inclusion() {
    let input = doc! {"x": [-1, 1, 2], "a": {"b": {"c": {"d": {"e": 1}}}}};
    assert_eq!(
        find_one(doc! {"x": {"$gt": 0}}, doc! {"a.b.c.$": 1}, input).unwrap(),
        doc! {"a": {"b": {"c": {"d": {"e": 1}}}}}
    );
    let input = doc! {"x": [-1, 1, 2], "a": {"b": {"d": [1, 2], "f": 456}, "e": 123}};
    assert_eq!(
        find_one(doc! {"x": {"$gt": 0}}, doc! {"a.b.c.$": 1}, input).unwrap(),
        doc! {"a": {"b": {}}}
    );
    assert_eq!(
        find_one(doc! {"x": 1}, doc! {"a.$": 1}, doc! {"x": 1}).unwrap(),
        doc! {}
    );
    assert_eq!(
        find_one(doc! {}, doc! {"g.$": 1}, doc! {"x": [1]}).unwrap(),
        doc! {}
    );
}

#[test]
fn positional_errors_at_run_time() {
    let err = find_one(doc! {}, doc! {"x.$": 1}, doc! {"x": [1, 2]}).unwrap_err();
    assert_eq!(
        err.to_string(),
        "positional operator '.$' couldn't find a matching element in the array"
    );
    let err = find_one(
        doc! {"b": [4, 5, 6]},
        doc! {"c.$": 1},
        doc! {"b": [4, 5, 6], "c": [7, 8, 9]},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("couldn't find a matching element"),
        "{err}"
    );
    // The match position is past the end of the projected array.
    let p = Projection::parse(&doc! {"v.$": 1}).unwrap();
    let err = p.apply(&doc! {"v": [1]}, Some(3)).unwrap_err();
    assert_eq!(err.to_string(), "positional operator '.$' element mismatch");
}

#[test]
fn positional_parse_errors() {
    let p = Projection::parse(&doc! {"x.$": 1}).unwrap();
    assert!(p.uses_positional());
    assert_eq!(
        parse_msg(doc! {"x.$": 1, "y.$": 1}),
        "Cannot specify more than one positional projection per query."
    );
    assert!(
        parse_msg(doc! {"x.$": 1, "y": 0})
            .starts_with("Cannot do exclusion on field y in inclusion projection")
    );
    assert!(
        parse_msg(doc! {"v.$": 0})
            .starts_with("positional projection cannot be used with exclusion")
    );
    assert!(
        parse_msg(doc! {"x.$": {"$slice": 1}})
            .starts_with("positional projection cannot be used with an expression or sub object")
    );
    assert!(
        parse_msg(doc! {"x.$": "lit"})
            .starts_with("positional projection cannot be used with a literal")
    );
    assert!(parse_msg(doc! {"v.$.foo": 1}).starts_with(
        "As of 4.4, it's illegal to specify positional operator in the middle of a path"
    ));
    assert!(parse_msg(doc! {"$.foo.$": 1}).contains("may not start with '$'"));
    assert!(parse_msg(doc! {"$": 1}).contains("may not start with '$'"));
    assert!(parse_msg(doc! {"v..$": 1}).contains("must not end with a '.'"));
    assert!(parse_msg(doc! {"x.$": 1, "x": 1}).starts_with("Path collision at x"));
}

// ----- robustness ------------------------------------------------------------------

#[test]
fn deeply_nested_sub_projections_are_refused() {
    let mut spec = doc! {"z": 1};
    for _ in 0..150 {
        spec = doc! {"n": spec};
    }
    assert!(parse_msg(spec).contains("nested more than"));
}
