//! The receiving side: one tonic server per node for every hosted group.
//!
//! Each request names a group and the node it was meant for. A request for
//! another node id is refused with `FAILED_PRECONDITION` (the sender's address
//! book is stale); a request for a group this node does not host gets
//! `NOT_FOUND`. Replies carry this node's id so the sender can check who
//! answered. openraft results travel as `Result<T, String>` in rmp-serde.

use std::sync::Arc;

use futures::StreamExt;
use lauradb_proto::raft::raft_service_server::{RaftService, RaftServiceServer};
use lauradb_proto::raft::{Envelope, Reply, SnapshotChunk};
use lauradb_proto::shard::group_service_server::{GroupService, GroupServiceServer};
use lauradb_proto::shard::{GroupReply, GroupRequest};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::{Request, Status, Streaming};

use crate::codec::{decode, encode};
use crate::commands::{EncodedCommand, split_batch};
use crate::error::ClientError;
use crate::group::{AdminRequest, Group, ReadCall};
use crate::node::RaftNode;
use crate::snapshot_file::SnapshotFile;
use crate::types::{Response, Snapshot, Vote};

const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// Serves one node's groups.
#[derive(Clone)]
pub struct NodeServer {
    node: Arc<RaftNode>,
}

impl NodeServer {
    pub fn new(node: Arc<RaftNode>) -> NodeServer {
        NodeServer { node }
    }

    /// Accepts connections on `listener` until `stop` turns true.
    pub async fn run(self, listener: TcpListener, mut stop: watch::Receiver<bool>) {
        // `serve_with_incoming` ignores the builder's TCP options, so set
        // TCP_NODELAY on each accepted socket here: without it small replies
        // wait for delayed ACKs (~40 ms).
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|stream| {
            let stream = stream?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(stream)
        });
        let raft = RaftServiceServer::new(self.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let group = GroupServiceServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let result = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(raft)
            .add_service(group)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "gRPC server failed");
        }
    }

    /// The addressed group, after checking the request was meant for us.
    pub(crate) fn group(&self, group: u64, target: u64) -> Result<Arc<Group>, Status> {
        if target != self.node.id() {
            return Err(Status::failed_precondition(format!(
                "this is node {}, not node {target}",
                self.node.id()
            )));
        }
        self.node.group(group).ok_or_else(|| {
            Status::not_found(format!(
                "group {group} is not hosted on node {}",
                self.node.id()
            ))
        })
    }

    /// The addressed group and the decoded request.
    fn open<T: serde::de::DeserializeOwned>(
        &self,
        group: u64,
        target: u64,
        payload: &[u8],
    ) -> Result<(Arc<Group>, T), Status> {
        let group = self.group(group, target)?;
        let request = decode(payload).map_err(bad_payload)?;
        Ok((group, request))
    }

    fn reply<T: Serialize, E: ToString>(
        &self,
        result: Result<T, E>,
    ) -> Result<tonic::Response<Reply>, Status> {
        let result = result.map_err(|e| e.to_string());
        let payload = encode(&result).map_err(|e| Status::internal(e.to_string()))?;
        Ok(tonic::Response::new(Reply {
            from: self.node.id(),
            payload,
        }))
    }

    fn group_reply<T: Serialize>(
        &self,
        result: Result<T, ClientError>,
    ) -> Result<tonic::Response<GroupReply>, Status> {
        let payload = encode(&result).map_err(|e| Status::internal(e.to_string()))?;
        Ok(tonic::Response::new(GroupReply {
            from: self.node.id(),
            payload,
        }))
    }
}

fn bad_payload(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("undecodable payload: {e}"))
}

/// The reply stream of a streaming append.
type ReplyStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<Reply, Status>> + Send>>;

#[tonic::async_trait]
impl RaftService for NodeServer {
    type StreamAppendStream = ReplyStream;

    async fn stream_append(
        &self,
        request: Request<Streaming<Envelope>>,
    ) -> Result<tonic::Response<ReplyStream>, Status> {
        let mut input = request.into_inner();
        let first = input
            .next()
            .await
            .ok_or_else(|| Status::invalid_argument("empty append stream"))??;
        let group = self.group(first.group, first.target)?;
        let address = (first.group, first.target);
        // Decode requests until the stream ends, or something undecodable or
        // addressed elsewhere arrives (which ends the stream; the leader
        // starts a new one).
        let requests = futures::stream::unfold(
            (Some(first), input),
            move |(pending, mut input)| async move {
                let envelope = match pending {
                    Some(envelope) => envelope,
                    None => input.next().await?.ok()?,
                };
                if (envelope.group, envelope.target) != address {
                    return None;
                }
                let rpc = decode(&envelope.payload).ok()?;
                Some((rpc, (None, input)))
            },
        );
        let from = self.node.id();
        let replies = group
            .raft
            .stream_append(Box::pin(requests))
            .map(move |result| {
                let result = result.map_err(|e| e.to_string());
                let payload = encode(&result).map_err(|e| Status::internal(e.to_string()))?;
                Ok(Reply { from, payload })
            });
        Ok(tonic::Response::new(Box::pin(replies)))
    }

