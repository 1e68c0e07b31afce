//! Parsing expression specifications into the [`Node`] tree.
//!
//! Everything that can be checked without a document is checked here:
//! operator names, argument counts, the named arguments of `$cond`, `$map`,
//! `$filter` and friends, variable names (defined before use, user names
//! start with a lowercase letter), field paths (no empty component, no `$`
//! inside). Errors name the operator or path at fault.

use bson::{Bson, Document};

use super::{Node, Op, Var};
use crate::{Error, Result};

/// How deeply expressions may nest.
const MAX_DEPTH: usize = 150;

/// The variables an expression may refer to, and whether `$$NOW` is known.
#[derive(Debug, Clone, Default)]
pub struct ParseScope {
    /// User variable names bound around the expression.
    pub vars: Vec<String>,
    /// Whether `$$NOW` has a value here.
    pub has_now: bool,
}

impl ParseScope {
    /// A scope with `$$NOW` and the given outside variables.
    pub fn with_now(vars: impl IntoIterator<Item = String>) -> ParseScope {
        ParseScope {
            vars: vars.into_iter().collect(),
            has_now: true,
        }
    }
}

struct Parser {
    vars: Vec<String>,
    has_now: bool,
}

pub(super) fn parse(spec: &Bson, scope: &ParseScope) -> Result<Node> {
    let mut parser = Parser {
        vars: scope.vars.clone(),
        has_now: scope.has_now,
    };
    parser.node(spec, 0)
}

/// How an operator takes its arguments.
enum Shape {
    /// Positional arguments, between `min` and `max` of them; a single
    /// non-array argument counts as one.
    Args(usize, usize),
    /// Named arguments in an object, in this order (required ones first,
    /// `?` marks optional ones).
    Named(&'static [&'static str]),
    /// Either form (`$cond`).
    ArgsOrNamed(usize, &'static [&'static str]),
    /// Any number of arguments, or one array-valued expression (`$sum`,
    /// `$min` …, `$concatArrays` takes arrays).
    Variadic,
    /// One argument, which may itself be an array literal of arguments
    /// (`$size: ["$a"]` or `$size: "$a"`).
    One,
    /// A date part (`$year` …): one date argument, or `{date, timezone}`
    /// (an object whose first key is not an operator); always two
    /// arguments, the time zone `Node::Absent` when not given.
    Date,
}

