//! The compiled form of a filter and its evaluation against documents.
//!
//! A filter compiles into a tree of [`Expr`] nodes. Leaves are *path
//! predicates*: a [`Pred`] tested on the candidate values of a path (see
//! [`super::path`]); the leaf matches when any candidate satisfies it.
//! Negations sit **above** the path, so `{a: {$ne: 1}}` is
//! `Not(Field(a, Eq 1))` — "no candidate equals 1" — not "some candidate
//! differs from 1":
//!
//! ```text
//!  {qty: {$gt: 10, $ne: 15}, $or: [{a: 1}, {b: {$exists: false}}]}
//!
//!  And ─┬─ Field(qty, Gt 10)
//!       ├─ Not ── Field(qty, Eq 15)
//!       └─ Or ─┬─ Field(a, Eq 1)
//!              └─ Not ── Field(b, Exists)
//! ```
//!
//! Inside `$elemMatch` on plain values (`{a: {$elemMatch: {$gt: 1, $lt: 5}}}`)
//! the operators apply to one array element at a time, with no path and no
//! array expansion; they are kept as [`Cond`] trees, the field-relative form
//! the parser produces before it attaches a path.
//!
//! Comparison semantics follow MongoDB's `ComparisonMatchExpression`: values
//! compare only within one canonical type bracket (so `$gt: 10` never matches
//! a string), except that null, undefined and *missing* are interchangeable
//! for `$eq`/`$gte`/`$lte` null, that MinKey/MaxKey operands bound every
//! value, and that NaN equals only NaN and is neither greater nor less than
//! anything.

use std::cmp::Ordering;
use std::sync::Arc;

use bson::{Bson, Document};

use super::path::{LeafArrays, Path};
use super::regex::Pattern;
use crate::value::{Number, canonical_type, compare};

/// A compiled filter (document level).
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// All children match (an empty `And` matches everything).
    And(Vec<Expr>),
    /// Some child matches.
    Or(Vec<Expr>),
    /// No child matches.
    Nor(Vec<Expr>),
    /// The child does not match.
    Not(Box<Expr>),
    /// `$alwaysTrue`, `$alwaysFalse`, `$all: []`.
    Const(bool),
    /// Some candidate value of `path` satisfies `pred`.
    Field { path: Path, pred: Pred },
    /// `$expr`: an aggregation expression, true when its value is truthy.
    Aggregate(Arc<AggregateClause>),
}

/// A compiled `$expr` with the variables it sees. An evaluation error
/// (`$divide` by zero …) makes the clause false and is kept in `errors`, which
/// the filter reports to its caller ([`super::Filter::try_matches`]).
#[derive(Debug)]
pub(crate) struct AggregateClause {
    pub(crate) expr: crate::aggregate::Expression,
    pub(crate) env: Arc<crate::aggregate::Env>,
    pub(crate) errors: Arc<std::sync::OnceLock<crate::Error>>,
}

impl AggregateClause {
    fn eval(&self, doc: &Document) -> bool {
        match self.expr.evaluate(doc, &self.env) {
            Ok(value) => crate::aggregate::expr::truthy(&value),
            Err(e) => {
                let _ = self.errors.set(e);
                false
            }
        }
    }
}

/// A condition on one value, before it is attached to a path.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Pred(Pred),
    Not(Box<Cond>),
    All(Vec<Cond>),
    Const(bool),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

/// A predicate on one candidate value (`None` = the path is missing).
#[derive(Debug, Clone)]
pub(crate) enum Pred {
    Cmp(CmpOp, Bson),
    In(InList),
    Regex(Box<Pattern>),
    Exists,
    Type(TypeSet),
    Mod { divisor: i64, remainder: i64 },
    Size(usize),
    ElemMatchObject(Box<Expr>),
    ElemMatchValue(Vec<Cond>),
    Bits(BitTest),
}

/// The operand of `$in`/`$nin`: literal values (sorted by [`compare`] for
/// binary search) and regexes.
#[derive(Debug, Clone)]
pub(crate) struct InList {
    pub(crate) values: Vec<Bson>,
    pub(crate) has_null: bool,
    pub(crate) patterns: Vec<Pattern>,
}

