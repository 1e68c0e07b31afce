//! Projection tests. Expected documents follow MongoDB 6/7 (its manual and
//! its own projection test suite); comparisons are order-sensitive where
//! MongoDB's field order is specified.
//!
//! `fields.rs`: inclusion, exclusion, `_id`, dotted paths, literals and
//! parse errors. `operators.rs`: `$slice`, `$elemMatch`, positional `$`.

mod fields;
mod operators;

use super::*;
use crate::Error;
use crate::query::Filter;

pub(super) fn project(spec: Document, input: Document) -> Document {
    Projection::parse(&spec)
        .unwrap()
        .apply(&input, None)
        .unwrap()
}

/// Projects like find: the position comes from the filter's match details.
pub(super) fn find_one(filter: Document, spec: Document, input: Document) -> Result<Document> {
    let filter = Filter::parse(&filter).unwrap();
    let details = filter
        .match_details(&input)
        .expect("the filter matches the input");
    Projection::parse(&spec)?.apply(&input, details.array_position)
}

pub(super) fn parse_err(spec: Document) -> Error {
    Projection::parse(&spec).unwrap_err()
}

pub(super) fn parse_msg(spec: Document) -> String {
    parse_err(spec).to_string()
}
