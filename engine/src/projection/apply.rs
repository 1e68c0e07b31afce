//! Applying a compiled projection to one document.
//!
//! Inclusion and exclusion walk the document and the projection tree
//! together, in the document's field order:
//!
//! * **inclusion** copies the fields the tree names; through an array it
//!   projects each document element, recurses into nested arrays and drops
//!   other elements (`"a.b"` over `[{b: 1, c: 2}, 7, [{b: 3}]]` gives
//!   `[{b: 1}, [{b: 3}]]`); literals are then added in specification order,
//!   creating the path where the document lacks it and replacing scalars;
//! * **exclusion** copies everything except the excluded fields, crossing
//!   arrays the same way but keeping scalars.
//!
//! A `$slice` applies to an array reached through at most one array level per
//! path component: once the walk enters an array nested directly in another
//! array, slices below are not applied (the values are kept whole), as in
//! MongoDB.
//!
//! Two steps run on the result afterwards: the positional `$` keeps, in the
//! first array along its path, only the element at the query's match position;
//! each `$elemMatch` field is replaced by its first matching element (or
//! removed), after the other fields.

use bson::{Bson, Document};

use super::tree::{Child, Node};
use super::{Kind, Projection};
use crate::{Error, Result};

/// How deeply nested arrays may be walked (stored documents nest at most 100).
const MAX_DEPTH: usize = 200;

/// Projects `doc`; `position` is the query's match position, for `$`.
pub(super) fn apply(
    proj: &Projection,
    doc: &Document,
    position: Option<usize>,
) -> Result<Document> {
    let mut out = match proj.kind {
        Kind::Inclusion => include_document(doc, &proj.root, true, 0)?,
        Kind::Exclusion => exclude_document(doc, &proj.root, true, 0)?,
    };
    if let Some(path) = &proj.positional {
        keep_matched_element(&mut out, path, position)?;
    }
    for elem_match in &proj.elem_matches {
        out.remove(elem_match.field());
        if let Some(first) = elem_match.first_match(doc) {
            out.insert(elem_match.field(), first);
        }
    }
    Ok(out)
}

fn too_deep() -> Error {
    Error::bad_value(format!(
        "projection: document nested more than {MAX_DEPTH} levels deep"
    ))
}

/// Inclusion: the fields of `doc` that `node` names, then its literals.
fn include_document(
    doc: &Document,
    node: &Node,
    sliceable: bool,
    depth: usize,
) -> Result<Document> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let mut out = Document::new();
    for (name, value) in doc {
        match node.get(name) {
            Some(Child::Include) => {
                out.insert(name, value.clone());
            }
            Some(Child::Slice(slice)) => {
                out.insert(
                    name,
                    if sliceable {
                        slice.apply(value)
                    } else {
                        value.clone()
                    },
                );
            }
            Some(Child::Inner(inner)) => match value {
                Bson::Document(d) => {
                    out.insert(name, include_document(d, inner, sliceable, depth + 1)?);
                }
                Bson::Array(items) => {
                    out.insert(name, include_array(items, inner, sliceable, depth + 1)?);
                }
                // A scalar has no sub-fields; literals below replace it.
                _ => {}
            },
            Some(Child::Exclude | Child::Literal(_) | Child::ElemMatch) | None => {}
        }
    }
    if node.has_computed {
        add_computed(&mut out, node);
    }
    Ok(out)
}

/// Inclusion through an array: project documents, recurse into arrays, drop
/// (or, under literals, replace) everything else.
fn include_array(items: &[Bson], node: &Node, sliceable: bool, depth: usize) -> Result<Bson> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Bson::Document(d) => out.push(Bson::Document(include_document(
                d,
                node,
                sliceable,
                depth + 1,
            )?)),
            Bson::Array(nested) => out.push(include_array(nested, node, false, depth + 1)?),
            _ if node.has_computed => out.push(Bson::Document(computed_only(node))),
            _ => {}
        }
    }
    Ok(Bson::Array(out))
}

/// Adds the literals of `node` to `out`, creating the sub-documents that lead
/// to literals where `out` has none.
fn add_computed(out: &mut Document, node: &Node) {
    for (name, child) in &node.children {
        match child {
            Child::Literal(value) => {
                out.insert(name, value.clone());
            }
            Child::Inner(inner) if inner.has_computed && !out.contains_key(name) => {
                out.insert(name, computed_only(inner));
            }
            _ => {}
        }
    }
}

/// A document holding only the literals below `node`.
fn computed_only(node: &Node) -> Document {
    let mut out = Document::new();
    add_computed(&mut out, node);
    out
}

/// Exclusion: every field of `doc` except those `node` excludes.
fn exclude_document(
    doc: &Document,
    node: &Node,
    sliceable: bool,
    depth: usize,
) -> Result<Document> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let mut out = Document::new();
    for (name, value) in doc {
        let kept = match node.get(name) {
            Some(Child::Exclude) => continue,
            Some(Child::Slice(slice)) if sliceable => slice.apply(value),
            Some(Child::Inner(inner)) => match value {
                Bson::Document(d) => {
                    Bson::Document(exclude_document(d, inner, sliceable, depth + 1)?)
                }
                Bson::Array(items) => exclude_array(items, inner, sliceable, depth + 1)?,
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(name, kept);
    }
    Ok(out)
}

/// Exclusion through an array: documents and nested arrays are projected,
/// everything else is kept.
fn exclude_array(items: &[Bson], node: &Node, sliceable: bool, depth: usize) -> Result<Bson> {
    if depth > MAX_DEPTH {
        return Err(too_deep());
    }
    let out = items
        .iter()
        .map(|item| match item {
            Bson::Document(d) => Ok(Bson::Document(exclude_document(
                d,
                node,
                sliceable,
                depth + 1,
            )?)),
            Bson::Array(nested) => exclude_array(nested, node, false, depth + 1),
            other => Ok(other.clone()),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Bson::Array(out))
}

/// The positional `$`: in the first array along `path`, keep only the element
/// at `position`. A path without an array is left as projected.
fn keep_matched_element(
    out: &mut Document,
    path: &[String],
    position: Option<usize>,
) -> Result<()> {
    let mut current = out;
    for (i, part) in path.iter().enumerate() {
        let Some(value) = current.get_mut(part) else {
            return Ok(());
        };
        match value {
            Bson::Array(items) => {
                let position = position.ok_or_else(|| {
                    Error::bad_value(
                        "positional operator '.$' couldn't find a matching element in the array",
                    )
                })?;
                if position >= items.len() {
                    return Err(Error::bad_value(
                        "positional operator '.$' element mismatch",
                    ));
                }
                let element = items.swap_remove(position);
                *value = Bson::Array(vec![element]);
                return Ok(());
            }
            Bson::Document(d) if i + 1 < path.len() => current = d,
            _ => return Ok(()),
        }
    }
    Ok(())
}
