//! One hosted replica of a Raft group, and what clients can ask of it.
//!
//! * **Write** — queue the command for the group's [`Proposer`], which
//!   batches concurrent writes into one log entry stamped with the hybrid
//!   clock, and answer once that entry is committed on a majority and
//!   applied. A follower answers [`ClientError::NotLeader`] with its best
//!   guess of the leader.
//! * **Read** at one of three [`ReadConsistency`] levels: `Linearizable`
//!   (leader confirms it still leads via a read index, waits for it to be
//!   applied, then reads), `Local` (whatever this replica has applied), or
//!   `Follower` (this replica, possibly a follower, asks the leader for a read
//!   index and waits until it has applied that far — linearizable without
//!   reading on the leader).
//! * **Admin** — initialise (idempotent), add a learner, change the voters,
//!   transfer leadership, report status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::commands::EncodedCommand;
use lauradb_engine::dataapi::{RawReadOutput, ReadOutput, ReadRequest, execute_read_raw};
use lauradb_engine::engine::{Engine, ReadAt};
use lauradb_engine::sharding::ShardVersion;
use openraft::async_runtime::watch::WatchReceiver;
use openraft::error::{ClientWriteError, ForwardToLeader, RaftError};
use openraft::{ChangeMembers, ReadPolicy, ServerState, TryAsRef};
use serde::{Deserialize, Serialize};

use crate::clock::HybridClock;
use crate::error::ClientError;
use crate::network::ChannelPool;
use crate::proposer::Proposer;
use crate::types::{GroupId, Node, NodeId, Raft, Response, TypeConfig};

/// How long a follower read waits to catch up to the leader's read index.
const FOLLOWER_CATCH_UP: Duration = Duration::from_secs(5);

/// Which state a read may see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadConsistency {
    /// Leader only; confirms leadership with a quorum before reading.
    #[default]
    Linearizable,
    /// The replica's applied state, no check: fast, may be stale.
    Local,
    /// Any replica, after catching up to a read index from the leader.
    Follower,
}

/// A read as it travels to a replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadCall {
    pub request: ReadRequest,
    pub consistency: ReadConsistency,
    /// The placement version the router routed with; `None` skips the check
    /// (catalog reads, tools).
    #[serde(default)]
    pub version: Option<ShardVersion>,
}

/// Membership and leadership actions, and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AdminRequest {
    /// Make `members` the group's first voters. A no-op on an initialised
    /// replica, so every replica can be told on every start.
    Initialize { members: BTreeMap<NodeId, String> },
    /// Add (or update the address of) a non-voting member; waits until it
    /// has caught up when `blocking`.
    AddLearner {
        node: NodeId,
        addr: String,
        blocking: bool,
    },
    /// Replace the voter set (joint consensus under the hood). Voters must
    /// already be members; removed voters leave the group.
    ChangeVoters { voters: BTreeSet<NodeId> },
    /// Hand leadership to `to` (must be a voter).
    TransferLeader { to: NodeId },
    /// The leader's read index (for follower reads).
    ReadIndex,
    /// This replica's view of the group.
    Status,
}

/// Answers to [`AdminRequest`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AdminReply {
    Done,
    ReadIndex(u64),
    Status(Box<GroupStatus>),
}

/// One replica's view of its group, for `lauradb ctl status` and tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupStatus {
    pub group: GroupId,
    pub node: NodeId,
    /// `Leader`, `Follower`, `Candidate`, `Learner` or `Shutdown`.
    pub state: String,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub last_log_index: Option<u64>,
    pub committed_index: Option<u64>,
    pub applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
    pub members: BTreeMap<NodeId, String>,
    /// On the leader: how many entries each member is behind the leader's
    /// last log index (`None` when nothing has been acknowledged yet).
    pub lag: BTreeMap<NodeId, Option<u64>>,
}

/// A replica of one group hosted by this node.
pub struct Group {
    pub id: GroupId,
    pub node: NodeId,
    pub raft: Raft,
    pub engine: Arc<Engine>,
    pub clock: Arc<HybridClock>,
    pub(crate) snapshots: crate::snapshot_file::SnapshotDir,
    pub(crate) pool: ChannelPool,
    pub(crate) proposer: Proposer,
    /// What the background MVCC collection removed so far.
    pub gc: Arc<crate::gc::GcTotals>,
    /// `lauradb_raft_write_seconds`, registered once (a registry lookup per
    /// write showed in profiles).
    pub(crate) write_seconds: metrics::Histogram,
}

