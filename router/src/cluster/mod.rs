//! A backend that routes to Raft shard groups over gRPC.
//!
//! The cluster catalog lives in the **config group** (Raft group 0), stored
//! as ordinary documents in its engine, so the config servers need no state
//! machine of their own:
//!
//! ```text
//!  config.shards     { _id: <shard group id>, members: [{ node, addr }] }
//!  config.databases  { _id: <database name>, primary: <shard group id> }
//!  config.collections, config.counters: sharded collections ([`catalog`])
//! ```
//!
//! An unsharded collection lives on its database's **primary shard**; a
//! sharded one is spread over chunks ([`placement`]). Reads go to the shards
//! the filter targets and are merged here ([`reads`]); writes are split per
//! shard ([`writes`]); `shardCollection` and drops change the catalog and the
//! shards' copies of it ([`admin`]). Every shard request carries the
//! placement version it was routed with; on `StaleConfig` the router either
//! reloads the catalog (it was behind) or installs the catalog's placement on
//! the shard (the shard was behind), then retries.
//!
//! A database gets its primary on its first write: the router picks the shard
//! holding the fewest databases and inserts the catalog document; if another
//! router won the race, the insert fails with a duplicate key and this router
//! reads the winner's choice. Routers cache the catalog and refresh on a miss.
//!
//! Reads are linearizable by default (leader plus read index on the shard);
//! writes are acknowledged after a majority of the shard has them and the
//! leader applied them. A shard with no reachable leader answers 503 with a
//! retry hint; a timed-out write is reported as indeterminate, never failed.

mod admin;
mod aggregate;
pub mod catalog;
pub mod placement;
mod reads;
mod writes;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use bson::{Bson, Document, doc};
use lauradb_engine::command::{Command, Namespace, Operation, Outcome};
use lauradb_engine::dataapi::{ApiError, ReadOutput, ReadRequest, ShardCollectionSpec};
use lauradb_engine::engine::FindOptions;
use lauradb_engine::sharding::{ShardKeyPattern, ShardVersion};
use lauradb_raft::network::ChannelPool;
use lauradb_raft::{ClientError, GroupClient, GroupId, NodeId, ReadConsistency};

use crate::Backend;
use placement::Placement;

/// How often a request is re-routed after `StaleConfig` before giving up.
const MAX_ROUTE_ATTEMPTS: usize = 6;

/// Router behaviour that is not about where the cluster is.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Consistency of document reads (see [`ClusterBackend::with_options`]).
    pub read_consistency: ReadConsistency,
    /// Development switch: shard every new collection with this key
    /// (`{_id: "hashed"}`), so every path runs through scatter-gather.
    pub shard_new_collections: Option<ShardKeyPattern>,
}

/// Why one shard request did not produce a result.
pub(crate) enum RouteError {
    /// The router's placement is older than the shard's: reload and re-route.
    Stale,
    /// Anything else, as the client will see it.
    Api(ApiError),
}

impl From<ApiError> for RouteError {
    fn from(error: ApiError) -> Self {
        RouteError::Api(error)
    }
}

/// The Raft group that holds the catalog.
pub const CONFIG_GROUP: GroupId = 0;
/// The catalog's database in the config group.
pub const CONFIG_DB: &str = "config";

/// One shard as the catalog records it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardInfo {
    pub id: GroupId,
    pub members: Vec<(NodeId, String)>,
}

/// Routes Data API requests to the shards that own them.
#[derive(Clone)]
pub struct ClusterBackend {
    inner: Arc<Inner>,
}

struct Inner {
    pool: ChannelPool,
    config: Arc<GroupClient>,
    shards: RwLock<BTreeMap<GroupId, CachedShard>>,
    databases: RwLock<BTreeMap<String, GroupId>>,
    placements: RwLock<HashMap<Namespace, Arc<Placement>>>,
    options: ClusterOptions,
}

