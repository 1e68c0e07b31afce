//! Sort tests. The multi-collection cases mirror the documented behaviour of
//! MongoDB's sort on dotted paths, arrays, `null`, missing and `undefined`.

use super::*;
use bson::{Decimal128, bson, doc};

/// Sorts a copy of `docs` and returns the `_id`s in order.
fn ids(docs: &[Document], spec: Document) -> Vec<i32> {
    let spec = SortSpec::parse(&spec).unwrap();
    let mut sorted = docs.to_vec();
    sort_documents(&mut sorted, &spec).unwrap();
    let by_sort: Vec<i32> = sorted.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    // top_k with a large k must agree with the full sort.
    let top = top_k(docs.iter().cloned(), &spec, 500).unwrap();
    let by_top: Vec<i32> = top.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    assert_eq!(by_sort, by_top, "top_k disagrees with sort_documents");
    by_sort
}

fn parse_err(spec: Document) -> Error {
    SortSpec::parse(&spec).unwrap_err()
}

#[test]
fn parse_accepts_one_and_minus_one_of_any_numeric_type() {
    let dec: Decimal128 = "-1".parse().unwrap();
    let spec = SortSpec::parse(&doc! {
        "a": 1, "b": -1, "c": 1.0, "d": Bson::Int64(-1), "e": Bson::Decimal128(dec)
    })
    .unwrap();
    let fields: Vec<(&str, Direction)> = spec.fields().collect();
    use Direction::{Ascending as A, Descending as D};
    assert_eq!(
        fields,
        vec![("a", A), ("b", D), ("c", A), ("d", D), ("e", D)]
    );
    assert!(!spec.is_empty());
    assert!(SortSpec::parse(&doc! {}).unwrap().is_empty());
}

#[test]
fn parse_rejects_other_directions() {
    for bad in [
        bson!(0),
        bson!(2),
        bson!(0.5),
        bson!("asc"),
        bson!(true),
        bson!(null),
        bson!({"x": 1}),
    ] {
        let err = parse_err(doc! {"a": bad.clone()});
        assert!(matches!(err, Error::BadValue(_)), "{bad:?}: {err:?}");
        assert!(
            err.to_string().contains("must be 1 (for ascending) or -1"),
            "{err}"
        );
        assert!(err.to_string().contains("'a'"), "{err}");
    }
}

#[test]
fn parse_rejects_meta_as_not_supported() {
    let err = parse_err(doc! {"score": {"$meta": "textScore"}});
    assert!(
        matches!(err, Error::NotSupported(ref m) if m.contains("$meta")),
        "{err:?}"
    );
}

#[test]
fn parse_rejects_bad_field_paths() {
    assert!(parse_err(doc! {"": 1}).to_string().contains("empty string"));
    assert!(
        parse_err(doc! {"a..b": 1})
            .to_string()
            .contains("may not be empty")
    );
    assert!(
        parse_err(doc! {"$a": 1})
            .to_string()
            .contains("may not start with '$'")
    );
}

#[test]
fn missing_sorts_as_null_before_numbers_and_ties_keep_input_order() {
    let docs = vec![
        doc! {"_id": 1, "v": 3},
        doc! {"_id": 2, "v": Bson::Null},
        doc! {"_id": 3},
        doc! {"_id": 4, "v": 1},
        doc! {"_id": 5, "v": Bson::Null},
    ];
    assert_eq!(ids(&docs, doc! {"v": 1}), vec![2, 3, 5, 4, 1]);
    assert_eq!(ids(&docs, doc! {"v": -1}), vec![1, 4, 2, 3, 5]);
}

#[test]
fn cross_type_order_follows_bson_order() {
    // The conformance case sort-cross-type-asc/desc.
    let date = Bson::DateTime(bson::DateTime::from_millis(1_577_836_800_000));
    let docs = vec![
        doc! {"_id": 1, "x": "str"},
        doc! {"_id": 2, "x": 5},
        doc! {"_id": 3, "x": Bson::Null},
        doc! {"_id": 4, "x": {"a": 1}},
        doc! {"_id": 5, "x": true},
        doc! {"_id": 6},
        doc! {"_id": 7, "x": [2, 9]},
        doc! {"_id": 8, "x": 1.5},
        doc! {"_id": 9, "x": date},
    ];
    assert_eq!(
        ids(&docs, doc! {"x": 1, "_id": 1}),
        vec![3, 6, 8, 7, 2, 1, 4, 5, 9]
    );
    assert_eq!(
        ids(&docs, doc! {"x": -1, "_id": 1}),
        vec![9, 5, 4, 1, 7, 2, 8, 3, 6]
    );
}

