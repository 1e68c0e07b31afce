//! A node: one process hosting replicas of many Raft groups on one gRPC port.
//!
//! ```text
//!  data_dir/
//!    raft-log/                 sled: every group's log and vote (LogDb)
//!    groups/{g}/engine/        sled: group g's document engine (unless in memory)
//!    groups/{g}/snapshots/     group g's snapshot files
//! ```
//!
//! [`RaftNode::open_group`] starts (or restarts) a replica; the groups share
//! the log database (so appends of all groups share fsyncs) and the channel
//! pool (one connection per peer node). [`RaftNode::serve`] answers both the
//! Raft RPCs and the client service for every hosted group.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use lauradb_engine::engine::{Engine, StorageConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::HybridClock;
use crate::group::Group;
use crate::log_store::LogDb;
use crate::network::{ChannelPool, NetworkFactory, NodeServer};
use crate::snapshot_file::SnapshotDir;
use crate::state_machine::StateMachineStore;
use crate::types::{GroupId, NodeId, Raft};

/// Raft timing and snapshot settings.
#[derive(Debug, Clone)]
pub struct RaftSettings {
    pub heartbeat_interval: Duration,
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
    /// Build a snapshot after this many entries since the last one.
    pub snapshot_every_entries: u64,
    /// Also build one once the log grew by this many bytes, or by the size of
    /// the current snapshot if that is larger (see `checkpoint`).
    pub snapshot_every_log_bytes: u64,
    /// Keep this many entries in the log behind the last snapshot, so a
    /// briefly lagging follower catches up from the log, not a snapshot.
    pub keep_entries_after_snapshot: u64,
    /// How many log entries of client writes may be proposed and not yet
    /// applied at once. Writes that arrive while all are taken wait and go
    /// together in the next entry (see `proposer`): fewer slots, bigger
    /// batches.
    pub proposals_in_flight: usize,
    /// How often each replica removes MVCC versions no read can see (see
    /// `gc`); rounds with no new commits are skipped. A round visits only
    /// the keys written since (see `lauradb_engine::mvcc`), so frequent
    /// rounds are cheap and keep the garbage, and the memory it takes,
    /// to about `gc_every + gc_retention` worth of writes.
    pub gc_every: Duration,
    /// How far back reads at a past timestamp stay possible: versions newer
    /// than `latest commit - gc_retention` are kept.
    pub gc_retention: Duration,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_interval: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(500),
            election_timeout_max: Duration::from_millis(1000),
            snapshot_every_entries: 50_000,
            snapshot_every_log_bytes: 64 << 20,
            keep_entries_after_snapshot: 5_000,
            proposals_in_flight: 2,
            gc_every: Duration::from_secs(5),
            gc_retention: Duration::from_secs(5),
        }
    }
}

/// Where each group's engine keeps its data. The Raft log is always on
/// disk, fsynced before a write is acknowledged; this only decides how the
/// state machine keeps what it applied. All three survive crashes and
/// restarts; they differ in speed, restart time and disk use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineStorage {
    /// The engine in memory; its durable form is the newest snapshot file
    /// plus the log after it. A restart installs that snapshot and re-applies
    /// the log (openraft does both in `Raft::new`); snapshots are built often
    /// enough to bound that replay (see `checkpoint`). The fastest: `apply`
    /// writes nothing to disk, the log fsync is the only one per write.
    #[default]
    Memory,
    /// An in-memory mirror in front of sled, written to sled in the
    /// background (apply runs at memory speed; a flush still makes all of it
    /// durable, and a snapshot build flushes before the log is purged).
    /// A restart reads sled and re-applies only what it missed.
    WriteBehind,
    /// sled, written in `apply`: the slowest, the smallest memory footprint.
    Sled,
}

impl std::str::FromStr for EngineStorage {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "memory" => Ok(EngineStorage::Memory),
            "write-behind" => Ok(EngineStorage::WriteBehind),
            "sled" => Ok(EngineStorage::Sled),
            other => Err(format!(
                "unknown engine storage '{other}' (expected memory, write-behind or sled)"
            )),
        }
    }
}

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub id: NodeId,
    pub data_dir: PathBuf,
    pub raft: RaftSettings,
    /// sled page cache for the log database.
    pub log_cache_bytes: u64,
    /// sled page cache for each group's engine.
    pub engine_cache_bytes: u64,
    pub engine_storage: EngineStorage,
}

impl NodeConfig {
    pub fn new(id: NodeId, data_dir: impl Into<PathBuf>) -> NodeConfig {
        NodeConfig {
            id,
            data_dir: data_dir.into(),
            raft: RaftSettings::default(),
            log_cache_bytes: 64 << 20,
            engine_cache_bytes: 128 << 20,
            engine_storage: EngineStorage::default(),
        }
    }
}

