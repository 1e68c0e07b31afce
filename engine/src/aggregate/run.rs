//! Running stages over documents.
//!
//! Execution is batch-at-a-time: each stage takes the previous stage's
//! documents and returns its own, which keeps every stage a small pure
//! function of (documents, variables, foreign collections). Any stage that
//! would hold more than [`MAX_STAGE_DOCUMENTS`] documents stops the pipeline
//! with a clear error rather than exhausting memory.

use std::collections::BTreeMap;

use bson::{Bson, Document, doc};

use super::Foreign;
use super::accumulator::{Accumulator, State};
use super::expr::{Env, Value};
use super::fields::{get_path, set_path};
use super::stage::{Bucket, Group, Lookup, Stage, Unwind};
use crate::query::Filter;
use crate::sort::sort_documents;
use crate::value::compare;
use crate::{Error, Result, keycode};

/// The most documents one stage may produce.
pub const MAX_STAGE_DOCUMENTS: usize = 1_000_000;

/// What a running pipeline can see besides its input.
#[derive(Clone, Copy)]
pub struct RunCtx<'a> {
    pub env: &'a Env,
    pub foreign: &'a dyn Foreign,
}

fn check_size(stage: &str, docs: &[Document]) -> Result<()> {
    if docs.len() > MAX_STAGE_DOCUMENTS {
        return Err(Error::BadValue(format!(
            "{stage} produced more than {MAX_STAGE_DOCUMENTS} documents; narrow the pipeline \
             with $match or $limit first"
        )));
    }
    Ok(())
}

pub(crate) fn run_stage(
    stage: &Stage,
    docs: Vec<Document>,
    ctx: RunCtx<'_>,
) -> Result<Vec<Document>> {
    let out = match stage {
        Stage::Match(filter) => {
            let filter = Filter::parse_with(filter, ctx.env)?;
            let kept = docs.into_iter().filter(|d| filter.matches(d)).collect();
            // A `$expr` that failed to evaluate fails the pipeline.
            filter.check()?;
            kept
        }
        Stage::Project(projection) => docs
            .iter()
            .map(|d| projection.apply(d, ctx.env))
            .collect::<Result<_>>()?,
        Stage::AddFields(fields) => docs
            .into_iter()
            .map(|d| {
                // Every expression sees the input document, not the
                // fields set before it in the same stage.
                let values = fields
                    .iter()
                    .map(|(_, e)| e.evaluate(&d, ctx.env))
                    .collect::<Result<Vec<Value>>>()?;
                let mut d = d;
                for ((path, _), value) in fields.iter().zip(values) {
                    set_path(&mut d, path, value);
                }
                Ok(d)
            })
            .collect::<Result<_>>()?,
        Stage::Sort(spec) => {
            let mut docs = docs;
            sort_documents(&mut docs, spec)?;
            docs
        }
        Stage::Skip(n) => docs
            .into_iter()
            .skip(usize::try_from(*n).unwrap_or(usize::MAX))
            .collect(),
        Stage::Limit(n) => docs
            .into_iter()
            .take(usize::try_from(*n).unwrap_or(usize::MAX))
            .collect(),
        Stage::Unwind(unwind) => unwind_all(unwind, docs)?,
        Stage::Group(group) => finish_groups(group, fold_groups(group, &docs, ctx.env)?),
        Stage::ReplaceRoot(expr) => docs
            .iter()
            .map(|d| match expr.evaluate(d, ctx.env)? {
                Some(Bson::Document(root)) => Ok(root),
                other => Err(Error::BadValue(format!(
                    "'newRoot' expression must evaluate to an object, but resulting value was: \
                     {}. Type of resulting value: '{}'",
                    other
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| "MISSING".into()),
                    super::expr::type_of(&other)
                ))),
            })
            .collect::<Result<_>>()?,
        Stage::Lookup(lookup) => run_lookup(lookup, docs, ctx)?,
        Stage::Facet(facets) => {
            let mut out = Document::new();
            for (name, pipeline) in facets {
                let results = pipeline.run(docs.clone(), ctx)?;
                out.insert(
                    name.clone(),
                    Bson::Array(results.into_iter().map(Bson::Document).collect()),
                );
            }
            let bytes = approx_bytes(&Bson::Document(out.clone()));
            if bytes > MAX_OUTPUT_DOCUMENT_BYTES {
                return Err(too_large("$facet", bytes));
            }
            vec![out]
        }
        Stage::UnionWith {
            collection,
            pipeline,
        } => {
            let mut docs = docs;
            let other = ctx.foreign.find(collection, &Document::new())?;
            docs.extend(pipeline.run(other, ctx)?);
            docs
        }
        Stage::Bucket(bucket) => run_bucket(bucket, &docs, ctx.env)?,
    };
    check_size(stage_name(stage), &out)?;
    Ok(out)
}

