//! Parsing a find projection specification into a [`Projection`].
//!
//! Each element of the specification is one of:
//!
//! | value                                  | meaning                         |
//! |----------------------------------------|---------------------------------|
//! | `true`, non-zero number                | include the path                |
//! | `false`, `0`                           | exclude the path                |
//! | `{$slice: n}`, `{$slice: [skip, n]}`   | keep part of an array           |
//! | `{$elemMatch: filter}` (top level)     | keep the first matching element |
//! | `"path.$": 1`                          | keep the element the query matched |
//! | `{$literal: v}`, any other scalar      | set the field to a value        |
//! | `{b: …}` (no `$` key)                  | sub-projection, same as `"a.b"` |
//! | `{$add: …}` and other expressions      | not supported yet               |
//!
//! The projection's kind follows MongoDB's rules: any inclusion or literal
//! makes it an inclusion projection, any exclusion (other than the top-level
//! `_id`) an exclusion projection, and mixing the two is an error. When only
//! `_id`, `$slice` or `$elemMatch` appear, the kind is decided at the end
//! (`$slice` alone excludes, `$elemMatch` alone includes, `{_id: 1}` includes).

use bson::{Bson, Document};

use super::elem_match::ElemMatch;
use super::expression::{expression_inside, is_expression_name, single_operator};
use super::path;
use super::tree::{Child, Node, Slice};
use super::{Kind, Projection};
use crate::value::Number;
use crate::{Error, Result};

/// How deeply sub-projections (`{a: {b: {c: 1}}}`) may nest.
const MAX_NESTING: usize = 100;

/// Parses a projection specification.
pub(super) fn parse(spec: &Document) -> Result<Projection> {
    let mut parser = Parser::default();
    for (name, value) in spec {
        parser.element(&[], name, value, 0)?;
    }
    parser.finish(spec.is_empty())
}

/// What the parse has seen so far.
#[derive(Default)]
struct Parser {
    root: Node,
    kind: Option<Kind>,
    /// A top-level `_id` or `_id.…` path was named.
    id_specified: bool,
    /// A top-level `_id: 1` was named.
    id_included: bool,
    has_slice: bool,
    elem_matches: Vec<ElemMatch>,
    positional: Option<Vec<String>>,
}

impl Parser {
    /// Parses one element `name: value` found under the path `prefix`.
    fn element(&mut self, prefix: &[String], name: &str, value: &Bson, depth: usize) -> Result<()> {
        let top_level = prefix.is_empty();
        if top_level && (name == "_id" || name.starts_with("_id.")) {
            self.id_specified = true;
        }
        let positional = positional_prefix(name)?;
        match value {
            Bson::Document(sub) => {
                if positional.is_some() {
                    return Err(Error::bad_value(format!(
                        "positional projection cannot be used with an expression or sub object \
                         ('{name}')"
                    )));
                }
                self.sub_object(prefix, name, sub, depth)
            }
            Bson::Boolean(_)
            | Bson::Int32(_)
            | Bson::Int64(_)
            | Bson::Double(_)
            | Bson::Decimal128(_) => {
                if is_true(value) {
                    self.inclusion(prefix, name, positional)
                } else if positional.is_some() {
                    Err(Error::bad_value(format!(
                        "positional projection cannot be used with exclusion ('{name}')"
                    )))
                } else {
                    self.exclusion(prefix, name)
                }
            }
            _ => {
                if positional.is_some() {
                    return Err(Error::bad_value(format!(
                        "positional projection cannot be used with a literal ('{name}')"
                    )));
                }
                self.literal(prefix, name, value)
            }
        }
    }

    /// `{a: {…}}`: an operator (`$slice`, `$elemMatch`, `$literal`, an
    /// expression) or a sub-projection.
    fn sub_object(
        &mut self,
        prefix: &[String],
        name: &str,
        sub: &Document,
        depth: usize,
    ) -> Result<()> {
        if let Some((op, arg)) = single_operator(sub) {
            return self.operator(prefix, name, op, arg);
        }
        if sub.is_empty() {
            return Err(Error::bad_value(format!(
                "An empty sub-projection is not a valid value. Found empty object at path \
                 '{}'",
                join(prefix, name)
            )));
        }
        if depth >= MAX_NESTING {
            return Err(Error::bad_value(format!(
                "projection is nested more than {MAX_NESTING} levels deep at '{}'",
                join(prefix, name)
            )));
        }
        let mut inner_prefix = prefix.to_vec();
        inner_prefix.extend(path::split(name)?);
        for (inner_name, inner_value) in sub {
            self.element(&inner_prefix, inner_name, inner_value, depth + 1)?;
        }
        Ok(())
    }

