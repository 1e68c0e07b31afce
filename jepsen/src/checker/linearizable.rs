//! Linearizability of read/write/cas registers, one key at a time.
//!
//! A history is **linearizable** if every operation can be given a single
//! instant — its *linearization point* — somewhere between its invocation and
//! its completion, such that replaying the operations one by one in the order
//! of those points, against a plain sequential register, yields exactly the
//! results the clients saw.
//!
//! ```text
//!  process 0  |--- write 1 ---|
//!  process 1        |-------- read → 1 --------|
//!  process 2                        |-- read → null --|   ✗ the write of 1
//!                                                          ended before this
//!                                                          read began
//! ```
//!
//! ## The register model
//!
//! Each key starts absent (`null`). `read` returns the current value;
//! `write v` sets it; `cas [old, new]` sets `new` if the current value equals
//! `old` and does nothing otherwise. A cas that completed `ok` succeeded, so
//! it *requires* the current value to be `old`.
//!
//! ## What the outcomes allow
//!
//! * `ok` operations must take effect between invocation and completion.
//! * `fail` operations did not happen: they are removed.
//! * `info` operations may take effect at any instant after their
//!   invocation — or never. An `info` read constrains nothing (its result is
//!   unknown), so it is dropped; an `info` write or cas has no deadline and
//!   may be left out of the linearization.
//!
//! ## Independent keys
//!
//! Registers under different keys do not interact, and linearizability is
//! *compositional* (a history is linearizable iff each key's sub-history
//! is), so each key is checked on its own. That keeps every search small.
//!
//! ## The search (Wing & Gong, with Lowe's memoisation)
//!
//! The `ok` operations of one key become an ordered list of entries: a
//! *call* entry at each invocation and a *return* entry at each completion.
//! Walking the list from the front:
//!
//! * at a call entry, try to linearize that operation now: if the model
//!   accepts it, push it on a stack, remove its call and return entries
//!   from the list ("lift" them) and restart from the front;
//! * at a return entry, the operation it belongs to had to be linearized
//!   already and was not — so the most recent choice was wrong: pop it,
//!   restore the model state, put its entries back, and try the next
//!   candidate after it.
//!
//! `info` write/cas operations have no return entry — they never *have* to
//! be done — so they sit in a second list, in invocation order. They are
//! tried only after the ok candidates, and only those invoked before the
//! first remaining return entry (an operation cannot act before it is
//! invoked).
//!
//! The history is linearizable as soon as every `ok` operation has been
//! lifted, and not linearizable when the search must backtrack with an
//! empty stack. Lowe's improvement makes this practical: a configuration
//! is fully described by *which* operations are linearized (bitsets) and
//! the model's state, so every configuration seen is remembered and never
//! explored twice. Info operations get two refinements, both of which keep
//! every verdict exact:
//!
//! * **Dominance.** Having used *fewer* info operations never hurts, so a
//!   configuration is skipped if one with the same linearized ok
//!   operations and state but a subset of its info operations was seen.
//! * **Useless steps are never taken.** An info operation that would not
//!   change the register, an ok write right after an info operation (which
//!   would overwrite it unseen), and using the later of two identical info
//!   operations before the earlier one are all skipped: any linearization
//!   doing so can be rewritten into one that does not.
//!
//! Without these, each outstanding info operation would double the states
//! of the search. The number of remembered configurations is still bounded
//! by [`SearchLimits::max_states_per_key`]; a key that exceeds it is
//! **unknown**, never valid.
//!
//! Before searching, a cheap test catches the plainest anomaly: an `ok`
//! read (or cas) needing a value that no write or cas of that key, not even
//! an indeterminate one, could have produced.
//!
//! ## Reading an anomaly
//!
//! When a key is not linearizable, the anomaly reports the deepest point
//! the search reached: how many operations it had linearized (and the last
//! few), the value the register held, the operation whose completion came
//! without it being able to take effect, and the other pending ok
//! operations that could not take effect next either — the usual place to
//! start reading the history.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::{Anomaly, CheckResult, Validity};
use crate::history::{History, Operation, Outcome};

/// Bounds on the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// The most search configurations (linearized operations, register
    /// value) to record for one key; beyond it the key's verdict is unknown.
    pub max_states_per_key: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        Self {
            max_states_per_key: 1_000_000,
        }
    }
}

/// A register operation with its values interned to small ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RegOp {
    Read(u32),
    Write(u32),
    Cas(u32, u32),
}

impl RegOp {
    /// Applies the operation to `state`; `None` if the model rejects it.
    fn step(self, state: u32) -> Option<u32> {
        match self {
            RegOp::Read(v) => (state == v).then_some(state),
            RegOp::Write(v) => Some(v),
            RegOp::Cas(old, new) => (state == old).then_some(new),
        }
    }
}

/// One operation of a key, ready for the search.
struct KeyOp<'a> {
    op: &'a Operation,
    reg: RegOp,
    /// `ok`: must be linearized before its completion.
    required: bool,
}

/// Maps JSON values to dense ids; id 0 is `null` (absent).
struct Interner {
    ids: HashMap<String, u32>,
    values: Vec<Value>,
}

impl Interner {
    fn new() -> Self {
        let mut interner = Self {
            ids: HashMap::new(),
            values: Vec::new(),
        };
        interner.intern(&Value::Null);
        interner
    }

    fn intern(&mut self, value: &Value) -> u32 {
        let text = value.to_string();
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        let id = self.values.len() as u32;
        self.ids.insert(text, id);
        self.values.push(value.clone());
        id
    }

    fn value(&self, id: u32) -> &Value {
        self.values.get(id as usize).unwrap_or(&Value::Null)
    }
}

/// Where the search got stuck, deepest first.
struct Stuck {
    depth: usize,
    state: u32,
    /// The op whose completion was reached without linearizing it.
    blocking: usize,
    /// Ops that were candidates at that point (calls before the return).
    candidates: Vec<usize>,
    /// The linearized prefix, in order.
    prefix: Vec<usize>,
}

enum Verdict {
    Valid,
    Invalid(Box<Stuck>),
    Unknown,
}

struct SearchOutcome {
    verdict: Verdict,
    states: usize,
}

const HEAD: usize = 0;

/// A fixed-size bitset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(len: usize) -> Self {
        Bits(vec![0; len.div_ceil(64)])
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn set(&mut self, i: usize, on: bool) {
        if on {
            self.0[i / 64] |= 1 << (i % 64);
        } else {
            self.0[i / 64] &= !(1 << (i % 64));
        }
    }
    fn is_subset_of(&self, other: &Bits) -> bool {
        self.0.iter().zip(&other.0).all(|(a, b)| a & !b == 0)
    }
}