/// A shard's members as the catalog listed them, and a client for them.
struct CachedShard {
    members: Vec<(NodeId, String)>,
    client: Arc<GroupClient>,
}

/// The wall clock a write's `$currentDate`/`$$NOW` use (decided here,
/// before proposing, never inside `apply`).
fn now_millis() -> i64 {
    i64::try_from(lauradb_raft::clock::wall_millis()).unwrap_or(i64::MAX)
}

/// How a Raft-layer failure looks to an HTTP client.
pub fn api_error(error: ClientError) -> ApiError {
    match error {
        ClientError::NotLeader { .. }
        | ClientError::Unavailable { .. }
        | ClientError::WrongNode { .. } => ApiError::new(
            503,
            "ShardUnavailable",
            format!("{error}; the outcome of a write is unknown, retry it"),
        )
        .with_field("retryAfterMs", serde_json::json!(500)),
        ClientError::BadRequest(message) => ApiError::bad_request("BadValue", message),
        ClientError::UnknownGroup(group) => ApiError::new(
            503,
            "ShardUnavailable",
            format!("shard {group} is not served at the catalog's address; retry"),
        ),
        ClientError::StaleConfig { ns, .. } => ApiError::new(
            503,
            "StaleConfig",
            format!("the placement of {ns} kept changing while routing; retry"),
        )
        .with_field("retryAfterMs", serde_json::json!(100)),
        ClientError::Raft(message) | ClientError::Storage(message) => {
            ApiError::new(500, "InternalError", message)
        }
    }
}

/// The result a group's reply carries; every applied write has one.
fn command_result(
    response: lauradb_raft::Response,
) -> Result<lauradb_engine::command::CommandResult, ApiError> {
    response.result.ok_or_else(|| {
        catalog_error(format!(
            "a group answered a write without a result (commit ts {})",
            response.commit_ts
        ))
    })
}

/// What a read of a database that does not exist yet returns.
pub(crate) fn empty_output(request: &ReadRequest) -> ReadOutput {
    match request {
        ReadRequest::Find { one: true, .. } => ReadOutput::Document(None),
        ReadRequest::Find { one: false, .. } | ReadRequest::Aggregate { .. } => {
            ReadOutput::Documents(Vec::new())
        }
        ReadRequest::Count { .. } | ReadRequest::EstimatedCount { .. } => ReadOutput::Count(0),
        ReadRequest::Distinct { .. } => ReadOutput::Values(Vec::new()),
        ReadRequest::ListCollections { .. } => ReadOutput::Listing {
            field: "collections".into(),
            items: Vec::new(),
        },
        ReadRequest::ListDatabases => ReadOutput::Listing {
            field: "databases".into(),
            items: Vec::new(),
        },
        ReadRequest::ListIndexes { .. } => ReadOutput::Listing {
            field: "indexes".into(),
            items: Vec::new(),
        },
    }
}

pub(crate) fn catalog_error(message: impl Into<String>) -> ApiError {
    ApiError::new(500, "CatalogError", message)
}

pub(crate) fn find(collection: &str, filter: Document) -> ReadRequest {
    ReadRequest::Find {
        ns: Namespace::new(CONFIG_DB, collection),
        options: FindOptions {
            filter,
            ..Default::default()
        },
        one: false,
    }
}

fn shard_from_document(document: &Document) -> Option<ShardInfo> {
    let id = document.get("_id").and_then(Bson::as_i64)?;
    let members = document
        .get_array("members")
        .ok()?
        .iter()
        .filter_map(|m| {
            let m = m.as_document()?;
            Some((
                m.get("node")?.as_i64()? as NodeId,
                m.get_str("addr").ok()?.to_string(),
            ))
        })
        .collect();
    Some(ShardInfo {
        id: id as GroupId,
        members,
    })
}

impl ClusterBackend {
    /// A backend that finds the catalog in the config group at `config_members`.
    pub fn new(config_members: Vec<(NodeId, String)>, pool: ChannelPool) -> ClusterBackend {
        ClusterBackend::with_options(config_members, pool, ClusterOptions::default())
    }

