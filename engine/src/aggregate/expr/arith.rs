//! Arithmetic: `$add $subtract $multiply $divide $mod $abs $ceil $floor
//! $round $trunc $sqrt $pow $exp $ln $log $log10`, and the accumulators
//! that also work as expressions (`$sum $avg $min $max $stdDevPop
//! $stdDevSamp` over an array or over their arguments).
//!
//! Type rules, as in MongoDB: the result has the widest type among the
//! operands (int32 < int64 < double), except that an int32 result that does
//! not fit becomes an int64, and an int64 overflow becomes a double;
//! `$divide` always gives a double. `$add` and `$multiply` work like
//! MongoDB's: the integers are summed (multiplied) in 64 bits and the
//! result narrowed at the end, so `$add: [2147483647, 1, -1]` is the int32
//! 2147483647. A null or missing operand makes the result null (`$add` and
//! `$multiply` look at their operands left to right, so an earlier operand
//! of a wrong type is an error). `$add` accepts one date (the result is a
//! date; double operands are rounded to whole milliseconds), `$subtract`
//! takes date − date (milliseconds, int64) and date − number (a date).
//! Decimal128 operands are refused: this engine has no decimal arithmetic,
//! and a double approximation would be a wrong answer.
//!
//! [`Sum`] is MongoDB's `$sum`: it keeps the widest type seen, the exact
//! total of the integer operands and a compensated total of the doubles, so
//! its answer does not depend on the order of the operands — which is what
//! lets shards sum their own documents and a router add the partial sums.

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

    fn width(self) -> Width {
        match self {
            Num::Int(_) => Width::Int,
            Num::Long(_) => Width::Long,
            Num::Double(_) => Width::Double,
        }
    }

    fn sub(self, other: Num) -> Num {
        widen(self, other, i32::checked_sub, i64::checked_sub, |a, b| {
            a - b
        })
    }
}

/// How wide a numeric result has become.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Width {
    #[default]
    Int,
    Long,
    Double,
}

/// MongoDB's `Value::createIntOrLong`: an int32 when it fits.
fn int_or_long(n: i64) -> Num {
    match i32::try_from(n) {
        Ok(i) => Num::Int(i),
        Err(_) => Num::Long(n),
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

/// A double total with Neumaier's compensation, so that adding many
/// doubles (or adding partial totals in another grouping) loses as little
/// as MongoDB's double-double summation does.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Compensated {
    sum: f64,
    carry: f64,
}

impl Compensated {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if t.is_finite() {
            self.carry += if self.sum.abs() >= x.abs() {
                (self.sum - t) + x
            } else {
                (x - t) + self.sum
            };
        }
        self.sum = t;
    }

    fn value(&self) -> f64 {
        if self.sum.is_finite() {
            self.sum + self.carry
        } else {
            self.sum
        }
    }
}

/// A running `$sum`: numbers are added (see the module docs), anything else
/// is ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Sum {
    /// The widest type among the numbers seen.
    width: Width,
    /// The exact total of the int32 and int64 numbers.
    ints: i128,
    /// The total of the doubles.
    doubles: Compensated,
    /// How many numbers were added.
    pub(crate) count: u64,
}

impl Sum {
    pub(crate) fn add(&mut self, value: &Bson) -> Result<()> {
        if let Bson::Decimal128(_) = value {
            return Err(decimal("$sum"));
        }
        if let Some(n) = Num::of(value) {
            self.width = self.width.max(n.width());
            match n {
                Num::Int(i) => self.ints += i128::from(i),
                Num::Long(i) => self.ints += i128::from(i),
                Num::Double(f) => self.doubles.add(f),
            }
            self.count += 1;
        }
        Ok(())
    }

    /// The total, as MongoDB's `$sum` types it: integers stay integers
    /// (int32 when the total fits, else int64) unless the total does not
    /// fit an int64 or a double was added.
    pub(crate) fn total(&self) -> Num {
        let exact = match self.width {
            Width::Int => i64::try_from(self.ints).ok().map(int_or_long),
            Width::Long => i64::try_from(self.ints).ok().map(Num::Long),
            Width::Double => None,
        };
        exact.unwrap_or_else(|| Num::Double(self.as_f64()))
    }

    fn as_f64(&self) -> f64 {
        let mut all = self.doubles;
        all.add(self.ints as f64);
        all.value()
    }

    /// The mean of the numbers seen, null when there were none.
    pub(crate) fn mean(&self) -> Bson {
        if self.count == 0 {
            Bson::Null
        } else {
            Bson::Double(self.as_f64() / self.count as f64)
        }
    }

    /// Adds another running sum (a shard's partial sum) to this one.
    pub(crate) fn merge(&mut self, other: &Sum) {
        self.width = self.width.max(other.width);
        self.ints += other.ints;
        self.doubles.add(other.doubles.sum);
        self.doubles.carry += other.doubles.carry;
        self.count += other.count;
    }