#[test]
fn arrays_use_smallest_ascending_and_largest_descending() {
    let docs = vec![
        doc! {"_id": 1, "a": [5, 1]},
        doc! {"_id": 2, "a": 3},
        doc! {"_id": 3, "a": [2, 9]},
    ];
    assert_eq!(ids(&docs, doc! {"a": 1}), vec![1, 3, 2]);
    assert_eq!(ids(&docs, doc! {"a": -1}), vec![3, 1, 2]);
}

/// Undefined, null, missing, empty and nested arrays on a top-level field.
fn scalar_and_array_docs() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "a": 1},
        doc! {"_id": 2, "a": Bson::Undefined},
        doc! {"_id": 3, "a": Bson::Null},
        doc! {"_id": 4, "a": {}},
        doc! {"_id": 5, "a": []},
        doc! {"_id": 6, "a": [1]},
        doc! {"_id": 7, "a": [[1]]},
        doc! {"_id": 8},
        doc! {"_id": 9, "a": [Bson::Undefined]},
    ]
}

#[test]
fn empty_array_sorts_as_undefined_below_null() {
    let docs = scalar_and_array_docs();
    assert_eq!(
        ids(&docs, doc! {"a": 1, "_id": 1}),
        vec![2, 5, 9, 3, 8, 1, 6, 4, 7]
    );
    assert_eq!(
        ids(&docs, doc! {"a": -1, "_id": 1}),
        vec![7, 4, 1, 6, 3, 8, 2, 5, 9]
    );
}

#[test]
fn numeric_component_indexes_arrays() {
    let docs = scalar_and_array_docs();
    assert_eq!(
        ids(&docs, doc! {"a.0": 1, "_id": 1}),
        vec![9, 1, 2, 3, 4, 5, 8, 6, 7]
    );
    assert_eq!(
        ids(&docs, doc! {"a.0": -1, "_id": 1}),
        vec![7, 6, 1, 2, 3, 4, 5, 8, 9]
    );
}

#[test]
fn compound_sort_over_arrays_in_different_documents() {
    let docs = vec![
        doc! {"_id": 1, "a": 1, "b": [2]},
        doc! {"_id": 2, "a": 2, "b": []},
        doc! {"_id": 3, "a": [], "b": 4},
        doc! {"_id": 4, "a": [1], "b": 4},
        doc! {"_id": 5, "a": [2, 3], "b": 2},
        doc! {"_id": 6, "a": 2, "b": [3, 5]},
        doc! {"_id": 7, "a": 1, "b": [1, 3]},
        doc! {"_id": 8, "a": [1, 2], "b": 3},
        doc! {"_id": 9, "a": 2, "b": 3},
    ];
    assert_eq!(
        ids(&docs, doc! {"a": 1, "b": 1, "_id": 1}),
        vec![3, 7, 1, 8, 4, 2, 5, 6, 9]
    );
    assert_eq!(
        ids(&docs, doc! {"a": 1, "b": -1, "_id": 1}),
        vec![3, 4, 7, 8, 1, 6, 9, 5, 2]
    );
    assert_eq!(
        ids(&docs, doc! {"a": -1, "b": 1, "_id": 1}),
        vec![5, 2, 6, 8, 9, 7, 1, 4, 3]
    );
    assert_eq!(
        ids(&docs, doc! {"a": -1, "b": -1, "_id": 1}),
        vec![5, 6, 8, 9, 2, 4, 7, 1, 3]
    );
}

