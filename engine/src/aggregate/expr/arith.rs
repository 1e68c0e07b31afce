//! Arithmetic: `$add $subtract $multiply $divide $mod $abs $ceil $floor
//! $round $trunc $sqrt $pow $exp $ln $log $log10`, and the accumulators
//! that also work as expressions (`$sum $avg $min $max $stdDevPop
//! $stdDevSamp` over an array or over their arguments).
//!
//! Type rules, as in MongoDB: int32 op int32 stays int32 unless it
//! overflows (then int64), int64 overflows to double, anything with a
//! double is a double, `$divide` always gives a double. A null or missing
//! operand makes the result null. `$add` accepts one date (the result is a
//! date), `$subtract` takes date − date (milliseconds, int64) and date −
//! number (a date). Decimal128 operands are refused: this engine has no
//! decimal arithmetic, and a double approximation would be a wrong answer.

use bson::Bson;

use super::{Op, Value, is_nullish, type_of};
use crate::value::compare;
use crate::{Error, Result};

/// A number during arithmetic, with MongoDB's widening order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i32),
    Long(i64),
    Double(f64),
}

impl Num {
    pub(crate) fn of(value: &Bson) -> Option<Num> {
        match value {
            Bson::Int32(i) => Some(Num::Int(*i)),
            Bson::Int64(i) => Some(Num::Long(*i)),
            Bson::Double(f) => Some(Num::Double(*f)),
            _ => None,
        }
    }

    pub(crate) fn to_bson(self) -> Bson {
        match self {
            Num::Int(i) => Bson::Int32(i),
            Num::Long(i) => Bson::Int64(i),
            Num::Double(f) => Bson::Double(f),
        }
    }

    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => f64::from(i),
            Num::Long(i) => i as f64,
            Num::Double(f) => f,
        }
    }

    fn as_i64(self) -> Option<i64> {
        match self {
            Num::Int(i) => Some(i64::from(i)),
            Num::Long(i) => Some(i),
            Num::Double(_) => None,
        }
    }

    /// Adds with widening: int32 → int64 → double.
    pub(crate) fn add(self, other: Num) -> Num {
        widen(self, other, i32::checked_add, i64::checked_add, |a, b| {
            a + b
        })
    }

    fn sub(self, other: Num) -> Num {
        widen(self, other, i32::checked_sub, i64::checked_sub, |a, b| {
            a - b
        })
    }

    fn mul(self, other: Num) -> Num {
        widen(self, other, i32::checked_mul, i64::checked_mul, |a, b| {
            a * b
        })
    }
}

fn widen(
    a: Num,
    b: Num,
    int: fn(i32, i32) -> Option<i32>,
    long: fn(i64, i64) -> Option<i64>,
    double: fn(f64, f64) -> f64,
) -> Num {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => match int(x, y) {
            Some(r) => Num::Int(r),
            None => long_or_double(i64::from(x), i64::from(y), long, double),
        },
        (Num::Double(_), _) | (_, Num::Double(_)) => Num::Double(double(a.as_f64(), b.as_f64())),
        _ => {
            let (x, y) = (a.as_i64().unwrap_or(0), b.as_i64().unwrap_or(0));
            long_or_double(x, y, long, double)
        }
    }
}

fn long_or_double(
    x: i64,
    y: i64,
    long: fn(i64, i64) -> Option<i64>,
    double: fn(f64, f64) -> f64,
) -> Num {
    match long(x, y) {
        Some(r) => Num::Long(r),
        None => Num::Double(double(x as f64, y as f64)),
    }
}

/// A running `$sum`: numbers are added with widening, anything else is ignored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sum {
    pub(crate) total: Num,
    pub(crate) count: u64,
}

impl Default for Sum {
    fn default() -> Self {
        Sum {
            total: Num::Int(0),
            count: 0,
        }
    }
}

impl Sum {
    pub(crate) fn add(&mut self, value: &Bson) -> Result<()> {
        if let Bson::Decimal128(_) = value {
            return Err(decimal("$sum"));
        }
        if let Some(n) = Num::of(value) {
            self.total = self.total.add(n);
            self.count += 1;
        }
        Ok(())
    }

