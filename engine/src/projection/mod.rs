//! MongoDB find projections: which fields of a matching document to return.
//!
//! A projection specification is parsed once ([`Projection::parse`]) into a
//! tree of paths, then applied to each result ([`Projection::apply`]):
//!
//! ```text
//!  {name: 1, "dims.unit": 1, hist: {$slice: 2}}     inclusion projection
//!
//!  {_id: 1, name: "lamp", state: "on",              {_id: 1, name: "lamp",
//!   dims: {h: 30, unit: "cm"},            ──▶        dims: {unit: "cm"},
//!   hist: [1, 2, 3]}                                 hist: [1, 2]}
//! ```
//!
//! The rules are MongoDB 6/7's:
//!
//! * A projection is either an **inclusion** (only the named fields, plus
//!   `_id` unless `_id: 0`) or an **exclusion** (everything but the named
//!   fields); mixing the two is an error, except for `_id`. Literals
//!   (`{a: "x"}`, `{a: {$literal: 1}}`) and `$elemMatch` count as inclusion,
//!   `$slice` on its own as exclusion.
//! * Dotted paths cross embedded documents and arrays of documents; output
//!   fields keep the document's order (literals and `$elemMatch` fields come
//!   after the others).
//! * `$slice`, `$elemMatch` and the positional `field.$` trim arrays; `$`
//!   needs the position the query matched ([`crate::query::Filter::match_details`]).
//! * Aggregation expressions (`{x: {$add: …}}`, `"$field"` values) are not
//!   supported yet and are refused with [`crate::Error::NotSupported`].
//!
//! One job per file: `path.rs` (field path rules), `tree.rs` (the compiled
//! tree and `$slice`), `parse.rs` (specification → tree, all errors),
//! `apply.rs` (tree × document → document), `elem_match.rs` (`$elemMatch`),
//! `expression.rs` (telling aggregation expressions from literals).

mod apply;
mod elem_match;
mod expression;
mod parse;
pub mod path;
mod tree;

#[cfg(test)]
mod tests;

use bson::Document;

use crate::Result;
use elem_match::ElemMatch;
use tree::Node;

/// Whether a projection lists the fields to keep or the fields to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Inclusion,
    Exclusion,
}

/// A compiled find projection.
#[derive(Debug, Clone)]
pub struct Projection {
    kind: Kind,
    root: Node,
    /// The path before `.$`, when the projection has a positional operator.
    positional: Option<Vec<String>>,
    elem_matches: Vec<ElemMatch>,
    /// The specification was empty: documents are returned unchanged.
    identity: bool,
}

impl Projection {
    /// Parses and validates a projection specification.
    pub fn parse(spec: &Document) -> Result<Projection> {
        parse::parse(spec)
    }

    /// Projects one document. `position` is the array position the query
    /// matched ([`crate::query::MatchDetails::array_position`]); only a
    /// positional projection (`"field.$"`) uses it, and fails without it when
    /// its path reaches an array.
    pub fn apply(&self, doc: &Document, position: Option<usize>) -> Result<Document> {
        if self.identity {
            return Ok(doc.clone());
        }
        apply::apply(self, doc, position)
    }

    /// True when the projection has a positional `field.$`, so the caller must
    /// pass the query's match position to [`Projection::apply`].
    pub fn uses_positional(&self) -> bool {
        self.positional.is_some()
    }

    /// True for the empty projection, which returns documents unchanged.
    pub fn is_identity(&self) -> bool {
        self.identity
    }
}
