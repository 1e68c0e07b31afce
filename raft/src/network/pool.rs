//! One gRPC channel per peer address, shared by every group and every caller.
//!
//! A tonic `Channel` multiplexes many concurrent calls over one HTTP/2
//! connection and reconnects by itself, so the pool only has to make sure
//! that each address gets exactly one. Channels connect lazily: creating a
//! client for a peer that is down costs nothing until it is used.
//!
//! A pool can also know nodes that run **in this process** (see
//! [`ChannelPool::serve_locally`]): client calls to them skip the transport
//! (see `crate::network::local`). Raft's own traffic between replicas never
//! does; it always crosses gRPC.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::node::RaftNode;

/// How long a connection attempt may take before the peer counts as
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Shared channels keyed by `host:port`.
#[derive(Clone, Default)]
pub struct ChannelPool {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    /// Nodes of this process by the address they serve on. Weak: a pool
    /// must not keep a stopped node alive (nodes hold pools themselves).
    local: Arc<RwLock<HashMap<String, Weak<RaftNode>>>>,
}

impl ChannelPool {
    pub fn new() -> ChannelPool {
        ChannelPool::default()
    }

    /// The channel to `addr` (`host:port`), created on first use.
    pub fn channel(&self, addr: &str) -> Result<Channel, tonic::transport::Error> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(channel) = channels.get(addr) {
            return Ok(channel.clone());
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
            .connect_lazy();
        channels.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }

    /// Client calls ([`NodeClient`](crate::NodeClient)) through this pool to
    /// `addr` go straight to `node`, which runs in this process and serves
    /// on `addr`, instead of over gRPC. The answers are the same: the call
    /// runs the node's own gRPC handler, with the same timeout, and a node
    /// that stopped serving is unreachable, as it would be over the network.
    pub fn serve_locally(&self, addr: &str, node: &Arc<RaftNode>) {
        self.local
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(addr.to_string(), Arc::downgrade(node));
    }

    /// Whether `addr` is a node of this process (see
    /// [`ChannelPool::serve_locally`]), serving or not.
    pub(crate) fn local_node(&self, addr: &str) -> Option<Weak<RaftNode>> {
        let local = self.local.read().unwrap_or_else(|e| e.into_inner());
        if local.is_empty() {
            return None;
        }
        local.get(addr).cloned()
    }
}