#[test]
fn parallel_arrays_are_an_error_and_key_falls_back_per_field() {
    let spec = SortSpec::parse(&doc! {"a": 1, "b": 1}).unwrap();
    let doc = doc! {"_id": 3, "a": [2, 1], "b": [4, 3]};
    let err = spec.try_key(&doc).unwrap_err();
    assert!(err.to_string().contains("parallel arrays"), "{err}");
    let mut docs = vec![doc.clone(), doc! {"_id": 1, "a": 1, "b": 1}];
    assert!(sort_documents(&mut docs, &spec).is_err());
    assert_eq!(docs.len(), 2, "a failed sort leaves the documents in place");
    assert!(top_k(docs.into_iter(), &spec, 1).is_err());
    // key() falls back to each field's own smallest value.
    let key = spec.key(&doc);
    let values: Vec<Bson> = key.values().cloned().collect();
    assert_eq!(values, vec![bson!(1), bson!(3)]);
    // Nested paths into two arrays of one embedded document are parallel too.
    let spec = SortSpec::parse(&doc! {"a.b": 1, "a.c": 1}).unwrap();
    assert!(
        spec.try_key(&doc! {"a": {"b": [1, 2], "c": [3, 4]}})
            .is_err()
    );
    // Only one of the two fields is an array: fine.
    assert!(spec.try_key(&doc! {"a": {"b": [1, 2], "c": 3}}).is_ok());
}

#[test]
fn dotted_path_through_arrays_gathers_every_candidate() {
    let docs = vec![
        doc! {"_id": 1, "a": {"b": 2}},
        doc! {"_id": 2, "a": {"b": []}},
        doc! {"_id": 3, "a": {"b": [2, 3]}},
        doc! {"_id": 4, "a": {"c": 1}},
        doc! {"_id": 5, "a": []},
        doc! {"_id": 6, "a": [{"b": [5]}]},
        doc! {"_id": 7, "a": [{"b": [4, 5]}, {"b": 7}]},
        doc! {"_id": 8, "a": [{"b": [1, 3]}, {"b": [2, 5]}]},
        doc! {"_id": 9, "a": [{"b": []}, {"b": [1, 3]}]},
    ];
    assert_eq!(
        ids(&docs, doc! {"a.b": 1, "_id": 1}),
        vec![2, 9, 4, 5, 8, 1, 3, 7, 6]
    );
    assert_eq!(
        ids(&docs, doc! {"a.b": 1, "_id": -1}),
        vec![9, 2, 5, 4, 8, 3, 1, 7, 6]
    );
    assert_eq!(
        ids(&docs, doc! {"a.b": -1, "_id": 1}),
        vec![7, 6, 8, 3, 9, 1, 4, 5, 2]
    );
    assert_eq!(
        ids(&docs, doc! {"a.b": -1, "_id": -1}),
        vec![7, 8, 6, 9, 3, 1, 5, 4, 2]
    );
}

#[test]
fn array_elements_missing_the_field_count_as_null() {
    let docs = vec![
        doc! {"_id": 1, "a": [{"b": 2}, {"c": 1}]},
        doc! {"_id": 2, "a": [{"b": 1}]},
        doc! {"_id": 3, "a": [7, {"b": 3}]},
    ];
    // Ascending: the element without b (or the scalar) gives null, the smallest.
    assert_eq!(ids(&docs, doc! {"a.b": 1, "_id": 1}), vec![1, 3, 2]);
    assert_eq!(ids(&docs, doc! {"a.b": -1, "_id": 1}), vec![3, 1, 2]);
}

