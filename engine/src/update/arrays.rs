//! Array operators: `$push` (with `$each $position $sort $slice`),
//! `$addToSet` (with `$each`), `$pop`, `$pull` and `$pullAll`.
//!
//! Like the field operators, each is parsed once into an [`ArrayOp`] and then
//! applied to an existing value or asked what to create where the field is
//! missing. `$push` and `$addToSet` create the array; `$pop`, `$pull` and
//! `$pullAll` leave a missing field missing and ignore a path that cannot
//! exist. Applied to a non-array, every one of them is an error.
//!
//! `$push` works in MongoDB's fixed order, whatever the order of the clauses:
//!
//! ```text
//!   insert $each at $position (default: the end) → $sort → $slice
//! ```
//!
//! Element equality (`$addToSet`, `$pullAll`, `$pull` with a plain value) is
//! [`values_equal`]: `1` and `1.0` are the same element.

use std::cmp::Ordering;

use bson::Bson;

use super::Env;
use super::fields::Outcome;
use super::matcher::ElementMatcher;
use super::path::{MAX_PATH_SEGMENTS, Trail};
use super::render;
use crate::value::{compare, type_name, values_equal};
use crate::{Error, Result};

/// A parsed array operator.
#[derive(Debug, Clone)]
pub enum ArrayOp {
    /// `$push`.
    Push(Push),
    /// `$addToSet`: the values to add, already without duplicates.
    AddToSet(Vec<Bson>),
    /// `$pop`: remove the first (`-1`) or the last (`1`) element.
    Pop {
        /// True for `-1`.
        first: bool,
    },
    /// `$pull`: remove every element the matcher accepts.
    Pull(ElementMatcher),
    /// `$pullAll`: remove every element equal to one of these.
    PullAll(Vec<Bson>),
}

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

// ---------------------------------------------------------------- parsing

/// Parses `$push`'s operand: a value, or `{$each: [...], $position, $sort, $slice}`.
pub fn parse_push(operand: &Bson) -> Result<ArrayOp> {
    let modifiers = match operand {
        Bson::Document(d) if d.contains_key("$each") => d,
        other => {
            return Ok(ArrayOp::Push(Push {
                each: vec![other.clone()],
                position: None,
                sort: None,
                slice: None,
            }));
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
    Ok(ArrayOp::Push(push))
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
        Error::bad_value(format!(
            "The value for {clause} must be an integer value but was given type: {} ({})",
            type_name(value),
            render::value(value)
        ))
    })
}