/// The BSON types accepted by a `$type` predicate, as a bit set over type
/// codes (bit 0 = MinKey, bits 1..=19 = codes 1..=19, bit 20 = MaxKey).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TypeSet(pub(crate) u32);

/// `$bitsAllSet`, `$bitsAnySet`, `$bitsAllClear`, `$bitsAnyClear`.
#[derive(Debug, Clone)]
pub(crate) struct BitTest {
    pub(crate) positions: Vec<u32>,
    /// Which bit state the test wants (`true` = set).
    pub(crate) set: bool,
    /// All positions must be in that state (`false`: any one suffices).
    pub(crate) all: bool,
}

/// Where the positional `$` points, collected while evaluating.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    enabled: bool,
    pub(crate) position: Option<usize>,
}

impl Recorder {
    /// A recorder that records (for [`super::Filter::match_details`]).
    pub(crate) fn recording() -> Recorder {
        Recorder {
            enabled: true,
            position: None,
        }
    }

    /// A recorder that ignores everything (plain `matches`, and the children
    /// of `$or`/`$nor`/`$not`, which never report positions in MongoDB).
    pub(crate) fn off() -> Recorder {
        Recorder::default()
    }

    fn set(&mut self, position: usize) {
        if self.enabled {
            self.position = Some(position);
        }
    }
}

impl Expr {
    /// Evaluates the expression against a document.
    pub(crate) fn eval(&self, doc: &Document, rec: &mut Recorder) -> bool {
        match self {
            Expr::And(children) => children.iter().all(|c| c.eval(doc, rec)),
            Expr::Or(children) => children.iter().any(|c| c.eval(doc, &mut Recorder::off())),
            Expr::Nor(children) => !children.iter().any(|c| c.eval(doc, &mut Recorder::off())),
            Expr::Not(child) => !child.eval(doc, &mut Recorder::off()),
            Expr::Const(b) => *b,
            Expr::Aggregate(clause) => clause.eval(doc),
            Expr::Field { path, pred } => {
                let leaf = pred.leaf_arrays();
                path.any(doc, leaf, &mut |value, offset| {
                    if !pred.matches(value, rec) {
                        return false;
                    }
                    if let Some(offset) = offset {
                        rec.set(offset);
                    }
                    true
                })
            }
        }
    }
}

impl Expr {
    /// Evaluates an expression that reads no field but `_id` (see
    /// [`super::Filter::reads_only_id`]) against a document whose `_id` is
    /// `id`, which is not an array: the path `_id` then has exactly one
    /// candidate value, `id` itself, so no document need be built.
    pub(crate) fn eval_id(&self, id: &Bson) -> bool {
        match self {
            Expr::And(children) => children.iter().all(|c| c.eval_id(id)),
            Expr::Or(children) => children.iter().any(|c| c.eval_id(id)),
            Expr::Nor(children) => !children.iter().any(|c| c.eval_id(id)),
            Expr::Not(child) => !child.eval_id(id),
            Expr::Const(b) => *b,
            Expr::Field { pred, .. } => pred.matches(Some(id), &mut Recorder::off()),
            Expr::Aggregate(clause) => clause.eval(&bson::doc! {"_id": id.clone()}),
        }
    }
}

impl Cond {
    /// Evaluates the condition on a single value (no path, no array expansion).
    pub(crate) fn matches(&self, value: Option<&Bson>) -> bool {
        match self {
            Cond::Pred(p) => p.matches(value, &mut Recorder::off()),
            Cond::Not(c) => !c.matches(value),
            Cond::All(cs) => cs.iter().all(|c| c.matches(value)),
            Cond::Const(b) => *b,
        }
    }
}

impl Pred {
    /// How the predicate wants an array at the end of its path.
    fn leaf_arrays(&self) -> LeafArrays {
        match self {
            Pred::Size(_) | Pred::ElemMatchObject(_) | Pred::ElemMatchValue(_) => LeafArrays::Whole,
            _ => LeafArrays::Traverse,
        }
    }

