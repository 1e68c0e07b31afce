//! Aggregation across shards.
//!
//! ```text
//!  pipeline ──split──▶ shard part ──▶ every targeted shard runs it on its documents
//!                      merge      ◀── concatenate / merge by sort / merge partial groups
//!                      router part ─▶ runs here on the merged documents ─▶ answer
//! ```
//!
//! The split is `lauradb_engine::aggregate::split` (see its docs for which
//! stage goes where). A leading `$match` targets shards exactly as a `find`
//! filter does. A database that does not exist yet contributes no documents,
//! but the router part still runs — `$facet` and `$unionWith` answer even
//! then.
//!
//! **Other collections** (`$lookup`, `$unionWith` in the router part) are
//! read from the cluster, through the same routed `find` a client would use.
//! The pipeline itself is synchronous, so the router runs it against a cache
//! of foreign reads: a read that is not cached yet is recorded and answered
//! empty, and after the run the router fetches every recorded read and runs
//! the router part again. The answer of a run with unfetched reads is thrown
//! away (errors included); only a run that found everything cached counts.
//! Each round fetches at least one new read, and rounds are capped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bson::{Bson, Document};
use futures::StreamExt;
use futures::future::join_all;
use lauradb_engine::aggregate::split::{Merge, SplitPlan, split};
use lauradb_engine::aggregate::{Env, Foreign, ParseScope, Pipeline, RunCtx, merge_partial_groups};
use lauradb_engine::command::Namespace;
use lauradb_engine::dataapi::{ApiError, ReadOutput, ReadRequest};
use lauradb_engine::engine::FindOptions;
use lauradb_engine::sort::{SortSpec, sort_documents};

use super::{ClusterBackend, RouteError};

/// Most rounds of foreign reads one pipeline may take.
const MAX_FOREIGN_ROUNDS: usize = 16;
/// Most distinct foreign reads one round may need.
const MAX_FOREIGN_READS_PER_ROUND: usize = 1024;

fn api(error: lauradb_engine::Error) -> RouteError {
    RouteError::Api(ApiError::from(error))
}

/// The filter of the pipeline's leading `$match` stages (they target
/// shards); empty when the pipeline does not start with `$match`.
pub(crate) fn leading_filter(pipeline: &[Document]) -> Document {
    let filters: Vec<Bson> = pipeline
        .iter()
        .map_while(|stage| match stage.get("$match") {
            Some(Bson::Document(filter)) if stage.len() == 1 => {
                Some(Bson::Document(filter.clone()))
            }
            _ => None,
        })
        .collect();
    match filters.len() {
        0 => Document::new(),
        1 => match filters.into_iter().next() {
            Some(Bson::Document(d)) => d,
            _ => Document::new(),
        },
        _ => bson::doc! { "$and": filters },
    }
}

impl ClusterBackend {
    /// Runs an aggregation pipeline over a collection of the cluster.
    pub(crate) async fn routed_aggregate(
        &self,
        ns: &Namespace,
        pipeline: &[Document],
        now_millis: i64,
    ) -> Result<ReadOutput, ApiError> {
        let scope = ParseScope::with_now([]);
        let gathered = self
            .with_placement(
                ns,
                false,
                || None,
                |placement| {
                    let scope = &scope;
                    async move {
                        let targets = placement.shards_for_filter(&leading_filter(pipeline));
                        let plan = split(pipeline, targets.len() == 1, scope).map_err(api)?;
                        let request = ReadRequest::Aggregate {
                            ns: ns.clone(),
                            pipeline: plan.shard_stages.clone(),
                            now_millis,
                            partial_group: plan.partial_group,
                        };
                        let answers = join_all(
                            targets
                                .iter()
                                .map(|shard| self.shard_read(*shard, &placement, request.clone())),
                        )
                        .await;
                        let mut outputs = Vec::with_capacity(answers.len());
                        for answer in answers {
                            match answer? {
                                ReadOutput::Documents(documents) => outputs.push(documents),
                                other => {
                                    return Err(RouteError::Api(ApiError::new(
                                        500,
                                        "InternalError",
                                        format!("a shard answered an aggregate with {other:?}"),
                                    )));
                                }
                            }
                        }
                        Ok(Some((plan, outputs)))
                    }
                },
            )
            .await?;
        let (router_stages, merged) = match gathered {
            Some((plan, outputs)) => {
                let SplitPlan {
                    merge,
                    router_stages,
                    ..
                } = plan;
                (router_stages, merge_outputs(merge, outputs, &scope)?)
            }
            // No such database or collection: no documents, but the
            // pipeline still runs ($facet, $unionWith answer anyway).
            None => (pipeline.to_vec(), Vec::new()),
        };
        if router_stages.is_empty() {
            return Ok(ReadOutput::Documents(merged));
        }
        let documents = self
            .run_router_part(&ns.db, &router_stages, merged, Env::at(now_millis))
            .await?;
        Ok(ReadOutput::Documents(documents))
    }

