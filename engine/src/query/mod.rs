//! # Query filters
//!
//! MongoDB's query language: a filter document such as
//!
//! ```text
//!  {status: "A", qty: {$lt: 30}, $or: [{tags: "red"}, {"size.h": {$gte: 10}}]}
//! ```
//!
//! selects the documents for which every top-level entry holds. A [`Filter`] is
//! parsed **once** ([`Filter::parse`]: all validation and regex compilation
//! happen there) into a compiled tree, then evaluated against any number of
//! documents ([`Filter::matches`]) without allocation in the common case.
//!
//! The pieces, one job per file:
//!
//! ```text
//!  parse.rs    filter document ──▶ Expr tree   (structure, operators, errors)
//!  operand.rs  operator operands ──▶ validated values ($in, $type, $mod …)
//!  matcher.rs  Expr tree × document ──▶ bool   (comparison rules, $in, $type …)
//!  path.rs     dotted path × document ──▶ candidate values (array fan-out)
//!  regex.rs    PCRE pattern ──▶ regex crate    ($regex dialect and options)
//! ```
//!
//! ## Semantics in one page
//!
//! * A path predicate holds when **some candidate value** of the path holds
//!   it; arrays at the end of a path contribute their elements and
//!   themselves, arrays in the middle are crossed (see `path.rs`).
//! * Negations (`$ne`, `$nin`, `$not`, `$exists: false`, `$nor`) hold when the
//!   positive predicate holds for **no** candidate, so `{a: {$ne: 1}}` rejects
//!   `{a: [1, 2]}` and accepts documents without `a`.
//! * Comparisons stay inside one type bracket (`value::canonical_type`):
//!   `{qty: {$gt: 10}}` never matches a string; null, undefined and a missing
//!   field are equal for `$eq`/`$gte`/`$lte: null`.
//! * `$elemMatch`, `$size` look at an array as a whole; `$elemMatch` and
//!   implicit array traversal report the **array position** the positional
//!   update operator `$` uses ([`Filter::match_details`]).
//!
//! The engine uses two more views of a filter: [`Filter::equality_fields`]
//! (the fields an upsert copies into the new document) and
//! [`Filter::id_equality`] (a point lookup by `_id`).

mod matcher;
mod operand;
mod parse;
mod path;
pub(crate) mod regex;

#[cfg(test)]
mod tests;

use std::sync::{Arc, OnceLock};

use bson::{Bson, Document};

use crate::aggregate::Env;
use crate::{Error, Result};
use matcher::{CmpOp, Expr, Pred, Recorder};

/// A compiled query filter.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
    empty: bool,
    id: Option<Bson>,
    /// Where `$expr` clauses keep their first evaluation error (None when
    /// the filter has no `$expr`).
    errors: Option<Arc<OnceLock<Error>>>,
}

/// What a successful match reports besides "yes".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MatchDetails {
    /// The position, in the array the filter traversed, of the element that
    /// matched: what the positional operator `$` of an update refers to.
    pub array_position: Option<usize>,
}

impl Filter {
    /// Parses and validates a filter document.
    ///
    /// `$expr` clauses may not use `$$NOW` or outside variables here; see
    /// [`Filter::parse_with`].
    pub fn parse(filter: &Document) -> Result<Filter> {
        Filter::parse_with(filter, &Env::default())
    }

    /// Parses a filter whose `$expr` clauses see `env` (`$$NOW`, and
    /// variables such as a `$lookup`'s `let`).
    pub fn parse_with(filter: &Document, env: &Env) -> Result<Filter> {
        let scope = parse::ExprScope::new(env);
        let expr = parse::parse_filter_in(filter, &scope)?;
        let id = id_equality_of(&expr).cloned();
        Ok(Filter {
            expr,
            empty: filter.is_empty(),
            id,
            errors: scope.errors(),
        })
    }

    /// True when `doc` satisfies the filter. A `$expr` clause that fails to
    /// evaluate counts as false; [`Filter::try_matches`] reports the error.
    pub fn matches(&self, doc: &Document) -> bool {
        self.expr.eval(doc, &mut Recorder::off())
    }

    /// Like [`Filter::matches`], but a `$expr` evaluation error is an error.
    pub fn try_matches(&self, doc: &Document) -> Result<bool> {
        let matched = self.matches(doc);
        self.check()?;
        Ok(matched)
    }