    /// The mean of the numbers seen, null when there were none.
    pub(crate) fn mean(&self) -> Bson {
        if self.count == 0 {
            Bson::Null
        } else {
            Bson::Double(self.total.as_f64() / self.count as f64)
        }
    }
}

/// A running standard deviation (Welford's method, which also merges).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Spread {
    pub(crate) count: u64,
    pub(crate) mean: f64,
    pub(crate) m2: f64,
}

impl Spread {
    pub(crate) fn add(&mut self, value: &Bson) {
        if let Some(n) = Num::of(value) {
            let x = n.as_f64();
            self.count += 1;
            let delta = x - self.mean;
            self.mean += delta / self.count as f64;
            self.m2 += delta * (x - self.mean);
        }
    }

    /// Combines two partial results (Chan et al.).
    pub(crate) fn merge(&mut self, other: &Spread) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let n = (self.count + other.count) as f64;
        let delta = other.mean - self.mean;
        self.m2 += other.m2 + delta * delta * self.count as f64 * other.count as f64 / n;
        self.mean += delta * other.count as f64 / n;
        self.count += other.count;
    }

    pub(crate) fn finish(&self, sample: bool) -> Bson {
        let n = self.count as f64;
        if sample {
            if self.count < 2 {
                return Bson::Null;
            }
            Bson::Double((self.m2 / (n - 1.0)).sqrt())
        } else {
            if self.count == 0 {
                return Bson::Null;
            }
            Bson::Double((self.m2 / n).sqrt())
        }
    }
}

fn decimal(op: &str) -> Error {
    Error::NotSupported(format!(
        "{op} on Decimal128 values (this engine has no decimal arithmetic)"
    ))
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Add => "$add",
        Op::Subtract => "$subtract",
        Op::Multiply => "$multiply",
        Op::Divide => "$divide",
        Op::Mod => "$mod",
        Op::Abs => "$abs",
        Op::Ceil => "$ceil",
        Op::Floor => "$floor",
        Op::Round => "$round",
        Op::Trunc => "$trunc",
        Op::Sqrt => "$sqrt",
        Op::Pow => "$pow",
        Op::Exp => "$exp",
        Op::Ln => "$ln",
        Op::Log => "$log",
        Op::Log10 => "$log10",
        Op::Sum => "$sum",
        Op::Avg => "$avg",
        Op::Min => "$min",
        Op::Max => "$max",
        Op::StdDevPop => "$stdDevPop",
        Op::StdDevSamp => "$stdDevSamp",
        _ => "arithmetic",
    }
}

/// The number in an operand, or the error MongoDB gives for another type.
fn number(op: Op, value: &Value) -> Result<Num> {
    match value {
        Some(Bson::Decimal128(_)) => Err(decimal(op_name(op))),
        Some(v) => Num::of(v).ok_or_else(|| {
            Error::TypeMismatch(format!(
                "{} only supports numeric types, not {}",
                op_name(op),
                type_of(value)
            ))
        }),
        None => Err(Error::TypeMismatch(format!(
            "{} only supports numeric types, not missing",
            op_name(op)
        ))),
    }
}

