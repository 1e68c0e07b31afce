//! Sort key generation: which value of a document each sort field uses.
//!
//! Every sort field walks its path from the document root:
//!
//! * through embedded documents, component by component;
//! * a numeric component over an array picks that element (`a.0`);
//! * any other component over an array expands the array: each element
//!   continues the walk (a document element goes on, any other element gives
//!   `null`, as a missing field does);
//! * an array at the end of the path expands into its elements, and an empty
//!   one gives `undefined`; an array that is itself an array element is a
//!   plain value and is not expanded again;
//! * a missing field, or a scalar where the path goes on, gives `null`.
//!
//! Fields whose walks reach the *same* array expand it together, element by
//! element, so they stay correlated; a document therefore generates a set of
//! key tuples, and its sort key is the smallest tuple in the specification's
//! order (the smallest value for an ascending field, the largest for a
//! descending one). Walks that reach two *different* arrays are "parallel
//! arrays" ([`ParallelArrays`]), which MongoDB refuses to sort.
//!
//! The common case — no array on any path — builds the key straight from the
//! walked values.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::{SortKey, SortSpec};
use crate::projection::path::array_index;
use crate::value::compare;

/// Two sort fields of one document reach two different arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ParallelArrays;

/// How deep array expansion may nest before the rest counts as missing.
/// Stored documents nest at most 100 levels, so this never binds for them.
const MAX_DEPTH: usize = 200;

static NULL: Bson = Bson::Null;
static UNDEFINED: Bson = Bson::Undefined;

/// The sort key of `doc` under `spec`.
pub(super) fn generate(spec: &SortSpec, doc: &Document) -> Result<SortKey, ParallelArrays> {
    // Fast path: no path meets an array, so each field has exactly one value.
    let mut parts = Vec::with_capacity(spec.fields.len());
    for field in &spec.fields {
        match walk(&field.parts, Start::Document(doc), 0) {
            Walk::Value(v) => parts.push((v.clone(), field.direction)),
            Walk::Array { .. } => return generate_with_arrays(spec, doc),
        }
    }
    Ok(SortKey { parts })
}

/// The key with each field taken on its own (its smallest or largest value),
/// ignoring correlation: the fallback when fields meet parallel arrays.
pub(super) fn generate_per_field(spec: &SortSpec, doc: &Document) -> SortKey {
    let parts = spec
        .fields
        .iter()
        .map(|field| {
            let single = SortSpec {
                fields: vec![field.clone()],
            };
            let value = generate(&single, doc)
                .ok()
                .and_then(|key| key.parts.into_iter().next())
                .map_or(Bson::Null, |(v, _)| v);
            (value, field.direction)
        })
        .collect();
    SortKey { parts }
}

fn generate_with_arrays(spec: &SortSpec, doc: &Document) -> Result<SortKey, ParallelArrays> {
    let mut search = Search {
        spec,
        tuple: vec![&NULL; spec.fields.len()],
        best: None,
    };
    let pending = (0..spec.fields.len())
        .map(|field| Pending {
            field,
            start: Start::Document(doc),
            pos: 0,
        })
        .collect();
    search.expand(pending, 0)?;
    let best = search.best.unwrap_or_default();
    let parts = best
        .into_iter()
        .zip(&spec.fields)
        .map(|(v, f)| (v.clone(), f.direction))
        .collect();
    Ok(SortKey { parts })
}

