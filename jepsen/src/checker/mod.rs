//! Checkers: deciding whether a history is one the system was allowed to
//! produce.
//!
//! A checker reads a [`History`](crate::history::History) and returns a
//! [`CheckResult`] with a three-way [`Validity`]:
//!
//! * **valid** — some legal execution explains every observation;
//! * **invalid** — no legal execution does; the [`Anomaly`] list says what
//!   went wrong and names the offending operations by their invocation
//!   index, so they can be found in the history;
//! * **unknown** — the checker could not decide: the search exceeded its
//!   limits, the history was malformed, or it lacked the observations it
//!   needs (e.g. a set test without a final read). Unknown is never
//!   silently turned into valid.
//!
//! Two checkers are provided:
//!
//! * [`linearizable`] — per-key linearizability of read/write/cas registers
//!   (Wing–Gong–Lowe search with memoisation);
//! * [`set`] — Jepsen's set checker: every acknowledged add must survive into
//!   the final read, and nothing may appear that was never added.
//!
//! A test run usually combines several results with [`combine`]: one invalid
//! result makes the run invalid, otherwise one unknown makes it unknown.

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod linearizable;
pub mod set;

pub use linearizable::{SearchLimits, check_registers};
pub use set::check_set;

/// A checker's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    /// The history is consistent with the model.
    Valid,
    /// The history violates the model.
    Invalid,
    /// The checker could not decide.
    Unknown,
}

impl Validity {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        }
    }

    /// Combines two verdicts: invalid beats unknown beats valid.
    pub fn and(self, other: Validity) -> Validity {
        match (self, other) {
            (Validity::Invalid, _) | (_, Validity::Invalid) => Validity::Invalid,
            (Validity::Unknown, _) | (_, Validity::Unknown) => Validity::Unknown,
            _ => Validity::Valid,
        }
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a checker found wrong (or could not judge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// What kind of anomaly, e.g. `nonlinearizable`, `lost`, `duplicate`.
    pub kind: String,
    /// The register key involved, if any.
    pub key: Option<String>,
    /// A human-readable explanation.
    pub message: String,
    /// Invocation indexes of the offending operations.
    pub operations: Vec<u64>,
}

/// The outcome of one checker over one history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Which checker produced this, e.g. `linearizable` or `set`.
    pub checker: String,
    /// The verdict.
    pub validity: Validity,
    /// What went wrong; empty when valid.
    pub anomalies: Vec<Anomaly>,
    /// Checker-specific counters.
    pub stats: serde_json::Value,
}

/// The overall verdict of several results: invalid if any is invalid, else
/// unknown if any is unknown, else valid (also for no results at all).
pub fn combine(results: &[CheckResult]) -> Validity {
    results
        .iter()
        .fold(Validity::Valid, |acc, r| acc.and(r.validity))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(validity: Validity) -> CheckResult {
        CheckResult {
            checker: "test".into(),
            validity,
            anomalies: vec![],
            stats: json!({}),
        }
    }

    #[test]
    fn combine_prefers_invalid_then_unknown() {
        use Validity::*;
        assert_eq!(combine(&[]), Valid);
        assert_eq!(combine(&[result(Valid), result(Valid)]), Valid);
        assert_eq!(combine(&[result(Valid), result(Unknown)]), Unknown);
        assert_eq!(
            combine(&[result(Unknown), result(Invalid), result(Valid)]),
            Invalid
        );
        assert_eq!(combine(&[result(Invalid), result(Unknown)]), Invalid);
    }

    #[test]
    fn validity_serializes_and_displays_lowercase() {
        assert_eq!(Validity::Valid.to_string(), "valid");
        assert_eq!(Validity::Invalid.to_string(), "invalid");
        assert_eq!(Validity::Unknown.to_string(), "unknown");
        assert_eq!(
            serde_json::to_value(Validity::Unknown).unwrap(),
            json!("unknown")
        );
        let r = CheckResult {
            checker: "set".into(),
            validity: Validity::Invalid,
            anomalies: vec![Anomaly {
                kind: "lost".into(),
                key: None,
                message: "m".into(),
                operations: vec![3],
            }],
            stats: json!({"lost": 1}),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["validity"], json!("invalid"));
        assert_eq!(v["anomalies"][0]["operations"], json!([3]));
    }
}
