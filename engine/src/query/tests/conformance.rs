//! The `find` cases of the conformance suite's `query_*.json` files, run
//! directly against [`Filter`] without a database: every document of a case
//! is matched against the op's filter and the set of matching `_id`s is
//! compared with the `_id`s MongoDB returned. Sort, projection and
//! limits are irrelevant to which documents match and are not applied here.
//!
//! The case files live in the shared conformance suite. They are found through
//! `LAURADB_CONFORMANCE_DIR`, then `<workspace>/conformance/cases`, then
//! `/work/shared/conformance/cases`; a missing suite fails the test loudly.

use std::fmt;
use std::path::PathBuf;

use bson::{Bson, Document};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::Filter;
use crate::value::values_equal;

/// Extended-JSON wrapper keys that denote a single BSON value.
const EXTJSON_KEYS: &[&str] = &[
    "$oid",
    "$date",
    "$numberLong",
    "$numberInt",
    "$numberDouble",
    "$numberDecimal",
    "$regularExpression",
    "$binary",
    "$timestamp",
    "$minKey",
    "$maxKey",
    "$undefined",
    "$symbol",
    "$code",
];

/// A JSON value that keeps the key order of objects (`serde_json::Value`
/// sorts keys unless a crate feature is on, and key order matters for
/// embedded-document equality).
#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Json, E> {
                Ok(Json::Int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Json, E> {
                Ok(i64::try_from(u)
                    .map(Json::Int)
                    .unwrap_or(Json::Float(u as f64)))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Json, E> {
                Ok(Json::Float(f))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::Str(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Json::Object(entries))
            }
        }
        d.deserialize_any(V)
    }
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    fn as_array(&self) -> &[Json] {
        match self {
            Json::Array(items) => items,
            _ => &[],
        }
    }

    /// The same value as a `serde_json::Value` (for extended-JSON wrappers,
    /// whose inner key order does not matter).
    fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Int(i) => serde_json::Value::from(*i),
            Json::Float(f) => serde_json::Value::from(*f),
            Json::Str(s) => serde_json::Value::String(s.clone()),
            Json::Array(items) => items.iter().map(Json::to_value).collect(),
            Json::Object(entries) => entries
                .iter()
                .map(|(k, v)| (k.clone(), v.to_value()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

/// Converts relaxed extended JSON to BSON the way the router does: integers
/// that fit are int32, larger ones int64, fractions double, and `$`-wrappers
/// become their BSON values.
fn to_bson(v: &Json) -> Bson {
    match v {
        Json::Null => Bson::Null,
        Json::Bool(b) => Bson::Boolean(*b),
        Json::Int(i) => i32::try_from(*i)
            .map(Bson::Int32)
            .unwrap_or(Bson::Int64(*i)),
        Json::Float(f) => Bson::Double(*f),
        Json::Str(s) => Bson::String(s.clone()),
        Json::Array(items) => Bson::Array(items.iter().map(to_bson).collect()),
        Json::Object(entries) => {
            let wrapper = entries.len() <= 2
                && entries
                    .first()
                    .is_some_and(|(k, _)| EXTJSON_KEYS.contains(&k.as_str()));
            if wrapper {
                return serde_json::from_value::<Bson>(v.to_value())
                    .unwrap_or_else(|e| panic!("bad extended JSON {v:?}: {e}"));
            }
            Bson::Document(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), to_bson(v)))
                    .collect(),
            )
        }
    }
}

fn to_document(v: &Json) -> Document {
    match to_bson(v) {
        Bson::Document(d) => d,
        other => panic!("expected a document, got {other:?}"),
    }
}

