//! The `find` operations of the conformance suite's `projection.json` and
//! `sort_skip_limit.json`, run straight against the engine's building blocks
//! the way `find` combines them:
//!
//! ```text
//!  docs ─ Filter::matches ─ sort (top_k when limited) ─ skip/limit ─ Projection::apply
//! ```
//!
//! and compared with the documents real MongoDB returned (`expect`), using the
//! suite's comparison rules (numbers by value, object key order ignored,
//! `ignore_id`, `unordered`, `count`, `expect_error`).
//!
//! Case files are read with serde_json straight into `bson::Bson` (bson's
//! deserializer understands relaxed extended JSON such as `{"$date": …}` and
//! keeps the key order that sort specifications depend on). They are found
//! through `LAURADB_CONFORMANCE_DIR`, then `/work/shared/conformance/cases`;
//! a missing suite fails the test loudly.

use std::path::PathBuf;

use bson::{Bson, Document};
use lauradb_engine::Result;
use lauradb_engine::projection::Projection;
use lauradb_engine::query::Filter;
use lauradb_engine::sort::{SortSpec, sort_documents, top_k};
use lauradb_engine::value::{Number, compare_numbers};

fn cases_dir() -> PathBuf {
    [
        std::env::var_os("LAURADB_CONFORMANCE_DIR").map(PathBuf::from),
        Some(PathBuf::from("/work/shared/conformance/cases")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.join("projection.json").is_file())
    .expect("conformance cases not found: set LAURADB_CONFORMANCE_DIR to the cases folder")
}

fn load(name: &str) -> Vec<Document> {
    let path = cases_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<Bson> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    cases
        .into_iter()
        .map(|c| match c {
            Bson::Document(d) => d,
            other => panic!("{name}: a case is not an object: {other}"),
        })
        .collect()
}

fn doc_arg(args: &Document, key: &str) -> Document {
    match args.get(key) {
        Some(Bson::Document(d)) => d.clone(),
        None => Document::new(),
        Some(other) => panic!("{key} is not a document: {other}"),
    }
}

fn usize_arg(args: &Document, key: &str) -> usize {
    args.get(key)
        .and_then(Number::from_bson)
        .map_or(0, |n| usize::try_from(n.as_f64() as i64).unwrap_or(0))
}

/// What `find` returns for `args` over `docs`.
fn find(
    docs: &[Document],
    args: &Document,
    limit_override: Option<usize>,
) -> Result<Vec<Document>> {
    let filter = Filter::parse(&doc_arg(args, "filter"))?;
    let projection = Projection::parse(&doc_arg(args, "projection"))?;
    let sort = SortSpec::parse(&doc_arg(args, "sort"))?;
    let skip = usize_arg(args, "skip");
    let limit = limit_override.unwrap_or_else(|| usize_arg(args, "limit"));

    let mut matched: Vec<Document> = docs.iter().filter(|d| filter.matches(d)).cloned().collect();
    let ordered = if limit > 0 {
        top_k(matched.into_iter(), &sort, skip + limit)?
    } else {
        sort_documents(&mut matched, &sort)?;
        matched
    };
    let window = ordered
        .into_iter()
        .skip(skip)
        .take(if limit > 0 { limit } else { usize::MAX });
    window
        .map(|doc| {
            let position = filter.match_details(&doc).and_then(|m| m.array_position);
            projection.apply(&doc, position)
        })
        .collect()
}

/// The suite's equality: numbers by value, object key order ignored, and the
/// `$$exists` / `$$type` matchers in expected values.
fn same(expected: &Bson, actual: &Bson) -> bool {
    if let Bson::Document(e) = expected {
        if e.contains_key("$$exists") {
            return true;
        }
        if let Some(Bson::String(t)) = e.get("$$type") {
            return type_matches(t, actual);
        }
    }
    match (expected, actual) {
        (Bson::Document(e), Bson::Document(a)) => {
            e.len() == a.len() && e.iter().all(|(k, v)| a.get(k).is_some_and(|w| same(v, w)))
        }
        (Bson::Array(e), Bson::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| same(x, y))
        }
        _ => match (Number::from_bson(expected), Number::from_bson(actual)) {
            (Some(x), Some(y)) => compare_numbers(x, y).is_eq(),
            _ => expected == actual,
        },
    }
}

