//! `$push` and its modifiers `$each`, `$position`, `$sort` and `$slice`.
//!
//! Whatever the order of the clauses, MongoDB works in a fixed order:
//!
//! ```text
//!   insert $each at $position (default: the end) → $sort → $slice
//! ```
//!
//! * `$position` counts from the front, or from the back when negative
//!   (`-1` inserts before the last element); out of range it clamps.
//! * `$sort: 1 | -1` orders the elements by [`compare`]; `$sort: {f: 1, …}`
//!   orders embedded documents by their fields (a missing field, or an
//!   element that is not a document, sorts as null; an array field sorts by
//!   its smallest element ascending, largest descending). The sort is stable.
//! * `$slice: n` keeps the first `n` elements, `-n` the last `n`.
//!
//! Without `$each`, the operand is pushed as one element, even a document
//! with other `$` keys or an array.

use std::cmp::Ordering;

use bson::Bson;

use super::path::MAX_PATH_SEGMENTS;
use crate::value::{compare, type_name};
use crate::{Error, Result};

/// `$push` with its modifiers.
#[derive(Debug, Clone)]
pub struct Push {
    each: Vec<Bson>,
    position: Option<i64>,
    sort: Option<SortSpec>,
    slice: Option<i64>,
}

/// How `$push`'s `$sort` orders the array.
#[derive(Debug, Clone)]
enum SortSpec {
    /// `$sort: 1 | -1`: by the elements themselves.
    Whole { descending: bool },
    /// `$sort: {field: 1 | -1, …}`: by fields of embedded documents.
    Fields(Vec<(Vec<String>, bool)>),
}

/// Parses `$push`'s operand: a value, or `{$each: [...], $position, $sort, $slice}`.
pub fn parse(operand: &Bson) -> Result<Push> {
    let modifiers = match operand {
        Bson::Document(d) if d.contains_key("$each") => d,
        other => {
            return Ok(Push {
                each: vec![other.clone()],
                position: None,
                sort: None,
                slice: None,
            });
        }
    };
    let mut push = Push {
        each: Vec::new(),
        position: None,
        sort: None,
        slice: None,
    };
    for (clause, value) in modifiers {
        match clause.as_str() {
            "$each" => match value {
                Bson::Array(values) => push.each = values.clone(),
                other => {
                    return Err(Error::bad_value(format!(
                        "The argument to $each in $push must be an array but it was of type: {}",
                        type_name(other)
                    )));
                }
            },
            "$slice" => push.slice = Some(integral(value, "$slice")?),
            "$position" => push.position = Some(integral(value, "$position")?),
            "$sort" => push.sort = Some(parse_sort(value)?),
            other => {
                return Err(Error::bad_value(format!(
                    "Unrecognized clause in $push: {other}"
                )));
            }
        }
    }
    Ok(push)
}

