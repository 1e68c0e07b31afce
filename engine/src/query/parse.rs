//! Parsing a filter document into the compiled [`Expr`] tree.
//!
//! A filter is a document whose entries are ANDed. Each entry is one of:
//!
//! ```text
//!  {$and|$or|$nor: [filter, …]}        logical operators (non-empty arrays of documents)
//!  {$comment: …}                       ignored
//!  {path: {$op: operand, …}}           operator document: first key starts with '$'
//!  {path: /regex/}                     regex match
//!  {path: value}                       equality (documents and arrays compare whole)
//! ```
//!
//! Field operators first parse into field-relative [`Cond`]s, which are then
//! attached to the path ([`lift`]); `$elemMatch` on values keeps them
//! field-relative. Every operand is validated at parse time (here and in
//! `operand.rs`), once, with MongoDB's messages, so evaluation never fails. Nesting (`$and`, `$or`, `$nor`,
//! `$not`, `$elemMatch`) is bounded by [`MAX_DEPTH`].

use bson::{Bson, Document};

use std::sync::{Arc, OnceLock};

use super::matcher::{AggregateClause, CmpOp, Cond, Expr, Pred};
use super::operand::{
    integer_operand, parse_bits, parse_in, parse_mod, parse_regex_document, parse_size, parse_type,
    true_value,
};
use super::path::Path;
use super::regex::Pattern;
use crate::aggregate::{Env, Expression, ParseScope};
use crate::{Error, Result};

/// How deeply logical operators and `$elemMatch` may nest in one filter.
pub(crate) const MAX_DEPTH: usize = 200;

/// Top-level operators MongoDB has but this engine does not implement yet.
const UNSUPPORTED_TOP_LEVEL: &[&str] = &["$where", "$text", "$jsonSchema", "$sampleRate"];

/// Geospatial field operators, not implemented yet.
const UNSUPPORTED_GEO: &[&str] = &[
    "$near",
    "$nearSphere",
    "$geoWithin",
    "$geoIntersects",
    "$within",
    "$geoNear",
];

/// Operators that take no path (`$elemMatch: {$and: …}` is the query form).
const PATHLESS: &[&str] = &[
    "$and",
    "$or",
    "$nor",
    "$where",
    "$text",
    "$comment",
    "$expr",
    "$jsonSchema",
    "$alwaysTrue",
    "$alwaysFalse",
    "$sampleRate",
    "$id",
    "$ref",
    "$db",
];

/// Field operators (used to reject `{$all: [{$gt: 1}]}` and the like).
const FIELD_OPERATORS: &[&str] = &[
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$not",
    "$exists",
    "$type",
    "$mod",
    "$regex",
    "$options",
    "$elemMatch",
    "$all",
    "$size",
    "$bitsAllSet",
    "$bitsAnySet",
    "$bitsAllClear",
    "$bitsAnyClear",
    "$near",
    "$nearSphere",
    "$geoWithin",
    "$geoIntersects",
    "$within",
];

/// Parses a whole filter.
#[cfg(test)]
pub(crate) fn parse_filter(filter: &Document) -> Result<Expr> {
    parse_filter_in(filter, &ExprScope::new(&Env::default()))
}

/// Parses a whole filter whose `$expr` clauses see `scope`.
pub(crate) fn parse_filter_in(filter: &Document, scope: &ExprScope) -> Result<Expr> {
    parse_document(filter, 0, Some(scope))
}

/// What `$expr` clauses of a filter may refer to ($$NOW, outside
/// variables), and where they report evaluation errors. The shared parts
/// are made on the first `$expr`, so plain filters allocate nothing extra.
pub(crate) struct ExprScope<'e> {
    env: &'e Env,
    shared: std::cell::OnceCell<(Arc<Env>, Arc<OnceLock<Error>>)>,
}

impl<'e> ExprScope<'e> {
    pub(crate) fn new(env: &'e Env) -> ExprScope<'e> {
        ExprScope {
            env,
            shared: std::cell::OnceCell::new(),
        }
    }

    fn shared(&self) -> &(Arc<Env>, Arc<OnceLock<Error>>) {
        self.shared
            .get_or_init(|| (Arc::new(self.env.clone()), Arc::new(OnceLock::new())))
    }

    /// Where the filter's `$expr` clauses report errors (None: it has none).
    pub(crate) fn errors(&self) -> Option<Arc<OnceLock<Error>>> {
        self.shared.get().map(|(_, errors)| Arc::clone(errors))
    }
}

fn check_depth(depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::BadValue(format!(
            "exceeded maximum filter nesting depth of {MAX_DEPTH}"
        )));
    }
    Ok(())
}