fn stage_name(stage: &Stage) -> &'static str {
    match stage {
        Stage::Match(_) => "$match",
        Stage::Project(_) => "$project",
        Stage::AddFields(_) => "$addFields",
        Stage::Sort(_) => "$sort",
        Stage::Skip(_) => "$skip",
        Stage::Limit(_) => "$limit",
        Stage::Unwind(_) => "$unwind",
        Stage::Group(_) => "$group",
        Stage::ReplaceRoot(_) => "$replaceRoot",
        Stage::Lookup(_) => "$lookup",
        Stage::Facet(_) => "$facet",
        Stage::UnionWith { .. } => "$unionWith",
        Stage::Bucket(_) => "$bucket",
    }
}

fn unwind_all(unwind: &Unwind, docs: Vec<Document>) -> Result<Vec<Document>> {
    let mut out = Vec::with_capacity(docs.len());
    for doc in docs {
        let value = get_path(&doc, &unwind.path).cloned();
        let with_index = |mut d: Document, index: Option<usize>| {
            if let Some(field) = &unwind.include_array_index {
                let index = index.map_or(Bson::Null, |i| Bson::Int64(i as i64));
                set_path(&mut d, field, Some(index));
            }
            d
        };
        match value {
            Some(Bson::Array(items)) if !items.is_empty() => {
                // Copy the rest of the document per element, not the array.
                let mut base = doc;
                set_path(&mut base, &unwind.path, Some(Bson::Null));
                for (i, item) in items.into_iter().enumerate() {
                    let mut d = base.clone();
                    set_path(&mut d, &unwind.path, Some(item));
                    out.push(with_index(d, Some(i)));
                    check_size("$unwind", &out)?;
                }
            }
            Some(Bson::Array(_)) => {
                if unwind.preserve_null_and_empty {
                    let mut d = doc;
                    set_path(&mut d, &unwind.path, None);
                    out.push(with_index(d, None));
                }
            }
            None | Some(Bson::Null) | Some(Bson::Undefined) => {
                if unwind.preserve_null_and_empty {
                    out.push(with_index(doc, None));
                }
            }
            Some(_) => out.push(with_index(doc, None)),
        }
    }
    Ok(out)
}

/// The groups of a `$group`, in the order their keys first appeared.
pub(crate) struct Groups {
    keys: Vec<Bson>,
    states: Vec<Vec<State>>,
    index: BTreeMap<Vec<u8>, usize>,
}

impl Groups {
    fn new() -> Groups {
        Groups {
            keys: Vec::new(),
            states: Vec::new(),
            index: BTreeMap::new(),
        }
    }

    /// The states of the group with this key, created if new.
    fn entry(&mut self, key: Bson, accumulators: &[Accumulator]) -> &mut Vec<State> {
        let encoded = keycode::encode(&key);
        let slot = match self.index.get(&encoded) {
            Some(slot) => *slot,
            None => {
                let slot = self.keys.len();
                self.index.insert(encoded, slot);
                self.keys.push(key);
                self.states
                    .push(accumulators.iter().map(Accumulator::start).collect());
                slot
            }
        };
        &mut self.states[slot]
    }
}

