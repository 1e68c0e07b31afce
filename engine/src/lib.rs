//! # The LauraDB document engine
//!
//! A library that stores MongoDB-style documents and answers MongoDB's query
//! and update language. It has no networking: each shard replica wraps one
//! engine in a Raft state machine, so the engine is a **deterministic state
//! machine** — `apply(command, commit_ts)` reads no clock, no randomness and
//! iterates nothing in hash order; whatever a write needs (generated `_id`s,
//! `$currentDate` values, the commit timestamp) travels inside the command.
//!
//! The layers, bottom to top:
//!
//! ```text
//!  engine (commands, reads, snapshots)   ── the state machine's face
//!    ├─ catalog    databases, collections, indexes
//!    ├─ query · update · projection · sort   MongoDB semantics on bson values
//!    ├─ document   validation (size, nesting, _id, field names)
//!    ├─ keycode    BSON values → order-preserving bytes (byte order = value order)
//!  mvcc                                  versioned keys: write at a commit ts, read at a snapshot ts
//!  storage                               ordered key/value store: sled or in-memory
//! ```
//!
//! `value` holds MongoDB's cross-type comparison order, which sort, the
//! comparison operators and the key encoding all share.

pub mod aggregate;
pub mod catalog;
pub mod command;
pub mod dataapi;
pub mod document;
pub mod engine;
pub mod error;
pub mod keycode;
pub mod keyspace;
pub mod mvcc;
pub mod projection;
pub mod query;
pub mod sharding;
pub mod sort;
pub mod storage;
pub mod update;
pub mod value;
pub mod wire;

pub use error::{Error, Result};