fn cases_dir() -> PathBuf {
    let candidates = [
        std::env::var_os("LAURADB_CONFORMANCE_DIR").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance/cases")),
        Some(PathBuf::from("/work/shared/conformance/cases")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.join("query_comparison.json").is_file())
        .expect("conformance cases not found: set LAURADB_CONFORMANCE_DIR")
}

/// Runs every `find` op of one case file; returns the number of ops checked.
fn run_file(name: &str) -> usize {
    let path = cases_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<Json> = serde_json::from_str(&text).expect("case file is JSON");
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let id = case.get("id").and_then(Json::as_str).unwrap_or("?");
        if case.get("skip").is_some() {
            continue;
        }
        let docs: Vec<Document> = case
            .get("docs")
            .map(|d| d.as_array().iter().map(to_document).collect())
            .unwrap_or_default();
        for op in case.get("ops").map(Json::as_array).unwrap_or_default() {
            if op.get("action").and_then(Json::as_str) != Some("find") {
                continue;
            }
            let Some(filter) = op.get("args").and_then(|a| a.get("filter")) else {
                continue;
            };
            let filter = to_document(filter);
            let Some(expect) = op.get("expect") else {
                continue;
            };
            let expected_docs = expect
                .get("documents")
                .or_else(|| expect.get("documents_unordered"));
            let Some(expected_docs) = expected_docs else {
                continue;
            };
            let mut expected: Vec<Bson> = expected_docs
                .as_array()
                .iter()
                .map(|d| d.get("_id").map(to_bson).unwrap_or(Bson::Null))
                .collect();
            let parsed = match Filter::parse(&filter) {
                Ok(f) => f,
                Err(e) => {
                    failures.push(format!("{id}: {filter} failed to parse: {e}"));
                    continue;
                }
            };
            let mut actual: Vec<Bson> = docs
                .iter()
                .filter(|d| parsed.matches(d))
                .map(|d| d.get("_id").cloned().unwrap_or(Bson::Null))
                .collect();
            expected.sort_by(crate::value::compare);
            actual.sort_by(crate::value::compare);
            let same = expected.len() == actual.len()
                && expected
                    .iter()
                    .zip(&actual)
                    .all(|(a, b)| values_equal(a, b));
            if !same {
                failures.push(format!(
                    "{id}: {filter} matched {actual:?}, MongoDB {expected:?}"
                ));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    checked
}

#[test]
fn query_comparison_cases() {
    assert!(run_file("query_comparison.json") >= 10);
}

#[test]
fn query_logical_cases() {
    assert!(run_file("query_logical.json") >= 5);
}

#[test]
fn query_element_cases() {
    assert!(run_file("query_element.json") >= 5);
}

#[test]
fn query_array_cases() {
    assert!(run_file("query_array.json") >= 5);
}

#[test]
fn query_null_dotted_cases() {
    assert!(run_file("query_null_dotted.json") >= 5);
}

#[test]
fn query_regex_cases() {
    assert!(run_file("query_regex.json") >= 5);
}

#[test]
fn extended_json_conversion_keeps_types_and_order() {
    let text = r#"{"z": 1, "b": 5000000000, "c": 2.0, "n": -3,
        "d": {"$numberLong": "7"}, "e": {"$date": "2020-01-01T00:00:00Z"},
        "f": {"$regex": "x"}, "g": {"$regularExpression": {"pattern": "^a", "options": "i"}}}"#;
    let d = to_document(&serde_json::from_str::<Json>(text).expect("JSON"));
    assert_eq!(
        d.keys().map(String::as_str).collect::<Vec<_>>(),
        ["z", "b", "c", "n", "d", "e", "f", "g"]
    );
    assert_eq!(d.get("z"), Some(&Bson::Int32(1)));
    assert_eq!(d.get("b"), Some(&Bson::Int64(5_000_000_000)));
    assert_eq!(d.get("c"), Some(&Bson::Double(2.0)));
    assert_eq!(d.get("n"), Some(&Bson::Int32(-3)));
    assert_eq!(d.get("d"), Some(&Bson::Int64(7)));
    assert!(matches!(d.get("e"), Some(Bson::DateTime(_))));
    assert!(matches!(d.get("f"), Some(Bson::Document(_))));
    assert!(matches!(d.get("g"), Some(Bson::RegularExpression(_))));
}
