//! Parsing pipeline stages.
//!
//! Each stage document (`{$group: {…}}`) becomes one [`Stage`]. A few stages
//! are shorthands MongoDB itself rewrites, and so does [`expand`]:
//!
//! ```text
//!  {$count: "n"}          → {$group: {_id: null, n: {$sum: 1}}}, {$project: {_id: 0}}
//!  {$sortByCount: e}      → {$group: {_id: e, count: {$sum: 1}}}, {$sort: {count: -1}}
//!  {$set: …}              = {$addFields: …};  {$replaceWith: e} = {$replaceRoot: {newRoot: e}}
//! ```
//!
//! so that the rest of the engine (and the router's splitting of pipelines
//! across shards) sees only the basic stages.

use bson::{Bson, Document, doc};

use super::Pipeline;
use super::accumulator::Accumulator;
use super::expr::{Env, Expression, ParseScope};
use super::fields::split;
use super::project::Projection;
use crate::query::Filter;
use crate::sort::SortSpec;
use crate::{Error, Result};

/// One parsed stage.
#[derive(Debug, Clone)]
pub(crate) enum Stage {
    /// The filter is compiled when the stage runs, against that run's
    /// variables (a `$lookup` sub-pipeline sees its `let` values).
    Match(Document),
    Project(Projection),
    AddFields(Vec<(Vec<String>, Expression)>),
    Sort(SortSpec),
    Skip(u64),
    Limit(u64),
    Unwind(Unwind),
    Group(Group),
    ReplaceRoot(Expression),
    Lookup(Box<Lookup>),
    Facet(Vec<(String, Pipeline)>),
    UnionWith {
        collection: String,
        pipeline: Pipeline,
    },
    Bucket(Box<Bucket>),
}

#[derive(Debug, Clone)]
pub(crate) struct Unwind {
    pub path: Vec<String>,
    pub include_array_index: Option<Vec<String>>,
    pub preserve_null_and_empty: bool,
}

/// `$group`: the key expression and the accumulators.
#[derive(Debug, Clone)]
pub struct Group {
    pub(crate) id: Expression,
    /// `_id: {name: e}` (an object of one field): MongoDB groups on `e`,
    /// a missing value counting as null, and writes `{name: value}`, so
    /// the key is `{name: null}` rather than `{}` when `e` is missing.
    pub(crate) id_field: Option<String>,
    pub(crate) accumulators: Vec<Accumulator>,
}

impl Group {
    /// Parses a `$group` specification.
    pub fn parse(spec: &Document, scope: &ParseScope) -> Result<Group> {
        let (id, id_field) = match spec.get("_id") {
            Some(Bson::Document(object))
                if object.len() == 1 && !object.keys().any(|k| k.starts_with('$')) =>
            {
                // Validated as a whole first (field names …).
                Expression::parse_in(&Bson::Document(object.clone()), scope)?;
                let (name, value) = object.iter().next().expect("one field");
                (Expression::parse_in(value, scope)?, Some(name.clone()))
            }
            Some(id) => (Expression::parse_in(id, scope)?, None),
            None => {
                return Err(Error::FailedToParse(
                    "a group specification must include an _id".into(),
                ));
            }
        };
        let accumulators = spec
            .iter()
            .filter(|(k, _)| *k != "_id")
            .map(|(k, v)| Accumulator::parse(k, v, scope))
            .collect::<Result<Vec<_>>>()?;
        Ok(Group {
            id,
            id_field,
            accumulators,
        })
    }

    /// The group key of a document (a missing key is null).
    pub(crate) fn key(&self, doc: &Document, env: &Env) -> Result<Bson> {
        let value = self.id.evaluate(doc, env)?.unwrap_or(Bson::Null);
        Ok(match &self.id_field {
            Some(name) => Bson::Document(doc! { name.clone(): value }),
            None => value,
        })
    }

