//! Array, set and object operators: `$size $arrayElemAt $first $last
//! $concatArrays $slice $reverseArray $isArray $in $indexOfArray $range
//! $arrayToObject $objectToArray $sortArray $map $filter $reduce`, the set
//! operators (`$setUnion $setIntersection $setDifference $setEquals
//! $setIsSubset $allElementsTrue $anyElementTrue`), `$mergeObjects` and
//! `$getField`.
//!
//! Most return null when an array operand is null or missing and fail with
//! a message naming the operator when it is another type. Set operators
//! compare with BSON equality (`1 == 1.0`) and return their results in BSON
//! order, duplicates removed.

use bson::{Bson, Document};

use super::compare::truthy;
use super::{Ctx, Node, Op, Value, is_nullish, type_of};
use crate::sort::SortSpec;
use crate::value::{compare, values_equal};
use crate::{Error, Result};

fn name(op: Op) -> &'static str {
    match op {
        Op::Size => "$size",
        Op::ArrayElemAt => "$arrayElemAt",
        Op::First => "$first",
        Op::Last => "$last",
        Op::ConcatArrays => "$concatArrays",
        Op::Slice => "$slice",
        Op::ReverseArray => "$reverseArray",
        Op::In => "$in",
        Op::IndexOfArray => "$indexOfArray",
        Op::Range => "$range",
        Op::ArrayToObject => "$arrayToObject",
        Op::ObjectToArray => "$objectToArray",
        Op::SortArray => "$sortArray",
        Op::SetUnion => "$setUnion",
        Op::SetIntersection => "$setIntersection",
        Op::SetDifference => "$setDifference",
        Op::SetEquals => "$setEquals",
        Op::SetIsSubset => "$setIsSubset",
        Op::AllElementsTrue => "$allElementsTrue",
        Op::AnyElementTrue => "$anyElementTrue",
        Op::MergeObjects => "$mergeObjects",
        Op::GetField => "$getField",
        _ => "array operator",
    }
}

fn array(op: Op, value: &Value) -> Result<&Vec<Bson>> {
    match value {
        Some(Bson::Array(items)) => Ok(items),
        other => Err(Error::TypeMismatch(format!(
            "{} requires an array argument, found: {}",
            name(op),
            type_of(other)
        ))),
    }
}

fn integer(op: Op, what: &str, value: &Value) -> Result<i64> {
    let n = value
        .as_ref()
        .and_then(crate::value::Number::from_bson)
        .map(|n| n.as_f64())
        .ok_or_else(|| {
            Error::TypeMismatch(format!(
                "{} requires the {what} to be a number, found: {}",
                name(op),
                type_of(value)
            ))
        })?;
    if n.fract() != 0.0 || n.abs() > 2_147_483_647.0 {
        return Err(Error::BadValue(format!(
            "{} requires the {what} to be a 32-bit integer, not {n}",
            name(op)
        )));
    }
    Ok(n as i64)
}

/// Distinct values in BSON order.
fn as_set(items: &[Bson]) -> Vec<Bson> {
    let mut out = items.to_vec();
    out.sort_by(compare);
    out.dedup_by(|a, b| values_equal(a, b));
    out
}

fn contains(set: &[Bson], value: &Bson) -> bool {
    set.iter().any(|v| values_equal(v, value))
}

