//! Per-operation apply metrics with their handles resolved once.
//!
//! Each applied command counts into `lauradb_engine_commands_total{op, ok}`
//! and is timed in `lauradb_engine_apply_seconds{op}`. Every replica applies
//! every command, so a `metrics::counter!` lookup in the recorder's
//! registry (hashing the name and labels under a lock) ran several times
//! per write; the engine registers the handles of the operations it knows
//! when it opens and only bumps atomics while applying. An operation
//! missing from [`OPERATIONS`] is still counted, through the registry.
//!
//! Handles belong to the recorder installed when they were made: the
//! binaries install theirs before they open an engine.

use std::time::Duration;

use metrics::{Counter, Histogram};

/// The names [`crate::command::Operation::name`] gives.
const OPERATIONS: &[&str] = &[
    "insert",
    "update",
    "delete",
    "findAndModify",
    "createCollection",
    "dropCollection",
    "dropDatabase",
    "renameCollection",
    "installRouting",
];

struct OperationMetrics {
    name: &'static str,
    succeeded: Counter,
    failed: Counter,
    seconds: Histogram,
}

/// The engine's apply metrics.
pub(super) struct ApplyMetrics {
    operations: Vec<OperationMetrics>,
}

impl ApplyMetrics {
    /// Registers the handles of every known operation with the installed
    /// recorder.
    pub(super) fn register() -> ApplyMetrics {
        let operations = OPERATIONS
            .iter()
            .map(|&name| OperationMetrics {
                name,
                succeeded: metrics::counter!("lauradb_engine_commands_total", "op" => name, "ok" => "true"),
                failed: metrics::counter!("lauradb_engine_commands_total", "op" => name, "ok" => "false"),
                seconds: metrics::histogram!("lauradb_engine_apply_seconds", "op" => name),
            })
            .collect();
        ApplyMetrics { operations }
    }

    /// Counts and times one applied command.
    pub(super) fn record(&self, op: &'static str, ok: bool, elapsed: Duration) {
        match self.operations.iter().find(|known| known.name == op) {
            Some(known) => {
                if ok {
                    known.succeeded.increment(1);
                } else {
                    known.failed.increment(1);
                }
                known.seconds.record(elapsed.as_secs_f64());
            }
            None => {
                metrics::counter!("lauradb_engine_commands_total", "op" => op, "ok" => if ok { "true" } else { "false" })
                    .increment(1);
                metrics::histogram!("lauradb_engine_apply_seconds", "op" => op)
                    .record(elapsed.as_secs_f64());
            }
        }
    }
}