/// Parses a filter document (top level, a `$and`/`$or`/`$nor` clause, or the
/// query form of `$elemMatch`).
///
/// The functions on the recursive paths (`$and` → document → `$and` …, `$not`
/// → operators → `$not` …) are kept small, with the non-recursive work in
/// separate functions, so that a filter nested [`MAX_DEPTH`] deep fits on a
/// 2 MiB thread stack even in debug builds.
///
/// `scope` is `None` inside `$elemMatch`, where `$expr` is not allowed.
fn parse_document(filter: &Document, depth: usize, scope: Option<&ExprScope>) -> Result<Expr> {
    check_depth(depth)?;
    let mut children = Vec::with_capacity(filter.len());
    for (key, value) in filter {
        parse_entry(key, value, depth, scope, &mut children)?;
    }
    Ok(collapse_and(children))
}

/// One `key: value` entry of a filter document, appended to `out`.
fn parse_entry(
    key: &str,
    value: &Bson,
    depth: usize,
    scope: Option<&ExprScope>,
    out: &mut Vec<Expr>,
) -> Result<()> {
    match value {
        _ if matches!(key, "$and" | "$or" | "$nor") => parse_logical(key, value, depth, scope, out),
        _ if key == "$expr" => parse_expr(value, scope, out),
        _ if key.starts_with('$') => parse_top_level_operator(key, value, out),
        Bson::Document(ops) if is_operator_document(ops, false) => {
            let conds = parse_operators(key, ops, depth)?;
            let path = Path::new(key);
            out.extend(conds.into_iter().map(|c| lift(&path, c)));
            Ok(())
        }
        _ => parse_literal(key, value, out),
    }
}

/// `{path: /re/}` or `{path: value}`.
#[inline(never)]
fn parse_literal(key: &str, value: &Bson, out: &mut Vec<Expr>) -> Result<()> {
    let pred = match value {
        Bson::RegularExpression(r) => Pred::Regex(Box::new(Pattern::new(
            r.pattern.as_str(),
            r.options.as_str(),
        )?)),
        _ => comparison(key, CmpOp::Eq, value)?,
    };
    out.push(Expr::Field {
        path: Path::new(key),
        pred,
    });
    Ok(())
}

/// `$and`, `$or`, `$nor`: non-empty arrays of filter documents.
fn parse_logical(
    key: &str,
    value: &Bson,
    depth: usize,
    scope: Option<&ExprScope>,
    out: &mut Vec<Expr>,
) -> Result<()> {
    let Bson::Array(clauses) = value else {
        return Err(Error::BadValue(format!("{key} must be an array")));
    };
    if clauses.is_empty() {
        return Err(Error::BadValue(
            "$and/$or/$nor must be a nonempty array".into(),
        ));
    }
    let mut parsed = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let Bson::Document(clause) = clause else {
            return Err(Error::BadValue(
                "$or/$and/$nor entries need to be full objects".into(),
            ));
        };
        parsed.push(parse_document(clause, depth + 1, scope)?);
    }
    out.push(match key {
        "$and" => Expr::And(parsed),
        "$or" => Expr::Or(parsed),
        _ => Expr::Nor(parsed),
    });
    Ok(())
}

/// `$expr`: an aggregation expression over the whole document.
#[inline(never)]
fn parse_expr(value: &Bson, scope: Option<&ExprScope>, out: &mut Vec<Expr>) -> Result<()> {
    let Some(scope) = scope else {
        return Err(Error::BadValue(
            "$expr can only be applied to the top-level document".into(),
        ));
    };
    let parse_scope = ParseScope {
        vars: scope
            .env
            .vars
            .iter()
            .map(|(name, _)| name.clone())
            .collect(),
        has_now: scope.env.now_millis.is_some(),
    };
    let expr = Expression::parse_in(value, &parse_scope)?;
    let (env, errors) = scope.shared();
    out.push(Expr::Aggregate(Arc::new(AggregateClause {
        expr,
        env: Arc::clone(env),
        errors: Arc::clone(errors),
    })));
    Ok(())
}

