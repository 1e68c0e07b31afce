//! Projection tests. Expected documents follow MongoDB 6/7 (its manual and
//! its own projection test suite); comparisons are order-sensitive where
//! MongoDB's field order is specified.

use super::*;
use crate::Error;
use crate::query::Filter;
use bson::{Bson, bson, doc};

fn project(spec: Document, input: Document) -> Document {
    Projection::parse(&spec)
        .unwrap()
        .apply(&input, None)
        .unwrap()
}

/// Projects like find: the position comes from the filter's match details.
fn find_one(filter: Document, spec: Document, input: Document) -> Result<Document> {
    let filter = Filter::parse(&filter).unwrap();
    let details = filter
        .match_details(&input)
        .expect("the filter matches the input");
    Projection::parse(&spec)?.apply(&input, details.array_position)
}

fn parse_err(spec: Document) -> Error {
    Projection::parse(&spec).unwrap_err()
}

fn parse_msg(spec: Document) -> String {
    parse_err(spec).to_string()
}

// ----- inclusion and exclusion -------------------------------------------

#[test]
fn inclusion_keeps_named_fields_and_id_in_document_order() {
    let input = doc! {"_id": 1, "b": 2, "a": 1, "c": 3};
    let out = project(doc! {"a": 1, "b": true}, input.clone());
    assert_eq!(out, doc! {"_id": 1, "b": 2, "a": 1});
    let keys: Vec<&String> = out.keys().collect();
    assert_eq!(
        keys,
        vec!["_id", "b", "a"],
        "document order, not projection order"
    );
    // Any non-zero number includes.
    assert_eq!(
        project(doc! {"a": -2.5, "_id": 0}, input.clone()),
        doc! {"a": 1}
    );
    assert_eq!(
        project(doc! {"a": Bson::Int64(7), "_id": false}, input),
        doc! {"a": 1}
    );
}

#[test]
fn inclusion_of_missing_fields_gives_only_id() {
    assert_eq!(
        project(doc! {"nope": 1}, doc! {"_id": 1, "a": 1}),
        doc! {"_id": 1}
    );
    assert_eq!(
        project(doc! {"nope": 1, "_id": 0}, doc! {"_id": 1, "a": 1}),
        doc! {}
    );
}

#[test]
fn inclusion_keeps_any_value_whole() {
    for value in [
        bson!(null),
        bson!([]),
        bson!({}),
        bson!([[1, 2], [{}], 2]),
        bson!({"x": [1]}),
    ] {
        let input = doc! {"_id": 1, "a": value.clone(), "b": 0};
        assert_eq!(project(doc! {"a": 1}, input), doc! {"_id": 1, "a": value});
    }
}

#[test]
fn exclusion_drops_named_fields() {
    let input = doc! {"_id": 1, "a": 1, "b": 2, "c": 3};
    assert_eq!(
        project(doc! {"a": 0, "b": false}, input.clone()),
        doc! {"_id": 1, "c": 3}
    );
    assert_eq!(
        project(doc! {"_id": 0}, input.clone()),
        doc! {"a": 1, "b": 2, "c": 3}
    );
    // `_id: 1` in an exclusion projection changes nothing.
    assert_eq!(
        project(doc! {"_id": 1, "a": 0}, input),
        doc! {"_id": 1, "b": 2, "c": 3}
    );
}

#[test]
fn id_alone() {
    let input = doc! {"_id": 1, "a": 1};
    assert_eq!(project(doc! {"_id": 1}, input.clone()), doc! {"_id": 1});
    assert_eq!(project(doc! {"_id": 0}, input), doc! {"a": 1});
}

#[test]
fn empty_projection_is_identity() {
    let p = Projection::parse(&doc! {}).unwrap();
    assert!(p.is_identity());
    assert!(!p.uses_positional());
    let input = doc! {"_id": 1, "a": [1, 2]};
    assert_eq!(p.apply(&input, None).unwrap(), input);
    assert!(!Projection::parse(&doc! {"_id": 0}).unwrap().is_identity());
}

