//! Runs the update, upsert and replacement ops of the shared conformance
//! cases (`/work/shared/conformance/cases`, real MongoDB's answers) against
//! an in-memory list of documents, using [`Filter`] to select documents and
//! [`Update`] to change them, and checks every expectation that a single
//! collection can answer: counts, errors (with the documents left as they
//! were), `upsertedId`, and the documents later finds return (with empty or
//! query filters, `_id` sort and exclusion projections).
//!
//! Cases using other actions (aggregate, inserts, …) are skipped; the test
//! fails if no case at all ran, so a moved folder cannot pass silently.

use std::fmt;
use std::path::PathBuf;

use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Update, UpdateContext};
use crate::query::Filter;
use crate::value::{Number, compare_numbers, values_equal};

const NOW: DateTime = DateTime::from_millis(1_700_000_000_000);

/// JSON parsed with object key order preserved (serde_json's `Value` sorts
/// keys without its `preserve_order` feature), converted to BSON the way the
/// runner's requests are: integers are int32 when they fit, else int64.
struct Ordered(Bson);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered(Bson::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<Ordered, E> {
                Ok(Ordered(Bson::Boolean(b)))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Ordered, E> {
                Ok(Ordered(
                    i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32),
                ))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Ordered, E> {
                Ok(Ordered(match i64::try_from(u) {
                    Ok(i) => i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32),
                    Err(_) => Bson::Double(u as f64),
                }))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Ordered, E> {
                Ok(Ordered(Bson::Double(f)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Ordered, E> {
                Ok(Ordered(Bson::String(s.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(Ordered(v)) = seq.next_element()? {
                    items.push(v);
                }
                Ok(Ordered(Bson::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut doc = Document::new();
                while let Some((k, Ordered(v))) = map.next_entry::<String, Ordered>()? {
                    doc.insert(k, v);
                }
                Ok(Ordered(extended_json(doc)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The few extended-JSON wrappers the request format uses.
fn extended_json(doc: Document) -> Bson {
    if doc.len() != 1 {
        return Bson::Document(doc);
    }
    let Some((key, value)) = doc.iter().next() else {
        return Bson::Document(doc);
    };
    let text = value.as_str();
    let converted = match (key.as_str(), text) {
        ("$numberInt", Some(s)) => s.parse().ok().map(Bson::Int32),
        ("$numberLong", Some(s)) => s.parse().ok().map(Bson::Int64),
        ("$numberDouble", Some(s)) => s.parse().ok().map(Bson::Double),
        ("$oid", Some(s)) => ObjectId::parse_str(s).ok().map(Bson::ObjectId),
        ("$date", Some(s)) => DateTime::parse_rfc3339_str(s).ok().map(Bson::DateTime),
        ("$date", None) => match value {
            Bson::Int64(ms) => Some(Bson::DateTime(DateTime::from_millis(*ms))),
            _ => None,
        },
        _ => None,
    };
    converted.unwrap_or(Bson::Document(doc))
}

fn cases_dir() -> PathBuf {
    PathBuf::from("/work/shared/conformance/cases")
}

/// Matches an actual value against an expected one the way the runner does:
/// key order ignored, numbers by value, `$$type`/`$$exists` matchers.
fn expect_matches(expected: &Bson, actual: &Bson) -> bool {
    match (expected, actual) {
        (Bson::Document(e), _) if e.len() == 1 && e.contains_key("$$exists") => true,
        (Bson::Document(e), _) if e.len() == 1 && e.contains_key("$$type") => {
            let ty = e.get_str("$$type").unwrap_or_default();
            match ty {
                "objectId" => matches!(actual, Bson::ObjectId(_)),
                "date" => matches!(actual, Bson::DateTime(_)),
                "number" => Number::from_bson(actual).is_some(),
                "string" => matches!(actual, Bson::String(_)),
                "bool" => matches!(actual, Bson::Boolean(_)),
                "null" => matches!(actual, Bson::Null),
                "array" => matches!(actual, Bson::Array(_)),
                "object" => matches!(actual, Bson::Document(_)),
                _ => false,
            }
        }
        (Bson::Document(e), Bson::Document(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|av| expect_matches(v, av)))
        }
        (Bson::Array(e), Bson::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| expect_matches(x, y))
        }
        (Bson::Boolean(_), _) | (_, Bson::Boolean(_)) => expected == actual,
        _ => match (Number::from_bson(expected), Number::from_bson(actual)) {
            (Some(x), Some(y)) => compare_numbers(x, y).is_eq(),
            (None, None) => values_equal(expected, actual),
            _ => false,
        },
    }
}

/// One case's collection and the result of running it.
struct Run {
    docs: Vec<Document>,
    next_id: u8,
    checked: usize,
}

enum Step {
    Ran,
    Unsupported,
}

impl Run {
    fn generated_id(&mut self) -> Bson {
        self.next_id = self.next_id.wrapping_add(1);
        Bson::ObjectId(ObjectId::from_bytes([self.next_id; 12]))
    }

    fn op(&mut self, case: &str, op: &Document) -> Step {
        let action = op.get_str("action").unwrap_or_default();
        let empty = Document::new();
        let args = op.get_document("args").unwrap_or(&empty);
        let expect = op.get_document("expect").ok();
        let expect_error = op.get_bool("expect_error").unwrap_or(false);
        if ["collection", "raw_body", "omit", "accept"]
            .iter()
            .any(|k| op.contains_key(*k))
        {
            return Step::Unsupported;
        }
        match action {
            "updateOne" | "updateMany" | "replaceOne" => {
                self.write(case, action, args, expect, expect_error);
                Step::Ran
            }
            "deleteOne" | "deleteMany" => {
                let filter = Filter::parse(args.get_document("filter").unwrap_or(&empty)).unwrap();
                let before = self.docs.len();
                let mut deleted = 0;
                self.docs.retain(|d| {
                    let hit = filter.matches(d) && (action == "deleteMany" || deleted == 0);
                    deleted += usize::from(hit);
                    !hit
                });
                if let Some(e) = expect {
                    let want = e.get("deletedCount").cloned().unwrap_or(Bson::Null);
                    assert!(
                        expect_matches(&want, &Bson::Int64((before - self.docs.len()) as i64)),
                        "{case}"
                    );
                    self.checked += 1;
                }
                Step::Ran
            }
            "find" | "findOne" if expect_error => {
                // Only a filter the parser rejects is this module's concern.
                let filter = args.get_document("filter").unwrap_or(&empty);
                if Filter::parse(filter).is_err() {
                    self.checked += 1;
                    Step::Ran
                } else {
                    Step::Unsupported
                }
            }
            "find" | "findOne" => self.find(case, action, args, expect),
            _ => Step::Unsupported,
        }
    }

    fn write(
        &mut self,
        case: &str,
        action: &str,
        args: &Document,
        expect: Option<&Document>,
        expect_error: bool,
    ) {
        let empty = Document::new();
        let filter_doc = args.get_document("filter").unwrap_or(&empty);
        let filter = Filter::parse(filter_doc).unwrap_or_else(|e| panic!("{case}: filter: {e}"));
        let parsed = if action == "replaceOne" {
            Update::replacement(args.get_document("replacement").unwrap_or(&empty))
        } else {
            let filters: Vec<Document> = args
                .get_array("arrayFilters")
                .map(|a| a.iter().filter_map(|f| f.as_document().cloned()).collect())
                .unwrap_or_default();
            Update::parse(args.get_document("update").unwrap_or(&empty), &filters)
        };
        let update = match parsed {
            Ok(u) => u,
            Err(e) => {
                assert!(expect_error, "{case}: unexpected parse error {e}");
                self.checked += 1;
                return;
            }
        };
        let before = self.docs.clone();
        let (mut matched, mut modified) = (0_i64, 0_i64);
        let mut failure = None;
        let mut upserted = None;
        for i in 0..self.docs.len() {
            let Some(details) = filter.match_details(&self.docs[i]) else {
                continue;
            };
            matched += 1;
            let ctx = UpdateContext {
                now: NOW,
                position: details.array_position,
            };
            match update.apply(&self.docs[i], &ctx) {
                Ok(applied) => {
                    modified += i64::from(applied.modified);
                    self.docs[i] = applied.document;
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            if action != "updateMany" {
                break;
            }
        }
        if matched == 0 && failure.is_none() && args.get_bool("upsert").unwrap_or(false) {
            let ctx = UpdateContext {
                now: NOW,
                position: None,
            };
            match update.upsert_document(&filter, &ctx) {
                Ok(mut doc) => {
                    let id = doc.remove("_id").unwrap_or_else(|| self.generated_id());
                    let mut with_id = Document::new();
                    with_id.insert("_id", id.clone());
                    with_id.extend(doc);
                    self.docs.push(with_id);
                    upserted = Some(id);
                }
                Err(e) => failure = Some(e),
            }
        }
        if expect_error {
            assert!(failure.is_some(), "{case}: expected an error");
            // MongoDB stops at the failing document; earlier ones of an
            // updateMany stay written. These cases fail on the first one.
            assert_eq!(
                self.docs, before,
                "{case}: a failed update changed documents"
            );
            self.checked += 1;
            return;
        }
        if let Some(e) = failure {
            panic!("{case}: unexpected error {e}");
        }
        if let Some(expect) = expect {
            let mut got = Document::new();
            got.insert("matchedCount", matched);
            got.insert("modifiedCount", modified);
            if let Some(id) = upserted {
                got.insert("upsertedId", id);
            }
            assert!(
                expect_matches(
                    &Bson::Document(expect.clone()),
                    &Bson::Document(got.clone())
                ),
                "{case}: expected {expect:?}, got {got:?}"
            );
            self.checked += 1;
        }
    }

    fn find(
        &mut self,
        case: &str,
        action: &str,
        args: &Document,
        expect: Option<&Document>,
    ) -> Step {
        let Some(expect) = expect else {
            return Step::Ran;
        };
        let empty = Document::new();
        let filter = Filter::parse(args.get_document("filter").unwrap_or(&empty)).unwrap();
        let projection = args.get_document("projection").unwrap_or(&empty);
        let excluded: Vec<&str> = projection.keys().map(String::as_str).collect();
        if projection
            .values()
            .any(|v| !matches!(v, Bson::Int32(0) | Bson::Boolean(false)))
        {
            return Step::Unsupported;
        }
        if args
            .keys()
            .any(|k| !matches!(k.as_str(), "filter" | "projection" | "sort"))
        {
            return Step::Unsupported;
        }
        let mut found: Vec<Bson> = self
            .docs
            .iter()
            .filter(|d| filter.matches(d))
            .map(|d| {
                let mut d = d.clone();
                excluded.iter().for_each(|k| {
                    d.remove(*k);
                });
                Bson::Document(d)
            })
            .collect();
        if let Ok(sort) = args.get_document("sort") {
            if sort != &bson::doc! {"_id": 1} {
                return Step::Unsupported;
            }
            found.sort_by(|a, b| {
                let id = |v: &Bson| {
                    v.as_document()
                        .and_then(|d| d.get("_id"))
                        .cloned()
                        .unwrap_or(Bson::Null)
                };
                crate::value::compare(&id(a), &id(b))
            });
        }
        if action == "findOne" {
            let want = expect.get("document").cloned().unwrap_or(Bson::Null);
            let got = found.first().cloned().unwrap_or(Bson::Null);
            assert!(
                expect_matches(&want, &got),
                "{case}: findOne expected {want:?}, got {got:?}"
            );
        } else if let Ok(count) = expect.get_i32("count") {
            assert_eq!(found.len(), count as usize, "{case}: count");
        } else {
            let want = expect.get("documents").cloned().unwrap_or(Bson::Null);
            assert!(
                expect_matches(&want, &Bson::Array(found.clone())),
                "{case}: find expected {want:?}, got {found:?}"
            );
        }
        self.checked += 1;
        Step::Ran
    }
}

/// Runs every supported case of one file; returns (cases run, checks made).
fn run_file(name: &str) -> (usize, usize) {
    let path = cases_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let Ordered(Bson::Array(cases)) = serde_json::from_str(&text).expect("valid JSON") else {
        panic!("{name}: not a list of cases");
    };
    let (mut ran, mut checks) = (0, 0);
    for case in cases.iter().filter_map(Bson::as_document) {
        let id = case.get_str("id").unwrap_or("?");
        if case.contains_key("skip") || case.contains_key("collections") {
            continue;
        }
        let ops: Vec<&Document> = case
            .get_array("ops")
            .map(|a| a.iter().filter_map(Bson::as_document).collect())
            .unwrap_or_default();
        let supported = |op: &&Document| {
            let action = op.get_str("action").unwrap_or_default();
            matches!(
                action,
                "updateOne"
                    | "updateMany"
                    | "replaceOne"
                    | "deleteOne"
                    | "deleteMany"
                    | "find"
                    | "findOne"
            )
        };
        if !ops.iter().all(supported) {
            continue;
        }
        let docs = case
            .get_array("docs")
            .map(|a| a.iter().filter_map(|d| d.as_document().cloned()).collect())
            .unwrap_or_default();
        let mut run = Run {
            docs,
            next_id: 0,
            checked: 0,
        };
        for op in ops {
            if let Step::Unsupported = run.op(id, op) {
                break;
            }
        }
        ran += usize::from(run.checked > 0);
        checks += run.checked;
    }
    (ran, checks)
}

#[test]
fn update_fields_cases() {
    let (ran, checks) = run_file("update_fields.json");
    assert!(
        ran >= 15 && checks >= 30,
        "ran {ran} cases, {checks} checks"
    );
}

#[test]
fn update_arrays_cases() {
    let (ran, checks) = run_file("update_arrays.json");
    assert!(
        ran >= 15 && checks >= 30,
        "ran {ran} cases, {checks} checks"
    );
}

#[test]
fn upsert_cases() {
    let (ran, checks) = run_file("upsert.json");
    assert!(ran >= 8 && checks >= 15, "ran {ran} cases, {checks} checks");
}

#[test]
fn replace_delete_cases() {
    let (ran, checks) = run_file("replace_delete.json");
    assert!(ran >= 5 && checks >= 10, "ran {ran} cases, {checks} checks");
}

#[test]
fn error_cases_touching_updates() {
    // errors.json mixes actions; only the update ones run here.
    let (ran, _) = run_file("errors.json");
    assert!(ran >= 2, "ran {ran} cases");
}

#[test]
fn json_loader_keeps_order_and_types() {
    let Ordered(v) =
        serde_json::from_str(r#"{"b": 1, "a": [2.0, 3000000000, {"$numberLong": "5"}]}"#).unwrap();
    let d = v.as_document().unwrap();
    assert_eq!(d.keys().collect::<Vec<_>>(), vec!["b", "a"]);
    assert_eq!(d.get("b"), Some(&Bson::Int32(1)));
    assert_eq!(
        d.get("a"),
        Some(&Bson::Array(vec![
            Bson::Double(2.0),
            Bson::Int64(3_000_000_000),
            Bson::Int64(5)
        ]))
    );
}
