//! Histories: what the clients asked for, and what they were told.
//!
//! A Jepsen test never looks inside the database. It records, from the
//! clients' side, a **history**: a totally ordered list of events, each either
//! the *invocation* of an operation or its *completion*. The checkers then ask
//! whether some legal execution of the system could have produced exactly
//! those observations.
//!
//! ```text
//!  index  process  type     f      key   value
//!  ─────  ───────  ───────  ─────  ────  ─────────
//!  0      0        invoke   write  k1    3
//!  1      1        invoke   read   k1    null
//!  2      0        ok       write  k1    3         ← process 0's write happened
//!  3      1        ok       read   k1    3         ← the read saw it
//!  4      0        invoke   cas    k1    [3, 4]
//!  5      0        info     cas    k1    [3, 4]    ← timed out: unknown!
//! ```
//!
//! ## Invariants
//!
//! * **Indexes increase.** `index` is the event's position in the history;
//!   checkers use it as the clock that orders events, so it must be strictly
//!   increasing ([`History::push`] assigns it).
//! * **One op in flight per process.** A process (a logical client) invokes
//!   an operation and then waits for its completion before invoking again.
//!   [`History::operations`] pairs each invocation with the next completion
//!   of the same process and rejects histories that break this rule.
//! * **Completions mean exactly what Jepsen says they mean.**
//!   - `ok`: the operation happened, at some instant between its invocation
//!     and its completion;
//!   - `fail`: the operation definitely did **not** happen;
//!   - `info`: indeterminate — it may or may not have happened, at any
//!     instant after its invocation (even long after the client gave up).
//!     A timeout is never a failure: it is `info`.
//!
//!   After an `info` the process never learns the operation's fate. Jepsen
//!   retires such a process and continues with a fresh process id; this
//!   module also tolerates a process id that is reused after an `info`, since
//!   the abandoned operation simply stays concurrent with everything after it.
//!   An invocation that is never completed at all (the history ended first)
//!   is treated as `info` too.
//!
//! ## Values
//!
//! | f          | invoke value   | ok value                          |
//! |------------|----------------|-----------------------------------|
//! | `write`    | integer        | the same integer                  |
//! | `cas`      | `[old, new]`   | the same pair                     |
//! | `read`     | `null`         | integer read, or `null` if absent |
//! | `add`      | integer        | the same integer                  |
//! | `read-all` | `null`         | array of integers                 |
//!
//! Register operations carry a `key`; set operations have `key: None`.
//!
//! ## Formats
//!
//! Histories are stored as JSON lines (one [`Event`] per line,
//! [`History::to_jsonl`] / [`History::from_jsonl`]), and can be exported as
//! EDN ([`History::to_edn`]) so that Jepsen's own tooling (Knossos, Elle)
//! can re-check them. The EDN export follows Jepsen's *independent keys*
//! convention: a register operation's value becomes the tuple `[key value]`.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event in a history: an invocation or a completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the history (strictly increasing).
    pub index: u64,
    /// Nanoseconds since the run's start.
    pub time_nanos: u64,
    /// Logical client; at most one operation in flight per process.
    pub process: u64,
    /// Invocation or one of the three kinds of completion.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The operation: `read`, `write`, `cas`, `add`, `read-all`.
    pub f: String,
    /// Register key (`None` for set operations).
    #[serde(default)]
    pub key: Option<String>,
    /// Operation value; see the module docs for the conventions per `f`.
    #[serde(default)]
    pub value: Value,
    /// Why an operation failed or is indeterminate, when known.
    #[serde(default)]
    pub error: Option<String>,
}

/// The kind of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A client started an operation.
    Invoke,
    /// The operation happened.
    Ok,
    /// The operation definitely did not happen.
    Fail,
    /// The operation may or may not have happened.
    Info,
}

impl EventKind {
    /// The lowercase name used in JSON and EDN.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Invoke => "invoke",
            EventKind::Ok => "ok",
            EventKind::Fail => "fail",
            EventKind::Info => "info",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Completed `ok`: it happened.
    Ok,
    /// Completed `fail`: it did not happen.
    Fail,
    /// Completed `info`, or never completed: unknown.
    Info,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        })
    }
}

