//! Catalog changes: sharding a collection, dropping collections and
//! databases, and `explain`.
//!
//! **shardCollection** (the order, and why):
//! 1. choose chunks: an empty collection is cut into chunks spread
//!    round-robin over the shards (hashed: `numInitialChunks` equal slices
//!    of the hash space, default two per shard; ranged: at the
//!    `splitPoints`); a collection with documents keeps every chunk on its
//!    primary shard, so nothing has to move;
//! 2. take a new epoch from the config group;
//! 3. install the placement on the **primary first**: from then on the
//!    primary refuses writes routed as unsharded, and the install itself
//!    checks that no document there lies outside the primary's chunks (a
//!    racing insert makes it fail cleanly, and nothing has changed yet);
//! 4. write the catalog entry, compare-and-set on the epoch it replaced;
//! 5. install on the other shards (a shard missed here gets it from the
//!    first router that routes to it).
//!
//! **dropCollection** of a collection that was ever sharded writes an
//! unsharded entry with a new epoch and incarnation, then installs it on
//! every shard, which deletes their documents (see
//! `lauradb_engine::sharding`).

use bson::{Bson, Document, doc};
use lauradb_engine::catalog;
use lauradb_engine::command::{Namespace, Operation, Outcome};
use lauradb_engine::dataapi::{ApiError, ReadOutput, ReadRequest, ShardCollectionSpec};
use lauradb_engine::sharding::{ShardKeyPattern, ShardVersion};
use lauradb_raft::GroupId;

use super::catalog::CollectionEntry;
use super::placement::{Placement, initial_bounds};
use super::reads::read_targets;
use super::{CONFIG_DB, ClusterBackend, RouteError, catalog_error};

fn conflict(ns: &Namespace) -> ApiError {
    ApiError::new(
        409,
        "ConflictingOperationInProgress",
        format!("another router changed the placement of {ns} at the same time; retry"),
    )
}

fn route_error(error: RouteError, ns: &Namespace) -> ApiError {
    match error {
        RouteError::Api(error) => error,
        RouteError::Stale => conflict(ns),
    }
}