/// "Not the leader" (with openraft's hint) or "unavailable".
fn raft_error<E>(group: GroupId, e: RaftError<TypeConfig, E>) -> ClientError
where
    E: std::error::Error + TryAsRef<ForwardToLeader<TypeConfig>>,
{
    match e.forward_to_leader() {
        Some(forward) => ClientError::NotLeader {
            group,
            leader: forward
                .leader_id
                .zip(forward.leader_node.as_ref().map(|n| n.addr.clone())),
        },
        None => ClientError::Unavailable {
            group,
            reason: e.to_string(),
        },
    }
}

pub(crate) fn write_error(
    group: GroupId,
    e: RaftError<TypeConfig, ClientWriteError<TypeConfig>>,
) -> ClientError {
    match e {
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            ClientError::Raft(e.to_string())
        }
        other => raft_error(group, other),
    }
}

impl Group {
    /// Proposes a command (with the bytes it was decoded from, which are
    /// what the log stores) and waits for it to be committed and applied.
    #[tracing::instrument(level = "debug", skip_all, fields(group = self.id, op = command.command.op.name()))]
    pub async fn write(&self, command: EncodedCommand) -> Result<Response, ClientError> {
        let started = std::time::Instant::now();
        let result = self.proposer.write(command).await;
        self.write_seconds.record(started.elapsed().as_secs_f64());
        result
    }

    /// Runs a read at the requested consistency.
    pub async fn read(&self, call: &ReadCall) -> Result<ReadOutput, ClientError> {
        self.read_raw(call)
            .await?
            .into_output()
            .map_err(engine_read_error)
    }

    /// [`Group::read`] with found documents left as the BSON bytes the engine
    /// holds, as the shard server sends them (see `RawReadOutput`).
    #[tracing::instrument(level = "debug", skip_all, fields(group = self.id, consistency = ?call.consistency))]
    pub async fn read_raw(&self, call: &ReadCall) -> Result<RawReadOutput, ClientError> {
        match call.consistency {
            ReadConsistency::Local => {}
            ReadConsistency::Linearizable => {
                self.raft
                    .ensure_linearizable(ReadPolicy::ReadIndex)
                    .await
                    .map_err(|e| raft_error(self.id, e))?;
            }
            ReadConsistency::Follower => {
                let index = self.leader_read_index().await?;
                self.raft
                    .wait(Some(FOLLOWER_CATCH_UP))
                    .applied_index_at_least(Some(index), "follower read")
                    .await
                    .map_err(|e| ClientError::Unavailable {
                        group: self.id,
                        reason: format!("replica did not catch up to read index {index}: {e}"),
                    })?;
            }
        }
        if let Some(sent) = call.version
            && let Some(ns) = call.request.namespace()
        {
            self.engine
                .check_routing(ns, sent)
                .map_err(engine_read_error)?;
        }
        if let ReadRequest::Aggregate { .. } = &call.request {
            // A pipeline can run for a while: keep it off the async workers
            // that drive Raft (heartbeats, appends) and the network.
            let (engine, request) = (self.engine.clone(), call.request.clone());
            return tokio::task::spawn_blocking(move || {
                execute_read_raw(&engine, &request, ReadAt::Latest).map_err(engine_read_error)
            })
            .await
            .map_err(|e| ClientError::Storage(format!("aggregate task failed: {e}")))?;
        }
        execute_read_raw(&self.engine, &call.request, ReadAt::Latest).map_err(engine_read_error)
    }

    /// The read index of the leader: this replica's own if it leads,
    /// otherwise asked of the leader over gRPC.
    async fn leader_read_index(&self) -> Result<u64, ClientError> {
        if self.raft.is_leader() {
            return self.local_read_index().await;
        }
        let metrics = self.raft.metrics().borrow_watched().clone();
        let Some(leader) = metrics.current_leader else {
            return Err(ClientError::Unavailable {
                group: self.id,
                reason: "no known leader for a follower read".into(),
            });
        };
        let addr = metrics
            .membership_config
            .get_node(&leader)
            .map(|n| n.addr.clone())
            .ok_or_else(|| ClientError::Unavailable {
                group: self.id,
                reason: format!("leader {leader} has no address"),
            })?;
        let client = crate::client::NodeClient::new(self.pool.clone(), leader, addr);
        match client.admin(self.id, &AdminRequest::ReadIndex).await? {
            AdminReply::ReadIndex(index) => Ok(index),
            other => Err(ClientError::Raft(format!(
                "unexpected reply to ReadIndex: {other:?}"
            ))),
        }
    }

