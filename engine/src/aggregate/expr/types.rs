//! Type inspection and conversion: `$type $isNumber $toString $toInt
//! $toLong $toDouble $toBool $toObjectId $toDate $convert`.
//!
//! Conversions follow MongoDB's `$convert` table: null or missing in gives
//! null out (or `onNull`); a value that cannot be converted is an error
//! naming both types (or `onError`). Decimal128 targets are refused — this
//! engine has no decimal arithmetic — while Decimal128 inputs convert
//! through their nearest double.

use bson::Bson;
use bson::oid::ObjectId;

use super::dates::{format_iso, parse_iso};
use super::{Op, Value, is_nullish, type_of};
use crate::{Error, Result};

/// A conversion target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Double,
    String,
    ObjectId,
    Bool,
    Date,
    Int,
    Long,
}

impl Target {
    fn parse(value: &Value) -> Result<Target> {
        let by_code = |code: i64| match code {
            1 => Some(Target::Double),
            2 => Some(Target::String),
            7 => Some(Target::ObjectId),
            8 => Some(Target::Bool),
            9 => Some(Target::Date),
            16 => Some(Target::Int),
            18 => Some(Target::Long),
            _ => None,
        };
        let target = match value {
            Some(Bson::String(name)) => match name.as_str() {
                "double" => Some(Target::Double),
                "string" => Some(Target::String),
                "objectId" => Some(Target::ObjectId),
                "bool" => Some(Target::Bool),
                "date" => Some(Target::Date),
                "int" => Some(Target::Int),
                "long" => Some(Target::Long),
                "decimal" => {
                    return Err(Error::NotSupported(
                        "$convert to decimal (this engine has no decimal arithmetic)".into(),
                    ));
                }
                _ => None,
            },
            Some(v) => crate::value::Number::from_bson(v)
                .map(|n| n.as_f64())
                .filter(|f| f.fract() == 0.0)
                .and_then(|f| by_code(f as i64)),
            None => None,
        };
        target.ok_or_else(|| {
            Error::BadValue(format!(
                "$convert: unknown target type {}",
                value
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "missing".into())
            ))
        })
    }

    fn name(self) -> &'static str {
        match self {
            Target::Double => "double",
            Target::String => "string",
            Target::ObjectId => "objectId",
            Target::Bool => "bool",
            Target::Date => "date",
            Target::Int => "int",
            Target::Long => "long",
        }
    }
}

/// `given[i]`: whether optional argument `i` was written (see
/// `super::given`).
pub(super) fn call(op: Op, args: &[Value], given: &[bool]) -> Result<Value> {
    let target = match op {
        Op::Type => return Ok(Some(Bson::String(type_of(&args[0]).to_string()))),
        Op::IsNumber => {
            return Ok(Some(Bson::Boolean(matches!(
                args[0],
                Some(Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))
            ))));
        }
        Op::ToString => Target::String,
        Op::ToInt => Target::Int,
        Op::ToLong => Target::Long,
        Op::ToDouble => Target::Double,
        Op::ToBool => Target::Bool,
        Op::ToObjectId => Target::ObjectId,
        Op::ToDate => Target::Date,
        Op::Convert => {
            // A bad `to` is an error even for a null input; a null `to`
            // makes a null result (after onNull for a null input).
            let target = if is_nullish(&args[1]) {
                None
            } else {
                Some(Target::parse(&args[1])?)
            };
            // onError / onNull are returned as evaluated: one that
            // evaluates to missing makes the result missing.
            let (on_error, on_null) = (given[2].then(|| &args[2]), given[3].then(|| &args[3]));
            if is_nullish(&args[0]) {
                return Ok(on_null.cloned().unwrap_or(Some(Bson::Null)));
            }
            let Some(target) = target else {
                return Ok(Some(Bson::Null));
            };
            return match convert(&args[0], target) {
                Ok(v) => Ok(Some(v)),
                Err(e) => match on_error {
                    Some(v) => Ok(v.clone()),
                    None => Err(e),
                },
            };
        }
        _ => unreachable!("not a type operator: {op:?}"),
    };
    if is_nullish(&args[0]) {
        return Ok(Some(Bson::Null));
    }
    convert(&args[0], target).map(Some)
}

fn refuse(value: &Bson, target: Target) -> Error {
    Error::BadValue(format!(
        "Unsupported conversion from {} to {} in $convert with no onError value",
        crate::value::type_name(value),
        target.name()
    ))
}

fn failed(value: &Bson, target: Target, why: &str) -> Error {
    Error::BadValue(format!(
        "Failed to convert {value} to {}: {why}",
        target.name()
    ))
}