/// A running node.
pub struct RaftNode {
    config: NodeConfig,
    log_db: LogDb,
    pool: ChannelPool,
    groups: RwLock<BTreeMap<GroupId, Arc<Group>>>,
    server: std::sync::Mutex<Option<(watch::Sender<bool>, JoinHandle<()>)>>,
}

/// Why a node or group could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("io: {0}")]
    Io(#[from] io::Error),
    #[error("engine: {0}")]
    Engine(#[from] lauradb_engine::Error),
    #[error("raft: {0}")]
    Raft(String),
}

impl RaftNode {
    /// Opens the node's storage. Must run inside a tokio runtime.
    pub fn open(config: NodeConfig) -> Result<Arc<RaftNode>, NodeError> {
        std::fs::create_dir_all(&config.data_dir)?;
        let log_db = LogDb::open(&config.data_dir.join("raft-log"), config.log_cache_bytes)?;
        Ok(Arc::new(RaftNode {
            config,
            log_db,
            pool: ChannelPool::new(),
            groups: RwLock::new(BTreeMap::new()),
            server: std::sync::Mutex::new(None),
        }))
    }

    pub fn id(&self) -> NodeId {
        self.config.id
    }

    pub fn pool(&self) -> &ChannelPool {
        &self.pool
    }

    /// The hosted replica of `group`, if any.
    pub fn group(&self, group: GroupId) -> Option<Arc<Group>> {
        self.groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&group)
            .cloned()
    }

    /// Every hosted replica.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        self.groups
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Starts this node's replica of `group` (restarting from disk if it ran
    /// here before). Idempotent.
    pub async fn open_group(&self, group: GroupId) -> Result<Arc<Group>, NodeError> {
        if let Some(existing) = self.group(group) {
            return Ok(existing);
        }
        let dir = self.config.data_dir.join("groups").join(group.to_string());
        let engine_path = dir.join("engine");
        let engine = Arc::new(Engine::open(match self.config.engine_storage {
            // The Raft log is the durable record: the engine needs no timer
            // flush. It is flushed before the log is purged (snapshot build)
            // and on shutdown.
            EngineStorage::Sled => StorageConfig::Sled {
                path: engine_path,
                cache_capacity_bytes: self.config.engine_cache_bytes,
                flush_every_ms: None,
            },
            EngineStorage::WriteBehind => StorageConfig::SledWriteBehind {
                path: engine_path,
                cache_capacity_bytes: self.config.engine_cache_bytes,
                flush_every_ms: None,
                max_pending_bytes: 64 << 20,
            },
            EngineStorage::Memory => StorageConfig::Memory,
        })?);
        let snapshots = SnapshotDir::open(&dir.join("snapshots"))?;
        let state_machine = StateMachineStore::new(engine.clone(), snapshots.clone());
        let log_store = self.log_db.group(group)?;
        let log_bytes = log_store.appended_bytes();
        let settings = &self.config.raft;
        let raft_config = openraft::Config {
            cluster_name: format!("lauradb-group-{group}"),
            heartbeat_interval: settings.heartbeat_interval.as_millis() as u64,
            election_timeout_min: settings.election_timeout_min.as_millis() as u64,
            election_timeout_max: settings.election_timeout_max.as_millis() as u64,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(
                settings.snapshot_every_entries,
            ),
            max_in_snapshot_log_to_keep: settings.keep_entries_after_snapshot,
            enable_pre_vote: Some(true),
            // Replicate entries as soon as they are written locally, so the
            // leader's fsync and the followers' fsyncs overlap instead of
            // running one after the other.
            broadcast_submitted_on_append: Some(true),
            ..Default::default()
        }
        .validate()
        .map_err(|e| NodeError::Raft(e.to_string()))?;
        let network = NetworkFactory::new(group, self.pool.clone());
        let raft = Raft::new(
            self.config.id,
            Arc::new(raft_config),
            network,
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| NodeError::Raft(e.to_string()))?;
        let clock = Arc::new(HybridClock::new());
        clock.observe(engine.latest_commit_ts());
        let proposer = crate::proposer::Proposer::start(
            group,
            raft.clone(),
            clock.clone(),
            settings.proposals_in_flight,
        );
        let hosted = Arc::new(Group {
            id: group,
            node: self.config.id,
            proposer,
            gc: Default::default(),
            write_seconds: metrics::histogram!("lauradb_raft_write_seconds"),
            raft,
            engine,
            clock,
            snapshots,
            pool: self.pool.clone(),
        });
        crate::metrics::watch_group(&hosted);
        crate::gc::start(
            Arc::downgrade(&hosted),
            settings.gc_every,
            settings.gc_retention,
        );
        crate::checkpoint::start(
            Arc::downgrade(&hosted),
            self.config.id,
            log_bytes,
            settings.snapshot_every_log_bytes,
        );
        self.groups
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(group, hosted.clone());
        Ok(hosted)
    }

    /// Serves Raft and client RPCs for every hosted group on `listener`
    /// until [`RaftNode::shutdown`].
    pub fn serve(self: &Arc<Self>, listener: TcpListener) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let handle = tokio::spawn(NodeServer::new(self.clone()).run(listener, stop_rx));
        *self.server.lock().unwrap_or_else(|e| e.into_inner()) = Some((stop_tx, handle));
    }

    /// Whether [`RaftNode::serve`] runs (and no stop began).
    pub(crate) fn is_serving(&self) -> bool {
        self.server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Stops serving, shuts every replica down (a leader first tries to hand
    /// leadership to another voter), and flushes storage.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        for group in self.groups() {
            if group.raft.is_leader() {
                hand_off_leadership(&group).await;
            }
        }
        self.stop().await
    }

    /// Stops at once, like a crash as far as the cluster can tell: no
    /// leadership hand-off, connections cut. (Storage is still flushed; an
    /// in-process stop cannot lose what sled already holds in memory. Tests
    /// of real crashes kill whole processes.)
    pub async fn kill(&self) -> Result<(), NodeError> {
        self.stop().await
    }

    /// Shuts down the replicas this node hosts — those that lead their
    /// group, or all of them — and flushes their engines, but keeps
    /// serving: RPCs for those groups then fail as for a group the node
    /// does not host.
    ///
    /// A whole cluster stopping in one process (`lauradb dev`) stops the
    /// leaders on every node, then every other replica, and only then any
    /// node's server. Stopped node by node instead, the replicas still
    /// running would spend the shutdown retrying peers already gone (a
    /// warning per attempt), and each server would wait for the
    /// replication streams of its still-running peers to end. Leaders go
    /// first because a leader whose follower vanished warns about the
    /// broken stream; a follower whose leader went quiet only notices
    /// after an election timeout, long after it is stopped too.
    pub async fn stop_replicas(&self, which: Replicas) -> Result<(), NodeError> {
        let groups: Vec<Arc<Group>> = {
            let mut hosted = self.groups.write().unwrap_or_else(|e| e.into_inner());
            let chosen: Vec<GroupId> = hosted
                .iter()
                .filter(|(_, group)| which == Replicas::All || group.raft.is_leader())
                .map(|(id, _)| *id)
                .collect();
            chosen.iter().filter_map(|id| hosted.remove(id)).collect()
        };
        let mut first_error = None;
        for group in groups {
            if let Err(e) = group.raft.shutdown().await {
                tracing::warn!(group = group.id, error = %e, "raft shutdown failed");
            }
            if let Err(e) = group.engine.flush() {
                tracing::error!(group = group.id, error = %e, "engine flush on shutdown failed");
                first_error.get_or_insert(NodeError::Engine(e));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn stop(&self) -> Result<(), NodeError> {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((stop, handle)) = server {
            let _ = stop.send(true);
            if tokio::time::timeout(Duration::from_secs(2), handle)
                .await
                .is_err()
            {
                tracing::warn!(node = self.config.id, "gRPC server did not stop within 2 s");
            }
        }
        // Stop and flush everything, then report the first failure.
        let replicas = self.stop_replicas(Replicas::All).await;
        let log = self.log_db.flush().await.map_err(NodeError::Io);
        replicas.and(log)
    }
}

/// Which replicas [`RaftNode::stop_replicas`] stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replicas {
    /// Those that currently lead their group.
    Leading,
    /// All of them.
    All,
}

/// Asks another up-to-date voter to take over, and waits briefly for it.
async fn hand_off_leadership(group: &Group) {
    let status = group.status();
    let Some(successor) = status
        .lag
        .iter()
        .filter(|(id, lag)| **id != group.node && status.voters.contains(id) && **lag == Some(0))
        .map(|(id, _)| *id)
        .next()
    else {
        return;
    };
    if group
        .raft
        .trigger()
        .transfer_leader(successor)
        .await
        .is_err()
    {
        return;
    }
    let _ = group
        .raft
        .wait(Some(Duration::from_secs(2)))
        .metrics(
            |m| m.current_leader != Some(group.node),
            "leadership handed off",
        )
        .await;
}
