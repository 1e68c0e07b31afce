//! Comparison (`$eq $ne $gt $gte $lt $lte $cmp`), boolean (`$and $or
//! $not`) and conditional (`$cond $ifNull`) operators.
//!
//! Unlike query operators, expression comparisons compare values of any two
//! types in BSON order (`$gt: ["abc", 5]` is true: strings sort after
//! numbers), and *missing* compares as undefined, below null.
//!
//! Truthiness: false, null, undefined, missing and numeric zero are false;
//! everything else — empty strings and empty arrays included — is true.
//! `$and`, `$or`, `$cond` and `$ifNull` evaluate lazily, so an operand that
//! is not needed cannot raise an error.

use std::cmp::Ordering;

use bson::Bson;

use super::{Ctx, Node, Op, Value, is_nullish};
use crate::Result;
use crate::value::compare;

/// MongoDB's truthiness of an expression value.
pub fn truthy(value: &Value) -> bool {
    match value {
        None | Some(Bson::Null) | Some(Bson::Undefined) => false,
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(i)) => *i != 0,
        Some(Bson::Int64(i)) => *i != 0,
        Some(Bson::Double(f)) => *f != 0.0,
        Some(Bson::Decimal128(d)) => crate::value::decimal_to_f64(d) != 0.0,
        Some(_) => true,
    }
}

/// Compares two expression values (missing as undefined).
pub(crate) fn compare_values(a: &Value, b: &Value) -> Ordering {
    let undefined = Bson::Undefined;
    compare(
        a.as_ref().unwrap_or(&undefined),
        b.as_ref().unwrap_or(&undefined),
    )
}

pub(super) fn comparison(op: Op, args: &[Value]) -> Result<Value> {
    let order = compare_values(&args[0], &args[1]);
    Ok(Some(match op {
        Op::Cmp => Bson::Int32(match order {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }),
        Op::Eq => Bson::Boolean(order.is_eq()),
        Op::Ne => Bson::Boolean(order.is_ne()),
        Op::Gt => Bson::Boolean(order.is_gt()),
        Op::Gte => Bson::Boolean(order.is_ge()),
        Op::Lt => Bson::Boolean(order.is_lt()),
        Op::Lte => Bson::Boolean(order.is_le()),
        _ => unreachable!("not a comparison: {op:?}"),
    }))
}

pub(super) fn logical(ctx: &Ctx<'_>, op: Op, args: &[Node]) -> Result<Value> {
    Ok(Some(match op {
        Op::And => {
            for arg in args {
                if !truthy(&ctx.eval(arg)?) {
                    return Ok(Some(Bson::Boolean(false)));
                }
            }
            Bson::Boolean(true)
        }
        Op::Or => {
            for arg in args {
                if truthy(&ctx.eval(arg)?) {
                    return Ok(Some(Bson::Boolean(true)));
                }
            }
            Bson::Boolean(false)
        }
        Op::Not => Bson::Boolean(!truthy(&ctx.eval(&args[0])?)),
        Op::Cond => {
            let branch = if truthy(&ctx.eval(&args[0])?) {
                &args[1]
            } else {
                &args[2]
            };
            return ctx.eval(branch);
        }
        Op::IfNull => {
            let (replacement, candidates) = args.split_last().expect("at least two arguments");
            for candidate in candidates {
                let value = ctx.eval(candidate)?;
                if !is_nullish(&value) {
                    return Ok(value);
                }
            }
            return ctx.eval(replacement);
        }
        _ => unreachable!("not a logical operator: {op:?}"),
    }))
}
