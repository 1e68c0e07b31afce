//! The `$project` and `$unset` stages.
//!
//! An aggregation projection is either an **inclusion** (`{a: 1, "b.c":
//! true, total: {$add: …}, label: "$name"}`: keep these fields, compute
//! those) or an **exclusion** (`{secret: 0, "b.d": false}`: drop these).
//! Mixing the two is an error, except for `_id`, which inclusions keep
//! unless told `_id: 0`. Unlike a `find` projection, any value that is not a
//! number or boolean is an expression: strings starting with `$` are field
//! paths, other literals are constants, `{$op: …}` are operator calls.
//!
//! Inclusion output order: the included fields in the document's own order,
//! then the computed fields in the order of the specification. Dotted and
//! nested specifications reach into embedded documents and into each
//! document of an array.

use bson::{Bson, Document};

use super::expr::{Env, Expression, ParseScope};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Include,
    Exclude,
    Computed(Expression),
    Nested(Vec<(String, Node)>),
}

/// A parsed `$project` (or `$unset`).
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    inclusion: bool,
    fields: Vec<(String, Node)>,
}

impl Projection {
    /// Parses a `$project` specification.
    pub fn parse(spec: &Document, scope: &ParseScope) -> Result<Projection> {
        if spec.is_empty() {
            return Err(Error::BadValue(
                "$project requires at least one output field".into(),
            ));
        }
        let mut fields: Vec<(String, Node)> = Vec::new();
        for (key, value) in spec {
            let node = parse_value(key, value, scope, 0)?;
            insert(&mut fields, &split_key(key)?, node, key)?;
        }
        let mut mode = None;
        check_mode(&fields, true, &mut mode)?;
        // Only `_id` given: `{_id: 1}` keeps just `_id`, `{_id: 0}` drops it.
        let inclusion = mode.unwrap_or_else(|| {
            position(&fields, "_id").is_some_and(|i| fields[i].1 != Node::Exclude)
        });
        let mut projection = Projection { inclusion, fields };
        if inclusion {
            match position(&projection.fields, "_id") {
                Some(i) if projection.fields[i].1 == Node::Exclude => {
                    projection.fields.remove(i);
                }
                Some(_) => {}
                None => projection.fields.insert(0, ("_id".into(), Node::Include)),
            }
        }
        Ok(projection)
    }

    /// The exclusion projection `$unset` means.
    pub fn unset(paths: &[String]) -> Result<Projection> {
        if paths.is_empty() {
            return Err(Error::BadValue(
                "$unset specification must be a string or a non-empty array of strings".into(),
            ));
        }
        let mut fields = Vec::new();
        for path in paths {
            insert(&mut fields, &split_key(path)?, Node::Exclude, path)?;
        }
        Ok(Projection {
            inclusion: false,
            fields,
        })
    }

    /// Applies the projection to one document.
    pub fn apply(&self, doc: &Document, env: &Env) -> Result<Document> {
        if self.inclusion {
            include(&self.fields, doc, doc, env)
        } else {
            Ok(exclude(&self.fields, doc))
        }
    }
}

fn split_key(key: &str) -> Result<Vec<String>> {
    if key.is_empty() || key.starts_with('$') || key.split('.').any(str::is_empty) {
        return Err(Error::BadValue(format!(
            "invalid $project field name '{key}': a field path must be non-empty, may not start \
             with '$' and may not contain empty components"
        )));
    }
    Ok(key.split('.').map(str::to_string).collect())
}

fn parse_value(key: &str, value: &Bson, scope: &ParseScope, depth: usize) -> Result<Node> {
    if depth > 100 {
        return Err(Error::BadValue(
            "$project specification nested too deeply".into(),
        ));
    }
    Ok(match value {
        Bson::Boolean(true) => Node::Include,
        Bson::Boolean(false) => Node::Exclude,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
            let n = crate::value::Number::from_bson(value).map(|n| n.as_f64());
            if n == Some(0.0) {
                Node::Exclude
            } else {
                Node::Include
            }
        }
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            Node::Computed(Expression::parse_in(value, scope)?)
        }
        Bson::Document(d) => {
            if d.is_empty() {
                return Err(Error::BadValue(format!(
                    "an empty object is not a valid value in $project (field '{key}')"
                )));
            }
            let mut children = Vec::new();
            for (k, v) in d {
                let node = parse_value(k, v, scope, depth + 1)?;
                insert(&mut children, &split_key(k)?, node, k)?;
            }
            Node::Nested(children)
        }
        other => Node::Computed(Expression::parse_in(other, scope)?),
    })
}

fn position(fields: &[(String, Node)], name: &str) -> Option<usize> {
    fields.iter().position(|(n, _)| n == name)
}

/// Adds `node` at `path` in the tree; two specifications of one path (or of
/// a path and its prefix) are an error, as in MongoDB.
fn insert(fields: &mut Vec<(String, Node)>, path: &[String], node: Node, key: &str) -> Result<()> {
    let collision = || {
        Error::BadValue(format!(
            "Invalid $project :: caused by :: Path collision at {key}"
        ))
    };
    let (head, rest) = path.split_first().expect("non-empty path");
    match (position(fields, head), rest.is_empty()) {
        (None, true) => fields.push((head.clone(), node)),
        (None, false) => {
            let mut children = Vec::new();
            insert(&mut children, rest, node, key)?;
            fields.push((head.clone(), Node::Nested(children)));
        }
        (Some(i), false) => match &mut fields[i].1 {
            Node::Nested(children) => insert(children, rest, node, key)?,
            _ => return Err(collision()),
        },
        (Some(i), true) => match (&mut fields[i].1, node) {
            (Node::Nested(existing), Node::Nested(more)) => {
                for (k, n) in more {
                    insert(existing, std::slice::from_ref(&k), n, key)?;
                }
            }
            _ => return Err(collision()),
        },
    }
    Ok(())
}

