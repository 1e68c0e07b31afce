//! Errors of the Raft layer, as clients and operators see them.
//!
//! [`ClientError`] crosses the wire (rmp-serde inside gRPC replies), so a
//! client can tell "try the leader over there" from "the group is gone" from
//! "nobody knows yet" and act on it.

use serde::{Deserialize, Serialize};

use crate::types::{GroupId, NodeId};

/// Why a write, read or admin request did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum ClientError {
    /// This replica is not the leader. `leader` is who it believes leads now
    /// (id and address), when it knows.
    #[error("not the leader of group {group}; leader is {leader:?}")]
    NotLeader {
        group: GroupId,
        leader: Option<(NodeId, String)>,
    },
    /// The node does not host this group.
    #[error("group {0} is not hosted on this node")]
    UnknownGroup(GroupId),
    /// The request reached a node other than the one addressed.
    #[error("addressed node {expected} but node {actual} answered")]
    WrongNode { expected: NodeId, actual: NodeId },
    /// No replica could be reached, or none answered in time. For writes this
    /// is indeterminate: the write may or may not have been applied.
    #[error("group {group} unavailable: {reason}")]
    Unavailable { group: GroupId, reason: String },
    /// The request could not be decoded or is invalid.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The read was routed with a placement version other than the shard's
    /// (see `lauradb_engine::sharding`); the router refreshes and retries.
    #[error("stale routing for {ns}: routed with {sent}, shard has {have}")]
    StaleConfig {
        ns: String,
        sent: lauradb_engine::sharding::ShardVersion,
        have: lauradb_engine::sharding::ShardVersion,
    },
    /// A Raft-level failure (membership change refused, node shutting down…).
    #[error("raft: {0}")]
    Raft(String),
    /// The state machine failed (storage error); the replica stops serving.
    #[error("storage: {0}")]
    Storage(String),
}

impl ClientError {
    /// Whether the same request may succeed if retried elsewhere or later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ClientError::NotLeader { .. }
                | ClientError::Unavailable { .. }
                | ClientError::WrongNode { .. }
        )
    }
}