    /// The whole state as BSON, to ship from a shard to the router.
    pub(crate) fn to_partial(self) -> Bson {
        let ints = match i64::try_from(self.ints) {
            Ok(i) => Bson::Int64(i),
            Err(_) => Bson::String(self.ints.to_string()),
        };
        Bson::Document(bson::doc! {
            "w": self.width as i32,
            "i": ints,
            "s": self.doubles.sum,
            "c": self.doubles.carry,
            "n": i64::try_from(self.count).unwrap_or(i64::MAX),
        })
    }

    /// Reads a state written by [`Sum::to_partial`].
    pub(crate) fn from_partial(partial: &Bson) -> Option<Sum> {
        let Bson::Document(d) = partial else {
            return None;
        };
        let width = match d.get("w")? {
            Bson::Int32(0) => Width::Int,
            Bson::Int32(1) => Width::Long,
            Bson::Int32(2) => Width::Double,
            _ => return None,
        };
        let ints = match d.get("i")? {
            Bson::Int64(i) => i128::from(*i),
            Bson::String(s) => s.parse().ok()?,
            _ => return None,
        };
        Some(Sum {
            width,
            ints,
            doubles: Compensated {
                sum: d.get("s")?.as_f64()?,
                carry: d.get("c")?.as_f64()?,
            },
            count: u64::try_from(d.get("n")?.as_i64()?).ok()?,
        })
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
    match op {
        Op::Add => return add(args).map(Some),
        Op::Multiply => return multiply(args).map(Some),
        _ => {}
    }
    if args.iter().any(is_nullish) {
        return Ok(Some(Bson::Null));
    }
    let value = match op {
        Op::Subtract => subtract(&args[0], &args[1])?,
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
                None => {
                    return Err(Error::BadValue("can't take $abs of long long min".into()));
                }
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

/// `$add`, as MongoDB's `AddState`: a 64-bit integer total that turns
/// into a double when a double comes or the integers overflow; with a date,
/// a date total in milliseconds.
fn add(args: &[Value]) -> Result<Bson> {
    let mut width = Width::Int;
    let mut long: i64 = 0;
    let mut double = 0.0_f64;
    let mut date: Option<i64> = None;
    for arg in args {
        if is_nullish(arg) {
            return Ok(Bson::Null);
        }
        if let Some(Bson::DateTime(d)) = arg {
            if date.is_some() {
                return Err(Error::BadValue(
                    "only one date allowed in an $add expression".into(),
                ));
            }
            let so_far = match width {
                Width::Double => Num::Double(double),
                _ => Num::Long(long),
            };
            date = Some(add_to_date(d.timestamp_millis(), so_far)?);
            continue;
        }
        let n = match arg {
            Some(v) if Num::of(v).is_some() => number(Op::Add, arg)?,
            Some(Bson::Decimal128(_)) => return Err(decimal("$add")),
            _ => {
                return Err(Error::TypeMismatch(format!(
                    "$add only supports numeric or date types, not {}",
                    type_of(arg)
                )));
            }
        };
        if let Some(ms) = date {
            date = Some(add_to_date(ms, n)?);
            continue;
        }
        let wider = width.max(n.width());
        if wider == Width::Double && width != Width::Double {
            double = long as f64;
        }
        width = wider;
        match (width, n.as_i64()) {
            (Width::Double, _) | (_, None) => double += n.as_f64(),
            (_, Some(i)) => match long.checked_add(i) {
                Some(total) => long = total,
                None => {
                    width = Width::Double;
                    double = long as f64 + n.as_f64();
                }
            },
        }
    }
    Ok(match (date, width) {
        (Some(ms), _) => Bson::DateTime(bson::DateTime::from_millis(ms)),
        (None, Width::Int) => int_or_long(long).to_bson(),
        (None, Width::Long) => Bson::Int64(long),
        (None, Width::Double) => Bson::Double(double),
    })
}

/// Adds a number of milliseconds to a date (doubles are rounded half away
/// from zero, as `llround`).
fn add_to_date(ms: i64, n: Num) -> Result<i64> {
    let overflow = || Error::BadValue("date overflow in $add".into());
    let delta = match n {
        Num::Int(i) => i64::from(i),
        Num::Long(i) => i,
        Num::Double(f) => {
            if !(f >= i64::MIN as f64 && f < i64::MAX as f64) {
                return Err(overflow());
            }
            f.round() as i64
        }
    };
    ms.checked_add(delta).ok_or_else(overflow)
}

/// `$multiply`, as MongoDB's `MultiplyState`: a 64-bit integer product
/// (narrowed to int32 at the end when it fits) until a double comes or the
/// product overflows, then the double product.
fn multiply(args: &[Value]) -> Result<Bson> {
    let mut width = Width::Int;
    let mut long: i64 = 1;
    let mut double = 1.0_f64;
    for arg in args {
        if is_nullish(arg) {
            return Ok(Bson::Null);
        }
        let n = number(Op::Multiply, arg)?;
        width = width.max(n.width());
        double *= n.as_f64();
        if width != Width::Double {
            match n.as_i64().and_then(|i| long.checked_mul(i)) {
                Some(product) => long = product,
                None => width = Width::Double,
            }
        }
    }
    Ok(match width {
        Width::Int => int_or_long(long).to_bson(),
        Width::Long => Bson::Int64(long),
        Width::Double => Bson::Double(double),
    })
}

fn subtract(a: &Value, b: &Value) -> Result<Bson> {
    match (a, b) {
        (Some(Bson::DateTime(x)), Some(Bson::DateTime(y))) => Ok(Bson::Int64(
            x.timestamp_millis().saturating_sub(y.timestamp_millis()),
        )),
        (Some(Bson::DateTime(x)), other) => {
            let overflow = || Error::BadValue("date overflow in $subtract".into());
            let delta = match number(Op::Subtract, other)? {
                Num::Double(f) if !(f >= i64::MIN as f64 && f < i64::MAX as f64) => {
                    return Err(overflow());
                }
                // Rounded half away from zero, as MongoDB's `llround`.
                Num::Double(f) => f.round() as i64,
                n => n.as_i64().unwrap_or(0),
            };
            Ok(Bson::DateTime(bson::DateTime::from_millis(
                x.timestamp_millis()
                    .checked_sub(delta)
                    .ok_or_else(overflow)?,
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

/// `$pow`: integers give an integer when the power fits an int64 (an int32
/// when both operands are int32 and it fits), otherwise a double.
fn pow(base: Num, exponent: Num) -> Result<Bson> {
    if base.as_f64() == 0.0 && exponent.as_f64() < 0.0 {
        return Err(Error::BadValue(
            "$pow cannot take a base of 0 and a negative exponent".into(),
        ));
    }
    let (Some(b), Some(e)) = (base.as_i64(), exponent.as_i64()) else {
        return Ok(Bson::Double(base.as_f64().powf(exponent.as_f64())));
    };
    let exact = match b {
        0 => Some(i64::from(e == 0)),
        1 => Some(1),
        -1 => Some(if e % 2 == 0 { 1 } else { -1 }),
        _ => u32::try_from(e).ok().and_then(|e| b.checked_pow(e)),
    };
    let long = matches!(base, Num::Long(_)) || matches!(exponent, Num::Long(_));
    Ok(match exact {
        Some(r) if long => Bson::Int64(r),
        Some(r) => int_or_long(r).to_bson(),
        None => Bson::Double((b as f64).powf(e as f64)),
    })
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
        // Scale by dividing for negative places (10^-k is not exact).
        let factor = 10f64.powi(place.abs());
        let scaled = if place >= 0 { x * factor } else { x / factor };
        if !scaled.is_finite() || scaled.abs() >= 4_503_599_627_370_496.0 {
            // Already whole at this scale (or too large to scale).
            return x;
        }
        let r = if op == Op::Round {
            round_half_even(scaled)
        } else {
            scaled.trunc()
        };
        if place >= 0 { r / factor } else { r * factor }
    };
    Ok(match n {
        Num::Double(f) => Bson::Double(apply(f)),
        Num::Int(_) | Num::Long(_) if place >= 0 => n.to_bson(),
        Num::Int(i) => {
            let r = round_integer(op, i64::from(i), place);
            match (i32::try_from(r), i64::try_from(r)) {
                (Ok(small), _) => Bson::Int32(small),
                (_, Ok(long)) => Bson::Int64(long),
                _ => return Err(round_overflow(op, r)),
            }
        }
        Num::Long(i) => {
            let r = round_integer(op, i, place);
            Bson::Int64(i64::try_from(r).map_err(|_| round_overflow(op, r))?)
        }
    })
}

/// Rounds (half to even) or truncates an integer to a negative `place`,
/// exactly.
fn round_integer(op: Op, x: i64, place: i32) -> i128 {
    let factor = 10_i128.pow(place.unsigned_abs());
    let (x, r) = (i128::from(x), i128::from(x) % factor);
    let q = (x - r) / factor;
    let up = op == Op::Round && {
        let twice = r.abs() * 2;
        twice > factor || (twice == factor && q % 2 != 0)
    };
    (if up { q + r.signum() } else { q }) * factor
}

fn round_overflow(op: Op, r: i128) -> Error {
    Error::BadValue(format!(
        "{}: the result {r} does not fit a 64-bit integer",
        op_name(op)
    ))
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
                sum.total().to_bson()
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