    /// Tests one candidate value.
    pub(crate) fn matches(&self, value: Option<&Bson>, rec: &mut Recorder) -> bool {
        match self {
            Pred::Cmp(op, operand) => compare_op(*op, value, operand),
            Pred::In(list) => list.contains(value),
            Pred::Regex(pattern) => regex_matches(pattern, value),
            Pred::Exists => value.is_some(),
            Pred::Type(set) => value.is_some_and(|v| set.contains(v)),
            Pred::Mod { divisor, remainder } => value
                .and_then(truncated_integer)
                .is_some_and(|n| n.checked_rem(*divisor).unwrap_or(0) == *remainder),
            Pred::Size(n) => matches!(value, Some(Bson::Array(items)) if items.len() == *n),
            Pred::ElemMatchObject(expr) => {
                let Some(Bson::Array(items)) = value else {
                    return false;
                };
                for (i, item) in items.iter().enumerate() {
                    let found = match item {
                        Bson::Document(d) => expr.eval(d, &mut Recorder::off()),
                        Bson::Array(nested) => {
                            expr.eval(&array_as_document(nested), &mut Recorder::off())
                        }
                        _ => false,
                    };
                    if found {
                        rec.set(i);
                        return true;
                    }
                }
                false
            }
            Pred::ElemMatchValue(conds) => {
                let Some(Bson::Array(items)) = value else {
                    return false;
                };
                for (i, item) in items.iter().enumerate() {
                    if conds.iter().all(|c| c.matches(Some(item))) {
                        rec.set(i);
                        return true;
                    }
                }
                false
            }
            Pred::Bits(test) => value.is_some_and(|v| test.matches(v)),
        }
    }
}

/// MongoDB's `ComparisonMatchExpressionBase::matchesSingleElement`.
fn compare_op(op: CmpOp, value: Option<&Bson>, operand: &Bson) -> bool {
    // Fast paths for the most common same-type comparisons.
    match (value, operand) {
        (Some(Bson::Int32(a)), Bson::Int32(b)) => return op.holds(a.cmp(b)),
        (Some(Bson::String(a)), Bson::String(b)) => {
            return op.holds(a.as_bytes().cmp(b.as_bytes()));
        }
        _ => {}
    }
    let inclusive = matches!(op, CmpOp::Eq | CmpOp::Lte | CmpOp::Gte);
    let same_bracket = value.is_some_and(|v| canonical_type(v) == canonical_type(operand));
    if !same_bracket {
        // Missing and undefined stand in for null.
        if matches!(operand, Bson::Null) && matches!(value, None | Some(Bson::Undefined)) {
            return inclusive;
        }
        return matches!(
            (operand, op),
            (Bson::MaxKey, CmpOp::Lt | CmpOp::Lte) | (Bson::MinKey, CmpOp::Gt | CmpOp::Gte)
        );
    }
    let Some(value) = value else { return false };
    if let (Some(a), Some(b)) = (Number::from_bson(value), Number::from_bson(operand)) {
        let (a_nan, b_nan) = (a.as_f64().is_nan(), b.as_f64().is_nan());
        if a_nan || b_nan {
            return inclusive && a_nan && b_nan;
        }
    }
    op.holds(compare(value, operand))
}

impl CmpOp {
    /// Whether `value <op> operand` holds, given `value.cmp(operand)`.
    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Lte => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Gte => ord != Ordering::Less,
        }
    }
}

fn regex_matches(pattern: &Pattern, value: Option<&Bson>) -> bool {
    match value {
        Some(Bson::String(s) | Bson::Symbol(s)) => pattern.is_match(s),
        Some(Bson::RegularExpression(r)) => pattern.same_as(r),
        _ => false,
    }
}

