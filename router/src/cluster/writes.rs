//! Writes: send each document or filter to the shards that own it.
//!
//! * **Inserts** are grouped per shard. Ordered inserts run as consecutive
//!   same-shard runs, one after the other, and stop at the first error;
//!   unordered ones run one batch per shard in parallel. Errors keep the
//!   index the document had in the request.
//! * **Multi-document updates and deletes** go to every targeted shard.
//! * **Single-document writes** (`updateOne`, `replaceOne`, `deleteOne`,
//!   `findOneAnd*`) with a filter that targets one shard go there. Otherwise
//!   the router first finds one matching document (honouring the sort), then
//!   sends the write to its shard narrowed to that `_id`; if the document
//!   changed in between, it looks again. So exactly one document is
//!   affected. An upsert that matches nothing builds the new document here
//!   to learn its shard key, and sends the upsert to the owning shard.
//! * Shards refuse documents they do not own and updates that change a
//!   shard key (see `lauradb_engine::sharding`).
//!
//! A multi-shard write is never re-run after part of it was applied: if the
//! placement changes half-way, the client gets an error that says so.

use bson::{Bson, Document, doc};
use futures::future::join_all;
use lauradb_engine::command::{Namespace, Operation, Outcome, UpdateKind, WriteError};
use lauradb_engine::dataapi::{ApiError, ReadOutput, ReadRequest};
use lauradb_engine::engine::FindOptions;
use lauradb_engine::query::Filter;
use lauradb_engine::sort::SortSpec;
use lauradb_engine::update::{Update, UpdateContext};
use lauradb_raft::GroupId;

use super::placement::Placement;
use super::{ClusterBackend, RouteError, now_millis};

/// How often a single-document write looks for its document again when it
/// changed between finding and writing it.
const SINGLE_WRITE_ATTEMPTS: usize = 3;

fn api(error: lauradb_engine::Error) -> RouteError {
    RouteError::Api(ApiError::from(error))
}

fn api_conflict(ns: &Namespace) -> ApiError {
    ApiError::new(
        409,
        "ConflictingOperationInProgress",
        format!("the placement of {ns} changed while creating it; retry"),
    )
}

/// A multi-shard write that some shards applied and others refused because
/// the collection was re-sharded or dropped meanwhile. Not retryable as is:
/// a retry would apply the write twice where it was applied.
fn partially_applied(ns: &Namespace) -> RouteError {
    RouteError::Api(ApiError::new(
        409,
        "PartiallyApplied",
        format!(
            "{ns} was re-sharded or dropped while this multi-shard write ran: some shards applied it, others did not; check the data before retrying"
        ),
    ))
}

impl ClusterBackend {
    /// Routes a write to the shards that own it.
    ///
    /// The rare operations' futures are boxed, so that the common ones
    /// (insert, update, delete) do not carry their size (see
    /// `crate::http::handle`).
    pub(crate) async fn routed_write(&self, operation: Operation) -> Result<Outcome, ApiError> {
        match operation {
            Operation::Insert {
                ns,
                documents,
                ordered,
            } => self.insert(ns, documents, ordered).await,
            op @ (Operation::Update { .. }
            | Operation::Delete { .. }
            | Operation::FindAndModify { .. }) => self.filtered_write(op).await,
            Operation::CreateCollection { ns, options } => {
                let op = Operation::CreateCollection {
                    ns: ns.clone(),
                    options,
                };
                if let Some(key) = self.inner.options.shard_new_collections.clone()
                    && self.collection_entry(&ns).await?.is_none()
                {
                    return Box::pin(self.create_then_shard(op, key)).await;
                }
                let op = &op;
                Box::pin(self.with_placement(
                    &ns,
                    true,
                    || Outcome::Done,
                    |placement| async move {
                        if placement.sharding.is_some() {
                            return Err(api(lauradb_engine::Error::NamespaceExists(
                                placement.ns.to_string(),
                            )));
                        }
                        self.shard_write(placement.primary, &placement, op).await
                    },
                ))
                .await
            }
            Operation::DropCollection { ns } => Box::pin(self.drop_collection(&ns)).await,
            Operation::DropDatabase { db } => Box::pin(self.drop_database(&db)).await,
            op @ Operation::RenameCollection { .. } => Box::pin(self.rename(op)).await,
            Operation::Versioned { .. } | Operation::InstallRouting { .. } => Err(
                ApiError::bad_request("BadValue", "internal operations cannot be sent to a router"),
            ),
        }
    }

