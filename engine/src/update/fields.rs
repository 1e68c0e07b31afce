//! Field operators: `$set $setOnInsert $unset $inc $mul $min $max
//! $currentDate $bit` and the target half of `$rename`.
//!
//! Each operator is parsed once into a [`FieldOp`] holding its validated
//! operand. Applying one is a pure function of the current value (or of its
//! absence) and the [`Env`]:
//!
//! ```text
//!   field exists   ── apply_existing(&mut value) ──▶ Unchanged | Changed | Remove
//!   field missing  ── create()                   ──▶ Some(new value) | None (leave missing)
//! ```
//!
//! Numbers follow MongoDB's promotion rules: int32 ⊕ int32 gives int32, or
//! int64 when the result overflows; anything with int64 gives int64, and an
//! int64 overflow is an error; anything with a double gives a double.
//! decimal128 arithmetic is not supported (the `bson` crate has none) and is
//! reported as [`Error::NotSupported`] rather than computed approximately.

use std::cmp::Ordering;

use bson::Bson;

use super::Env;
use super::identical::identical;
use super::path::Trail;
use super::render;
use super::replace::timestamp_at;
use crate::value::{compare, type_name};
use crate::{Error, Result};

/// A parsed field operator.
#[derive(Debug, Clone)]
pub enum FieldOp {
    /// `$set`: the value to store.
    Set(Bson),
    /// `$setOnInsert`: like `$set`, but only when an upsert inserts.
    SetOnInsert(Bson),
    /// `$unset`: remove the field (or null the array element).
    Unset,
    /// `$inc` by a number.
    Inc(Bson),
    /// `$mul` by a number.
    Mul(Bson),
    /// `$min`: store the operand if it sorts before the current value.
    Min(Bson),
    /// `$max`: store the operand if it sorts after the current value.
    Max(Bson),
    /// `$currentDate`: the command's `now` as a date or a timestamp.
    CurrentDate(DateKind),
    /// `$bit`: bitwise operations applied in order, operands int32/int64.
    Bit(Vec<(BitOp, Bson)>),
    /// `$rename` target: stores the value taken from the source (slot `n` of
    /// [`Env::renamed`]); nothing happens when the source was missing.
    RenameTo(usize),
    /// `$rename` source: holds its path so other operators cannot touch it;
    /// the value itself is removed before the tree is applied.
    RenameFrom,
}

/// The type `$currentDate` stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateKind {
    /// A BSON date (`true` or `{$type: "date"}`).
    Date,
    /// A BSON timestamp (`{$type: "timestamp"}`).
    Timestamp,
}

/// A `$bit` operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    /// Bitwise and.
    And,
    /// Bitwise or.
    Or,
    /// Bitwise exclusive or.
    Xor,
}

/// What applying an operator to an existing value did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The value is byte-for-byte the same.
    Unchanged,
    /// The value was modified in place.
    Changed,
    /// The field must be removed (`$unset`; an array element becomes null).
    Remove,
}

// ---------------------------------------------------------------- parsing

/// Parses the operand of `$inc` or `$mul` for `field`: it must be a number.
pub fn parse_arithmetic(operator: &str, field: &str, operand: &Bson) -> Result<FieldOp> {
    if !is_number(operand) {
        let verb = if operator == "$inc" {
            "increment"
        } else {
            "multiply"
        };
        return Err(Error::TypeMismatch(format!(
            "Cannot {verb} with non-numeric argument: {}",
            render::braced(field, operand)
        )));
    }
    Ok(if operator == "$inc" {
        FieldOp::Inc(operand.clone())
    } else {
        FieldOp::Mul(operand.clone())
    })
}

