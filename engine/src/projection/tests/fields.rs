//! Inclusion, exclusion, `_id`, dotted paths, literals and parse errors.

use super::*;
use bson::{Bson, bson, doc};

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
fn partial_id_paths_replace_the_implicit_id() {
    let nested = doc! {"_id": {"a": 1, "b": 1}, "k": 1};
    assert_eq!(
        project(doc! {"_id.a": 1}, nested.clone()),
        doc! {"_id": {"a": 1}}
    );
    assert_eq!(project(doc! {"_id.a": 1}, doc! {"_id": 3, "k": 2}), doc! {});
    assert_eq!(
        project(doc! {"_id.a": 0}, nested),
        doc! {"_id": {"b": 1}, "k": 1}
    );
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
