//! The openraft type configuration, and the aliases the rest of LauraDB uses.
//!
//! Only this crate names openraft types. A log entry carries a [`Proposal`]:
//! the engine command plus the leader's timestamp for it (DESIGN.md §3: all
//! nondeterminism is decided before proposing). Applying it yields a
//! [`Response`].

use std::fmt;

use lauradb_engine::command::{Command, CommandResult};
use serde::{Deserialize, Serialize};

/// Identifies a Raft group (a shard, or the config group) across the cluster.
pub type GroupId = u64;
/// Identifies a node (a process hosting replicas of one or more groups).
pub type NodeId = u64;

/// What a client write becomes in the log.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// The leader's hybrid-clock reading when it proposed; the engine commits
    /// at `max(previous + 1, stamp)`.
    pub stamp: u64,
    pub command: Command,
}

impl fmt::Debug for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Commands can hold whole documents; logs show only their shape.
        f.debug_struct("Proposal")
            .field("stamp", &self.stamp)
            .field("op", &self.command.op.name())
            .field("request", &self.command.request)
            .finish()
    }
}

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.command.op.name(), self.stamp)
    }
}

/// What applying a log entry produced, sent back to the proposer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The commit timestamp the engine gave the entry.
    pub commit_ts: u64,
    /// The command's own result (`None` for entries that carry no command:
    /// blanks and membership changes).
    pub result: Option<CommandResult>,
}

openraft::declare_raft_types!(
    /// LauraDB's Raft types: u64 node ids, nodes addressed by their gRPC
    /// address, engine commands as application data.
    pub TypeConfig:
        D = Proposal,
        R = Response,
        NodeId = NodeId,
        Node = openraft::BasicNode,
);

pub type Raft = openraft::Raft<TypeConfig, crate::state_machine::StateMachineStore>;
pub type LogId = openraft::alias::LogIdOf<TypeConfig>;
pub type Vote = openraft::alias::VoteOf<TypeConfig>;
pub type Entry = openraft::alias::EntryOf<TypeConfig>;
pub type StoredMembership = openraft::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::alias::SnapshotMetaOf<TypeConfig>;
pub type Snapshot = openraft::alias::SnapshotOf<TypeConfig, crate::snapshot_file::SnapshotFile>;
pub type Node = openraft::BasicNode;