fn collapse_and(mut children: Vec<Expr>) -> Expr {
    if children.len() == 1 {
        children.remove(0)
    } else {
        Expr::And(children)
    }
}

/// Other top-level operators: `$comment`, `$alwaysTrue`, DBRef fields, and
/// the unsupported or unknown ones.
#[inline(never)]
fn parse_top_level_operator(key: &str, value: &Bson, out: &mut Vec<Expr>) -> Result<()> {
    match key {
        "$comment" => {}
        "$alwaysTrue" | "$alwaysFalse" => {
            if integer_operand(value) != Some(1) {
                return Err(Error::FailedToParse(format!(
                    "{key} must be an integer value of 1"
                )));
            }
            out.push(Expr::Const(key == "$alwaysTrue"));
        }
        // Fields of a DBRef ({"$ref": "c", "$id": 1}) queried directly.
        "$ref" | "$id" | "$db" => {
            out.push(Expr::Field {
                path: Path::new(key),
                pred: comparison(key, CmpOp::Eq, value)?,
            });
        }
        _ if UNSUPPORTED_TOP_LEVEL.contains(&key) => {
            return Err(Error::NotSupported(format!("query operator {key}")));
        }
        _ => return Err(Error::UnknownOperator(key.to_string())),
    }
    Ok(())
}

/// MongoDB's `isExpressionDocument`: a non-empty document whose first key
/// starts with `$` and which is not a DBRef (`$ref` and `$id`; with
/// `incomplete_dbref`, any of `$ref`, `$id`, `$db`).
pub(super) fn is_operator_document(doc: &Document, incomplete_dbref: bool) -> bool {
    let Some(first) = doc.keys().next() else {
        return false;
    };
    if !first.starts_with('$') {
        return false;
    }
    let has = |k: &str| doc.contains_key(k);
    let dbref = if incomplete_dbref {
        has("$ref") || has("$id") || has("$db")
    } else {
        has("$ref") && has("$id")
    };
    !dbref
}

/// Attaches a path to a field-relative condition.
fn lift(path: &Path, cond: Cond) -> Expr {
    match cond {
        Cond::Pred(pred) => Expr::Field {
            path: path.clone(),
            pred,
        },
        Cond::Not(inner) => Expr::Not(Box::new(lift(path, *inner))),
        Cond::All(conds) => collapse_and(conds.into_iter().map(|c| lift(path, c)).collect()),
        Cond::Const(b) => Expr::Const(b),
    }
}

/// Parses an operator document `{$gt: 1, $lt: 5}` for field `name` (used in
/// messages) into its conditions (to be ANDed).
fn parse_operators(name: &str, ops: &Document, depth: usize) -> Result<Vec<Cond>> {
    check_depth(depth)?;
    let mut conds = Vec::with_capacity(ops.len());
    for (op, operand) in ops {
        parse_operator(name, op, operand, ops, depth, &mut conds)?;
    }
    Ok(conds)
}

/// One `$op: operand` entry of an operator document, appended to `out`.
fn parse_operator(
    name: &str,
    op: &str,
    operand: &Bson,
    context: &Document,
    depth: usize,
    out: &mut Vec<Cond>,
) -> Result<()> {
    let cond = match op {
        "$not" => parse_not(name, operand, depth)?,
        "$elemMatch" => Cond::Pred(parse_elem_match(operand, depth)?),
        "$all" => parse_all(operand, depth)?,
        _ => return parse_leaf_operator(name, op, operand, context, out),
    };
    out.push(cond);
    Ok(())
}