pub(super) fn call(op: Op, args: &[Value]) -> Result<Value> {
    let value = match op {
        Op::Size => match &args[0] {
            Some(Bson::Array(items)) => Bson::Int32(i32::try_from(items.len()).unwrap_or(i32::MAX)),
            other => {
                return Err(Error::TypeMismatch(format!(
                    "The argument to $size must be an array. Type of argument: {}",
                    type_of(other)
                )));
            }
        },
        Op::ArrayElemAt => {
            if is_nullish(&args[0]) || is_nullish(&args[1]) {
                return Ok(Some(Bson::Null));
            }
            let items = array(op, &args[0])?;
            let i = integer(op, "index", &args[1])?;
            let at = if i < 0 {
                usize::try_from(-i)
                    .ok()
                    .and_then(|back| items.len().checked_sub(back))
            } else {
                usize::try_from(i).ok()
            };
            return Ok(at.and_then(|at| items.get(at)).cloned());
        }
        Op::First | Op::Last => {
            if is_nullish(&args[0]) {
                return Ok(Some(Bson::Null));
            }
            let items = array(op, &args[0])?;
            return Ok(if op == Op::First {
                items.first().cloned()
            } else {
                items.last().cloned()
            });
        }
        Op::ConcatArrays => {
            let mut out = Vec::new();
            for arg in args {
                if is_nullish(arg) {
                    return Ok(Some(Bson::Null));
                }
                out.extend(array(op, arg)?.iter().cloned());
            }
            Bson::Array(out)
        }
        Op::Slice => {
            if args.iter().any(is_nullish) {
                return Ok(Some(Bson::Null));
            }
            let items = array(op, &args[0])?;
            Bson::Array(slice(op, items, &args[1..])?)
        }
        Op::ReverseArray => {
            if is_nullish(&args[0]) {
                return Ok(Some(Bson::Null));
            }
            Bson::Array(array(op, &args[0])?.iter().rev().cloned().collect())
        }
        Op::IsArray => Bson::Boolean(matches!(args[0], Some(Bson::Array(_)))),
        Op::In => {
            let Some(Bson::Array(items)) = &args[1] else {
                return Err(Error::TypeMismatch(format!(
                    "$in requires an array as a second argument, found: {}",
                    type_of(&args[1])
                )));
            };
            let needle = args[0].clone().unwrap_or(Bson::Undefined);
            Bson::Boolean(items.iter().any(|v| values_equal(v, &needle)))
        }
        Op::IndexOfArray => {
            if is_nullish(&args[0]) {
                return Ok(Some(Bson::Null));
            }
            let items = array(op, &args[0])?;
            let needle = args[1].clone().unwrap_or(Bson::Undefined);
            let start = match args.get(2) {
                Some(v) => usize::try_from(integer(op, "starting index", v)?).map_err(|_| {
                    Error::BadValue("$indexOfArray's starting index must be non-negative".into())
                })?,
                None => 0,
            };
            let end = match args.get(3) {
                Some(v) => usize::try_from(integer(op, "ending index", v)?).map_err(|_| {
                    Error::BadValue("$indexOfArray's ending index must be non-negative".into())
                })?,
                None => items.len(),
            }
            .min(items.len());
            let found = (start..end).find(|&i| values_equal(&items[i], &needle));
            Bson::Int32(found.and_then(|i| i32::try_from(i).ok()).unwrap_or(-1))
        }
        Op::Range => {
            let start = integer(op, "starting value", &args[0])?;
            let end = integer(op, "ending value", &args[1])?;
            let step = match args.get(2) {
                Some(v) => integer(op, "step", v)?,
                None => 1,
            };
            if step == 0 {
                return Err(Error::BadValue(
                    "$range requires a non-zero step value".into(),
                ));
            }
            let mut out = Vec::new();
            let mut i = start;
            while (step > 0 && i < end) || (step < 0 && i > end) {
                out.push(Bson::Int32(i as i32));
                if out.len() > 10_000_000 {
                    return Err(Error::BadValue(
                        "$range would produce more than 10,000,000 elements".into(),
                    ));
                }
                i += step;
            }
            Bson::Array(out)
        }
        Op::ArrayToObject => {
            if is_nullish(&args[0]) {
                return Ok(Some(Bson::Null));
            }
            Bson::Document(array_to_object(array(op, &args[0])?)?)
        }
        Op::ObjectToArray => match &args[0] {
            v if is_nullish(v) => Bson::Null,
            Some(Bson::Document(d)) => Bson::Array(
                d.iter()
                    .map(|(k, v)| Bson::Document(bson::doc! { "k": k, "v": v.clone() }))
                    .collect(),
            ),
            other => {
                return Err(Error::TypeMismatch(format!(
                    "$objectToArray requires a document input, found: {}",
                    type_of(other)
                )));
            }
        },
        Op::SortArray => {
            if is_nullish(&args[0]) {
                return Ok(Some(Bson::Null));
            }
            let mut items = array(op, &args[0])?.clone();
            match &args[1] {
                Some(Bson::Document(spec)) => {
                    let spec = SortSpec::parse(spec)?;
                    let mut keyed: Vec<_> = items
                        .into_iter()
                        .map(|item| {
                            let doc = match &item {
                                Bson::Document(d) => d.clone(),
                                _ => Document::new(),
                            };
                            (spec.key(&doc), item)
                        })
                        .collect();
                    keyed.sort_by(|a, b| a.0.cmp(&b.0));
                    items = keyed.into_iter().map(|(_, item)| item).collect();
                }
                Some(v) if crate::value::Number::from_bson(v).is_some() => {
                    let descending = crate::value::Number::from_bson(v)
                        .map(|n| n.as_f64())
                        .unwrap_or(1.0)
                        < 0.0;
                    items.sort_by(compare);
                    if descending {
                        items.reverse();
                    }
                }
                other => {
                    return Err(Error::BadValue(format!(
                        "$sortArray's sortBy must be 1, -1 or a sort document, not {}",
                        type_of(other)
                    )));
                }
            }
            Bson::Array(items)
        }
        Op::SetUnion | Op::SetIntersection => {
            let mut sets = Vec::with_capacity(args.len());
            for arg in args {
                if is_nullish(arg) {
                    return Ok(Some(Bson::Null));
                }
                sets.push(as_set(array(op, arg)?));
            }
            let result = if op == Op::SetUnion {
                as_set(&sets.concat())
            } else {
                match sets.split_first() {
                    None => Vec::new(),
                    Some((first, rest)) => first
                        .iter()
                        .filter(|v| rest.iter().all(|s| contains(s, v)))
                        .cloned()
                        .collect(),
                }
            };
            Bson::Array(result)
        }
        Op::SetDifference => {
            if args.iter().any(is_nullish) {
                return Ok(Some(Bson::Null));
            }
            let a = as_set(array(op, &args[0])?);
            let b = as_set(array(op, &args[1])?);
            Bson::Array(a.into_iter().filter(|v| !contains(&b, v)).collect())
        }
        Op::SetEquals => {
            let mut sets = Vec::with_capacity(args.len());
            for arg in args {
                sets.push(as_set(array(op, arg)?));
            }
            let first = &sets[0];
            Bson::Boolean(sets.iter().all(|s| {
                s.len() == first.len() && s.iter().zip(first).all(|(a, b)| values_equal(a, b))
            }))
        }
        Op::SetIsSubset => {
            let a = as_set(array(op, &args[0])?);
            let b = as_set(array(op, &args[1])?);
            Bson::Boolean(a.iter().all(|v| contains(&b, v)))
        }
        Op::AllElementsTrue | Op::AnyElementTrue => {
            let items = array(op, &args[0])?;
            let mut truths = items.iter().map(|v| truthy(&Some(v.clone())));
            Bson::Boolean(if op == Op::AllElementsTrue {
                truths.all(|t| t)
            } else {
                truths.any(|t| t)
            })
        }
        Op::MergeObjects => {
            let sources: Vec<&Value> = match args {
                [Some(Bson::Array(_))] => Vec::new(),
                _ => args.iter().collect(),
            };
            let mut out = Document::new();
            let mut merge = |value: &Value| -> Result<()> {
                match value {
                    v if is_nullish(v) => Ok(()),
                    Some(Bson::Document(d)) => {
                        for (k, v) in d {
                            out.insert(k.clone(), v.clone());
                        }
                        Ok(())
                    }
                    other => Err(Error::TypeMismatch(format!(
                        "$mergeObjects requires object inputs, but input is of type {}",
                        type_of(other)
                    ))),
                }
            };
            if let [Some(Bson::Array(items))] = args {
                for item in items {
                    merge(&Some(item.clone()))?;
                }
            }
            for source in sources {
                merge(source)?;
            }
            Bson::Document(out)
        }
        Op::GetField => {
            let field = match &args[0] {
                Some(Bson::String(f)) => f,
                other => {
                    return Err(Error::BadValue(format!(
                        "$getField requires 'field' to evaluate to a string, not {}",
                        type_of(other)
                    )));
                }
            };
            return match &args[1] {
                Some(Bson::Document(d)) => Ok(d.get(field).cloned()),
                v if is_nullish(v) => Ok(Some(Bson::Null)),
                other => Err(Error::TypeMismatch(format!(
                    "$getField requires 'input' to evaluate to an object, not {}",
                    type_of(other)
                ))),
            };
        }
        _ => unreachable!("not an array operator: {op:?}"),
    };
    Ok(Some(value))
}

