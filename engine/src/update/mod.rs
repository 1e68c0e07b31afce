//! # Updates
//!
//! MongoDB's update language: an update document such as
//!
//! ```text
//!  {$set: {"a.b": 1}, $inc: {n: 2}, $push: {tags: {$each: ["x"], $slice: -5}}}
//! ```
//!
//! or a replacement document (`{name: "x"}`: no operators at all). An
//! [`Update`] is parsed **once** (all validation happens there) and then
//! applied to any number of documents ([`Update::apply`]) or used to build
//! an upsert's new document ([`Update::upsert_document`]).
//!
//! The pieces, one job per file:
//!
//! ```text
//!  parse.rs       update document ──▶ tree of operators by path (conflicts, operands)
//!  tree.rs        the tree, and the walk applying it to a document
//!  path.rs        "a.$[x].0" ──▶ segments; field order; error-message paths
//!  fields.rs      $set $unset $inc $mul $min $max $currentDate $setOnInsert $bit
//!  arrays.rs      $push $addToSet $pop $pull $pullAll
//!  rename.rs      $rename (sources are taken out before the walk)
//!  positional.rs  $ · $[] · $[id] with arrayFilters
//!  matcher.rs     $pull conditions and array filters on single elements
//!  upsert.rs      the document an upsert inserts
//!  identical.rs   "did it change?" (byte-for-byte equality)
//!  render.rs      values in error messages, as MongoDB prints them
//! ```
//!
//! ## Semantics in one page
//!
//! * **Order.** Paths never overlap (parse rejects `a` with `a.b`), so the
//!   result does not depend on operator order. Within a document the tree
//!   applies fields in name order (numeric names by length first), which
//!   is the order new fields are appended in, as MongoDB does.
//! * **Paths.** Missing fields and intermediate documents are created;
//!   a numeric segment indexes an array (padding with nulls past the end)
//!   and names a field in a document; anything else through a scalar or an
//!   array is `PathNotViable` ("Cannot create field 'b' in element {a: 1}"),
//!   except for `$unset` (and operators that do nothing in this application).
//!   `$pop`, `$pull` and `$pullAll` create nothing on a missing path.
//! * **Modified.** An application reports `modified: false` when every
//!   operator left its field byte-for-byte unchanged (`$set` to the current
//!   value, `$addToSet` of a present value, `$pull` with no match…). As in
//!   MongoDB, `$currentDate` and a `$push` with `$sort` always count, and a
//!   replacement counts unless the document already equals it byte for byte.
//! * **Atomic.** `apply` works on a copy; on any error the input is
//!   untouched and nothing is returned to write.
//! * **`_id` is immutable.** An operator that would change it (even by
//!   type: `1` → `1.0`) fails with `ImmutableField`; setting it to its
//!   current value is fine. A replacement's `_id` must equal it by value.
//! * **Deterministic.** `$currentDate` uses [`UpdateContext::now`], which
//!   comes from the replicated command; nothing reads a clock.

mod arrays;
mod fields;
mod identical;
mod matcher;
mod parse;
mod path;
mod positional;
mod push;
mod rename;
mod render;
mod replace;
mod tree;
mod upsert;

#[cfg(test)]
mod tests;

use bson::{Bson, DateTime, Document};

use crate::query::Filter;
use crate::{Error, Result};
use identical::identical;
use parse::Operators;
use path::Trail;
use positional::ArrayFilters;

/// A parsed update: operators or a replacement document.
#[derive(Debug, Clone)]
pub struct Update {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Operators(Box<Operators>),
    Replacement(Document),
}

/// What an application needs besides the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateContext {
    /// The time `$currentDate` stores: from the replicated command, never the
    /// local clock.
    pub now: DateTime,
    /// The array position the filter matched (`Filter::match_details`), for
    /// the positional operator `$`.
    pub position: Option<usize>,
}

/// The result of applying an update to a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The updated document.
    pub document: Document,
    /// False when the update changed nothing (MongoDB's `modifiedCount`).
    pub modified: bool,
}

