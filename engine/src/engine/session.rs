//! Exactly-once records: the last request and its outcome, per session.
//!
//! ```text
//!   incoming seq  vs  stored seq   →  action
//!   none stored                    →  apply, store (seq, outcome)
//!   seq >  stored                  →  apply, store (seq, outcome)
//!   seq == stored                  →  return the stored outcome (a retry)
//!   seq <  stored                  →  refuse: that outcome is no longer kept
//! ```
//!
//! The record is written in the same commit as the command's effects, so a
//! crash can never separate "applied" from "remembered as applied".

use serde::{Deserialize, Serialize};

use crate::command::{CommandResult, RequestId};
use crate::mvcc::Mvcc;
use crate::{Error, Result, keyspace};

/// What the engine remembers about a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct SessionRecord {
    pub seq: u64,
    pub result: CommandResult,
}

/// What to do with an incoming request.
pub(super) enum Admission {
    /// New request: apply it.
    Apply,
    /// Retry of the last request: answer with its recorded outcome.
    Replay(CommandResult),
    /// Older than the last request: its outcome is gone.
    Stale { last_seq: u64 },
}

pub(super) fn admit(mvcc: &Mvcc, request: &RequestId) -> Result<Admission> {
    let Some(bytes) = mvcc.get_latest(&keyspace::session_key(request.session))? else {
        return Ok(Admission::Apply);
    };
    let record: SessionRecord = rmp_serde::from_slice(&bytes)?;
    Ok(match request.seq.cmp(&record.seq) {
        std::cmp::Ordering::Greater => Admission::Apply,
        std::cmp::Ordering::Equal => Admission::Replay(record.result),
        std::cmp::Ordering::Less => Admission::Stale {
            last_seq: record.seq,
        },
    })
}

pub(super) fn record(request: &RequestId, result: &CommandResult) -> Result<(Vec<u8>, Vec<u8>)> {
    let record = SessionRecord {
        seq: request.seq,
        result: result.clone(),
    };
    Ok((
        keyspace::session_key(request.session),
        rmp_serde::to_vec(&record)?,
    ))
}

pub(super) fn stale_error(request: &RequestId, last_seq: u64) -> Error {
    Error::BadValue(format!(
        "request {} of session {:x} is older than the session's last request {last_seq}; its outcome is no longer kept",
        request.seq, request.session
    ))
}
