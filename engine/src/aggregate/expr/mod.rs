//! # Aggregation expressions
//!
//! The little functional language inside `$project`, `$addFields`, `$group`
//! keys, `$expr` and friends. An expression is one of
//!
//! ```text
//!  "$a.b"                 a field path of the current document
//!  "$$x.a"                a variable ($$ROOT, $$CURRENT, $$NOW, $$REMOVE, or
//!                         one bound by $let, $map, $filter, $reduce, $lookup)
//!  {$op: args}            an operator call ($add, $cond, $map …)
//!  {a: e1, b: e2}         an object built from expressions
//!  [e1, e2]               an array built from expressions
//!  anything else          a literal
//! ```
//!
//! An expression is parsed **once** ([`Expression::parse`]: operator names,
//! arities, variable names and field paths are checked there) and evaluated
//! against any number of documents ([`Expression::evaluate`]).
//!
//! ## Missing is not null
//!
//! A field path to a field that does not exist evaluates to *missing*
//! (`None` here), which differs from null: `$project: {x: "$nope"}` leaves
//! `x` out, `$type` says `"missing"`, and in comparisons missing sorts below
//! null (as undefined does). Most operators treat missing like null
//! (`$add: [1, "$nope"]` is null). `$$REMOVE` evaluates to missing on purpose.
//!
//! ## Determinism
//!
//! Nothing here reads a clock or a random source: `$$NOW` is a value the
//! caller puts into [`Env`] (the router's clock for reads, the command's
//! stamp inside `apply`), so replicas evaluating the same expression on the
//! same document get the same bytes.
//!
//! The operators live by family: `arith.rs` (numbers and dates arithmetic),
//! `compare.rs` (comparison, boolean, conditional), `strings.rs`,
//! `arrays.rs` (arrays and sets), `types.rs` (type inspection and
//! conversion), `dates.rs` (calendar parts and formatting, UTC).

pub(crate) mod arith;
mod arrays;
mod compare;
mod dates;
mod parse;
mod strings;
mod types;

#[cfg(test)]
mod tests;

use bson::{Bson, Document};

use crate::{Error, Result};

pub use compare::truthy;
pub use parse::ParseScope;
pub(crate) use parse::check_user_variable_name;

/// A value an expression produced: `None` is *missing* (see the module docs).
pub type Value = Option<Bson>;

/// What evaluation may see besides the document: the time `$$NOW` stands
/// for, and variables bound outside the expression (`$lookup`'s `let`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Env {
    /// `$$NOW`, in milliseconds since the Unix epoch; `None` where no clock
    /// value was decided (a plain `find` filter), which makes `$$NOW` an
    /// error at parse time.
    pub now_millis: Option<i64>,
    /// Variables bound outside the expression, by name (without `$$`);
    /// a variable may hold *missing* (a `$lookup` `let` of an absent field).
    pub vars: Vec<(String, Value)>,
}

impl Env {
    /// An environment in which `$$NOW` is `now_millis`.
    pub fn at(now_millis: i64) -> Env {
        Env {
            now_millis: Some(now_millis),
            vars: Vec::new(),
        }
    }

    /// The same environment with one more variable bound.
    pub fn with_var(self, name: impl Into<String>, value: Bson) -> Env {
        self.with_value(name, Some(value))
    }

    /// The same environment with one more variable bound, possibly to
    /// missing.
    pub fn with_value(mut self, name: impl Into<String>, value: Value) -> Env {
        let name = name.into();
        self.vars.retain(|(n, _)| *n != name);
        self.vars.push((name, value));
        self
    }
}

/// A compiled aggregation expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    node: Node,
}

