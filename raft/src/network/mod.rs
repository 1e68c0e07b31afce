//! Raft and client traffic over gRPC.
//!
//! * [`pool`] — one lazily connected channel per peer address.
//! * [`client`] — openraft's `RaftNetworkV2` for one group and one peer.
//! * [`server`] — the node's tonic server: Raft RPCs and the group client
//!   service for every hosted group, addressed by group id.
//! * [`local`] — client calls to a node of the same process, run on its
//!   server's handlers without the transport.

mod client;
pub(crate) mod local;
mod pool;
mod server;

pub use client::{NetworkFactory, PeerClient, SNAPSHOT_CHUNK_BYTES};
pub use pool::ChannelPool;
pub use server::NodeServer;