    async fn local_read_index(&self) -> Result<u64, ClientError> {
        let (read_log_id, _) = self
            .raft
            .get_read_log_id(ReadPolicy::ReadIndex)
            .await
            .map_err(|e| raft_error(self.id, e))?;
        Ok(read_log_id.index())
    }

    /// Runs a membership / leadership action or reports status.
    #[tracing::instrument(level = "debug", skip_all, fields(group = self.id))]
    pub async fn admin(&self, request: AdminRequest) -> Result<AdminReply, ClientError> {
        let raft_error = |e: &dyn std::fmt::Display| ClientError::Raft(e.to_string());
        match request {
            AdminRequest::Initialize { members } => {
                if self
                    .raft
                    .is_initialized()
                    .await
                    .map_err(|e| raft_error(&e))?
                {
                    return Ok(AdminReply::Done);
                }
                let members: BTreeMap<NodeId, Node> = members
                    .into_iter()
                    .map(|(id, addr)| (id, Node::new(addr)))
                    .collect();
                match self.raft.initialize(members).await {
                    Ok(()) => Ok(AdminReply::Done),
                    // Another replica initialised the group first.
                    Err(RaftError::APIError(openraft::error::InitializeError::NotAllowed(_))) => {
                        Ok(AdminReply::Done)
                    }
                    Err(e) => Err(raft_error(&e)),
                }
            }
            AdminRequest::AddLearner {
                node,
                addr,
                blocking,
            } => {
                let node_info = Node::new(addr);
                self.raft
                    .add_learner(node, node_info, blocking)
                    .await
                    .map_err(|e| write_error(self.id, e))?;
                Ok(AdminReply::Done)
            }
            AdminRequest::ChangeVoters { voters } => {
                self.raft
                    .change_membership(ChangeMembers::ReplaceAllVoters(voters), false)
                    .await
                    .map_err(|e| write_error(self.id, e))?;
                Ok(AdminReply::Done)
            }
            AdminRequest::TransferLeader { to } => {
                if !self.raft.is_leader() {
                    return Err(self.not_leader());
                }
                self.raft
                    .trigger()
                    .transfer_leader(to)
                    .await
                    .map_err(|e| raft_error(&e))?;
                Ok(AdminReply::Done)
            }
            AdminRequest::ReadIndex => Ok(AdminReply::ReadIndex(self.local_read_index().await?)),
            AdminRequest::Status => Ok(AdminReply::Status(Box::new(self.status()))),
        }
    }

    /// "Not the leader", with the leader this replica knows of.
    pub fn not_leader(&self) -> ClientError {
        let metrics = self.raft.metrics().borrow_watched().clone();
        ClientError::NotLeader {
            group: self.id,
            leader: metrics.current_leader.and_then(|id| {
                metrics
                    .membership_config
                    .get_node(&id)
                    .map(|n| (id, n.addr.clone()))
            }),
        }
    }

    /// This replica's view of the group.
    pub fn status(&self) -> GroupStatus {
        let m = self.raft.metrics().borrow_watched().clone();
        let membership = m.membership_config.membership();
        let last = m.last_log_index.unwrap_or(0);
        GroupStatus {
            group: self.id,
            node: self.node,
            state: match m.state {
                ServerState::Leader => "Leader",
                ServerState::Follower => "Follower",
                ServerState::Candidate => "Candidate",
                ServerState::Learner => "Learner",
                ServerState::Shutdown => "Shutdown",
            }
            .to_string(),
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index,
            committed_index: m.local_committed.map(|l| l.index),
            applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            members: membership
                .nodes()
                .map(|(id, n)| (*id, n.addr.clone()))
                .collect(),
            lag: m
                .replication
                .as_ref()
                .map(|r| {
                    r.iter()
                        .map(|(id, matched)| (*id, matched.map(|l| last.saturating_sub(l.index))))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// How an engine error during a read reaches the client.
fn engine_read_error(error: lauradb_engine::Error) -> ClientError {
    match error {
        lauradb_engine::Error::StaleConfig { ns, sent, have } => {
            ClientError::StaleConfig { ns, sent, have }
        }
        e if e.is_user_error() => ClientError::BadRequest(e.to_string()),
        e => ClientError::Storage(e.to_string()),
    }
}