    /// Whether every accumulator can be computed per shard and merged.
    pub fn mergeable(&self) -> bool {
        self.accumulators.iter().all(|a| a.kind.mergeable())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    pub from: String,
    /// `localField` and `foreignField`, when given.
    pub equality: Option<(String, String)>,
    pub let_vars: Vec<(String, Expression)>,
    pub pipeline: Option<Pipeline>,
    pub as_path: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub group_by: Expression,
    pub boundaries: Vec<Bson>,
    pub default: Option<Bson>,
    pub output: Vec<Accumulator>,
}

/// Stages this engine knows but does not run, with the reason.
const NOT_SUPPORTED: &[(&str, &str)] = &[
    (
        "$out",
        "writing the results of a pipeline ($out) is not supported",
    ),
    (
        "$merge",
        "writing the results of a pipeline ($merge) is not supported",
    ),
    ("$sample", "$sample is not supported"),
    ("$redact", "$redact is not supported"),
    ("$bucketAuto", "$bucketAuto is not supported"),
    ("$graphLookup", "$graphLookup is not supported"),
    (
        "$geoNear",
        "$geoNear needs geospatial indexes, which this engine does not have",
    ),
    ("$setWindowFields", "$setWindowFields is not supported"),
    ("$densify", "$densify is not supported"),
    ("$fill", "$fill is not supported"),
    ("$documents", "$documents is not supported"),
    (
        "$collStats",
        "$collStats is not supported; use the collection statistics route",
    ),
    ("$indexStats", "$indexStats is not supported"),
    ("$changeStream", "change streams are not supported"),
    ("$currentOp", "$currentOp is not supported"),
    ("$listSessions", "$listSessions is not supported"),
    ("$planCacheStats", "$planCacheStats is not supported"),
    (
        "$search",
        "$search needs a search index, which this engine does not have",
    ),
    (
        "$searchMeta",
        "$searchMeta needs a search index, which this engine does not have",
    ),
    ("$vectorSearch", "$vectorSearch is not supported"),
];

/// The name and body of a stage document, checking its shape.
pub(crate) fn stage_parts(stage: &Document) -> Result<(&str, &Bson)> {
    let mut entries = stage.iter();
    match (entries.next(), entries.next()) {
        (Some((name, body)), None) => Ok((name.as_str(), body)),
        _ => Err(Error::FailedToParse(format!(
            "A pipeline stage specification object must contain exactly one field, found {stage}"
        ))),
    }
}

/// Rewrites the shorthand stages into basic ones (see the module docs).
pub(crate) fn expand(stages: &[Document]) -> Result<Vec<Document>> {
    let mut out = Vec::with_capacity(stages.len());
    for stage in stages {
        let (name, body) = stage_parts(stage)?;
        match name {
            "$count" => {
                let Bson::String(field) = body else {
                    return Err(Error::FailedToParse(
                        "the count field must be a non-empty string".into(),
                    ));
                };
                if field.is_empty() || field.starts_with('$') || field.contains('.') {
                    return Err(Error::FailedToParse(format!(
                        "the count field '{field}' must be a non-empty string that does not \
                         start with '$' or contain '.'"
                    )));
                }
                out.push(doc! { "$group": { "_id": Bson::Null, field: { "$sum": 1 } } });
                out.push(doc! { "$project": { "_id": 0 } });
            }
            "$sortByCount" => {
                let is_expression = match body {
                    Bson::String(s) => s.starts_with('$'),
                    Bson::Document(d) => d.keys().next().is_some_and(|k| k.starts_with('$')),
                    _ => false,
                };
                if !is_expression {
                    return Err(Error::FailedToParse(
                        "the argument to $sortByCount must be a field path or an operator \
                         expression"
                            .into(),
                    ));
                }
                out.push(doc! { "$group": { "_id": body.clone(), "count": { "$sum": 1 } } });
                out.push(doc! { "$sort": { "count": -1 } });
            }
            "$set" => out.push(doc! { "$addFields": body.clone() }),
            "$replaceWith" => out.push(doc! { "$replaceRoot": { "newRoot": body.clone() } }),
            _ => out.push(stage.clone()),
        }
    }
    Ok(out)
}

fn object<'b>(name: &str, body: &'b Bson) -> Result<&'b Document> {
    match body {
        Bson::Document(d) => Ok(d),
        other => Err(Error::FailedToParse(format!(
            "the {name} stage takes an object, not {}",
            crate::value::type_name(other)
        ))),
    }
}

fn count(name: &str, body: &Bson, positive: bool) -> Result<u64> {
    let n = crate::value::Number::from_bson(body).map(|n| n.as_f64());
    match n {
        Some(n) if n.fract() == 0.0 && n >= if positive { 1.0 } else { 0.0 } && n < 9.0e18 => {
            Ok(n as u64)
        }
        _ => Err(Error::BadValue(format!(
            "{name} must be a {} integer, not {body}",
            if positive { "positive" } else { "non-negative" }
        ))),
    }
}