    /// createCollection under the shard-new-collections switch: create it
    /// (empty) on the primary, then shard it.
    async fn create_then_shard(
        &self,
        op: Operation,
        key: lauradb_engine::sharding::ShardKeyPattern,
    ) -> Result<Outcome, ApiError> {
        let Operation::CreateCollection { ns, .. } = &op else {
            return Err(ApiError::bad_request("BadValue", "not a createCollection"));
        };
        let primary = self.primary_or_assign(&ns.db).await?;
        let unsharded = Placement {
            ns: ns.clone(),
            version: lauradb_engine::sharding::ShardVersion::UNSHARDED,
            incarnation: 0,
            primary,
            sharding: None,
        };
        match self.shard_write(primary, &unsharded, &op).await {
            Ok(_) => {}
            Err(RouteError::Api(error)) => return Err(error),
            Err(RouteError::Stale) => {
                return Err(api_conflict(ns));
            }
        }
        self.shard_collection_now(lauradb_engine::dataapi::ShardCollectionSpec {
            ns: ns.clone(),
            key: key.to_document(),
            unique: false,
            num_initial_chunks: None,
            split_points: Vec::new(),
        })
        .await?;
        Ok(Outcome::Done)
    }

    async fn insert(
        &self,
        ns: Namespace,
        documents: Vec<Document>,
        ordered: bool,
    ) -> Result<Outcome, ApiError> {
        let documents = &documents;
        let ns = &ns;
        self.with_placement(
            ns,
            true,
            || Outcome::Done,
            |placement| async move {
                if placement.sharding.is_none() {
                    let op = Operation::Insert {
                        ns: ns.clone(),
                        documents: documents.clone(),
                        ordered,
                    };
                    return self.shard_write(placement.primary, &placement, &op).await;
                }
                let owners: Vec<Result<GroupId, lauradb_engine::Error>> = documents
                    .iter()
                    .map(|d| placement.shard_for_document(d))
                    .collect();
                if ordered {
                    self.insert_ordered(&placement, documents, owners).await
                } else {
                    self.insert_unordered(&placement, documents, owners).await
                }
            },
        )
        .await
    }

    /// Consecutive same-shard runs, in order, stopping at the first error.
    async fn insert_ordered(
        &self,
        placement: &Placement,
        documents: &[Document],
        owners: Vec<Result<GroupId, lauradb_engine::Error>>,
    ) -> Result<Outcome, RouteError> {
        let mut inserted_ids = Vec::new();
        let mut errors = Vec::new();
        let mut start = 0;
        while start < documents.len() {
            let shard = match &owners[start] {
                Ok(shard) => *shard,
                Err(error) => {
                    errors.push(WriteError {
                        index: start,
                        error: error.clone(),
                    });
                    break;
                }
            };
            let mut end = start + 1;
            while end < documents.len() && matches!(&owners[end], Ok(s) if *s == shard) {
                end += 1;
            }
            let op = Operation::Insert {
                ns: placement.ns.clone(),
                documents: documents[start..end].to_vec(),
                ordered: true,
            };
            let outcome = match self.shard_write(shard, placement, &op).await {
                Err(RouteError::Stale) if start > 0 => {
                    return Err(partially_applied(&placement.ns));
                }
                other => other?,
            };
            let Outcome::Inserted {
                inserted_ids: ids,
                errors: run_errors,
            } = outcome
            else {
                return Err(api(lauradb_engine::Error::Storage(format!(
                    "a shard answered an insert with {outcome:?}"
                ))));
            };
            inserted_ids.extend(ids);
            if let Some(first) = run_errors.into_iter().next() {
                errors.push(WriteError {
                    index: start + first.index,
                    error: first.error,
                });
                break;
            }
            start = end;
        }
        Ok(Outcome::Inserted {
            inserted_ids,
            errors,
        })
    }

