//! The client library for a Raft group: find the leader, follow hints, retry
//! safely.
//!
//! [`NodeClient`] talks to one node. [`GroupClient`] talks to a group through
//! whichever member leads: it remembers the last leader, follows `NotLeader`
//! hints, rotates through members when one is unreachable, and keeps trying
//! until a deadline. Writes are retried with the **same request id**, and the
//! engine remembers the last result per session, so a write whose first
//! attempt did commit (but whose reply was lost to a leader change) is not
//! applied twice. A write that runs out of time is *indeterminate*
//! ([`ClientError::Unavailable`]), never reported as failed. Concurrent
//! writes share their first attempt's RPC (see [`crate::coalescer`]). Calls
//! to a node running in this process skip gRPC (see
//! [`crate::network::local`]); writes to such a leader are not coalesced.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use lauradb_engine::command::{Command, RequestId};
use lauradb_engine::dataapi::{ReadOutput, ReadRequest};
use lauradb_engine::sharding::ShardVersion;
use lauradb_proto::shard::group_service_client::GroupServiceClient;
use lauradb_proto::shard::{GroupReply, GroupRequest};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::coalescer::{Attempt, Coalescer};
use crate::codec::{decode, encode};
use crate::commands::EncodedCommand;
use crate::error::ClientError;
use crate::group::{AdminReply, AdminRequest, ReadCall, ReadConsistency};
use crate::network::ChannelPool;
use crate::network::local::{self, GroupRpc};
use crate::types::{GroupId, NodeId, Response};

/// Per-attempt RPC timeout.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Talks to one node.
#[derive(Clone)]
pub struct NodeClient {
    pool: ChannelPool,
    node: NodeId,
    addr: String,
}

impl NodeClient {
    pub fn new(pool: ChannelPool, node: NodeId, addr: String) -> NodeClient {
        NodeClient { pool, node, addr }
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        rpc: GroupRpc,
        group: GroupId,
        request: &Req,
    ) -> Result<Resp, ClientError> {
        let payload = encode(request).map_err(|e| ClientError::BadRequest(e.to_string()))?;
        self.call_encoded(rpc, group, payload).await
    }

    /// One RPC with an already encoded payload.
    async fn call_encoded<Resp: DeserializeOwned>(
        &self,
        rpc: GroupRpc,
        group: GroupId,
        payload: Vec<u8>,
    ) -> Result<Resp, ClientError> {
        let unavailable = |reason: String| ClientError::Unavailable { group, reason };
        let request = GroupRequest {
            group,
            target: self.node,
            payload,
        };
        let reply = match self.pool.local_node(&self.addr) {
            Some(node) => local::call(&node, rpc, request, ATTEMPT_TIMEOUT).await,
            // Boxed: a tonic call is a large future, and the local path
            // beside it (the common one in `lauradb dev`) would carry it.
            None => Box::pin(self.call_remote(rpc, request)).await,
        }
        .map_err(|status| self.call_error(group, status))?;
        if reply.from != self.node {
            return Err(ClientError::WrongNode {
                expected: self.node,
                actual: reply.from,
            });
        }
        decode::<Result<Resp, ClientError>>(&reply.payload)
            .map_err(|e| unavailable(format!("undecodable reply from node {}: {e}", self.node)))?
    }

    /// What a failed call means to the caller.
    fn call_error(&self, group: GroupId, status: tonic::Status) -> ClientError {
        match status.code() {
            tonic::Code::NotFound => ClientError::UnknownGroup(group),
            // The node could not decode the request: retrying cannot help.
            tonic::Code::InvalidArgument => ClientError::BadRequest(status.message().to_string()),
            _ => ClientError::Unavailable {
                group,
                reason: format!("node {} at {}: {}", self.node, self.addr, status.message()),
            },
        }
    }

