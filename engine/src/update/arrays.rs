//! Array operators: `$push` (with `$each $position $sort $slice`),
//! `$addToSet` (with `$each`), `$pop`, `$pull` and `$pullAll`.
//!
//! Like the field operators, each is parsed once into an [`ArrayOp`] and then
//! applied to an existing value or asked what to create where the field is
//! missing. `$push` and `$addToSet` create the array; `$pop`, `$pull` and
//! `$pullAll` leave a missing field missing, but like MongoDB still reject a
//! path that could not exist (`a.b` where `a` is a number). Applied to a
//! non-array, every one of them is an error. `$push`'s
//! modifiers live in `push.rs`.
//!
//! Element equality (`$addToSet`, `$pullAll`, `$pull` with a plain value) is
//! [`values_equal`]: `1` and `1.0` are the same element.

use bson::Bson;

use super::Env;
use super::fields::Outcome;
use super::matcher::ElementMatcher;
use super::path::Trail;
use super::push::{self, Push};
use super::render;
use crate::value::{type_name, values_equal};
use crate::{Error, Result};

/// A parsed array operator.
#[derive(Debug, Clone)]
pub enum ArrayOp {
    /// `$push` (see `push.rs`).
    Push(Box<Push>),
    /// `$addToSet`: the values to add, already without duplicates.
    AddToSet(Vec<Bson>),
    /// `$pop`: remove the first (`-1`) or the last (`1`) element.
    Pop {
        /// True for `-1`.
        first: bool,
    },
    /// `$pull`: remove every element the matcher accepts.
    Pull(Box<ElementMatcher>),
    /// `$pullAll`: remove every element equal to one of these.
    PullAll(Vec<Bson>),
}

// ---------------------------------------------------------------- parsing

/// Parses `$push`'s operand.
pub fn parse_push(operand: &Bson) -> Result<ArrayOp> {
    Ok(ArrayOp::Push(Box::new(push::parse(operand)?)))
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
                    return Err(Error::TypeMismatch(format!(
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
    let n = n.as_f64();
    if n == 1.0 || n == -1.0 {
        Ok(ArrayOp::Pop { first: n < 0.0 })
    } else {
        Err(Error::FailedToParse(format!(
            "$pop expects 1 or -1, found: {}",
            render::value(operand)
        )))
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
    /// True for `$push` and `$addToSet`, which create a missing array;
    /// `$pop`, `$pull` and `$pullAll` leave a missing field missing (but a
    /// path that could not exist is still an error for them).
    pub fn creates(&self) -> bool {
        matches!(self, ArrayOp::Push(_) | ArrayOp::AddToSet(_))
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
                "The field '{}' must be an array but is of type {ty} in document {{{}}}",
                at.dotted(),
                env.id
                    .map_or_else(|| "no id".to_string(), |id| render::element("_id", id))
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

#[cfg(test)]
mod tests {
    use super::*;
    use bson::bson;

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
            "The field 's' must be an array but is of type int in document {no id}"
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