#[test]
fn mixing_inclusion_and_exclusion_is_an_error() {
    assert_eq!(
        parse_msg(doc! {"name": 1, "state": 0}),
        "Cannot do exclusion on field state in inclusion projection"
    );
    assert_eq!(
        parse_msg(doc! {"foo": false, "_id": false, "bar": true}),
        "Cannot do inclusion on field bar in exclusion projection"
    );
    assert!(matches!(
        parse_err(doc! {"a": 1, "b": 0}),
        Error::BadValue(_)
    ));
    // _id may go either way.
    assert!(Projection::parse(&doc! {"a": 1, "_id": 0}).is_ok());
    assert!(Projection::parse(&doc! {"a": 0, "_id": 1}).is_ok());
}

// ----- dotted paths ----------------------------------------------------------

#[test]
fn dotted_inclusion_through_embedded_documents() {
    let input = doc! {"_id": 1, "a": {"b": "demo", "y": "extra", "_id": 5}, "x": 1};
    assert_eq!(
        project(doc! {"a.b": 1}, input.clone()),
        doc! {"_id": 1, "a": {"b": "demo"}}
    );
    // Same as a sub-projection document.
    assert_eq!(
        project(doc! {"a": {"b": 1}}, input),
        doc! {"_id": 1, "a": {"b": "demo"}}
    );
    let spec = doc! {"a.b.c": 1, "_id": 0};
    assert_eq!(project(spec.clone(), doc! {"a": "scalar"}), doc! {});
    assert_eq!(project(spec.clone(), doc! {"a": null}), doc! {});
    assert_eq!(project(spec.clone(), doc! {"a": {}}), doc! {"a": {}});
    assert_eq!(
        project(spec.clone(), doc! {"a": {"b": "scalar"}}),
        doc! {"a": {}}
    );
    assert_eq!(
        project(spec, doc! {"a": {"b": {"x": 1, "y": 1}}}),
        doc! {"a": {"b": {}}}
    );
}

#[test]
fn dotted_inclusion_through_arrays_keeps_documents_and_drops_scalars() {
    let spec = doc! {"a.b": 1, "_id": 0};
    let p = |input: Bson| project(spec.clone(), doc! {"a": input});
    assert_eq!(
        p(bson!([{"b": 1, "c": 1}, {"b": 2, "c": 2}])),
        doc! {"a": [{"b": 1}, {"b": 2}]}
    );
    assert_eq!(
        p(bson!([{"b": 1, "c": 1}, {"c": 2}])),
        doc! {"a": [{"b": 1}, {}]}
    );
    assert_eq!(p(bson!([])), doc! {"a": []});
    assert_eq!(p(bson!(["scalar", "scalar"])), doc! {"a": []});
    assert_eq!(p(bson!([null])), doc! {"a": []});
    assert_eq!(
        p(bson!(["scalar", {}, "scalar", {"c": 1}])),
        doc! {"a": [{}, {}]}
    );
    // Nested arrays are kept and projected the same way.
    assert_eq!(p(bson!([[]])), doc! {"a": [[]]});
    assert_eq!(p(bson!([[1, 2, 3]])), doc! {"a": [[]]});
    assert_eq!(
        p(bson!([[1, {"b": 1}, {"b": 2, "c": 2}, "scalar"]])),
        doc! {"a": [[{"b": 1}, {"b": 2}]]}
    );
    assert_eq!(
        p(bson!([[], [[], [], [1], [{"c": 1}]], {"b": 1}])),
        doc! {"a": [[], [[], [], [], [{}]], {"b": 1}]}
    );
}

#[test]
fn two_paths_through_one_array() {
    let spec = doc! {"a.b": 1, "a.c": 1, "_id": 0};
    let input = doc! {"a": [{"b": 1, "c": 2, "d": 3}, "extra", {"b": 3, "d": 4}]};
    assert_eq!(
        project(spec.clone(), input),
        doc! {"a": [{"b": 1, "c": 2}, {"b": 3}]}
    );
    assert_eq!(project(spec, doc! {"a": {"d": "extra"}}), doc! {"a": {}});
}