/// The configurations seen so far.
///
/// A configuration is the set of `ok` operations linearized, the register
/// state, the chain flag (was the last step an `info` operation?) and the
/// set of `info` operations used. Using *fewer* info operations never hurts
/// — unused ones stay available forever — so a configuration is skipped
/// when one with the same ok set, state and flag, using a subset of its
/// info operations, was seen before. Without info operations this is
/// exactly Lowe's memoisation.
struct Seen {
    /// ok bitset words + [state | chain << 32] → minimal info sets seen.
    map: HashMap<Vec<u64>, Vec<Bits>>,
    /// Reused lookup key.
    key: Vec<u64>,
    /// Configurations recorded, for the search limit.
    count: usize,
}

impl Seen {
    /// Records the configuration unless one already seen dominates it;
    /// returns whether it was recorded.
    fn insert(&mut self, ok: &Bits, state: u32, chain: bool, info: &Bits) -> bool {
        self.key.clear();
        self.key.extend_from_slice(&ok.0);
        self.key.push(u64::from(state) | (u64::from(chain) << 32));
        let sets = match self.map.get_mut(self.key.as_slice()) {
            Some(sets) => {
                if sets.iter().any(|s| s.is_subset_of(info)) {
                    return false;
                }
                sets.retain(|s| !info.is_subset_of(s));
                sets
            }
            None => self.map.entry(self.key.clone()).or_default(),
        };
        sets.push(info.clone());
        self.count += 1;
        true
    }
}

