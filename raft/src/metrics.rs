//! Raft state as `metrics` gauges, per group and node.
//!
//! A task per hosted replica follows openraft's metrics channel and mirrors
//! term, leader, log/commit/applied indexes and, on the leader, each
//! follower's lag. It ends when the replica shuts down.
//!
//! openraft publishes a new value on nearly every step of a write (append,
//! flush, commit, apply, each follower's progress), so this loop runs
//! several times per log entry on every replica. It therefore looks each
//! gauge up in the recorder once, when the task starts (a follower's lag
//! gauge the first time that follower shows up), and reads the fields it
//! needs under the channel's borrow instead of cloning the whole metrics
//! value (which carries the membership). So the process's `metrics`
//! recorder must be installed before replicas start (the `lauradb` binary
//! does it first thing); gauges taken before that stay no-ops.

use std::collections::BTreeMap;
use std::sync::Arc;

use metrics::Gauge;
use openraft::async_runtime::watch::WatchReceiver;

use crate::group::Group;
use crate::types::NodeId;

/// The gauges of one replica.
struct ReplicaGauges {
    group: String,
    node: String,
    term: Gauge,
    leader: Gauge,
    is_leader: Gauge,
    last_log_index: Gauge,
    commit_index: Gauge,
    applied_index: Gauge,
    follower_lag: BTreeMap<NodeId, Gauge>,
}

impl ReplicaGauges {
    fn new(group: String, node: String) -> ReplicaGauges {
        let labels = [("group", group.clone()), ("node", node.clone())];
        ReplicaGauges {
            term: metrics::gauge!("lauradb_raft_term", &labels),
            leader: metrics::gauge!("lauradb_raft_leader", &labels),
            is_leader: metrics::gauge!("lauradb_raft_is_leader", &labels),
            last_log_index: metrics::gauge!("lauradb_raft_last_log_index", &labels),
            commit_index: metrics::gauge!("lauradb_raft_commit_index", &labels),
            applied_index: metrics::gauge!("lauradb_raft_applied_index", &labels),
            follower_lag: BTreeMap::new(),
            group,
            node,
        }
    }

    fn follower_lag(&mut self, follower: NodeId) -> &Gauge {
        let (group, node) = (&self.group, &self.node);
        self.follower_lag.entry(follower).or_insert_with(|| {
            metrics::gauge!(
                "lauradb_raft_follower_lag_entries",
                "group" => group.clone(),
                "node" => node.clone(),
                "follower" => follower.to_string()
            )
        })
    }

    fn record(&mut self, m: &openraft::RaftMetrics<crate::types::TypeConfig>) {
        self.term.set(m.current_term as f64);
        self.leader
            .set(m.current_leader.map(|l| l as f64).unwrap_or(-1.0));
        self.is_leader
            .set(if m.state == openraft::ServerState::Leader {
                1.0
            } else {
                0.0
            });
        let last = m.last_log_index.unwrap_or(0);
        self.last_log_index.set(last as f64);
        self.commit_index
            .set(m.local_committed.map(|l| l.index).unwrap_or(0) as f64);
        self.applied_index
            .set(m.last_applied.map(|l| l.index).unwrap_or(0) as f64);
        if let Some(replication) = &m.replication {
            for (follower, matched) in replication {
                let lag = last.saturating_sub(matched.map(|l| l.index).unwrap_or(0));
                self.follower_lag(*follower).set(lag as f64);
            }
        }
    }
}

/// Starts mirroring `group`'s Raft metrics into gauges.
pub fn watch_group(group: &Arc<Group>) {
    let mut rx = group.raft.metrics();
    let mut gauges = ReplicaGauges::new(group.id.to_string(), group.node.to_string());
    tokio::spawn(async move {
        loop {
            gauges.record(&rx.borrow_and_update());
            if rx.changed().await.is_err() {
                break;
            }
        }
    });
}