/// Parses one basic stage (after [`expand`]).
pub(crate) fn parse_stage(stage: &Document, scope: &ParseScope, nested: bool) -> Result<Stage> {
    let (name, body) = stage_parts(stage)?;
    Ok(match name {
        "$match" => {
            let filter = object(name, body)?.clone();
            // Validate now, with every variable of the scope bound.
            let env = Env {
                now_millis: scope.has_now.then_some(0),
                vars: scope
                    .vars
                    .iter()
                    .map(|v| (v.clone(), Some(Bson::Null)))
                    .collect(),
            };
            Filter::parse_with(&filter, &env)?;
            Stage::Match(filter)
        }
        "$project" => Stage::Project(Projection::parse(object(name, body)?, scope)?),
        "$unset" => {
            let paths: Vec<String> = match body {
                Bson::String(s) => vec![s.clone()],
                Bson::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        Bson::String(s) => Ok(s.clone()),
                        _ => Err(Error::FailedToParse(
                            "$unset specification must be a string or an array of strings".into(),
                        )),
                    })
                    .collect::<Result<_>>()?,
                _ => {
                    return Err(Error::FailedToParse(
                        "$unset specification must be a string or an array of strings".into(),
                    ));
                }
            };
            Stage::Project(Projection::unset(&paths)?)
        }
        "$addFields" => {
            let spec = object(name, body)?;
            let mut fields = Vec::new();
            flatten_add_fields(spec, &[], scope, &mut fields)?;
            if fields.is_empty() {
                return Err(Error::BadValue(
                    "$addFields requires at least one field to set".into(),
                ));
            }
            Stage::AddFields(fields)
        }
        "$sort" => {
            let spec = object(name, body)?;
            if spec.is_empty() {
                return Err(Error::BadValue(
                    "$sort stage must have at least one sort key".into(),
                ));
            }
            Stage::Sort(SortSpec::parse(spec)?)
        }
        "$skip" => Stage::Skip(count(name, body, false)?),
        "$limit" => Stage::Limit(count(name, body, true)?),
        "$unwind" => Stage::Unwind(parse_unwind(body)?),
        "$group" => Stage::Group(Group::parse(object(name, body)?, scope)?),
        "$replaceRoot" => {
            let spec = object(name, body)?;
            if let Some(k) = spec.keys().find(|k| *k != "newRoot") {
                return Err(Error::FailedToParse(format!(
                    "unrecognized option to $replaceRoot: {k}"
                )));
            }
            let root = spec.get("newRoot").ok_or_else(|| {
                Error::FailedToParse("no newRoot specified for the $replaceRoot stage".into())
            })?;
            Stage::ReplaceRoot(Expression::parse_in(root, scope)?)
        }
        "$lookup" => Stage::Lookup(Box::new(parse_lookup(object(name, body)?, scope)?)),
        "$facet" => {
            if nested {
                return Err(Error::BadValue(
                    "$facet is not allowed inside a sub-pipeline ($facet, $lookup or $unionWith)"
                        .into(),
                ));
            }
            let spec = object(name, body)?;
            if spec.is_empty() {
                return Err(Error::BadValue(
                    "the $facet specification must be a non-empty object".into(),
                ));
            }
            let mut facets = Vec::with_capacity(spec.len());
            for (facet, stages) in spec {
                facets.push((facet.clone(), sub_pipeline(name, stages, scope)?));
            }
            Stage::Facet(facets)
        }
        "$unionWith" => {
            let (collection, pipeline) = match body {
                Bson::String(c) => (c.clone(), Pipeline::default()),
                Bson::Document(d) => {
                    if let Some(k) = d.keys().find(|k| *k != "coll" && *k != "pipeline") {
                        return Err(Error::FailedToParse(format!(
                            "unrecognized option to $unionWith: {k}"
                        )));
                    }
                    let Some(Bson::String(c)) = d.get("coll") else {
                        return Err(Error::FailedToParse(
                            "$unionWith needs 'coll', the name of a collection".into(),
                        ));
                    };
                    let pipeline = match d.get("pipeline") {
                        Some(stages) => sub_pipeline(name, stages, scope)?,
                        None => Pipeline::default(),
                    };
                    (c.clone(), pipeline)
                }
                _ => {
                    return Err(Error::FailedToParse(
                        "the $unionWith stage takes a collection name or {coll, pipeline}".into(),
                    ));
                }
            };
            Stage::UnionWith {
                collection,
                pipeline,
            }
        }
        "$bucket" => Stage::Bucket(Box::new(parse_bucket(object(name, body)?, scope)?)),
        other => {
            if let Some((_, why)) = NOT_SUPPORTED.iter().find(|(n, _)| *n == other) {
                return Err(Error::NotSupported((*why).to_string()));
            }
            return Err(Error::FailedToParse(format!(
                "Unrecognized pipeline stage name: '{other}'"
            )));
        }
    })
}

