//! The update tree: every operator of an update placed at its path, and the
//! walk that applies it to a document.
//!
//! Parsing inserts one [`Leaf`] per `operator: {path: operand}` entry.
//! Interior nodes are of two kinds, decided by the segment that follows:
//!
//! ```text
//!  {$set: {"a.b": 1, "c.$[].d": 2}, $inc: {"c.$[x].e": 1}}
//!
//!  Object ─ a ─ Object ─ b ─ Leaf($set 1)
//!         └ c ─ Array ─ $[]  ─ Object ─ d ─ Leaf($set 2)
//!                     └ $[x] ─ Object ─ e ─ Leaf($inc 1)
//! ```
//!
//! * An **object node** holds named children (field names or array indexes)
//!   and at most one positional `$` child.
//! * An **array node** holds a `$[]` child and `$[id]` children.
//!
//! Invariant: no path is a prefix of another. Inserting a path that ends at
//! or passes through an existing leaf, or that needs an object node where an
//! array node is (or the reverse), is a conflict:
//! "Updating the path 'a.b' would create a conflict at 'a'".
//!
//! Applying walks the document and the tree together. Children of an object
//! node apply in [`compare_field_names`] order, so new fields are appended in
//! that order whatever the order of the operators (as MongoDB does). A
//! missing field is created when the subtree creates something (intermediate
//! documents included); a path through a scalar, or a field name on an
//! array, is an error unless every operator below does nothing at all (an
//! `$unset`, a `$rename` of a missing source, `$setOnInsert` outside an
//! insert). Recursion depth is bounded by the path length
//! (≤ `MAX_PATH_SEGMENTS`).

use std::collections::BTreeMap;
use std::sync::Arc;

use bson::{Bson, Document};

use super::Env;
use super::arrays::ArrayOp;
use super::fields::{FieldOp, Outcome};
use super::path::{FieldName, Segment, Trail, array_index, compare_field_names};
use super::positional::apply_array;
use super::render;
use crate::{Error, Result};

/// Arrays are never padded by more than this many nulls (MongoDB's limit).
const MAX_PADDING: usize = 1_500_000;

/// One operator at one path.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The operator and its operand.
    pub op: Op,
    /// The path as written in the update, for messages.
    pub path: String,
}

/// A field or array operator.
#[derive(Debug, Clone)]
pub enum Op {
    /// `$set`, `$inc`, … (see `fields.rs`).
    Field(FieldOp),
    /// `$push`, `$pull`, … (see `arrays.rs`).
    Array(ArrayOp),
}

impl Leaf {
    /// True when the leaf does nothing in this application, wherever it is.
    fn is_inert(&self, env: &Env) -> bool {
        match &self.op {
            Op::Field(op) => op.is_inert(env),
            Op::Array(_) => false,
        }
    }

    /// The error for a leaf whose path runs into a scalar (or names a field
    /// of an array): `field` is the first part that cannot exist, below
    /// `holder`. Creating operators and the array removers word it
    /// differently, as MongoDB does.
    fn not_viable(&self, field: &str, holder: &Trail, holder_value: &Bson) -> Error {
        let element = render::braced(holder.name(), holder_value);
        match &self.op {
            Op::Array(op) if !op.creates() => Error::PathNotViable(format!(
                "Cannot use the part ({field}) of ({}) to traverse the element ({element})",
                self.path
            )),
            _ => Error::PathNotViable(format!(
                "Cannot create field '{field}' in element {element}"
            )),
        }
    }

    fn apply_existing(&self, value: &mut Bson, at: &Trail, env: &mut Env) -> Result<Outcome> {
        match &self.op {
            Op::Field(op) => op.apply_existing(value, at, env),
            Op::Array(op) => op.apply_existing(value, at, env),
        }
    }

    fn create(&self, env: &mut Env) -> Result<Option<Bson>> {
        match &self.op {
            Op::Field(op) => op.create(env),
            Op::Array(op) => Ok(op.create()),
        }
    }
}

/// A node of the update tree.
#[derive(Debug, Clone)]
pub enum Node {
    /// An operator.
    Leaf(Arc<Leaf>),
    /// Named and `$` children.
    Object(ObjectNode),
    /// `$[]` and `$[id]` children.
    Array(ArrayNode),
}