/// Parses the operand of `$currentDate`: a boolean (date) or
/// `{$type: "date" | "timestamp"}`.
pub fn parse_current_date(operand: &Bson) -> Result<FieldOp> {
    let kind = match operand {
        Bson::Boolean(_) => Some(DateKind::Date),
        Bson::Document(spec) => {
            let mut kind = None;
            for (key, value) in spec {
                if key != "$type" {
                    return Err(Error::bad_value(format!(
                        "Unrecognized $currentDate option: {key}"
                    )));
                }
                kind = match value.as_str() {
                    Some("date") => Some(DateKind::Date),
                    Some("timestamp") => Some(DateKind::Timestamp),
                    _ => kind,
                };
            }
            kind
        }
        other => {
            return Err(Error::bad_value(format!(
                "{} is not valid type for $currentDate. Please use a boolean ('true') or a $type \
                 expression ({{$type: 'timestamp/date'}}).",
                type_name(other)
            )));
        }
    };
    kind.map(FieldOp::CurrentDate).ok_or_else(|| {
        Error::bad_value(
            "The '$type' string field is required to be 'date' or 'timestamp': \
             {$currentDate: {field : {$type: 'date'}}}",
        )
    })
}

/// Parses the operand of `$bit`: `{and|or|xor: int32|int64, …}`, at least one.
pub fn parse_bit(field: &str, operand: &Bson) -> Result<FieldOp> {
    let Bson::Document(spec) = operand else {
        return Err(Error::bad_value(format!(
            "The $bit modifier is not compatible with a {}. You must pass in an embedded \
             document: {{$bit: {{field: {{and/or/xor: #}}}}",
            type_name(operand)
        )));
    };
    if spec.is_empty() {
        return Err(Error::bad_value(format!(
            "You must pass in at least one bitwise operation for '{field}'. The format is: \
             {{$bit: {{field: {{and/or/xor: #}}}}"
        )));
    }
    let mut ops = Vec::with_capacity(spec.len());
    for (key, value) in spec {
        let op = match key.as_str() {
            "and" => BitOp::And,
            "or" => BitOp::Or,
            "xor" => BitOp::Xor,
            _ => {
                return Err(Error::bad_value(format!(
                    "The $bit modifier only supports 'and', 'or', and 'xor', not '{key}' which is \
                     an unknown operator: {}",
                    render::braced(key, value)
                )));
            }
        };
        if !matches!(value, Bson::Int32(_) | Bson::Int64(_)) {
            return Err(Error::bad_value(format!(
                "The $bit modifier field must be an Integer(32/64 bit); a '{}' is not supported \
                 here: {}",
                type_name(value),
                render::braced(key, value)
            )));
        }
        ops.push((op, value.clone()));
    }
    Ok(FieldOp::Bit(ops))
}

// ---------------------------------------------------------------- applying