/// An integer-valued number (`2`, `NumberLong(2)`, `2.0`) for `$slice`/`$position`.
fn integral(value: &Bson, clause: &str) -> Result<i64> {
    let n = match value {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        Bson::Double(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
        _ => None,
    };
    n.ok_or_else(|| {
        let ty = type_name(value);
        Error::bad_value(if clause == "$slice" {
            format!("The value for $slice must be an integer value but was given type: {ty}")
        } else {
            format!("The value for $position must be an integer value, not of type: {ty}")
        })
    })
}

fn parse_sort(value: &Bson) -> Result<SortSpec> {
    let direction = |v: &Bson| -> Result<bool> {
        match crate::value::Number::from_bson(v).map(|n| n.as_f64()) {
            Some(d) if d == 1.0 || d == -1.0 => Ok(d < 0.0),
            _ => Err(Error::bad_value(
                "The $sort element value must be either 1 or -1",
            )),
        }
    };
    match value {
        Bson::Document(pattern) => {
            if pattern.is_empty() {
                return Err(Error::bad_value(
                    "The $sort pattern is empty when it should be a set of fields.",
                ));
            }
            let mut fields = Vec::with_capacity(pattern.len());
            for (field, dir) in pattern {
                let parts: Vec<String> = field.split('.').map(str::to_string).collect();
                if parts.iter().any(String::is_empty) || parts.len() > MAX_PATH_SEGMENTS {
                    return Err(Error::bad_value(format!(
                        "The $sort field is a dotted field but has an empty part: {field}"
                    )));
                }
                fields.push((parts, direction(dir)?));
            }
            Ok(SortSpec::Fields(fields))
        }
        v if crate::value::Number::from_bson(v).is_some() => Ok(SortSpec::Whole {
            descending: direction(v)?,
        }),
        _ => Err(Error::bad_value(
            "The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort \
             embedded fields",
        )),
    }
}

impl Push {
    /// Inserts, sorts and slices; returns whether the array changed.
    pub fn apply(&self, array: &mut Vec<Bson>) -> bool {
        let mut changed = !self.each.is_empty();
        let at = match self.position {
            None => array.len(),
            Some(p) if p >= 0 => usize::try_from(p).map_or(array.len(), |p| p.min(array.len())),
            Some(p) => array
                .len()
                .saturating_sub(usize::try_from(p.unsigned_abs()).unwrap_or(usize::MAX)),
        };
        array.splice(at..at, self.each.iter().cloned());
        if let Some(sort) = &self.sort {
            // MongoDB counts a sort as a modification even when the order
            // was already right.
            sort_array(array, sort);
            changed = true;
        }
        if let Some(n) = self.slice {
            let keep = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
            if array.len() > keep {
                if n >= 0 {
                    array.truncate(keep);
                } else {
                    array.drain(..array.len() - keep);
                }
                changed = true;
            }
        }
        changed
    }
}

static NULL: Bson = Bson::Null;
static UNDEFINED: Bson = Bson::Undefined;

/// Sorts stably.
fn sort_array(array: &mut Vec<Bson>, spec: &SortSpec) {
    let mut order: Vec<usize> = (0..array.len()).collect();
    match spec {
        SortSpec::Whole { descending } => {
            order.sort_by(|&i, &j| directed(compare(&array[i], &array[j]), *descending))
        }
        SortSpec::Fields(fields) => {
            let keys: Vec<Vec<&Bson>> = array
                .iter()
                .map(|e| {
                    fields
                        .iter()
                        .map(|(path, desc)| sort_key(e, path, *desc))
                        .collect()
                })
                .collect();
            order.sort_by(|&i, &j| {
                fields
                    .iter()
                    .enumerate()
                    .map(|(f, (_, desc))| directed(compare(keys[i][f], keys[j][f]), *desc))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            });
        }
    }
    if order.iter().enumerate().all(|(pos, &i)| pos == i) {
        return;
    }
    let mut taken: Vec<Option<Bson>> = array.drain(..).map(Some).collect();
    array.extend(order.iter().map(|&i| taken[i].take().unwrap_or(Bson::Null)));
}

fn directed(o: Ordering, descending: bool) -> Ordering {
    if descending { o.reverse() } else { o }
}

/// The value an element sorts by for one pattern field: the field's value
/// (for an array, its smallest element ascending, largest descending), null
/// when missing or when the element is not a document.
fn sort_key<'a>(element: &'a Bson, path: &[String], descending: bool) -> &'a Bson {
    let mut found = Vec::new();
    if let Bson::Document(_) = element {
        collect_at_path(element, path, &mut found);
    }
    let pick = |a: &&Bson, b: &&Bson| compare(a, b);
    let chosen = if descending {
        found.into_iter().max_by(pick)
    } else {
        found.into_iter().min_by(pick)
    };
    chosen.unwrap_or(&NULL)
}

