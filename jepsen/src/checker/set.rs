//! Jepsen's set checker: acknowledged adds must survive.
//!
//! The set workload has clients `add` distinct integers to one shared set,
//! while faults are injected; once the faults heal, a final `read-all`
//! returns the whole set. Every element is then classified by what its add
//! was told and whether the final read contains it:
//!
//! ```text
//!  add outcome   in final read        verdict
//!  ───────────   ──────────────       ───────────────────────────────
//!  ok            yes                  fine
//!  ok            no                   LOST          → invalid
//!  info          yes                  recovered     (fine, counted)
//!  info          no                   fine          (counted)
//!  fail          yes                  FAILED-ADD-PRESENT → invalid
//!  fail          no                   fine
//!  never added   yes                  UNEXPECTED    → invalid
//!  any           yes, more than once  DUPLICATE     → invalid
//! ```
//!
//! `ok` means the add happened, so losing it is data loss; `fail` means it
//! did not happen, so seeing it anyway means the database lied; `info`
//! (e.g. a timeout) may go either way.
//!
//! Details:
//!
//! * The final read is the last `read-all` that completed `ok` (by
//!   completion order). Without one the verdict is **unknown**: nothing can
//!   be said about losses.
//! * If the same element was added several times, its most informative
//!   outcome counts (`ok` over `info` over `fail`).
//! * An `ok` add that had not completed when the final read was invoked is
//!   concurrent with that read and may legitimately be missing from it; it
//!   is counted as `concurrent_missing`, not lost. Likewise an element whose
//!   every add was invoked after the final read completed cannot have been
//!   seen by it, and is unexpected if it was.
//! * Malformed input (an add whose value is not an integer, a final read
//!   that is not an array of integers, a malformed history) makes the
//!   verdict unknown, with an anomaly saying why.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Anomaly, CheckResult, Validity};
use crate::history::{History, Operation, Outcome};

const CHECKER: &str = "set";

/// What is known about one element's adds.
#[derive(Debug, Default)]
struct Element {
    /// Invoke indexes of every add of this element.
    adds: Vec<u64>,
    /// Earliest invocation of an add.
    first_invoke: u64,
    /// Earliest `ok` completion, if any add completed ok.
    first_ok: Option<u64>,
    /// Whether any add is indeterminate.
    info: bool,
    /// Invoke indexes of the adds that failed.
    failed: Vec<u64>,
}

impl Element {
    /// The most informative outcome of this element's adds.
    fn outcome(&self) -> Outcome {
        if self.first_ok.is_some() {
            Outcome::Ok
        } else if self.info {
            Outcome::Info
        } else {
            Outcome::Fail
        }
    }
}

fn unknown(anomalies: Vec<Anomaly>, stats: Value) -> CheckResult {
    CheckResult {
        checker: CHECKER.to_string(),
        validity: Validity::Unknown,
        anomalies,
        stats,
    }
}

fn malformed(kind: &str, message: String, operations: Vec<u64>) -> Anomaly {
    Anomaly {
        kind: kind.to_string(),
        key: None,
        message,
        operations,
    }
}

/// Formats sorted elements compactly as ranges, e.g. `1..3, 7, 9..12`,
/// showing at most a few dozen ranges.
fn ranges(elements: &[i64]) -> String {
    const SHOWN: usize = 32;
    let mut parts = Vec::new();
    let mut i = 0;
    while i < elements.len() {
        let start = elements[i];
        let mut end = start;
        while i + 1 < elements.len() && elements[i + 1] == end.wrapping_add(1) {
            end = elements[i + 1];
            i += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}..{end}")
        });
        i += 1;
    }
    let total = parts.len();
    if total > SHOWN {
        parts.truncate(SHOWN);
        parts.push(format!("and {} more ranges", total - SHOWN));
    }
    parts.join(", ")
}