impl FieldOp {
    /// The operator's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            FieldOp::Set(_) => "$set",
            FieldOp::SetOnInsert(_) => "$setOnInsert",
            FieldOp::Unset => "$unset",
            FieldOp::Inc(_) => "$inc",
            FieldOp::Mul(_) => "$mul",
            FieldOp::Min(_) => "$min",
            FieldOp::Max(_) => "$max",
            FieldOp::CurrentDate(_) => "$currentDate",
            FieldOp::Bit(_) => "$bit",
            FieldOp::RenameTo(_) | FieldOp::RenameFrom => "$rename",
        }
    }

    /// True when the operator does nothing at all in this application, so a
    /// path that could not exist is no error for it (`$unset`, a `$rename`
    /// whose source is missing, `$setOnInsert` outside an insert).
    pub fn is_inert(&self, env: &Env) -> bool {
        match self {
            FieldOp::Unset | FieldOp::RenameFrom => true,
            FieldOp::SetOnInsert(_) => !env.is_insert,
            FieldOp::RenameTo(slot) => env.renamed.get(*slot).is_none_or(Option::is_none),
            _ => false,
        }
    }

    /// Applies the operator to the existing value at `at`.
    pub fn apply_existing(&self, value: &mut Bson, at: &Trail, env: &mut Env) -> Result<Outcome> {
        match self {
            FieldOp::Set(v) => Ok(store(value, v)),
            FieldOp::SetOnInsert(v) if env.is_insert => Ok(store(value, v)),
            FieldOp::SetOnInsert(_) | FieldOp::RenameFrom => Ok(Outcome::Unchanged),
            FieldOp::Unset => Ok(Outcome::Remove),
            FieldOp::Inc(n) => arithmetic(self.name(), Arith::Add, value, n, at, env),
            FieldOp::Mul(n) => arithmetic(self.name(), Arith::Mul, value, n, at, env),
            FieldOp::Min(v) => Ok(store_if(value, v, Ordering::Less)),
            FieldOp::Max(v) => Ok(store_if(value, v, Ordering::Greater)),
            // Always a modification for MongoDB (the clock has moved on).
            FieldOp::CurrentDate(kind) => {
                *value = current_date(*kind, env);
                Ok(Outcome::Changed)
            }
            FieldOp::Bit(ops) => {
                if !matches!(value, Bson::Int32(_) | Bson::Int64(_)) {
                    return Err(Error::bad_value(format!(
                        "Cannot apply $bit to a value of non-integral type.{} has the field {} of \
                         non-integer type {}",
                        env.id
                            .map(|id| render::element("_id", id))
                            .unwrap_or_default(),
                        at.name(),
                        type_name(value)
                    )));
                }
                let result = apply_bits(value, ops);
                Ok(store(value, &result))
            }
            FieldOp::RenameTo(slot) => match take_renamed(env, *slot) {
                // The source existed and has been removed: always a change.
                Some(v) => {
                    *value = v;
                    Ok(Outcome::Changed)
                }
                None => Ok(Outcome::Unchanged),
            },
        }
    }

    /// The value to create where the field is missing, or `None` to leave it
    /// missing.
    pub fn create(&self, env: &mut Env) -> Result<Option<Bson>> {
        Ok(match self {
            FieldOp::Set(v) | FieldOp::Min(v) | FieldOp::Max(v) | FieldOp::Inc(v) => {
                Some(v.clone())
            }
            FieldOp::SetOnInsert(v) => env.is_insert.then(|| v.clone()),
            FieldOp::Unset | FieldOp::RenameFrom => None,
            FieldOp::Mul(n) => Some(zero_like(n)),
            FieldOp::CurrentDate(kind) => Some(current_date(*kind, env)),
            FieldOp::Bit(ops) => Some(apply_bits(&Bson::Int32(0), ops)),
            FieldOp::RenameTo(slot) => take_renamed(env, *slot),
        })
    }
}

fn take_renamed(env: &mut Env, slot: usize) -> Option<Bson> {
    env.renamed.get_mut(slot).and_then(Option::take)
}

/// Stores `new` unless the current value is byte-for-byte the same.
fn store(value: &mut Bson, new: &Bson) -> Outcome {
    if identical(value, new) {
        Outcome::Unchanged
    } else {
        *value = new.clone();
        Outcome::Changed
    }
}

/// `$min`/`$max`: stores the operand when it compares `wanted` to the value.
fn store_if(value: &mut Bson, operand: &Bson, wanted: Ordering) -> Outcome {
    if compare(operand, value) == wanted {
        *value = operand.clone();
        Outcome::Changed
    } else {
        Outcome::Unchanged
    }
}

fn current_date(kind: DateKind, env: &Env) -> Bson {
    match kind {
        DateKind::Date => Bson::DateTime(env.now),
        DateKind::Timestamp => Bson::Timestamp(timestamp_at(env.now)),
    }
}

// ---------------------------------------------------------------- arithmetic

#[derive(Debug, Clone, Copy)]
enum Arith {
    Add,
    Mul,
}

fn is_number(v: &Bson) -> bool {
    matches!(
        v,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_)
    )
}

fn arithmetic(
    operator: &str,
    op: Arith,
    value: &mut Bson,
    operand: &Bson,
    at: &Trail,
    env: &Env,
) -> Result<Outcome> {
    if !is_number(value) {
        return Err(Error::TypeMismatch(format!(
            "Cannot apply {operator} to a value of non-numeric type. {} has the field '{}' of \
             non-numeric type {}",
            render::id_of(env.id),
            at.name(),
            type_name(value)
        )));
    }
    match compute(op, value, operand)? {
        Some(result) => Ok(store(value, &result)),
        None => Err(Error::bad_value(format!(
            "Failed to apply {operator} operations to current value ({}) for document {}",
            debug_number(value),
            render::id_of(env.id)
        ))),
    }
}

