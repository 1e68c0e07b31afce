//! LauraDB's gRPC envelopes.
//!
//! Two services, both addressed by Raft group id so that one server port per
//! node serves every group the node hosts:
//!
//! * [`raft`] — the Raft RPCs between replicas (append, vote, leadership
//!   transfer, streamed snapshot install).
//! * [`shard`] — the client side of a group: `Write`, `Read` and `Admin`.
//!
//! Payloads are rmp-serde bytes of Rust types owned by `lauradb-raft`;
//! protobuf describes only the envelopes (group, addressed node, answering
//! node).

/// Raft RPCs between replicas.
pub mod raft {
    tonic::include_proto!("lauradb.raft");
}

/// The client side of a Raft group.
pub mod shard {
    tonic::include_proto!("lauradb.shard");
}