    /// One batch per shard, in parallel; every document is tried.
    async fn insert_unordered(
        &self,
        placement: &Placement,
        documents: &[Document],
        owners: Vec<Result<GroupId, lauradb_engine::Error>>,
    ) -> Result<Outcome, RouteError> {
        let mut errors = Vec::new();
        let mut batches: std::collections::BTreeMap<GroupId, Vec<usize>> = Default::default();
        for (index, owner) in owners.into_iter().enumerate() {
            match owner {
                Ok(shard) => batches.entry(shard).or_default().push(index),
                Err(error) => errors.push(WriteError { index, error }),
            }
        }
        let answers = join_all(batches.iter().map(|(shard, indexes)| {
            let op = Operation::Insert {
                ns: placement.ns.clone(),
                documents: indexes.iter().map(|i| documents[*i].clone()).collect(),
                ordered: false,
            };
            async move { self.shard_write(*shard, placement, &op).await }
        }))
        .await;
        let all_stale =
            !answers.is_empty() && answers.iter().all(|a| matches!(a, Err(RouteError::Stale)));
        let mut inserted: Vec<(usize, Bson)> = Vec::new();
        for ((_, indexes), answer) in batches.iter().zip(answers) {
            let outcome = match answer {
                Err(RouteError::Stale) if all_stale => return Err(RouteError::Stale),
                Err(RouteError::Stale) => return Err(partially_applied(&placement.ns)),
                other => other?,
            };
            let Outcome::Inserted {
                inserted_ids,
                errors: batch_errors,
            } = outcome
            else {
                return Err(api(lauradb_engine::Error::Storage(format!(
                    "a shard answered an insert with {outcome:?}"
                ))));
            };
            let failed: Vec<usize> = batch_errors.iter().map(|e| e.index).collect();
            let succeeded = (0..indexes.len()).filter(|i| !failed.contains(i));
            inserted.extend(succeeded.map(|i| indexes[i]).zip(inserted_ids));
            errors.extend(batch_errors.into_iter().map(|e| WriteError {
                index: indexes[e.index],
                error: e.error,
            }));
        }
        inserted.sort_by_key(|(index, _)| *index);
        errors.sort_by_key(|e| e.index);
        Ok(Outcome::Inserted {
            inserted_ids: inserted.into_iter().map(|(_, id)| id).collect(),
            errors,
        })
    }

    /// Updates, deletes and findOneAnd*.
    async fn filtered_write(&self, op: Operation) -> Result<Outcome, ApiError> {
        let ns = op
            .namespace()
            .cloned()
            .ok_or_else(|| ApiError::bad_request("BadValue", "write without a collection"))?;
        let op = &op;
        self.with_placement(
            &ns,
            true,
            || zero_outcome(op),
            |placement| async move {
                let targets = placement.shards_for_filter(filter_of(op));
                if targets.is_empty() {
                    // The filter can match nothing (`{_id: {$in: []}}`).
                    if upsert_of(op) {
                        return self.upsert_on_owner(&placement, op).await;
                    }
                    return Ok(zero_outcome(op));
                }
                if let [shard] = targets.as_slice() {
                    // An upsert whose new document belongs to another shard:
                    // update in place if it matches here, else insert there.
                    // (An unsharded collection has one owner: nothing to
                    // preview.)
                    if upsert_of(op)
                        && placement.sharding.is_some()
                        && let Ok(document) = upsert_preview(op)
                        && let Ok(owner) = placement.shard_for_document(&document)
                        && owner != *shard
                    {
                        let outcome = self
                            .shard_write(*shard, &placement, &with_upsert(op, false))
                            .await?;
                        if affected(&outcome) {
                            return Ok(outcome);
                        }
                        return self.upsert_on_owner(&placement, op).await;
                    }
                    return self.shard_write(*shard, &placement, op).await;
                }
                if is_multi(op) {
                    self.broadcast_write(&placement, &targets, op).await
                } else {
                    self.single_document_write(&placement, &targets, op).await
                }
            },
        )
        .await
    }

