//! Reads: target the shards a filter can match, ask them in parallel, merge.
//!
//! * `find`: each shard sorts and returns at most `skip + limit` documents;
//!   the router merges them by the sort (or concatenates in shard order when
//!   there is none), then applies skip and limit. When a projection could
//!   remove sort fields, shards return whole documents and the router
//!   projects after merging.
//! * `countDocuments`: shards count up to `skip + limit`; the router sums
//!   and applies skip and limit to the sum.
//! * `estimatedDocumentCount`: the sum over every owning shard.
//! * `distinct`: the union, in BSON order, equal values once.

use bson::{Bson, Document};
use futures::future::join_all;
use lauradb_engine::dataapi::{ApiError, ReadOutput, ReadRequest};
use lauradb_engine::engine::FindOptions;
use lauradb_engine::projection::Projection;
use lauradb_engine::query::Filter;
use lauradb_engine::sort::{SortSpec, sort_documents};
use lauradb_engine::value;
use lauradb_raft::GroupId;

use super::placement::Placement;
use super::{ClusterBackend, RouteError, empty_output};

/// The shards a read must ask.
pub(crate) fn read_targets(placement: &Placement, request: &ReadRequest) -> Vec<GroupId> {
    match request {
        ReadRequest::Find { options, .. } => placement.shards_for_filter(&options.filter),
        ReadRequest::Count { filter, .. } | ReadRequest::Distinct { filter, .. } => {
            placement.shards_for_filter(filter)
        }
        ReadRequest::Aggregate { pipeline, .. } => {
            placement.shards_for_filter(&super::aggregate::leading_filter(pipeline))
        }
        ReadRequest::EstimatedCount { .. }
        | ReadRequest::ListIndexes { .. }
        | ReadRequest::ListCollections { .. }
        | ReadRequest::ListDatabases => placement.all_shards(),
    }
}

fn api(error: lauradb_engine::Error) -> RouteError {
    RouteError::Api(ApiError::from(error))
}

fn unexpected(output: &ReadOutput) -> RouteError {
    RouteError::Api(ApiError::new(
        500,
        "InternalError",
        format!("a shard answered with an unexpected result {output:?}"),
    ))
}

impl ClusterBackend {
    /// Answers a read from the shards that can hold its documents.
    pub(crate) async fn routed_read(&self, request: ReadRequest) -> Result<ReadOutput, ApiError> {
        if let ReadRequest::Aggregate {
            ns,
            pipeline,
            now_millis,
            ..
        } = &request
        {
            return self.routed_aggregate(ns, pipeline, *now_millis).await;
        }
        let Some(ns) = request.namespace().cloned() else {
            return self.list_everywhere(&request).await;
        };
        let request = &request;
        let output = self
            .with_placement(
                &ns,
                false,
                || None,
                |placement| async move {
                    let targets = read_targets(&placement, request);
                    let output = if let [shard] = targets.as_slice() {
                        self.shard_read(*shard, &placement, request.clone()).await?
                    } else {
                        self.scatter_read(&placement, &targets, request).await?
                    };
                    Ok(Some(output))
                },
            )
            .await?;
        match (output, request) {
            (Some(output), _) => Ok(output),
            (None, ReadRequest::ListIndexes { ns }) => Err(ApiError::from(
                lauradb_engine::Error::NamespaceNotFound(ns.to_string()),
            )),
            (None, other) => Ok(empty_output(other)),
        }
    }

    /// `listDatabases` and `listCollections`: every shard's answer, merged
    /// by name (a database or a sharded collection spans several shards).
    async fn list_everywhere(&self, request: &ReadRequest) -> Result<ReadOutput, ApiError> {
        let shards = self.shards().await?;
        let mut outputs = Vec::with_capacity(shards.len());
        for shard in shards {
            let client = self.shard_client(shard.id).await?;
            let result = client
                .read(request.clone(), lauradb_raft::ReadConsistency::Linearizable)
                .await;
            outputs.push(self.on_shard_error(result).await?);
        }
        if outputs.is_empty() {
            return Ok(empty_output(request));
        }
        Merge::Listing.merge(outputs).map_err(|e| match e {
            RouteError::Api(e) => e,
            RouteError::Stale => ApiError::new(503, "StaleConfig", "listing raced a change; retry"),
        })
    }

    /// Asks every target shard and merges their answers.
    async fn scatter_read(
        &self,
        placement: &Placement,
        targets: &[GroupId],
        request: &ReadRequest,
    ) -> Result<ReadOutput, RouteError> {
        let (shard_request, finish) = split(request).map_err(api)?;
        let answers = join_all(
            targets
                .iter()
                .map(|shard| self.shard_read(*shard, placement, shard_request.clone())),
        )
        .await;
        let mut outputs = Vec::with_capacity(answers.len());
        let mut missing = None;
        for answer in answers {
            match answer {
                // A sharded collection need not exist on every shard yet.
                Err(RouteError::Api(e))
                    if matches!(finish, Merge::Listing) && e.code == "NamespaceNotFound" =>
                {
                    missing = Some(e);
                }
                other => outputs.push(other?),
            }
        }
        match (outputs.is_empty(), missing) {
            (true, Some(error)) => Err(RouteError::Api(error)),
            _ => finish.merge(outputs),
        }
    }
}

/// How the router finishes a scattered read.
enum Merge {
    Find {
        options: Box<FindOptions>,
        one: bool,
        /// Projection applied here, after merging (the shards sent whole
        /// documents because the projection could drop sort fields).
        project_here: bool,
    },
    Count {
        skip: u64,
        limit: u64,
    },
    Sum,
    Distinct,
    /// Union of named items (`listIndexes`, `listCollections`,
    /// `listDatabases`), sizes summed.
    Listing,
}