/// Collects the values at `path` below `v`, descending into arrays of
/// documents; an empty array at the end of the path counts as undefined.
fn collect_at_path<'a>(v: &'a Bson, path: &[String], out: &mut Vec<&'a Bson>) {
    let Some((head, rest)) = path.split_first() else {
        match v {
            Bson::Array(items) if items.is_empty() => out.push(&UNDEFINED),
            Bson::Array(items) => out.extend(items.iter()),
            other => out.push(other),
        }
        return;
    };
    match v {
        Bson::Document(d) => {
            if let Some(child) = d.get(head) {
                collect_at_path(child, rest, out);
            }
        }
        Bson::Array(items) => {
            for item in items.iter().filter(|i| matches!(i, Bson::Document(_))) {
                collect_at_path(item, path, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::Env;
    use crate::update::arrays::ArrayOp;
    use crate::update::fields::Outcome;
    use crate::update::path::Trail;
    use crate::update::positional::ArrayFilters;
    use bson::bson;

    fn push(spec: Bson, start: Bson) -> (Bson, Outcome) {
        let op = ArrayOp::Push(Box::new(parse(&spec).unwrap()));
        let mut v = start;
        let filters = ArrayFilters::default();
        let env = Env::for_tests(bson::DateTime::from_millis(0), &filters);
        let out = op
            .apply_existing(&mut v, &Trail::root().child("s"), &env)
            .unwrap();
        (v, out)
    }

    #[test]
    fn push_appends_and_positions() {
        assert_eq!(push(bson!(3), bson!([1, 2])).0, bson!([1, 2, 3]));
        assert_eq!(push(bson!([3, 4]), bson!([1])).0, bson!([1, [3, 4]]));
        assert_eq!(
            push(bson!({"$each": [15], "$position": 1}), bson!([10, 20])).0,
            bson!([10, 15, 20])
        );
        assert_eq!(
            push(bson!({"$each": [99], "$position": -1}), bson!([1, 2, 3])).0,
            bson!([1, 2, 99, 3])
        );
        assert_eq!(
            push(bson!({"$each": [0], "$position": -10}), bson!([1])).0,
            bson!([0, 1])
        );
        assert_eq!(
            push(bson!({"$each": [9], "$position": 10}), bson!([1])).0,
            bson!([1, 9])
        );
    }

    #[test]
    fn push_sorts_then_slices() {
        let spec = bson!({"$each": [{"wk": 3, "sc": 5}, {"wk": 4, "sc": 9}], "$sort": {"sc": -1}, "$slice": 3});
        let start = bson!([{"wk": 1, "sc": 10}, {"wk": 2, "sc": 8}]);
        assert_eq!(
            push(spec, start).0,
            bson!([{"wk": 1, "sc": 10}, {"wk": 4, "sc": 9}, {"wk": 2, "sc": 8}])
        );
        assert_eq!(
            push(bson!({"$each": [4, 5], "$slice": -3}), bson!([1, 2, 3])).0,
            bson!([3, 4, 5])
        );
        assert_eq!(
            push(bson!({"$each": [2, 1], "$sort": 1}), bson!([3])).0,
            bson!([1, 2, 3])
        );
        assert_eq!(
            push(bson!({"$each": [], "$sort": -1}), bson!([1, "a", 2])).0,
            bson!(["a", 2, 1])
        );
        assert_eq!(
            push(bson!({"$each": [], "$slice": 0}), bson!([1, 2])).0,
            bson!([])
        );
        // Missing sort fields and non-documents sort as null, before numbers.
        let (v, _) = push(
            bson!({"$each": [{"a": 1}, 5, {"b": 1}], "$sort": {"a": 1}}),
            bson!([]),
        );
        assert_eq!(v, bson!([5, {"b": 1}, {"a": 1}]));
        // Array-valued sort fields use their smallest element ascending.
        let (v, _) = push(
            bson!({"$each": [{"a": [5, 0]}, {"a": 3}], "$sort": {"a": 1}}),
            bson!([]),
        );
        assert_eq!(v, bson!([{"a": [5, 0]}, {"a": 3}]));
    }

    #[test]
    fn push_modified_like_mongodb() {
        assert_eq!(push(bson!({"$each": []}), bson!([1])).1, Outcome::Unchanged);
        // A $sort always counts as a modification.
        assert_eq!(
            push(bson!({"$each": [], "$sort": 1}), bson!([1, 2])).1,
            Outcome::Changed
        );
        assert_eq!(
            push(bson!({"$each": [], "$sort": 1}), bson!([2, 1])).1,
            Outcome::Changed
        );
        assert_eq!(
            push(bson!({"$each": [], "$slice": 5}), bson!([1])).1,
            Outcome::Unchanged
        );
        assert_eq!(
            push(bson!({"$each": [], "$slice": 1}), bson!([1, 2])).1,
            Outcome::Changed
        );
    }

    #[test]
    fn push_parse_errors() {
        let msg = |v: Bson| parse(&v).unwrap_err().to_string();
        assert!(msg(bson!({"$each": 1})).contains("must be an array"));
        assert!(msg(bson!({"$each": [], "$slice": "x"})).contains("$slice"));
        assert!(msg(bson!({"$each": [], "$position": 1.5})).contains("$position"));
        assert!(msg(bson!({"$each": [], "$sort": 2})).contains("1 or -1"));
        assert!(msg(bson!({"$each": [], "$sort": {}})).contains("empty"));
        assert!(msg(bson!({"$each": [], "$sort": "a"})).contains("$sort is invalid"));
        assert!(
            msg(bson!({"$each": [], "$bogus": 1})).contains("Unrecognized clause in $push: $bogus")
        );
        // Without $each the document is the pushed value.
        let p = parse(&bson!({"$slice": 1})).unwrap();
        assert_eq!(p.each, vec![bson!({"$slice": 1})]);
    }

    #[test]
    fn push_creates_sorted_sliced_array() {
        let op = ArrayOp::Push(Box::new(
            parse(&bson!({"$each": [3, 1, 2], "$sort": 1, "$slice": 2})).unwrap(),
        ));
        assert_eq!(op.create(), Some(bson!([1, 2])));
    }
}