pub(super) fn call(op: Op, args: &[Value]) -> Result<Value> {
    match op {
        Op::Sum | Op::Avg | Op::Min | Op::Max | Op::StdDevPop | Op::StdDevSamp => {
            return accumulate(op, args);
        }
        _ => {}
    }
    if args.iter().any(is_nullish) {
        return Ok(Some(Bson::Null));
    }
    let value = match op {
        Op::Add => add(args)?,
        Op::Subtract => subtract(&args[0], &args[1])?,
        Op::Multiply => {
            let mut product = Num::Int(1);
            for arg in args {
                product = product.mul(number(op, arg)?);
            }
            product.to_bson()
        }
        Op::Divide => {
            let (a, b) = (number(op, &args[0])?, number(op, &args[1])?);
            if b.as_f64() == 0.0 {
                return Err(Error::BadValue("can't $divide by zero".into()));
            }
            Bson::Double(a.as_f64() / b.as_f64())
        }
        Op::Mod => modulo(number(op, &args[0])?, number(op, &args[1])?)?,
        Op::Abs => match number(op, &args[0])? {
            Num::Int(i) => match i.checked_abs() {
                Some(a) => Bson::Int32(a),
                None => Bson::Int64(i64::from(i).abs()),
            },
            Num::Long(i) => match i.checked_abs() {
                Some(a) => Bson::Int64(a),
                None => Bson::Double((i as f64).abs()),
            },
            Num::Double(f) => Bson::Double(f.abs()),
        },
        Op::Ceil | Op::Floor => match number(op, &args[0])? {
            Num::Double(f) => Bson::Double(if op == Op::Ceil { f.ceil() } else { f.floor() }),
            n => n.to_bson(),
        },
        Op::Round | Op::Trunc => round(op, &args[0], args.get(1))?,
        Op::Sqrt => {
            let x = number(op, &args[0])?.as_f64();
            if x < 0.0 {
                return Err(Error::BadValue(
                    "$sqrt's argument must be greater than or equal to 0".into(),
                ));
            }
            Bson::Double(x.sqrt())
        }
        Op::Pow => pow(number(op, &args[0])?, number(op, &args[1])?)?,
        Op::Exp => Bson::Double(number(op, &args[0])?.as_f64().exp()),
        Op::Ln => Bson::Double(positive(op, &args[0])?.ln()),
        Op::Log10 => Bson::Double(positive(op, &args[0])?.log10()),
        Op::Log => {
            let x = positive(op, &args[0])?;
            let base = number(op, &args[1])?.as_f64();
            if base <= 0.0 || base == 1.0 {
                return Err(Error::BadValue(
                    "$log's base must be a positive number not equal to 1".into(),
                ));
            }
            Bson::Double(x.ln() / base.ln())
        }
        _ => unreachable!("not an arithmetic operator: {op:?}"),
    };
    Ok(Some(value))
}

fn positive(op: Op, value: &Value) -> Result<f64> {
    let x = number(op, value)?.as_f64();
    if x <= 0.0 {
        return Err(Error::BadValue(format!(
            "{}'s argument must be a positive number, but is {x}",
            op_name(op)
        )));
    }
    Ok(x)
}

fn add(args: &[Value]) -> Result<Bson> {
    let mut total = Num::Int(0);
    let mut date: Option<i64> = None;
    for arg in args {
        match arg {
            Some(Bson::DateTime(d)) => {
                if date.is_some() {
                    return Err(Error::BadValue(
                        "only one date allowed in an $add expression".into(),
                    ));
                }
                date = Some(d.timestamp_millis());
            }
            other => total = total.add(number(Op::Add, other)?),
        }
    }
    Ok(match date {
        Some(ms) => Bson::DateTime(bson::DateTime::from_millis(
            ms.saturating_add(round_half_even(total.as_f64()) as i64),
        )),
        None => total.to_bson(),
    })
}

fn subtract(a: &Value, b: &Value) -> Result<Bson> {
    match (a, b) {
        (Some(Bson::DateTime(x)), Some(Bson::DateTime(y))) => Ok(Bson::Int64(
            x.timestamp_millis().saturating_sub(y.timestamp_millis()),
        )),
        (Some(Bson::DateTime(x)), other) => {
            let n = number(Op::Subtract, other)?;
            Ok(Bson::DateTime(bson::DateTime::from_millis(
                x.timestamp_millis()
                    .saturating_sub(round_half_even(n.as_f64()) as i64),
            )))
        }
        (_, Some(Bson::DateTime(_))) => Err(Error::TypeMismatch(format!(
            "can't $subtract a date from a {}",
            type_of(a)
        ))),
        _ => Ok(number(Op::Subtract, a)?
            .sub(number(Op::Subtract, b)?)
            .to_bson()),
    }
}

