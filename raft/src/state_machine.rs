//! The document engine as openraft's state machine.
//!
//! Each committed entry is applied to the engine in log order, and the
//! entry's log id (plus, for membership entries, the new membership) is stored
//! as an engine *embedder record* **in the same atomic commit** as the data it
//! covers. So after a crash the engine's `raft_applied` record names exactly
//! the last entry whose effects survived: openraft re-applies from the next
//! one, never skipping and never applying twice.
//!
//! An entry may carry many commands (see [`crate::proposer`]); each is its
//! own engine commit. The last one records the entry in `raft_applied`. One
//! before it records `(entry, commands done)` in `raft_partial` if it has no
//! request id; one with a request id needs no record, because the engine
//! answers a repeated request from the session's stored result without
//! applying it again (DESIGN.md §3, exactly-once). When the entry is applied
//! again — after a crash between two of its commits, or on a replica that
//! installed a snapshot taken between them — the commands `raft_partial`
//! counts are skipped and the rest are either new or answered from their
//! session. So the rule holds per command: never skipped, never applied twice.
//!
//! Snapshots come for free from MVCC: a snapshot is the engine's state at one
//! commit timestamp, exported while `apply` goes on committing newer versions,
//! and its Raft metadata is read from the embedder records *as of that
//! timestamp*. Building flushes the engine first, so once openraft purges the
//! log up to a snapshot, the engine on disk already covers it. An in-memory
//! engine has nothing on disk but the snapshot file, which is synced before
//! the build returns: on restart openraft installs it and re-applies the
//! log after it.
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
use crate::types::{
    EntryResponses, LogId, Proposal, Response, Snapshot, SnapshotMeta, StoredMembership, TypeConfig,
};