#[test]
fn three_level_paths() {
    let docs = vec![
        doc! {"_id": 1, "a": {"b": {"c": 2}}},
        doc! {"_id": 2, "a": {"b": {"c": []}}},
        doc! {"_id": 3, "a": [{"b": []}, {"b": {"c": []}}]},
        doc! {"_id": 4, "a": [{"b": {"c": 1}}]},
        doc! {"_id": 5, "a": {"b": [{"c": 3}, {"d": 1}]}},
        doc! {"_id": 6, "a": {"b": [{"c": [5]}]}},
        doc! {"_id": 7, "a": []},
        doc! {"_id": 8, "a": {"b": [{"c": [1, 3]}, {"c": [2, 5]}]}},
        doc! {"_id": 9, "a": [{"b": [{"c": []}, {"c": [1, 3]}]}]},
    ];
    assert_eq!(
        ids(&docs, doc! {"a.b.c": 1, "_id": 1}),
        vec![2, 3, 9, 5, 7, 4, 8, 1, 6]
    );
    assert_eq!(
        ids(&docs, doc! {"a.b.c": 1, "_id": -1}),
        vec![9, 3, 2, 7, 5, 8, 4, 1, 6]
    );
    assert_eq!(
        ids(&docs, doc! {"a.b.c": -1, "_id": 1}),
        vec![6, 8, 5, 9, 1, 4, 3, 7, 2]
    );
    assert_eq!(
        ids(&docs, doc! {"a.b.c": -1, "_id": -1}),
        vec![8, 6, 9, 5, 1, 4, 7, 3, 2]
    );
}

/// Two sort paths under one array of documents.
fn correlated_docs() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "a": [{"b": 4, "c": 1}, {"b": 1, "c": 2}]},
        doc! {"_id": 2, "a": [{"b": 2, "c": 1}, {"b": 4, "c": 2}]},
        doc! {"_id": 3, "a": [{"b": 6, "c": 1}, {"b": 9, "c": 2}]},
        doc! {"_id": 4, "a": [{"b": 4, "c": 1}, {"b": 5, "c": 3}]},
        doc! {"_id": 5, "a": [{"b": 2, "c": 1}, {"b": 7, "c": 3}]},
        doc! {"_id": 6, "a": [{"b": 5, "c": 1}, {"b": 3, "c": 3}]},
        doc! {"_id": 7, "a": [{"b": 7, "c": 2}, {"b": 2, "c": 3}]},
        doc! {"_id": 8, "a": [{"b": 3, "c": 2}, {"b": 8, "c": 3}]},
        doc! {"_id": 9, "a": [{"b": 8, "c": 2}, {"b": 6, "c": 3}]},
    ]
}

#[test]
fn fields_under_one_array_stay_correlated_per_element() {
    let docs = correlated_docs();
    assert_eq!(
        ids(&docs, doc! {"a.c": 1, "a.b": 1, "_id": 1}),
        vec![2, 5, 1, 4, 6, 3, 8, 7, 9]
    );
    assert_eq!(
        ids(&docs, doc! {"a.c": 1, "a.b": -1, "_id": 1}),
        vec![3, 6, 1, 4, 2, 5, 9, 7, 8]
    );
    assert_eq!(
        ids(&docs, doc! {"a.c": -1, "a.b": 1, "_id": 1}),
        vec![7, 6, 4, 9, 5, 8, 1, 2, 3]
    );
    assert_eq!(
        ids(&docs, doc! {"a.c": -1, "a.b": -1, "_id": 1}),
        vec![8, 5, 9, 4, 6, 7, 3, 2, 1]
    );
    // A path and its prefix expand the same array together.
    assert_eq!(
        ids(&docs, doc! {"a.c": 1, "a": 1, "_id": 1}),
        vec![2, 5, 1, 4, 6, 3, 8, 7, 9]
    );
    assert_eq!(
        ids(&docs, doc! {"a.c": -1, "a": -1, "_id": 1}),
        vec![8, 5, 9, 4, 6, 7, 3, 2, 1]
    );
}