/// An invocation paired with its completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// The process that ran it.
    pub process: u64,
    /// The operation name.
    pub f: String,
    /// Register key, if any.
    pub key: Option<String>,
    /// Index of the invocation event; identifies the operation.
    pub invoke_index: u64,
    /// Index of the `ok`/`fail` completion; `None` for `info` or never
    /// completed (the operation may take effect at any later time).
    pub complete_index: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
    /// The invocation's value.
    pub invoke_value: Value,
    /// The completion's value (`null` when there is no completion).
    pub result_value: Value,
    /// Time of the invocation.
    pub invoke_nanos: u64,
    /// Time of the `ok`/`fail` completion; `None` when `complete_index` is.
    pub complete_nanos: Option<u64>,
}

/// Why a history could not be loaded or interpreted.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Reading the input failed.
    #[error("reading history: {0}")]
    Io(#[from] std::io::Error),
    /// A line was not a valid JSON event.
    #[error("history line {line}: {source}")]
    Parse {
        /// 1-based line number.
        line: usize,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// Event indexes must strictly increase.
    #[error("event index {index} at position {position} does not follow {previous}")]
    IndexNotIncreasing {
        /// Position of the event in the history.
        position: usize,
        /// Its index.
        index: u64,
        /// The previous event's index.
        previous: u64,
    },
    /// A completion arrived for a process that had nothing in flight.
    #[error("event {index}: process {process} completed an operation it never invoked")]
    CompletionWithoutInvoke {
        /// Index of the completion.
        index: u64,
        /// The process.
        process: u64,
    },
    /// A process invoked a second operation while one was in flight.
    #[error(
        "event {index}: process {process} invoked an operation while operation {in_flight} was still in flight"
    )]
    AlreadyInFlight {
        /// Index of the second invocation.
        index: u64,
        /// The process.
        process: u64,
        /// Index of the invocation still in flight.
        in_flight: u64,
    },
    /// A completion does not match the operation it completes.
    #[error(
        "event {index}: process {process} completed {found_f} {found_key:?} but had invoked {invoked_f} {invoked_key:?} (event {invoke_index})"
    )]
    MismatchedCompletion {
        /// Index of the completion.
        index: u64,
        /// The process.
        process: u64,
        /// Index of the invocation.
        invoke_index: u64,
        /// `f` of the invocation.
        invoked_f: String,
        /// `key` of the invocation.
        invoked_key: Option<String>,
        /// `f` of the completion.
        found_f: String,
        /// `key` of the completion.
        found_key: Option<String>,
    },
}