#[test]
fn deep_inclusion_through_mixed_arrays() {
    let spec = doc! {"a.b.c": 1, "_id": 0};
    assert_eq!(
        project(spec.clone(), doc! {"a": [1, {"b": [[1, 2], [{}], 2]}, 2]}),
        doc! {"a": [{"b": [[], [{}]]}]}
    );
    assert_eq!(
        project(
            spec.clone(),
            doc! {"a": [[1, 2], [{"b": [[1, 2], [{"c": [[1, 2], [{}], 2]}], 2]}], 2]}
        ),
        doc! {"a": [[], [{"b": [[], [{"c": [[1, 2], [{}], 2]}]]}]]}
    );
    assert_eq!(
        project(
            spec,
            doc! {"a": [{"bPrime": 1}, {"b": [{"c": 3, "d": 3}, {"d": 4}, {"c": 5}]}]}
        ),
        doc! {"a": [{}, {"b": [{"c": 3}, {}, {"c": 5}]}]}
    );
}

#[test]
fn numeric_components_are_field_names_not_positions() {
    let spec = doc! {"_id": 0, "a.2": 1};
    assert_eq!(
        project(spec.clone(), doc! {"a": {"2": 99}, "b": 1}),
        doc! {"a": {"2": 99}}
    );
    assert_eq!(
        project(spec.clone(), doc! {"a": [0, 1, 2, 3]}),
        doc! {"a": []}
    );
    assert_eq!(
        project(spec, doc! {"a": [0, 1, {"obj": 1}, {"2": 123}]}),
        doc! {"a": [{}, {"2": 123}]}
    );
}

#[test]
fn dotted_exclusion_keeps_scalars_and_crosses_arrays() {
    assert_eq!(
        project(
            doc! {"a.b": 0},
            doc! {"_id": 1, "a": {"b": 1, "c": 1}, "x": {"y": 1}}
        ),
        doc! {"_id": 1, "a": {"c": 1}, "x": {"y": 1}}
    );
    assert_eq!(
        project(
            doc! {"a.b": 0},
            doc! {"_id": 1, "a": ["scalar", {"b": 1, "c": 1}, {"b": 3}]}
        ),
        doc! {"_id": 1, "a": ["scalar", {"c": 1}, {}]}
    );
    assert_eq!(
        project(
            doc! {"a.b.c": 0},
            doc! {"_id": 1, "a": [[], [{"b": [[1, 2], {"c": 1, "d": 1}]}]]}
        ),
        doc! {"_id": 1, "a": [[], [{"b": [[1, 2], {"d": 1}]}]]}
    );
    assert_eq!(
        project(
            doc! {"m": {"h": 0, "t": 0}, "_id": 0},
            doc! {"_id": 1, "m": {"t": 1, "p": 2, "h": 3}}
        ),
        doc! {"m": {"p": 2}}
    );
}

#[test]
fn path_collisions_are_errors() {
    assert_eq!(
        parse_msg(doc! {"a": 1, "a.b": 1}),
        "Path collision at a.b remaining portion b"
    );
    assert_eq!(parse_msg(doc! {"a.b": 1, "a": 1}), "Path collision at a");
    assert_eq!(
        parse_msg(doc! {"a.b": 1, "a.b.c": 1}),
        "Path collision at a.b.c remaining portion b.c"
    );
    assert!(parse_msg(doc! {"a.b": 0, "a": {"b": {"c": 0}}}).starts_with("Path collision at a.b"));
    assert!(parse_msg(doc! {"a": 0, "a.b": 0}).starts_with("Path collision"));
    // Sibling paths are fine.
    assert!(Projection::parse(&doc! {"a.b": 1, "a.c": 1, "a": {"d": 1}}).is_ok());
}

#[test]
fn bad_field_paths_are_errors() {
    assert!(parse_msg(doc! {"": 1}).contains("empty string"));
    assert!(parse_msg(doc! {"v..d": 1}).contains("may not be empty strings"));
    assert!(parse_msg(doc! {"$v": 1}).contains("may not start with '$'"));
    assert!(parse_msg(doc! {"a": {}}).starts_with("An empty sub-projection is not a valid value"));
}

// ----- literals and expressions -------------------------------------------

