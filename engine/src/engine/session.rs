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
    // Read where it is stored: no copy of the record.
    mvcc.read_latest(&keyspace::session_key(request.session), |bytes| {
        let Some(bytes) = bytes else {
            return Ok(Admission::Apply);
        };
        // Nearly every request is a new one: compare sequence numbers before
        // paying for decoding the stored result.
        let last_seq = stored_seq(bytes)?;
        Ok(match request.seq.cmp(&last_seq) {
            std::cmp::Ordering::Greater => Admission::Apply,
            std::cmp::Ordering::Equal => {
                let record: SessionRecord = rmp_serde::from_slice(bytes)?;
                Admission::Replay(record.result)
            }
            std::cmp::Ordering::Less => Admission::Stale { last_seq },
        })
    })
}

/// The sequence number of an encoded [`SessionRecord`], read without
/// decoding its result (the record is encoded as the array `[seq, result]`).
fn stored_seq(bytes: &[u8]) -> Result<u64> {
    let bad = |what: String| Error::Encoding(format!("session record: {what}"));
    let mut rest = bytes;
    match rmp::decode::read_array_len(&mut rest) {
        Ok(2) => {}
        Ok(fields) => return Err(bad(format!("{fields} fields, expected 2"))),
        Err(e) => return Err(bad(e.to_string())),
    }
    rmp::decode::read_int(&mut rest).map_err(|e| bad(e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Outcome;

    #[test]
    fn the_sequence_number_is_read_from_the_encoded_record() {
        for seq in [0, 1, 127, 128, 65_535, 1 << 40, u64::MAX] {
            let request = RequestId { session: 7, seq };
            let (_, bytes) = record(&request, &Ok(Outcome::Deleted { deleted: 3 })).unwrap();
            assert_eq!(stored_seq(&bytes).unwrap(), seq);
            let full: SessionRecord = rmp_serde::from_slice(&bytes).unwrap();
            assert_eq!(full.seq, seq);
        }
        assert!(stored_seq(&[0x93, 1, 2, 3]).is_err(), "three fields");
        assert!(stored_seq(b"").is_err());
    }
}