/// The compiled tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Literal(Bson),
    /// A field path of `$$CURRENT`.
    Field(Vec<String>),
    /// A variable and a path inside it.
    Var(Var, Vec<String>),
    /// `{a: e1, b: e2}`: fields whose value is missing are left out.
    Object(Vec<(String, Node)>),
    /// `[e1, e2]`: missing elements become null.
    Array(Vec<Node>),
    /// An operator with positional arguments (optional ones that were not
    /// given are `Node::Absent`).
    Call(Op, Vec<Node>),
    /// An optional argument that was not given.
    Absent,
    /// `$let`, `$map`, `$filter`, `$reduce`: bind variables, then evaluate.
    Let {
        bindings: Vec<(String, Node)>,
        body: Box<Node>,
    },
    Map {
        input: Box<Node>,
        var: String,
        body: Box<Node>,
    },
    Filter {
        input: Box<Node>,
        var: String,
        cond: Box<Node>,
        limit: Box<Node>,
    },
    Reduce {
        input: Box<Node>,
        initial: Box<Node>,
        body: Box<Node>,
    },
    Switch {
        branches: Vec<(Node, Node)>,
        default: Option<Box<Node>>,
    },
}

/// A variable reference.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Var {
    Root,
    Current,
    Now,
    Remove,
    User(String),
}

/// Operators evaluated from positional arguments. Each family's file says
/// what its operators do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    // arith.rs
    Add,
    Subtract,
    Multiply,
    Divide,
    Mod,
    Abs,
    Ceil,
    Floor,
    Round,
    Trunc,
    Sqrt,
    Pow,
    Exp,
    Ln,
    Log,
    Log10,
    Sum,
    Avg,
    Min,
    Max,
    StdDevPop,
    StdDevSamp,
    // compare.rs
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    Cmp,
    And,
    Or,
    Not,
    Cond,
    IfNull,
    // strings.rs
    Concat,
    ToUpper,
    ToLower,
    SubstrBytes,
    SubstrCP,
    StrLenBytes,
    StrLenCP,
    Split,
    Trim,
    LTrim,
    RTrim,
    IndexOfBytes,
    IndexOfCP,
    StrCaseCmp,
    RegexMatch,
    ReplaceOne,
    ReplaceAll,
    // arrays.rs
    Size,
    ArrayElemAt,
    First,
    Last,
    ConcatArrays,
    Slice,
    ReverseArray,
    IsArray,
    In,
    IndexOfArray,
    Range,
    ArrayToObject,
    ObjectToArray,
    SortArray,
    SetUnion,
    SetIntersection,
    SetDifference,
    SetEquals,
    SetIsSubset,
    AllElementsTrue,
    AnyElementTrue,
    MergeObjects,
    GetField,
    // types.rs
    Type,
    IsNumber,
    ToString,
    ToInt,
    ToLong,
    ToDouble,
    ToBool,
    ToObjectId,
    ToDate,
    Convert,
    // dates.rs
    Year,
    Month,
    DayOfMonth,
    Hour,
    Minute,
    Second,
    Millisecond,
    DayOfWeek,
    DayOfYear,
    DateToString,
}

impl Expression {
    /// Parses an expression with no outside variables and no `$$NOW`.
    pub fn parse(spec: &Bson) -> Result<Expression> {
        Expression::parse_in(spec, &ParseScope::default())
    }

    /// Parses an expression in a scope (the variables and `$$NOW` it may use).
    pub fn parse_in(spec: &Bson, scope: &ParseScope) -> Result<Expression> {
        Ok(Expression {
            node: parse::parse(spec, scope)?,
        })
    }

    /// A literal expression.
    pub fn literal(value: Bson) -> Expression {
        Expression {
            node: Node::Literal(value),
        }
    }

    /// Evaluates the expression with `doc` as `$$ROOT` and `$$CURRENT`.
    pub fn evaluate(&self, doc: &Document, env: &Env) -> Result<Value> {
        let budget = Budget::new();
        let ctx = Ctx {
            root: doc,
            env,
            scope: None,
            budget: &budget,
        };
        ctx.eval(&self.node)
    }

    /// True when the expression is a plain field path (`"$a.b"`), with the path.
    pub fn as_field_path(&self) -> Option<String> {
        match &self.node {
            Node::Field(parts) => Some(parts.join(".")),
            _ => None,
        }
    }