    /// Proposes `command` on this node, handing it over decoded if the node
    /// runs in this process (see [`local::write`]), else sending its bytes.
    async fn write_handing_over(
        &self,
        group: GroupId,
        command: EncodedCommand,
    ) -> Result<Response, ClientError> {
        match self.pool.local_node(&self.addr) {
            // Boxed once here, so that the layers above (the leader-following
            // loop, the router's routing) do not each embed the proposal's
            // future and copy it when they start.
            Some(node) => Box::pin(local::write(
                &node,
                group,
                self.node,
                command,
                ATTEMPT_TIMEOUT,
            ))
            .await
            .map_err(|status| self.call_error(group, status))?,
            None => {
                self.call_encoded(GroupRpc::Write, group, command.encoded)
                    .await
            }
        }
    }

    /// One call over gRPC.
    async fn call_remote(
        &self,
        rpc: GroupRpc,
        request: GroupRequest,
    ) -> Result<GroupReply, tonic::Status> {
        let channel = self
            .pool
            .channel(&self.addr)
            .map_err(|e| tonic::Status::unavailable(format!("bad address {}: {e}", self.addr)))?;
        let mut client = GroupServiceClient::new(channel)
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20);
        let mut request = tonic::Request::new(request);
        request.set_timeout(ATTEMPT_TIMEOUT);
        match rpc {
            GroupRpc::Write => client.write(request).await,
            GroupRpc::WriteBatch => client.write_batch(request).await,
            GroupRpc::Read => client.read(request).await,
            GroupRpc::Admin => client.admin(request).await,
        }
        .map(tonic::Response::into_inner)
    }

    /// Whether this node runs in this process (calls skip the transport).
    pub(crate) fn is_local(&self) -> bool {
        self.pool.local_node(&self.addr).is_some()
    }

    /// Proposes a command on this node (which must lead the group).
    pub async fn write(&self, group: GroupId, command: &Command) -> Result<Response, ClientError> {
        self.call(GroupRpc::Write, group, command).await
    }

    /// Proposes many commands on this node in one call; `payload` is an rmp
    /// array of encoded commands. One result per command, in order.
    pub(crate) async fn write_batch_encoded(
        &self,
        group: GroupId,
        payload: Vec<u8>,
    ) -> Result<Vec<Result<Response, ClientError>>, ClientError> {
        self.call_encoded(GroupRpc::WriteBatch, group, payload)
            .await
    }

    /// Runs a read on this node.
    pub async fn read(&self, group: GroupId, call: &ReadCall) -> Result<ReadOutput, ClientError> {
        self.call(GroupRpc::Read, group, call).await
    }

    /// Runs an admin action on this node.
    pub async fn admin(
        &self,
        group: GroupId,
        request: &AdminRequest,
    ) -> Result<AdminReply, ClientError> {
        self.call(GroupRpc::Admin, group, request).await
    }
}

/// Talks to a group through its leader.
pub struct GroupClient {
    group: GroupId,
    pool: ChannelPool,
    members: Mutex<Vec<(NodeId, String)>>,
    /// Index into `members` of the node tried first.
    preferred: AtomicUsize,
    /// Idle sessions and the last sequence number each used. A write takes
    /// one for its whole life (retries included) and puts it back after, so
    /// every session has at most one request in flight and its sequence
    /// numbers reach the engine in order; the pool grows to the client's
    /// peak concurrency.
    sessions: Mutex<Vec<(u128, u64)>>,
    /// Sends first attempts of concurrent writes together (started on the
    /// first write, on that caller's runtime).
    coalescer: OnceLock<Coalescer>,
    /// How long one call keeps retrying before giving up.
    pub deadline: Duration,
}

/// A process-unique session id for request ids.
fn new_session() -> u128 {
    let oid = bson::oid::ObjectId::new().bytes();
    let mut bytes = [0_u8; 16];
    bytes[..12].copy_from_slice(&oid);
    bytes[12..].copy_from_slice(&std::process::id().to_be_bytes());
    u128::from_be_bytes(bytes)
}

impl GroupClient {
    /// A client for `group`, whose members are `(node id, address)` pairs.
    pub fn new(
        group: GroupId,
        members: Vec<(NodeId, String)>,
        pool: ChannelPool,
    ) -> Arc<GroupClient> {
        Arc::new(GroupClient {
            group,
            pool,
            members: Mutex::new(members),
            preferred: AtomicUsize::new(0),
            sessions: Mutex::new(Vec::new()),
            coalescer: OnceLock::new(),
            deadline: Duration::from_secs(15),
        })
    }