impl ClusterBackend {
    /// Shards a collection (see the module docs for the steps).
    pub async fn shard_collection_now(
        &self,
        spec: ShardCollectionSpec,
    ) -> Result<Document, ApiError> {
        let ns = &spec.ns;
        catalog::validate_namespace(ns).map_err(ApiError::from)?;
        if ns.db == CONFIG_DB {
            return Err(ApiError::bad_request(
                "IllegalOperation",
                "collections of the config database cannot be sharded",
            ));
        }
        let key = ShardKeyPattern::parse(&spec.key).map_err(ApiError::from)?;
        if spec.unique && (key.hashed || !key.is_id_only()) {
            return Err(ApiError::from(lauradb_engine::Error::NotSupported(
                "unique shard keys other than {_id: 1} (they need secondary unique indexes)".into(),
            )));
        }
        let mut existing = self.collection_entry(ns).await?;
        if let Some(entry) = &existing
            && entry.pending.is_some()
        {
            self.settle_pending(entry).await?;
            existing = self.collection_entry(ns).await?;
        }
        if let Some(entry) = &existing
            && let Some(current) = &entry.key
        {
            if ShardKeyPattern::parse(current).ok().as_ref() == Some(&key) {
                return Ok(
                    doc! { "collectionsharded": ns.to_string(), "shardKey": key.to_document(), "alreadySharded": true },
                );
            }
            return Err(ApiError::bad_request(
                "AlreadyInitialized",
                format!("{ns} is already sharded with key {current}"),
            ));
        }
        let primary = self.primary_or_assign(&ns.db).await?;
        let mut shards: Vec<GroupId> = self.shards().await?.iter().map(|s| s.id).collect();
        if shards.is_empty() {
            return Err(ApiError::new(
                503,
                "NoShards",
                "the cluster has no shards yet; add one first",
            ));
        }
        shards.sort_unstable();
        if let Some(at) = shards.iter().position(|s| *s == primary) {
            shards.rotate_left(at);
        }
        let incarnation = existing.as_ref().map_or(0, |e| e.incarnation);
        let unsharded = Placement {
            ns: ns.clone(),
            version: existing
                .as_ref()
                .map_or(ShardVersion::UNSHARDED, |e| e.version),
            incarnation,
            primary,
            sharding: None,
        };
        let present = match self
            .shard_read(
                primary,
                &unsharded,
                ReadRequest::EstimatedCount { ns: ns.clone() },
            )
            .await
            .map_err(|e| route_error(e, ns))?
        {
            ReadOutput::Count(n) => n,
            other => return Err(catalog_error(format!("unexpected count {other:?}"))),
        };
        let hashed_chunks = spec
            .num_initial_chunks
            .unwrap_or(2 * shards.len().max(1) as u64);
        let chunks: Vec<(Document, Document, GroupId)> =
            initial_bounds(&key, &spec.split_points, hashed_chunks)
                .into_iter()
                .enumerate()
                .map(|(i, (min, max))| {
                    let owner = if present > 0 {
                        primary
                    } else {
                        shards[i % shards.len()]
                    };
                    (min, max, owner)
                })
                .collect();
        let epoch = self.next_epoch().await?;
        let entry = CollectionEntry {
            ns: ns.clone(),
            version: ShardVersion {
                epoch,
                major: 1,
                minor: 0,
            },
            incarnation,
            key: Some(key.to_document()),
            unique: spec.unique,
            chunks,
            pending: None,
        };
        // Validates the bounds (sorted, covering, matching the key).
        let placement = entry
            .placement(primary)
            .map_err(|e| ApiError::bad_request("BadValue", e.message))?;
        // 1. Record the plan as pending: one sharding at a time.
        let inserting = existing.is_none();
        let mut current = existing.unwrap_or_else(|| CollectionEntry {
            ns: ns.clone(),
            version: ShardVersion::UNSHARDED,
            incarnation: 0,
            key: None,
            unique: false,
            chunks: Vec::new(),
            pending: None,
        });
        let before = current.version.epoch;
        current.pending = Some(Box::new(entry.clone()));
        if !self
            .replace_entry(&current, (!inserting).then_some(before), None)
            .await?
        {
            return Err(conflict(ns));
        }
        // 2. The primary takes the placement (and checks for orphans);
        // 3. the catalog commits it — or forgets the plan if the primary
        //    refused it. A router that finds the plan half-done finishes it.
        self.settle_pending(&current).await?;
        if self.collection_entry(ns).await?.map(|e| e.version) != Some(entry.version) {
            return Err(conflict(ns));
        }
        for shard in shards.iter().filter(|s| **s != primary) {
            if let Err(error) = self.install(*shard, &placement).await {
                tracing::warn!(%ns, shard, error = %error.message, "installing the new placement failed; the next request routed there installs it");
            }
        }
        self.forget_placement(ns);
        tracing::info!(%ns, key = %key.to_document(), chunks = entry.chunks.len(), documents = present, "sharded a collection");
        Ok(doc! {
            "collectionsharded": ns.to_string(),
            "shardKey": key.to_document(),
            "chunks": entry.chunks.len() as i64,
            "shards": placement.all_shards().iter().map(|s| *s as i64).collect::<Vec<_>>(),
        })
    }

    /// Finishes a pending sharding: installs the plan on the primary, then
    /// commits it in the catalog; if the primary refuses it (documents
    /// outside its chunks), drops the plan and reports why. Safe to run by
    /// several routers at once: installs are idempotent and the catalog
    /// writes are compare-and-set on the plan's epoch.
    pub(crate) async fn settle_pending(&self, entry: &CollectionEntry) -> Result<(), ApiError> {
        let Some(plan) = &entry.pending else {
            return Ok(());
        };
        let ns = &entry.ns;
        let primary = self.primary_or_assign(&ns.db).await?;
        let placement = plan.placement(primary)?;
        let installed = self.install(primary, &placement).await;
        let mut settled = match &installed {
            Ok(()) => (**plan).clone(),
            Err(error) if error.status >= 500 => return Err(error.clone()),
            Err(_) => entry.clone(),
        };
        settled.pending = None;
        self.replace_entry(
            &settled,
            Some(entry.version.epoch),
            Some(plan.version.epoch),
        )
        .await?;
        self.forget_placement(ns);
        installed
    }

