//! Sharding: how a collection's documents are spread over shards, and how a
//! shard knows which of them it owns.
//!
//! A sharded collection has a **shard key** ([`ShardKeyPattern`]): one or
//! more fields (`{k: 1}`, `{a: 1, b: 1}`), or one hashed field
//! (`{k: "hashed"}`). Each document maps to a **routing key**, a byte string
//! whose order is MongoDB's value order of the key's tuple (keycode, see
//! [`crate::keycode`]); for a hashed key it is the keycode of the 64-bit hash
//! ([`hash_value`]). The key space is cut into **chunks** `[min, max)`, each
//! owned by one shard.
//!
//! ```text
//!  document ──values_of──▶ (v1, v2, …) ──routing_key──▶ bytes ──▶ chunk [min,max) ──▶ shard
//!           (missing → null; arrays are refused)   hashed: keycode(Int64(hash(v1)))
//! ```
//!
//! **Versions.** The config group is the truth about chunks. Each collection
//! there has a [`ShardVersion`]: an `epoch` that changes whenever the
//! collection is sharded, dropped or recreated (epochs come from one counter
//! in the config group, so they only grow), and `major.minor` inside it
//! (`major` grows whenever a chunk changes owner, `minor` on a split).
//!
//! **Shard-side state.** Each shard keeps a copy of what it needs
//! ([`CollectionRouting`]: version, key, the ranges it owns), written through
//! its own Raft log by [`crate::command::Operation::InstallRouting`]. Every
//! request a router sends carries the version it routed with
//! ([`crate::command::Operation::Versioned`] for writes); the shard compares
//! `(epoch, major)` and answers [`crate::Error::StaleConfig`] on a mismatch.
//! If the router is behind it reloads the catalog; if the shard is behind the
//! router installs the catalog's state on it. Both then retry. Installs only
//! move forward, so two routers racing to install cannot move a shard back.
//!
//! **Drops.** `incarnation` is the epoch of the collection's latest drop. A
//! shard that installs a state with a newer incarnation first deletes its
//! documents of that namespace: dropping a sharded collection is "install the
//! dropped state everywhere", and a shard that missed the drop still drops
//! before it serves the new epoch.

mod key;
mod routing;
mod target;

pub use key::{ShardKeyPattern, hash_value};
pub use routing::{CollectionRouting, KeyRange, ShardVersion};
pub use target::{KeyTarget, target_of};