/// A doubly linked list over nodes `0..len+2`; node 0 is the head sentinel
/// and node `len + 1` the tail. Removing a node keeps its own links, so
/// nodes removed in LIFO order can be put back exactly (dancing links).
struct Links {
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl Links {
    fn new(len: usize) -> Self {
        let mut next: Vec<usize> = (1..=len + 2).collect();
        next[len + 1] = len + 1;
        let prev = (0..len + 2).map(|n| n.saturating_sub(1)).collect();
        Links { next, prev }
    }
    fn tail(&self) -> usize {
        self.next.len() - 1
    }
    fn remove(&mut self, n: usize) {
        let (p, q) = (self.prev[n], self.next[n]);
        self.next[p] = q;
        self.prev[q] = p;
    }
    fn restore(&mut self, n: usize) {
        let (p, q) = (self.prev[n], self.next[n]);
        self.next[p] = n;
        self.prev[q] = n;
    }
}

/// Where the scan for the next operation to linearize stands.
#[derive(Clone, Copy)]
enum Cursor {
    /// At a node of the ok list.
    Ok(usize),
    /// At a node of the info list (all ok candidates were tried).
    Info(usize),
}

/// One linearized operation, with what it replaced.
struct Frame {
    cursor: Cursor,
    state: u32,
    chain: bool,
}

/// Wing–Gong–Lowe search over one key's operations.
///
/// `ok` operations live in a list of call and return entries ordered by
/// history index; `info` operations (which have no return entry) in a
/// separate list ordered by invocation. At each configuration the
/// candidates are the ok calls before the first remaining return entry,
/// tried first, then the info operations invoked before that return.
///
/// On top of the memoisation (see [`Seen`]), three rules skip
/// linearizations that are never needed; each maps any valid
/// linearization to one that the search still explores, so no verdict
/// changes:
///
/// * an `info` operation that would not change the register is never
///   linearized (leaving it out changes nothing);
/// * an `ok` write never directly follows an `info` operation (the write
///   would overwrite its effect unseen, so it could be left out);
/// * of identical `info` operations, the earliest invoked is always used
///   first (they are interchangeable once invoked).
fn search(ops: &[KeyOp<'_>], max_states: usize) -> SearchOutcome {
    let mut remaining = ops.iter().filter(|o| o.required).count();
    if remaining == 0 {
        return SearchOutcome {
            verdict: Verdict::Valid,
            states: 0,
        };
    }

    // Dense numbering of ok and info operations, for the bitsets.
    let mut slot = vec![0usize; ops.len()];
    let mut info_ops: Vec<usize> = Vec::new();
    let mut n_ok = 0;
    for (i, o) in ops.iter().enumerate() {
        if o.required {
            slot[i] = n_ok;
            n_ok += 1;
        } else {
            slot[i] = info_ops.len();
            info_ops.push(i);
        }
    }
    info_ops.sort_by_key(|&i| ops[i].op.invoke_index);
    // Identical info operations: `twin[i]` is the slot of the previous one.
    let mut twin = vec![usize::MAX; ops.len()];
    let mut last_info: HashMap<RegOp, usize> = HashMap::new();
    for &i in &info_ops {
        if let Some(t) = last_info.insert(ops[i].reg, i) {
            twin[i] = slot[t];
        }
    }

    // The ok list: (index, op, is_call) in history order.
    let mut order: Vec<(u64, usize, bool)> = Vec::with_capacity(2 * n_ok);
    for (i, o) in ops.iter().enumerate() {
        if o.required {
            order.push((o.op.invoke_index, i, true));
            // An ok op always has a completion; if not, it may stay open.
            if let Some(c) = o.op.complete_index {
                order.push((c, i, false));
            }
        }
    }
    // Ties cannot happen in a well-formed history; put calls first anyway.
    order.sort_by_key(|&(t, i, call)| (t, !call, i));
    let mut ok_list = Links::new(order.len());
    let ok_tail = ok_list.tail();
    let mut ret_node = vec![usize::MAX; ops.len()];
    for (n, &(_, i, call)) in order.iter().enumerate() {
        if !call {
            ret_node[i] = n + 1;
        }
    }
    let is_call = |n: usize| order[n - 1].2;
    let op_at = |n: usize| order[n - 1].1;

    let mut info_list = Links::new(info_ops.len());
    let info_tail = info_list.tail();

    // The current configuration.
    let mut ok_done = Bits::new(n_ok);
    let mut info_done = Bits::new(info_ops.len());
    let mut state: u32 = 0;
    let mut chain = false;

    let mut seen = Seen {
        map: HashMap::new(),
        key: Vec::new(),
        count: 0,
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut stuck: Option<Stuck> = None;

    let mut cursor = Cursor::Ok(ok_list.next[HEAD]);
    loop {
        // Pick the operation under the cursor, or notice there is none.
        let (i, node) = match cursor {
            Cursor::Ok(n) if n != ok_tail && is_call(n) => (op_at(n), n),
            Cursor::Ok(_) => {
                // Ok candidates exhausted; try the info operations.
                cursor = Cursor::Info(info_list.next[HEAD]);
                continue;
            }
            Cursor::Info(n) => {
                // The first remaining return entry is the deadline.
                let mut first_return = ok_list.next[HEAD];
                while first_return != ok_tail && is_call(first_return) {
                    first_return = ok_list.next[first_return];
                }
                let deadline = if first_return == ok_tail {
                    u64::MAX
                } else {
                    order[first_return - 1].0
                };
                if n != info_tail && ops[info_ops[n - 1]].op.invoke_index < deadline {
                    (info_ops[n - 1], n)
                } else {
                    // Nothing can be linearized next: backtrack.
                    if first_return != ok_tail
                        && stuck.as_ref().is_none_or(|s| stack.len() > s.depth)
                    {
                        let mut candidates = Vec::new();
                        let mut c = ok_list.next[HEAD];
                        while c != first_return {
                            candidates.push(op_at(c));
                            c = ok_list.next[c];
                        }
                        stuck = Some(Stuck {
                            depth: stack.len(),
                            state,
                            blocking: op_at(first_return),
                            candidates,
                            prefix: stack
                                .iter()
                                .map(|f| match f.cursor {
                                    Cursor::Ok(n) => op_at(n),
                                    Cursor::Info(n) => info_ops[n - 1],
                                })
                                .collect(),
                        });
                    }
                    let Some(frame) = stack.pop() else {
                        let verdict = match stuck {
                            Some(s) => Verdict::Invalid(Box::new(s)),
                            // Unreachable with ok ops left; never claim validity.
                            None => Verdict::Unknown,
                        };
                        return SearchOutcome {
                            verdict,
                            states: seen.count,
                        };
                    };
                    state = frame.state;
                    chain = frame.chain;
                    cursor = match frame.cursor {
                        Cursor::Ok(n) => {
                            let j = op_at(n);
                            ok_done.set(slot[j], false);
                            remaining += 1;
                            if ret_node[j] != usize::MAX {
                                ok_list.restore(ret_node[j]);
                            }
                            ok_list.restore(n);
                            Cursor::Ok(ok_list.next[n])
                        }
                        Cursor::Info(n) => {
                            info_done.set(slot[info_ops[n - 1]], false);
                            info_list.restore(n);
                            Cursor::Info(info_list.next[n])
                        }
                    };
                    continue;
                }
            }
        };

        // Try to linearize operation i now.
        let op = &ops[i];
        let allowed = if op.required {
            !(chain && matches!(op.reg, RegOp::Write(_)))
        } else {
            twin[i] == usize::MAX || info_done.get(twin[i])
        };
        let new_state = op
            .reg
            .step(state)
            .filter(|&n| allowed && (op.required || n != state));
        let done = if op.required {
            &mut ok_done
        } else {
            &mut info_done
        };
        if let Some(new_state) = new_state {
            done.set(slot[i], true);
            if seen.insert(&ok_done, new_state, !op.required, &info_done) {
                if seen.count > max_states {
                    return SearchOutcome {
                        verdict: Verdict::Unknown,
                        states: seen.count,
                    };
                }
                stack.push(Frame {
                    cursor,
                    state,
                    chain,
                });
                state = new_state;
                chain = !op.required;
                if op.required {
                    ok_list.remove(node);
                    if ret_node[i] != usize::MAX {
                        ok_list.remove(ret_node[i]);
                    }
                    remaining -= 1;
                    if remaining == 0 {
                        return SearchOutcome {
                            verdict: Verdict::Valid,
                            states: seen.count,
                        };
                    }
                } else {
                    info_list.remove(node);
                }
                cursor = Cursor::Ok(ok_list.next[HEAD]);
                continue;
            }
            let done = if op.required {
                &mut ok_done
            } else {
                &mut info_done
            };
            done.set(slot[i], false);
        }
        cursor = match cursor {
            Cursor::Ok(n) => Cursor::Ok(ok_list.next[n]),
            Cursor::Info(n) => Cursor::Info(info_list.next[n]),
        };
    }
}

/// Describes an operation for an anomaly message, e.g.
/// `#12 p3 read → 1 (ok, completed #15)`.
fn describe(op: &Operation) -> String {
    let what = match op.f.as_str() {
        "read" if op.outcome == Outcome::Ok => format!("read → {}", op.result_value),
        "read" => "read".to_string(),
        "write" => format!("write {}", op.invoke_value),
        "cas" => match op.invoke_value.as_array().map(Vec::as_slice) {
            Some([old, new]) => format!("cas {old} → {new}"),
            _ => format!("cas {}", op.invoke_value),
        },
        f => format!("{f} {}", op.invoke_value),
    };
    let when = match op.complete_index {
        Some(c) => format!("{}, completed #{c}", op.outcome),
        None => format!("{}, never completed", op.outcome),
    };
    format!("#{} p{} {what} ({when})", op.invoke_index, op.process)
}

fn key_name(key: &Option<String>) -> String {
    match key {
        Some(k) => format!("key {k:?}"),
        None => "the register".to_string(),
    }
}

/// Builds the anomaly for a key that is not linearizable.
fn nonlinearizable(
    key: &Option<String>,
    ops: &[KeyOp<'_>],
    interner: &Interner,
    stuck: &Stuck,
) -> Anomaly {
    const SHOWN: usize = 8;
    let blocking = ops[stuck.blocking].op;
    let mut message = format!(
        "{} is not linearizable: after linearizing {} of {} operations the register held {}, \
         and {} had to take effect before its completion #{} but could not",
        key_name(key),
        stuck.depth,
        ops.len(),
        interner.value(stuck.state),
        describe(blocking),
        blocking.complete_index.unwrap_or(blocking.invoke_index),
    );
    let others: Vec<String> = stuck
        .candidates
        .iter()
        .filter(|&&c| c != stuck.blocking)
        .take(SHOWN)
        .map(|&c| describe(ops[c].op))
        .collect();
    if !others.is_empty() {
        message.push_str("; no other pending operation could take effect next either: ");
        message.push_str(&others.join(", "));
        let hidden = stuck.candidates.len().saturating_sub(others.len() + 1);
        if hidden > 0 {
            message.push_str(&format!(" and {hidden} more"));
        }
    }
    if !stuck.prefix.is_empty() {
        let start = stuck.prefix.len().saturating_sub(SHOWN);
        let last: Vec<String> = stuck.prefix[start..]
            .iter()
            .map(|&i| describe(ops[i].op))
            .collect();
        message.push_str(&format!(
            "; the last linearized operations were: {}",
            last.join(", ")
        ));
    }
    let mut operations: Vec<u64> = stuck
        .candidates
        .iter()
        .chain(std::iter::once(&stuck.blocking))
        .map(|&c| ops[c].op.invoke_index)
        .collect();
    operations.sort_unstable();
    operations.dedup();
    Anomaly {
        kind: "nonlinearizable".to_string(),
        key: key.clone(),
        message,
        operations,
    }
}

/// Finds ok reads and ok cas operations that require a value which neither
/// the initial `null` nor any remaining write or cas can produce.
fn impossible_values(
    key: &Option<String>,
    ops: &[KeyOp<'_>],
    interner: &Interner,
) -> Option<Anomaly> {
    let mut producible = vec![false; interner.values.len()];
    producible[0] = true;
    for o in ops {
        match o.reg {
            RegOp::Write(v) | RegOp::Cas(_, v) => producible[v as usize] = true,
            RegOp::Read(_) => {}
        }
    }
    let bad: Vec<&Operation> = ops
        .iter()
        .filter(|o| o.required)
        .filter(|o| match o.reg {
            RegOp::Read(v) | RegOp::Cas(v, _) => !producible[v as usize],
            RegOp::Write(_) => false,
        })
        .map(|o| o.op)
        .collect();
    if bad.is_empty() {
        return None;
    }
    let shown: Vec<String> = bad.iter().take(8).map(|op| describe(op)).collect();
    let mut message = format!(
        "{} is not linearizable: {} operations observed a value that no write or cas \
         (not even an indeterminate one) could have produced: {}",
        key_name(key),
        bad.len(),
        shown.join(", ")
    );
    if bad.len() > shown.len() {
        message.push_str(&format!(" and {} more", bad.len() - shown.len()));
    }
    Some(Anomaly {
        kind: "nonlinearizable".to_string(),
        key: key.clone(),
        message,
        operations: bad.iter().map(|op| op.invoke_index).collect(),
    })
}

/// Checks every key's read/write/cas operations for linearizability against
/// a register that starts absent (`null`).
///
/// The result is invalid if any key is not linearizable (one
/// `nonlinearizable` anomaly per such key), else unknown if any key hit the
/// search limit or had a malformed operation, else valid. A malformed
/// history (see [`History::operations`]) is unknown, with a
/// `malformed-history` anomaly.
pub fn check_registers(history: &History, limits: SearchLimits) -> CheckResult {
    const CHECKER: &str = "linearizable";
    let all = match history.operations() {
        Ok(ops) => ops,
        Err(err) => {
            return CheckResult {
                checker: CHECKER.to_string(),
                validity: Validity::Unknown,
                anomalies: vec![Anomaly {
                    kind: "malformed-history".to_string(),
                    key: None,
                    message: err.to_string(),
                    operations: vec![],
                }],
                stats: json!({ "error": err.to_string() }),
            };
        }
    };

    let mut by_key: BTreeMap<&Option<String>, Vec<&Operation>> = BTreeMap::new();
    for op in &all {
        if matches!(op.f.as_str(), "read" | "write" | "cas") {
            by_key.entry(&op.key).or_default().push(op);
        }
    }

    let mut anomalies = Vec::new();
    let mut validity = Validity::Valid;
    let (mut ops_checked, mut failed_removed, mut info_reads_dropped, mut info_ops) =
        (0usize, 0usize, 0usize, 0usize);
    let (mut valid, mut invalid, mut unknown) = (0usize, 0usize, 0usize);
    let (mut states_total, mut states_max) = (0usize, 0usize);
    let mut invalid_keys = Vec::new();
    let mut unknown_keys = Vec::new();

    for (key, key_ops) in &by_key {
        let mut interner = Interner::new();
        let mut prepared = Vec::with_capacity(key_ops.len());
        let mut malformed = Vec::new();
        for &op in key_ops {
            let required = match op.outcome {
                Outcome::Fail => {
                    failed_removed += 1;
                    continue;
                }
                Outcome::Info if op.f == "read" => {
                    info_reads_dropped += 1;
                    continue;
                }
                Outcome::Info => false,
                Outcome::Ok => true,
            };
            let reg = match op.f.as_str() {
                "read" => RegOp::Read(interner.intern(&op.result_value)),
                "write" => RegOp::Write(interner.intern(&op.invoke_value)),
                _ => match op.invoke_value.as_array().map(Vec::as_slice) {
                    Some([old, new]) => RegOp::Cas(interner.intern(old), interner.intern(new)),
                    _ => {
                        malformed.push(op.invoke_index);
                        continue;
                    }
                },
            };
            if !required {
                info_ops += 1;
            }
            prepared.push(KeyOp { op, reg, required });
        }
        ops_checked += prepared.len();

        if !malformed.is_empty() {
            unknown += 1;
            unknown_keys.push(json!(key));
            validity = validity.and(Validity::Unknown);
            anomalies.push(Anomaly {
                kind: "malformed-operation".to_string(),
                key: (*key).clone(),
                message: format!(
                    "{}: cas operations whose value is not [old, new]; the key was not checked",
                    key_name(key)
                ),
                operations: malformed,
            });
            continue;
        }

        // Fast path: an ok read (or ok cas) that needs a value no operation
        // could have produced is impossible, whatever the order.
        if let Some(anomaly) = impossible_values(key, &prepared, &interner) {
            invalid += 1;
            invalid_keys.push(json!(key));
            validity = Validity::Invalid;
            anomalies.push(anomaly);
            continue;
        }

        let outcome = search(&prepared, limits.max_states_per_key);
        states_total += outcome.states;
        states_max = states_max.max(outcome.states);
        match outcome.verdict {
            Verdict::Valid => valid += 1,
            Verdict::Unknown => {
                unknown += 1;
                unknown_keys.push(json!(key));
                validity = validity.and(Validity::Unknown);
            }
            Verdict::Invalid(stuck) => {
                invalid += 1;
                invalid_keys.push(json!(key));
                validity = Validity::Invalid;
                anomalies.push(nonlinearizable(key, &prepared, &interner, &stuck));
            }
        }
    }

    CheckResult {
        checker: CHECKER.to_string(),
        validity,
        anomalies,
        stats: json!({
            "keys_checked": by_key.len(),
            "ops_checked": ops_checked,
            "failed_ops_removed": failed_removed,
            "info_reads_dropped": info_reads_dropped,
            "info_ops": info_ops,
            "valid_keys": valid,
            "invalid_keys": invalid,
            "unknown_keys": unknown,
            "invalid_key_names": invalid_keys,
            "unknown_key_names": unknown_keys,
            "states_explored": states_total,
            "max_states_one_key": states_max,
            "max_states_per_key": limits.max_states_per_key,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, EventKind};

    /// A tiny deterministic PRNG (splitmix64), so tests need no `rand`.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in `0..n` (n > 0).
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// True with probability `percent`/100.
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    /// Builds histories event by event.
    #[derive(Default)]
    struct Builder {
        h: History,
    }

    impl Builder {
        fn event(&mut self, process: u64, kind: EventKind, f: &str, key: &str, value: Value) {
            let time_nanos = 1000 * self.h.len() as u64;
            self.h.push(Event {
                index: 0,
                time_nanos,
                process,
                kind,
                f: f.to_string(),
                key: Some(key.to_string()),
                value,
                error: None,
            });
        }
        fn invoke(&mut self, p: u64, f: &str, value: Value) -> &mut Self {
            self.event(p, EventKind::Invoke, f, "k", value);
            self
        }
        fn ok(&mut self, p: u64, f: &str, value: Value) -> &mut Self {
            self.event(p, EventKind::Ok, f, "k", value);
            self
        }
        fn fail(&mut self, p: u64, f: &str, value: Value) -> &mut Self {
            self.event(p, EventKind::Fail, f, "k", value);
            self
        }
        fn info(&mut self, p: u64, f: &str, value: Value) -> &mut Self {
            self.event(p, EventKind::Info, f, "k", value);
            self
        }
        /// A complete, non-overlapping ok operation.
        fn op(&mut self, p: u64, f: &str, invoke: Value, result: Value) -> &mut Self {
            self.invoke(p, f, invoke).ok(p, f, result)
        }
        fn check(&self) -> CheckResult {
            check_registers(&self.h, SearchLimits::default())
        }
    }

    fn assert_valid(b: &Builder) {
        let r = b.check();
        assert_eq!(r.validity, Validity::Valid, "{r:#?}");
        assert!(r.anomalies.is_empty());
    }

    fn assert_invalid(b: &Builder) -> Anomaly {
        let r = b.check();
        assert_eq!(r.validity, Validity::Invalid, "{r:#?}");
        assert_eq!(r.anomalies.len(), 1, "{r:#?}");
        let a = r.anomalies[0].clone();
        assert_eq!(a.kind, "nonlinearizable");
        assert_eq!(a.key.as_deref(), Some("k"));
        assert!(!a.operations.is_empty());
        a
    }

    const NULL: Value = Value::Null;

    // ---- known-bad histories ----

    #[test]
    fn stale_read_is_invalid() {
        let mut b = Builder::default();
        b.op(0, "write", json!(1), json!(1))
            .op(1, "write", json!(2), json!(2))
            .op(2, "read", NULL, json!(1));
        let a = assert_invalid(&b);
        // The stale read (invoked at #4) is among the reported operations.
        assert!(a.operations.contains(&4), "{a:?}");
        assert!(a.message.contains("read → 1"), "{}", a.message);
    }

    #[test]
    fn lost_write_is_invalid() {
        let mut b = Builder::default();
        b.op(0, "write", json!(3), json!(3))
            .op(1, "read", NULL, NULL);
        assert_invalid(&b);

        let mut b = Builder::default();
        b.op(0, "write", json!(2), json!(2))
            .op(0, "write", json!(3), json!(3))
            .op(1, "read", NULL, json!(2));
        assert_invalid(&b);
    }

    #[test]
    fn read_of_never_written_value_is_invalid() {
        let mut b = Builder::default();
        b.op(0, "write", json!(1), json!(1))
            .op(1, "read", NULL, json!(42));
        let a = assert_invalid(&b);
        assert_eq!(a.operations, vec![2]);
        assert!(a.message.contains("no write or cas"), "{}", a.message);
    }

    #[test]
    fn duplicate_cas_is_invalid() {
        let mut b = Builder::default();
        b.op(0, "write", json!(0), json!(0))
            .op(1, "cas", json!([0, 1]), json!([0, 1]))
            .op(2, "cas", json!([0, 1]), json!([0, 1]));
        assert_invalid(&b);
    }

    #[test]
    fn cas_success_contradicted_by_later_read_is_invalid() {
        let mut b = Builder::default();
        b.op(0, "write", json!(0), json!(0))
            .op(1, "cas", json!([0, 5]), json!([0, 5]))
            .op(2, "read", NULL, json!(0));
        assert_invalid(&b);

        // An ok cas whose precondition never held.
        let mut b = Builder::default();
        b.op(0, "write", json!(7), json!(7))
            .op(1, "cas", json!([3, 4]), json!([3, 4]));
        assert_invalid(&b);
    }

    #[test]
    fn concurrent_reads_disagreeing_in_order_are_invalid() {
        // write 1 then write 2 complete; two later sequential reads see 2
        // then 1: the value went backwards.
        let mut b = Builder::default();
        b.invoke(0, "write", json!(1))
            .invoke(1, "write", json!(2))
            .ok(0, "write", json!(1))
            .ok(1, "write", json!(2))
            .op(2, "read", NULL, json!(2))
            .op(2, "read", NULL, json!(1));
        assert_invalid(&b);
    }

    #[test]
    fn info_write_cannot_take_effect_twice() {
        let mut b = Builder::default();
        b.invoke(0, "write", json!(1))
            .info(0, "write", json!(1))
            .op(1, "read", NULL, json!(1))
            .op(1, "write", json!(2), json!(2))
            .op(1, "read", NULL, json!(1));
        assert_invalid(&b);
    }

    #[test]
    fn info_write_cannot_take_effect_before_invocation() {
        let mut b = Builder::default();
        b.op(1, "read", NULL, json!(1))
            .invoke(0, "write", json!(1))
            .info(0, "write", json!(1));
        assert_invalid(&b);
    }

    // ---- known-good histories ----

    #[test]
    fn empty_history_is_valid() {
        assert_valid(&Builder::default());
    }

    #[test]
    fn concurrent_write_and_read_may_see_either_value() {
        for seen in [json!(1), json!(2)] {
            let mut b = Builder::default();
            b.op(0, "write", json!(1), json!(1))
                .invoke(0, "write", json!(2))
                .invoke(1, "read", NULL)
                .ok(1, "read", seen)
                .ok(0, "write", json!(2));
            assert_valid(&b);
        }
    }

    #[test]
    fn info_write_seen_later_is_valid() {
        let mut b = Builder::default();
        b.invoke(0, "write", json!(5))
            .info(0, "write", json!(5))
            .op(1, "read", NULL, NULL)
            .op(1, "read", NULL, json!(5))
            .op(1, "read", NULL, json!(5));
        assert_valid(&b);
    }

    #[test]
    fn info_write_never_seen_is_valid() {
        let mut b = Builder::default();
        b.op(1, "write", json!(1), json!(1))
            .invoke(0, "write", json!(5))
            .info(0, "write", json!(5))
            .op(1, "read", NULL, json!(1))
            .op(1, "read", NULL, json!(1));
        assert_valid(&b);
    }

    #[test]
    fn never_completed_write_is_like_info() {
        let mut b = Builder::default();
        b.invoke(0, "write", json!(5))
            .op(1, "read", NULL, NULL)
            .op(1, "read", NULL, json!(5));
        assert_valid(&b);
    }

    #[test]
    fn failed_cas_is_ignored() {
        let mut b = Builder::default();
        b.op(0, "write", json!(1), json!(1))
            .invoke(1, "cas", json!([2, 3]))
            .fail(1, "cas", json!([2, 3]))
            .op(2, "read", NULL, json!(1));
        assert_valid(&b);

        // Even a failed cas whose precondition held: it did not happen.
        let mut b = Builder::default();
        b.op(0, "write", json!(1), json!(1))
            .invoke(1, "cas", json!([1, 3]))
            .fail(1, "cas", json!([1, 3]))
            .op(2, "read", NULL, json!(1));
        assert_valid(&b);
    }

    #[test]
    fn failed_write_is_ignored_but_a_seen_failed_write_is_invalid() {
        let mut b = Builder::default();
        b.invoke(0, "write", json!(9))
            .fail(0, "write", json!(9))
            .op(1, "read", NULL, NULL);
        assert_valid(&b);

        let mut b = Builder::default();
        b.invoke(0, "write", json!(9))
            .fail(0, "write", json!(9))
            .op(1, "read", NULL, json!(9));
        assert_invalid(&b);
    }

    #[test]
    fn read_of_null_before_any_write_is_valid() {
        let mut b = Builder::default();
        b.op(0, "read", NULL, NULL)
            .op(0, "write", json!(1), json!(1))
            .op(0, "read", NULL, json!(1));
        assert_valid(&b);
    }

    #[test]
    fn overlapping_cas_ops_are_valid() {
        // Both invoked while the value is 0, completing in either order:
        // cas(0,1) then cas(1,2).
        let mut b = Builder::default();
        b.op(0, "write", json!(0), json!(0))
            .invoke(1, "cas", json!([1, 2]))
            .invoke(2, "cas", json!([0, 1]))
            .ok(1, "cas", json!([1, 2]))
            .ok(2, "cas", json!([0, 1]))
            .op(3, "read", NULL, json!(2));
        assert_valid(&b);
    }

    #[test]
    fn info_cas_may_or_may_not_apply() {
        for seen in [json!(0), json!(1)] {
            let mut b = Builder::default();
            b.op(0, "write", json!(0), json!(0))
                .invoke(1, "cas", json!([0, 1]))
                .info(1, "cas", json!([0, 1]))
                .op(2, "read", NULL, seen);
            assert_valid(&b);
        }
        // But an info cas only applies when its precondition holds.
        let mut b = Builder::default();
        b.op(0, "write", json!(7), json!(7))
            .invoke(1, "cas", json!([0, 1]))
            .info(1, "cas", json!([0, 1]))
            .op(2, "read", NULL, json!(1));
        assert_invalid(&b);
    }

    #[test]
    fn identical_info_writes_can_each_take_effect_once() {
        let mut b = Builder::default();
        b.invoke(0, "write", json!(1))
            .info(0, "write", json!(1))
            .invoke(1, "write", json!(1))
            .info(1, "write", json!(1))
            .op(2, "read", NULL, json!(1))
            .op(2, "write", json!(2), json!(2))
            .op(2, "read", NULL, json!(1))
            .op(2, "write", json!(3), json!(3));
        assert_valid(&b);
        // A third return to 1 needs a third write of 1.
        b.op(2, "read", NULL, json!(1));
        assert_invalid(&b);
    }

    #[test]
    fn chains_of_info_operations() {
        // Two indeterminate cas operations, applied one after the other.
        let mut b = Builder::default();
        b.op(0, "write", json!(0), json!(0))
            .invoke(1, "cas", json!([1, 2]))
            .info(1, "cas", json!([1, 2]))
            .invoke(2, "cas", json!([0, 1]))
            .info(2, "cas", json!([0, 1]))
            .op(3, "read", NULL, json!(2));
        assert_valid(&b);
    }

    #[test]
    fn info_write_may_take_effect_after_later_writes() {
        // No deadline: the indeterminate write lands after the ok write.
        let mut b = Builder::default();
        b.invoke(0, "write", json!(5))
            .info(0, "write", json!(5))
            .op(1, "write", json!(2), json!(2))
            .op(1, "read", NULL, json!(2))
            .op(1, "read", NULL, json!(5))
            .op(1, "read", NULL, json!(5));
        assert_valid(&b);
    }

    #[test]
    fn info_reads_constrain_nothing() {
        let mut b = Builder::default();
        b.op(0, "write", json!(1), json!(1))
            .invoke(1, "read", NULL)
            .info(1, "read", json!(99));
        let r = b.check();
        assert_eq!(r.validity, Validity::Valid);
        assert_eq!(r.stats["info_reads_dropped"], json!(1));
    }

    #[test]
    fn keys_are_checked_independently() {
        let mut h = History::new();
        let mut push = |p: u64, kind: EventKind, f: &str, key: &str, value: Value| {
            h.push(Event {
                index: 0,
                time_nanos: 0,
                process: p,
                kind,
                f: f.into(),
                key: Some(key.into()),
                value,
                error: None,
            });
        };
        push(0, EventKind::Invoke, "write", "a", json!(1));
        push(0, EventKind::Ok, "write", "a", json!(1));
        // Reading 1 from b would be fine if keys were shared; it is not.
        push(1, EventKind::Invoke, "read", "b", NULL);
        push(1, EventKind::Ok, "read", "b", json!(1));
        push(2, EventKind::Invoke, "read", "a", NULL);
        push(2, EventKind::Ok, "read", "a", json!(1));
        // Set ops are ignored by this checker.
        h.push(Event {
            index: 0,
            time_nanos: 0,
            process: 3,
            kind: EventKind::Invoke,
            f: "add".into(),
            key: None,
            value: json!(1),
            error: None,
        });
        let r = check_registers(&h, SearchLimits::default());
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(r.anomalies.len(), 1);
        assert_eq!(r.anomalies[0].key.as_deref(), Some("b"));
        assert_eq!(r.anomalies[0].operations, vec![2]);
        assert_eq!(r.stats["keys_checked"], json!(2));
        assert_eq!(r.stats["valid_keys"], json!(1));
        assert_eq!(r.stats["invalid_keys"], json!(1));
        assert_eq!(r.stats["invalid_key_names"], json!(["b"]));
        assert_eq!(r.stats["ops_checked"], json!(3));
    }

    #[test]
    fn malformed_history_is_unknown() {
        let mut b = Builder::default();
        b.ok(0, "read", json!(1));
        let r = b.check();
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(r.anomalies[0].kind, "malformed-history");
    }

    #[test]
    fn malformed_cas_makes_key_unknown() {
        let mut b = Builder::default();
        b.op(0, "cas", json!(3), json!(3));
        let r = b.check();
        assert_eq!(r.validity, Validity::Unknown);
        assert_eq!(r.anomalies[0].kind, "malformed-operation");
        assert_eq!(r.anomalies[0].operations, vec![0]);
    }

    #[test]
    fn search_limit_gives_unknown_never_valid() {
        let mut b = Builder::default();
        for p in 0..6 {
            b.invoke(p, "write", json!(p));
        }
        for p in 0..6 {
            b.ok(p, "write", json!(p));
        }
        b.op(9, "read", NULL, json!(3));
        let r = check_registers(
            &b.h,
            SearchLimits {
                max_states_per_key: 2,
            },
        );
        assert_eq!(r.validity, Validity::Unknown, "{r:#?}");
        assert_eq!(r.stats["unknown_key_names"], json!(["k"]));
        assert_eq!(b.check().validity, Validity::Valid);
    }

    #[test]
    fn anomaly_message_is_readable() {
        let mut b = Builder::default();
        b.op(0, "write", json!(1), json!(1))
            .op(1, "write", json!(2), json!(2))
            .op(2, "read", NULL, json!(1));
        let a = assert_invalid(&b);
        assert!(a.message.contains("key \"k\""), "{}", a.message);
        assert!(a.message.contains("held 2"), "{}", a.message);
        assert!(a.message.contains("#4 p2 read → 1"), "{}", a.message);
        assert!(a.message.contains("write 2"), "{}", a.message);
    }

    // ---- generated histories ----

    /// Parameters of a simulated run.
    #[derive(Clone, Copy)]
    struct Sim {
        keys: usize,
        per_key_procs: usize,
        ops_per_key: usize,
        /// Values written are drawn from `0..values`.
        values: u64,
        /// Percent of operations that time out before taking effect.
        info_before: u64,
        /// Percent of operations that time out after taking effect.
        info_after: u64,
    }

    const BIG: Sim = Sim {
        keys: 50,
        per_key_procs: 5,
        ops_per_key: 300,
        values: 5,
        info_before: 3,
        info_after: 2,
    };

    /// Simulates clients of real (atomic) registers: every operation takes
    /// effect at one instant strictly inside its interval, so the history
    /// is linearizable by construction. Some operations time out (`info`),
    /// either before or after taking effect; some of those take effect much
    /// later, some never.
    fn simulate(seed: u64, sim: Sim) -> History {
        let Sim {
            keys,
            per_key_procs,
            ops_per_key,
            values,
            info_before,
            info_after,
        } = sim;
        #[derive(Clone)]
        enum Slot {
            Idle,
            Invoked {
                f: &'static str,
                value: Value,
            },
            Applied {
                f: &'static str,
                value: Value,
                result: Value,
                ok: bool,
            },
        }
        let mut rng = Rng(seed);
        let mut h = History::new();
        let mut registers = vec![Value::Null; keys];
        let mut slots = vec![Slot::Idle; keys * per_key_procs];
        let mut process: Vec<u64> = (0..slots.len() as u64).collect();
        let mut next_process = slots.len() as u64;
        let mut invoked = vec![0usize; keys];
        // Timed-out ops that have not taken effect yet: (key, f, value).
        let mut limbo: Vec<(usize, &'static str, Value)> = Vec::new();
        let mut time = 0u64;

        let apply = |reg: &mut Value, f: &str, value: &Value| -> (Value, bool) {
            match f {
                "read" => (reg.clone(), true),
                "write" => {
                    *reg = value.clone();
                    (value.clone(), true)
                }
                _ => {
                    if *reg == value[0] {
                        *reg = value[1].clone();
                        (value.clone(), true)
                    } else {
                        (value.clone(), false)
                    }
                }
            }
        };

        loop {
            time += 1 + rng.below(50);
            if !limbo.is_empty() && rng.chance(3) {
                let i = rng.below(limbo.len() as u64) as usize;
                let (k, f, value) = limbo.swap_remove(i);
                if rng.chance(50) {
                    apply(&mut registers[k], f, &value);
                }
            }
            let s = rng.below(slots.len() as u64) as usize;
            let k = s / per_key_procs;
            let emit = |h: &mut History, kind: EventKind, p: u64, f: &str, value: Value| {
                h.push(Event {
                    index: 0,
                    time_nanos: time,
                    process: p,
                    kind,
                    f: f.to_string(),
                    key: Some(format!("k{k}")),
                    value,
                    error: (kind == EventKind::Info).then(|| "timeout".to_string()),
                });
            };
            match slots[s].clone() {
                Slot::Idle => {
                    if invoked[k] >= ops_per_key {
                        if invoked.iter().all(|&n| n >= ops_per_key)
                            && slots.iter().all(|s| matches!(s, Slot::Idle))
                        {
                            break;
                        }
                        continue;
                    }
                    invoked[k] += 1;
                    let (f, value) = match rng.below(10) {
                        0..=3 => ("read", Value::Null),
                        4..=6 => ("write", json!(rng.below(values))),
                        _ => ("cas", json!([rng.below(values), rng.below(values)])),
                    };
                    emit(&mut h, EventKind::Invoke, process[s], f, value.clone());
                    slots[s] = Slot::Invoked { f, value };
                }
                Slot::Invoked { f, value } => {
                    if rng.chance(info_before) {
                        // Times out before taking effect; may take effect later.
                        emit(&mut h, EventKind::Info, process[s], f, value.clone());
                        if f != "read" {
                            limbo.push((k, f, value));
                        }
                        process[s] = next_process;
                        next_process += 1;
                        slots[s] = Slot::Idle;
                    } else {
                        let (result, ok) = apply(&mut registers[k], f, &value);
                        slots[s] = Slot::Applied {
                            f,
                            value,
                            result,
                            ok,
                        };
                    }
                }
                Slot::Applied {
                    f,
                    value,
                    result,
                    ok,
                } => {
                    if rng.chance(info_after) {
                        // Took effect, but the client never heard back.
                        emit(&mut h, EventKind::Info, process[s], f, value);
                        process[s] = next_process;
                        next_process += 1;
                    } else {
                        let kind = if ok { EventKind::Ok } else { EventKind::Fail };
                        emit(&mut h, kind, process[s], f, result);
                    }
                    slots[s] = Slot::Idle;
                }
            }
        }
        h
    }

    #[test]
    fn generated_valid_history_50_keys_300_ops() {
        let h = simulate(0x001a_0adb, BIG);
        assert!(h.operations().is_ok());
        let r = check_registers(&h, SearchLimits::default());
        assert_eq!(r.validity, Validity::Valid, "{:#?}", r.anomalies);
        assert_eq!(r.stats["keys_checked"], json!(50));
        assert_eq!(r.stats["valid_keys"], json!(50));
        assert!(r.stats["info_ops"].as_u64().unwrap() > 0);
        assert!(r.stats["failed_ops_removed"].as_u64().unwrap() > 0);
    }

    #[test]
    fn generated_history_with_one_corrupted_read_is_invalid() {
        let mut h = simulate(
            7,
            Sim {
                keys: 10,
                ops_per_key: 100,
                ..BIG
            },
        );
        // Corrupt one ok read on key k3 to a value nobody writes.
        let pos = h
            .events
            .iter()
            .position(|e| {
                e.kind == EventKind::Ok && e.f == "read" && e.key.as_deref() == Some("k3")
            })
            .unwrap();
        h.events[pos].value = json!(1000);
        let r = check_registers(&h, SearchLimits::default());
        assert_eq!(r.validity, Validity::Invalid);
        assert_eq!(r.anomalies.len(), 1);
        assert_eq!(r.anomalies[0].key.as_deref(), Some("k3"));
        assert_eq!(r.stats["valid_keys"], json!(9));
    }

    /// An independent, exhaustive checker for tiny single-key histories: tries
    /// every order of operations that respects real time.
    fn brute_force(ops: &[Operation]) -> bool {
        let ops: Vec<&Operation> = ops
            .iter()
            .filter(|o| o.outcome == Outcome::Ok || (o.outcome == Outcome::Info && o.f != "read"))
            .collect();
        fn go(ops: &[&Operation], done: &mut Vec<bool>, state: &Value) -> bool {
            let pending_ok = |done: &[bool], i: usize| !done[i] && ops[i].outcome == Outcome::Ok;
            if !(0..ops.len()).any(|i| pending_ok(done, i)) {
                return true;
            }
            for i in 0..ops.len() {
                if done[i] {
                    continue;
                }
                // i may go next only if no pending ok op completed before i
                // was invoked.
                let blocked = (0..ops.len()).any(|j| {
                    pending_ok(done, j)
                        && ops[j]
                            .complete_index
                            .is_some_and(|c| c < ops[i].invoke_index)
                });
                if blocked {
                    continue;
                }
                let o = ops[i];
                let next = match o.f.as_str() {
                    "read" => (o.result_value == *state).then(|| state.clone()),
                    "write" => Some(o.invoke_value.clone()),
                    _ => (o.invoke_value[0] == *state).then(|| o.invoke_value[1].clone()),
                };
                if let Some(next) = next {
                    done[i] = true;
                    if go(ops, done, &next) {
                        return true;
                    }
                    done[i] = false;
                }
            }
            false
        }
        go(&ops, &mut vec![false; ops.len()], &Value::Null)
    }

    #[test]
    fn agrees_with_brute_force_on_small_random_histories() {
        let small = Sim {
            keys: 1,
            per_key_procs: 3,
            ops_per_key: 6,
            values: 3,
            info_before: 3,
            info_after: 2,
        };
        let configs = [
            small,
            Sim {
                ops_per_key: 7,
                info_before: 20,
                info_after: 15,
                ..small
            },
            Sim {
                per_key_procs: 4,
                ops_per_key: 7,
                values: 2,
                info_before: 30,
                info_after: 20,
                ..small
            },
        ];
        let mut rng = Rng(42);
        for (c, &sim) in configs.iter().enumerate() {
            let (mut valid, mut invalid) = (0, 0);
            for seed in 0..300 {
                let mut h = simulate(1000 * c as u64 + seed, sim);
                // Perturb some histories so that both verdicts occur.
                for e in h.events.iter_mut() {
                    match (e.kind, e.f.as_str()) {
                        (EventKind::Ok, "read") if rng.chance(20) => {
                            e.value = json!(rng.below(sim.values));
                        }
                        (EventKind::Ok, "cas") if rng.chance(10) => e.kind = EventKind::Fail,
                        (EventKind::Fail, "cas") if rng.chance(10) => e.kind = EventKind::Ok,
                        _ => {}
                    }
                }
                let expected = brute_force(&h.operations().unwrap());
                let r = check_registers(&h, SearchLimits::default());
                let got = match r.validity {
                    Validity::Valid => true,
                    Validity::Invalid => false,
                    Validity::Unknown => panic!("unknown for config {c} seed {seed}"),
                };
                assert_eq!(
                    got,
                    expected,
                    "config {c} seed {seed}: {:#?}\n{}",
                    r,
                    h.to_edn()
                );
                if got {
                    valid += 1;
                } else {
                    invalid += 1;
                }
            }
            assert!(
                valid > 30 && invalid > 30,
                "config {c}: valid {valid}, invalid {invalid}"
            );
        }
    }
}