    /// `{a: {$op: arg}}`.
    fn operator(&mut self, prefix: &[String], name: &str, op: &str, arg: &Bson) -> Result<()> {
        match op {
            "$slice" => {
                let slice = parse_slice(name, arg)?;
                self.insert(prefix, name, Child::Slice(slice))?;
                self.has_slice = true;
                Ok(())
            }
            "$elemMatch" => {
                if self.positional.is_some() {
                    return Err(Error::bad_value(
                        "Cannot specify positional operator and $elemMatch.",
                    ));
                }
                if !prefix.is_empty() || name.contains('.') {
                    return Err(Error::bad_value(format!(
                        "Cannot use $elemMatch projection on a nested field ('{}').",
                        join(prefix, name)
                    )));
                }
                let Bson::Document(condition) = arg else {
                    return Err(Error::bad_value(format!(
                        "elemMatch: Invalid argument, object required, but got {} for field \
                         '{name}'",
                        crate::value::type_name(arg)
                    )));
                };
                self.insert(prefix, name, Child::ElemMatch)?;
                self.elem_matches.push(ElemMatch::parse(name, condition)?);
                Ok(())
            }
            "$literal" => {
                self.expect_inclusion_for_expression(prefix, name, op)?;
                self.insert(prefix, name, Child::Literal(arg.clone()))
                    .map(drop)
            }
            "$meta" => Err(Error::NotSupported(format!(
                "$meta projection of field '{}'",
                join(prefix, name)
            ))),
            _ if is_expression_name(op) => {
                self.expect_inclusion_for_expression(prefix, name, op)?;
                Err(Error::NotSupported(format!(
                    "expression {op} in the projection of field '{}' (only $literal, $slice and \
                     $elemMatch are supported in find projections)",
                    join(prefix, name)
                )))
            }
            _ => Err(Error::UnknownOperator(format!(
                "{op} in the projection of field '{}'",
                join(prefix, name)
            ))),
        }
    }

    /// `name: 1` (or `"name.$": 1`).
    fn inclusion(&mut self, prefix: &[String], name: &str, positional: Option<&str>) -> Result<()> {
        if let Some(path_name) = positional {
            if self.positional.is_some() {
                return Err(Error::bad_value(
                    "Cannot specify more than one positional projection per query.",
                ));
            }
            if !self.elem_matches.is_empty() {
                return Err(Error::bad_value(
                    "Cannot specify positional operator and $elemMatch.",
                ));
            }
            let full = self.insert(prefix, path_name, Child::Include)?;
            self.positional = Some(full);
        } else {
            self.insert(prefix, name, Child::Include)?;
        }
        if prefix.is_empty() && name == "_id" {
            self.id_included = true;
        } else {
            if self.kind == Some(Kind::Exclusion) {
                return Err(Error::bad_value(format!(
                    "Cannot do inclusion on field {name} in exclusion projection"
                )));
            }
            self.kind = Some(Kind::Inclusion);
        }
        Ok(())
    }

    /// `name: 0`.
    fn exclusion(&mut self, prefix: &[String], name: &str) -> Result<()> {
        self.insert(prefix, name, Child::Exclude)?;
        // `_id: 0` fits either kind.
        if prefix.is_empty() && name == "_id" {
            return Ok(());
        }
        if self.kind == Some(Kind::Inclusion) {
            return Err(Error::bad_value(format!(
                "Cannot do exclusion on field {name} in inclusion projection"
            )));
        }
        self.kind = Some(Kind::Exclusion);
        Ok(())
    }

    /// `name: "value"` (any value that is not a number, bool or document).
    fn literal(&mut self, prefix: &[String], name: &str, value: &Bson) -> Result<()> {
        if let Some(what) = expression_inside(value, 0) {
            return Err(Error::NotSupported(format!(
                "{what} in the projection of field '{}' (aggregation expressions are not \
                 supported in find projections)",
                join(prefix, name)
            )));
        }
        if self.kind == Some(Kind::Exclusion) {
            return Err(Error::bad_value(format!(
                "Cannot use an expression {name}: {value} in an exclusion projection"
            )));
        }
        self.kind = Some(Kind::Inclusion);
        self.insert(prefix, name, Child::Literal(value.clone()))
            .map(drop)
    }

    /// Expressions make a projection an inclusion one and are refused in an
    /// exclusion projection.
    fn expect_inclusion_for_expression(
        &mut self,
        prefix: &[String],
        name: &str,
        op: &str,
    ) -> Result<()> {
        if self.kind == Some(Kind::Exclusion) {
            return Err(Error::bad_value(format!(
                "Cannot use expression other than $meta in exclusion projection ({op} on field \
                 '{}')",
                join(prefix, name)
            )));
        }
        self.kind = Some(Kind::Inclusion);
        Ok(())
    }