/// The request each shard runs, and how to merge their answers.
fn split(request: &ReadRequest) -> Result<(ReadRequest, Merge), lauradb_engine::Error> {
    Ok(match request {
        ReadRequest::Find { ns, options, one } => {
            // Validate here so that a bad sort or projection is one clear
            // error, not one per shard.
            SortSpec::parse(&options.sort)?;
            Projection::parse(&options.projection)?;
            let project_here = !options.sort.is_empty() && !options.projection.is_empty();
            let wanted = if *one {
                1
            } else if options.limit == 0 {
                0
            } else {
                options.skip.saturating_add(options.limit)
            };
            let shard_options = FindOptions {
                skip: 0,
                limit: wanted,
                projection: if project_here {
                    Document::new()
                } else {
                    options.projection.clone()
                },
                ..options.clone()
            };
            (
                ReadRequest::Find {
                    ns: ns.clone(),
                    options: shard_options,
                    one: false,
                },
                Merge::Find {
                    options: Box::new(options.clone()),
                    one: *one,
                    project_here,
                },
            )
        }
        ReadRequest::Count {
            ns,
            filter,
            skip,
            limit,
        } => (
            ReadRequest::Count {
                ns: ns.clone(),
                filter: filter.clone(),
                skip: 0,
                limit: if *limit == 0 {
                    0
                } else {
                    skip.saturating_add(*limit)
                },
            },
            Merge::Count {
                skip: *skip,
                limit: *limit,
            },
        ),
        ReadRequest::EstimatedCount { .. } => (request.clone(), Merge::Sum),
        ReadRequest::Aggregate { .. } => {
            return Err(lauradb_engine::Error::BadValue(
                "internal: pipelines are split by the aggregate router, not as a find".into(),
            ));
        }
        ReadRequest::Distinct { .. } => (request.clone(), Merge::Distinct),
        ReadRequest::ListIndexes { .. }
        | ReadRequest::ListCollections { .. }
        | ReadRequest::ListDatabases => (request.clone(), Merge::Listing),
    })
}

impl Merge {
    fn merge(self, outputs: Vec<ReadOutput>) -> Result<ReadOutput, RouteError> {
        match self {
            Merge::Find {
                options,
                one,
                project_here,
            } => {
                let mut documents = Vec::new();
                for output in outputs {
                    match output {
                        ReadOutput::Documents(mut d) => documents.append(&mut d),
                        other => return Err(unexpected(&other)),
                    }
                }
                let sort = SortSpec::parse(&options.sort).map_err(api)?;
                if !sort.is_empty() {
                    sort_documents(&mut documents, &sort).map_err(api)?;
                }
                let skip = if one { 0 } else { options.skip };
                let limit = if one { 1 } else { options.limit };
                let mut page: Vec<Document> = documents
                    .into_iter()
                    .skip(usize::try_from(skip).unwrap_or(usize::MAX))
                    .take(if limit == 0 {
                        usize::MAX
                    } else {
                        usize::try_from(limit).unwrap_or(usize::MAX)
                    })
                    .collect();
                if project_here {
                    let projection = Projection::parse(&options.projection).map_err(api)?;
                    let filter = Filter::parse(&options.filter).map_err(api)?;
                    page = page
                        .iter()
                        .map(|doc| {
                            let position = filter
                                .match_details(doc)
                                .and_then(|details| details.array_position);
                            projection.apply(doc, position)
                        })
                        .collect::<Result<_, _>>()
                        .map_err(api)?;
                }
                Ok(if one {
                    ReadOutput::Document(page.into_iter().next())
                } else {
                    ReadOutput::Documents(page)
                })
            }
            Merge::Count { skip, limit } => {
                let total = sum(outputs)?;
                let after_skip = total.saturating_sub(skip);
                Ok(ReadOutput::Count(if limit == 0 {
                    after_skip
                } else {
                    after_skip.min(limit)
                }))
            }
            Merge::Sum => Ok(ReadOutput::Count(sum(outputs)?)),
            Merge::Distinct => {
                let mut values: Vec<Bson> = Vec::new();
                for output in outputs {
                    match output {
                        ReadOutput::Values(mut v) => values.append(&mut v),
                        other => return Err(unexpected(&other)),
                    }
                }
                values.sort_by(value::compare);
                values.dedup_by(|a, b| value::values_equal(a, b));
                Ok(ReadOutput::Values(values))
            }
            Merge::Listing => {
                let mut field = String::new();
                let mut by_name: std::collections::BTreeMap<String, Document> = Default::default();
                for output in outputs {
                    let ReadOutput::Listing { field: f, items } = output else {
                        return Err(unexpected(&output));
                    };
                    field = f;
                    for item in items {
                        let name = item.get_str("name").unwrap_or_default().to_string();
                        match by_name.get_mut(&name) {
                            None => {
                                by_name.insert(name, item);
                            }
                            Some(seen) => {
                                if let (Some(a), Some(b)) = (
                                    seen.get("sizeOnDisk").and_then(Bson::as_i64),
                                    item.get("sizeOnDisk").and_then(Bson::as_i64),
                                ) {
                                    seen.insert("sizeOnDisk", a + b);
                                }
                            }
                        }
                    }
                }
                Ok(ReadOutput::Listing {
                    field,
                    items: by_name.into_values().collect(),
                })
            }
        }
    }
}

fn sum(outputs: Vec<ReadOutput>) -> Result<u64, RouteError> {
    outputs
        .into_iter()
        .try_fold(0_u64, |acc, output| match output {
            ReadOutput::Count(n) => Ok(acc.saturating_add(n)),
            other => Err(unexpected(&other)),
        })
}
