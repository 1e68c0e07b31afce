//! MongoDB sort: a compiled sort specification and the sort keys it orders
//! documents by.
//!
//! A specification such as `{age: -1, "name.last": 1}` is parsed once into a
//! [`SortSpec`]. Each document is then reduced to a [`SortKey`] — one value
//! per sort field — and keys compare with [`Ord`], field by field, each in its
//! own direction, using MongoDB's cross-type order ([`crate::value::compare`]).
//!
//! Which value a field contributes follows MongoDB exactly (the walk is described
//! in `key.rs`):
//!
//! ```text
//!   field value            ascending key        descending key
//!   missing / null         null                 null
//!   []                     undefined (< null)   undefined (sorts last)
//!   [3, 1, "x"]            1  (smallest)        "x" (largest)
//!   [[1, 2]]               [1, 2] (inner arrays are values, not expanded)
//!   a.b over [{b: 3}, {c: 1}]   candidates 3 and null (the element lacks b)
//!   a.0 over [5, 7]        5 (a numeric component indexes an array)
//! ```
//!
//! With several sort fields the key is the smallest *tuple* among all the
//! tuples a document generates, so fields under the same array stay
//! correlated element by element, as MongoDB's sort key generator does. Two
//! different arrays feeding two sort fields of one document ("parallel
//! arrays") are an error in MongoDB; [`SortSpec::try_key`] reports it.
//!
//! [`sort_documents`] decorates each document with its key once and sorts
//! stably, so ties keep the input order (the engine feeds documents in `_id`
//! order). [`top_k`] serves `sort + limit` with a bounded heap.

mod key;

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use bson::{Bson, Document};

use crate::projection::path;
use crate::value::{Number, compare};
use crate::{Error, Result};

/// The direction of one sort field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Smallest first (`1`).
    Ascending,
    /// Largest first (`-1`).
    Descending,
}

impl Direction {
    /// Applies the direction to an ascending comparison.
    fn apply(self, ord: Ordering) -> Ordering {
        match self {
            Direction::Ascending => ord,
            Direction::Descending => ord.reverse(),
        }
    }
}

/// One field of a sort specification.
#[derive(Debug, Clone)]
struct SortField {
    /// The dotted path as written.
    path: String,
    /// The path split into components.
    parts: Vec<String>,
    direction: Direction,
}

/// A parsed sort specification. Empty means "no sort".
#[derive(Debug, Clone, Default)]
pub struct SortSpec {
    fields: Vec<SortField>,
}