const OPERATORS: &[(&str, Op, Shape)] = &[
    ("$add", Op::Add, Shape::Variadic),
    ("$subtract", Op::Subtract, Shape::Args(2, 2)),
    ("$multiply", Op::Multiply, Shape::Variadic),
    ("$divide", Op::Divide, Shape::Args(2, 2)),
    ("$mod", Op::Mod, Shape::Args(2, 2)),
    ("$abs", Op::Abs, Shape::One),
    ("$ceil", Op::Ceil, Shape::One),
    ("$floor", Op::Floor, Shape::One),
    ("$round", Op::Round, Shape::Args(1, 2)),
    ("$trunc", Op::Trunc, Shape::Args(1, 2)),
    ("$sqrt", Op::Sqrt, Shape::One),
    ("$pow", Op::Pow, Shape::Args(2, 2)),
    ("$exp", Op::Exp, Shape::One),
    ("$ln", Op::Ln, Shape::One),
    ("$log", Op::Log, Shape::Args(2, 2)),
    ("$log10", Op::Log10, Shape::One),
    ("$sum", Op::Sum, Shape::Variadic),
    ("$avg", Op::Avg, Shape::Variadic),
    ("$min", Op::Min, Shape::Variadic),
    ("$max", Op::Max, Shape::Variadic),
    ("$stdDevPop", Op::StdDevPop, Shape::Variadic),
    ("$stdDevSamp", Op::StdDevSamp, Shape::Variadic),
    ("$eq", Op::Eq, Shape::Args(2, 2)),
    ("$ne", Op::Ne, Shape::Args(2, 2)),
    ("$gt", Op::Gt, Shape::Args(2, 2)),
    ("$gte", Op::Gte, Shape::Args(2, 2)),
    ("$lt", Op::Lt, Shape::Args(2, 2)),
    ("$lte", Op::Lte, Shape::Args(2, 2)),
    ("$cmp", Op::Cmp, Shape::Args(2, 2)),
    ("$and", Op::And, Shape::Variadic),
    ("$or", Op::Or, Shape::Variadic),
    ("$not", Op::Not, Shape::One),
    (
        "$cond",
        Op::Cond,
        Shape::ArgsOrNamed(3, &["if", "then", "else"]),
    ),
    ("$ifNull", Op::IfNull, Shape::Args(2, usize::MAX)),
    ("$concat", Op::Concat, Shape::Variadic),
    ("$toUpper", Op::ToUpper, Shape::One),
    ("$toLower", Op::ToLower, Shape::One),
    ("$substr", Op::SubstrBytes, Shape::Args(3, 3)),
    ("$substrBytes", Op::SubstrBytes, Shape::Args(3, 3)),
    ("$substrCP", Op::SubstrCP, Shape::Args(3, 3)),
    ("$strLenBytes", Op::StrLenBytes, Shape::One),
    ("$strLenCP", Op::StrLenCP, Shape::One),
    ("$split", Op::Split, Shape::Args(2, 2)),
    ("$trim", Op::Trim, Shape::Named(&["input", "chars?"])),
    ("$ltrim", Op::LTrim, Shape::Named(&["input", "chars?"])),
    ("$rtrim", Op::RTrim, Shape::Named(&["input", "chars?"])),
    ("$indexOfBytes", Op::IndexOfBytes, Shape::Args(2, 4)),
    ("$indexOfCP", Op::IndexOfCP, Shape::Args(2, 4)),
    ("$strcasecmp", Op::StrCaseCmp, Shape::Args(2, 2)),
    (
        "$regexMatch",
        Op::RegexMatch,
        Shape::Named(&["input", "regex", "options?"]),
    ),
    (
        "$replaceOne",
        Op::ReplaceOne,
        Shape::Named(&["input", "find", "replacement"]),
    ),
    (
        "$replaceAll",
        Op::ReplaceAll,
        Shape::Named(&["input", "find", "replacement"]),
    ),
    ("$size", Op::Size, Shape::One),
    ("$arrayElemAt", Op::ArrayElemAt, Shape::Args(2, 2)),
    ("$first", Op::First, Shape::One),
    ("$last", Op::Last, Shape::One),
    ("$concatArrays", Op::ConcatArrays, Shape::Variadic),
    ("$slice", Op::Slice, Shape::Args(2, 3)),
    ("$reverseArray", Op::ReverseArray, Shape::One),
    ("$isArray", Op::IsArray, Shape::One),
    ("$in", Op::In, Shape::Args(2, 2)),
    ("$indexOfArray", Op::IndexOfArray, Shape::Args(2, 4)),
    ("$range", Op::Range, Shape::Args(2, 3)),
    ("$arrayToObject", Op::ArrayToObject, Shape::One),
    ("$objectToArray", Op::ObjectToArray, Shape::One),
    (
        "$sortArray",
        Op::SortArray,
        Shape::Named(&["input", "sortBy"]),
    ),
    ("$setUnion", Op::SetUnion, Shape::Variadic),
    ("$setIntersection", Op::SetIntersection, Shape::Variadic),
    ("$setDifference", Op::SetDifference, Shape::Args(2, 2)),
    ("$setEquals", Op::SetEquals, Shape::Args(2, usize::MAX)),
    ("$setIsSubset", Op::SetIsSubset, Shape::Args(2, 2)),
    ("$allElementsTrue", Op::AllElementsTrue, Shape::One),
    ("$anyElementTrue", Op::AnyElementTrue, Shape::One),
    ("$mergeObjects", Op::MergeObjects, Shape::Variadic),
    ("$type", Op::Type, Shape::One),
    ("$isNumber", Op::IsNumber, Shape::One),
    ("$toString", Op::ToString, Shape::One),
    ("$toInt", Op::ToInt, Shape::One),
    ("$toLong", Op::ToLong, Shape::One),
    ("$toDouble", Op::ToDouble, Shape::One),
    ("$toBool", Op::ToBool, Shape::One),
    ("$toObjectId", Op::ToObjectId, Shape::One),
    ("$toDate", Op::ToDate, Shape::One),
    (
        "$convert",
        Op::Convert,
        Shape::Named(&["input", "to", "onError?", "onNull?"]),
    ),
    ("$year", Op::Year, Shape::Date),
    ("$month", Op::Month, Shape::Date),
    ("$dayOfMonth", Op::DayOfMonth, Shape::Date),
    ("$hour", Op::Hour, Shape::Date),
    ("$minute", Op::Minute, Shape::Date),
    ("$second", Op::Second, Shape::Date),
    ("$millisecond", Op::Millisecond, Shape::Date),
    ("$dayOfWeek", Op::DayOfWeek, Shape::Date),
    ("$dayOfYear", Op::DayOfYear, Shape::Date),
    (
        "$dateToString",
        Op::DateToString,
        Shape::Named(&["date", "format?", "timezone?", "onNull?"]),
    ),
];