    /// True when the expression is a constant.
    pub fn as_literal(&self) -> Option<&Bson> {
        match &self.node {
            Node::Literal(v) => Some(v),
            _ => None,
        }
    }
}

/// Variables bound inside the expression ($let, $map …), innermost first.
/// A variable may hold missing (`$let: {vars: {x: "$nope"}}`), as in MongoDB.
pub(crate) struct Scope<'a> {
    name: &'a str,
    value: Option<&'a Bson>,
    parent: Option<&'a Scope<'a>>,
}

/// How deeply values built by an expression may nest (as stored documents).
pub const MAX_VALUE_DEPTH: usize = crate::document::MAX_NESTING_DEPTH;
/// The most work one evaluation may do: one unit per operator evaluated and
/// per array element, document field or 16 string bytes it builds.
pub const WORK_LIMIT: u64 = 4_000_000;
/// The longest string an expression may build.
pub const MAX_STRING_BYTES: usize = 16 << 20;

/// The work left to one evaluation. Hostile expressions (`$reduce` that
/// doubles an array, nests it 100,000 deep, or concatenates a string with
/// itself) stop with an error instead of exhausting memory or the stack;
/// the count is deterministic, so inside `apply` every replica stops at the
/// same point.
pub(crate) struct Budget {
    left: std::cell::Cell<u64>,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            left: std::cell::Cell::new(WORK_LIMIT),
        }
    }

    fn charge(&self, units: u64) -> Result<()> {
        match self.left.get().checked_sub(units) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(Error::BadValue(format!(
                "expression evaluation exceeded its work limit ({WORK_LIMIT} operations and \
                 built elements for one document)"
            ))),
        }
    }

    /// Charges for a value an operator built, and checks its nesting and
    /// string sizes.
    fn built(&self, value: &Value) -> Result<()> {
        match value {
            Some(v) => self.measure(v, 0),
            None => Ok(()),
        }
    }

    fn measure(&self, value: &Bson, depth: usize) -> Result<()> {
        match value {
            Bson::Document(d) => {
                self.deeper(depth)?;
                self.charge(d.len() as u64)?;
                d.values().try_for_each(|v| self.measure(v, depth + 1))
            }
            Bson::Array(items) => {
                self.deeper(depth)?;
                self.charge(items.len() as u64)?;
                items.iter().try_for_each(|v| self.measure(v, depth + 1))
            }
            Bson::String(s) => {
                if s.len() > MAX_STRING_BYTES {
                    return Err(Error::BadValue(format!(
                        "an expression built a string of {} bytes, more than the limit of \
                         {MAX_STRING_BYTES}",
                        s.len()
                    )));
                }
                self.charge(s.len() as u64 / 16)
            }
            _ => Ok(()),
        }
    }

    fn deeper(&self, depth: usize) -> Result<()> {
        if depth >= MAX_VALUE_DEPTH {
            return Err(Error::BadValue(format!(
                "an expression built a value nested deeper than {MAX_VALUE_DEPTH} levels"
            )));
        }
        Ok(())
    }
}

/// Everything one evaluation can see.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    root: &'a Document,
    env: &'a Env,
    scope: Option<&'a Scope<'a>>,
    budget: &'a Budget,
}

impl<'a> Ctx<'a> {
    pub(crate) fn eval(&self, node: &Node) -> Result<Value> {
        self.budget.charge(1)?;
        // Values read from the document or passed through are not new.
        let built = !matches!(
            node,
            Node::Literal(_)
                | Node::Absent
                | Node::Field(_)
                | Node::Var(..)
                | Node::Let { .. }
                | Node::Switch { .. }
        );
        let value = self.eval_node(node)?;
        if built {
            self.budget.built(&value)?;
        }
        Ok(value)
    }