    /// Like [`ClusterBackend::new`], with options. A `Local` read
    /// consistency is *unsafe* here: each read goes to the next replica in
    /// round-robin order with no check, so it can return stale data (the
    /// Jepsen suite uses it to show that its checker catches that).
    pub fn with_options(
        config_members: Vec<(NodeId, String)>,
        pool: ChannelPool,
        options: ClusterOptions,
    ) -> ClusterBackend {
        ClusterBackend {
            inner: Arc::new(Inner {
                config: GroupClient::new(CONFIG_GROUP, config_members, pool.clone()),
                pool,
                shards: RwLock::new(BTreeMap::new()),
                databases: RwLock::new(BTreeMap::new()),
                placements: RwLock::new(HashMap::new()),
                options,
            }),
        }
    }

    /// The config group's client (admin tools register shards through it).
    pub fn config(&self) -> &Arc<GroupClient> {
        &self.inner.config
    }

    /// Records (or updates) a shard and its members in the catalog.
    pub async fn register_shard(&self, shard: &ShardInfo) -> Result<(), ApiError> {
        let members: Vec<Bson> = shard
            .members
            .iter()
            .map(|(node, addr)| Bson::Document(doc! { "node": *node as i64, "addr": addr }))
            .collect();
        let op = Operation::Update {
            ns: Namespace::new(CONFIG_DB, "shards"),
            filter: doc! { "_id": shard.id as i64 },
            kind: lauradb_engine::command::UpdateKind::Replacement(doc! { "members": members }),
            multi: false,
            upsert: true,
            upsert_id: Some(Bson::Int64(shard.id as i64)),
        };
        self.config_write(op).await?;
        self.refresh_shards().await
    }

    pub(crate) async fn config_write(&self, op: Operation) -> Result<Outcome, ApiError> {
        let response = self
            .inner
            .config
            .write(Command {
                request: None,
                now_millis: now_millis(),
                op,
            })
            .await
            .map_err(api_error)?;
        Ok(command_result(response)??)
    }

    pub(crate) async fn config_read(
        &self,
        request: ReadRequest,
    ) -> Result<Vec<Document>, ApiError> {
        match self
            .inner
            .config
            .read(request, ReadConsistency::Linearizable)
            .await
            .map_err(api_error)?
        {
            ReadOutput::Documents(documents) => Ok(documents),
            other => Err(catalog_error(format!(
                "unexpected catalog read result {other:?}"
            ))),
        }
    }

    /// Every shard in the catalog.
    pub async fn shards(&self) -> Result<Vec<ShardInfo>, ApiError> {
        Ok(self
            .config_read(find("shards", doc! {}))
            .await?
            .iter()
            .filter_map(shard_from_document)
            .collect())
    }

    /// Reloads the shard list from the config group.
    pub async fn refresh_shards(&self) -> Result<(), ApiError> {
        let shards = self.shards().await?;
        let mut cache = self.inner.shards.write().unwrap_or_else(|e| e.into_inner());
        for shard in shards {
            // Keep a client whose member list is current (it remembers the
            // leader); replace one the catalog has moved on from.
            if cache
                .get(&shard.id)
                .is_none_or(|cached| cached.members != shard.members)
            {
                let client =
                    GroupClient::new(shard.id, shard.members.clone(), self.inner.pool.clone());
                cache.insert(
                    shard.id,
                    CachedShard {
                        members: shard.members,
                        client,
                    },
                );
            }
        }
        Ok(())
    }