/// Operators MongoDB has that this engine refuses by name (rather than
/// calling them unknown).
const NOT_SUPPORTED: &[&str] = &[
    "$function",
    "$accumulator",
    "$rand",
    "$meta",
    "$toDecimal",
    "$dateAdd",
    "$dateSubtract",
    "$dateDiff",
    "$dateTrunc",
    "$dateFromString",
    "$dateFromParts",
    "$dateToParts",
    "$week",
    "$isoWeek",
    "$isoWeekYear",
    "$isoDayOfWeek",
    "$regexFind",
    "$regexFindAll",
    "$zip",
    "$setField",
    "$unsetField",
    "$binarySize",
    "$bsonSize",
    "$firstN",
    "$lastN",
    "$maxN",
    "$minN",
    "$top",
    "$topN",
    "$bottom",
    "$bottomN",
    "$median",
    "$percentile",
    "$sin",
    "$cos",
    "$tan",
    "$asin",
    "$acos",
    "$atan",
    "$atan2",
    "$bitAnd",
    "$bitOr",
    "$bitXor",
    "$bitNot",
];

impl Parser {
    fn node(&mut self, spec: &Bson, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(Error::BadValue(format!(
                "expression nested deeper than {MAX_DEPTH} levels"
            )));
        }
        match spec {
            Bson::String(s) if s.starts_with("$$") => self.variable(&s[2..]),
            Bson::String(s) if s.starts_with('$') => Ok(Node::Field(field_path(&s[1..], s)?)),
            Bson::Array(items) => Ok(Node::Array(
                items
                    .iter()
                    .map(|item| self.node(item, depth + 1))
                    .collect::<Result<_>>()?,
            )),
            Bson::Document(doc) => self.document(doc, depth),
            other => Ok(Node::Literal(other.clone())),
        }
    }

    fn document(&mut self, doc: &Document, depth: usize) -> Result<Node> {
        let Some(first) = doc.keys().next() else {
            return Ok(Node::Object(Vec::new()));
        };
        if first.starts_with('$') {
            if doc.len() != 1 {
                return Err(Error::FailedToParse(format!(
                    "an expression specification must contain exactly one field, the name of \
                     the expression; found {} fields in {doc}",
                    doc.len()
                )));
            }
            let (name, args) = doc.iter().next().expect("one field");
            return self.operator(name, args, depth);
        }
        let mut fields = Vec::with_capacity(doc.len());
        for (name, value) in doc {
            if name.starts_with('$') {
                return Err(Error::FailedToParse(format!(
                    "field names in an object expression may not start with '$' ({name}); an \
                     operator must be the only field of its object"
                )));
            }
            if name.contains('.') {
                return Err(Error::FailedToParse(format!(
                    "FieldPath field names may not contain '.' ({name}) in an object expression"
                )));
            }
            fields.push((name.clone(), self.node(value, depth + 1)?));
        }
        Ok(Node::Object(fields))
    }

    fn variable(&mut self, text: &str) -> Result<Node> {
        let (name, rest) = match text.split_once('.') {
            Some((name, rest)) => (name, Some(rest)),
            None => (text, None),
        };
        let path = match rest {
            Some(rest) => field_path(rest, &format!("$${text}"))?,
            None => Vec::new(),
        };
        let var = match name {
            "ROOT" => Var::Root,
            "CURRENT" => Var::Current,
            "REMOVE" => Var::Remove,
            "NOW" => {
                if !self.has_now {
                    return Err(Error::BadValue(
                        "$$NOW is only available in aggregation pipelines and updates, not in \
                         this filter"
                            .into(),
                    ));
                }
                Var::Now
            }
            "CLUSTER_TIME" | "SEARCH_META" | "USER_ROLES" => {
                return Err(Error::NotSupported(format!("the variable $${name}")));
            }
            _ => {
                if !self.vars.iter().any(|v| v == name) {
                    return Err(Error::BadValue(format!(
                        "Use of undefined variable: {name}"
                    )));
                }
                Var::User(name.to_string())
            }
        };
        Ok(Node::Var(var, path))
    }

    fn operator(&mut self, name: &str, args: &Bson, depth: usize) -> Result<Node> {
        match name {
            "$literal" => return Ok(Node::Literal(args.clone())),
            "$let" => return self.let_(args, depth),
            "$map" => return self.map(args, depth),
            "$filter" => return self.filter(args, depth),
            "$reduce" => return self.reduce(args, depth),
            "$switch" => return self.switch(args, depth),
            "$getField" => return self.get_field(args, depth),
            _ => {}
        }
        let Some((_, op, shape)) = OPERATORS.iter().find(|(n, _, _)| *n == name) else {
            if NOT_SUPPORTED.contains(&name) {
                return Err(Error::NotSupported(format!(
                    "the expression operator {name}"
                )));
            }
            return Err(Error::FailedToParse(format!(
                "Unrecognized expression '{name}'"
            )));
        };
        let args = match shape {
            Shape::Args(min, max) => {
                let list = self.list(args, depth)?;
                check_count(name, list.len(), *min, *max)?;
                list
            }
            Shape::One => {
                let list = self.list(args, depth)?;
                check_count(name, list.len(), 1, 1)?;
                list
            }
            Shape::Variadic => self.list(args, depth)?,
            Shape::Date => match args {
                Bson::Document(d) if !d.keys().next().is_some_and(|k| k.starts_with('$')) => {
                    self.named(name, args, &["date", "timezone?"], depth)?
                }
                _ => {
                    let mut list = self.list(args, depth)?;
                    check_count(name, list.len(), 1, 1)?;
                    list.push(Node::Absent);
                    list
                }
            },
            Shape::Named(names) => self.named(name, args, names, depth)?,
            Shape::ArgsOrNamed(count, names) => match args {
                Bson::Document(d) if !d.keys().next().is_some_and(|k| k.starts_with('$')) => {
                    self.named(name, args, names, depth)?
                }
                _ => {
                    let list = self.list(args, depth)?;
                    check_count(name, list.len(), *count, *count)?;
                    list
                }
            },
        };
        Ok(Node::Call(*op, args))
    }

    /// Positional arguments: an array literal is the argument list, anything
    /// else is one argument.
    fn list(&mut self, args: &Bson, depth: usize) -> Result<Vec<Node>> {
        match args {
            Bson::Array(items) => items.iter().map(|a| self.node(a, depth + 1)).collect(),
            other => Ok(vec![self.node(other, depth + 1)?]),
        }
    }

    /// Named arguments, returned in `names` order (`Node::Absent` for an
    /// optional one not given).
    fn named(&mut self, op: &str, args: &Bson, names: &[&str], depth: usize) -> Result<Vec<Node>> {
        let Bson::Document(doc) = args else {
            return Err(Error::FailedToParse(format!(
                "{op} expects an object of named arguments ({}), not {}",
                names.join(", ").replace('?', ""),
                crate::value::type_name(args)
            )));
        };
        for key in doc.keys() {
            if !names.iter().any(|n| n.trim_end_matches('?') == key) {
                return Err(Error::FailedToParse(format!(
                    "{op} found an unknown argument: {key}"
                )));
            }
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let (key, optional) = match name.strip_suffix('?') {
                Some(key) => (key, true),
                None => (*name, false),
            };
            match doc.get(key) {
                Some(value) => out.push(self.node(value, depth + 1)?),
                None if optional => out.push(Node::Absent),
                None => {
                    return Err(Error::FailedToParse(format!(
                        "Missing '{key}' parameter to {op}"
                    )));
                }
            }
        }
        Ok(out)
    }

    fn object<'d>(&self, op: &str, args: &'d Bson, allowed: &[&str]) -> Result<&'d Document> {
        let Bson::Document(doc) = args else {
            return Err(Error::FailedToParse(format!(
                "{op} expects an object as its argument, not {}",
                crate::value::type_name(args)
            )));
        };
        if let Some(key) = doc.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Error::FailedToParse(format!(
                "Unrecognized parameter to {op}: {key}"
            )));
        }
        Ok(doc)
    }

    fn required<'d>(&self, op: &str, doc: &'d Document, key: &str) -> Result<&'d Bson> {
        doc.get(key)
            .ok_or_else(|| Error::FailedToParse(format!("Missing '{key}' parameter to {op}")))
    }

    /// Parses `body` with `names` bound.
    fn bound(&mut self, names: &[String], body: &Bson, depth: usize) -> Result<Node> {
        let before = self.vars.len();
        self.vars.extend(names.iter().cloned());
        let node = self.node(body, depth + 1);
        self.vars.truncate(before);
        node
    }

    fn let_(&mut self, args: &Bson, depth: usize) -> Result<Node> {
        let doc = self.object("$let", args, &["vars", "in"])?;
        let Bson::Document(vars) = self.required("$let", doc, "vars")? else {
            return Err(Error::FailedToParse(
                "invalid parameter: expected an object (vars)".into(),
            ));
        };
        let mut bindings = Vec::with_capacity(vars.len());
        for (name, value) in vars {
            check_user_variable_name(name)?;
            bindings.push((name.clone(), self.node(value, depth + 1)?));
        }
        let names: Vec<String> = bindings.iter().map(|(n, _)| n.clone()).collect();
        let body = self.bound(&names, self.required("$let", doc, "in")?, depth)?;
        Ok(Node::Let {
            bindings,
            body: Box::new(body),
        })
    }

    fn loop_var(&self, op: &str, doc: &Document, default: &str) -> Result<String> {
        match doc.get("as") {
            None => Ok(default.to_string()),
            Some(Bson::String(name)) => {
                check_user_variable_name(name)?;
                Ok(name.clone())
            }
            Some(other) => Err(Error::FailedToParse(format!(
                "{op}'s 'as' must be a string, not {}",
                crate::value::type_name(other)
            ))),
        }
    }

    fn map(&mut self, args: &Bson, depth: usize) -> Result<Node> {
        let doc = self.object("$map", args, &["input", "as", "in"])?;
        let input = self.node(self.required("$map", doc, "input")?, depth + 1)?;
        let var = self.loop_var("$map", doc, "this")?;
        let body = self.bound(
            std::slice::from_ref(&var),
            self.required("$map", doc, "in")?,
            depth,
        )?;
        Ok(Node::Map {
            input: Box::new(input),
            var,
            body: Box::new(body),
        })
    }

    fn filter(&mut self, args: &Bson, depth: usize) -> Result<Node> {
        let doc = self.object("$filter", args, &["input", "as", "cond", "limit"])?;
        let input = self.node(self.required("$filter", doc, "input")?, depth + 1)?;
        let var = self.loop_var("$filter", doc, "this")?;
        let cond = self.bound(
            std::slice::from_ref(&var),
            self.required("$filter", doc, "cond")?,
            depth,
        )?;
        let limit = match doc.get("limit") {
            Some(limit) => self.node(limit, depth + 1)?,
            None => Node::Absent,
        };
        Ok(Node::Filter {
            input: Box::new(input),
            var,
            cond: Box::new(cond),
            limit: Box::new(limit),
        })
    }

    fn reduce(&mut self, args: &Bson, depth: usize) -> Result<Node> {
        let doc = self.object("$reduce", args, &["input", "initialValue", "in"])?;
        let input = self.node(self.required("$reduce", doc, "input")?, depth + 1)?;
        let initial = self.node(self.required("$reduce", doc, "initialValue")?, depth + 1)?;
        let body = self.bound(
            &["value".to_string(), "this".to_string()],
            self.required("$reduce", doc, "in")?,
            depth,
        )?;
        Ok(Node::Reduce {
            input: Box::new(input),
            initial: Box::new(initial),
            body: Box::new(body),
        })
    }

    /// `$getField: {field, input}`, or `$getField: field` (the current
    /// document's field); `field` must be a constant string.
    fn get_field(&mut self, args: &Bson, depth: usize) -> Result<Node> {
        let mut nodes = match args {
            Bson::Document(d) if !d.keys().next().is_some_and(|k| k.starts_with('$')) => {
                self.named("$getField", args, &["field", "input?"], depth)?
            }
            other => vec![self.node(other, depth + 1)?, Node::Absent],
        };
        if nodes[1] == Node::Absent {
            nodes[1] = Node::Var(Var::Current, Vec::new());
        }
        if !matches!(nodes[0], Node::Literal(Bson::String(_))) {
            return Err(Error::FailedToParse(
                "$getField requires 'field' to evaluate to a constant string (wrap a name that \
                 starts with '$' in $literal)"
                    .into(),
            ));
        }
        Ok(Node::Call(Op::GetField, nodes))
    }

    fn switch(&mut self, args: &Bson, depth: usize) -> Result<Node> {
        let doc = self.object("$switch", args, &["branches", "default"])?;
        let Bson::Array(items) = self.required("$switch", doc, "branches")? else {
            return Err(Error::FailedToParse(
                "$switch expected an array for 'branches'".into(),
            ));
        };
        let mut branches = Vec::with_capacity(items.len());
        for item in items {
            let branch = self.object("$switch branch", item, &["case", "then"])?;
            let case = self.node(self.required("$switch", branch, "case")?, depth + 1)?;
            let then = self.node(self.required("$switch", branch, "then")?, depth + 1)?;
            branches.push((case, then));
        }
        if branches.is_empty() {
            return Err(Error::FailedToParse(
                "$switch requires at least one branch".into(),
            ));
        }
        let default = match doc.get("default") {
            Some(d) => Some(Box::new(self.node(d, depth + 1)?)),
            None => None,
        };
        Ok(Node::Switch { branches, default })
    }
}