/// The state of one application, shared by the operators.
pub(crate) struct Env<'a> {
    now: DateTime,
    position: Option<usize>,
    /// True when building an upsert's new document (`$setOnInsert` applies).
    is_insert: bool,
    /// The original document's `_id`, for error messages.
    id: Option<&'a Bson>,
    /// `$rename` values taken from their sources, by rename.
    renamed: Vec<Option<Bson>>,
    filters: &'a ArrayFilters,
}

#[cfg(test)]
impl<'a> Env<'a> {
    /// An environment for operator unit tests.
    pub(crate) fn for_tests(now: DateTime, filters: &'a ArrayFilters) -> Env<'a> {
        Env {
            now,
            position: None,
            is_insert: false,
            id: None,
            renamed: Vec::new(),
            filters,
        }
    }
}

impl Update {
    /// Parses an operator update (every top-level key an operator such as
    /// `$set`) with its `arrayFilters`. A document without operators is an
    /// error here: use [`Update::replacement`].
    pub fn parse(update: &Document, array_filters: &[Document]) -> Result<Update> {
        if let Some(first) = update.keys().next()
            && !first.starts_with('$')
        {
            return Err(Error::FailedToParse(format!(
                "Update document requires atomic operators (found field '{first}'); use a \
                 replacement to replace the whole document"
            )));
        }
        let operators = parse::parse(update, array_filters)?;
        Ok(Update {
            kind: Kind::Operators(Box::new(operators)),
        })
    }

    /// A replacement document: no top-level key may start with `$`.
    pub fn replacement(doc: &Document) -> Result<Update> {
        if let Some(key) = doc.keys().find(|k| k.starts_with('$')) {
            return Err(Error::bad_value(format!(
                "The dollar ($) prefixed field '{key}' in '{key}' is not allowed in the context of \
                 an update's replacement document. Consider using an aggregation pipeline with \
                 $replaceWith."
            )));
        }
        Ok(Update {
            kind: Kind::Replacement(doc.clone()),
        })
    }

    /// True for a replacement document.
    pub fn is_replacement(&self) -> bool {
        matches!(self.kind, Kind::Replacement(_))
    }

    /// Applies the update to an existing document. Errors leave `doc`
    /// untouched (the result is built on a copy).
    pub fn apply(&self, doc: &Document, ctx: &UpdateContext) -> Result<Applied> {
        match &self.kind {
            Kind::Operators(ops) => ops.apply(doc, ctx, false),
            Kind::Replacement(replacement) => replace::apply(doc, replacement, ctx.now),
        }
    }

    /// Builds the document an upsert inserts (see `upsert.rs`). The caller
    /// adds a generated `_id` if there is none and puts `_id` first.
    pub fn upsert_document(&self, filter: &Filter, ctx: &UpdateContext) -> Result<Document> {
        match &self.kind {
            Kind::Operators(ops) => {
                let seed = upsert::seed(filter.equality_fields()?)?;
                let ctx = UpdateContext {
                    now: ctx.now,
                    position: None,
                };
                Ok(ops.apply(&seed, &ctx, true)?.document)
            }
            Kind::Replacement(replacement) => {
                replace::upsert_document(replacement, filter.id_equality(), ctx.now)
            }
        }
    }
}

impl Operators {
    /// Applies the operators to a copy of `doc`.
    fn apply(&self, doc: &Document, ctx: &UpdateContext, is_insert: bool) -> Result<Applied> {
        let mut copy = doc.clone();
        let (renamed, mut modified) = rename::take_sources(&self.renames, &mut copy)?;
        let mut env = Env {
            now: ctx.now,
            position: ctx.position,
            is_insert,
            id: doc.get("_id"),
            renamed,
            filters: &self.filters,
        };
        let mut root = Bson::Document(copy);
        modified |= tree::apply_object(&self.root, &mut root, &Trail::root(), &mut env)?;
        let Bson::Document(document) = root else {
            return Err(Error::bad_value("update replaced the document root"));
        };
        if let Some(old_id) = doc.get("_id")
            && !document
                .get("_id")
                .is_some_and(|new_id| identical(old_id, new_id))
        {
            let path = self.id_path.as_deref().unwrap_or("_id");
            return Err(Error::ImmutableField(format!(
                "Performing an update on the path '{path}' would modify the immutable field '_id'"
            )));
        }
        Ok(Applied { document, modified })
    }
}
