//! MongoDB's own null-semantics suite (jstests/core/null_query_semantics.js):
//! the same documents and the results it asserts.

use super::*;

fn docs() -> Vec<Document> {
    vec![
        doc! {"_id": "a_empty_subobject", "a": {}},
        doc! {"_id": "a_null", "a": null},
        doc! {"_id": "a_number", "a": 4},
        doc! {"_id": "a_subobject_b_not_null", "a": {"b": "hi"}},
        doc! {"_id": "a_subobject_b_null", "a": {"b": null}},
        doc! {"_id": "a_subobject_b_undefined", "a": {"b": Bson::Undefined}},
        doc! {"_id": "a_undefined", "a": Bson::Undefined},
        doc! {"_id": "no_a"},
        doc! {"_id": "a_double_array", "a": [[]]},
        doc! {"_id": "a_empty_array", "a": []},
        doc! {"_id": "a_object_array_all_b_nulls", "a": [{"b": null}, {"b": Bson::Undefined}, {"b": null}, {}]},
        doc! {"_id": "a_object_array_no_b_nulls", "a": [{"b": 1}, {"b": 3}, {"b": "string"}]},
        doc! {"_id": "a_object_array_some_b_nulls", "a": [{"b": null}, {"b": 3}, {"b": null}]},
        doc! {"_id": "a_object_array_some_b_undefined", "a": [{"b": Bson::Undefined}, {"b": 3}]},
        doc! {"_id": "a_object_array_some_b_missing", "a": [{"b": 3}, {}]},
        doc! {"_id": "a_value_array_all_nulls", "a": [null, null]},
        doc! {"_id": "a_value_array_no_nulls", "a": [1, "string", 4]},
        doc! {"_id": "a_value_array_with_null", "a": [1, "string", null, 4]},
        doc! {"_id": "a_value_array_with_undefined", "a": [1, "string", Bson::Undefined, 4]},
    ]
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn expect(filter: Document, expected: &[&str]) {
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(sorted(ids(filter.clone(), &docs())), want, "{filter}");
}

const EQ_NULL: &[&str] = &[
    "a_null",
    "a_undefined",
    "a_value_array_all_nulls",
    "a_value_array_with_null",
    "a_value_array_with_undefined",
    "no_a",
];
const DOTTED_EQ_NULL: &[&str] = &[
    "a_empty_subobject",
    "a_null",
    "a_number",
    "a_subobject_b_null",
    "a_subobject_b_undefined",
    "a_undefined",
    "no_a",
    "a_object_array_all_b_nulls",
    "a_object_array_some_b_nulls",
    "a_object_array_some_b_undefined",
    "a_object_array_some_b_missing",
];

fn complement(of: &[&str]) -> Vec<String> {
    sorted(
        docs()
            .iter()
            .filter_map(|d| d.get_str("_id").ok())
            .filter(|id| !of.contains(id))
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn top_level_null() {
    expect(doc! {"a": {"$eq": null}}, EQ_NULL);
    expect(doc! {"a": {"$in": [null, 75]}}, EQ_NULL);
    expect(doc! {"$or": [{"a": null}, {"a": 75}]}, EQ_NULL);
    let not_null = complement(EQ_NULL);
    for f in [
        doc! {"a": {"$ne": null}},
        doc! {"a": {"$not": {"$gte": null}}},
        doc! {"a": {"$nin": [null, 75]}},
    ] {
        assert_eq!(sorted(ids(f.clone(), &docs())), not_null, "{f}");
    }
    let mut nin_regex = complement(EQ_NULL);
    nin_regex.retain(|id| id != "a_value_array_no_nulls");
    assert_eq!(
        sorted(ids(
            doc! {"a": {"$nin": [null, regex("^str.*", "")]}},
            &docs()
        )),
        nin_regex
    );
    expect(doc! {"a": {"$exists": false}}, &["no_a"]);
}

#[test]
fn dotted_null() {
    expect(doc! {"a.b": {"$eq": null}}, DOTTED_EQ_NULL);
    expect(doc! {"a.b": {"$in": [null, 75]}}, DOTTED_EQ_NULL);
    expect(doc! {"$or": [{"a.b": null}, {"a.b": 75}]}, DOTTED_EQ_NULL);
    let not_null = complement(DOTTED_EQ_NULL);
    assert_eq!(sorted(ids(doc! {"a.b": {"$ne": null}}, &docs())), not_null);
    assert_eq!(
        sorted(ids(doc! {"a.b": {"$nin": [null, 75]}}, &docs())),
        not_null
    );
    let mut nin_regex = not_null.clone();
    nin_regex.retain(|id| id != "a_object_array_no_b_nulls");
    assert_eq!(
        sorted(ids(
            doc! {"a.b": {"$nin": [null, regex("^str.*", "")]}},
            &docs()
        )),
        nin_regex
    );
    expect(
        doc! {"a.b": {"$exists": false}},
        &[
            "no_a",
            "a_empty_subobject",
            "a_null",
            "a_number",
            "a_undefined",
            "a_double_array",
            "a_empty_array",
            "a_value_array_all_nulls",
            "a_value_array_no_nulls",
            "a_value_array_with_null",
            "a_value_array_with_undefined",
        ],
    );
}

#[test]
fn elem_match_and_null() {
    expect(
        doc! {"a": {"$elemMatch": {"$eq": null}}},
        &[
            "a_value_array_all_nulls",
            "a_value_array_with_null",
            "a_value_array_with_undefined",
        ],
    );
    expect(
        doc! {"a": {"$elemMatch": {"$ne": null}}},
        &[
            "a_double_array",
            "a_object_array_all_b_nulls",
            "a_object_array_no_b_nulls",
            "a_object_array_some_b_nulls",
            "a_object_array_some_b_undefined",
            "a_object_array_some_b_missing",
            "a_value_array_no_nulls",
            "a_value_array_with_undefined",
            "a_value_array_with_null",
        ],
    );
    expect(
        doc! {"a": {"$elemMatch": {"b": {"$eq": null}}}},
        &[
            "a_double_array",
            "a_object_array_all_b_nulls",
            "a_object_array_some_b_nulls",
            "a_object_array_some_b_undefined",
            "a_object_array_some_b_missing",
        ],
    );
    expect(
        doc! {"a": {"$elemMatch": {"b": {"$ne": null}}}},
        &[
            "a_object_array_no_b_nulls",
            "a_object_array_some_b_nulls",
            "a_object_array_some_b_undefined",
            "a_object_array_some_b_missing",
        ],
    );
    expect(doc! {"a.b": {"$elemMatch": {"$eq": null}}}, &[]);
    expect(doc! {"a.b": {"$elemMatch": {"$ne": null}}}, &[]);
}