fn slice(op: Op, items: &[Bson], args: &[Value]) -> Result<Vec<Bson>> {
    let len = items.len() as i64;
    let (start, count) = match args {
        [n] => {
            let n = integer(op, "number of elements", n)?;
            if n >= 0 {
                (0, n)
            } else {
                ((len + n).max(0), -n)
            }
        }
        [position, n] => {
            let position = integer(op, "position", position)?;
            let n = integer(op, "number of elements", n)?;
            if n <= 0 {
                return Err(Error::BadValue(format!(
                    "$slice: the third argument must be positive, not {n}"
                )));
            }
            let start = if position >= 0 {
                position.min(len)
            } else {
                (len + position).max(0)
            };
            (start, n)
        }
        _ => unreachable!("arity checked at parse time"),
    };
    let start = usize::try_from(start).unwrap_or(0);
    let count = usize::try_from(count).unwrap_or(0);
    Ok(items.iter().skip(start).take(count).cloned().collect())
}

fn array_to_object(items: &[Bson]) -> Result<Document> {
    let mut out = Document::new();
    for item in items {
        let (k, v) = match item {
            Bson::Array(pair) if pair.len() == 2 => (&pair[0], pair[1].clone()),
            Bson::Document(d) if d.len() == 2 && d.contains_key("k") && d.contains_key("v") => (
                d.get("k").expect("has k"),
                d.get("v").expect("has v").clone(),
            ),
            other => {
                return Err(Error::BadValue(format!(
                    "$arrayToObject requires an array of [key, value] pairs or {{k, v}} \
                     documents, found {other}"
                )));
            }
        };
        let Bson::String(key) = k else {
            return Err(Error::TypeMismatch(format!(
                "$arrayToObject requires string keys, found {}",
                crate::value::type_name(k)
            )));
        };
        if key.contains('\0') {
            return Err(Error::BadValue(
                "$arrayToObject: a key must not contain an embedded null byte".into(),
            ));
        }
        out.insert(key.clone(), v);
    }
    Ok(out)
}