    /// Adds `child` at `prefix.name`, refusing path collisions. Returns the
    /// full path.
    fn insert(&mut self, prefix: &[String], name: &str, child: Child) -> Result<Vec<String>> {
        let mut full = prefix.to_vec();
        full.extend(path::split(name)?);
        if full.len() > path::MAX_COMPONENTS {
            return Err(Error::bad_value(format!(
                "FieldPath is too long: '{}' has more than {} components",
                full.join("."),
                path::MAX_COMPONENTS
            )));
        }
        let dotted = full.join(".");
        let (last, parents) = full
            .split_last()
            .ok_or_else(|| Error::bad_value("FieldPath cannot be constructed with empty string"))?;
        let mut node = &mut self.root;
        for part in parents {
            if node.get(part).is_none() {
                node.children
                    .push((part.clone(), Child::Inner(Node::default())));
            }
            node = match node.get_mut(part) {
                Some(Child::Inner(inner)) => inner,
                _ => {
                    return Err(Error::bad_value(format!(
                        "Path collision at {dotted} remaining portion {}",
                        full[1..].join(".")
                    )));
                }
            };
        }
        if node.get(last).is_some() {
            return Err(Error::bad_value(format!("Path collision at {dotted}")));
        }
        node.children.push((last.clone(), child));
        Ok(full)
    }

    /// Settles the kind and the implicit `_id`, and builds the projection.
    fn finish(mut self, empty: bool) -> Result<Projection> {
        let kind = self.kind.unwrap_or(if self.has_slice {
            if self.id_included {
                Kind::Inclusion
            } else {
                Kind::Exclusion
            }
        } else if !self.elem_matches.is_empty() || self.id_included {
            Kind::Inclusion
        } else {
            Kind::Exclusion
        });
        match kind {
            Kind::Inclusion if !self.id_specified => {
                self.root
                    .children
                    .insert(0, ("_id".to_owned(), Child::Include));
            }
            // `{_id: 1}` in an exclusion projection changes nothing.
            Kind::Exclusion if self.id_included => self.root.remove("_id"),
            _ => {}
        }
        self.root.mark_computed();
        Ok(Projection {
            kind,
            root: self.root,
            positional: self.positional,
            elem_matches: self.elem_matches,
            identity: empty,
        })
    }
}

/// For `"a.b.$"`, the path before the positional operator (`"a.b"`); errors
/// for `$` anywhere but at the end.
fn positional_prefix(name: &str) -> Result<Option<&str>> {
    if name.contains(".$.") {
        return Err(Error::bad_value(format!(
            "As of 4.4, it's illegal to specify positional operator in the middle of a path \
             ('{name}'). Positional projection may only be used at the end, for example: a.b.$. \
             If the query previously used a form like a.b.$.d, remove the parts following the \
             '$' and the results will be equivalent."
        )));
    }
    Ok(name.strip_suffix(".$"))
}

/// `{$slice: n}` or `{$slice: [skip, limit]}`.
fn parse_slice(name: &str, arg: &Bson) -> Result<Slice> {
    if let Some(n) = Number::from_bson(arg) {
        return Ok(Slice::Count(to_i32(n)));
    }
    let Bson::Array(items) = arg else {
        return Err(Error::bad_value(format!(
            "$slice only supports numbers and [skip, limit] arrays (field '{name}' has {arg})"
        )));
    };
    let numbers: Vec<Option<Number>> = items.iter().map(Number::from_bson).collect();
    match numbers.as_slice() {
        [Some(skip), Some(limit)] => {
            let limit = to_i32(*limit);
            if limit <= 0 {
                return Err(Error::bad_value(format!(
                    "$slice limit must be positive, got {limit} (field '{name}')"
                )));
            }
            Ok(Slice::SkipLimit {
                skip: to_i32(*skip),
                limit,
            })
        }
        // Two or three arguments that are not both numbers: the aggregation
        // expression $slice(array, [position,] n).
        [_, _] | [_, _, _] => Err(Error::NotSupported(format!(
            "the $slice aggregation expression in the projection of field '{name}' ({arg})"
        ))),
        _ => Err(Error::bad_value(format!(
            "$slice array argument should be of form [skip, limit] (field '{name}' has {arg})"
        ))),
    }
}

/// A number as MongoDB reads a `$slice` argument: truncated to a 32-bit int.
fn to_i32(n: Number) -> i64 {
    match n {
        Number::Int(i) => i.clamp(i64::from(i32::MIN), i64::from(i32::MAX)),
        Number::Float(f) if f.is_nan() => 0,
        Number::Float(f) => f.trunc().clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i64,
    }
}

/// Whether a projection value means "include": `true` or a non-zero number.
fn is_true(value: &Bson) -> bool {
    match value {
        Bson::Boolean(b) => *b,
        other => Number::from_bson(other).is_some_and(|n| n.as_f64() != 0.0),
    }
}

fn join(prefix: &[String], name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{}.{name}", prefix.join("."))
    }
}
