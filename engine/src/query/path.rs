//! Field paths and the values they reach in a document.
//!
//! A filter names fields by dotted paths (`"size.h"`, `"stock.0.qty"`). Against
//! one document a path does not reach *a* value but a sequence of *candidate*
//! values, because arrays met on the way fan out. A path predicate matches when
//! any candidate satisfies it. This module enumerates the candidates exactly
//! the way MongoDB's matcher does:
//!
//! ```text
//!  {a: {b: [1, [2, 3]]}}   path "a.b"   candidates: 1, [2,3], [1,[2,3]]
//!  {a: [{b: 1}, {c: 2}]}   path "a.b"   candidates: 1, missing
//!  {a: [1, 2]}             path "a.b"   candidates: (none)
//!  {a: [[{b: 1}]]}         path "a.b"   candidates: (none: no flattening of nested arrays)
//!  {a: [7, {"1": 8}]}      path "a.1"   candidates: 8, {"1": 8}
//!  {a: null}               path "a.b"   candidates: missing
//! ```
//!
//! The rules:
//!
//! * Walk through embedded documents one segment at a time. A scalar (or null)
//!   in the middle of the path ends the walk with *missing*; so does an absent
//!   field.
//! * An array at the **end** of the path yields each element, then the array
//!   itself (so `{a: [1, 2]}` matches both `{a: 1}` and `{a: [1, 2]}`). Nested
//!   arrays are not flattened further. Operators that look at the array as a
//!   whole (`$size`, `$elemMatch`) ask for [`LeafArrays::Whole`] and get only
//!   the array.
//! * An array in the **middle** of the path is crossed element by element: a
//!   document element continues the rest of the path (and reports *missing*
//!   if the field is absent there); other elements are skipped. In addition,
//!   a numeric segment (`"0"`, `"12"`) selects the element at that position,
//!   whatever its type, and continues after the segment; an array there is
//!   entered directly.
//!
//! Every candidate carries the *array offset* the positional operator `$`
//! refers to: the index of the element of the outermost array that was crossed
//! implicitly (an explicit numeric segment is not an implicit crossing and
//! records nothing).

use bson::{Bson, Document};

/// How an array found at the end of a path is presented to a predicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafArrays {
    /// Each element, then the array itself (equality, comparisons, `$type` …).
    Traverse,
    /// Only the array itself (`$size`, `$elemMatch`).
    Whole,
}

/// A parsed dotted field path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    dotted: String,
    parts: Vec<Part>,
}

/// One segment of a path: where its name is in the dotted string, and, when
/// the segment can also address an array position (all ASCII digits, in
/// canonical form), that position.
#[derive(Debug, Clone, PartialEq)]
struct Part {
    name: std::ops::Range<usize>,
    index: Option<usize>,
}

impl Part {
    fn new(name: &str, start: usize) -> Part {
        let canonical = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_digit())
            && (name == "0" || !name.starts_with('0'));
        let index = if canonical { name.parse().ok() } else { None };
        Part {
            name: start..start + name.len(),
            index,
        }
    }
}

impl Path {
    /// Parses a dotted path; every string is a valid path (empty segments
    /// simply name fields called `""`).
    pub(crate) fn new(dotted: &str) -> Path {
        let mut start = 0;
        let parts = dotted
            .split('.')
            .map(|name| {
                let part = Part::new(name, start);
                start += name.len() + 1;
                part
            })
            .collect();
        Path {
            dotted: dotted.to_string(),
            parts,
        }
    }

    /// The name of segment `k`.
    fn name(&self, k: usize) -> &str {
        &self.dotted[self.parts[k].name.clone()]
    }

    /// The path as written in the filter.
    pub(crate) fn as_str(&self) -> &str {
        &self.dotted
    }

    /// Calls `visit(candidate, array_offset)` for each candidate value of the
    /// path in `doc` (`None` = missing) until it returns true; returns whether
    /// it did.
    pub(crate) fn any<F>(&self, doc: &Document, leaf: LeafArrays, visit: &mut F) -> bool
    where
        F: FnMut(Option<&Bson>, Option<usize>) -> bool,
    {
        self.walk_document(doc, 0, None, leaf, visit)
    }

