//! Expression tests, one file per operator family. Each test states the
//! expression, the document and what MongoDB 6/7 answers (the value *and*
//! its BSON type: `Int32(3)` and `Int64(3)` are different answers).

mod arith;
mod arrays;
mod basics;
mod compare;
mod strings;
mod types_dates;

use bson::{Bson, Document, bson};

use super::*;
use crate::Error;

/// `$$NOW` in these tests: 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000_000;

/// Parses `expr` (with `$$NOW` available) and evaluates it against `doc`.
fn eval(expr: Bson, doc: &Document) -> Result<Value> {
    Expression::parse_in(&expr, &ParseScope::with_now([]))?.evaluate(doc, &Env::at(NOW))
}

/// The value of `expr` over `doc`, which must not be missing.
fn value(expr: Bson, doc: &Document) -> Bson {
    match eval(expr.clone(), doc) {
        Ok(Some(v)) => v,
        Ok(None) => panic!("{expr} evaluated to missing"),
        Err(e) => panic!("{expr} failed: {e}"),
    }
}

/// The value of `expr` over an empty document.
fn constant(expr: Bson) -> Bson {
    value(expr, &Document::new())
}

/// Asserts that `expr` evaluates to *missing* over `doc`.
fn assert_missing(expr: Bson, doc: &Document) {
    match eval(expr.clone(), doc) {
        Ok(None) => {}
        other => panic!("{expr}: expected missing, got {other:?}"),
    }
}

/// The error `expr` fails with over `doc` (at parse or evaluation time).
fn error(expr: Bson, doc: &Document) -> Error {
    match eval(expr.clone(), doc) {
        Err(e) => e,
        Ok(v) => panic!("{expr}: expected an error, got {v:?}"),
    }
}

/// Asserts that `expr` fails over `doc` with an error of code `code` whose
/// message contains `text`.
fn assert_error(expr: Bson, doc: &Document, code: &str, text: &str) {
    let e = error(expr.clone(), doc);
    assert_eq!(e.code_name(), code, "{expr}: {e}");
    assert!(e.to_string().contains(text), "{expr}: '{e}' lacks '{text}'");
}

/// A date from milliseconds since the epoch.
fn date(ms: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(ms))
}

/// `arr` sorted in BSON order (set operators promise no order).
fn sorted(value: Bson) -> Bson {
    let Bson::Array(mut items) = value else {
        panic!("not an array: {value}")
    };
    items.sort_by(crate::value::compare);
    Bson::Array(items)
}
