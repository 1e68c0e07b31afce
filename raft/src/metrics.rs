//! Raft state as `metrics` gauges, per group and node.
//!
//! A task per hosted replica follows openraft's metrics channel and mirrors
//! term, leader, log/commit/applied indexes and, on the leader, each
//! follower's lag. It ends when the replica shuts down.

use std::sync::Arc;

use openraft::async_runtime::watch::WatchReceiver;

use crate::group::Group;

/// Starts mirroring `group`'s Raft metrics into gauges.
pub fn watch_group(group: &Arc<Group>) {
    let mut rx = group.raft.metrics();
    let group_label = group.id.to_string();
    let node_label = group.node.to_string();
    tokio::spawn(async move {
        loop {
            {
                let m = rx.borrow_and_update().clone();
                let labels = [("group", group_label.clone()), ("node", node_label.clone())];
                metrics::gauge!("lauradb_raft_term", &labels).set(m.current_term as f64);
                metrics::gauge!("lauradb_raft_leader", &labels)
                    .set(m.current_leader.map(|l| l as f64).unwrap_or(-1.0));
                metrics::gauge!("lauradb_raft_is_leader", &labels).set(
                    if m.state == openraft::ServerState::Leader {
                        1.0
                    } else {
                        0.0
                    },
                );
                metrics::gauge!("lauradb_raft_last_log_index", &labels)
                    .set(m.last_log_index.unwrap_or(0) as f64);
                metrics::gauge!("lauradb_raft_commit_index", &labels)
                    .set(m.local_committed.map(|l| l.index).unwrap_or(0) as f64);
                metrics::gauge!("lauradb_raft_applied_index", &labels)
                    .set(m.last_applied.map(|l| l.index).unwrap_or(0) as f64);
                if let Some(replication) = &m.replication {
                    let last = m.last_log_index.unwrap_or(0);
                    for (follower, matched) in replication {
                        let lag = last.saturating_sub(matched.map(|l| l.index).unwrap_or(0));
                        metrics::gauge!(
                            "lauradb_raft_follower_lag_entries",
                            "group" => group_label.clone(),
                            "node" => node_label.clone(),
                            "follower" => follower.to_string()
                        )
                        .set(lag as f64);
                    }
                }
            }
            if rx.changed().await.is_err() {
                break;
            }
        }
    });
}