/// Checks a set workload's history: `add` operations (value: an integer)
/// and a final `read-all` (ok value: an array of integers).
pub fn check_set(history: &History) -> CheckResult {
    let ops = match history.operations() {
        Ok(ops) => ops,
        Err(err) => {
            return unknown(
                vec![malformed("malformed-history", err.to_string(), vec![])],
                json!({ "error": err.to_string() }),
            );
        }
    };

    // Gather the adds, element by element.
    let mut elements: BTreeMap<i64, Element> = BTreeMap::new();
    let mut bad_adds = Vec::new();
    for op in ops.iter().filter(|op| op.f == "add") {
        let Some(n) = op.invoke_value.as_i64() else {
            bad_adds.push(op.invoke_index);
            continue;
        };
        let e = elements.entry(n).or_insert_with(|| Element {
            first_invoke: op.invoke_index,
            ..Element::default()
        });
        e.adds.push(op.invoke_index);
        e.first_invoke = e.first_invoke.min(op.invoke_index);
        match op.outcome {
            Outcome::Ok => {
                let c = op.complete_index.unwrap_or(op.invoke_index);
                e.first_ok = Some(e.first_ok.map_or(c, |f| f.min(c)));
            }
            Outcome::Info => e.info = true,
            Outcome::Fail => e.failed.push(op.invoke_index),
        }
    }
    let attempted = elements.len();
    let acknowledged = elements.values().filter(|e| e.first_ok.is_some()).count();

    let final_read: Option<&Operation> = ops
        .iter()
        .filter(|op| op.f == "read-all" && op.outcome == Outcome::Ok)
        .max_by_key(|op| op.complete_index);

    if !bad_adds.is_empty() {
        return unknown(
            vec![malformed(
                "malformed-operation",
                format!(
                    "{} add operations have a value that is not an integer",
                    bad_adds.len()
                ),
                bad_adds,
            )],
            json!({ "attempted": attempted, "acknowledged": acknowledged }),
        );
    }
    let Some(read) = final_read else {
        return unknown(
            vec![],
            json!({
                "attempted": attempted,
                "acknowledged": acknowledged,
                "final_read": Value::Null,
            }),
        );
    };
    let read_values: Option<Vec<i64>> = read
        .result_value
        .as_array()
        .and_then(|items| items.iter().map(Value::as_i64).collect());
    let Some(read_values) = read_values else {
        return unknown(
            vec![malformed(
                "malformed-read",
                format!(
                    "the final read-all (#{}) did not return an array of integers",
                    read.invoke_index
                ),
                vec![read.invoke_index],
            )],
            json!({
                "attempted": attempted,
                "acknowledged": acknowledged,
                "final_read": read.invoke_index,
            }),
        );
    };
    let read_invoke = read.invoke_index;
    let read_complete = read.complete_index.unwrap_or(u64::MAX);

    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for &v in &read_values {
        *seen.entry(v).or_default() += 1;
    }

    let mut lost = Vec::new();
    let mut lost_ops = Vec::new();
    let mut concurrent_missing = 0usize;
    let mut recovered = 0usize;
    let mut info_missing = 0usize;
    let mut failed_present = Vec::new();
    let mut failed_present_ops = Vec::new();
    for (&n, e) in &elements {
        let present = seen.contains_key(&n);
        match (e.outcome(), present) {
            (Outcome::Ok, true) => {}
            (Outcome::Ok, false) => {
                if e.first_ok.is_some_and(|c| c < read_invoke) {
                    lost.push(n);
                    lost_ops.extend(&e.adds);
                } else {
                    concurrent_missing += 1;
                }
            }
            (Outcome::Info, true) => recovered += 1,
            (Outcome::Info, false) => info_missing += 1,
            (Outcome::Fail, true) => {
                failed_present.push(n);
                failed_present_ops.extend(&e.failed);
            }
            (Outcome::Fail, false) => {}
        }
    }
    let unexpected: Vec<i64> = seen
        .keys()
        .copied()
        .filter(|n| {
            elements
                .get(n)
                .is_none_or(|e| e.first_invoke > read_complete)
        })
        .collect();
    let duplicates: Vec<i64> = seen
        .iter()
        .filter(|&(_, &count)| count > 1)
        .map(|(&n, _)| n)
        .collect();

    let mut anomalies = Vec::new();
    if !lost.is_empty() {
        lost_ops.sort_unstable();
        anomalies.push(Anomaly {
            kind: "lost".to_string(),
            key: None,
            message: format!(
                "{} acknowledged adds are missing from the final read (#{read_invoke}): {}",
                lost.len(),
                ranges(&lost)
            ),
            operations: lost_ops,
        });
    }
    if !unexpected.is_empty() {
        anomalies.push(Anomaly {
            kind: "unexpected".to_string(),
            key: None,
            message: format!(
                "the final read (#{read_invoke}) contains {} elements that were never added: {}",
                unexpected.len(),
                ranges(&unexpected)
            ),
            operations: vec![read_invoke],
        });
    }
    if !duplicates.is_empty() {
        anomalies.push(Anomaly {
            kind: "duplicate".to_string(),
            key: None,
            message: format!(
                "the final read (#{read_invoke}) contains {} elements more than once: {}",
                duplicates.len(),
                ranges(&duplicates)
            ),
            operations: vec![read_invoke],
        });
    }
    if !failed_present.is_empty() {
        failed_present_ops.sort_unstable();
        anomalies.push(Anomaly {
            kind: "failed-add-present".to_string(),
            key: None,
            message: format!(
                "{} elements whose adds failed appear in the final read (#{read_invoke}): {}",
                failed_present.len(),
                ranges(&failed_present)
            ),
            operations: failed_present_ops,
        });
    }

    let validity = if anomalies.is_empty() {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    CheckResult {
        checker: CHECKER.to_string(),
        validity,
        anomalies,
        stats: json!({
            "attempted": attempted,
            "acknowledged": acknowledged,
            "lost": lost.len(),
            "unexpected": unexpected.len(),
            "recovered": recovered,
            "duplicates": duplicates.len(),
            "info_missing": info_missing,
            "failed_present": failed_present.len(),
            "concurrent_missing": concurrent_missing,
            "read_size": read_values.len(),
            "final_read": read_invoke,
            "lost_elements": lost,
            "unexpected_elements": unexpected,
            "duplicate_elements": duplicates,
            "failed_present_elements": failed_present,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, EventKind};

    #[derive(Default)]
    struct Builder {
        h: History,
    }

    impl Builder {
        fn event(&mut self, process: u64, kind: EventKind, f: &str, value: Value) -> &mut Self {
            self.h.push(Event {
                index: 0,
                time_nanos: 10 * self.h.len() as u64,
                process,
                kind,
                f: f.to_string(),
                key: None,
                value,
                error: None,
            });
            self
        }
        /// A complete add of `n` with the given outcome.
        fn add(&mut self, n: i64, kind: EventKind) -> &mut Self {
            let p = n as u64;
            self.event(p, EventKind::Invoke, "add", json!(n))
                .event(p, kind, "add", json!(n))
        }
        fn read_all(&mut self, values: Value) -> &mut Self {
            self.event(1000, EventKind::Invoke, "read-all", Value::Null)
                .event(1000, EventKind::Ok, "read-all", values)
        }
        fn check(&self) -> CheckResult {
            check_set(&self.h)
        }
    }

    fn kinds(r: &CheckResult) -> Vec<&str> {
        r.anomalies.iter().map(|a| a.kind.as_str()).collect()
    }

    #[test]
    fn all_good_is_valid() {
        let mut b = Builder::default();
        b.add(1, EventKind::Ok)
            .add(2, EventKind::Ok)
            .add(3, EventKind::Fail)
            .add(4, EventKind::Info)
            .read_all(json!([2, 1]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Valid, "{r:#?}");
        assert!(r.anomalies.is_empty());
        assert_eq!(r.stats["attempted"], json!(4));
        assert_eq!(r.stats["acknowledged"], json!(2));
        assert_eq!(r.stats["lost"], json!(0));
        assert_eq!(r.stats["info_missing"], json!(1));
        assert_eq!(r.stats["read_size"], json!(2));
    }

    #[test]
    fn lost_write_is_invalid() {
        let mut b = Builder::default();
        b.add(1, EventKind::Ok)
            .add(2, EventKind::Ok)
            .add(3, EventKind::Ok)
            .read_all(json!([1, 3]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(kinds(&r), vec!["lost"]);
        // The add of 2 was invoked at index 2.
        assert_eq!(r.anomalies[0].operations, vec![2]);
        assert!(r.anomalies[0].message.contains(": 2"), "{:?}", r.anomalies);
        assert_eq!(r.stats["lost"], json!(1));
        assert_eq!(r.stats["lost_elements"], json!([2]));
    }

    #[test]
    fn unexpected_element_is_invalid() {
        let mut b = Builder::default();
        b.add(1, EventKind::Ok).read_all(json!([1, 77]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(kinds(&r), vec!["unexpected"]);
        assert_eq!(r.anomalies[0].operations, vec![2]);
        assert_eq!(r.stats["unexpected_elements"], json!([77]));
    }

    #[test]
    fn element_added_only_after_the_read_is_unexpected() {
        let mut b = Builder::default();
        b.read_all(json!([5])).add(5, EventKind::Ok);
        let r = b.check();
        assert_eq!(kinds(&r), vec!["unexpected"]);
    }

    #[test]
    fn duplicate_is_invalid() {
        let mut b = Builder::default();
        b.add(1, EventKind::Ok)
            .add(2, EventKind::Ok)
            .read_all(json!([1, 2, 2]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(kinds(&r), vec!["duplicate"]);
        assert_eq!(r.stats["duplicates"], json!(1));
        assert_eq!(r.stats["duplicate_elements"], json!([2]));
    }

    #[test]
    fn recovered_info_add_is_valid_and_counted() {
        let mut b = Builder::default();
        b.add(1, EventKind::Info)
            .add(2, EventKind::Info)
            .read_all(json!([1]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Valid);
        assert_eq!(r.stats["recovered"], json!(1));
        assert_eq!(r.stats["info_missing"], json!(1));
        assert_eq!(r.stats["acknowledged"], json!(0));
    }

    #[test]
    fn never_completed_add_counts_as_info() {
        let mut b = Builder::default();
        b.event(9, EventKind::Invoke, "add", json!(9))
            .read_all(json!([9]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Valid);
        assert_eq!(r.stats["recovered"], json!(1));
    }

    #[test]
    fn failed_add_present_is_invalid() {
        let mut b = Builder::default();
        b.add(1, EventKind::Ok)
            .add(2, EventKind::Fail)
            .read_all(json!([1, 2]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(kinds(&r), vec!["failed-add-present"]);
        assert_eq!(r.anomalies[0].operations, vec![2]);
    }

    #[test]
    fn retried_add_uses_best_outcome() {
        // The first attempt failed, the retry succeeded: present is fine.
        let mut b = Builder::default();
        b.add(1, EventKind::Fail)
            .add(1, EventKind::Ok)
            .read_all(json!([1]));
        assert_eq!(b.check().validity, Validity::Valid);
    }

    #[test]
    fn no_final_read_is_unknown() {
        let mut b = Builder::default();
        b.add(1, EventKind::Ok).add(2, EventKind::Ok);
        // A read-all that timed out does not count.
        b.event(1000, EventKind::Invoke, "read-all", Value::Null)
            .event(1000, EventKind::Info, "read-all", Value::Null);
        let r = b.check();
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(r.stats["attempted"], json!(2));
        assert_eq!(r.stats["acknowledged"], json!(2));
    }

    #[test]
    fn last_ok_read_all_is_used() {
        let mut b = Builder::default();
        b.read_all(json!([]))
            .add(1, EventKind::Ok)
            .read_all(json!([1]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Valid, "{r:#?}");
        assert_eq!(r.stats["final_read"], json!(4));
    }

    #[test]
    fn add_concurrent_with_final_read_may_be_missing() {
        let mut b = Builder::default();
        b.event(1, EventKind::Invoke, "add", json!(1))
            .event(1000, EventKind::Invoke, "read-all", Value::Null)
            .event(1, EventKind::Ok, "add", json!(1))
            .event(1000, EventKind::Ok, "read-all", json!([]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Valid, "{r:#?}");
        assert_eq!(r.stats["concurrent_missing"], json!(1));
    }

    #[test]
    fn several_anomalies_are_all_reported() {
        let mut b = Builder::default();
        b.add(1, EventKind::Ok)
            .add(2, EventKind::Ok)
            .add(3, EventKind::Fail)
            .read_all(json!([2, 2, 3, 50]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(
            kinds(&r),
            vec!["lost", "unexpected", "duplicate", "failed-add-present"]
        );
    }

    #[test]
    fn malformed_inputs_are_unknown() {
        let mut b = Builder::default();
        b.add(1, EventKind::Ok).read_all(json!("oops"));
        let r = b.check();
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(kinds(&r), vec!["malformed-read"]);

        let mut b = Builder::default();
        b.event(1, EventKind::Invoke, "add", json!("x"))
            .event(1, EventKind::Ok, "add", json!("x"))
            .read_all(json!([]));
        let r = b.check();
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(kinds(&r), vec!["malformed-operation"]);

        let mut b = Builder::default();
        b.event(1, EventKind::Ok, "add", json!(1));
        let r = b.check();
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(kinds(&r), vec!["malformed-history"]);
    }

    #[test]
    fn ranges_are_compact() {
        assert_eq!(ranges(&[]), "");
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1..3, 5, 7..8");
        assert_eq!(ranges(&[i64::MAX]), i64::MAX.to_string());
        let many: Vec<i64> = (0..100).map(|i| i * 2).collect();
        assert!(ranges(&many).ends_with("and 68 more ranges"));
    }
}