impl InList {
    fn contains(&self, value: Option<&Bson>) -> bool {
        let Some(value) = value else {
            return self.has_null;
        };
        if self.has_null && matches!(value, Bson::Undefined) {
            return true;
        }
        if self
            .values
            .binary_search_by(|probe| compare(probe, value))
            .is_ok()
        {
            return true;
        }
        self.patterns.iter().any(|p| regex_matches(p, Some(value)))
    }
}

impl TypeSet {
    /// The bit of a type code, if the code exists.
    pub(crate) fn bit_of_code(code: i64) -> Option<u32> {
        match code {
            -1 => Some(0),
            1..=19 => Some(code as u32),
            127 => Some(20),
            _ => None,
        }
    }

    fn bit_of_value(v: &Bson) -> u32 {
        match v {
            Bson::MinKey => 0,
            Bson::Double(_) => 1,
            Bson::String(_) => 2,
            Bson::Document(_) => 3,
            Bson::Array(_) => 4,
            Bson::Binary(_) => 5,
            Bson::Undefined => 6,
            Bson::ObjectId(_) => 7,
            Bson::Boolean(_) => 8,
            Bson::DateTime(_) => 9,
            Bson::Null => 10,
            Bson::RegularExpression(_) => 11,
            Bson::DbPointer(_) => 12,
            Bson::JavaScriptCode(_) => 13,
            Bson::Symbol(_) => 14,
            Bson::JavaScriptCodeWithScope(_) => 15,
            Bson::Int32(_) => 16,
            Bson::Timestamp(_) => 17,
            Bson::Int64(_) => 18,
            Bson::Decimal128(_) => 19,
            Bson::MaxKey => 20,
        }
    }

    fn contains(self, v: &Bson) -> bool {
        self.0 & (1 << Self::bit_of_value(v)) != 0
    }
}

/// A number truncated toward zero, for `$mod`. NaN, infinities and values
/// beyond the 64-bit range never match (MongoDB raises a query-time error for
/// the last; a predicate cannot fail here, so it simply does not match).
fn truncated_integer(v: &Bson) -> Option<i64> {
    match Number::from_bson(v)? {
        Number::Int(i) => Some(i),
        Number::Float(f) => {
            let t = f.trunc();
            (-TWO_POW_63..TWO_POW_63).contains(&t).then_some(t as i64)
        }
    }
}

const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

impl BitTest {
    fn matches(&self, v: &Bson) -> bool {
        let bit: Box<dyn Fn(u32) -> bool + '_> = match v {
            Bson::Binary(b) => Box::new(move |pos: u32| {
                let byte = (pos / 8) as usize;
                b.bytes.get(byte).is_some_and(|x| x & (1 << (pos % 8)) != 0)
            }),
            _ => {
                let Some(n) = exact_integer(v) else {
                    return false;
                };
                Box::new(move |pos: u32| {
                    if pos >= 64 {
                        n < 0
                    } else {
                        (n >> pos) & 1 == 1
                    }
                })
            }
        };
        let wanted = |pos: &u32| bit(*pos) == self.set;
        if self.all {
            self.positions.iter().all(wanted)
        } else {
            self.positions.iter().any(wanted)
        }
    }
}

/// The value as an i64 when it is a number with an exact integral value.
fn exact_integer(v: &Bson) -> Option<i64> {
    match Number::from_bson(v)? {
        Number::Int(i) => Some(i),
        Number::Float(f) => {
            (f.is_finite() && f.trunc() == f && (-TWO_POW_63..TWO_POW_63).contains(&f))
                .then_some(f as i64)
        }
    }
}

