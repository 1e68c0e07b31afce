//! Client-side write coalescing: many concurrent writes, one RPC.
//!
//! A router serving hundreds of HTTP requests would otherwise open one gRPC
//! call per write, and at that rate the calls themselves (HTTP/2 streams,
//! task wake-ups on both ends) cost more than the writes. So a
//! [`GroupClient`](crate::GroupClient) sends each write's *first attempt*
//! through its coalescer: writes that arrive while [`RPCS_IN_FLIGHT`] calls
//! are out wait, and the next `WriteBatch` call carries all of them to the
//! leader, where they join the same proposal queue (and so, mostly, the same
//! log entry; see `proposer`).
//!
//! * **Retries stay per write.** When a batched attempt fails in a way that
//!   retrying can fix (the node no longer leads, it is unreachable, the call
//!   timed out), each write falls back to the ordinary leader-following
//!   retry loop, with its **same request id** — so a write whose batched
//!   attempt did commit is not applied twice.
//! * **Encoded once.** Each command is encoded when it is queued; a batch's
//!   payload is an rmp array header followed by those bytes.
//! * **No added wait.** A write that finds a free slot is sent at once.

use tokio::sync::{mpsc, oneshot};

use crate::batching::{BatchQueue, Batchable};
use crate::client::NodeClient;
use crate::error::ClientError;
use crate::network::ChannelPool;
use crate::types::{GroupId, NodeId, Response};

/// Most `WriteBatch` calls one client has out at once.
pub const RPCS_IN_FLIGHT: usize = 2;
/// Most commands in one call.
const MAX_COMMANDS: usize = 256;
/// Most encoded bytes in one call (unless one command alone is larger).
const MAX_BYTES: usize = 4 << 20;

/// What a batched first attempt came to.
pub(crate) enum Attempt {
    /// The write's final answer (success, or an error retrying cannot fix).
    Done(Result<Response, ClientError>),
    /// Retry through the leader-following loop; `hint` is a leader the
    /// failed attempt learnt of.
    Retry { hint: Option<(NodeId, String)> },
}

struct Queued {
    encoded: Vec<u8>,
    reply: oneshot::Sender<Attempt>,
}

/// The coalescer of one [`GroupClient`](crate::GroupClient).
pub(crate) struct Coalescer {
    queue: mpsc::UnboundedSender<ForNode>,
}

impl Coalescer {
    /// Starts the sender task on the current runtime; it ends when the
    /// coalescer is dropped.
    pub fn start(group: GroupId, pool: ChannelPool) -> Coalescer {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(
            Sender {
                group,
                pool,
                queue: BatchQueue::new(rx, RPCS_IN_FLIGHT, MAX_COMMANDS, MAX_BYTES),
            }
            .run(),
        );
        Coalescer { queue }
    }

    /// Sends `encoded` (one rmp-encoded command) to `target` in the next
    /// batch and waits for what became of it.
    pub async fn attempt(&self, encoded: Vec<u8>, target: (NodeId, String)) -> Attempt {
        let (reply, answer) = oneshot::channel();
        if self
            .queue
            .send(ForNode {
                queued: Queued { encoded, reply },
                target,
            })
            .is_err()
        {
            return Attempt::Retry { hint: None };
        }
        answer.await.unwrap_or(Attempt::Retry { hint: None })
    }
}

/// A queued write and the node it is meant for.
struct ForNode {
    queued: Queued,
    target: (NodeId, String),
}

impl Batchable for ForNode {
    fn bytes(&self) -> usize {
        self.queued.encoded.len()
    }
    fn joins(&self, first: &Self) -> bool {
        self.target == first.target
    }
}

struct Sender {
    group: GroupId,
    pool: ChannelPool,
    queue: BatchQueue<ForNode>,
}

impl Sender {
    async fn run(mut self) {
        while let Some((slot, batch)) = self.queue.next().await {
            let (group, pool) = (self.group, self.pool.clone());
            let target = batch[0].target.clone();
            let batch = batch.into_iter().map(|b| b.queued).collect();
            tokio::spawn(async move {
                send(group, pool, target, batch).await;
                drop(slot);
            });
        }
    }
}

/// One `WriteBatch` call, and each write told what became of it.
async fn send(group: GroupId, pool: ChannelPool, target: (NodeId, String), batch: Vec<Queued>) {
    metrics::histogram!("lauradb_raft_client_batch_commands").record(batch.len() as f64);
    let mut payload = Vec::with_capacity(5 + batch.iter().map(|q| q.encoded.len()).sum::<usize>());
    // An rmp array of the commands, each already encoded.
    rmp::encode::write_array_len(&mut payload, batch.len() as u32)
        .expect("writing to a Vec cannot fail");
    for queued in &batch {
        payload.extend_from_slice(&queued.encoded);
    }
    let (node, addr) = target;
    match NodeClient::new(pool, node, addr)
        .write_batch_encoded(group, payload)
        .await
    {
        Ok(results) if results.len() == batch.len() => {
            for (queued, result) in batch.into_iter().zip(results) {
                let _ = queued.reply.send(classify(result));
            }
        }
        Err(ClientError::NotLeader { leader, .. }) => retry_all(batch, leader),
        // Whatever else went wrong with the call as a whole (unreachable,
        // timed out, a node that does not know the group or the call), each
        // write finds out for itself on its own retry path.
        _ => retry_all(batch, None),
    }
}

/// A per-command result: final, or worth a retry.
fn classify(result: Result<Response, ClientError>) -> Attempt {
    match result {
        Err(ClientError::NotLeader { leader, .. }) => Attempt::Retry { hint: leader },
        Err(e) if e.is_retryable() => Attempt::Retry { hint: None },
        other => Attempt::Done(other),
    }
}

fn retry_all(batch: Vec<Queued>, hint: Option<(NodeId, String)>) {
    for queued in batch {
        let _ = queued.reply.send(Attempt::Retry { hint: hint.clone() });
    }
}