impl SortSpec {
    /// Parses `{a: 1, "b.c": -1}`. Directions are `1` or `-1` of any numeric
    /// type; anything else is an error (`$meta` sorts are not supported).
    pub fn parse(spec: &Document) -> Result<SortSpec> {
        let fields = spec
            .iter()
            .map(|(name, value)| {
                Ok(SortField {
                    path: name.clone(),
                    parts: path::split(name)?,
                    direction: parse_direction(name, value)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(SortSpec { fields })
    }

    /// True when the specification has no fields (documents keep their order).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The sort fields in order, as `(dotted path, direction)`.
    pub fn fields(&self) -> impl Iterator<Item = (&str, Direction)> {
        self.fields.iter().map(|f| (f.path.as_str(), f.direction))
    }

    /// The sort key of `doc`. When two different arrays feed two sort fields
    /// (which MongoDB rejects, see [`SortSpec::try_key`]) each field falls
    /// back to its own smallest/largest value.
    pub fn key(&self, doc: &Document) -> SortKey {
        key::generate(self, doc).unwrap_or_else(|_| key::generate_per_field(self, doc))
    }

    /// The sort key of `doc`, or MongoDB's error when two different arrays
    /// feed two sort fields ("cannot sort with keys that are parallel arrays").
    pub fn try_key(&self, doc: &Document) -> Result<SortKey> {
        key::generate(self, doc).map_err(|key::ParallelArrays| {
            Error::bad_value(format!(
                "cannot sort with keys that are parallel arrays (sort on {})",
                self.describe()
            ))
        })
    }

    /// Compares two documents in this specification's order.
    pub fn compare(&self, a: &Document, b: &Document) -> Ordering {
        self.key(a).cmp(&self.key(b))
    }

    /// `{a: 1, b: -1}` rendered for error messages.
    fn describe(&self) -> String {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|f| {
                let dir = if f.direction == Direction::Ascending {
                    1
                } else {
                    -1
                };
                format!("{}: {dir}", f.path)
            })
            .collect();
        format!("{{{}}}", fields.join(", "))
    }
}

/// Reads the direction of sort field `name`.
fn parse_direction(name: &str, value: &Bson) -> Result<Direction> {
    if let Bson::Document(d) = value
        && d.contains_key("$meta")
    {
        return Err(Error::NotSupported(format!(
            "$meta sort on field '{name}' ({value})"
        )));
    }
    let number = Number::from_bson(value).map(Number::as_f64);
    if number == Some(1.0) {
        Ok(Direction::Ascending)
    } else if number == Some(-1.0) {
        Ok(Direction::Descending)
    } else {
        Err(Error::bad_value(format!(
            "$sort key ordering must be 1 (for ascending) or -1 (for descending); \
             field '{name}' has {value}"
        )))
    }
}

/// A document's precomputed sort key. Keys from the same [`SortSpec`] compare
/// with [`Ord`] in that specification's order.
#[derive(Debug, Clone)]
pub struct SortKey {
    parts: Vec<(Bson, Direction)>,
}

impl SortKey {
    /// The key's values, one per sort field.
    pub fn values(&self) -> impl Iterator<Item = &Bson> {
        self.parts.iter().map(|(v, _)| v)
    }
}

impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts
            .iter()
            .zip(&other.parts)
            .map(|((a, dir), (b, _))| dir.apply(compare(a, b)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| self.parts.len().cmp(&other.parts.len()))
    }
}

impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortKey {}

/// Sorts `docs` by `spec`, stably (ties keep their input order). Each key is
/// computed once. Fails on MongoDB's "parallel arrays" error.
pub fn sort_documents(docs: &mut Vec<Document>, spec: &SortSpec) -> Result<()> {
    if spec.is_empty() || docs.len() < 2 {
        return Ok(());
    }
    // Keys first, so an error leaves `docs` untouched.
    let keys = docs
        .iter()
        .map(|doc| spec.try_key(doc))
        .collect::<Result<Vec<_>>>()?;
    let mut keyed: Vec<(SortKey, Document)> = keys.into_iter().zip(docs.drain(..)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    docs.extend(keyed.into_iter().map(|(_, doc)| doc));
    Ok(())
}

/// The first `k` documents of `docs` in `spec` order, as a stable sort would
/// give them, keeping at most `k` documents in memory. For `skip + limit`,
/// ask for `skip + limit` and drop the first `skip`.
pub fn top_k(
    docs: impl Iterator<Item = Document>,
    spec: &SortSpec,
    k: usize,
) -> Result<Vec<Document>> {
    if k == 0 {
        return Ok(Vec::new());
    }
    if spec.is_empty() {
        return Ok(docs.take(k).collect());
    }
    // A max-heap on (key, arrival): its top is the worst document kept.
    let mut heap: BinaryHeap<Ranked> = BinaryHeap::with_capacity(k.min(1024) + 1);
    for (seq, doc) in docs.enumerate() {
        let key = spec.try_key(&doc)?;
        if heap.len() < k {
            heap.push(Ranked { key, seq, doc });
        } else if heap.peek().is_some_and(|worst| key < worst.key) {
            // Equal keys never displace: the earlier document wins the tie.
            heap.pop();
            heap.push(Ranked { key, seq, doc });
        }
    }
    Ok(heap.into_sorted_vec().into_iter().map(|r| r.doc).collect())
}

/// A document with its sort key and arrival number, ordered by both.
struct Ranked {
    key: SortKey,
    seq: usize,
    doc: Document,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key).then(self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

#[cfg(test)]
mod tests;