/// An array seen as a document with fields "0", "1", … (how `$elemMatch`
/// with a query looks inside nested arrays).
fn array_as_document(items: &[Bson]) -> Document {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| (i.to_string(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::bson;

    fn cmp(op: CmpOp, value: Option<Bson>, operand: Bson) -> bool {
        compare_op(op, value.as_ref(), &operand)
    }

    #[test]
    fn comparisons_stay_in_their_bracket() {
        assert!(cmp(CmpOp::Gt, Some(bson!(15)), bson!(10)));
        assert!(!cmp(CmpOp::Gt, Some(bson!("20")), bson!(10)));
        assert!(!cmp(CmpOp::Gt, Some(bson!(true)), bson!(10)));
        assert!(cmp(CmpOp::Gt, Some(bson!("20")), bson!("1")));
        assert!(cmp(CmpOp::Eq, Some(bson!(15)), bson!(15.0)));
        assert!(cmp(CmpOp::Lte, Some(Bson::Int64(5)), bson!(5.0)));
    }

    #[test]
    fn null_missing_and_undefined() {
        for op in [CmpOp::Eq, CmpOp::Lte, CmpOp::Gte] {
            assert!(cmp(op, None, Bson::Null));
            assert!(cmp(op, Some(Bson::Undefined), Bson::Null));
            assert!(cmp(op, Some(Bson::Null), Bson::Null));
        }
        for op in [CmpOp::Lt, CmpOp::Gt] {
            assert!(!cmp(op, None, Bson::Null));
            assert!(!cmp(op, Some(Bson::Null), Bson::Null));
        }
        assert!(!cmp(CmpOp::Eq, None, bson!(1)));
    }

    #[test]
    fn min_and_max_key_bound_everything() {
        assert!(cmp(CmpOp::Lt, Some(bson!("x")), Bson::MaxKey));
        assert!(cmp(CmpOp::Lte, None, Bson::MaxKey));
        assert!(cmp(CmpOp::Gt, Some(bson!({"a": 1})), Bson::MinKey));
        assert!(!cmp(CmpOp::Eq, Some(bson!(1)), Bson::MaxKey));
        assert!(!cmp(CmpOp::Gt, Some(bson!(1)), Bson::MaxKey));
        assert!(cmp(CmpOp::Gte, Some(Bson::MaxKey), Bson::MaxKey));
    }

    #[test]
    fn nan_equals_only_nan() {
        let nan = Bson::Double(f64::NAN);
        assert!(cmp(CmpOp::Eq, Some(nan.clone()), nan.clone()));
        assert!(cmp(CmpOp::Gte, Some(nan.clone()), nan.clone()));
        assert!(!cmp(CmpOp::Lt, Some(nan.clone()), bson!(1)));
        assert!(!cmp(CmpOp::Gt, Some(bson!(1)), nan.clone()));
        assert!(!cmp(CmpOp::Eq, Some(bson!(1)), nan));
    }

    #[test]
    fn mod_truncates_and_handles_overflow() {
        let p = Pred::Mod {
            divisor: 4,
            remainder: 1,
        };
        let m = |v: Bson| p.matches(Some(&v), &mut Recorder::off());
        assert!(m(bson!(5)));
        assert!(m(bson!(5.9)));
        assert!(!m(bson!(6)));
        assert!(!m(Bson::Double(f64::NAN)));
        assert!(!m(bson!("5")));
        assert!(!m(bson!(1e300)));
        assert!(!m(Bson::Double(f64::INFINITY)));
        let p = Pred::Mod {
            divisor: -1,
            remainder: 0,
        };
        assert!(p.matches(Some(&Bson::Int64(i64::MIN)), &mut Recorder::off()));
    }

    #[test]
    fn bit_tests() {
        let t = |set, all, positions: Vec<u32>, v: Bson| {
            BitTest {
                positions,
                set,
                all,
            }
            .matches(&v)
        };
        assert!(t(true, true, vec![0, 2], bson!(5)));
        assert!(!t(true, true, vec![0, 1], bson!(5)));
        assert!(t(true, false, vec![0, 1], bson!(5)));
        assert!(t(false, true, vec![1, 3], bson!(5)));
        assert!(t(true, true, vec![100], bson!(-1)));
        assert!(!t(true, true, vec![0], bson!(1.5)));
        let bin = Bson::Binary(bson::Binary {
            subtype: bson::spec::BinarySubtype::Generic,
            bytes: vec![0b10, 0],
        });
        assert!(t(true, true, vec![1], bin.clone()));
        assert!(t(false, true, vec![0, 9, 200], bin));
    }
}
