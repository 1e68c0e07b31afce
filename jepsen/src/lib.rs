//! LauraDB's Jepsen-style test harness.
//!
//! A run starts a real cluster ([`cluster`]: processes in network namespaces
//! made by [`net`], or the docker compose cluster of [`compose`]), drives it with concurrent clients ([`workload`]) while a
//! [`nemesis`] partitions, kills and pauses its processes, records every
//! operation in a [`history`], and judges that history with [`checker`]s:
//! linearizability per register key, and the set checker (lost, unexpected
//! and recovered elements). [`run`] ties it together and writes the run
//! directory, with [`plot`]s of latency and throughput. `jepsen/README.md` explains how to run it and read a report.

pub mod checker;
pub mod cluster;
pub mod compose;
pub mod history;
pub mod http;
pub mod nemesis;
pub mod net;
pub mod plot;
pub mod rng;
pub mod run;
pub mod workload;