#[test]
fn correlated_fields_with_nested_arrays() {
    let docs = vec![
        doc! {"_id": 1, "a": [{"b": [4, 1], "c": 1}, {"b": [1, 5], "c": 2}]},
        doc! {"_id": 2, "a": [{"b": 2, "c": [1, 3]}, {"b": 4, "c": [2, 4]}]},
        doc! {"_id": 3, "a": [{"b": [6, 4], "c": 1}, {"b": [9, 7], "c": 2}]},
        doc! {"_id": 4, "a": [{"b": 4, "c": [1, 2]}, {"b": 5, "c": [3, 2]}]},
        doc! {"_id": 5, "a": [{"b": [2, 3], "c": 1}, {"b": [7, 6], "c": 3}]},
        doc! {"_id": 6, "a": [{"b": 5, "c": []}, {"b": 3, "c": 3}]},
        doc! {"_id": 7, "a": [{"b": [], "c": 2}, {"b": 2, "c": 3}]},
        doc! {"_id": 8, "a": [{"b": 3, "c": [2]}, {"b": 8, "c": [3]}]},
        doc! {"_id": 9, "a": [{"b": [8], "c": 2}, {"b": [6], "c": 3}]},
    ];
    assert_eq!(
        ids(&docs, doc! {"a.c": 1, "a.b": 1, "_id": 1}),
        vec![6, 1, 2, 5, 3, 4, 7, 8, 9]
    );
    assert_eq!(
        ids(&docs, doc! {"a.c": 1, "a.b": -1, "_id": 1}),
        vec![6, 3, 1, 4, 5, 2, 9, 8, 7]
    );
    assert_eq!(
        ids(&docs, doc! {"a.c": -1, "a.b": 1, "_id": 1}),
        vec![2, 7, 6, 4, 5, 9, 8, 1, 3]
    );
    assert_eq!(
        ids(&docs, doc! {"a.c": -1, "a.b": -1, "_id": 1}),
        vec![2, 8, 5, 9, 4, 6, 7, 3, 1]
    );
    assert_eq!(
        ids(&docs, doc! {"a.b": 1, "a": 1, "_id": 1}),
        vec![7, 1, 2, 5, 6, 8, 4, 3, 9]
    );
    assert_eq!(
        ids(&docs, doc! {"a.b": -1, "a": -1, "_id": 1}),
        vec![3, 9, 8, 5, 1, 4, 6, 2, 7]
    );
    // A positional component picks the first element before walking on.
    assert_eq!(
        ids(&docs, doc! {"a.0.b": 1, "_id": 1}),
        vec![7, 1, 2, 5, 8, 3, 4, 6, 9]
    );
    assert_eq!(
        ids(&docs, doc! {"a.0.b": -1, "_id": 1}),
        vec![9, 3, 6, 1, 4, 5, 8, 2, 7]
    );
}

#[test]
fn compare_orders_documents() {
    let spec = SortSpec::parse(&doc! {"n": -1}).unwrap();
    assert_eq!(spec.compare(&doc! {"n": 2}, &doc! {"n": 1}), Ordering::Less);
    assert_eq!(
        spec.compare(&doc! {"n": 1}, &doc! {"n": 1.0}),
        Ordering::Equal
    );
    assert_eq!(
        spec.compare(&doc! {}, &doc! {"n": Bson::Null}),
        Ordering::Equal
    );
}

#[test]
fn keys_compare_in_spec_directions() {
    let spec = SortSpec::parse(&doc! {"a": 1, "b": -1}).unwrap();
    let k1 = spec.key(&doc! {"a": 1, "b": 1});
    let k2 = spec.key(&doc! {"a": 1, "b": 2});
    let k3 = spec.key(&doc! {"a": 2, "b": 9});
    assert!(k2 < k1 && k1 < k3);
    assert_eq!(k1, spec.key(&doc! {"b": 1.0, "a": 1_i64}));
}

#[test]
fn top_k_keeps_the_first_k_stably() {
    let docs: Vec<Document> = (0..50).map(|i| doc! {"_id": i, "v": i % 5}).collect();
    let spec = SortSpec::parse(&doc! {"v": -1}).unwrap();
    let top = top_k(docs.clone().into_iter(), &spec, 4).unwrap();
    let ids: Vec<i32> = top.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    assert_eq!(ids, vec![4, 9, 14, 19]);
    assert!(
        top_k(docs.clone().into_iter(), &spec, 0)
            .unwrap()
            .is_empty()
    );
    let unsorted = top_k(docs.into_iter(), &SortSpec::default(), 3).unwrap();
    let ids: Vec<i32> = unsorted.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    assert_eq!(ids, vec![0, 1, 2]);
}

#[test]
fn empty_spec_keeps_order() {
    let mut docs = vec![doc! {"_id": 2}, doc! {"_id": 1}];
    sort_documents(&mut docs, &SortSpec::default()).unwrap();
    assert_eq!(docs, vec![doc! {"_id": 2}, doc! {"_id": 1}]);
}