/// An interior node whose children are field names, indexes and `$`.
#[derive(Debug, Clone, Default)]
pub struct ObjectNode {
    /// Children by name, in application order.
    pub children: BTreeMap<FieldName, Node>,
    /// The `$` child.
    pub positional: Option<Box<Node>>,
}

/// An interior node whose children are `$[]` and `$[id]`.
#[derive(Debug, Clone, Default)]
pub struct ArrayNode {
    /// The `$[]` child.
    pub all: Option<Box<Node>>,
    /// The `$[id]` children, by identifier.
    pub filtered: BTreeMap<String, Node>,
}

// ---------------------------------------------------------------- building

impl ObjectNode {
    /// Inserts `leaf` at `segments` (a parsed, non-empty path whose first
    /// segment is a field name), rejecting conflicts with earlier paths.
    pub fn insert(&mut self, segments: &[Segment], leaf: Leaf) -> Result<()> {
        let full = leaf.path.clone();
        let mut root = Node::Object(std::mem::take(self));
        let result = insert_below(&mut root, segments, 0, Arc::new(leaf), &full);
        if let Node::Object(o) = root {
            *self = o;
        }
        result
    }
}

/// Inserts below `parent`, which is the node for `segments[..i]` and of the
/// kind `segments[i]` needs.
fn insert_below(
    parent: &mut Node,
    segments: &[Segment],
    i: usize,
    leaf: Arc<Leaf>,
    full: &str,
) -> Result<()> {
    let conflict_at = || {
        let prefix: Vec<String> = segments[..=i].iter().map(ToString::to_string).collect();
        Error::ConflictingUpdateOperators(format!(
            "Updating the path '{full}' would create a conflict at '{}'",
            prefix.join(".")
        ))
    };
    let last = i + 1 == segments.len();
    let wants_array = !last && segments[i + 1].is_array_segment();
    let fresh = || {
        if last {
            Node::Leaf(leaf.clone())
        } else if wants_array {
            Node::Array(ArrayNode::default())
        } else {
            Node::Object(ObjectNode::default())
        }
    };
    let (child, existed) = match (parent, &segments[i]) {
        (Node::Object(o), Segment::Field(name)) => {
            map_entry(&mut o.children, FieldName(name.clone()), fresh)
        }
        (Node::Object(o), Segment::Positional) => boxed_entry(&mut o.positional, fresh),
        (Node::Array(a), Segment::AllPositional) => boxed_entry(&mut a.all, fresh),
        (Node::Array(a), Segment::Filtered(id)) => map_entry(&mut a.filtered, id.clone(), fresh),
        // The parent was created (or checked) for this kind of segment.
        _ => return Err(conflict_at()),
    };
    if last {
        return if existed { Err(conflict_at()) } else { Ok(()) };
    }
    match (child, wants_array) {
        (child @ Node::Object(_), false) | (child @ Node::Array(_), true) => {
            insert_below(child, segments, i + 1, leaf, full)
        }
        _ => Err(conflict_at()),
    }
}

/// The child under `key`, created by `fresh` if absent; and whether it existed.
fn map_entry<K: Ord>(
    map: &mut BTreeMap<K, Node>,
    key: K,
    fresh: impl FnOnce() -> Node,
) -> (&mut Node, bool) {
    match map.entry(key) {
        std::collections::btree_map::Entry::Occupied(e) => (e.into_mut(), true),
        std::collections::btree_map::Entry::Vacant(e) => (e.insert(fresh()), false),
    }
}

/// The boxed child, created by `fresh` if absent; and whether it existed.
fn boxed_entry(slot: &mut Option<Box<Node>>, fresh: impl FnOnce() -> Node) -> (&mut Node, bool) {
    let existed = slot.is_some();
    (slot.get_or_insert_with(|| Box::new(fresh())), existed)
}

// ---------------------------------------------------------------- merging