fn convert(value: &Value, target: Target) -> Result<Bson> {
    let v = value
        .as_ref()
        .expect("null and missing are handled by the caller");
    Ok(match target {
        Target::String => match to_string_value(v) {
            Some(s) => Bson::String(s),
            None => return Err(refuse(v, target)),
        },
        Target::Bool => match v {
            Bson::Boolean(b) => Bson::Boolean(*b),
            Bson::Int32(i) => Bson::Boolean(*i != 0),
            Bson::Int64(i) => Bson::Boolean(*i != 0),
            Bson::Double(f) => Bson::Boolean(*f != 0.0),
            Bson::Decimal128(d) => Bson::Boolean(crate::value::decimal_to_f64(d) != 0.0),
            _ => Bson::Boolean(true),
        },
        Target::Double => match v {
            Bson::Boolean(b) => Bson::Double(if *b { 1.0 } else { 0.0 }),
            Bson::Int32(i) => Bson::Double(f64::from(*i)),
            Bson::Int64(i) => Bson::Double(*i as f64),
            Bson::Double(f) => Bson::Double(*f),
            // The nearest double, as MongoDB converts.
            Bson::Decimal128(d) => Bson::Double(crate::value::decimal_to_f64(d)),
            Bson::DateTime(d) => Bson::Double(d.timestamp_millis() as f64),
            Bson::String(s) => Bson::Double(
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|_| !s.trim().is_empty() && s.trim() == s)
                    .ok_or_else(|| failed(v, target, "not a number"))?,
            ),
            _ => return Err(refuse(v, target)),
        },
        Target::Int | Target::Long => {
            let n: i64 = match v {
                Bson::Boolean(b) => i64::from(*b),
                Bson::Int32(i) => i64::from(*i),
                Bson::Int64(i) => *i,
                Bson::Double(f) => whole(*f).ok_or_else(|| failed(v, target, "out of range"))?,
                Bson::Decimal128(d) => whole(crate::value::decimal_to_f64(d))
                    .ok_or_else(|| failed(v, target, "out of range"))?,
                Bson::DateTime(d) if target == Target::Long => d.timestamp_millis(),
                Bson::String(s) => s
                    .parse::<i64>()
                    .map_err(|_| failed(v, target, "not a base-10 integer"))?,
                _ => return Err(refuse(v, target)),
            };
            if target == Target::Int {
                Bson::Int32(i32::try_from(n).map_err(|_| failed(v, target, "out of range"))?)
            } else {
                Bson::Int64(n)
            }
        }
        Target::ObjectId => match v {
            Bson::ObjectId(o) => Bson::ObjectId(*o),
            Bson::String(s) => Bson::ObjectId(
                ObjectId::parse_str(s)
                    .map_err(|_| failed(v, target, "not 24 hexadecimal digits"))?,
            ),
            _ => return Err(refuse(v, target)),
        },
        Target::Date => match v {
            Bson::DateTime(d) => Bson::DateTime(*d),
            Bson::Int64(ms) => Bson::DateTime(bson::DateTime::from_millis(*ms)),
            Bson::Double(f) if f.is_finite() => {
                Bson::DateTime(bson::DateTime::from_millis(f.trunc() as i64))
            }
            Bson::String(s) => Bson::DateTime(bson::DateTime::from_millis(
                parse_iso(s).ok_or_else(|| failed(v, target, "not an ISO-8601 date"))?,
            )),
            Bson::ObjectId(o) => Bson::DateTime(o.timestamp()),
            Bson::Timestamp(t) => {
                Bson::DateTime(bson::DateTime::from_millis(i64::from(t.time) * 1000))
            }
            _ => return Err(refuse(v, target)),
        },
    })
}

/// A finite double truncated to an int64, if it fits.
fn whole(f: f64) -> Option<i64> {
    (f.is_finite() && f.abs() < 9.2e18).then(|| f.trunc() as i64)
}

/// The string form `$toString` gives a value (`None`: no string form).
pub(crate) fn to_string_value(value: &Bson) -> Option<String> {
    Some(match value {
        Bson::String(s) => s.clone(),
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => i.to_string(),
        Bson::Double(f) => format_double(*f),
        Bson::Decimal128(d) => d.to_string(),
        Bson::Boolean(b) => b.to_string(),
        Bson::ObjectId(o) => o.to_hex(),
        Bson::DateTime(d) => format_iso(d.timestamp_millis()),
        _ => return None,
    })
}

fn format_double(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else {
        format!("{f}")
    }
}
