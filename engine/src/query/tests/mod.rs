//! Tests of the query module, one file per operator family plus the public
//! API and the property tests (the conformance cases run end to end in
//! `engine/tests/conformance.rs`). Each matching test
//! states the documents, the filter, and the `_id`s MongoDB 6/7 returns.

mod api;
mod array;
mod comparison;
mod element;
mod expr;
mod logical;
mod null_semantics;
mod numeric;
mod proptests;
mod regex;

use bson::{Bson, Document, bson, doc, oid::ObjectId};

use super::Filter;

/// The `_id`s (as strings or numbers rendered with `to_string`) of the
/// documents matching `filter`, in document order.
fn ids(filter: Document, docs: &[Document]) -> Vec<String> {
    let f = Filter::parse(&filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    docs.iter()
        .filter(|d| f.matches(d))
        .map(|d| match d.get("_id") {
            Some(Bson::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "?".to_string(),
        })
        .collect()
}

fn regex(pattern: &str, options: &str) -> Bson {
    Bson::RegularExpression(bson::Regex {
        pattern: pattern.try_into().expect("no NUL"),
        options: options.try_into().expect("no NUL"),
    })
}