/// The operators that do not nest. `$options` next to a `$regex` adds nothing
/// (the `$regex` entry reads it).
#[inline(never)]
fn parse_leaf_operator(
    name: &str,
    op: &str,
    operand: &Bson,
    context: &Document,
    out: &mut Vec<Cond>,
) -> Result<()> {
    let not = |c: Cond| Cond::Not(Box::new(c));
    let cond = match op {
        "$eq" => Cond::Pred(comparison(name, CmpOp::Eq, operand)?),
        "$ne" => {
            if matches!(operand, Bson::RegularExpression(_)) {
                return Err(Error::BadValue("Can't have regex as arg to $ne.".into()));
            }
            not(Cond::Pred(comparison(name, CmpOp::Eq, operand)?))
        }
        "$gt" => Cond::Pred(comparison(name, CmpOp::Gt, operand)?),
        "$gte" => Cond::Pred(comparison(name, CmpOp::Gte, operand)?),
        "$lt" => Cond::Pred(comparison(name, CmpOp::Lt, operand)?),
        "$lte" => Cond::Pred(comparison(name, CmpOp::Lte, operand)?),
        "$in" => Cond::Pred(Pred::In(parse_in(op, operand)?)),
        "$nin" => not(Cond::Pred(Pred::In(parse_in(op, operand)?))),
        "$exists" if true_value(operand) => Cond::Pred(Pred::Exists),
        "$exists" => not(Cond::Pred(Pred::Exists)),
        "$type" => Cond::Pred(Pred::Type(parse_type(name, operand)?)),
        "$mod" => Cond::Pred(parse_mod(operand)?),
        "$regex" => Cond::Pred(Pred::Regex(Box::new(parse_regex_document(context)?))),
        "$options" if context.contains_key("$regex") => return Ok(()),
        "$options" => return Err(Error::BadValue("$options needs a $regex".into())),
        "$size" => Cond::Pred(Pred::Size(parse_size(operand)?)),
        "$bitsAllSet" | "$bitsAnySet" | "$bitsAllClear" | "$bitsAnyClear" => {
            Cond::Pred(Pred::Bits(parse_bits(op, operand)?))
        }
        "$where" => {
            return Err(Error::BadValue(
                "$where cannot be applied to a field".into(),
            ));
        }
        _ if UNSUPPORTED_GEO.contains(&op) => {
            return Err(Error::NotSupported(format!("query operator {op}")));
        }
        _ => return Err(Error::UnknownOperator(op.to_string())),
    };
    out.push(cond);
    Ok(())
}

/// A comparison predicate, rejecting the operands MongoDB rejects.
fn comparison(name: &str, op: CmpOp, operand: &Bson) -> Result<Pred> {
    if matches!(operand, Bson::Undefined) {
        return Err(Error::BadValue("cannot compare to undefined".into()));
    }
    if op != CmpOp::Eq && matches!(operand, Bson::RegularExpression(_)) {
        return Err(Error::BadValue(format!(
            "Can't have RegEx as arg to predicate over field '{name}'."
        )));
    }
    Ok(Pred::Cmp(op, operand.clone()))
}

fn parse_elem_match(operand: &Bson, depth: usize) -> Result<Pred> {
    let Bson::Document(inner) = operand else {
        return Err(Error::BadValue("$elemMatch needs an Object".into()));
    };
    let value_form = is_operator_document(inner, true)
        && inner
            .keys()
            .next()
            .is_some_and(|k| !PATHLESS.contains(&k.as_str()));
    if value_form {
        return Ok(Pred::ElemMatchValue(parse_operators("", inner, depth + 1)?));
    }
    Ok(Pred::ElemMatchObject(Box::new(parse_document(
        inner,
        depth + 1,
        None,
    )?)))
}

fn parse_all(operand: &Bson, depth: usize) -> Result<Cond> {
    let Bson::Array(items) = operand else {
        return Err(Error::BadValue("$all needs an array".into()));
    };
    if items.is_empty() {
        return Ok(Cond::Const(false));
    }
    let first_key = |v: &Bson| match v {
        Bson::Document(d) => d.keys().next().cloned(),
        _ => None,
    };
    let mut conds = Vec::with_capacity(items.len());
    if first_key(&items[0]).as_deref() == Some("$elemMatch") {
        for item in items {
            match (item, first_key(item).as_deref()) {
                (Bson::Document(d), Some("$elemMatch")) => {
                    let operand = d.get("$elemMatch").unwrap_or(&Bson::Null);
                    conds.push(Cond::Pred(parse_elem_match(operand, depth)?));
                }
                _ => {
                    return Err(Error::BadValue(
                        "$all/$elemMatch has to be consistent".into(),
                    ));
                }
            }
        }
        return Ok(Cond::All(conds));
    }
    for item in items {
        match item {
            Bson::RegularExpression(r) => {
                let pattern = Pattern::new(r.pattern.as_str(), r.options.as_str())?;
                conds.push(Cond::Pred(Pred::Regex(Box::new(pattern))));
            }
            Bson::Document(_)
                if first_key(item).is_some_and(|k| FIELD_OPERATORS.contains(&k.as_str())) =>
            {
                return Err(Error::BadValue("no $ expressions in $all".into()));
            }
            other => conds.push(Cond::Pred(comparison("", CmpOp::Eq, other)?)),
        }
    }
    Ok(Cond::All(conds))
}

