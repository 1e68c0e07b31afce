//! Property tests: the parser never panics on arbitrary nested filters, and
//! simple comparison filters agree with a brute-force reference built on
//! [`crate::value::compare`].

use std::cmp::Ordering;

use bson::{Bson, Document, doc};
use proptest::prelude::*;

use super::Filter;
use crate::value::{canonical_type, compare};

/// Scalars of the brackets comparisons care about (no NaN: the reference
/// below is the plain total order).
fn scalar() -> impl Strategy<Value = Bson> {
    prop_oneof![
        Just(Bson::Null),
        any::<bool>().prop_map(Bson::Boolean),
        (-5i32..5).prop_map(Bson::Int32),
        (-5i64..5).prop_map(Bson::Int64),
        (-50i32..50).prop_map(|i| Bson::Double(f64::from(i) / 10.0)),
        "[a-c]{0,2}".prop_map(Bson::String),
    ]
}

/// Any value a filter might contain: scalars, regexes, arrays, documents.
fn value() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        scalar(),
        Just(Bson::Undefined),
        Just(Bson::MinKey),
        Just(Bson::MaxKey),
        Just(Bson::Double(f64::NAN)),
        "[(a-c^$.*?)\\[\\]{}]{0,4}".prop_map(|p| Bson::RegularExpression(bson::Regex {
            pattern: p.as_str().try_into().expect("no NUL"),
            options: "".try_into().expect("no NUL"),
        })),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Bson::Document(kv.into_iter().collect())),
        ]
    })
}

/// Keys: field names, dotted paths, and operators (known and unknown).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c](\\.[0-2a-c]){0,2}",
        prop::sample::select(vec![
            "$eq",
            "$ne",
            "$gt",
            "$gte",
            "$lt",
            "$lte",
            "$in",
            "$nin",
            "$and",
            "$or",
            "$nor",
            "$not",
            "$exists",
            "$type",
            "$regex",
            "$options",
            "$mod",
            "$all",
            "$elemMatch",
            "$size",
            "$comment",
            "$foo",
            "$expr",
            "$bitsAllSet",
        ])
        .prop_map(str::to_string),
    ]
}

fn filter_document() -> impl Strategy<Value = Document> {
    prop::collection::vec((key(), value()), 0..4).prop_map(|kv| kv.into_iter().collect())
}

fn sample_documents() -> Vec<Document> {
    vec![
        doc! {},
        doc! {"a": 1, "b": "x"},
        doc! {"a": [1, [2, 3], {"b": 4}], "c": null},
        doc! {"a": {"b": [{"c": 1}, 2], "0": "z"}, "b": [[], {}]},
    ]
}

/// MongoDB's rule for `{f: {$op: x}}` on one scalar (or missing) value.
fn reference(op: &str, value: Option<&Bson>, x: &Bson) -> bool {
    let inclusive = matches!(op, "$eq" | "$gte" | "$lte");
    let Some(v) = value else {
        return match op {
            "$ne" => !matches!(x, Bson::Null),
            _ => inclusive && matches!(x, Bson::Null),
        };
    };
    if op == "$ne" {
        return !reference("$eq", value, x);
    }
    if canonical_type(v) != canonical_type(x) {
        return false;
    }
    let ord = compare(v, x);
    match op {
        "$eq" => ord == Ordering::Equal,
        "$gt" => ord == Ordering::Greater,
        "$gte" => ord != Ordering::Less,
        "$lt" => ord == Ordering::Less,
        _ => ord != Ordering::Greater,
    }
}

proptest! {
    #[test]
    fn parse_never_panics(filter in filter_document()) {
        if let Ok(f) = Filter::parse(&filter) {
            for d in sample_documents() {
                let matched = f.matches(&d);
                prop_assert_eq!(f.match_details(&d).is_some(), matched);
            }
            let _ = f.equality_fields();
        }
    }

    #[test]
    fn comparisons_agree_with_reference(
        op in prop::sample::select(vec!["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]),
        operand in scalar(),
        stored in prop::option::of(scalar()),
    ) {
        let f = Filter::parse(&doc! {"f": {op: operand.clone()}}).expect("valid filter");
        let mut d = doc! {"_id": 1};
        if let Some(v) = &stored {
            d.insert("f", v.clone());
        }
        prop_assert_eq!(f.matches(&d), reference(op, stored.as_ref(), &operand));
    }

    #[test]
    fn in_is_any_equality(
        operands in prop::collection::vec(scalar(), 0..4),
        stored in prop::option::of(scalar()),
    ) {
        let f = Filter::parse(&doc! {"f": {"$in": operands.clone()}}).expect("valid filter");
        let nin = Filter::parse(&doc! {"f": {"$nin": operands.clone()}}).expect("valid filter");
        let mut d = doc! {};
        if let Some(v) = &stored {
            d.insert("f", v.clone());
        }
        let expected = operands.iter().any(|x| reference("$eq", stored.as_ref(), x));
        prop_assert_eq!(f.matches(&d), expected);
        prop_assert_eq!(nin.matches(&d), !expected);
    }

    #[test]
    fn arrays_match_when_an_element_does(
        op in prop::sample::select(vec!["$eq", "$gt", "$gte", "$lt", "$lte"]),
        operand in scalar(),
        items in prop::collection::vec(scalar(), 0..4),
    ) {
        let f = Filter::parse(&doc! {"f": {op: operand.clone()}}).expect("valid filter");
        let d = doc! {"f": items.clone()};
        let expected = items.iter().any(|v| reference(op, Some(v), &operand));
        prop_assert_eq!(f.matches(&d), expected);
    }
}