    fn eval_node(&self, node: &Node) -> Result<Value> {
        match node {
            Node::Literal(v) => Ok(Some(v.clone())),
            Node::Absent => Ok(None),
            Node::Field(path) => Ok(field_of_document(self.root, path)),
            Node::Var(var, path) => self.variable(var, path),
            Node::Object(fields) => {
                let mut out = Document::new();
                for (name, child) in fields {
                    if let Some(v) = self.eval(child)? {
                        out.insert(name.clone(), v);
                    }
                }
                Ok(Some(Bson::Document(out)))
            }
            Node::Array(items) => Ok(Some(Bson::Array(
                items
                    .iter()
                    .map(|item| Ok(self.eval(item)?.unwrap_or(Bson::Null)))
                    .collect::<Result<_>>()?,
            ))),
            Node::Call(op, args) => self.call(*op, args),
            Node::Let { bindings, body } => self.eval_let(bindings, body),
            Node::Map { input, var, body } => arrays::map(self, input, var, body),
            Node::Filter {
                input,
                var,
                cond,
                limit,
            } => arrays::filter(self, input, var, cond, limit),
            Node::Reduce {
                input,
                initial,
                body,
            } => arrays::reduce(self, input, initial, body),
            Node::Switch { branches, default } => {
                for (case, then) in branches {
                    if truthy(&self.eval(case)?) {
                        return self.eval(then);
                    }
                }
                match default {
                    Some(default) => self.eval(default),
                    None => Err(Error::BadValue(
                        "$switch could not find a matching branch for an input, and no default \
                         was specified"
                            .into(),
                    )),
                }
            }
        }
    }

    /// Evaluates every argument.
    pub(crate) fn eval_all(&self, args: &[Node]) -> Result<Vec<Value>> {
        args.iter().map(|a| self.eval(a)).collect()
    }

    /// Evaluates `body` with `name` bound to `value` (`None`: missing).
    pub(crate) fn with_var<T>(
        &self,
        name: &str,
        value: Option<&Bson>,
        body: impl FnOnce(&Ctx<'_>) -> Result<T>,
    ) -> Result<T> {
        let scope = Scope {
            name,
            value,
            parent: self.scope,
        };
        let inner = Ctx {
            root: self.root,
            env: self.env,
            scope: Some(&scope),
            budget: self.budget,
        };
        body(&inner)
    }

    fn eval_let(&self, bindings: &[(String, Node)], body: &Node) -> Result<Value> {
        // Every binding is evaluated in the outer scope, as in MongoDB.
        let values = bindings
            .iter()
            .map(|(_, node)| self.eval(node))
            .collect::<Result<Vec<_>>>()?;
        self.bind_all(bindings, &values, body)
    }

    fn bind_all(
        &self,
        bindings: &[(String, Node)],
        values: &[Value],
        body: &Node,
    ) -> Result<Value> {
        match (bindings.split_first(), values.split_first()) {
            (Some(((name, _), rest)), Some((value, more))) => {
                self.with_var(name, value.as_ref(), |inner| {
                    inner.bind_all(rest, more, body)
                })
            }
            _ => self.eval(body),
        }
    }

    fn variable(&self, var: &Var, path: &[String]) -> Result<Value> {
        let base: Bson = match var {
            Var::Root | Var::Current if path.is_empty() => {
                return Ok(Some(Bson::Document(self.root.clone())));
            }
            Var::Root | Var::Current => return Ok(field_of_document(self.root, path)),
            Var::Remove => return Ok(None),
            Var::Now => match self.env.now_millis {
                Some(ms) => Bson::DateTime(bson::DateTime::from_millis(ms)),
                None => {
                    return Err(Error::BadValue(
                        "$$NOW is not available in this context".into(),
                    ));
                }
            },
            Var::User(name) => {
                let mut scope = self.scope;
                let mut found = None;
                while let Some(s) = scope {
                    if s.name == name {
                        found = Some(s.value);
                        break;
                    }
                    scope = s.parent;
                }
                let found = found.or_else(|| {
                    self.env
                        .vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.as_ref())
                });
                match found {
                    Some(Some(v)) => return Ok(field_of_value(v, path)),
                    Some(None) => return Ok(None),
                    None => {
                        return Err(Error::BadValue(format!(
                            "Use of undefined variable: {name}"
                        )));
                    }
                }
            }
        };
        Ok(field_of_value(&base, path))
    }