/// Checks that the projection is all inclusion or all exclusion (`_id` at
/// the top level may go either way); `mode` becomes `Some(true)` for
/// inclusion.
fn check_mode(fields: &[(String, Node)], top: bool, mode: &mut Option<bool>) -> Result<()> {
    for (name, node) in fields {
        let this = match node {
            Node::Nested(children) => {
                check_mode(children, false, mode)?;
                continue;
            }
            Node::Include | Node::Computed(_) => true,
            Node::Exclude => false,
        };
        if top && name == "_id" {
            continue;
        }
        match *mode {
            None => *mode = Some(this),
            Some(m) if m != this => {
                return Err(Error::BadValue(format!(
                    "Invalid $project :: caused by :: Cannot do {} on field {name} in {} \
                     projection",
                    if this { "inclusion" } else { "exclusion" },
                    if m { "inclusion" } else { "exclusion" }
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn has_computed(fields: &[(String, Node)]) -> bool {
    fields.iter().any(|(_, n)| match n {
        Node::Computed(_) => true,
        Node::Nested(children) => has_computed(children),
        _ => false,
    })
}

fn include(
    fields: &[(String, Node)],
    doc: &Document,
    root: &Document,
    env: &Env,
) -> Result<Document> {
    let mut out = Document::new();
    for (key, value) in doc {
        match position(fields, key).map(|i| &fields[i].1) {
            Some(Node::Include) => {
                out.insert(key.clone(), value.clone());
            }
            Some(Node::Nested(children)) => {
                if let Some(v) = include_value(children, value, root, env)? {
                    out.insert(key.clone(), v);
                }
            }
            _ => {}
        }
    }
    for (key, node) in fields {
        match node {
            Node::Computed(expr) => {
                if let Some(v) = expr.evaluate(root, env)? {
                    out.insert(key.clone(), v);
                }
            }
            Node::Nested(children) if has_computed(children) && !doc.contains_key(key) => {
                let v = include(children, &Document::new(), root, env)?;
                out.insert(key.clone(), v);
            }
            _ => {}
        }
    }
    Ok(out)
}

fn include_value(
    children: &[(String, Node)],
    value: &Bson,
    root: &Document,
    env: &Env,
) -> Result<Option<Bson>> {
    Ok(match value {
        Bson::Document(d) => Some(Bson::Document(include(children, d, root, env)?)),
        Bson::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(v) = include_value(children, item, root, env)? {
                    out.push(v);
                }
            }
            Some(Bson::Array(out))
        }
        _ if has_computed(children) => Some(Bson::Document(include(
            children,
            &Document::new(),
            root,
            env,
        )?)),
        _ => None,
    })
}

fn exclude(fields: &[(String, Node)], doc: &Document) -> Document {
    let mut out = Document::new();
    for (key, value) in doc {
        match position(fields, key).map(|i| &fields[i].1) {
            Some(Node::Exclude) => {}
            Some(Node::Nested(children)) => {
                out.insert(key.clone(), exclude_value(children, value));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

fn exclude_value(children: &[(String, Node)], value: &Bson) -> Bson {
    match value {
        Bson::Document(d) => Bson::Document(exclude(children, d)),
        Bson::Array(items) => Bson::Array(
            items
                .iter()
                .map(|item| exclude_value(children, item))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn project(spec: Document, d: Document) -> Result<Document> {
        Projection::parse(&spec, &ParseScope::default())?.apply(&d, &Env::default())
    }

    #[test]
    fn inclusion_keeps_document_order_and_computes() {
        let d = doc! { "_id": 1, "b": 2, "a": 1, "c": { "x": 1, "y": 2 }, "arr": [{ "x": 1, "y": 2 }, 3] };
        assert_eq!(
            project(
                doc! { "a": 1, "b": 1, "s": { "$add": ["$a", "$b"] }, "c.y": 1, "arr.x": 1 },
                d.clone()
            )
            .unwrap(),
            doc! { "_id": 1, "b": 2, "a": 1, "c": { "y": 2 }, "arr": [{ "x": 1 }], "s": 3 }
        );
        assert_eq!(
            project(doc! { "_id": 0, "label": "$c.x", "lit": "text" }, d).unwrap(),
            doc! { "label": 1, "lit": "text" }
        );
    }

    #[test]
    fn exclusion_and_errors() {
        let d = doc! { "_id": 1, "a": 1, "b": { "c": 1, "d": 2 } };
        assert_eq!(
            project(doc! { "a": 0, "b.d": 0 }, d.clone()).unwrap(),
            doc! { "_id": 1, "b": { "c": 1 } }
        );
        assert_eq!(
            project(doc! { "_id": 0 }, d.clone()).unwrap(),
            doc! { "a": 1, "b": { "c": 1, "d": 2 } }
        );
        assert_eq!(project(doc! { "_id": 1 }, d).unwrap(), doc! { "_id": 1 });
        assert!(
            project(doc! { "a": 1, "b": 0 }, doc! {})
                .unwrap_err()
                .to_string()
                .contains("exclusion")
        );
        assert!(project(doc! {}, doc! {}).is_err());
        assert!(
            project(doc! { "a": 1, "a.b": 1 }, doc! {})
                .unwrap_err()
                .to_string()
                .contains("collision")
        );
        assert!(project(doc! { "$a": 1 }, doc! {}).is_err());
    }
}
