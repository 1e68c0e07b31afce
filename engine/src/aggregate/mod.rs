//! # Aggregation pipelines
//!
//! A pipeline is a list of stages; documents flow through them in order:
//!
//! ```text
//!  collection ─▶ $match ─▶ $unwind ─▶ $group ─▶ $sort ─▶ $project ─▶ result
//! ```
//!
//! The pieces, one job per file:
//!
//! ```text
//!  expr/          aggregation expressions ($add, $cond, "$field", $$vars …)
//!  accumulator.rs $group accumulators, with partial states for sharding
//!  project.rs     $project / $unset
//!  fields.rs      writing dotted paths ($addFields, $unwind, $lookup's as)
//!  stage.rs       stage documents ──▶ Stage (and shorthand expansion)
//!  run.rs         Stage × documents ──▶ documents
//!  split.rs       one pipeline ──▶ a part every shard runs + a part the router runs
//! ```
//!
//! Supported stages: `$match $project $addFields/$set $unset $sort $skip
//! $limit $unwind $group $count $sortByCount $bucket $replaceRoot/$replaceWith
//! $lookup (equality and pipeline forms) $facet $unionWith`. Stages that
//! write (`$out`, `$merge`) or need machinery this engine lacks (`$geoNear`,
//! `$search`, …) are refused by name, never ignored.
//!
//! **Other collections.** `$lookup` and `$unionWith` read other collections
//! of the same database through the [`Foreign`] trait: the engine answers
//! from its own snapshot, the router from the cluster.
//!
//! **Determinism.** Pipelines read a snapshot and a caller-given `$$NOW`
//! ([`Env`]); groups come out in the order their keys first appear, so the
//! same input gives the same output on every replica.

mod accumulator;
pub mod expr;
mod fields;
mod project;
mod run;
pub mod split;
mod stage;

#[cfg(test)]
mod tests;

use bson::{Bson, Document};

pub use expr::{Env, Expression, ParseScope};
pub use run::{MAX_STAGE_DOCUMENTS, RunCtx};
pub use stage::Group;

use crate::{Error, Result};
use stage::Stage;

/// Reads of other collections of the pipeline's database (`$lookup`,
/// `$unionWith`).
pub trait Foreign {
    /// The documents of `collection` matching `filter`, in `_id` order.
    fn find(&self, collection: &str, filter: &Document) -> Result<Vec<Document>>;
}

/// A `Foreign` for contexts where no other collection is reachable.
pub struct NoForeign;

impl Foreign for NoForeign {
    fn find(&self, collection: &str, _filter: &Document) -> Result<Vec<Document>> {
        Err(Error::NotSupported(format!(
            "reading collection '{collection}' from inside this pipeline"
        )))
    }
}

/// A parsed pipeline.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    stages: Vec<Stage>,
}

/// Most stages in one pipeline (MongoDB's limit).
pub const MAX_STAGES: usize = 1000;

impl Pipeline {
    /// Parses a top-level pipeline. `scope` says which variables and whether
    /// `$$NOW` are available.
    pub fn parse(stages: &[Document], scope: &ParseScope) -> Result<Pipeline> {
        Pipeline::parse_inner(stages, scope, false)
    }

    /// Parses a sub-pipeline (`$facet`, `$lookup`, `$unionWith`), where
    /// `$facet` is not allowed.
    pub(crate) fn parse_nested(stages: &[Document], scope: &ParseScope) -> Result<Pipeline> {
        Pipeline::parse_inner(stages, scope, true)
    }

    fn parse_inner(stages: &[Document], scope: &ParseScope, nested: bool) -> Result<Pipeline> {
        // Two more than users may send: a router paging a pipeline through a
        // cursor appends `$skip` and `$limit` (the Data API checks the
        // user's limit).
        if stages.len() > MAX_STAGES + 2 {
            return Err(Error::BadValue(format!(
                "a pipeline may have at most {MAX_STAGES} stages, this one has {}",
                stages.len()
            )));
        }
        let stages = stage::expand(stages)?
            .iter()
            .map(|s| stage::parse_stage(s, scope, nested))
            .collect::<Result<Vec<_>>>()?;
        Ok(Pipeline { stages })
    }

    /// Runs the pipeline over `input`.
    pub fn run(&self, input: Vec<Document>, ctx: RunCtx<'_>) -> Result<Vec<Document>> {
        let mut docs = input;
        for stage in &self.stages {
            docs = run::run_stage(stage, docs, ctx)?;
        }
        Ok(docs)
    }

    /// Runs a pipeline whose last stage is a mergeable `$group`, returning
    /// the groups' partial states (see [`accumulator`]) for a router to
    /// merge with [`merge_partial_groups`].
    pub fn run_partial_group(
        &self,
        input: Vec<Document>,
        ctx: RunCtx<'_>,
    ) -> Result<Vec<Document>> {
        let Some((Stage::Group(group), before)) = self.stages.split_last() else {
            return Err(Error::BadValue(
                "internal: a partial-group pipeline must end with $group".into(),
            ));
        };
        if !group.mergeable() {
            return Err(Error::BadValue(
                "internal: this $group's accumulators cannot be split across shards".into(),
            ));
        }
        let mut docs = input;
        for stage in before {
            docs = run::run_stage(stage, docs, ctx)?;
        }
        run::partial_groups(group, run::fold_groups(group, &docs, ctx.env)?)
    }

    /// The filter of a leading `$match`, which a collection scan can apply
    /// while reading, and the pipeline without it.
    pub fn take_leading_match(mut self) -> (Option<Document>, Pipeline) {
        match self.stages.first() {
            Some(Stage::Match(_)) => {
                let Stage::Match(filter) = self.stages.remove(0) else {
                    unreachable!("checked above")
                };
                (Some(filter), self)
            }
            _ => (None, self),
        }
    }
}

/// Merges the partial groups shards returned for `group_spec` (a `$group`
/// body) and finishes them.
pub fn merge_partial_groups(
    group_spec: &Document,
    partials: &[Document],
    scope: &ParseScope,
) -> Result<Vec<Document>> {
    let group = Group::parse(group_spec, scope)?;
    run::merge_partial_groups(&group, partials)
}

/// Reads a pipeline from a request body: an array of stage objects.
pub fn pipeline_documents(value: &Bson) -> Result<Vec<Document>> {
    let Bson::Array(items) = value else {
        return Err(Error::BadValue(format!(
            "'pipeline' must be an array of stages, not {}",
            crate::value::type_name(value)
        )));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Bson::Document(d) => Ok(d.clone()),
            other => Err(Error::BadValue(format!(
                "pipeline[{i}] must be an object, not {}",
                crate::value::type_name(other)
            ))),
        })
        .collect()
}
