//! Client calls to a node of the same process, without the transport.
//!
//! `lauradb dev` runs the router and every node in one process; without
//! this, each routed write would be encoded into an HTTP/2 stream, cross
//! loopback TCP and be decoded again, only to reach a handler a function
//! call away (under load that was about a tenth of the process's CPU).
//! CockroachDB's gateway does the same for its local node.
//!
//! What stays identical to the gRPC path, so callers cannot tell the
//! difference except by speed:
//!
//! * **The same handler.** A call runs the node's own [`GroupService`]
//!   methods on a [`NodeServer`]: the same addressing checks (node id,
//!   hosted group), the same decoding of the payload (a leader still
//!   decodes every command it proposes), the same encoded reply.
//! * **The same timeout.** A call that takes longer than the attempt
//!   timeout ends with `DEADLINE_EXCEEDED`, as tonic's would.
//! * **The same reachability.** A node that stopped serving (shut down,
//!   killed, dropped) answers `UNAVAILABLE`, like a refused connection.
//!
//! Only client calls ([`NodeClient`](crate::NodeClient)) take this path.
//! Raft's replication, votes and snapshots between replicas always use
//! gRPC, so a replicated write still crosses the network to each follower.

use std::sync::Weak;
use std::time::Duration;

use lauradb_proto::shard::group_service_server::GroupService;
use lauradb_proto::shard::{GroupReply, GroupRequest};
use tonic::Status;

use crate::network::NodeServer;
use crate::node::RaftNode;

/// The calls of the group client service.
#[derive(Clone, Copy, Debug)]
pub(crate) enum GroupRpc {
    Write,
    WriteBatch,
    Read,
    Admin,
}

/// Runs `rpc` on `node` as its gRPC server would, within `timeout`.
pub(crate) async fn call(
    node: &Weak<RaftNode>,
    rpc: GroupRpc,
    request: GroupRequest,
    timeout: Duration,
) -> Result<GroupReply, Status> {
    let node = node
        .upgrade()
        .filter(|node| node.is_serving())
        .ok_or_else(|| Status::unavailable("the node is not serving (stopped)"))?;
    let server = NodeServer::new(node);
    let request = tonic::Request::new(request);
    let reply = async {
        match rpc {
            GroupRpc::Write => server.write(request).await,
            GroupRpc::WriteBatch => server.write_batch(request).await,
            GroupRpc::Read => server.read(request).await,
            GroupRpc::Admin => server.admin(request).await,
        }
    };
    match tokio::time::timeout(timeout, reply).await {
        Ok(reply) => reply.map(tonic::Response::into_inner),
        Err(_) => Err(Status::deadline_exceeded(format!(
            "no answer within {timeout:?}"
        ))),
    }
}