pub(crate) fn fold_groups(group: &Group, docs: &[Document], env: &Env) -> Result<Groups> {
    let mut groups = Groups::new();
    for doc in docs {
        let key = group.key(doc, env)?;
        let states = groups.entry(key, &group.accumulators);
        for (acc, state) in group.accumulators.iter().zip(states.iter_mut()) {
            acc.add(state, doc, env)?;
        }
    }
    Ok(groups)
}

pub(crate) fn finish_groups(group: &Group, groups: Groups) -> Vec<Document> {
    emit_groups(group, groups, |state| Ok(state.finish())).unwrap_or_default()
}

/// The groups as partial states (`{_id, field: partial}`), for the router
/// to merge.
pub(crate) fn partial_groups(group: &Group, groups: Groups) -> Result<Vec<Document>> {
    emit_groups(group, groups, State::partial)
}

/// One `{_id: key, field: value}` document per group, in first-seen order.
fn emit_groups(
    group: &Group,
    groups: Groups,
    mut value: impl FnMut(State) -> Result<Bson>,
) -> Result<Vec<Document>> {
    groups
        .keys
        .into_iter()
        .zip(groups.states)
        .map(|(key, states)| {
            let mut out = doc! { "_id": key };
            for (acc, state) in group.accumulators.iter().zip(states) {
                out.insert(acc.field.clone(), value(state)?);
            }
            Ok(out)
        })
        .collect()
}

/// Merges partial groups from several shards and finishes them.
pub(crate) fn merge_partial_groups(group: &Group, partials: &[Document]) -> Result<Vec<Document>> {
    let mut groups = Groups::new();
    for partial in partials {
        let key = partial.get("_id").cloned().unwrap_or(Bson::Null);
        let states = groups.entry(key, &group.accumulators);
        for (acc, state) in group.accumulators.iter().zip(states.iter_mut()) {
            let value = partial.get(&acc.field).ok_or_else(|| {
                Error::Encoding(format!(
                    "a shard's partial group lacks the field '{}': {partial}",
                    acc.field
                ))
            })?;
            state.merge(value)?;
        }
    }
    Ok(finish_groups(group, groups))
}

fn run_bucket(bucket: &Bucket, docs: &[Document], env: &Env) -> Result<Vec<Document>> {
    let slots = bucket.boundaries.len() - 1;
    // One slot per boundary interval, and one for the default bucket.
    let mut states: Vec<Option<Vec<State>>> = vec![None; slots + 1];
    for doc in docs {
        let value = bucket.group_by.evaluate(doc, env)?.unwrap_or(Bson::Null);
        let slot = (0..slots).find(|&i| {
            crate::value::canonical_type(&value)
                == crate::value::canonical_type(&bucket.boundaries[i])
                && !compare(&value, &bucket.boundaries[i]).is_lt()
                && compare(&value, &bucket.boundaries[i + 1]).is_lt()
        });
        let slot = match (slot, &bucket.default) {
            (Some(i), _) => i,
            (None, Some(_)) => slots,
            (None, None) => {
                return Err(Error::BadValue(format!(
                    "$bucket could not find a matching branch for an input ({value}), and no \
                     default was specified"
                )));
            }
        };
        let entry = states[slot]
            .get_or_insert_with(|| bucket.output.iter().map(Accumulator::start).collect());
        for (acc, state) in bucket.output.iter().zip(entry.iter_mut()) {
            acc.add(state, doc, env)?;
        }
    }
    let mut out = Vec::new();
    for (slot, entry) in states.into_iter().enumerate() {
        let Some(entry) = entry else { continue };
        let id = if slot < slots {
            bucket.boundaries[slot].clone()
        } else {
            bucket.default.clone().unwrap_or(Bson::Null)
        };
        let mut d = doc! { "_id": id };
        for (acc, state) in bucket.output.iter().zip(entry) {
            d.insert(acc.field.clone(), state.finish());
        }
        out.push(d);
    }
    Ok(out)
}