/// A recorded history: events in the order they happened.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The events, ordered by `index`.
    pub events: Vec<Event>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an event, assigning it the next index (its position), and
    /// returns that index.
    pub fn push(&mut self, mut event: Event) -> u64 {
        let index = self.events.len() as u64;
        event.index = index;
        self.events.push(event);
        index
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Writes the history as JSON lines, one event per line.
    pub fn to_jsonl(&self, mut w: impl Write) -> std::io::Result<()> {
        for event in &self.events {
            serde_json::to_writer(&mut w, event)?;
            w.write_all(b"\n")?;
        }
        w.flush()
    }

    /// Reads a history written by [`History::to_jsonl`]. Blank lines are
    /// skipped; indexes are kept as written.
    pub fn from_jsonl(r: impl BufRead) -> Result<History, HistoryError> {
        let mut events = Vec::new();
        for (i, line) in r.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let event = serde_json::from_str(&line).map_err(|source| HistoryError::Parse {
                line: i + 1,
                source,
            })?;
            events.push(event);
        }
        Ok(History { events })
    }

    /// Pairs every invocation with its completion, in invocation order.
    ///
    /// Fails on malformed histories: non-increasing indexes, a completion
    /// without an invocation, a second invocation while one is in flight on
    /// the same process, or a completion whose `f`/`key` differ from the
    /// invocation's. Invocations never completed become [`Outcome::Info`].
    pub fn operations(&self) -> Result<Vec<Operation>, HistoryError> {
        let mut ops: Vec<Operation> = Vec::new();
        // process → position in `ops` of its in-flight operation.
        let mut in_flight: HashMap<u64, usize> = HashMap::new();
        let mut previous: Option<u64> = None;
        for (position, event) in self.events.iter().enumerate() {
            if let Some(previous) = previous
                && event.index <= previous
            {
                return Err(HistoryError::IndexNotIncreasing {
                    position,
                    index: event.index,
                    previous,
                });
            }
            previous = Some(event.index);

            if event.kind == EventKind::Invoke {
                if let Some(&pos) = in_flight.get(&event.process) {
                    return Err(HistoryError::AlreadyInFlight {
                        index: event.index,
                        process: event.process,
                        in_flight: ops[pos].invoke_index,
                    });
                }
                in_flight.insert(event.process, ops.len());
                ops.push(Operation {
                    process: event.process,
                    f: event.f.clone(),
                    key: event.key.clone(),
                    invoke_index: event.index,
                    complete_index: None,
                    outcome: Outcome::Info,
                    invoke_value: event.value.clone(),
                    result_value: Value::Null,
                    invoke_nanos: event.time_nanos,
                    complete_nanos: None,
                });
                continue;
            }

            let Some(pos) = in_flight.remove(&event.process) else {
                return Err(HistoryError::CompletionWithoutInvoke {
                    index: event.index,
                    process: event.process,
                });
            };
            let op = &mut ops[pos];
            if op.f != event.f || op.key != event.key {
                return Err(HistoryError::MismatchedCompletion {
                    index: event.index,
                    process: event.process,
                    invoke_index: op.invoke_index,
                    invoked_f: op.f.clone(),
                    invoked_key: op.key.clone(),
                    found_f: event.f.clone(),
                    found_key: event.key.clone(),
                });
            }
            op.result_value = event.value.clone();
            match event.kind {
                EventKind::Ok | EventKind::Fail => {
                    op.outcome = if event.kind == EventKind::Ok {
                        Outcome::Ok
                    } else {
                        Outcome::Fail
                    };
                    op.complete_index = Some(event.index);
                    op.complete_nanos = Some(event.time_nanos);
                }
                // Indeterminate: the operation stays open forever.
                EventKind::Info | EventKind::Invoke => op.outcome = Outcome::Info,
            }
        }
        Ok(ops)
    }

    /// Exports the history as EDN, one Jepsen operation map per line, e.g.
    /// `{:index 0, :time 123, :type :invoke, :process 0, :f :write, :value [:k1 3]}`.
    ///
    /// Register operations (those with a key) use Jepsen's independent-key
    /// convention, `:value [key value]`; keys that are valid EDN keyword
    /// names become keywords (`:k1`), other keys become strings. JSON `null`
    /// becomes `nil`.
    pub fn to_edn(&self) -> String {
        let mut out = String::new();
        for event in &self.events {
            out.push_str(&format!(
                "{{:index {}, :time {}, :type :{}, :process {}, :f {}, :value ",
                event.index,
                event.time_nanos,
                event.kind,
                event.process,
                edn_keyword_or_string(&event.f),
            ));
            match &event.key {
                Some(key) => {
                    out.push('[');
                    out.push_str(&edn_keyword_or_string(key));
                    out.push(' ');
                    edn_value(&event.value, &mut out);
                    out.push(']');
                }
                None => edn_value(&event.value, &mut out),
            }
            if let Some(error) = &event.error {
                out.push_str(", :error ");
                edn_string(error, &mut out);
            }
            out.push_str("}\n");
        }
        out
    }
}

/// `:name` if `name` is a plain keyword name, otherwise an EDN string.
fn edn_keyword_or_string(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_.*+!?<>=".contains(c));
    if plain {
        format!(":{name}")
    } else {
        let mut out = String::new();
        edn_string(name, &mut out);
        out
    }
}

