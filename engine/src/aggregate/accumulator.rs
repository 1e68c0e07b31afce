//! `$group` accumulators: `$sum $avg $min $max $first $last $push
//! $addToSet $count $mergeObjects $stdDevPop $stdDevSamp`.
//!
//! Each accumulator folds the values of one expression over a group's
//! documents into a [`State`], then [`State::finish`]es it. For sharded
//! collections the fold is split: every shard folds its own documents and
//! sends the *partial* state ([`State::partial`], a BSON value), and the
//! router [`State::merge`]s the partials before finishing. Only
//! order-insensitive accumulators can be split that way
//! ([`AccumulatorKind::mergeable`]); `$first`, `$last`, `$push` and
//! `$mergeObjects` depend on the order of the documents, so pipelines using
//! them group on the router, after the shards' outputs are merged in order.

use std::collections::BTreeSet;

use bson::{Bson, Document, doc};

use super::expr::arith::{Spread, Sum};
use super::expr::{Env, Expression, ParseScope, Value, is_nullish};
use crate::value::compare;
use crate::{Error, Result, keycode};

/// The kind of an accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccumulatorKind {
    Sum,
    Avg,
    Min,
    Max,
    First,
    Last,
    Push,
    AddToSet,
    Count,
    MergeObjects,
    StdDevPop,
    StdDevSamp,
}

impl AccumulatorKind {
    fn parse(name: &str) -> Result<AccumulatorKind> {
        Ok(match name {
            "$sum" => AccumulatorKind::Sum,
            "$avg" => AccumulatorKind::Avg,
            "$min" => AccumulatorKind::Min,
            "$max" => AccumulatorKind::Max,
            "$first" => AccumulatorKind::First,
            "$last" => AccumulatorKind::Last,
            "$push" => AccumulatorKind::Push,
            "$addToSet" => AccumulatorKind::AddToSet,
            "$count" => AccumulatorKind::Count,
            "$mergeObjects" => AccumulatorKind::MergeObjects,
            "$stdDevPop" => AccumulatorKind::StdDevPop,
            "$stdDevSamp" => AccumulatorKind::StdDevSamp,
            "$accumulator" | "$top" | "$topN" | "$bottom" | "$bottomN" | "$firstN" | "$lastN"
            | "$maxN" | "$minN" | "$median" | "$percentile" => {
                return Err(Error::NotSupported(format!("the accumulator {name}")));
            }
            other => {
                return Err(Error::FailedToParse(format!(
                    "unknown group operator '{other}'"
                )));
            }
        })
    }

    /// Whether partial states from several shards can be merged.
    pub fn mergeable(self) -> bool {
        !matches!(
            self,
            AccumulatorKind::First
                | AccumulatorKind::Last
                | AccumulatorKind::Push
                | AccumulatorKind::MergeObjects
        )
    }
}

/// One output field of `$group`: `total: {$sum: "$amt"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Accumulator {
    pub field: String,
    pub kind: AccumulatorKind,
    expr: Expression,
}

impl Accumulator {
    /// Parses `field: {$op: expression}`.
    pub fn parse(field: &str, spec: &Bson, scope: &ParseScope) -> Result<Accumulator> {
        if field.contains('.') {
            return Err(Error::FailedToParse(format!(
                "the group aggregate field name '{field}' cannot contain '.'"
            )));
        }
        if field.starts_with('$') {
            return Err(Error::FailedToParse(format!(
                "the group aggregate field name '{field}' cannot be an operator name"
            )));
        }
        let Bson::Document(spec) = spec else {
            return Err(Error::FailedToParse(format!(
                "the group aggregate field '{field}' must be defined as an expression inside an \
                 object"
            )));
        };
        let mut entries = spec.iter();
        let (Some((name, arg)), None) = (entries.next(), entries.next()) else {
            return Err(Error::FailedToParse(format!(
                "the computed aggregate '{field}' must specify exactly one operator"
            )));
        };
        let kind = AccumulatorKind::parse(name)?;
        let expr = if kind == AccumulatorKind::Count {
            match arg {
                Bson::Document(d) if d.is_empty() => Expression::literal(Bson::Int32(1)),
                _ => {
                    return Err(Error::FailedToParse(
                        "$count takes no arguments, i.e. $count: {}".into(),
                    ));
                }
            }
        } else {
            if let Bson::Array(_) = arg {
                return Err(Error::FailedToParse(format!(
                    "the {name} accumulator is a unary operator (field '{field}')"
                )));
            }
            Expression::parse_in(arg, scope)?
        };
        Ok(Accumulator {
            field: field.to_string(),
            kind,
            expr,
        })
    }

    /// A fresh state.
    pub fn start(&self) -> State {
        match self.kind {
            AccumulatorKind::Sum | AccumulatorKind::Count => State::Sum(Sum::default()),
            AccumulatorKind::Avg => State::Avg(Sum::default()),
            AccumulatorKind::Min => State::Min(None),
            AccumulatorKind::Max => State::Max(None),
            AccumulatorKind::First => State::First(None),
            AccumulatorKind::Last => State::Last(None),
            AccumulatorKind::Push => State::Push(Vec::new()),
            AccumulatorKind::AddToSet => State::AddToSet(Vec::new(), BTreeSet::new()),
            AccumulatorKind::MergeObjects => State::Merge(Document::new()),
            AccumulatorKind::StdDevPop => State::Spread(Spread::default(), false),
            AccumulatorKind::StdDevSamp => State::Spread(Spread::default(), true),
        }
    }

    /// Folds one document into `state`.
    pub fn add(&self, state: &mut State, doc: &Document, env: &Env) -> Result<()> {
        let value = self.expr.evaluate(doc, env)?;
        state.add(value)
    }
}

