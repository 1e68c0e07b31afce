//! Proposal batching: many concurrent client writes, one log entry.
//!
//! Every log entry costs the same fixed work whatever it carries: openraft's
//! bookkeeping, a sled insert into the log on each replica, a frame in each
//! follower's append stream, a trip through the state-machine worker. Under
//! load that fixed cost, not the commands, is what limits a group. So writes
//! do not go to openraft one by one: [`Group::write`](crate::group::Group)
//! queues them here, and one task per group turns whatever has queued into a
//! single [`Proposal`] with many commands.
//!
//! ```text
//!  write ─┐                     ┌─ entry [c1 c2 c3] ─▶ openraft ─▶ apply ─┐
//!  write ─┼─▶ queue ─▶ batcher ─┤                                        │
//!  write ─┘     ▲               └─ (waits for a free pipeline slot)       │
//!               └──────────── each writer gets its own Response ◀────────┘
//! ```
//!
//! * **Adaptive.** The batcher never waits for more writes to arrive. It
//!   waits only for a free *pipeline slot* (at most
//!   [`RaftSettings::proposals_in_flight`](crate::RaftSettings) entries are
//!   proposed but not yet applied); while it waits, writes pile up in the
//!   queue and the next entry takes all of them. One client sees no added
//!   delay; 64 clients share a few entries.
//! * **Bounded.** An entry takes at most [`MAX_COMMANDS`] commands and about
//!   [`MAX_BYTES`] of encoded commands (a single larger command still goes,
//!   alone).
//! * **Ordered.** Entries are handed to openraft in the order they were
//!   formed, and commands keep their queue order inside an entry.
//! * **Independent results.** Each command is applied as its own engine
//!   commit with its own result (see [`crate::state_machine`]); one
//!   command's error (a duplicate key, say) does not touch its neighbours.
//!   A Raft-level failure (not the leader, shutting down) fails every
//!   command of the entry with the same error.

use std::sync::Arc;
use std::time::Instant;

use openraft::error::RaftError;
use openraft::raft::responder::ProgressResponder;
use tokio::sync::{mpsc, oneshot};

use crate::batching::{BatchQueue, Batchable};

use crate::clock::HybridClock;
use crate::commands::{Commands, EncodedCommand};
use crate::error::ClientError;
use crate::types::{GroupId, Proposal, Raft, Response};

/// Most commands one log entry carries.
pub const MAX_COMMANDS: usize = 256;
/// Most encoded command bytes one log entry carries (unless one command
/// alone is larger).
pub const MAX_BYTES: usize = 4 << 20;

/// One queued write.
struct Pending {
    command: EncodedCommand,
    reply: oneshot::Sender<Result<Response, ClientError>>,
}

/// The write queue of one group; the batcher task drains it.
pub(crate) struct Proposer {
    group: GroupId,
    queue: mpsc::UnboundedSender<Pending>,
}

impl Proposer {
    /// Starts the batcher task of `group` on the current runtime. It stops
    /// when the proposer is dropped.
    pub fn start(
        group: GroupId,
        raft: Raft,
        clock: Arc<HybridClock>,
        in_flight: usize,
    ) -> Proposer {
        let (queue, rx) = mpsc::unbounded_channel();
        let batcher = Batcher {
            group,
            raft,
            clock,
            queue: BatchQueue::new(rx, in_flight, MAX_COMMANDS, MAX_BYTES),
        };
        tokio::spawn(batcher.run());
        Proposer { group, queue }
    }

    /// Queues `command` and waits for its result.
    pub async fn write(&self, command: EncodedCommand) -> Result<Response, ClientError> {
        let (reply, result) = oneshot::channel();
        let pending = Pending { command, reply };
        let stopped = || ClientError::Unavailable {
            group: self.group,
            reason: "the group is shutting down".into(),
        };
        self.queue.send(pending).map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }
}

impl Batchable for Pending {
    fn bytes(&self) -> usize {
        self.command.encoded.len()
    }
}

/// Forms entries from the queue and proposes them.
struct Batcher {
    group: GroupId,
    raft: Raft,
    clock: Arc<HybridClock>,
    /// One slot per entry proposed and not yet applied.
    queue: BatchQueue<Pending>,
}

impl Batcher {
    async fn run(mut self) {
        while let Some((slot, batch)) = self.queue.next().await {
            self.propose(batch, slot).await;
        }
    }

    /// Hands one entry to openraft (in formation order) and lets a task wait
    /// for its outcome and answer each writer.
    async fn propose(&self, batch: Vec<Pending>, slot: tokio::sync::OwnedSemaphorePermit) {
        let started = Instant::now();
        metrics::histogram!("lauradb_raft_proposal_commands").record(batch.len() as f64);
        let (commands, replies): (Vec<EncodedCommand>, Vec<_>) =
            batch.into_iter().map(|p| (p.command, p.reply)).unzip();
        let proposal = Proposal {
            stamp: self.clock.now(),
            commands: Commands::from_encoded(commands),
        };
        let (responder, outcome) = ProgressResponder::complete_only();
        let group = self.group;
        if let Err(fatal) = self.raft.write(proposal).responder(responder).await {
            let error = crate::group::write_error(group, RaftError::Fatal(fatal));
            answer_all(replies, &error);
            return;
        }
        let clock = self.clock.clone();
        tokio::spawn(async move {
            let outcome = outcome.await;
            drop(slot);
            metrics::histogram!("lauradb_raft_proposal_seconds")
                .record(started.elapsed().as_secs_f64());
            match outcome {
                Ok(Ok(written)) => {
                    let responses = written.data.responses;
                    if let Some(latest) = responses.iter().map(|r| r.commit_ts).max() {
                        clock.observe(latest);
                    }
                    if responses.len() != replies.len() {
                        let error = ClientError::Raft(format!(
                            "an entry of {} commands produced {} results",
                            replies.len(),
                            responses.len()
                        ));
                        answer_all(replies, &error);
                        return;
                    }
                    for (reply, response) in replies.into_iter().zip(responses) {
                        let _ = reply.send(Ok(response));
                    }
                }
                Ok(Err(e)) => {
                    let error = crate::group::write_error(group, RaftError::APIError(e));
                    answer_all(replies, &error);
                }
                Err(_) => answer_all(
                    replies,
                    &ClientError::Unavailable {
                        group,
                        reason: "the replica stopped before the write was applied; it may or may not have been".into(),
                    },
                ),
            }
        });
    }
}

fn answer_all(replies: Vec<oneshot::Sender<Result<Response, ClientError>>>, error: &ClientError) {
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}