fn sub_pipeline(stage: &str, stages: &Bson, scope: &ParseScope) -> Result<Pipeline> {
    let Bson::Array(items) = stages else {
        return Err(Error::FailedToParse(format!(
            "the pipelines of {stage} must be arrays of stages"
        )));
    };
    let docs = items
        .iter()
        .map(|s| match s {
            Bson::Document(d) => Ok(d.clone()),
            _ => Err(Error::FailedToParse(format!(
                "each stage of a {stage} pipeline must be an object"
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    Pipeline::parse_nested(&docs, scope)
}

/// `$addFields: {a: {b: 1}}` sets `a.b` (nested objects are paths, not
/// literals, unless they are operator expressions).
fn flatten_add_fields(
    spec: &Document,
    prefix: &[String],
    scope: &ParseScope,
    out: &mut Vec<(Vec<String>, Expression)>,
) -> Result<()> {
    for (key, value) in spec {
        if key.is_empty() || key.starts_with('$') || key.split('.').any(str::is_empty) {
            return Err(Error::BadValue(format!(
                "invalid field name '{key}' in $addFields: it must be non-empty, not start with \
                 '$' and have no empty components"
            )));
        }
        let mut path = prefix.to_vec();
        path.extend(split(key));
        match value {
            Bson::Document(d)
                if !d.is_empty() && !d.keys().next().is_some_and(|k| k.starts_with('$')) =>
            {
                flatten_add_fields(d, &path, scope, out)?;
            }
            other => out.push((path, Expression::parse_in(other, scope)?)),
        }
    }
    Ok(())
}

fn unwind_path(path: &str) -> Result<Vec<String>> {
    match path.strip_prefix('$') {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('$')
                && !rest.split('.').any(str::is_empty) =>
        {
            Ok(split(rest))
        }
        _ => Err(Error::FailedToParse(format!(
            "$unwind path '{path}' must be a field path prefixed with '$'"
        ))),
    }
}

fn parse_unwind(body: &Bson) -> Result<Unwind> {
    match body {
        Bson::String(path) => Ok(Unwind {
            path: unwind_path(path)?,
            include_array_index: None,
            preserve_null_and_empty: false,
        }),
        Bson::Document(spec) => {
            let mut unwind = Unwind {
                path: Vec::new(),
                include_array_index: None,
                preserve_null_and_empty: false,
            };
            for (key, value) in spec {
                match (key.as_str(), value) {
                    ("path", Bson::String(p)) => unwind.path = unwind_path(p)?,
                    ("includeArrayIndex", Bson::String(f)) => {
                        if f.is_empty() || f.starts_with('$') {
                            return Err(Error::FailedToParse(
                                "includeArrayIndex must be a field name that does not start \
                                 with '$'"
                                    .into(),
                            ));
                        }
                        unwind.include_array_index = Some(split(f));
                    }
                    ("preserveNullAndEmptyArrays", Bson::Boolean(b)) => {
                        unwind.preserve_null_and_empty = *b;
                    }
                    (other, v) => {
                        return Err(Error::FailedToParse(format!(
                            "unrecognized option or wrong type to $unwind: {other}: {v}"
                        )));
                    }
                }
            }
            if unwind.path.is_empty() {
                return Err(Error::FailedToParse(
                    "no path specified to $unwind stage".into(),
                ));
            }
            Ok(unwind)
        }
        other => Err(Error::FailedToParse(format!(
            "expected either a string or an object as the specification for the $unwind stage, \
             got {}",
            crate::value::type_name(other)
        ))),
    }
}

fn parse_lookup(spec: &Document, scope: &ParseScope) -> Result<Lookup> {
    for key in spec.keys() {
        if ![
            "from",
            "localField",
            "foreignField",
            "as",
            "let",
            "pipeline",
        ]
        .contains(&key.as_str())
        {
            return Err(Error::FailedToParse(format!(
                "unknown argument to $lookup: {key}"
            )));
        }
    }
    let text = |key: &str| -> Result<Option<String>> {
        match spec.get(key) {
            None => Ok(None),
            Some(Bson::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(other) => Err(Error::FailedToParse(format!(
                "$lookup argument '{key}' must be a non-empty string, found {other}"
            ))),
        }
    };
    let from = match spec.get("from") {
        Some(Bson::Document(d)) => {
            return Err(Error::NotSupported(format!(
                "$lookup from another database ({d}); 'from' must name a collection of this \
                 database"
            )));
        }
        _ => text("from")?.ok_or_else(|| {
            Error::FailedToParse("$lookup requires 'from', a collection name".into())
        })?,
    };
    let as_field = text("as")?.ok_or_else(|| {
        Error::FailedToParse("$lookup requires 'as', the field to write matches to".into())
    })?;
    if as_field.starts_with('$') {
        return Err(Error::FailedToParse(format!(
            "$lookup 'as' field '{as_field}' must not start with '$'"
        )));
    }
    let equality = match (text("localField")?, text("foreignField")?) {
        (Some(local), Some(foreign)) => Some((local, foreign)),
        (None, None) => None,
        _ => {
            return Err(Error::FailedToParse(
                "$lookup requires both or neither of 'localField' and 'foreignField'".into(),
            ));
        }
    };
    let mut let_vars = Vec::new();
    match spec.get("let") {
        None => {}
        Some(Bson::Document(vars)) => {
            for (name, value) in vars {
                super::expr::check_user_variable_name(name)?;
                let_vars.push((name.clone(), Expression::parse_in(value, scope)?));
            }
        }
        Some(_) => {
            return Err(Error::FailedToParse(
                "$lookup 'let' must be an object".into(),
            ));
        }
    }
    let pipeline = match spec.get("pipeline") {
        None => {
            if equality.is_none() {
                return Err(Error::FailedToParse(
                    "$lookup requires either 'localField' and 'foreignField', or 'pipeline'".into(),
                ));
            }
            if !let_vars.is_empty() {
                return Err(Error::FailedToParse(
                    "$lookup 'let' requires a 'pipeline'".into(),
                ));
            }
            None
        }
        Some(stages) => {
            let mut inner = scope.clone();
            inner.vars.extend(let_vars.iter().map(|(n, _)| n.clone()));
            Some(sub_pipeline("$lookup", stages, &inner)?)
        }
    };
    Ok(Lookup {
        from,
        equality,
        let_vars,
        pipeline,
        as_path: split(&as_field),
    })
}

fn parse_bucket(spec: &Document, scope: &ParseScope) -> Result<Bucket> {
    for key in spec.keys() {
        if !["groupBy", "boundaries", "default", "output"].contains(&key.as_str()) {
            return Err(Error::FailedToParse(format!(
                "unrecognized option to $bucket: {key}"
            )));
        }
    }
    let group_by = match spec.get("groupBy") {
        Some(g @ Bson::String(s)) if s.starts_with('$') => Expression::parse_in(g, scope)?,
        Some(g @ Bson::Document(d)) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            Expression::parse_in(g, scope)?
        }
        _ => {
            return Err(Error::FailedToParse(
                "$bucket 'groupBy' must be a field path or an operator expression".into(),
            ));
        }
    };
    let boundaries = match spec.get("boundaries") {
        Some(Bson::Array(b)) if b.len() >= 2 => b.clone(),
        _ => {
            return Err(Error::FailedToParse(
                "$bucket 'boundaries' must be an array of at least two values".into(),
            ));
        }
    };
    let bracket = crate::value::canonical_type(&boundaries[0]);
    for pair in boundaries.windows(2) {
        if crate::value::canonical_type(&pair[1]) != bracket {
            return Err(Error::BadValue(
                "all values in $bucket 'boundaries' must have the same type".into(),
            ));
        }
        if !crate::value::compare(&pair[0], &pair[1]).is_lt() {
            return Err(Error::BadValue(
                "$bucket 'boundaries' must be sorted in ascending order without duplicates".into(),
            ));
        }
    }
    let default = spec.get("default").cloned();
    if let Some(d) = &default {
        let (lo, hi) = (&boundaries[0], &boundaries[boundaries.len() - 1]);
        if crate::value::canonical_type(d) == bracket
            && !crate::value::compare(d, lo).is_lt()
            && crate::value::compare(d, hi).is_lt()
        {
            return Err(Error::BadValue(
                "the $bucket 'default' must be less than the lowest boundary or greater than or \
                 equal to the highest boundary"
                    .into(),
            ));
        }
    }
    let output = match spec.get("output") {
        None => vec![Accumulator::parse(
            "count",
            &Bson::Document(doc! { "$sum": 1 }),
            scope,
        )?],
        Some(Bson::Document(fields)) => fields
            .iter()
            .map(|(k, v)| Accumulator::parse(k, v, scope))
            .collect::<Result<_>>()?,
        Some(_) => {
            return Err(Error::FailedToParse(
                "$bucket 'output' must be an object".into(),
            ));
        }
    };
    Ok(Bucket {
        group_by,
        boundaries,
        default,
        output,
    })
}
