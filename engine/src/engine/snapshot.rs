//! Snapshots: the whole engine state as a stream of records, and back.
//!
//! A snapshot is taken at one commit timestamp `ts`: the visible value of
//! every key (catalog, documents, session records, embedder records) as of
//! `ts`. MVCC makes this cheap and safe: the export reads at `ts` while
//! `apply` keeps committing newer versions, and the reader registration keeps
//! GC from removing what the export still needs.
//!
//! ```text
//!  stream:  Header{format, ts}  Entry{key, value}*  End{entries}
//!  bytes:   each record = u32 BE length ++ rmp-serde(record)
//! ```
//!
//! Installing replaces the engine's whole state atomically (the store writes
//! the new state aside and switches to it in one step), then reloads the
//! catalog. A crash part-way through leaves the old state.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::{Engine, load_catalog};
use crate::{Error, Result};

/// Snapshot format version; bump on incompatible keyspace changes.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// One record of a snapshot stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SnapshotRecord {
    /// First record: format and the timestamp the snapshot reflects.
    Header { format: u32, ts: u64 },
    /// One key and its value as of the snapshot's timestamp.
    Entry {
        #[serde(with = "crate::wire::bytes")]
        key: Vec<u8>,
        #[serde(with = "crate::wire::bytes")]
        value: Vec<u8>,
    },
    /// Last record: how many entries came before (detects truncation).
    End { entries: u64 },
}

/// Reads a snapshot of the engine, record by record, at one timestamp.
pub struct SnapshotReader<'a> {
    ts: u64,
    entries: crate::mvcc::Scan<'a>,
    state: ReaderState,
    count: u64,
    _reader: super::readers::ReaderGuard<'a>,
}

enum ReaderState {
    Header,
    Entries,
    Done,
}

impl Iterator for SnapshotReader<'_> {
    type Item = Result<SnapshotRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.state {
            ReaderState::Header => {
                self.state = ReaderState::Entries;
                Some(Ok(SnapshotRecord::Header {
                    format: SNAPSHOT_FORMAT,
                    ts: self.ts,
                }))
            }
            ReaderState::Entries => match self.entries.next() {
                Some(Ok((key, value))) => {
                    self.count += 1;
                    Some(Ok(SnapshotRecord::Entry { key, value }))
                }
                Some(Err(e)) => {
                    self.state = ReaderState::Done;
                    Some(Err(e))
                }
                None => {
                    self.state = ReaderState::Done;
                    Some(Ok(SnapshotRecord::End {
                        entries: self.count,
                    }))
                }
            },
            ReaderState::Done => None,
        }
    }
}

impl SnapshotReader<'_> {
    /// The commit timestamp this snapshot reflects.
    pub fn ts(&self) -> u64 {
        self.ts
    }

    /// Writes the whole snapshot as length-prefixed records.
    pub fn write_to(self, out: &mut impl Write) -> Result<u64> {
        let mut written = 0;
        for record in self {
            written += write_record(out, &record?)?;
        }
        Ok(written)
    }
}

/// Writes one length-prefixed record; returns the bytes written.
pub fn write_record(out: &mut impl Write, record: &SnapshotRecord) -> Result<u64> {
    let bytes = rmp_serde::to_vec(record)?;
    let len = u32::try_from(bytes.len())
        .map_err(|_| Error::Encoding("snapshot record larger than 4 GiB".into()))?;
    out.write_all(&len.to_be_bytes()).map_err(io_error)?;
    out.write_all(&bytes).map_err(io_error)?;
    Ok(4 + bytes.len() as u64)
}

/// Reads length-prefixed records until the end of the input.
pub fn read_records(mut input: impl Read) -> impl Iterator<Item = Result<SnapshotRecord>> {
    std::iter::from_fn(move || {
        let mut len = [0_u8; 4];
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) => return Some(Err(io_error(e))),
        }
        let mut bytes = vec![0_u8; u32::from_be_bytes(len) as usize];
        if let Err(e) = input.read_exact(&mut bytes) {
            return Some(Err(io_error(e)));
        }
        Some(rmp_serde::from_slice(&bytes).map_err(Error::from))
    })
}

fn io_error(e: std::io::Error) -> Error {
    Error::Storage(format!("snapshot I/O: {e}"))
}

impl Engine {
    /// A snapshot of the newest committed state.
    pub fn snapshot(&self) -> SnapshotReader<'_> {
        let ts = self.mvcc.latest_commit_ts();
        let reader = self.register_reader(ts);
        SnapshotReader {
            ts,
            entries: self.mvcc.export(ts),
            state: ReaderState::Header,
            count: 0,
            _reader: reader,
        }
    }

    /// Replaces the whole engine state with a snapshot stream. The stream must
    /// be complete (header, entries, end with the right count); otherwise the
    /// old state stays and an error is returned.
    pub fn install_snapshot(
        &self,
        records: impl Iterator<Item = Result<SnapshotRecord>>,
    ) -> Result<()> {
        let _writer = self
            .writer
            .lock()
            .map_err(|_| Error::Storage("engine writer lock poisoned".into()))?;
        let mut records = records.peekable();
        let ts = match records.next() {
            Some(Ok(SnapshotRecord::Header { format, ts })) if format == SNAPSHOT_FORMAT => ts,
            Some(Ok(SnapshotRecord::Header { format, .. })) => {
                return Err(Error::Encoding(format!(
                    "snapshot format {format} is not {SNAPSHOT_FORMAT}"
                )));
            }
            Some(Err(e)) => return Err(e),
            _ => {
                return Err(Error::Encoding(
                    "snapshot does not start with a header".into(),
                ));
            }
        };
        let mut seen = 0_u64;
        let mut finished = false;
        let mut entries = std::iter::from_fn(|| {
            if finished {
                return None;
            }
            match records.next() {
                Some(Ok(SnapshotRecord::Entry { key, value })) => {
                    seen += 1;
                    Some(Ok((key, value)))
                }
                Some(Ok(SnapshotRecord::End { entries })) if entries == seen => {
                    finished = true;
                    None
                }
                Some(Ok(SnapshotRecord::End { entries })) => Some(Err(Error::Encoding(format!(
                    "snapshot ends after {seen} entries but announces {entries}"
                )))),
                Some(Ok(SnapshotRecord::Header { .. })) => Some(Err(Error::Encoding(
                    "second header inside a snapshot".into(),
                ))),
                Some(Err(e)) => Some(Err(e)),
                None => Some(Err(Error::Encoding(
                    "snapshot is truncated: no end record".into(),
                ))),
            }
        });
        self.mvcc.import(&mut entries, ts)?;
        let catalog = load_catalog(&self.mvcc, u64::MAX)?;
        *self
            .catalog
            .write()
            .map_err(|_| Error::Storage("catalog lock poisoned".into()))? =
            std::sync::Arc::new(catalog);
        Ok(())
    }
}