/// The array a `$map`, `$filter` or `$reduce` loops over; `None` when the
/// input is null or missing (the operator's answer is then null).
fn loop_input(ctx: &Ctx<'_>, input: &Node, op: &str) -> Result<Option<Vec<Bson>>> {
    match ctx.eval(input)? {
        v if is_nullish(&v) => Ok(None),
        Some(Bson::Array(items)) => Ok(Some(items)),
        other => Err(Error::TypeMismatch(format!(
            "input to {op} must be an array not {}",
            type_of(&other)
        ))),
    }
}

pub(super) fn map(ctx: &Ctx<'_>, input: &Node, var: &str, body: &Node) -> Result<Value> {
    let Some(items) = loop_input(ctx, input, "$map")? else {
        return Ok(Some(Bson::Null));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let v = ctx.with_var(var, Some(item), |inner| inner.eval(body))?;
        out.push(v.unwrap_or(Bson::Null));
    }
    Ok(Some(Bson::Array(out)))
}

pub(super) fn filter(
    ctx: &Ctx<'_>,
    input: &Node,
    var: &str,
    cond: &Node,
    limit: &Node,
) -> Result<Value> {
    let Some(items) = loop_input(ctx, input, "$filter")? else {
        return Ok(Some(Bson::Null));
    };
    let limit = match ctx.eval(limit)? {
        v if is_nullish(&v) => usize::MAX,
        v => {
            let n = integer(Op::Slice, "limit", &v)
                .map_err(|_| Error::BadValue("$filter: limit must be a positive integer".into()))?;
            usize::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::BadValue("$filter: limit must be a positive integer".into())
            })?
        }
    };
    let mut out = Vec::new();
    for item in &items {
        if out.len() >= limit {
            break;
        }
        if ctx.with_var(var, Some(item), |inner| Ok(truthy(&inner.eval(cond)?)))? {
            out.push(item.clone());
        }
    }
    Ok(Some(Bson::Array(out)))
}

pub(super) fn reduce(ctx: &Ctx<'_>, input: &Node, initial: &Node, body: &Node) -> Result<Value> {
    let Some(items) = loop_input(ctx, input, "$reduce")? else {
        return Ok(Some(Bson::Null));
    };
    // The accumulated value may be missing, as in MongoDB.
    let mut acc = ctx.eval(initial)?;
    for item in &items {
        acc = ctx.with_var("value", acc.as_ref(), |inner| {
            inner.with_var("this", Some(item), |inner| inner.eval(body))
        })?;
    }
    Ok(acc)
}