/// Embedder record: the log id of the last applied entry.
const APPLIED: &str = "raft_applied";
/// Embedder record: the last applied membership.
const MEMBERSHIP: &str = "raft_membership";
/// Embedder record: `(log id, n)` while the entry after `raft_applied` has
/// had its first `n` commands applied (and not yet the rest).
const PARTIAL: &str = "raft_partial";

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

    /// How many commands of the entry `log_id` a crash or snapshot left
    /// applied (0 when that entry was not started).
    fn commands_done(&self, log_id: &LogId) -> io::Result<usize> {
        let partial: Option<(LogId, usize)> =
            match self.engine.embedder_record(PARTIAL).map_err(engine_io)? {
                Some(bytes) => decode_io(&bytes)?,
                None => None,
            };
        Ok(match partial {
            Some((id, done)) if id == *log_id => done,
            _ => 0,
        })
    }

    /// Applies the commands of one normal entry, each as its own engine
    /// commit. Only the last commit records the entry as applied. A command
    /// before it records how far into the entry it got (`raft_partial`) —
    /// unless it carries a request id: applied again, such a command is
    /// answered from its session record without any effect, so it needs no
    /// progress record of its own. Either way a restart in the middle of an
    /// entry never applies a command twice.
    fn apply_proposal(&self, log_id: LogId, proposal: &Proposal) -> io::Result<Vec<Response>> {
        // Decoding can only fail on corrupt bytes: the leader proposed only
        // bytes it had decoded (see `crate::commands`).
        let commands = proposal.commands.decode()?;
        let count = commands.len();
        if count == 0 {
            self.engine
                .apply_embedder_records(0, &[(APPLIED, encode_io(&Some(log_id))?)])
                .map_err(engine_io)?;
            return Ok(Vec::new());
        }
        let done = if count > 1 {
            self.commands_done(&log_id)?
        } else {
            0
        };
        let mut responses = Vec::with_capacity(count);
        // Commands applied before a restart have no one waiting for them.
        responses.resize(
            done,
            Response {
                commit_ts: 0,
                result: None,
            },
        );
        // Whether a progress record of this entry exists and must be cleared.
        let mut progress_recorded = done > 0;
        for (position, command) in commands.iter().enumerate().skip(done) {
            let mut records = Vec::new();
            if position + 1 == count {
                records.push((APPLIED, encode_io(&Some(log_id))?));
                if progress_recorded {
                    records.push((PARTIAL, encode_io(&None::<(LogId, usize)>)?));
                }
            } else if command.request.is_none() {
                records.push((PARTIAL, encode_io(&Some((log_id, position + 1)))?));
                progress_recorded = true;
            }
            let out = self
                .engine
                .apply_with(command, proposal.stamp, &records)
                .map_err(engine_io)?;
            responses.push(Response {
                commit_ts: out.commit_ts,
                result: Some(out.result),
            });
        }
        Ok(responses)
    }

    /// Applies one entry and returns what its proposer is told.
    fn apply_entry(&self, entry: crate::types::Entry) -> io::Result<EntryResponses> {
        let applied = encode_io(&Some(entry.log_id))?;
        let no_command = |commit_ts| EntryResponses {
            responses: vec![Response {
                commit_ts,
                result: None,
            }],
        };
        match entry.payload {
            EntryPayload::Normal(proposal) => Ok(EntryResponses {
                responses: self.apply_proposal(entry.log_id, &proposal)?,
            }),
            EntryPayload::Blank => {
                let commit_ts = self
                    .engine
                    .apply_embedder_records(0, &[(APPLIED, applied)])
                    .map_err(engine_io)?;
                Ok(no_command(commit_ts))
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
                Ok(no_command(commit_ts))
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
            tracing::info!(last_log_id = ?meta.last_log_id, "installed snapshot");
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

#[cfg(test)]
mod tests {
    use bson::doc;
    use lauradb_engine::command::{Command, Namespace, Operation};
    use openraft::testing::log_id;

    use super::*;
    use crate::types::Entry;

    fn store() -> (StateMachineStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let snapshots = SnapshotDir::open(dir.path()).unwrap();
        (
            StateMachineStore::new(Arc::new(Engine::in_memory()), snapshots),
            dir,
        )
    }

    fn insert(id: i32) -> Command {
        Command {
            request: None,
            now_millis: 0,
            op: Operation::Insert {
                ns: Namespace::new("db", "c"),
                documents: vec![doc! {"_id": id}],
                ordered: true,
            },
        }
    }

    fn entry(index: u64, commands: Vec<Command>) -> Entry {
        Entry {
            log_id: log_id::<TypeConfig>(1, 1, index),
            payload: EntryPayload::Normal(Proposal {
                stamp: 0,
                commands: commands.into(),
            }),
        }
    }

    /// True when the response is that of an insert that wrote its document.
    fn inserted(response: &Response) -> bool {
        matches!(
            &response.result,
            Some(Ok(lauradb_engine::command::Outcome::Inserted { errors, .. })) if errors.is_empty()
        )
    }

    fn document_count(store: &StateMachineStore) -> u64 {
        store
            .engine
            .count_documents(
                &Namespace::new("db", "c"),
                &doc! {},
                0,
                0,
                lauradb_engine::engine::ReadAt::Latest,
            )
            .unwrap()
    }

    #[test]
    fn every_command_of_an_entry_gets_its_own_result() {
        let (store, _dir) = store();
        let responses = store
            .apply_entry(entry(1, vec![insert(1), insert(1), insert(2)]))
            .unwrap()
            .responses;
        assert_eq!(responses.len(), 3);
        assert!(inserted(&responses[0]));
        // The duplicate fails alone; its neighbours are applied.
        assert!(!inserted(&responses[1]));
        assert!(inserted(&responses[2]));
        assert!(responses[0].commit_ts < responses[2].commit_ts);
        assert_eq!(document_count(&store), 2);
        let (applied, _) = store.read_applied(None).unwrap();
        assert_eq!(applied, Some(log_id::<TypeConfig>(1, 1, 1)));
    }

    #[test]
    fn a_half_applied_entry_resumes_after_its_last_applied_command() {
        let (store, _dir) = store();
        store.apply_entry(entry(1, vec![insert(100)])).unwrap();
        // A crash after the first command of entry 2 left exactly what its
        // commit wrote: the document and the progress record.
        let second = log_id::<TypeConfig>(1, 1, 2);
        let progress = encode_io(&Some((second, 1_usize))).unwrap();
        store
            .engine
            .apply_with(&insert(1), 0, &[(PARTIAL, progress)])
            .unwrap();
        let (applied, _) = store.read_applied(None).unwrap();
        assert_eq!(applied, Some(log_id::<TypeConfig>(1, 1, 1)));

        let responses = store
            .apply_entry(entry(2, vec![insert(1), insert(2), insert(3)]))
            .unwrap()
            .responses;
        // Applying the first command again would have failed as a duplicate.
        assert_eq!(responses[0].result, None);
        assert!(inserted(&responses[1]));
        assert!(inserted(&responses[2]));
        assert_eq!(document_count(&store), 4);
        assert_eq!(store.read_applied(None).unwrap().0, Some(second));
        assert_eq!(store.commands_done(&second).unwrap(), 0);
    }

    #[test]
    fn commands_with_request_ids_need_no_progress_record() {
        let (store, _dir) = store();
        store.apply_entry(entry(1, vec![insert(100)])).unwrap();
        let with_id = |id: i32, session: u128| Command {
            request: Some(lauradb_engine::command::RequestId { session, seq: 1 }),
            ..insert(id)
        };
        // A crash after the first command of entry 2, which wrote no
        // progress record: only its document and its session's result.
        store.engine.apply_with(&with_id(1, 7), 0, &[]).unwrap();
        assert_eq!(
            store.commands_done(&log_id::<TypeConfig>(1, 1, 2)).unwrap(),
            0
        );
        let responses = store
            .apply_entry(entry(2, vec![with_id(1, 7), with_id(2, 8), with_id(3, 9)]))
            .unwrap()
            .responses;
        // The first is answered from its session (as inserted), not applied
        // again (which would have failed as a duplicate).
        assert!(responses.iter().all(inserted));
        assert_eq!(document_count(&store), 4);
        assert_eq!(
            store.read_applied(None).unwrap().0,
            Some(log_id::<TypeConfig>(1, 1, 2))
        );
    }

    #[test]
    fn a_snapshot_taken_inside_an_entry_covers_only_the_entry_before() {
        let (store, _dir) = store();
        store.apply_entry(entry(1, vec![insert(100)])).unwrap();
        let responses = store
            .apply_entry(entry(2, vec![insert(1), insert(2), insert(3)]))
            .unwrap()
            .responses;
        let inside = responses[1].commit_ts;
        let (applied, _) = store.read_applied(Some(inside)).unwrap();
        assert_eq!(applied, Some(log_id::<TypeConfig>(1, 1, 1)));
        let (applied, _) = store.read_applied(Some(responses[2].commit_ts)).unwrap();
        assert_eq!(applied, Some(log_id::<TypeConfig>(1, 1, 2)));
    }
}