    /// Drops a collection, sharded or not.
    pub(crate) async fn drop_collection(&self, ns: &Namespace) -> Result<Outcome, ApiError> {
        let Some(entry) = self.collection_entry(ns).await? else {
            let op = Operation::DropCollection { ns: ns.clone() };
            let op = &op;
            return self
                .with_placement(
                    ns,
                    false,
                    || Outcome::Done,
                    |placement| async move {
                        self.shard_write(placement.primary, &placement, op)
                            .await
                    },
                )
                .await;
        };
        let epoch = self.next_epoch().await?;
        let tombstone = CollectionEntry {
            ns: ns.clone(),
            version: ShardVersion {
                epoch,
                major: 0,
                minor: 0,
            },
            incarnation: epoch,
            key: None,
            unique: false,
            chunks: Vec::new(),
            pending: None,
        };
        if entry.pending.is_some()
            || !self
                .replace_entry(&tombstone, Some(entry.version.epoch), None)
                .await?
        {
            return Err(conflict(ns));
        }
        self.forget_placement(ns);
        let primary = self.lookup_primary(&ns.db).await?.unwrap_or_default();
        let placement = tombstone.placement(primary)?;
        let mut unconfirmed = Vec::new();
        for shard in self.shards().await? {
            if let Err(error) = self.install(shard.id, &placement).await {
                tracing::warn!(%ns, shard = shard.id, error = %error.message, "dropping on a shard failed");
                unconfirmed.push(shard.id);
            }
        }
        if !unconfirmed.is_empty() {
            // The catalog already says "dropped"; a shard that missed it
            // still holds the documents until it learns. Retrying the drop
            // tells every shard again.
            return Err(ApiError::new(
                503,
                "DropIncomplete",
                format!("{ns} is dropped in the catalog, but shards {unconfirmed:?} did not confirm; retry dropCollection"),
            )
            .with_field("retryAfterMs", serde_json::json!(500)));
        }
        Ok(Outcome::Done)
    }

    /// Drops every collection of a database and forgets its primary.
    pub(crate) async fn drop_database(&self, db: &str) -> Result<Outcome, ApiError> {
        catalog::validate_db_name(db).map_err(ApiError::from)?;
        for entry in self.collection_entries_of(db).await? {
            if entry.key.is_some() {
                self.drop_collection(&entry.ns).await?;
            }
        }
        let Some(primary) = self.lookup_primary(db).await? else {
            return Ok(Outcome::Done);
        };
        let outcome = self
            .shard_command(primary, Operation::DropDatabase { db: db.to_string() })
            .await?;
        self.config_write(Operation::Delete {
            ns: Namespace::new(CONFIG_DB, "databases"),
            filter: doc! { "_id": db },
            multi: false,
        })
        .await?;
        self.forget_database(db);
        self.inner
            .placements
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|ns, _| ns.db != db);
        Ok(outcome)
    }

    /// How a read is routed: the shards it targets and the placement. With
    /// `execution_stats`, each target shard also runs the query and says how
    /// many documents it returned (before the router's merge).
    pub(crate) async fn explain_read(
        &self,
        request: ReadRequest,
        execution_stats: bool,
    ) -> Result<Document, ApiError> {
        let ns = request
            .namespace()
            .cloned()
            .ok_or_else(|| ApiError::bad_request("BadValue", "explain needs a collection"))?;
        let Some(placement) = self.placement(&ns, false).await? else {
            return Ok(doc! {
                "queryPlanner": {
                    "namespace": ns.to_string(),
                    "winningPlan": { "stage": "EOF", "shards": [] },
                },
            });
        };
        let targets = read_targets(&placement, &request);
        let stage = if targets.len() == 1 {
            "SINGLE_SHARD"
        } else {
            "SHARD_MERGE"
        };
        let shards: Vec<Bson> = targets
            .iter()
            .map(|id| {
                Bson::Document(doc! { "shardName": format!("shard{id}"), "shardId": *id as i64 })
            })
            .collect();
        let mut out = doc! {
            "queryPlanner": {
                "namespace": ns.to_string(),
                "sharded": placement.sharding.is_some(),
                "winningPlan": { "stage": stage, "shards": shards },
            },
            "placement": placement.describe(),
        };
        if execution_stats {
            let mut per_shard = Vec::new();
            let mut total = 0_i64;
            for shard in &targets {
                let returned = match self
                    .shard_read(*shard, &placement, request.clone())
                    .await
                    .map_err(|e| route_error(e, &ns))?
                {
                    ReadOutput::Documents(documents) => documents.len() as i64,
                    ReadOutput::Document(document) => i64::from(document.is_some()),
                    ReadOutput::Count(n) => n as i64,
                    ReadOutput::Values(values) => values.len() as i64,
                    ReadOutput::Listing { items, .. } => items.len() as i64,
                };
                total += returned;
                per_shard.push(Bson::Document(
                    doc! { "shardName": format!("shard{shard}"), "shardId": *shard as i64, "nReturned": returned },
                ));
            }
            out.insert(
                "executionStats",
                doc! { "nReturned": total, "shards": per_shard },
            );
        }
        Ok(out)
    }
}
