//! The sending side of Raft RPCs: openraft's network traits over gRPC.
//!
//! openraft asks a [`NetworkFactory`] (one per group) for a client per peer;
//! each [`PeerClient`] wraps the pooled channel to that peer's address. Every
//! request names the group and the node it is meant for, and every reply
//! names the node that answered: if an address now belongs to a different
//! node, the call fails as *unreachable* instead of talking to a stranger.
//!
//! Unreachable peers are retried with exponential back-off ([`retry_delay`]:
//! 50 ms doubling to 2 s), so a dead node costs little. openraft applies that
//! back-off as it pulls the next request from a replication stream; a stream
//! that cannot even be opened is never pulled from, so
//! [`PeerClient::stream_append`] waits out the delay itself before it reports
//! the peer unreachable. Without that wait a leader retried a dead follower
//! at once, tens of thousands of times a second, with two warnings each.
//! Snapshots stream as 1 MiB chunks of the snapshot file; the first chunk
//! also carries the leader's vote.

use std::time::Duration;

use futures::StreamExt;
use lauradb_proto::raft::raft_service_client::RaftServiceClient;
use lauradb_proto::raft::{Envelope, Reply, SnapshotChunk};
use openraft::base::{BoxFuture, BoxStream};
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{Backoff, RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult,
    TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{OptionalSend, RaftNetworkV2};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::AsyncReadExt;
use tonic::transport::Channel;

use super::pool::ChannelPool;
use crate::codec::{decode, encode};
use crate::snapshot_file::SnapshotFile;
use crate::types::{GroupId, Node, NodeId, Snapshot, TypeConfig, Vote};

/// Bytes per snapshot chunk.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

/// The wait before retry number `attempt` (from 0) of an unreachable peer:
/// 50 ms, doubling, at most 2 s.
fn retry_delay(attempt: u32) -> Duration {
    Duration::from_millis(50)
        .saturating_mul(2_u32.saturating_pow(attempt.min(16)))
        .min(Duration::from_secs(2))
}

/// Creates peer clients for one group.
#[derive(Clone)]
pub struct NetworkFactory {
    group: GroupId,
    pool: ChannelPool,
}

impl NetworkFactory {
    pub fn new(group: GroupId, pool: ChannelPool) -> NetworkFactory {
        NetworkFactory { group, pool }
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> PeerClient {
        PeerClient {
            group: self.group,
            target,
            addr: node.addr.clone(),
            channel: self.pool.channel(&node.addr).map_err(|e| e.to_string()),
            failed_streams: 0,
        }
    }
}

/// Sends one group's Raft RPCs to one peer.
pub struct PeerClient {
    group: GroupId,
    target: NodeId,
    addr: String,
    channel: Result<Channel, String>,
    /// Replication streams that failed to open since the last one that did.
    failed_streams: u32,
}

/// The unary Raft RPCs.
#[derive(Debug, Clone, Copy)]
enum UnaryRpc {
    Append,
    Vote,
    PreVote,
    TransferLeader,
}

impl UnaryRpc {
    /// The metrics label.
    fn name(self) -> &'static str {
        match self {
            UnaryRpc::Append => "append",
            UnaryRpc::Vote => "vote",
            UnaryRpc::PreVote => "pre_vote",
            UnaryRpc::TransferLeader => "transfer_leader",
        }
    }
}

/// A transport failure, as an error value openraft can wrap.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TransportError(String);

impl PeerClient {
    fn client(&self) -> Result<RaftServiceClient<Channel>, TransportError> {
        match &self.channel {
            Ok(channel) => Ok(RaftServiceClient::new(channel.clone())
                .max_decoding_message_size(256 << 20)
                .max_encoding_message_size(256 << 20)),
            Err(e) => Err(TransportError(format!("bad address {}: {e}", self.addr))),
        }
    }

    fn envelope<T: Serialize>(&self, request: &T) -> Result<Envelope, RPCError<TypeConfig>> {
        Ok(Envelope {
            group: self.group,
            target: self.target,
            payload: encode(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?,
        })
    }

    /// Checks who answered and decodes the remote `Result`.
    fn open_reply<T: DeserializeOwned>(&self, reply: Reply) -> Result<T, RPCError<TypeConfig>> {
        if reply.from != self.target {
            return Err(RPCError::Unreachable(Unreachable::new(&TransportError(
                format!(
                    "{} is node {}, not node {}",
                    self.addr, reply.from, self.target
                ),
            ))));
        }
        let result: Result<T, String> =
            decode(&reply.payload).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|remote| RPCError::Network(NetworkError::new(&TransportError(remote))))
    }

    fn status_error(&self, status: tonic::Status) -> RPCError<TypeConfig> {
        metrics::counter!("lauradb_raft_rpc_errors_total", "code" => format!("{:?}", status.code()))
            .increment(1);
        let error = TransportError(format!(
            "{} ({}): {}",
            self.addr,
            self.target,
            status.message()
        ));
        match status.code() {
            tonic::Code::Unavailable | tonic::Code::FailedPrecondition | tonic::Code::NotFound => {
                RPCError::Unreachable(Unreachable::new(&error))
            }
            _ => RPCError::Network(NetworkError::new(&error)),
        }
    }

    fn unreachable(e: TransportError) -> RPCError<TypeConfig> {
        RPCError::Unreachable(Unreachable::new(&e))
    }

    async fn unary<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        kind: UnaryRpc,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, RPCError<TypeConfig>> {
        let started = std::time::Instant::now();
        let mut client = self.client().map_err(Self::unreachable)?;
        let mut request = tonic::Request::new(self.envelope(request)?);
        request.set_timeout(timeout);
        let reply = match kind {
            UnaryRpc::Append => client.append(request).await,
            UnaryRpc::Vote => client.vote(request).await,
            UnaryRpc::PreVote => client.pre_vote(request).await,
            UnaryRpc::TransferLeader => client.transfer_leader(request).await,
        }
        .map_err(|s| self.status_error(s))?;
        metrics::histogram!("lauradb_raft_rpc_seconds", "rpc" => kind.name())
            .record(started.elapsed().as_secs_f64());
        self.open_reply(reply.into_inner())
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotFile;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.unary(UnaryRpc::Append, &rpc, option.hard_ttl()).await
    }

    /// Pipelined replication over one gRPC bidirectional stream: openraft
    /// keeps several appends in flight, and the follower answers each in
    /// order (so its flusher can cover several with one fsync).
    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        _option: RPCOption,
    ) -> BoxFuture<
        's,
        Result<
            BoxStream<'s, Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>>,
            RPCError<TypeConfig>,
        >,
    >
    where
        S: futures::Stream<Item = AppendEntriesRequest<TypeConfig>>
            + OptionalSend
            + Unpin
            + 'static,
    {
        Box::pin(async move {
            let (group, target) = (self.group, self.target);
            let requests = input.map(move |rpc| Envelope {
                group,
                target,
                // Encoding an openraft message cannot fail; if it ever did,
                // the empty payload makes the follower end the stream.
                payload: encode(&rpc).unwrap_or_default(),
            });
            let opened = match self.client() {
                Ok(mut client) => client
                    .stream_append(requests)
                    .await
                    .map_err(|s| self.status_error(s)),
                Err(e) => Err(Self::unreachable(e)),
            };
            let replies = match opened {
                Ok(replies) => {
                    self.failed_streams = 0;
                    replies.into_inner()
                }
                Err(error) => {
                    // See the module documentation: openraft's back-off
                    // never runs for a stream that did not open.
                    if matches!(error, RPCError::Unreachable(_)) {
                        tokio::time::sleep(retry_delay(self.failed_streams)).await;
                        self.failed_streams = self.failed_streams.saturating_add(1);
                    }
                    return Err(error);
                }
            };
            let this: &'s PeerClient = self;
            let results = replies.map(move |reply| match reply {
                Ok(reply) => this.open_reply::<StreamAppendResult<TypeConfig>>(reply),
                Err(status) => Err(this.status_error(status)),
            });
            Ok(Box::pin(results) as BoxStream<'s, _>)
        })
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.unary(UnaryRpc::Vote, &rpc, option.hard_ttl()).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.unary(UnaryRpc::PreVote, &rpc, option.hard_ttl()).await
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.unary(UnaryRpc::TransferLeader, &req, option.hard_ttl())
            .await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let started = std::time::Instant::now();
        let to_streaming = |e: RPCError<TypeConfig>| match e {
            RPCError::Unreachable(u) => StreamingError::Unreachable(u),
            RPCError::Timeout(t) => StreamingError::Timeout(t),
            RPCError::Network(n) => StreamingError::Network(n),
            RPCError::RemoteError(r) => StreamingError::Network(NetworkError::new(&r)),
        };
        let mut client = self
            .client()
            .map_err(|e| to_streaming(Self::unreachable(e)))?;
        let head = self.envelope(&vote).map_err(to_streaming)?;
        let mut file = tokio::fs::File::open(&snapshot.snapshot.path)
            .await
            .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        // The head first (no data), then the file in chunks, fed by a reader
        // task through a small channel so at most a few chunks are in memory.
        let (tx, rx) = tokio::sync::mpsc::channel::<SnapshotChunk>(4);
        tokio::spawn(async move {
            let head = SnapshotChunk {
                head: Some(head),
                data: Vec::new(),
            };
            if tx.send(head).await.is_err() {
                return;
            }
            loop {
                let mut buf = vec![0_u8; SNAPSHOT_CHUNK_BYTES];
                let mut filled = 0;
                while filled < buf.len() {
                    match file.read(&mut buf[filled..]).await {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) => {
                            // Ending short makes the receiver's parse fail.
                            tracing::warn!(error = %e, "reading snapshot file failed");
                            return;
                        }
                    }
                }
                if filled == 0 {
                    return;
                }
                buf.truncate(filled);
                if tx
                    .send(SnapshotChunk {
                        head: None,
                        data: buf,
                    })
                    .await
                    .is_err()
                    || filled < SNAPSHOT_CHUNK_BYTES
                {
                    return;
                }
            }
        });
        let chunks = tokio_stream::wrappers::ReceiverStream::new(rx);
        let call = client.install_snapshot(chunks);
        let reply = tokio::select! {
            reply = call => reply.map_err(|s| to_streaming(self.status_error(s)))?,
            closed = cancel => return Err(StreamingError::Closed(closed)),
        };
        let response = self.open_reply(reply.into_inner()).map_err(to_streaming)?;
        metrics::counter!("lauradb_raft_snapshots_sent_total").increment(1);
        metrics::histogram!("lauradb_raft_snapshot_send_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(response)
    }

    fn backoff(&self) -> Option<Backoff> {
        Some(Backoff::new((0..).map(retry_delay)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_50_ms_doubling_to_2_s() {
        let delays: Vec<u64> = (0..8).map(|n| retry_delay(n).as_millis() as u64).collect();
        assert_eq!(delays, vec![50, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(retry_delay(u32::MAX), Duration::from_secs(2));
    }

    /// A follower that is down must not be retried in a loop: each failed
    /// attempt to open a replication stream waits out the back-off.
    #[tokio::test]
    async fn a_stream_to_a_dead_peer_is_retried_no_faster_than_the_back_off() {
        // An address nothing listens on.
        let addr = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().to_string()
        };
        let mut factory = NetworkFactory::new(1, ChannelPool::new());
        let mut peer = factory.new_client(2, &Node { addr }).await;
        let started = std::time::Instant::now();
        for _ in 0..3 {
            let opened = peer
                .stream_append(
                    futures::stream::empty::<AppendEntriesRequest<TypeConfig>>(),
                    RPCOption::new(Duration::from_secs(1)),
                )
                .await;
            assert!(
                matches!(opened, Err(RPCError::Unreachable(_))),
                "a dead peer is unreachable"
            );
        }
        // 50 + 100 + 200 ms of back-off at least.
        assert!(
            started.elapsed() >= Duration::from_millis(350),
            "three failed attempts took only {:?}",
            started.elapsed()
        );
        assert_eq!(peer.failed_streams, 3);
    }
}