/// Merges two subtrees that landed on the same element (`$` with an explicit
/// index, `$[]` with `$[id]`). Two leaves, or a leaf and a subtree, conflict.
pub fn merge(a: &Node, b: &Node, at: &Trail) -> Result<Node> {
    let conflict = || {
        Error::ConflictingUpdateOperators(format!("Update created a conflict at '{}'", at.dotted()))
    };
    match (a, b) {
        (Node::Object(x), Node::Object(y)) => {
            let mut out = x.clone();
            for (name, child) in &y.children {
                let merged = match out.children.get(name) {
                    Some(existing) => merge(existing, child, &at.child(&name.0))?,
                    None => child.clone(),
                };
                out.children.insert(name.clone(), merged);
            }
            out.positional = merge_boxed(&x.positional, &y.positional, &at.child("$"))?;
            Ok(Node::Object(out))
        }
        (Node::Array(x), Node::Array(y)) => {
            let mut out = x.clone();
            for (id, child) in &y.filtered {
                let merged = match out.filtered.get(id) {
                    Some(existing) => merge(existing, child, at)?,
                    None => child.clone(),
                };
                out.filtered.insert(id.clone(), merged);
            }
            out.all = merge_boxed(&x.all, &y.all, at)?;
            Ok(Node::Array(out))
        }
        _ => Err(conflict()),
    }
}

fn merge_boxed(
    a: &Option<Box<Node>>,
    b: &Option<Box<Node>>,
    at: &Trail,
) -> Result<Option<Box<Node>>> {
    Ok(match (a, b) {
        (Some(x), Some(y)) => Some(Box::new(merge(x, y, at)?)),
        (Some(x), None) | (None, Some(x)) => Some(x.clone()),
        (None, None) => None,
    })
}

// ---------------------------------------------------------------- applying

/// Applies an object node's children to `container` (a document or an
/// array); returns whether anything changed.
pub fn apply_object(
    node: &ObjectNode,
    container: &mut Bson,
    at: &Trail,
    env: &mut Env,
) -> Result<bool> {
    let mut changed = false;
    let position = env.position;
    for_each_child(node, position, at, &mut |name, child| {
        changed |= apply_child(name, child, container, at, env)?;
        Ok(())
    })?;
    Ok(changed)
}

/// Visits an object node's children in application order, with `$`
/// resolved to the matched position and merged with an explicit child of
/// that index.
fn for_each_child(
    node: &ObjectNode,
    position: Option<usize>,
    at: &Trail,
    f: &mut dyn FnMut(&str, &Node) -> Result<()>,
) -> Result<()> {
    let Some(positional) = node.positional.as_deref() else {
        for (name, child) in &node.children {
            f(&name.0, child)?;
        }
        return Ok(());
    };
    let index = position
        .ok_or_else(|| {
            Error::bad_value(
                "The positional operator did not find the match needed from the query.",
            )
        })?
        .to_string();
    let mut pending = Some(positional);
    for (name, child) in &node.children {
        match compare_field_names(&name.0, &index) {
            std::cmp::Ordering::Less => f(&name.0, child)?,
            std::cmp::Ordering::Equal => {
                pending = None;
                let merged = merge(child, positional, &at.child(&index))?;
                f(&name.0, &merged)?;
            }
            std::cmp::Ordering::Greater => {
                if let Some(p) = pending.take() {
                    f(&index, p)?;
                }
                f(&name.0, child)?;
            }
        }
    }
    if let Some(p) = pending {
        f(&index, p)?;
    }
    Ok(())
}

/// Applies `child` to field `name` of `container`.
fn apply_child(
    name: &str,
    child: &Node,
    container: &mut Bson,
    at: &Trail,
    env: &mut Env,
) -> Result<bool> {
    let here = at.child(name);
    match container {
        Bson::Document(doc) => {
            if let Some(value) = doc.get_mut(name) {
                let outcome = apply_node(child, value, &here, env)?;
                if outcome == Outcome::Remove {
                    doc.remove(name);
                }
                Ok(outcome != Outcome::Unchanged)
            } else if let Some(value) = create(child, &here, env)? {
                doc.insert(name, value);
                Ok(true)
            } else {
                Ok(false)
            }
        }
        Bson::Array(array) => match array_index(name) {
            Some(i) if i < array.len() => {
                let outcome = apply_node(child, &mut array[i], &here, env)?;
                if outcome == Outcome::Remove {
                    array[i] = Bson::Null;
                }
                Ok(outcome != Outcome::Unchanged)
            }
            Some(i) => match create(child, &here, env)? {
                Some(value) => {
                    if i - array.len() > MAX_PADDING {
                        return Err(Error::bad_value(format!(
                            "can't backfill array to larger than {MAX_PADDING} elements"
                        )));
                    }
                    array.resize(i, Bson::Null);
                    array.push(value);
                    Ok(true)
                }
                None => Ok(false),
            },
            None => {
                check_viable(name, child, at, container, env)?;
                Ok(false)
            }
        },
        // Callers pass documents and arrays only.
        _ => Ok(false),
    }
}