fn check_count(op: &str, got: usize, min: usize, max: usize) -> Result<()> {
    if got < min || got > max {
        let wanted = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(Error::FailedToParse(format!(
            "Expression {op} takes {wanted} argument(s); {got} were passed in"
        )));
    }
    Ok(())
}

/// A field path's components (`text` is how the user wrote it, for messages).
pub(crate) fn field_path(path: &str, text: &str) -> Result<Vec<String>> {
    if path.is_empty() {
        return Err(Error::BadValue(format!(
            "'{text}' is not a valid field path: it names no field"
        )));
    }
    path.split('.')
        .map(|part| {
            if part.is_empty() {
                Err(Error::BadValue(format!(
                    "'{text}' is not a valid field path: empty component"
                )))
            } else if part.starts_with('$') {
                Err(Error::BadValue(format!(
                    "'{text}' is not a valid field path: component '{part}' starts with '$'"
                )))
            } else {
                Ok(part.to_string())
            }
        })
        .collect()
}

/// MongoDB's rule for user variable names: a lowercase letter or a
/// non-ASCII character first, then letters, digits and `_`.
pub(crate) fn check_user_variable_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok_first = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || !c.is_ascii());
    let ok_rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii());
    if ok_first && ok_rest {
        Ok(())
    } else {
        Err(Error::FailedToParse(format!(
            "'{name}' starts with an invalid character for a user variable name (it must \
             start with a lowercase letter and contain only letters, digits and '_')"
        )))
    }
}