    /// updateMany / deleteMany on several shards: sum the outcomes.
    async fn broadcast_write(
        &self,
        placement: &Placement,
        targets: &[GroupId],
        op: &Operation,
    ) -> Result<Outcome, RouteError> {
        let without_upsert = with_upsert(op, false);
        let answers = join_all(
            targets
                .iter()
                .map(|shard| self.shard_write(*shard, placement, &without_upsert)),
        )
        .await;
        if !answers.is_empty() && answers.iter().all(|a| matches!(a, Err(RouteError::Stale))) {
            return Err(RouteError::Stale);
        }
        let (mut matched, mut modified, mut deleted) = (0, 0, 0);
        for answer in answers {
            match answer {
                Err(RouteError::Stale) => return Err(partially_applied(&placement.ns)),
                Err(error) => return Err(error),
                Ok(Outcome::Updated {
                    matched: m,
                    modified: n,
                    ..
                }) => {
                    matched += m;
                    modified += n;
                }
                Ok(Outcome::Deleted { deleted: d }) => deleted += d,
                Ok(other) => {
                    return Err(api(lauradb_engine::Error::Storage(format!(
                        "a shard answered a multi-document write with {other:?}"
                    ))));
                }
            }
        }
        if matches!(op, Operation::Delete { .. }) {
            return Ok(Outcome::Deleted { deleted });
        }
        if matched == 0 && upsert_of(op) {
            return self.upsert_on_owner(placement, op).await;
        }
        Ok(Outcome::Updated {
            matched,
            modified,
            upserted_id: None,
        })
    }

    /// One document, filter not on the shard key: find it, then write it.
    async fn single_document_write(
        &self,
        placement: &Placement,
        targets: &[GroupId],
        op: &Operation,
    ) -> Result<Outcome, RouteError> {
        let sort_spec = sort_of(op).clone();
        let sort = SortSpec::parse(&sort_spec).map_err(api)?;
        let probe = ReadRequest::Find {
            ns: placement.ns.clone(),
            options: FindOptions {
                filter: filter_of(op).clone(),
                sort: sort_spec,
                limit: 1,
                ..Default::default()
            },
            one: false,
        };
        for _ in 0..SINGLE_WRITE_ATTEMPTS {
            let answers = join_all(
                targets
                    .iter()
                    .map(|shard| self.shard_read(*shard, placement, probe.clone())),
            )
            .await;
            let mut best: Option<(GroupId, Document)> = None;
            for (shard, answer) in targets.iter().zip(answers) {
                let ReadOutput::Documents(found) = answer? else {
                    continue;
                };
                for document in found {
                    let better = match &best {
                        None => true,
                        Some((_, current)) => {
                            !sort.is_empty() && sort.compare(&document, current).is_lt()
                        }
                    };
                    if better {
                        best = Some((*shard, document));
                    }
                }
            }
            let Some((shard, document)) = best else {
                if upsert_of(op) {
                    return self.upsert_on_owner(placement, op).await;
                }
                return Ok(zero_outcome(op));
            };
            let id = document.get("_id").cloned().unwrap_or(Bson::Null);
            let narrowed = narrow_to_id(op, id);
            let outcome = self.shard_write(shard, placement, &narrowed).await?;
            if affected(&outcome) {
                return Ok(outcome);
            }
            // The document changed or moved between the probe and the
            // write: look again.
        }
        Ok(zero_outcome(op))
    }

    /// An upsert that matched nothing anywhere: the new document's shard
    /// key decides the shard that inserts it.
    async fn upsert_on_owner(
        &self,
        placement: &Placement,
        op: &Operation,
    ) -> Result<Outcome, RouteError> {
        let document = upsert_preview(op).map_err(api)?;
        let shard = placement.shard_for_document(&document).map_err(api)?;
        self.shard_write(shard, placement, op).await
    }

    /// Renames stay on their database's primary shard; sharded collections
    /// cannot be renamed.
    async fn rename(&self, op: Operation) -> Result<Outcome, ApiError> {
        let Operation::RenameCollection { from, to, .. } = &op else {
            return Err(ApiError::bad_request("BadValue", "not a rename"));
        };
        let from_primary = self.primary_or_assign(&from.db).await?;
        let to_primary = self.primary_or_assign(&to.db).await?;
        if from_primary != to_primary {
            return Err(ApiError::bad_request(
                "IllegalOperation",
                format!(
                    "cannot rename across databases on different shards ({} is on shard {from_primary}, {} on shard {to_primary})",
                    from.db, to.db
                ),
            ));
        }
        let op = &op;
        self.with_placement(
            from,
            true,
            || Outcome::Done,
            |placement| async move {
                if placement.sharding.is_some() {
                    return Err(api(lauradb_engine::Error::NotSupported(format!(
                        "renaming the sharded collection {}",
                        placement.ns
                    ))));
                }
                self.shard_write(placement.primary, &placement, op).await
            },
        )
        .await
    }
}