/// `a op b` with MongoDB's type promotion; `None` when an int64 overflows.
fn compute(op: Arith, a: &Bson, b: &Bson) -> Result<Option<Bson>> {
    Ok(match (a, b) {
        (Bson::Decimal128(_), _) | (_, Bson::Decimal128(_)) => {
            return Err(Error::NotSupported(
                "$inc/$mul arithmetic on decimal128 values".to_string(),
            ));
        }
        (Bson::Int32(x), Bson::Int32(y)) => {
            let (x, y) = (i64::from(*x), i64::from(*y));
            // Two int32s never overflow an int64.
            let r = match op {
                Arith::Add => x + y,
                Arith::Mul => x * y,
            };
            Some(i32::try_from(r).map_or(Bson::Int64(r), Bson::Int32))
        }
        (Bson::Double(_), _) | (_, Bson::Double(_)) => {
            let (x, y) = (as_f64(a), as_f64(b));
            Some(Bson::Double(match op {
                Arith::Add => x + y,
                Arith::Mul => x * y,
            }))
        }
        _ => {
            let (x, y) = (as_i64(a), as_i64(b));
            match op {
                Arith::Add => x.checked_add(y),
                Arith::Mul => x.checked_mul(y),
            }
            .map(Bson::Int64)
        }
    })
}

fn as_f64(v: &Bson) -> f64 {
    match v {
        Bson::Int32(i) => f64::from(*i),
        Bson::Int64(i) => *i as f64,
        Bson::Double(f) => *f,
        _ => 0.0,
    }
}

fn as_i64(v: &Bson) -> i64 {
    match v {
        Bson::Int32(i) => i64::from(*i),
        Bson::Int64(i) => *i,
        _ => 0,
    }
}

/// `operand × 0` in the operand's type: what `$mul` creates on a missing
/// field (so a negative double gives `-0.0`, as in MongoDB).
fn zero_like(n: &Bson) -> Bson {
    match n {
        Bson::Int64(_) => Bson::Int64(0),
        Bson::Double(f) => Bson::Double(f * 0.0),
        Bson::Decimal128(_) => "0".parse().map_or(Bson::Int32(0), Bson::Decimal128),
        _ => Bson::Int32(0),
    }
}

/// MongoDB's debug rendering of a number in arithmetic errors.
fn debug_number(v: &Bson) -> String {
    match v {
        Bson::Int32(i) => format!("(NumberInt){i}"),
        Bson::Int64(i) => format!("(NumberLong){i}"),
        Bson::Double(f) => format!("(NumberDouble){f}"),
        other => render::value(other),
    }
}

/// Folds the `$bit` operations over `start` (int32 or int64): int32 with
/// int32 stays int32, anything with int64 becomes int64.
fn apply_bits(start: &Bson, ops: &[(BitOp, Bson)]) -> Bson {
    ops.iter()
        .fold(start.clone(), |acc, (op, operand)| match (&acc, operand) {
            (Bson::Int32(x), Bson::Int32(y)) => {
                Bson::Int32(bit(*op, i64::from(*x), i64::from(*y)) as i32)
            }
            _ => Bson::Int64(bit(*op, as_i64(&acc), as_i64(operand))),
        })
}