    pub fn group(&self) -> GroupId {
        self.group
    }

    /// The node the next call goes to first.
    fn target(&self, attempt: usize) -> NodeClient {
        let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        let i = (self.preferred.load(Ordering::Relaxed) + attempt) % members.len().max(1);
        let (node, addr) = members.get(i).cloned().unwrap_or((0, String::new()));
        NodeClient::new(self.pool.clone(), node, addr)
    }

    /// Remembers `leader` as the node to try first (adding it if unknown).
    fn prefer(&self, leader: &(NodeId, String)) {
        let mut members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        let i = match members.iter().position(|(id, _)| *id == leader.0) {
            Some(i) => {
                members[i].1 = leader.1.clone();
                i
            }
            None => {
                members.push(leader.clone());
                members.len() - 1
            }
        };
        self.preferred.store(i, Ordering::Relaxed);
    }

    /// Runs `call` against the leader, following hints and retrying
    /// retryable failures until the deadline.
    async fn with_leader<T, F, Fut>(&self, mut call: F) -> Result<T, ClientError>
    where
        F: FnMut(NodeClient) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let deadline = Instant::now() + self.deadline;
        let mut hints_in_a_row = 0_u32;
        let mut attempt = 0_usize;
        let mut pause = Duration::from_millis(10);
        let mut last_error;
        loop {
            let node = self.target(attempt);
            match call(node.clone()).await {
                Ok(value) => {
                    if attempt != 0 {
                        let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(i) = members.iter().position(|(id, _)| *id == node.node()) {
                            self.preferred.store(i, Ordering::Relaxed);
                        }
                    }
                    return Ok(value);
                }
                Err(ClientError::NotLeader {
                    leader: Some(leader),
                    ..
                }) if leader.0 != node.node() => {
                    self.prefer(&leader);
                    attempt = 0;
                    last_error = None;
                    // A fresh hint is worth following at once; a chain of
                    // hints (stale views during an election) backs off.
                    hints_in_a_row += 1;
                    if hints_in_a_row == 1 && Instant::now() < deadline {
                        continue;
                    }
                }
                Err(e) if e.is_retryable() || matches!(e, ClientError::UnknownGroup(_)) => {
                    attempt += 1;
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
            if Instant::now() + pause >= deadline {
                metrics::counter!("lauradb_raft_client_gave_up_total").increment(1);
                return Err(match last_error {
                    Some(ClientError::NotLeader { .. }) | None => ClientError::Unavailable {
                        group: self.group,
                        reason: format!("no leader found within {:?}", self.deadline),
                    },
                    Some(e) => e,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Writes a command through the leader. A command without a request id
    /// gets one from an idle session of this client, so its retries are
    /// exactly-once; a command with a request id keeps it (the caller then
    /// owns ordering within that session).
    pub async fn write(&self, mut command: Command) -> Result<Response, ClientError> {
        let borrowed = match command.request {
            Some(_) => None,
            None => {
                let (session, last_seq) = self
                    .sessions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop()
                    .unwrap_or_else(|| (new_session(), 0));
                command.request = Some(RequestId {
                    session,
                    seq: last_seq + 1,
                });
                Some((session, last_seq + 1))
            }
        };
        let result = self.write_with_request_id(command).await;
        if let Some(session) = borrowed {
            // Whatever happened, the session's next request gets a higher
            // number, so its requests reach the engine in order.
            self.sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(session);
        }
        result
    }

    /// The first attempt goes with whatever other writes are queued (see
    /// [`crate::coalescer`]); retries go one by one through the leader. A
    /// leader in this process needs no coalescing (there is no call to
    /// share; its proposer batches the writes into entries), so writes go
    /// to it one by one from the start.
    async fn write_with_request_id(&self, command: Command) -> Result<Response, ClientError> {
        let encoded = encode(&command).map_err(|e| ClientError::BadRequest(e.to_string()))?;
        let first = self.target(0);
        let group = self.group;
        if first.is_local() {
            // The first attempt hands the command itself to the leader in
            // this process; any retry sends the bytes, like a remote call.
            let mut handover = Some(command);
            let encoded = &encoded;
            return self
                .with_leader(|node| {
                    let command = handover.take();
                    async move {
                        match command {
                            Some(command) => {
                                let encoded = encoded.clone();
                                node.write_handing_over(group, EncodedCommand { command, encoded })
                                    .await
                            }
                            None => {
                                node.call_encoded(GroupRpc::Write, group, encoded.clone())
                                    .await
                            }
                        }
                    }
                })
                .await;
        }
        let target = (first.node, first.addr);
        let coalescer = self
            .coalescer
            .get_or_init(|| Coalescer::start(self.group, self.pool.clone()));
        match Box::pin(coalescer.attempt(encoded, target)).await {
            Attempt::Done(result) => return result,
            Attempt::Retry { hint: Some(leader) } => self.prefer(&leader),
            Attempt::Retry { hint: None } => {}
        }
        metrics::counter!("lauradb_raft_client_batch_retries_total").increment(1);
        let command = &command;
        Box::pin(self.with_leader(|node| async move { node.write(group, command).await })).await
    }

    /// Reads through the leader (`Linearizable`, `Local`) or the preferred
    /// member (`Follower`).
    pub async fn read(
        &self,
        request: ReadRequest,
        consistency: ReadConsistency,
    ) -> Result<ReadOutput, ClientError> {
        self.read_versioned(request, consistency, None).await
    }

    /// Like [`GroupClient::read`], routed with a placement version the
    /// replica checks (a mismatch is [`ClientError::StaleConfig`]).
    pub async fn read_versioned(
        &self,
        request: ReadRequest,
        consistency: ReadConsistency,
        version: Option<ShardVersion>,
    ) -> Result<ReadOutput, ClientError> {
        let call = ReadCall {
            request,
            consistency,
            version,
        };
        let group = self.group;
        let call = &call;
        self.with_leader(|node| async move { node.read(group, call).await })
            .await
    }

    /// UNSAFE: a `Local` read from the next member in round-robin order,
    /// leader or not, with no check at all. Reads may be arbitrarily stale;
    /// it exists so the Jepsen suite can show that its checker notices.
    pub async fn read_any_replica_unchecked(
        &self,
        request: ReadRequest,
        version: Option<ShardVersion>,
    ) -> Result<ReadOutput, ClientError> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let call = ReadCall {
            request,
            consistency: ReadConsistency::Local,
            version,
        };
        let start = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut last = None;
        let members = self.members.lock().unwrap_or_else(|e| e.into_inner()).len();
        for attempt in 0..members {
            let node = self.target(start + attempt);
            match node.read(self.group, &call).await {
                Ok(output) => return Ok(output),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClientError::Unavailable {
            group: self.group,
            reason: "no members".into(),
        }))
    }

    /// Runs an admin action on the leader (membership changes, transfer).
    pub async fn admin(&self, request: AdminRequest) -> Result<AdminReply, ClientError> {
        let group = self.group;
        let request = &request;
        self.with_leader(|node| async move { node.admin(group, request).await })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future an `f` returns, without calling `f`.
    fn future_size<R>(_: impl FnOnce() -> R) -> usize {
        std::mem::size_of::<R>()
    }

    #[test]
    #[allow(unreachable_code, clippy::diverging_sub_expression)]
    fn the_local_write_path_does_not_carry_the_remote_one() {
        // Each layer embeds the future it awaits (and copies it as it
        // starts): the remote call and the proposal are boxed where they
        // begin, so the leader-following loop above them stays small.
        fn node() -> &'static NodeClient {
            unreachable!("only the types matter")
        }
        let call = future_size(|| node().call_encoded::<Response>(GroupRpc::Write, 0, Vec::new()));
        let handover = future_size(|| node().write_handing_over(0, unreachable!()));
        assert!(
            call <= 1024,
            "one call's future is {call} bytes (was 1,880)"
        );
        assert!(
            handover <= 2560,
            "a handed-over write's future is {handover} bytes (was 4,272)"
        );
    }
}