#[test]
fn literals_set_values_and_make_an_inclusion_projection() {
    let input = doc! {"_id": 1, "a": 1, "b": 1, "c": 1};
    assert_eq!(
        project(doc! {"a": {"$literal": 0}}, input.clone()),
        doc! {"_id": 1, "a": 0}
    );
    assert_eq!(
        project(doc! {"a": {"$literal": 0}, "b": "string"}, input.clone()),
        doc! {"_id": 1, "a": 0, "b": "string"}
    );
    assert_eq!(
        project(doc! {"x": null, "_id": 0}, input.clone()),
        doc! {"x": null}
    );
    assert_eq!(
        project(doc! {"x": [1, "two"], "_id": 0}, input.clone()),
        doc! {"x": [1, "two"]}
    );
    // Literals come after the included fields.
    let out = project(doc! {"b": "new", "c": 1}, input);
    assert_eq!(out.keys().collect::<Vec<_>>(), vec!["_id", "c", "b"]);
}

#[test]
fn dotted_literals_create_paths_and_replace_scalars() {
    assert_eq!(
        project(
            doc! {"a.b": "new value"},
            doc! {"_id": 1, "a": {"b": 1, "c": 1}, "x": 1}
        ),
        doc! {"_id": 1, "a": {"b": "new value"}}
    );
    assert_eq!(
        project(doc! {"a.b": "v"}, doc! {"_id": 1}),
        doc! {"_id": 1, "a": {"b": "v"}}
    );
    assert_eq!(
        project(doc! {"a.b": "v"}, doc! {"_id": 1, "a": 5}),
        doc! {"_id": 1, "a": {"b": "v"}}
    );
    assert_eq!(
        project(
            doc! {"a.b": "new value"},
            doc! {"_id": 1, "a": ["scalar", {"b": 1, "c": 1}, {"b": 3}]}
        ),
        doc! {"_id": 1, "a": [{"b": "new value"}, {"b": "new value"}, {"b": "new value"}]}
    );
    assert_eq!(
        project(doc! {"a.b": "v"}, doc! {"_id": 1, "a": []}),
        doc! {"_id": 1, "a": []}
    );
    assert_eq!(
        project(
            doc! {"a.b.c": "new value"},
            doc! {"_id": 1, "a": [[], [{"b": [[1, 2], {"c": 1, "d": 1}]}]]}
        ),
        doc! {"_id": 1, "a": [[], [{"b": [[{"c": "new value"}, {"c": "new value"}], {"c": "new value"}]}]]}
    );
    // Mixed with an inclusion under the same parent.
    assert_eq!(
        project(
            doc! {"a.b": 1, "a.c": "x", "_id": 0},
            doc! {"a": [{"b": 1, "d": 2}, 7]}
        ),
        doc! {"a": [{"b": 1, "c": "x"}, {"c": "x"}]}
    );
}

#[test]
fn literals_in_exclusion_projections_are_errors() {
    assert_eq!(
        parse_msg(doc! {"a": 0, "b": "x"}),
        "Cannot use an expression b: \"x\" in an exclusion projection"
    );
    assert!(
        parse_msg(doc! {"a": 0, "b": {"$literal": 1}})
            .starts_with("Cannot use expression other than $meta")
    );
    assert_eq!(
        parse_msg(doc! {"b": "x", "a": 0}),
        "Cannot do exclusion on field a in inclusion projection"
    );
}

#[test]
fn expressions_are_not_supported_yet() {
    for spec in [
        doc! {"x": {"$add": [1, 2]}},
        doc! {"x": "$a"},
        doc! {"x": ["$a", 1]},
        doc! {"x": [{"y": {"$size": "$a"}}]},
        doc! {"x": {"$meta": "textScore"}},
        doc! {"x": {"$slice": ["$a", 1]}},
    ] {
        let err = parse_err(spec.clone());
        assert!(matches!(err, Error::NotSupported(_)), "{spec}: {err:?}");
    }
    let err = parse_err(doc! {"x": {"$add": [1, 2]}});
    assert!(err.to_string().contains("$add"), "{err}");
}

#[test]
fn unknown_operators_are_errors() {
    let err = parse_err(doc! {"a": {"$foo": 1}});
    assert!(
        matches!(err, Error::UnknownOperator(ref m) if m.contains("$foo")),
        "{err:?}"
    );
    // More than one field: a sub-projection whose field names are invalid.
    assert!(parse_msg(doc! {"a": {"$foo": 1, "b": 1}}).contains("may not start with '$'"));
}

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