/// The values `localField` contributes: through embedded documents and
/// arrays, a terminal array contributing its elements. A path that yields
/// no value at all — a missing field, an empty array, an array whose
/// elements lack the rest of the path — counts as null, as in MongoDB
/// (such a document matches foreign documents whose field is null or
/// missing).
fn local_values(doc: &Document, path: &str) -> Vec<Bson> {
    let mut values = Vec::new();
    let parts: Vec<&str> = path.split('.').collect();
    crate::engine::collect_path_values(&Bson::Document(doc.clone()), &parts, &mut values);
    if values.is_empty() {
        values.push(Bson::Null);
    }
    values
}

/// Whether a value means plain equality inside `$in` (regexes would match
/// as patterns, `undefined` and `$`-keyed documents are refused there).
fn plain_in_value(value: &Bson) -> bool {
    match value {
        Bson::RegularExpression(_) | Bson::Undefined => false,
        Bson::Document(d) => d
            .iter()
            .all(|(k, v)| !k.starts_with('$') && plain_in_value(v)),
        Bson::Array(items) => items.iter().all(plain_in_value),
        _ => true,
    }
}

/// The values a foreign document offers at `path` for equality, as
/// `{path: {$eq: v}}` sees them: through embedded documents and arrays, a
/// terminal array contributing its elements and itself; a missing field is
/// null.
fn foreign_candidates(doc: &Document, path: &[&str]) -> Vec<Bson> {
    fn walk(value: &Bson, path: &[&str], out: &mut Vec<Bson>) {
        let Some((head, rest)) = path.split_first() else {
            if let Bson::Array(items) = value {
                out.extend(items.iter().cloned());
            }
            out.push(value.clone());
            return;
        };
        match value {
            Bson::Document(d) => {
                if let Some(child) = d.get(*head) {
                    walk(child, rest, out);
                }
            }
            Bson::Array(items) => {
                if let Ok(index) = head.parse::<usize>()
                    && let Some(child) = items.get(index)
                {
                    walk(child, rest, out);
                }
                for item in items {
                    if let Bson::Document(_) = item {
                        walk(item, path, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let (head, rest) = path.split_first().expect("a field path has a component");
    if let Some(value) = doc.get(*head) {
        walk(value, rest, &mut out);
    }
    if out.is_empty() {
        out.push(Bson::Null);
    }
    out
}

/// The approximate size of a value in memory and in BSON, for the limits on
/// what one stage may build.
fn approx_bytes(value: &Bson) -> usize {
    match value {
        Bson::Document(d) => {
            d.iter()
                .map(|(k, v)| k.len() + 2 + approx_bytes(v))
                .sum::<usize>()
                + 5
        }
        Bson::Array(items) => items.iter().map(|v| 4 + approx_bytes(v)).sum::<usize>() + 5,
        Bson::String(s) => s.len() + 5,
        Bson::Binary(b) => b.bytes.len() + 5,
        _ => 16,
    }
}

/// The most bytes one output document may have (MongoDB's BSON limit).
const MAX_OUTPUT_DOCUMENT_BYTES: usize = crate::document::MAX_DOCUMENT_SIZE;
/// The most bytes a `$lookup` may add across its output documents.
const MAX_STAGE_BYTES: usize = 256 << 20;

fn too_large(stage: &str, bytes: usize) -> Error {
    Error::BadValue(format!(
        "{stage} produced a document of about {bytes} bytes, more than the {MAX_OUTPUT_DOCUMENT_BYTES}-byte document limit"
    ))
}

fn run_lookup(lookup: &Lookup, docs: Vec<Document>, ctx: RunCtx<'_>) -> Result<Vec<Document>> {
    let per_doc_values: Option<Vec<Vec<Bson>>> = lookup
        .equality
        .as_ref()
        .map(|(local, _)| docs.iter().map(|d| local_values(d, local)).collect());
    // One foreign read for the whole batch: every value any document needs
    // (the whole collection when some value cannot go into `$in`).
    let foreign_docs = match (&lookup.equality, &per_doc_values) {
        (Some((_, foreign_field)), Some(per_doc)) => {
            let mut all: BTreeMap<Vec<u8>, Bson> = BTreeMap::new();
            for v in per_doc.iter().flatten() {
                all.entry(keycode::encode(v)).or_insert_with(|| v.clone());
            }
            if all.is_empty() {
                Vec::new()
            } else if all.values().all(plain_in_value) {
                let values: Vec<Bson> = all.into_values().collect();
                ctx.foreign
                    .find(&lookup.from, &doc! { foreign_field: { "$in": values } })?
            } else {
                ctx.foreign.find(&lookup.from, &Document::new())?
            }
        }
        _ => ctx.foreign.find(&lookup.from, &Document::new())?,
    };
    let foreign_sizes: Vec<usize> = foreign_docs
        .iter()
        .map(|d| approx_bytes(&Bson::Document(d.clone())))
        .collect();
    // Equality join: foreign documents by the keycode of each value they
    // offer, so each local document finds its matches without a scan.
    let index: Option<BTreeMap<Vec<u8>, Vec<usize>>> = lookup.equality.as_ref().map(|(_, ff)| {
        let parts: Vec<&str> = ff.split('.').collect();
        let mut index: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
        for (i, f) in foreign_docs.iter().enumerate() {
            for candidate in foreign_candidates(f, &parts) {
                let slot = index.entry(keycode::encode(&candidate)).or_default();
                if slot.last() != Some(&i) {
                    slot.push(i);
                }
            }
        }
        index
    });
    let mut out = Vec::with_capacity(docs.len());
    let mut stage_bytes = 0_usize;
    for (i, mut doc) in docs.into_iter().enumerate() {
        let matched: Vec<usize> = match (&index, &per_doc_values) {
            (Some(index), Some(per_doc)) => {
                let mut hits: Vec<usize> = per_doc[i]
                    .iter()
                    .filter_map(|v| index.get(&keycode::encode(v)))
                    .flatten()
                    .copied()
                    .collect();
                hits.sort_unstable();
                hits.dedup();
                hits
            }
            _ => (0..foreign_docs.len()).collect(),
        };
        let bytes: usize = matched.iter().map(|&m| foreign_sizes[m]).sum();
        if bytes > MAX_OUTPUT_DOCUMENT_BYTES && lookup.pipeline.is_none() {
            return Err(too_large("$lookup", bytes));
        }
        let matched: Vec<Document> = matched.iter().map(|&m| foreign_docs[m].clone()).collect();
        let results = match &lookup.pipeline {
            Some(pipeline) => {
                let mut env = ctx.env.clone();
                for (name, expr) in &lookup.let_vars {
                    // A missing value stays missing, as in MongoDB.
                    let value = expr.evaluate(&doc, ctx.env)?;
                    env = env.with_value(name.clone(), value);
                }
                pipeline.run(
                    matched,
                    RunCtx {
                        env: &env,
                        foreign: ctx.foreign,
                    },
                )?
            }
            None => matched,
        };
        let joined = Bson::Array(results.into_iter().map(Bson::Document).collect());
        let bytes = approx_bytes(&joined);
        if bytes > MAX_OUTPUT_DOCUMENT_BYTES {
            return Err(too_large("$lookup", bytes));
        }
        stage_bytes = stage_bytes.saturating_add(bytes);
        if stage_bytes > MAX_STAGE_BYTES {
            return Err(Error::BadValue(format!(
                "$lookup built more than {MAX_STAGE_BYTES} bytes of joined documents; \
                 narrow the input with $match or the join with a sub-pipeline"
            )));
        }
        set_path(&mut doc, &lookup.as_path, Some(joined));
        out.push(doc);
    }
    Ok(out)
}