fn filter_of(op: &Operation) -> &Document {
    static EMPTY: std::sync::OnceLock<Document> = std::sync::OnceLock::new();
    match op {
        Operation::Update { filter, .. }
        | Operation::Delete { filter, .. }
        | Operation::FindAndModify { filter, .. } => filter,
        _ => EMPTY.get_or_init(Document::new),
    }
}

fn sort_of(op: &Operation) -> &Document {
    static EMPTY: std::sync::OnceLock<Document> = std::sync::OnceLock::new();
    match op {
        Operation::FindAndModify { sort, .. } => sort,
        _ => EMPTY.get_or_init(Document::new),
    }
}

fn is_multi(op: &Operation) -> bool {
    matches!(
        op,
        Operation::Update { multi: true, .. } | Operation::Delete { multi: true, .. }
    )
}

fn upsert_of(op: &Operation) -> bool {
    matches!(
        op,
        Operation::Update { upsert: true, .. } | Operation::FindAndModify { upsert: true, .. }
    )
}

fn with_upsert(op: &Operation, value: bool) -> Operation {
    let mut op = op.clone();
    match &mut op {
        Operation::Update { upsert, .. } | Operation::FindAndModify { upsert, .. } => {
            *upsert = value;
        }
        _ => {}
    }
    op
}

/// `op` restricted to the document with `_id` `id` (no upsert: it exists).
fn narrow_to_id(op: &Operation, id: Bson) -> Operation {
    let mut op = with_upsert(op, false);
    match &mut op {
        Operation::Update { filter, .. }
        | Operation::Delete { filter, .. }
        | Operation::FindAndModify { filter, .. } => {
            let original = std::mem::take(filter);
            *filter = doc! { "$and": [original, { "_id": id }] };
        }
        _ => {}
    }
    op
}

/// Whether a single-document write found its document.
fn affected(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Updated { matched, .. } => *matched > 0,
        Outcome::Deleted { deleted } => *deleted > 0,
        Outcome::Found {
            document,
            upserted_id,
        } => document.is_some() || upserted_id.is_some(),
        _ => true,
    }
}

/// What a write that matched nothing (and did not upsert) answers.
fn zero_outcome(op: &Operation) -> Outcome {
    match op {
        Operation::Delete { .. } => Outcome::Deleted { deleted: 0 },
        Operation::FindAndModify { .. } => Outcome::Found {
            document: None,
            upserted_id: None,
        },
        Operation::Insert { .. } => Outcome::Inserted {
            inserted_ids: Vec::new(),
            errors: Vec::new(),
        },
        Operation::Update { .. } => Outcome::Updated {
            matched: 0,
            modified: 0,
            upserted_id: None,
        },
        _ => Outcome::Done,
    }
}

/// The document an upsert would insert, built exactly as the shard will.
fn upsert_preview(op: &Operation) -> Result<Document, lauradb_engine::Error> {
    let (filter, kind, upsert_id) = match op {
        Operation::Update {
            filter,
            kind,
            upsert_id,
            ..
        } => (filter, kind, upsert_id),
        Operation::FindAndModify {
            filter,
            action: lauradb_engine::command::FindAndModifyAction::Update(kind),
            upsert_id,
            ..
        } => (filter, kind, upsert_id),
        _ => {
            return Err(lauradb_engine::Error::BadValue(
                "only updates can upsert".into(),
            ));
        }
    };
    let filter = Filter::parse(filter)?;
    let update = match kind {
        UpdateKind::Operators {
            update,
            array_filters,
        } => Update::parse(update, array_filters)?,
        UpdateKind::Replacement(replacement) => Update::replacement(replacement)?,
    };
    let mut document = update.upsert_document(
        &filter,
        &UpdateContext {
            now: bson::DateTime::from_millis(now_millis()),
            position: None,
        },
    )?;
    if !document.contains_key("_id")
        && let Some(id) = upsert_id
    {
        let mut with_id = doc! { "_id": id.clone() };
        with_id.extend(document);
        document = with_id;
    }
    Ok(document)
}