fn modulo(a: Num, b: Num) -> Result<Bson> {
    if b.as_f64() == 0.0 {
        return Err(Error::BadValue("can't $mod by zero".into()));
    }
    Ok(match (a, b) {
        (Num::Double(_), _) | (_, Num::Double(_)) => Bson::Double(a.as_f64() % b.as_f64()),
        (Num::Int(x), Num::Int(y)) => Bson::Int32(x.wrapping_rem(y)),
        _ => Bson::Int64(
            a.as_i64()
                .unwrap_or(0)
                .wrapping_rem(b.as_i64().unwrap_or(1)),
        ),
    })
}

fn pow(base: Num, exponent: Num) -> Result<Bson> {
    if base.as_f64() == 0.0 && exponent.as_f64() < 0.0 {
        return Err(Error::BadValue(
            "$pow cannot take a base of 0 and a negative exponent".into(),
        ));
    }
    if let (Some(b), Some(e)) = (base.as_i64(), exponent.as_i64())
        && e >= 0
        && let Ok(e32) = u32::try_from(e)
        && let Some(r) = b.checked_pow(e32)
    {
        let both_int = matches!((base, exponent), (Num::Int(_), Num::Int(_)));
        return Ok(match i32::try_from(r) {
            Ok(small) if both_int => Bson::Int32(small),
            _ => Bson::Int64(r),
        });
    }
    Ok(Bson::Double(base.as_f64().powf(exponent.as_f64())))
}

/// `$round` (half to even, as MongoDB) and `$trunc`, to `place` decimal
/// digits (negative places round to tens, hundreds …).
fn round(op: Op, value: &Value, place: Option<&Value>) -> Result<Bson> {
    let n = number(op, value)?;
    let place = match place {
        None => 0,
        Some(p) => {
            let p = number(op, p)?;
            let whole = p.as_f64();
            if whole.fract() != 0.0 || !(-20.0..=100.0).contains(&whole) {
                return Err(Error::BadValue(format!(
                    "{} requires 'place' to be an integer between -20 and 100, not {whole}",
                    op_name(op)
                )));
            }
            whole as i32
        }
    };
    let apply = |x: f64| -> f64 {
        let scale = 10f64.powi(place);
        let scaled = x * scale;
        let r = if op == Op::Round {
            round_half_even(scaled)
        } else {
            scaled.trunc()
        };
        r / scale
    };
    Ok(match n {
        Num::Double(f) => Bson::Double(apply(f)),
        Num::Int(_) | Num::Long(_) if place >= 0 => n.to_bson(),
        Num::Int(i) => Bson::Int32(apply(f64::from(i)) as i32),
        Num::Long(i) => Bson::Int64(apply(i as f64) as i64),
    })
}

pub(crate) fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    }
}

/// `$sum`, `$avg`, `$min`, `$max`, `$stdDev*` as expressions: one argument
/// that is an array means its elements, otherwise the arguments themselves.
fn accumulate(op: Op, args: &[Value]) -> Result<Value> {
    let values: Vec<&Bson> = match args {
        [Some(Bson::Array(items))] => items.iter().collect(),
        _ => args.iter().flatten().collect(),
    };
    Ok(Some(match op {
        Op::Sum | Op::Avg => {
            let mut sum = Sum::default();
            for v in &values {
                sum.add(v)?;
            }
            if op == Op::Sum {
                sum.total.to_bson()
            } else {
                sum.mean()
            }
        }
        Op::Min | Op::Max => values
            .into_iter()
            .filter(|v| !matches!(v, Bson::Null | Bson::Undefined))
            .reduce(|best, v| {
                let order = compare(v, best);
                let better = if op == Op::Min {
                    order.is_lt()
                } else {
                    order.is_gt()
                };
                if better { v } else { best }
            })
            .cloned()
            .unwrap_or(Bson::Null),
        _ => {
            let mut spread = Spread::default();
            for v in values {
                spread.add(v);
            }
            spread.finish(op == Op::StdDevSamp)
        }
    }))
}