/// An accumulator's running state.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Sum(Sum),
    Avg(Sum),
    Min(Option<Bson>),
    Max(Option<Bson>),
    /// `None` until the first document; then its value (missing is null).
    First(Option<Bson>),
    Last(Option<Bson>),
    Push(Vec<Bson>),
    /// Distinct values, in first-seen order, and their encodings (equal
    /// values — `1` and `1.0` — encode alike).
    AddToSet(Vec<Bson>, BTreeSet<Vec<u8>>),
    Merge(Document),
    /// Running spread; `true` for the sample standard deviation.
    Spread(Spread, bool),
}

impl State {
    fn add(&mut self, value: Value) -> Result<()> {
        match self {
            State::Sum(sum) | State::Avg(sum) => {
                if let Some(v) = &value {
                    sum.add(v)?;
                }
            }
            State::Min(best) => {
                if let Some(v) = value.filter(|v| !matches!(v, Bson::Null | Bson::Undefined)) {
                    keep_best(best, v, true);
                }
            }
            State::Max(best) => {
                if let Some(v) = value.filter(|v| !matches!(v, Bson::Null | Bson::Undefined)) {
                    keep_best(best, v, false);
                }
            }
            State::First(first) => {
                if first.is_none() {
                    *first = Some(value.unwrap_or(Bson::Null));
                }
            }
            State::Last(last) => *last = Some(value.unwrap_or(Bson::Null)),
            State::Push(items) => {
                if let Some(v) = value {
                    items.push(v);
                }
            }
            State::AddToSet(items, seen) => {
                if let Some(v) = value
                    && seen.insert(keycode::encode(&v))
                {
                    items.push(v);
                }
            }
            State::Merge(out) => match value {
                v if is_nullish(&v) => {}
                Some(Bson::Document(d)) => {
                    for (k, v) in d {
                        out.insert(k, v);
                    }
                }
                Some(other) => {
                    return Err(Error::TypeMismatch(format!(
                        "$mergeObjects requires object inputs, but input {other} is of type {}",
                        crate::value::type_name(&other)
                    )));
                }
                None => {}
            },
            State::Spread(spread, _) => {
                if let Some(v) = &value {
                    spread.add(v);
                }
            }
        }
        Ok(())
    }

    /// The final value of the accumulator.
    pub fn finish(self) -> Bson {
        match self {
            State::Sum(sum) => sum.total().to_bson(),
            State::Avg(sum) => sum.mean(),
            State::Min(v) | State::Max(v) => v.unwrap_or(Bson::Null),
            State::First(v) | State::Last(v) => v.unwrap_or(Bson::Null),
            State::Push(items) | State::AddToSet(items, _) => Bson::Array(items),
            State::Merge(d) => Bson::Document(d),
            State::Spread(spread, sample) => spread.finish(sample),
        }
    }

    /// The state as a BSON value, to ship from a shard to the router.
    pub fn partial(self) -> Result<Bson> {
        Ok(match self {
            // The whole running sum (widest type, exact integer total,
            // compensated double total, count), so that the router's merge
            // gives the answer one fold over all documents would.
            State::Sum(sum) | State::Avg(sum) => sum.to_partial(),
            State::Min(v) | State::Max(v) => Bson::Document(match v {
                Some(v) => doc! { "v": v },
                None => Document::new(),
            }),
            State::AddToSet(items, _) => Bson::Array(items),
            State::Spread(spread, _) => Bson::Document(doc! {
                "n": i64::try_from(spread.count).unwrap_or(i64::MAX),
                "mean": spread.mean,
                "m2": spread.m2,
            }),
            other => {
                return Err(Error::BadValue(format!(
                    "internal: the accumulator state {other:?} cannot be split across shards"
                )));
            }
        })
    }

    /// Merges a partial state produced by [`State::partial`] on a shard.
    pub fn merge(&mut self, partial: &Bson) -> Result<()> {
        let malformed = || {
            Error::Encoding(format!(
                "a shard sent a malformed partial group state: {partial}"
            ))
        };
        let wants_less = matches!(self, State::Min(_));
        match self {
            State::Sum(sum) | State::Avg(sum) => {
                sum.merge(&Sum::from_partial(partial).ok_or_else(malformed)?);
            }
            State::Min(best) | State::Max(best) => {
                let Bson::Document(d) = partial else {
                    return Err(malformed());
                };
                if let Some(v) = d.get("v") {
                    keep_best(best, v.clone(), wants_less);
                }
            }
            State::AddToSet(items, seen) => {
                let Bson::Array(more) = partial else {
                    return Err(malformed());
                };
                for v in more {
                    if seen.insert(keycode::encode(v)) {
                        items.push(v.clone());
                    }
                }
            }
            State::Spread(spread, _) => {
                let Bson::Document(d) = partial else {
                    return Err(malformed());
                };
                let other = Spread {
                    count: d
                        .get("n")
                        .and_then(Bson::as_i64)
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or_else(malformed)?,
                    mean: d.get("mean").and_then(Bson::as_f64).ok_or_else(malformed)?,
                    m2: d.get("m2").and_then(Bson::as_f64).ok_or_else(malformed)?,
                };
                spread.merge(&other);
            }
            _ => return Err(malformed()),
        }
        Ok(())
    }
}

fn keep_best(best: &mut Option<Bson>, candidate: Bson, wants_less: bool) {
    let better = match best {
        None => true,
        Some(current) => {
            let order = compare(&candidate, current);
            if wants_less {
                order.is_lt()
            } else {
                order.is_gt()
            }
        }
    };
    if better {
        *best = Some(candidate);
    }
}