/// Where a walk starts: the document root, or a value (an array element or
/// a field value) to continue from.
#[derive(Clone, Copy)]
enum Start<'d> {
    Document(&'d Document),
    Element(&'d Bson),
}

/// Where a field's walk stopped.
enum Walk<'d> {
    /// The field has one value here.
    Value(&'d Bson),
    /// The walk reached an array that must be expanded: at the end of the
    /// path (`leaf`) or with components still to go from `pos`.
    Array {
        array: &'d [Bson],
        pos: usize,
        leaf: bool,
    },
}

/// Walks `parts[pos..]` from `start` until a value or an array to expand.
fn walk<'d>(parts: &[String], start: Start<'d>, mut pos: usize) -> Walk<'d> {
    // `in_array`: the current value is an array element (or an element picked
    // by position), so an array here is a value, not something to expand.
    let (mut value, mut in_array) = match start {
        Start::Document(doc) => match parts.first().and_then(|p| doc.get(p)) {
            Some(v) => {
                pos = 1;
                (v, false)
            }
            None => return Walk::Value(&NULL),
        },
        Start::Element(v) => (v, true),
    };
    loop {
        let Some(component) = parts.get(pos) else {
            return match value {
                Bson::Array(array) if !in_array => Walk::Array {
                    array,
                    pos,
                    leaf: true,
                },
                _ => Walk::Value(value),
            };
        };
        match value {
            Bson::Document(d) => match d.get(component) {
                Some(v) => (value, in_array) = (v, false),
                None => return Walk::Value(&NULL),
            },
            Bson::Array(array) => match array_index(component) {
                Some(i) => match array.get(i) {
                    Some(v) => (value, in_array) = (v, true),
                    None => return Walk::Value(&NULL),
                },
                None if in_array => return Walk::Value(&NULL),
                None => {
                    return Walk::Array {
                        array,
                        pos,
                        leaf: false,
                    };
                }
            },
            _ => return Walk::Value(&NULL),
        }
        pos += 1;
    }
}

/// A field whose walk is still to be done.
struct Pending<'d> {
    field: usize,
    start: Start<'d>,
    pos: usize,
}

/// The search for the smallest key tuple of one document.
struct Search<'s, 'd> {
    spec: &'s SortSpec,
    /// The tuple being built, one value per sort field.
    tuple: Vec<&'d Bson>,
    /// The smallest complete tuple so far.
    best: Option<Vec<&'d Bson>>,
}

impl<'d> Search<'_, 'd> {
    /// Walks the pending fields, expands the one array they reach (element by
    /// element, recursively), and offers every complete tuple.
    fn expand(&mut self, pending: Vec<Pending<'d>>, depth: usize) -> Result<(), ParallelArrays> {
        let mut array: Option<&'d [Bson]> = None;
        let mut at_leaf = Vec::new();
        let mut through = Vec::new();
        for p in pending {
            let parts = &self.spec.fields[p.field].parts;
            match walk(parts, p.start, p.pos) {
                Walk::Value(v) => self.tuple[p.field] = v,
                Walk::Array { .. } if depth >= MAX_DEPTH => self.tuple[p.field] = &NULL,
                Walk::Array {
                    array: found,
                    pos,
                    leaf,
                } => {
                    match array {
                        Some(a) if !std::ptr::eq(a, found) => return Err(ParallelArrays),
                        _ => array = Some(found),
                    }
                    if leaf {
                        at_leaf.push(p.field);
                    } else {
                        through.push((p.field, pos));
                    }
                }
            }
        }
        let Some(array) = array else {
            self.offer();
            return Ok(());
        };
        if array.is_empty() {
            // An empty array ends a path as `undefined`; midway it is missing.
            at_leaf.iter().for_each(|&f| self.tuple[f] = &UNDEFINED);
            through.iter().for_each(|&(f, _)| self.tuple[f] = &NULL);
            self.offer();
            return Ok(());
        }
        for element in array {
            at_leaf.iter().for_each(|&f| self.tuple[f] = element);
            let next = through
                .iter()
                .map(|&(field, pos)| Pending {
                    field,
                    start: Start::Element(element),
                    pos,
                })
                .collect();
            self.expand(next, depth + 1)?;
        }
        Ok(())
    }

    /// Keeps the current tuple if it sorts before the best one so far.
    fn offer(&mut self) {
        let better = match &self.best {
            None => true,
            Some(best) => self.compare_tuple(best) == Ordering::Less,
        };
        if better {
            match &mut self.best {
                Some(best) => best.copy_from_slice(&self.tuple),
                None => self.best = Some(self.tuple.clone()),
            }
        }
    }

    fn compare_tuple(&self, other: &[&Bson]) -> Ordering {
        self.tuple
            .iter()
            .zip(other)
            .zip(&self.spec.fields)
            .map(|((a, b), f)| f.direction.apply(compare(a, b)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}