    fn call(&self, op: Op, args: &[Node]) -> Result<Value> {
        use Op::*;
        match op {
            Add | Subtract | Multiply | Divide | Mod | Abs | Ceil | Floor | Round | Trunc
            | Sqrt | Pow | Exp | Ln | Log | Log10 | Sum | Avg | Min | Max | StdDevPop
            | StdDevSamp => arith::call(op, &self.eval_all(args)?),
            Eq | Ne | Gt | Gte | Lt | Lte | Cmp => compare::comparison(op, &self.eval_all(args)?),
            And | Or | Not | Cond | IfNull => compare::logical(self, op, args),
            Concat | ToUpper | ToLower | SubstrBytes | SubstrCP | StrLenBytes | StrLenCP
            | Split | Trim | LTrim | RTrim | IndexOfBytes | IndexOfCP | StrCaseCmp | RegexMatch
            | ReplaceOne | ReplaceAll => strings::call(op, &self.eval_all(args)?),
            Size | ArrayElemAt | First | Last | ConcatArrays | Slice | ReverseArray | IsArray
            | In | IndexOfArray | Range | ArrayToObject | ObjectToArray | SortArray | SetUnion
            | SetIntersection | SetDifference | SetEquals | SetIsSubset | AllElementsTrue
            | AnyElementTrue | MergeObjects | GetField => arrays::call(op, &self.eval_all(args)?),
            Type | IsNumber | ToString | ToInt | ToLong | ToDouble | ToBool | ToObjectId
            | ToDate | Convert => types::call(op, &self.eval_all(args)?, &given(args)),
            Year | Month | DayOfMonth | Hour | Minute | Second | Millisecond | DayOfWeek
            | DayOfYear | DateToString => dates::call(op, &self.eval_all(args)?, &given(args)),
        }
    }
}

/// Which arguments were given: an optional named argument that was left out
/// differs from one that evaluates to missing (`onError: "$$REMOVE"` makes
/// the result missing; no `onError` makes the error an error).
fn given(args: &[Node]) -> Vec<bool> {
    args.iter().map(|a| !matches!(a, Node::Absent)).collect()
}

/// The value at a field path of a document (aggregation rules: arrays are
/// mapped over, numeric components are field names, not indexes).
pub fn field_of_document(doc: &Document, path: &[String]) -> Value {
    let (head, rest) = path.split_first()?;
    doc.get(head).and_then(|v| field_of_value(v, rest))
}

/// The value at a path inside a value: through documents, and across the
/// elements of arrays (an array yields the array of its document elements'
/// values, leaving out elements where the path is missing; elements that
/// are not documents, nested arrays included, are skipped, as MongoDB's
/// `ExpressionFieldPath` does).
pub fn field_of_value(value: &Bson, path: &[String]) -> Value {
    let Some((head, rest)) = path.split_first() else {
        return Some(value.clone());
    };
    match value {
        Bson::Document(d) => d.get(head).and_then(|v| field_of_value(v, rest)),
        Bson::Array(items) => Some(Bson::Array(
            items
                .iter()
                .filter(|item| matches!(item, Bson::Document(_)))
                .filter_map(|item| field_of_value(item, path))
                .collect(),
        )),
        _ => None,
    }
}

/// The name MongoDB gives a value's type in messages, `"missing"` included.
pub(crate) fn type_of(value: &Value) -> &'static str {
    match value {
        None => "missing",
        Some(v) => crate::value::type_name(v),
    }
}

/// True for null, undefined and missing: what most operators answer null for.
pub(crate) fn is_nullish(value: &Value) -> bool {
    matches!(value, None | Some(Bson::Null) | Some(Bson::Undefined))
}