    async fn shard_client(&self, shard: GroupId) -> Result<Arc<GroupClient>, ApiError> {
        if let Some(client) = self
            .inner
            .shards
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&shard)
        {
            return Ok(client.client.clone());
        }
        Box::pin(self.refresh_shards()).await?;
        self.inner
            .shards
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&shard)
            .map(|cached| cached.client.clone())
            .ok_or_else(|| {
                catalog_error(format!(
                    "the catalog names shard {shard}, which has no members"
                ))
            })
    }

    fn cached_primary(&self, db: &str) -> Option<GroupId> {
        self.inner
            .databases
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(db)
            .copied()
    }

    async fn lookup_primary(&self, db: &str) -> Result<Option<GroupId>, ApiError> {
        if let Some(shard) = self.cached_primary(db) {
            return Ok(Some(shard));
        }
        let found = self
            .config_read(find("databases", doc! { "_id": db }))
            .await?;
        let primary = found
            .first()
            .and_then(|d| d.get("primary"))
            .and_then(Bson::as_i64)
            .map(|p| p as GroupId);
        if let Some(primary) = primary {
            self.inner
                .databases
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(db.to_string(), primary);
        }
        Ok(primary)
    }

    /// The primary shard of `db`, assigning one (the least loaded) if the
    /// database is new.
    async fn primary_or_assign(&self, db: &str) -> Result<GroupId, ApiError> {
        if let Some(shard) = self.lookup_primary(db).await? {
            return Ok(shard);
        }
        let shards = self.shards().await?;
        if shards.is_empty() {
            return Err(ApiError::new(
                503,
                "NoShards",
                "the cluster has no shards yet; add one first",
            ));
        }
        let mut load: BTreeMap<GroupId, usize> = shards.iter().map(|s| (s.id, 0)).collect();
        for database in self.config_read(find("databases", doc! {})).await? {
            if let Some(p) = database.get("primary").and_then(Bson::as_i64) {
                *load.entry(p as GroupId).or_default() += 1;
            }
        }
        let chosen = load
            .iter()
            .min_by_key(|(id, count)| (**count, **id))
            .map(|(id, _)| *id)
            .unwrap_or(shards[0].id);
        let outcome = self
            .config_write(Operation::Insert {
                ns: Namespace::new(CONFIG_DB, "databases"),
                documents: vec![doc! { "_id": db, "primary": chosen as i64 }],
                ordered: true,
            })
            .await?;
        if let Outcome::Inserted { errors, .. } = &outcome
            && let Some(first) = errors.first()
            && !matches!(first.error, lauradb_engine::Error::DuplicateKey { .. })
        {
            return Err(ApiError::from(first.error.clone()));
        }
        // Inserted, or another router assigned it first: read the winner.
        self.lookup_primary(db).await?.ok_or_else(|| {
            catalog_error(format!(
                "database {db} vanished right after it was assigned"
            ))
        })
    }

    /// Maps a shard failure to its HTTP error. When no member answered, the
    /// shard may have moved to other nodes: reload the shard list so the
    /// client's retry goes to the current members.
    async fn on_shard_error<T>(&self, result: Result<T, ClientError>) -> Result<T, ApiError> {
        match result {
            Ok(value) => Ok(value),
            Err(error) => {
                if matches!(
                    error,
                    ClientError::Unavailable { .. } | ClientError::UnknownGroup(_)
                ) && let Err(e) = Box::pin(self.refresh_shards()).await
                {
                    tracing::warn!(error = %e.message, "refreshing the shard list failed");
                }
                Err(api_error(error))
            }
        }
    }

    fn forget_database(&self, db: &str) {
        self.inner
            .databases
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(db);
    }
}

impl ClusterBackend {
    /// The placement of `ns` (cached). `None` when its database does not
    /// exist and `create` is false. With `create`, a new database gets a
    /// primary shard, and a new collection is sharded when the
    /// shard-new-collections switch is on.
    pub(crate) async fn placement(
        &self,
        ns: &Namespace,
        create: bool,
    ) -> Result<Option<Arc<Placement>>, ApiError> {
        if let Some(cached) = self
            .inner
            .placements
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(ns)
        {
            return Ok(Some(cached.clone()));
        }
        // Boxed: loading from the catalog is a large future, and every
        // routed call would otherwise carry it (see `crate::http::handle`).
        Box::pin(self.load_placement(ns, create)).await
    }

