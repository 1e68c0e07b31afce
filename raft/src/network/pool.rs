//! One gRPC channel per peer address, shared by every group and every caller.
//!
//! A tonic `Channel` multiplexes many concurrent calls over one HTTP/2
//! connection and reconnects by itself, so the pool only has to make sure
//! that each address gets exactly one. Channels connect lazily: creating a
//! client for a peer that is down costs nothing until it is used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// How long a connection attempt may take before the peer counts as
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Shared channels keyed by `host:port`.
#[derive(Clone, Default)]
pub struct ChannelPool {
    channels: Arc<Mutex<HashMap<String, Channel>>>,
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
}
