//! The document engine as openraft's state machine.
//!
//! Each committed entry is applied to the engine in log order, and the
//! entry's log id (plus, for membership entries, the new membership) is stored
//! as an engine *embedder record* **in the same atomic commit** as the data it
//! covers. So after a crash the engine's `raft_applied` record names exactly
//! the last entry whose effects survived: openraft re-applies from the next
//! one, never skipping and never applying twice.
//!
//! Snapshots come for free from MVCC: a snapshot is the engine's state at one
//! commit timestamp, exported while `apply` goes on committing newer versions,
//! and its Raft metadata is read from the embedder records *as of that
//! timestamp*. Building flushes the engine first, so once openraft purges the
//! log up to a snapshot, the engine on disk already covers it.
//!
//! Installing a snapshot replaces the engine state atomically (engine
//! guarantee); the embedder records inside the snapshot carry its log id and
//! membership, so state and metadata switch together.

use std::io;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use lauradb_engine::engine::Engine;
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder};

use crate::codec::{decode_io, encode_io};
use crate::snapshot_file::{SnapshotDir, SnapshotFile};
use crate::types::{LogId, Response, Snapshot, SnapshotMeta, StoredMembership, TypeConfig};

/// Embedder record: the log id of the last applied entry.
const APPLIED: &str = "raft_applied";
/// Embedder record: the last applied membership.
const MEMBERSHIP: &str = "raft_membership";

/// The state machine of one group: an engine plus its snapshot directory.
#[derive(Clone)]
pub struct StateMachineStore {
    engine: Arc<Engine>,
    snapshots: SnapshotDir,
}

fn engine_io(e: lauradb_engine::Error) -> io::Error {
    io::Error::other(e)
}

impl StateMachineStore {
    pub fn new(engine: Arc<Engine>, snapshots: SnapshotDir) -> StateMachineStore {
        StateMachineStore { engine, snapshots }
    }

    /// The engine, for reads.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn read_applied(&self, ts: Option<u64>) -> io::Result<(Option<LogId>, StoredMembership)> {
        let record = |name| match ts {
            Some(ts) => self.engine.embedder_record_at(name, ts),
            None => self.engine.embedder_record(name),
        };
        let applied = match record(APPLIED).map_err(engine_io)? {
            Some(bytes) => decode_io(&bytes)?,
            None => None,
        };
        let membership = match record(MEMBERSHIP).map_err(engine_io)? {
            Some(bytes) => decode_io(&bytes)?,
            None => StoredMembership::default(),
        };
        Ok((applied, membership))
    }

    /// Applies one entry and returns what its proposer is told.
    fn apply_entry(&self, entry: crate::types::Entry) -> io::Result<Response> {
        let applied = encode_io(&Some(entry.log_id))?;
        match entry.payload {
            EntryPayload::Normal(proposal) => {
                let out = self
                    .engine
                    .apply_with(&proposal.command, proposal.stamp, &[(APPLIED, applied)])
                    .map_err(engine_io)?;
                Ok(Response {
                    commit_ts: out.commit_ts,
                    result: Some(out.result),
                })
            }
            EntryPayload::Blank => {
                let commit_ts = self
                    .engine
                    .apply_embedder_records(0, &[(APPLIED, applied)])
                    .map_err(engine_io)?;
                Ok(Response {
                    commit_ts,
                    result: None,
                })
            }
            EntryPayload::Membership(membership) => {
                let stored = StoredMembership::new(Some(entry.log_id), membership);
                let commit_ts = self
                    .engine
                    .apply_embedder_records(
                        0,
                        &[(APPLIED, applied), (MEMBERSHIP, encode_io(&stored)?)],
                    )
                    .map_err(engine_io)?;
                Ok(Response {
                    commit_ts,
                    result: None,
                })
            }
        }
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotFile;
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        self.read_applied(None)
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> io::Result<()>
    where
        Strm: Stream<Item = io::Result<EntryResponder<TypeConfig>>> + Unpin + OptionalSend,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            let response = self.apply_entry(entry)?;
            if let Some(responder) = responder {
                responder.send(response);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotFile,
    ) -> io::Result<()> {
        let engine = self.engine.clone();
        let snapshots = self.snapshots.clone();
        let meta = meta.clone();
        tokio::task::spawn_blocking(move || {
            let (file_meta, body) = snapshot.open()?;
            if file_meta != meta {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "snapshot file meta does not match the installed meta",
                ));
            }
            engine
                .install_snapshot(lauradb_engine::engine::read_records(body))
                .map_err(engine_io)?;
            engine.flush().map_err(engine_io)?;
            // Snapshots received over gRPC are already in the snapshot
            // directory (written and synced by the server): rename them into
            // place. One from elsewhere is copied and synced first, so the
            // current snapshot is never a torn file.
            if snapshot.path.parent() == Some(snapshots.dir()) {
                snapshots.adopt(&snapshot.path, &meta)?;
            } else {
                let copy = snapshots.temp_path("installed");
                std::fs::copy(&snapshot.path, &copy)?;
                std::fs::File::open(&copy)?.sync_all()?;
                snapshots.adopt(&copy, &meta)?;
            }
            metrics::counter!("lauradb_raft_snapshots_installed_total").increment(1);
            Ok(())
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<Snapshot>> {
        let Some(file) = self.snapshots.current()? else {
            return Ok(None);
        };
        let (meta, _) = file.open()?;
        Ok(Some(Snapshot {
            meta,
            snapshot: file,
        }))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    type SnapshotData = SnapshotFile;

    async fn build_snapshot(&mut self) -> io::Result<Snapshot> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let reader = this.engine.snapshot();
            let ts = reader.ts();
            let (last_log_id, last_membership) = this.read_applied(Some(ts))?;
            let meta = SnapshotMeta {
                last_log_id,
                last_membership,
            };
            // The log is purged up to this snapshot next; make sure the
            // engine on disk covers it first.
            this.engine.flush().map_err(engine_io)?;
            let file = this.snapshots.write(&meta, |out| {
                reader.write_to(out).map(|_| ()).map_err(engine_io)
            })?;
            metrics::counter!("lauradb_raft_snapshots_built_total").increment(1);
            metrics::histogram!("lauradb_raft_snapshot_build_seconds")
                .record(started.elapsed().as_secs_f64());
            tracing::info!(
                ?last_log_id,
                bytes = file.size_bytes().unwrap_or(0),
                "built snapshot"
            );
            Ok(Snapshot {
                meta,
                snapshot: file,
            })
        })
        .await
        .map_err(io::Error::other)?
    }
}