    /// Walks `parts[start..]` from `doc` through embedded documents until the
    /// end of the path, an array, or a dead end.
    fn walk_document<F>(
        &self,
        doc: &Document,
        start: usize,
        offset: Option<usize>,
        leaf: LeafArrays,
        visit: &mut F,
    ) -> bool
    where
        F: FnMut(Option<&Bson>, Option<usize>) -> bool,
    {
        let mut current = doc;
        let mut k = start;
        loop {
            let Some(value) = field(current, self.name(k)) else {
                return visit(None, offset);
            };
            let last = k + 1 == self.parts.len();
            match value {
                Bson::Array(items) => {
                    return self.walk_array(items, value, k + 1, offset, leaf, visit);
                }
                Bson::Document(inner) if !last => {
                    current = inner;
                    k += 1;
                }
                _ if last => return visit(Some(value), offset),
                _ => return visit(None, offset),
            }
        }
    }

    /// Enumerates candidates below the array `items` (whose value is `whole`),
    /// with `parts[k..]` still to walk. `offset` is the offset imposed by an
    /// enclosing implicit traversal, which wins over ours.
    fn walk_array<F>(
        &self,
        items: &[Bson],
        whole: &Bson,
        k: usize,
        offset: Option<usize>,
        leaf: LeafArrays,
        visit: &mut F,
    ) -> bool
    where
        F: FnMut(Option<&Bson>, Option<usize>) -> bool,
    {
        if k == self.parts.len() {
            if leaf == LeafArrays::Traverse {
                for (i, item) in items.iter().enumerate() {
                    if visit(Some(item), offset.or(Some(i))) {
                        return true;
                    }
                }
            }
            return visit(Some(whole), offset);
        }
        let part = &self.parts[k];
        let ends_after_part = k + 1 == self.parts.len();
        for (i, item) in items.iter().enumerate() {
            if let Bson::Document(inner) = item
                && self.walk_document(inner, k, offset.or(Some(i)), leaf, visit)
            {
                return true;
            }
            if part.index != Some(i) {
                continue;
            }
            let found = if ends_after_part {
                visit(Some(item), offset)
            } else {
                match item {
                    Bson::Document(inner) => self.walk_document(inner, k + 1, offset, leaf, visit),
                    Bson::Array(nested) => {
                        self.walk_array(nested, item, k + 1, offset, leaf, visit)
                    }
                    _ => false,
                }
            };
            if found {
                return true;
            }
        }
        false
    }
}

