//! The openraft type configuration, and the aliases the rest of LauraDB uses.
//!
//! Only this crate names openraft types. A log entry carries a [`Proposal`]:
//! one or more engine commands (concurrent writes batched by
//! [`crate::proposer`]) plus the leader's timestamp for them (DESIGN.md §3:
//! all nondeterminism is decided before proposing). Applying it yields one
//! [`Response`] per command, together an [`EntryResponses`].

use std::fmt;

use lauradb_engine::command::CommandResult;
use serde::{Deserialize, Serialize};

use crate::commands::Commands;

/// Identifies a Raft group (a shard, or the config group) across the cluster.
pub type GroupId = u64;
/// Identifies a node (a process hosting replicas of one or more groups).
pub type NodeId = u64;

/// What client writes become in the log: commands applied in order, each
/// as its own engine commit.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// The leader's hybrid-clock reading when it proposed; the engine commits
    /// each command at `max(previous + 1, stamp)`.
    pub stamp: u64,
    /// Kept as the bytes the client sent and decoded at apply (see
    /// [`crate::commands`]); clones share them.
    pub commands: Commands,
}

impl fmt::Debug for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Commands can hold whole documents; logs show only their shape (and
        // only when they are decoded anyway: formatting never decodes).
        let mut debug = f.debug_struct("Proposal");
        debug.field("stamp", &self.stamp);
        match self.commands.decoded_if_ready().as_deref() {
            Some(commands) => {
                let ops: Vec<(&str, Option<&lauradb_engine::command::RequestId>)> = commands
                    .iter()
                    .map(|c| (c.op.name(), c.request.as_ref()))
                    .collect();
                debug.field("ops", &ops)
            }
            None => debug.field("commands", &self.commands.len()),
        }
        .finish()
    }
}

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.commands.decoded_if_ready().as_deref() {
            Some([one]) => write!(f, "{}@{}", one.op.name(), self.stamp),
            _ => write!(f, "{} commands@{}", self.commands.len(), self.stamp),
        }
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

/// What applying one log entry produced: a [`Response`] per command of a
/// [`Proposal`], in order (one with no result for blanks and membership
/// changes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryResponses {
    pub responses: Vec<Response>,
}

openraft::declare_raft_types!(
    /// LauraDB's Raft types: u64 node ids, nodes addressed by their gRPC
    /// address, engine commands as application data.
    pub TypeConfig:
        D = Proposal,
        R = EntryResponses,
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