    /// Runs the router part of a pipeline, fetching the other collections it
    /// reads (see the module docs).
    async fn run_router_part(
        &self,
        db: &str,
        stages: &[Document],
        input: Vec<Document>,
        env: Env,
    ) -> Result<Vec<Document>, ApiError> {
        let pipeline = Arc::new(Pipeline::parse(stages, &ParseScope::with_now([]))?);
        let cache = Arc::new(ForeignCache::default());
        let env = Arc::new(env);
        let input = Arc::new(input);
        for _ in 0..MAX_FOREIGN_ROUNDS {
            let run = {
                let (pipeline, cache, env, input) = (
                    Arc::clone(&pipeline),
                    Arc::clone(&cache),
                    Arc::clone(&env),
                    Arc::clone(&input),
                );
                // The pipeline may be CPU-heavy: keep it off the async workers.
                tokio::task::spawn_blocking(move || {
                    let ctx = RunCtx {
                        env: &env,
                        foreign: cache.as_ref(),
                    };
                    pipeline.run(input.as_ref().clone(), ctx)
                })
                .await
                .map_err(|e| {
                    ApiError::new(500, "InternalError", format!("pipeline task failed: {e}"))
                })?
            };
            let misses = cache.take_misses();
            if misses.is_empty() {
                return Ok(run?);
            }
            if misses.len() > MAX_FOREIGN_READS_PER_ROUND {
                return Err(ApiError::bad_request(
                    "BadValue",
                    format!(
                        "the pipeline needs {} different reads of other collections at once \
                         (at most {MAX_FOREIGN_READS_PER_ROUND}); use an equality $lookup \
                         (localField/foreignField) instead of a correlated sub-pipeline",
                        misses.len()
                    ),
                ));
            }
            let reads = misses.into_iter().map(|(collection, filter)| async move {
                let read = ReadRequest::Find {
                    ns: Namespace::new(db, collection.clone()),
                    // In `_id` order, as the engine reads its own
                    // collections (the `Foreign` contract): a sharded
                    // collection's shards would otherwise come in shard order.
                    options: FindOptions {
                        filter: filter.clone(),
                        sort: bson::doc! { "_id": 1 },
                        ..Default::default()
                    },
                    one: false,
                };
                match self.routed_read(read).await? {
                    ReadOutput::Documents(documents) => Ok((collection, filter, documents)),
                    other => Err(ApiError::new(
                        500,
                        "InternalError",
                        format!("a find answered {other:?}"),
                    )),
                }
            });
            // A few at a time: each is itself a scatter-gather.
            let fetched: Vec<_> = futures::stream::iter(reads)
                .buffer_unordered(8)
                .collect()
                .await;
            for result in fetched {
                let (collection, filter, documents) = result?;
                cache.store(&collection, &filter, documents);
            }
        }
        Err(ApiError::bad_request(
            "BadValue",
            format!(
                "the pipeline kept asking for new reads of other collections after \
                 {MAX_FOREIGN_ROUNDS} rounds; simplify its $lookup/$unionWith stages"
            ),
        ))
    }
}

/// Combines the shards' outputs as the split plan says.
fn merge_outputs(
    merge: Merge,
    outputs: Vec<Vec<Document>>,
    scope: &ParseScope,
) -> Result<Vec<Document>, ApiError> {
    let mut all: Vec<Document> = outputs.into_iter().flatten().collect();
    match merge {
        Merge::Concat => {}
        Merge::Sorted(spec) => {
            // Each shard's part is sorted; a stable sort of the
            // concatenation is the merge (ties keep shard order).
            sort_documents(&mut all, &SortSpec::parse(&spec)?)?;
        }
        Merge::Group(spec) => all = merge_partial_groups(&spec, &all, scope)?,
    }
    Ok(all)
}

/// A foreign read: the collection and the filter's BSON bytes.
type ReadKey = (String, Vec<u8>);

/// Reads of other collections, cached per (collection, filter).
#[derive(Default)]
struct ForeignCache {
    fetched: Mutex<HashMap<ReadKey, Arc<Vec<Document>>>>,
    misses: Mutex<Vec<(String, Document)>>,
}

fn cache_key(collection: &str, filter: &Document) -> ReadKey {
    (collection.to_string(), filter.to_vec().unwrap_or_default())
}

impl ForeignCache {
    fn take_misses(&self) -> Vec<(String, Document)> {
        let mut misses =
            std::mem::take(&mut *self.misses.lock().unwrap_or_else(|e| e.into_inner()));
        misses.sort_by_key(|(collection, filter)| cache_key(collection, filter));
        misses.dedup_by(|a, b| cache_key(&a.0, &a.1) == cache_key(&b.0, &b.1));
        misses
    }

    fn store(&self, collection: &str, filter: &Document, documents: Vec<Document>) {
        self.fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cache_key(collection, filter), Arc::new(documents));
    }
}

impl Foreign for ForeignCache {
    fn find(&self, collection: &str, filter: &Document) -> lauradb_engine::Result<Vec<Document>> {
        let key = cache_key(collection, filter);
        if let Some(documents) = self
            .fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(documents.as_ref().clone());
        }
        self.misses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((collection.to_string(), filter.clone()));
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn leading_matches_are_combined_for_targeting() {
        assert_eq!(leading_filter(&[]), doc! {});
        assert_eq!(
            leading_filter(&[
                doc! { "$match": { "k": 1 } },
                doc! { "$project": { "k": 1 } }
            ]),
            doc! { "k": 1 }
        );
        assert_eq!(
            leading_filter(&[doc! { "$match": { "k": 1 } }, doc! { "$match": { "j": 2 } }]),
            doc! { "$and": [{ "k": 1 }, { "j": 2 }] }
        );
    }

    #[test]
    fn the_foreign_cache_records_misses_once_and_answers_hits() {
        let cache = ForeignCache::default();
        assert!(cache.find("o", &doc! { "a": 1 }).unwrap().is_empty());
        cache.find("o", &doc! { "a": 1 }).unwrap();
        let misses = cache.take_misses();
        assert_eq!(misses, vec![("o".to_string(), doc! { "a": 1 })]);
        cache.store("o", &doc! { "a": 1 }, vec![doc! { "_id": 1, "a": 1 }]);
        assert_eq!(
            cache.find("o", &doc! { "a": 1 }).unwrap(),
            vec![doc! { "_id": 1, "a": 1 }]
        );
        assert!(cache.take_misses().is_empty());
    }
}