    /// The first `$expr` evaluation error seen so far, if any.
    pub fn check(&self) -> Result<()> {
        match self.errors.as_ref().and_then(|errors| errors.get()) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// `None` when the document does not match. When it matches, the array
    /// position that the positional operator `$` refers to (MongoDB's rule:
    /// the index of the matching element of the array traversed by the
    /// filter's path; for `$elemMatch` the element that matched), if any.
    /// With several array predicates the last one evaluated wins, as in
    /// MongoDB; `$or`, `$nor` and `$not` report no position.
    pub fn match_details(&self, doc: &Document) -> Option<MatchDetails> {
        let mut rec = Recorder::recording();
        self.expr.eval(doc, &mut rec).then_some(MatchDetails {
            array_position: rec.position,
        })
    }

    /// Equality conditions usable to seed an upsert, in filter order:
    /// `{a: 1, "b.c": {$eq: 2}, $and: [{d: 3}]}` → `[("a",1), ("b.c",2), ("d",3)]`.
    ///
    /// MongoDB's rules: equalities at the top level and inside `$and` (and a
    /// `$or` with a single clause, which MongoDB simplifies away), including a
    /// one-value `$in` and the members of `$all`; every other operator is
    /// ignored. A path constrained by two equalities is an error ("cannot
    /// infer query fields to set, path 'a' is matched twice").
    pub fn equality_fields(&self) -> Result<Vec<(String, Bson)>> {
        let mut out: Vec<(String, Bson)> = Vec::new();
        collect_equalities(&self.expr, &mut out);
        for (i, (path, _)) in out.iter().enumerate() {
            if out[..i].iter().any(|(earlier, _)| earlier == path) {
                return Err(Error::BadValue(format!(
                    "cannot infer query fields to set, path '{path}' is matched twice"
                )));
            }
        }
        Ok(out)
    }

    /// `Some(v)` when the filter pins `_id` to one value by equality
    /// (`{_id: v}` or `{_id: {$eq: v}}`, also inside a top-level `$and`), so
    /// the engine can do a point lookup and then still call
    /// [`Filter::matches`] for the rest of the filter. Never for
    /// `{_id: {$in: …}}` or values containing `$`-prefixed field names.
    pub fn id_equality(&self) -> Option<&Bson> {
        self.id.as_ref()
    }

    /// True when the filter looks at no field but `_id`: every predicate is
    /// on the path `_id` itself and there is no `$expr`. Then matching the
    /// one-field document `{_id: v}` gives the same answer as matching any
    /// document whose `_id` is `v`, so a point lookup need not decode the
    /// rest of the document ([`Filter::matches_id`]).
    pub fn reads_only_id(&self) -> bool {
        reads_only_id(&self.expr)
    }

    /// True when finding a document by the key of [`Filter::id_equality`]
    /// already decides the match: the filter is exactly `{_id: v}` (or
    /// `{_id: {$eq: v}}`) with `v` a number (not NaN), a string or an
    /// ObjectId. For such values `$eq` is [`crate::value::values_equal`],
    /// and two values are equal exactly when their keys are (the key
    /// encoding's tested invariant), so the document found under `v`'s key
    /// matches and no other does.
    pub fn id_lookup_decides(&self) -> bool {
        match &self.expr {
            Expr::Field {
                path,
                pred: Pred::Cmp(CmpOp::Eq, value),
            } if path.as_str() == "_id" => match value {
                Bson::Int32(_) | Bson::Int64(_) | Bson::String(_) | Bson::ObjectId(_) => true,
                Bson::Double(d) => !d.is_nan(),
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether a document whose `_id` is `id` matches; only meaningful when
    /// [`Filter::reads_only_id`] holds.
    pub fn matches_id(&self, id: Bson) -> bool {
        if let Bson::Array(_) = id {
            // Never stored (`_id` cannot be an array), but exact all the same.
            return self.matches(&bson::doc! {"_id": id});
        }
        self.expr.eval_id(&id)
    }

    /// True for the empty filter `{}`.
    pub fn is_empty(&self) -> bool {
        self.empty
    }
}

fn collect_equalities(expr: &Expr, out: &mut Vec<(String, Bson)>) {
    match expr {
        Expr::And(children) => children.iter().for_each(|c| collect_equalities(c, out)),
        Expr::Or(children) if children.len() == 1 => collect_equalities(&children[0], out),
        Expr::Field {
            path,
            pred: Pred::Cmp(CmpOp::Eq, value),
        } => {
            out.push((path.as_str().to_string(), value.clone()));
        }
        Expr::Field {
            path,
            pred: Pred::In(list),
        } if list.values.len() == 1 && list.patterns.is_empty() => {
            out.push((path.as_str().to_string(), list.values[0].clone()));
        }
        _ => {}
    }
}

fn reads_only_id(expr: &Expr) -> bool {
    match expr {
        Expr::And(children) | Expr::Or(children) | Expr::Nor(children) => {
            children.iter().all(reads_only_id)
        }
        Expr::Not(child) => reads_only_id(child),
        Expr::Const(_) => true,
        Expr::Field { path, .. } => path.as_str() == "_id",
        Expr::Aggregate(_) => false,
    }
}

fn id_equality_of(expr: &Expr) -> Option<&Bson> {
    match expr {
        Expr::And(children) => children.iter().find_map(id_equality_of),
        Expr::Field {
            path,
            pred: Pred::Cmp(CmpOp::Eq, value),
        } if path.as_str() == "_id" && !has_operator_keys(value, 0) => Some(value),
        _ => None,
    }
}

/// True when a value holds a `$`-prefixed field name at any depth (values
/// nested deeper than the filter depth bound count as "yes": no point lookup).
fn has_operator_keys(value: &Bson, depth: usize) -> bool {
    if depth > parse::MAX_DEPTH {
        return true;
    }
    match value {
        Bson::Document(d) => d
            .iter()
            .any(|(k, v)| k.starts_with('$') || has_operator_keys(v, depth + 1)),
        Bson::Array(items) => items.iter().any(|v| has_operator_keys(v, depth + 1)),
        _ => false,
    }
}