    async fn append(&self, request: Request<Envelope>) -> Result<tonic::Response<Reply>, Status> {
        let envelope = request.into_inner();
        let (group, rpc) = self.open(envelope.group, envelope.target, &envelope.payload)?;
        self.reply(group.raft.append_entries(rpc).await)
    }

    async fn vote(&self, request: Request<Envelope>) -> Result<tonic::Response<Reply>, Status> {
        let envelope = request.into_inner();
        let (group, rpc) = self.open(envelope.group, envelope.target, &envelope.payload)?;
        self.reply(group.raft.vote(rpc).await)
    }

    async fn pre_vote(&self, request: Request<Envelope>) -> Result<tonic::Response<Reply>, Status> {
        let envelope = request.into_inner();
        let (group, rpc) = self.open(envelope.group, envelope.target, &envelope.payload)?;
        self.reply(group.raft.pre_vote(rpc).await)
    }

    async fn transfer_leader(
        &self,
        request: Request<Envelope>,
    ) -> Result<tonic::Response<Reply>, Status> {
        let envelope = request.into_inner();
        let (group, rpc) = self.open(envelope.group, envelope.target, &envelope.payload)?;
        self.reply(group.raft.handle_transfer_leader(rpc).await)
    }

    async fn install_snapshot(
        &self,
        request: Request<Streaming<SnapshotChunk>>,
    ) -> Result<tonic::Response<Reply>, Status> {
        let mut stream = request.into_inner();
        let first = stream
            .next()
            .await
            .ok_or_else(|| Status::invalid_argument("empty snapshot stream"))??;
        let head = first
            .head
            .ok_or_else(|| Status::invalid_argument("first snapshot chunk has no head"))?;
        let group = self.group(head.group, head.target)?;
        let vote: Vote = decode(&head.payload).map_err(bad_payload)?;
        // Receive into the group's snapshot directory; the state machine
        // renames the file into place when it installs it.
        let path = group.snapshots.temp_path("received");
        let received = async {
            let mut file = tokio::fs::File::create(&path).await?;
            file.write_all(&first.data).await?;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(std::io::Error::other)?;
                file.write_all(&chunk.data).await?;
            }
            file.sync_all().await?;
            std::io::Result::Ok(())
        }
        .await;
        if let Err(e) = received {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(Status::aborted(format!("snapshot transfer failed: {e}")));
        }
        let file = SnapshotFile { path: path.clone() };
        let meta = match tokio::task::spawn_blocking({
            let file = file.clone();
            move || file.open().map(|(meta, _)| meta)
        })
        .await
        {
            Ok(Ok(meta)) => meta,
            Ok(Err(e)) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(Status::invalid_argument(format!(
                    "received snapshot is unreadable: {e}"
                )));
            }
            Err(e) => return Err(Status::internal(e.to_string())),
        };
        let result = group
            .raft
            .install_full_snapshot(
                vote,
                Snapshot {
                    meta,
                    snapshot: file,
                },
            )
            .await;
        // Installed snapshots were renamed away; anything left was refused.
        let _ = tokio::fs::remove_file(&path).await;
        self.reply(result)
    }
}

#[tonic::async_trait]
impl GroupService for NodeServer {
    async fn write(
        &self,
        request: Request<GroupRequest>,
    ) -> Result<tonic::Response<GroupReply>, Status> {
        let request = request.into_inner();
        let group = self.group(request.group, request.target)?;
        let command = EncodedCommand::decode(request.payload).map_err(bad_payload)?;
        self.group_reply(group.write(command).await)
    }

    async fn write_batch(
        &self,
        request: Request<GroupRequest>,
    ) -> Result<tonic::Response<GroupReply>, Status> {
        let request = request.into_inner();
        let group = self.group(request.group, request.target)?;
        // Each command keeps its own bytes: those are what the log stores.
        let commands = split_batch(&request.payload).map_err(bad_payload)?;
        // Every command joins the group's proposer queue in order (join_all
        // polls them in order), so they share log entries.
        let results: Vec<Result<Response, ClientError>> =
            futures::future::join_all(commands.into_iter().map(|command| group.write(command)))
                .await;
        self.group_reply(Ok::<_, ClientError>(results))
    }

    async fn read(
        &self,
        request: Request<GroupRequest>,
    ) -> Result<tonic::Response<GroupReply>, Status> {
        let request = request.into_inner();
        let (group, call): (_, ReadCall) =
            self.open(request.group, request.target, &request.payload)?;
        self.group_reply(group.read_raw(&call).await)
    }

    async fn admin(
        &self,
        request: Request<GroupRequest>,
    ) -> Result<tonic::Response<GroupReply>, Status> {
        let request = request.into_inner();
        let (group, admin): (_, AdminRequest) =
            self.open(request.group, request.target, &request.payload)?;
        self.group_reply(group.admin(admin).await)
    }
}