fn parse_not(name: &str, operand: &Bson, depth: usize) -> Result<Cond> {
    match operand {
        Bson::RegularExpression(r) => {
            let pattern = Pattern::new(r.pattern.as_str(), r.options.as_str())?;
            Ok(Cond::Not(Box::new(Cond::Pred(Pred::Regex(Box::new(
                pattern,
            ))))))
        }
        Bson::Document(inner) if inner.is_empty() => {
            Err(Error::BadValue("$not cannot be empty".into()))
        }
        Bson::Document(inner) => {
            // MongoDB parses the inside as operators even when the first key
            // lacks a '$' (and then reports it as an unknown operator).
            let conds = parse_operators(name, inner, depth + 1)?;
            Ok(Cond::Not(Box::new(Cond::All(conds))))
        }
        _ => Err(Error::BadValue("$not needs a regex or a document".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn err(filter: Document) -> Error {
        parse_filter(&filter).expect_err("filter must be rejected")
    }

    #[test]
    fn unknown_operators() {
        assert_eq!(
            err(doc! {"a": {"$foo": 1}}),
            Error::UnknownOperator("$foo".into())
        );
        assert_eq!(err(doc! {"$foo": 1}), Error::UnknownOperator("$foo".into()));
        assert_eq!(
            err(doc! {"a": {"$gt": 1, "b": 2}}),
            Error::UnknownOperator("b".into())
        );
    }

    #[test]
    fn unsupported_operators_are_named() {
        // ($expr is supported: see `tests/expr.rs`.)
        for op in ["$where", "$text", "$jsonSchema", "$sampleRate"] {
            let e = err(doc! {op: {}});
            assert!(
                matches!(&e, Error::NotSupported(m) if m.contains(op)),
                "{op}: {e:?}"
            );
        }
        let e = err(doc! {"loc": {"$near": [0, 0]}});
        assert!(
            matches!(&e, Error::NotSupported(m) if m.contains("$near")),
            "{e:?}"
        );
    }

    #[test]
    fn logical_operands_are_validated() {
        assert!(matches!(err(doc! {"$and": []}), Error::BadValue(m) if m.contains("nonempty")));
        assert!(
            matches!(err(doc! {"$or": {"a": 1}}), Error::BadValue(m) if m == "$or must be an array")
        );
        assert!(
            matches!(err(doc! {"$nor": [1]}), Error::BadValue(m) if m.contains("full objects"))
        );
        assert!(
            matches!(err(doc! {"a": {"$not": 1}}), Error::BadValue(m) if m.contains("regex or a document"))
        );
        assert!(
            matches!(err(doc! {"a": {"$not": {}}}), Error::BadValue(m) if m.contains("cannot be empty"))
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut filter = doc! {"a": 1};
        for _ in 0..MAX_DEPTH + 5 {
            filter = doc! {"$and": [filter]};
        }
        assert!(matches!(err(filter), Error::BadValue(m) if m.contains("nesting depth")));
        let mut filter = doc! {"$gt": 1};
        for _ in 0..MAX_DEPTH + 5 {
            filter = doc! {"$not": filter};
        }
        assert!(parse_filter(&doc! {"a": filter}).is_err());
    }

    /// The deepest accepted filters parse and evaluate on a test thread's
    /// default 2 MiB stack (debug build) for each nesting operator.
    #[test]
    fn deepest_filters_fit_on_the_stack() {
        let doc = doc! {"a": [[[1]]], "b": 1};
        for op in ["$and", "$or", "$nor", "$not", "$elemMatch"] {
            let mut filter = if matches!(op, "$not" | "$elemMatch") {
                doc! {"$gt": 0}
            } else {
                doc! {"b": 1}
            };
            for _ in 0..MAX_DEPTH {
                filter = match op {
                    "$not" | "$elemMatch" => doc! {op: filter},
                    _ => doc! {op: [filter]},
                };
            }
            let filter = if op == "$not" || op == "$elemMatch" {
                doc! {"a": filter}
            } else {
                filter
            };
            let expr = parse_filter(&filter).unwrap_or_else(|e| panic!("{op}: {e}"));
            let _ = expr.eval(&doc, &mut super::super::matcher::Recorder::recording());
        }
    }
}
