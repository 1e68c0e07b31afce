//! LauraDB's Raft layer: replicated document engines.
//!
//! Every shard, and the config server, is a Raft group of (usually) three
//! replicas. This crate turns the document engine into such a group with
//! openraft, and keeps openraft's types inside it.
//!
//! ```text
//!   client ──Write/Read/Admin──▶ NodeServer ──▶ Group ──Proposer──▶ openraft
//!                                  (gRPC)                                  │
//!      peers ◀──Append/Vote/Snapshot── PeerClient ◀── replication ─────────┤
//!                                                                          ▼
//!                         LogStore (sled, group-committed fsync)   StateMachineStore (engine)
//! ```
//!
//! A tour, bottom up:
//!
//! * [`types`] — the openraft type config: a log entry is a [`types::Proposal`]
//!   (engine commands plus the leader's timestamp).
//! * [`commands`] — an entry's commands stay the bytes the client sent, from
//!   the leader's log to every follower's; replicas decode them to apply.
//! * [`log_store`] — log and vote on sled, durable before acknowledged, one
//!   fsync for many appends; `log_cache` keeps the newest entries decoded.
//! * [`state_machine`] — the engine as state machine; last-applied and
//!   membership commit atomically with the data; snapshots from MVCC.
//! * [`snapshot_file`] — snapshot files, written aside and renamed.
//! * [`network`] — gRPC transport and server, addressed by group id.
//! * [`group`] — one hosted replica: write, read at a consistency level,
//!   admin actions, status.
//! * `proposer` — batches concurrent writes into one log entry.
//! * `batching` — the queue both the proposer and the coalescer drain.
//! * [`gc`] — removes MVCC versions no read can see any more.
//! * `checkpoint` — builds a snapshot once the log grew by enough bytes.
//! * [`node`] — a process hosting many groups on one port.
//! * [`client`] — leader-following, exactly-once-retrying client.
//! * `coalescer` — the client's concurrent writes share one RPC.
//! * [`clock`] — the hybrid logical clock that stamps proposals.
//! * [`huge_pages`] — why servers turn transparent huge pages off.

mod batching;
mod checkpoint;
pub mod client;
pub mod clock;
mod coalescer;
mod codec;
pub mod commands;
pub mod error;
pub mod gc;
pub mod group;
pub mod huge_pages;
mod log_cache;
pub mod log_store;
pub mod metrics;
pub mod network;
pub mod node;
mod proposer;
pub mod snapshot_file;
pub mod state_machine;
pub mod types;

pub use client::{GroupClient, NodeClient};
pub use error::ClientError;
pub use group::{AdminReply, AdminRequest, Group, GroupStatus, ReadCall, ReadConsistency};
pub use node::{EngineStorage, NodeConfig, NodeError, RaftNode, RaftSettings, Replicas};
pub use types::{GroupId, NodeId, Response};