fn parse_sort(value: &Bson) -> Result<SortSpec> {
    let direction = |v: &Bson| -> Result<bool> {
        match crate::value::Number::from_bson(v).map(|n| n.as_f64()) {
            Some(d) if d == 1.0 => Ok(false),
            Some(d) if d == -1.0 => Ok(true),
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

/// Parses `$addToSet`'s operand: a value, or `{$each: [...]}`.
pub fn parse_add_to_set(operand: &Bson) -> Result<ArrayOp> {
    let values = match operand {
        Bson::Document(d) if d.keys().next().is_some_and(|k| k == "$each") => {
            if d.len() > 1 {
                return Err(Error::bad_value(format!(
                    "Found unexpected fields after $each in $addToSet: {}",
                    render::value(operand)
                )));
            }
            match d.get("$each") {
                Some(Bson::Array(values)) => values.clone(),
                other => {
                    return Err(Error::bad_value(format!(
                        "The argument to $each in $addToSet must be an array but it was of type {}",
                        other.map_or("missing", type_name)
                    )));
                }
            }
        }
        other => vec![other.clone()],
    };
    let mut unique: Vec<Bson> = Vec::with_capacity(values.len());
    for v in values {
        if !unique.iter().any(|u| values_equal(u, &v)) {
            unique.push(v);
        }
    }
    Ok(ArrayOp::AddToSet(unique))
}

/// Parses `$pop`'s operand: `1` (last) or `-1` (first).
pub fn parse_pop(field: &str, operand: &Bson) -> Result<ArrayOp> {
    let Some(n) = crate::value::Number::from_bson(operand) else {
        return Err(Error::FailedToParse(format!(
            "Expected a number in: {}",
            render::element(field, operand)
        )));
    };
    match n.as_f64() {
        d if d == 1.0 => Ok(ArrayOp::Pop { first: false }),
        d if d == -1.0 => Ok(ArrayOp::Pop { first: true }),
        _ => Err(Error::FailedToParse(format!(
            "$pop expects 1 or -1, found: {}",
            render::value(operand)
        ))),
    }
}

/// Parses `$pullAll`'s operand: an array of values.
pub fn parse_pull_all(operand: &Bson) -> Result<ArrayOp> {
    match operand {
        Bson::Array(values) => Ok(ArrayOp::PullAll(values.clone())),
        other => Err(Error::bad_value(format!(
            "$pullAll requires an array argument but was given a {}",
            type_name(other)
        ))),
    }
}

// ---------------------------------------------------------------- applying

impl ArrayOp {
    /// True for the operators that never create anything, so a path that
    /// cannot exist is no error for them.
    pub fn is_inert(&self) -> bool {
        matches!(
            self,
            ArrayOp::Pop { .. } | ArrayOp::Pull(_) | ArrayOp::PullAll(_)
        )
    }

    /// Applies the operator to the existing value at `at`.
    pub fn apply_existing(&self, value: &mut Bson, at: &Trail, env: &Env) -> Result<Outcome> {
        let Bson::Array(array) = value else {
            return Err(self.not_an_array(value, at, env));
        };
        let changed = match self {
            ArrayOp::Push(push) => push.apply(array),
            ArrayOp::AddToSet(values) => {
                let before = array.len();
                for v in values {
                    if !array.iter().any(|e| values_equal(e, v)) {
                        array.push(v.clone());
                    }
                }
                array.len() != before
            }
            ArrayOp::Pop { first } => match (array.is_empty(), first) {
                (true, _) => false,
                (false, true) => {
                    array.remove(0);
                    true
                }
                (false, false) => {
                    array.pop();
                    true
                }
            },
            ArrayOp::Pull(matcher) => {
                let before = array.len();
                let kept: Vec<Bson> = std::mem::take(array)
                    .into_iter()
                    .filter_map(|mut e| (!matcher.matches(&mut e)).then_some(e))
                    .collect();
                *array = kept;
                array.len() != before
            }
            ArrayOp::PullAll(values) => {
                let before = array.len();
                array.retain(|e| !values.iter().any(|v| values_equal(e, v)));
                array.len() != before
            }
        };
        Ok(if changed {
            Outcome::Changed
        } else {
            Outcome::Unchanged
        })
    }

    /// The value to create where the field is missing, or `None`.
    pub fn create(&self) -> Option<Bson> {
        match self {
            ArrayOp::Push(push) => {
                let mut array = Vec::new();
                push.apply(&mut array);
                Some(Bson::Array(array))
            }
            ArrayOp::AddToSet(values) => Some(Bson::Array(values.clone())),
            ArrayOp::Pop { .. } | ArrayOp::Pull(_) | ArrayOp::PullAll(_) => None,
        }
    }

    fn not_an_array(&self, value: &Bson, at: &Trail, env: &Env) -> Error {
        let (field, ty) = (at.name(), type_name(value));
        match self {
            ArrayOp::Push(_) => Error::bad_value(format!(
                "The field '{field}' must be an array but is of type {ty} in document {}",
                render::id_of(env.id)
            )),
            ArrayOp::AddToSet(_) => Error::bad_value(format!(
                "Cannot apply $addToSet to non-array field. Field named '{field}' has non-array \
                 type {ty}"
            )),
            ArrayOp::Pop { .. } => Error::TypeMismatch(format!(
                "Path '{}' contains an element of non-array type '{ty}'",
                at.dotted()
            )),
            ArrayOp::Pull(_) | ArrayOp::PullAll(_) => {
                Error::bad_value("Cannot apply $pull to a non-array value")
            }
        }
    }
}

impl Push {
    /// Inserts, sorts and slices; returns whether the array changed.
    fn apply(&self, array: &mut Vec<Bson>) -> bool {
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
            changed |= sort_array(array, sort);
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

/// Sorts stably; returns whether the order changed.
fn sort_array(array: &mut Vec<Bson>, spec: &SortSpec) -> bool {
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
        return false;
    }
    let mut taken: Vec<Option<Bson>> = array.drain(..).map(Some).collect();
    array.extend(order.iter().map(|&i| taken[i].take().unwrap_or(Bson::Null)));
    true
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
    use bson::bson;

    fn push(spec: Bson, start: Bson) -> (Bson, Outcome) {
        let op = parse_push(&spec).unwrap();
        let mut v = start;
        let filters = super::super::positional::ArrayFilters::default();
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
    fn push_modified_only_when_changed() {
        assert_eq!(push(bson!({"$each": []}), bson!([1])).1, Outcome::Unchanged);
        assert_eq!(
            push(bson!({"$each": [], "$sort": 1}), bson!([1, 2])).1,
            Outcome::Unchanged
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
        let msg = |v: Bson| parse_push(&v).unwrap_err().to_string();
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
        let ArrayOp::Push(p) = parse_push(&bson!({"$slice": 1})).unwrap() else {
            panic!()
        };
        assert_eq!(p.each, vec![bson!({"$slice": 1})]);
    }

    #[test]
    fn push_creates_sorted_sliced_array() {
        let op = parse_push(&bson!({"$each": [3, 1, 2], "$sort": 1, "$slice": 2})).unwrap();
        assert_eq!(op.create(), Some(bson!([1, 2])));
    }

    #[test]
    fn add_to_set_dedups() {
        let op = parse_add_to_set(&bson!({"$each": ["b", "c", "c", "a"]})).unwrap();
        assert_eq!(op.create(), Some(bson!(["b", "c", "a"])));
        let filters = super::super::positional::ArrayFilters::default();
        let env = Env::for_tests(bson::DateTime::from_millis(0), &filters);
        let mut v = bson!(["a"]);
        assert_eq!(
            op.apply_existing(&mut v, &Trail::root(), &env).unwrap(),
            Outcome::Changed
        );
        assert_eq!(v, bson!(["a", "b", "c"]));
        let one = parse_add_to_set(&bson!(1.0)).unwrap();
        let mut v = bson!([1]);
        assert_eq!(
            one.apply_existing(&mut v, &Trail::root(), &env).unwrap(),
            Outcome::Unchanged
        );
        assert!(parse_add_to_set(&bson!({"$each": [1], "x": 1})).is_err());
        assert!(parse_add_to_set(&bson!({"$each": 1})).is_err());
    }

    #[test]
    fn pop_and_pull_all() {
        let filters = super::super::positional::ArrayFilters::default();
        let env = Env::for_tests(bson::DateTime::from_millis(0), &filters);
        let at = Trail::root();
        let mut v = bson!([1, 2, 3]);
        parse_pop("s", &bson!(-1))
            .unwrap()
            .apply_existing(&mut v, &at, &env)
            .unwrap();
        assert_eq!(v, bson!([2, 3]));
        parse_pop("s", &bson!(1.0))
            .unwrap()
            .apply_existing(&mut v, &at, &env)
            .unwrap();
        assert_eq!(v, bson!([2]));
        let mut empty = bson!([]);
        let out = parse_pop("s", &bson!(1))
            .unwrap()
            .apply_existing(&mut empty, &at, &env)
            .unwrap();
        assert_eq!(out, Outcome::Unchanged);
        assert!(
            parse_pop("s", &bson!(2))
                .unwrap_err()
                .to_string()
                .contains("$pop expects 1 or -1")
        );
        assert!(parse_pop("s", &bson!("x")).is_err());
        let mut v = bson!([0, 2, 5, 5, 1, 0]);
        parse_pull_all(&bson!([0, 5.0]))
            .unwrap()
            .apply_existing(&mut v, &at, &env)
            .unwrap();
        assert_eq!(v, bson!([2, 1]));
        assert!(parse_pull_all(&bson!(1)).is_err());
    }

    #[test]
    fn non_arrays_are_errors() {
        let filters = super::super::positional::ArrayFilters::default();
        let env = Env::for_tests(bson::DateTime::from_millis(0), &filters);
        let root = Trail::root();
        let at = root.child("s");
        let mut v = bson!(5);
        let err = parse_push(&bson!(1))
            .unwrap()
            .apply_existing(&mut v, &at, &env)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "The field 's' must be an array but is of type int in document {}"
        );
        let err = parse_pop("s", &bson!(1))
            .unwrap()
            .apply_existing(&mut v, &at, &env)
            .unwrap_err();
        assert!(matches!(err, Error::TypeMismatch(_)));
        let err = parse_add_to_set(&bson!(1))
            .unwrap()
            .apply_existing(&mut v, &at, &env)
            .unwrap_err();
        assert!(err.to_string().contains("non-array"));
    }
}