/// Applies a node to an existing value.
pub fn apply_node(node: &Node, value: &mut Bson, at: &Trail, env: &mut Env) -> Result<Outcome> {
    match node {
        Node::Leaf(leaf) => leaf.apply_existing(value, at, env),
        Node::Object(object) => {
            if matches!(value, Bson::Document(_) | Bson::Array(_)) {
                let changed = apply_object(object, value, at, env)?;
                Ok(if changed {
                    Outcome::Changed
                } else {
                    Outcome::Unchanged
                })
            } else {
                // A scalar in the middle of the path: fine only for operators
                // that would do nothing.
                for_each_child(object, env.position, at, &mut |name, child| {
                    check_viable(name, child, at, value, env)
                })?;
                Ok(Outcome::Unchanged)
            }
        }
        Node::Array(array_node) => match value {
            Bson::Array(array) => apply_array(array_node, array, at, env),
            other => Err(Error::bad_value(format!(
                "Cannot apply array updates to non-array element {}",
                render::element(at.name(), other)
            ))),
        },
    }
}

/// What a node creates where its field is missing.
fn create(node: &Node, at: &Trail, env: &mut Env) -> Result<Option<Bson>> {
    match node {
        Node::Leaf(leaf) => leaf.create(env),
        Node::Object(object) => {
            let mut fresh = Bson::Document(Document::new());
            apply_object(object, &mut fresh, at, env)?;
            Ok(match fresh {
                Bson::Document(d) if d.is_empty() => None,
                created => Some(created),
            })
        }
        Node::Array(_) => Err(Error::bad_value(format!(
            "The path '{}' must exist in the document in order to apply array updates.",
            at.dotted()
        ))),
    }
}

/// Checks a subtree whose path cannot exist: child `name` of `holder`, a
/// scalar (or an array, `name` not being an index). Fine when nothing in it
/// would act; otherwise the error of the first thing that would.
fn check_viable(
    name: &str,
    child: &Node,
    holder: &Trail,
    holder_value: &Bson,
    env: &Env,
) -> Result<()> {
    let mut below = vec![name.to_string()];
    match first_active(child, env, &mut below) {
        None => Ok(()),
        Some(Active::Leaf(leaf)) => Err(leaf.not_viable(name, holder, holder_value)),
        Some(Active::ArrayUpdate) => {
            let mut path = holder.dotted();
            for part in &below {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(part);
            }
            Err(Error::bad_value(format!(
                "The path '{path}' must exist in the document in order to apply array updates."
            )))
        }
    }
}

/// Something in a subtree that needs its path to exist.
enum Active<'n> {
    /// An operator that would act.
    Leaf(&'n Leaf),
    /// A `$[]`/`$[id]` node (its path is left in `below`).
    ArrayUpdate,
}

/// The first active thing in a subtree, in application order; `below`
/// receives the names leading to it.
fn first_active<'n>(node: &'n Node, env: &Env, below: &mut Vec<String>) -> Option<Active<'n>> {
    match node {
        Node::Leaf(leaf) => (!leaf.is_inert(env)).then_some(Active::Leaf(leaf)),
        Node::Array(_) => Some(Active::ArrayUpdate),
        Node::Object(object) => {
            let named = object
                .children
                .iter()
                .map(|(name, child)| (name.0.as_str(), child));
            let positional = object.positional.as_deref().map(|p| ("$", p));
            for (name, child) in named.chain(positional) {
                below.push(name.to_string());
                if let Some(found) = first_active(child, env, below) {
                    return Some(found);
                }
                below.pop();
            }
            None
        }
    }
}