fn bit(op: BitOp, x: i64, y: i64) -> i64 {
    match op {
        BitOp::And => x & y,
        BitOp::Or => x | y,
        BitOp::Xor => x ^ y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{DateTime, Timestamp, bson};

    fn compute_ok(op: Arith, a: Bson, b: Bson) -> Option<Bson> {
        compute(op, &a, &b).unwrap()
    }

    #[test]
    fn addition_promotes_like_mongodb() {
        assert_eq!(
            compute_ok(Arith::Add, bson!(1), bson!(2)),
            Some(Bson::Int32(3))
        );
        assert_eq!(
            compute_ok(Arith::Add, Bson::Int32(i32::MAX), bson!(1)),
            Some(Bson::Int64(i64::from(i32::MAX) + 1))
        );
        assert_eq!(
            compute_ok(Arith::Add, Bson::Int64(1), bson!(1)),
            Some(Bson::Int64(2))
        );
        assert_eq!(
            compute_ok(Arith::Add, Bson::Int64(i64::MAX), bson!(1)),
            None
        );
        assert_eq!(
            compute_ok(Arith::Add, bson!(1), bson!(0.5)),
            Some(Bson::Double(1.5))
        );
        assert!(matches!(
            compute(
                Arith::Add,
                &bson!(1),
                &Bson::Decimal128("1".parse().unwrap())
            ),
            Err(Error::NotSupported(_))
        ));
    }

    #[test]
    fn multiplication_promotes_like_mongodb() {
        assert_eq!(
            compute_ok(Arith::Mul, bson!(3), bson!(2)),
            Some(Bson::Int32(6))
        );
        assert_eq!(
            compute_ok(Arith::Mul, Bson::Int32(i32::MAX), bson!(2)),
            Some(Bson::Int64(i64::from(i32::MAX) * 2))
        );
        assert_eq!(
            compute_ok(Arith::Mul, Bson::Int64(i64::MAX), bson!(2)),
            None
        );
        assert_eq!(
            compute_ok(Arith::Mul, bson!(10), bson!(1.5)),
            Some(Bson::Double(15.0))
        );
    }

    #[test]
    fn zero_has_operand_type() {
        assert_eq!(zero_like(&bson!(4)), Bson::Int32(0));
        assert_eq!(zero_like(&Bson::Int64(4)), Bson::Int64(0));
        assert_eq!(zero_like(&bson!(4.5)), Bson::Double(0.0));
        assert_eq!(
            zero_like(&bson!(-4.5)).as_f64().map(f64::is_sign_negative),
            Some(true)
        );
    }

    #[test]
    fn bits_fold_in_order() {
        let ops = [
            (BitOp::And, Bson::Int32(0b1100)),
            (BitOp::Or, Bson::Int32(0b0001)),
        ];
        assert_eq!(apply_bits(&Bson::Int32(0b1010), &ops), Bson::Int32(0b1001));
        let ops = [(BitOp::Xor, Bson::Int64(1))];
        assert_eq!(apply_bits(&Bson::Int32(3), &ops), Bson::Int64(2));
    }

    #[test]
    fn parse_errors_name_the_operand() {
        let err = parse_arithmetic("$inc", "a", &bson!("x")).unwrap_err();
        assert_eq!(
            err,
            Error::TypeMismatch("Cannot increment with non-numeric argument: {a: \"x\"}".into())
        );
        let err = parse_arithmetic("$mul", "a", &bson!(null)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Cannot multiply with non-numeric argument")
        );
        assert!(parse_current_date(&bson!({"$type": "week"})).is_err());
        assert!(
            parse_current_date(&bson!({}))
                .unwrap_err()
                .to_string()
                .contains("'$type' string field is required")
        );
        assert!(
            parse_current_date(&bson!({"$kind": "date"}))
                .unwrap_err()
                .to_string()
                .contains("$kind")
        );
        assert!(
            parse_current_date(&bson!(1))
                .unwrap_err()
                .to_string()
                .starts_with("int is not valid type")
        );
        assert!(matches!(
            parse_current_date(&bson!(false)).unwrap(),
            FieldOp::CurrentDate(DateKind::Date)
        ));
        assert!(parse_bit("b", &bson!(1)).is_err());
        assert!(parse_bit("b", &bson!({})).is_err());
        assert!(
            parse_bit("b", &bson!({"not": 1}))
                .unwrap_err()
                .to_string()
                .contains("'not'")
        );
        assert!(
            parse_bit("b", &bson!({"and": 1.5}))
                .unwrap_err()
                .to_string()
                .contains("'double'")
        );
    }

    #[test]
    fn current_date_uses_env_now() {
        let filters = super::super::positional::ArrayFilters::default();
        let mut env = Env::for_tests(DateTime::from_millis(5_500), &filters);
        let date = FieldOp::CurrentDate(DateKind::Date)
            .create(&mut env)
            .unwrap();
        assert_eq!(date, Some(Bson::DateTime(DateTime::from_millis(5_500))));
        let ts = FieldOp::CurrentDate(DateKind::Timestamp)
            .create(&mut env)
            .unwrap();
        assert_eq!(
            ts,
            Some(Bson::Timestamp(Timestamp {
                time: 5,
                increment: 1
            }))
        );
    }
}