fn type_matches(t: &str, v: &Bson) -> bool {
    match t {
        "objectId" => matches!(v, Bson::ObjectId(_)),
        "date" => matches!(v, Bson::DateTime(_)),
        "number" => Number::from_bson(v).is_some(),
        "string" => matches!(v, Bson::String(_)),
        "bool" => matches!(v, Bson::Boolean(_)),
        "null" => matches!(v, Bson::Null),
        "array" => matches!(v, Bson::Array(_)),
        "object" => matches!(v, Bson::Document(_)),
        _ => false,
    }
}

/// Expected and actual documents as multisets.
fn same_unordered(expected: &[Bson], actual: &[Bson]) -> bool {
    let mut left: Vec<&Bson> = actual.iter().collect();
    expected.len() == actual.len()
        && expected
            .iter()
            .all(|e| match left.iter().position(|a| same(e, a)) {
                Some(i) => {
                    left.swap_remove(i);
                    true
                }
                None => false,
            })
}

fn flag(case: &Document, op: &Document, key: &str) -> bool {
    op.get_bool(key)
        .or_else(|_| case.get_bool(key))
        .unwrap_or(false)
}

/// Checks one `find`/`findOne` op; `Err` describes a mismatch.
fn check_op(case: &Document, op: &Document) -> std::result::Result<(), String> {
    let docs: Vec<Document> = case
        .get_array("docs")
        .map(|a| a.iter().filter_map(|d| d.as_document().cloned()).collect())
        .unwrap_or_default();
    let empty = Document::new();
    let args = op.get_document("args").unwrap_or(&empty);
    let find_one = op.get_str("action").is_ok_and(|a| a == "findOne");
    let result = find(&docs, args, find_one.then_some(1));
    if op.get_bool("expect_error").unwrap_or(false) {
        return match result {
            Err(_) => Ok(()),
            Ok(found) => Err(format!("expected an error, got {found:?}")),
        };
    }
    let found = result.map_err(|e| format!("unexpected error: {e}"))?;
    let Ok(expect) = op.get_document("expect") else {
        return Ok(());
    };
    let mut actual: Vec<Bson> = found
        .into_iter()
        .map(|mut d| {
            if flag(case, op, "ignore_id") {
                d.remove("_id");
            }
            Bson::Document(d)
        })
        .collect();
    let ok = if let Some(n) = expect.get("count").and_then(Number::from_bson) {
        actual.len() as f64 == n.as_f64()
    } else if let Ok(expected) = expect.get_array("documents_unordered") {
        same_unordered(expected, &actual)
    } else if let Ok(expected) = expect.get_array("documents") {
        if flag(case, op, "unordered") {
            same_unordered(expected, &actual)
        } else {
            same(&Bson::Array(expected.clone()), &Bson::Array(actual.clone()))
        }
    } else if let Some(expected) = expect.get("document") {
        let first = if actual.is_empty() {
            Bson::Null
        } else {
            actual.swap_remove(0)
        };
        same(expected, &first)
    } else {
        return Err(format!("unknown expect shape {expect}"));
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {expect}, got {actual:?}"))
    }
}

/// Runs every find op of a case file; returns how many were checked.
fn run_file(name: &str) -> usize {
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in load(name) {
        let id = case.get_str("id").unwrap_or("?").to_owned();
        if case.contains_key("skip") {
            continue;
        }
        for op in case
            .get_array("ops")
            .map(|a| a.as_slice())
            .unwrap_or_default()
        {
            let Some(op) = op.as_document() else { continue };
            if !matches!(op.get_str("action"), Ok("find" | "findOne")) {
                continue;
            }
            if let Err(e) = check_op(&case, op) {
                failures.push(format!("{id}: {e}"));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    checked
}

#[test]
fn projection_cases_match_mongodb() {
    assert_eq!(run_file("projection.json"), 13);
}

#[test]
fn sort_skip_limit_cases_match_mongodb() {
    assert_eq!(run_file("sort_skip_limit.json"), 11);
}