/// Looks a field up; small documents are scanned, which beats hashing the
/// name for the handful of fields most documents have.
fn field<'a>(doc: &'a Document, name: &str) -> Option<&'a Bson> {
    const SCAN_LIMIT: usize = 16;
    if doc.len() <= SCAN_LIMIT {
        doc.iter().find_map(|(k, v)| (k == name).then_some(v))
    } else {
        doc.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    /// All candidates of `path` in `doc`, as (value or "missing", offset).
    fn candidates(
        doc: &Document,
        path: &str,
        leaf: LeafArrays,
    ) -> Vec<(Option<Bson>, Option<usize>)> {
        let mut out = Vec::new();
        Path::new(path).any(doc, leaf, &mut |v, off| {
            out.push((v.cloned(), off));
            false
        });
        out
    }

    #[test]
    fn walks_embedded_documents() {
        let d = doc! {"a": {"b": {"c": 5}}};
        assert_eq!(
            candidates(&d, "a.b.c", LeafArrays::Traverse),
            vec![(Some(bson!(5)), None)]
        );
        assert_eq!(
            candidates(&d, "a.x.c", LeafArrays::Traverse),
            vec![(None, None)]
        );
        assert_eq!(
            candidates(&d, "a.b", LeafArrays::Traverse),
            vec![(Some(bson!({"c": 5})), None)]
        );
    }

    #[test]
    fn scalar_or_null_in_the_middle_is_missing() {
        assert_eq!(
            candidates(&doc! {"a": 1}, "a.b", LeafArrays::Traverse),
            vec![(None, None)]
        );
        assert_eq!(
            candidates(&doc! {"a": null}, "a.b", LeafArrays::Traverse),
            vec![(None, None)]
        );
    }

    #[test]
    fn leaf_array_yields_elements_then_itself() {
        let d = doc! {"a": {"b": [1, [2, 3]]}};
        assert_eq!(
            candidates(&d, "a.b", LeafArrays::Traverse),
            vec![
                (Some(bson!(1)), Some(0)),
                (Some(bson!([2, 3])), Some(1)),
                (Some(bson!([1, [2, 3]])), None),
            ]
        );
        assert_eq!(
            candidates(&d, "a.b", LeafArrays::Whole),
            vec![(Some(bson!([1, [2, 3]])), None)]
        );
        let empty = doc! {"a": []};
        assert_eq!(
            candidates(&empty, "a", LeafArrays::Traverse),
            vec![(Some(bson!([])), None)]
        );
    }

    #[test]
    fn middle_array_continues_into_documents_only() {
        let d = doc! {"a": [{"b": 1}, {"c": 2}, 3, [{"b": 4}]]};
        assert_eq!(
            candidates(&d, "a.b", LeafArrays::Traverse),
            vec![(Some(bson!(1)), Some(0)), (None, Some(1))]
        );
        assert!(candidates(&doc! {"a": [1, 2]}, "a.b", LeafArrays::Traverse).is_empty());
    }

    #[test]
    fn outer_offset_wins_over_inner() {
        let d = doc! {"a": [{"b": 1}, {"b": [3, 5]}]};
        let c = candidates(&d, "a.b", LeafArrays::Traverse);
        assert_eq!(c[1], (Some(bson!(3)), Some(1)));
        assert_eq!(c[2], (Some(bson!(5)), Some(1)));
        assert_eq!(c[3], (Some(bson!([3, 5])), Some(1)));
    }

    #[test]
    fn numeric_segment_is_index_and_field_name() {
        let d = doc! {"a": [7, {"1": 8}]};
        assert_eq!(
            candidates(&d, "a.1", LeafArrays::Traverse),
            vec![(Some(bson!(8)), Some(1)), (Some(bson!({"1": 8})), None)]
        );
        assert_eq!(
            candidates(&doc! {"a": {"1": "x"}}, "a.1", LeafArrays::Traverse),
            vec![(Some(bson!("x")), None)]
        );
        assert!(candidates(&doc! {"a": [1]}, "a.1", LeafArrays::Traverse).is_empty());
        // Non-canonical numbers never address positions.
        assert!(candidates(&doc! {"a": [1, 2]}, "a.01", LeafArrays::Traverse).is_empty());
    }

    #[test]
    fn numeric_segment_enters_nested_arrays() {
        let d = doc! {"a": [[1, 2], [{"b": 3}]]};
        assert_eq!(
            candidates(&d, "a.0.1", LeafArrays::Traverse),
            vec![(Some(bson!(2)), None)]
        );
        assert_eq!(
            candidates(&d, "a.1.b", LeafArrays::Traverse),
            vec![(Some(bson!(3)), Some(0))]
        );
        // The element selected by a final numeric segment is not expanded.
        assert_eq!(
            candidates(&d, "a.0", LeafArrays::Traverse),
            vec![(Some(bson!([1, 2])), None)]
        );
    }

    #[test]
    fn stops_at_the_first_accepted_candidate() {
        let d = doc! {"a": [1, 2, 3]};
        let mut seen = 0;
        let found = Path::new("a").any(&d, LeafArrays::Traverse, &mut |v, _| {
            seen += 1;
            v == Some(&bson!(2))
        });
        assert!(found);
        assert_eq!(seen, 2);
    }
}