    /// [`ClusterBackend::placement`] on a cache miss: reads the catalog
    /// (creating or finishing what `create` and pending work call for) and
    /// caches the answer.
    async fn load_placement(
        &self,
        ns: &Namespace,
        create: bool,
    ) -> Result<Option<Arc<Placement>>, ApiError> {
        let mut entry = self.collection_entry(ns).await?;
        if entry.is_none()
            && create
            && let Some(key) = self.inner.options.shard_new_collections.clone()
        {
            let sharded = self
                .shard_collection_now(ShardCollectionSpec {
                    ns: ns.clone(),
                    key: key.to_document(),
                    unique: false,
                    num_initial_chunks: None,
                    split_points: Vec::new(),
                })
                .await;
            // Another request may be sharding it right now: settled below.
            if let Err(error) = sharded
                && error.code != "ConflictingOperationInProgress"
            {
                return Err(error);
            }
            entry = self.collection_entry(ns).await?;
        }
        // A sharding left half-done (its router crashed or lost a race) is
        // finished before anyone routes by the entry.
        if let Some(pending) = entry.as_ref().filter(|e| e.pending.is_some()) {
            self.settle_pending(pending).await?;
            entry = self.collection_entry(ns).await?;
        }
        let primary = if create {
            self.primary_or_assign(&ns.db).await?
        } else {
            match self.lookup_primary(&ns.db).await? {
                Some(primary) => primary,
                None => return Ok(None),
            }
        };
        let placement = Arc::new(match entry {
            Some(entry) => entry.placement(primary)?,
            None => Placement {
                ns: ns.clone(),
                version: ShardVersion::UNSHARDED,
                incarnation: 0,
                primary,
                sharding: None,
            },
        });
        self.inner
            .placements
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ns.clone(), placement.clone());
        Ok(Some(placement))
    }

    /// Drops the cached placement of `ns` (and its database's primary).
    pub(crate) fn forget_placement(&self, ns: &Namespace) {
        self.inner
            .placements
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(ns);
        self.forget_database(&ns.db);
    }

    /// Runs an unversioned command on a shard (installs, dropDatabase).
    pub(crate) async fn shard_command(
        &self,
        shard: GroupId,
        op: Operation,
    ) -> Result<Outcome, ApiError> {
        let client = self.shard_client(shard).await?;
        let result = client
            .write(Command {
                request: None,
                now_millis: now_millis(),
                op,
            })
            .await;
        Ok(command_result(self.on_shard_error(result).await?)??)
    }

    /// Installs the placement's view for `shard` on that shard.
    async fn install(&self, shard: GroupId, placement: &Placement) -> Result<(), ApiError> {
        let op = Operation::InstallRouting {
            ns: placement.ns.clone(),
            routing: placement.routing_for(shard),
        };
        self.shard_command(shard, op).await.map(|_| ())
    }

    /// What to do about a `StaleConfig` answer: install our newer placement
    /// on a shard that is behind (then retry there), or report that this
    /// router is behind.
    async fn on_stale(
        &self,
        shard: GroupId,
        placement: &Placement,
        have: ShardVersion,
    ) -> Result<(), RouteError> {
        if have > placement.version {
            tracing::debug!(ns = %placement.ns, %have, ours = %placement.version, "router placement is stale; reloading");
            self.forget_placement(&placement.ns);
            return Err(RouteError::Stale);
        }
        // Install only what the catalog still says: a cached placement that
        // the catalog has moved past must not reach a shard that is behind.
        let current = self
            .collection_entry(&placement.ns)
            .await?
            .map_or(ShardVersion::UNSHARDED, |e| e.version);
        if current != placement.version {
            self.forget_placement(&placement.ns);
            return Err(RouteError::Stale);
        }
        tracing::debug!(ns = %placement.ns, shard, %have, ours = %placement.version, "shard placement is stale; installing");
        self.install(shard, placement).await?;
        Ok(())
    }

    /// Runs a write on one shard, routed with `placement`'s version.
    pub(crate) async fn shard_write(
        &self,
        shard: GroupId,
        placement: &Placement,
        op: &Operation,
    ) -> Result<Outcome, RouteError> {
        let client = self.shard_client(shard).await?;
        let now_millis = now_millis();
        for _ in 0..MAX_ROUTE_ATTEMPTS {
            // Each attempt owns its command: it is handed to the shard
            // leader as it is when that leader runs in this process.
            let command = Command {
                request: None,
                now_millis,
                op: Operation::Versioned {
                    version: placement.version,
                    op: Box::new(op.clone()),
                },
            };
            // Boxed: the client's retry machinery is a ~8 KB future, and
            // every async layer above would otherwise embed it and copy it
            // when it starts (see `crate::http::handle`).
            let result = Box::pin(client.write(command)).await;
            match command_result(self.on_shard_error(result).await?)? {
                Err(lauradb_engine::Error::StaleConfig { have, .. }) => {
                    Box::pin(self.on_stale(shard, placement, have)).await?;
                }
                result => return result.map_err(|e| RouteError::Api(e.into())),
            }
        }
        Err(RouteError::Stale)
    }

    /// Runs a read on one shard, routed with `placement`'s version.
    pub(crate) async fn shard_read(
        &self,
        shard: GroupId,
        placement: &Placement,
        request: ReadRequest,
    ) -> Result<ReadOutput, RouteError> {
        let client = self.shard_client(shard).await?;
        let version = Some(placement.version);
        for _ in 0..MAX_ROUTE_ATTEMPTS {
            let result = match self.inner.options.read_consistency {
                ReadConsistency::Local => {
                    client
                        .read_any_replica_unchecked(request.clone(), version)
                        .await
                }
                consistency => {
                    client
                        .read_versioned(request.clone(), consistency, version)
                        .await
                }
            };
            match result {
                Err(ClientError::StaleConfig { have, .. }) => {
                    Box::pin(self.on_stale(shard, placement, have)).await?;
                }
                other => return Ok(self.on_shard_error(other).await?),
            }
        }
        Err(RouteError::Stale)
    }

    /// Runs `attempt` with the current placement of `ns`, again with a
    /// reloaded one while it reports [`RouteError::Stale`]. Only for work
    /// that has no effect when it reports `Stale`.
    pub(crate) async fn with_placement<T, F, Fut>(
        &self,
        ns: &Namespace,
        create: bool,
        absent: impl FnOnce() -> T,
        mut attempt: F,
    ) -> Result<T, ApiError>
    where
        F: FnMut(Arc<Placement>) -> Fut,
        Fut: std::future::Future<Output = Result<T, RouteError>>,
    {
        for _ in 0..MAX_ROUTE_ATTEMPTS {
            let Some(placement) = self.placement(ns, create).await? else {
                return Ok(absent());
            };
            match attempt(placement).await {
                Err(RouteError::Stale) => continue,
                Err(RouteError::Api(error)) => return Err(error),
                Ok(value) => return Ok(value),
            }
        }
        Err(ApiError::new(
            503,
            "StaleConfig",
            format!("the placement of {ns} kept changing while routing; retry"),
        )
        .with_field("retryAfterMs", serde_json::json!(100)))
    }
}

impl Backend for ClusterBackend {
    async fn read(&self, request: ReadRequest) -> Result<ReadOutput, ApiError> {
        self.routed_read(request).await
    }

    async fn write(&self, operation: Operation) -> Result<Outcome, ApiError> {
        self.routed_write(operation).await
    }

    async fn shard_collection(&self, spec: ShardCollectionSpec) -> Result<Document, ApiError> {
        self.shard_collection_now(spec).await
    }

    async fn explain(
        &self,
        request: ReadRequest,
        execution_stats: bool,
    ) -> Result<Document, ApiError> {
        self.explain_read(request, execution_stats).await
    }
}