/// Appends `s` as an EDN string literal.
fn edn_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a JSON value as EDN: null → nil, arrays → vectors, objects → maps
/// with string keys.
fn edn_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => edn_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                edn_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                edn_string(k, out);
                out.push(' ');
                edn_value(v, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(process: u64, kind: EventKind, f: &str, key: Option<&str>, value: Value) -> Event {
        Event {
            index: 0,
            time_nanos: 0,
            process,
            kind,
            f: f.to_string(),
            key: key.map(str::to_string),
            value,
            error: None,
        }
    }

    fn sample() -> History {
        let mut h = History::new();
        h.push(ev(0, EventKind::Invoke, "write", Some("k1"), json!(3)));
        h.push(ev(1, EventKind::Invoke, "read", Some("k1"), Value::Null));
        h.push(ev(0, EventKind::Ok, "write", Some("k1"), json!(3)));
        h.push(ev(1, EventKind::Ok, "read", Some("k1"), json!(3)));
        h.push(ev(0, EventKind::Invoke, "cas", Some("k1"), json!([3, 4])));
        let mut info = ev(0, EventKind::Info, "cas", Some("k1"), json!([3, 4]));
        info.error = Some("timeout".into());
        h.push(info);
        h.push(ev(2, EventKind::Invoke, "add", None, json!(7)));
        h.push(ev(2, EventKind::Fail, "add", None, json!(7)));
        h.push(ev(3, EventKind::Invoke, "read", Some("k2"), Value::Null));
        for (i, e) in h.events.iter_mut().enumerate() {
            e.time_nanos = 100 * i as u64;
        }
        h
    }

    #[test]
    fn push_assigns_increasing_indexes() {
        let mut h = History::new();
        let mut e = ev(0, EventKind::Invoke, "read", Some("k"), Value::Null);
        e.index = 99;
        assert_eq!(h.push(e.clone()), 0);
        e.kind = EventKind::Ok;
        assert_eq!(h.push(e), 1);
        assert_eq!(h.events[0].index, 0);
        assert_eq!(h.events[1].index, 1);
        assert_eq!(h.len(), 2);
        assert!(!h.is_empty());
    }

    #[test]
    fn operations_pair_invocations_with_completions() {
        let ops = sample().operations().unwrap();
        assert_eq!(ops.len(), 5);

        assert_eq!(ops[0].f, "write");
        assert_eq!(ops[0].outcome, Outcome::Ok);
        assert_eq!(ops[0].invoke_index, 0);
        assert_eq!(ops[0].complete_index, Some(2));
        assert_eq!(ops[0].complete_nanos, Some(200));

        assert_eq!(ops[1].f, "read");
        assert_eq!(ops[1].invoke_value, Value::Null);
        assert_eq!(ops[1].result_value, json!(3));
        assert_eq!(ops[1].complete_index, Some(3));

        assert_eq!(ops[2].f, "cas");
        assert_eq!(ops[2].outcome, Outcome::Info);
        assert_eq!(ops[2].complete_index, None);
        assert_eq!(ops[2].complete_nanos, None);
        assert_eq!(ops[2].invoke_value, json!([3, 4]));

        assert_eq!(ops[3].f, "add");
        assert_eq!(ops[3].key, None);
        assert_eq!(ops[3].outcome, Outcome::Fail);
        assert_eq!(ops[3].complete_index, Some(7));

        // Never completed: indeterminate.
        assert_eq!(ops[4].outcome, Outcome::Info);
        assert_eq!(ops[4].complete_index, None);
        assert_eq!(ops[4].invoke_nanos, 800);
    }

    #[test]
    fn process_may_be_reused_after_info() {
        let mut h = History::new();
        h.push(ev(0, EventKind::Invoke, "write", Some("k"), json!(1)));
        h.push(ev(0, EventKind::Info, "write", Some("k"), json!(1)));
        h.push(ev(0, EventKind::Invoke, "write", Some("k"), json!(2)));
        h.push(ev(0, EventKind::Ok, "write", Some("k"), json!(2)));
        let ops = h.operations().unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].outcome, Outcome::Info);
        assert_eq!(ops[1].outcome, Outcome::Ok);
    }

    #[test]
    fn completion_without_invoke_is_an_error() {
        let mut h = History::new();
        h.push(ev(4, EventKind::Ok, "read", Some("k"), json!(1)));
        assert!(matches!(
            h.operations(),
            Err(HistoryError::CompletionWithoutInvoke {
                index: 0,
                process: 4
            })
        ));
    }

    #[test]
    fn double_invoke_is_an_error() {
        let mut h = History::new();
        h.push(ev(1, EventKind::Invoke, "read", Some("k"), Value::Null));
        h.push(ev(1, EventKind::Invoke, "write", Some("k"), json!(1)));
        assert!(matches!(
            h.operations(),
            Err(HistoryError::AlreadyInFlight {
                index: 1,
                process: 1,
                in_flight: 0
            })
        ));
    }

    #[test]
    fn mismatched_completion_is_an_error() {
        let mut h = History::new();
        h.push(ev(1, EventKind::Invoke, "read", Some("k"), Value::Null));
        h.push(ev(1, EventKind::Ok, "write", Some("k"), json!(1)));
        assert!(matches!(
            h.operations(),
            Err(HistoryError::MismatchedCompletion { index: 1, .. })
        ));

        let mut h = History::new();
        h.push(ev(1, EventKind::Invoke, "read", Some("a"), Value::Null));
        h.push(ev(1, EventKind::Ok, "read", Some("b"), json!(1)));
        let err = h.operations().unwrap_err();
        assert!(matches!(err, HistoryError::MismatchedCompletion { .. }));
        assert!(err.to_string().contains("read"), "{err}");
    }

    #[test]
    fn non_increasing_indexes_are_an_error() {
        let mut h = sample();
        h.events[3].index = 2;
        assert!(matches!(
            h.operations(),
            Err(HistoryError::IndexNotIncreasing {
                position: 3,
                index: 2,
                previous: 2
            })
        ));
    }

    #[test]
    fn jsonl_round_trip() {
        let h = sample();
        let mut buf = Vec::new();
        h.to_jsonl(&mut buf).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert_eq!(text.lines().count(), h.len());
        assert!(text.lines().next().unwrap().contains(r#""type":"invoke""#));
        let back = History::from_jsonl(&buf[..]).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn jsonl_tolerates_blank_lines_and_missing_optional_fields() {
        let text =
            "\n{\"index\":0,\"time_nanos\":5,\"process\":1,\"type\":\"invoke\",\"f\":\"add\"}\n\n";
        let h = History::from_jsonl(text.as_bytes()).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h.events[0].key, None);
        assert_eq!(h.events[0].value, Value::Null);
        assert_eq!(h.events[0].error, None);
    }

    #[test]
    fn jsonl_reports_bad_line() {
        let text = "{\"index\":0,\"time_nanos\":5,\"process\":1,\"type\":\"invoke\",\"f\":\"add\"}\n{\"index\":1,\"type\":\"bogus\"}\n";
        match History::from_jsonl(text.as_bytes()) {
            Err(HistoryError::Parse { line: 2, .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            History::from_jsonl("not json".as_bytes()),
            Err(HistoryError::Parse { line: 1, .. })
        ));
    }

    #[test]
    fn edn_export() {
        let edn = sample().to_edn();
        let lines: Vec<&str> = edn.lines().collect();
        assert_eq!(lines.len(), 9);
        assert_eq!(
            lines[0],
            "{:index 0, :time 0, :type :invoke, :process 0, :f :write, :value [:k1 3]}"
        );
        assert_eq!(
            lines[1],
            "{:index 1, :time 100, :type :invoke, :process 1, :f :read, :value [:k1 nil]}"
        );
        assert_eq!(
            lines[3],
            "{:index 3, :time 300, :type :ok, :process 1, :f :read, :value [:k1 3]}"
        );
        assert_eq!(
            lines[4],
            "{:index 4, :time 400, :type :invoke, :process 0, :f :cas, :value [:k1 [3 4]]}"
        );
        assert_eq!(
            lines[5],
            "{:index 5, :time 500, :type :info, :process 0, :f :cas, :value [:k1 [3 4]], :error \"timeout\"}"
        );
        assert_eq!(
            lines[6],
            "{:index 6, :time 600, :type :invoke, :process 2, :f :add, :value 7}"
        );
        assert_eq!(
            lines[7],
            "{:index 7, :time 700, :type :fail, :process 2, :f :add, :value 7}"
        );
    }

    #[test]
    fn edn_escapes_odd_keys_and_values() {
        let mut h = History::new();
        h.push(ev(0, EventKind::Ok, "read-all", None, json!([1, 2, 3])));
        h.push(ev(
            0,
            EventKind::Invoke,
            "write",
            Some("my key\"1"),
            json!({"a": [true, null], "b": "x\ny"}),
        ));
        let edn = h.to_edn();
        let lines: Vec<&str> = edn.lines().collect();
        assert!(
            lines[0].contains(":f :read-all, :value [1 2 3]}"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains(r#":value ["my key\"1" {"a" [true nil], "b" "x\ny"}]}"#),
            "{}",
            lines[1]
        );
    }
}
