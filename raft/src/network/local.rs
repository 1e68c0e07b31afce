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
//!   hosted group), the same decoding of the payload, the same encoded
//!   reply.
//! * **Except for a write's first attempt, which needs no decoding.** The
//!   client holds the command it encoded, so [`write`] hands over both —
//!   the command to apply on the leader, its bytes to store in the log and
//!   send to the followers — and the result as it is, not encoded. (Over
//!   gRPC the leader decodes the bytes instead; that decode was a fortieth
//!   of the CPU of a put.) Leader and followers still apply the same
//!   command, because decoding what [`crate::codec::encode`] wrote gives
//!   back the command itself (`commands::tests` checks it for every kind of
//!   command and value). Addressing checks, timeout and reachability are
//!   those of [`call`].
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

use crate::commands::EncodedCommand;
use crate::error::ClientError;
use crate::network::NodeServer;
use crate::node::RaftNode;
use crate::types::{GroupId, NodeId, Response};

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
    let server = serving(node)?;
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
        Err(_) => Err(no_answer(timeout)),
    }
}

/// Proposes `command` on `node` (which must be `target` and host `group`)
/// as its `Write` handler would, but without decoding the command's bytes
/// or encoding the result (see the module documentation).
pub(crate) async fn write(
    node: &Weak<RaftNode>,
    group: GroupId,
    target: NodeId,
    command: EncodedCommand,
    timeout: Duration,
) -> Result<Result<Response, ClientError>, Status> {
    let group = serving(node)?.group(group, target)?;
    tokio::time::timeout(timeout, group.write(command))
        .await
        .map_err(|_| no_answer(timeout))
}

/// A server for `node`, if it still serves.
fn serving(node: &Weak<RaftNode>) -> Result<NodeServer, Status> {
    node.upgrade()
        .filter(|node| node.is_serving())
        .map(NodeServer::new)
        .ok_or_else(|| Status::unavailable("the node is not serving (stopped)"))
}

fn no_answer(timeout: Duration) -> Status {
    Status::deadline_exceeded(format!("no answer within {timeout:?}"))
}
