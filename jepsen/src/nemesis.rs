//! Nemeses: faults injected on a schedule while the clients run.
//!
//! Each round waits a few seconds, picks one enabled fault at random (from
//! the run's seed), holds it for a few seconds and undoes it:
//!
//! * `partition` — isolate one node from everyone; isolate the router from
//!   the nodes; split the nodes into a majority with the router and an
//!   isolated minority node; or cut one node from the other nodes while the
//!   router still reaches every node (a partial partition).
//! * `kill` — SIGKILL a node, restart it later with the same command line.
//!
//! Half of the faults target the shard's current leader (asked of the
//! nodes' `/health`), the rest a random node.
//! * `pause` — SIGSTOP a node, SIGCONT it later.
//!
//! When the run's time is up, [`heal_everything`] heals, restarts and
//! resumes everything, so final reads see a whole cluster. Every fault is logged with its time
//! span, for the report.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cluster::Cluster;
use crate::rng::Rng;

/// A kind of fault a run may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    Partition,
    Kill,
    Pause,
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Fault, String> {
        match s.trim() {
            "partition" => Ok(Fault::Partition),
            "kill" => Ok(Fault::Kill),
            "pause" => Ok(Fault::Pause),
            other => Err(format!(
                "unknown nemesis '{other}' (partition, kill, pause)"
            )),
        }
    }
}

/// One injected fault, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct FaultSpan {
    pub fault: Fault,
    pub description: String,
    /// Whether the fault was actually put in place.
    pub injected: bool,
    pub start_nanos: u64,
    pub end_nanos: u64,
}

pub type SharedCluster = Arc<Mutex<Box<dyn Cluster>>>;

/// The Raft group of the shard the workloads write to.
const SHARD_GROUP: u64 = 1;

fn with_cluster<T>(cluster: &SharedCluster, f: impl FnOnce(&mut dyn Cluster) -> T) -> T {
    let mut guard = cluster.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.as_mut())
}

fn set(members: &[String]) -> BTreeSet<String> {
    members.iter().cloned().collect()
}

/// Injects faults until `deadline` (the caller heals everything after).
pub async fn run(
    cluster: SharedCluster,
    faults: Vec<Fault>,
    seed: u64,
    start: Instant,
    deadline: Instant,
) -> Vec<FaultSpan> {
    let mut rng = Rng::new(seed ^ 0x006e_656d_6573_6973);
    let mut spans = Vec::new();
    let nanos = || start.elapsed().as_nanos() as u64;
    if faults.is_empty() {
        return spans;
    }
    loop {
        tokio::time::sleep(rng.millis(2_000, 5_000)).await;
        if Instant::now() + Duration::from_secs(2) >= deadline {
            break;
        }
        let fault = faults[rng.below(faults.len() as u64) as usize];
        let hold = rng.millis(2_000, 6_000);
        let (nodes, router) = with_cluster(&cluster, |c| (c.nodes(), c.router()));
        // Half the time the target is the shard's leader (the node whose
        // loss matters most), otherwise any node.
        let leader = if rng.below(2) == 0 {
            let cluster = cluster.clone();
            tokio::task::spawn_blocking(move || with_cluster(&cluster, |c| c.leader(SHARD_GROUP)))
                .await
                .ok()
                .flatten()
        } else {
            None
        };
        let target =
            leader.unwrap_or_else(|| nodes[rng.below(nodes.len() as u64) as usize].clone());
        let others: Vec<String> = nodes.iter().filter(|n| **n != target).cloned().collect();
        let alone = set(std::slice::from_ref(&target));
        let with_router = |members: &[String]| {
            let mut component = set(members);
            component.insert(router.clone());
            component
        };
        let (components, description) = match fault {
            Fault::Partition => match rng.below(4) {
                0 => (
                    vec![alone, with_router(&others)],
                    format!("isolate node {target}"),
                ),
                1 => (
                    vec![set(std::slice::from_ref(&router)), set(&nodes)],
                    "isolate the router from the nodes".to_string(),
                ),
                2 => (
                    vec![with_router(&others), alone],
                    format!("majority + router | minority {target}"),
                ),
                // The node loses its peers but the router still reaches it.
                _ => (
                    vec![alone, set(&others)],
                    format!("cut {target} from the other nodes (the router reaches all)"),
                ),
            },
            Fault::Kill => (Vec::new(), format!("kill {target}")),
            Fault::Pause => (Vec::new(), format!("pause {target}")),
        };
        let begun = nanos();
        let injected = {
            let cluster = cluster.clone();
            let target = target.clone();
            tokio::task::spawn_blocking(move || {
                with_cluster(&cluster, |c| match fault {
                    Fault::Partition => c.partition(&components),
                    Fault::Kill => c.kill(&target),
                    Fault::Pause => c.pause(&target),
                })
                .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|result| result)
        };
        if let Err(e) = &injected {
            tracing::warn!(%description, error = %e, "injecting a fault failed");
        }
        tracing::info!(%description, "fault");
        tokio::time::sleep(hold).await;
        let cluster2 = cluster.clone();
        let undo = tokio::task::spawn_blocking(move || {
            with_cluster(&cluster2, |c| match fault {
                Fault::Partition => c.heal(),
                Fault::Kill => c.restart(&target),
                Fault::Pause => c.resume(&target),
            })
        })
        .await;
        if let Ok(Err(e)) | Err(e) =
            undo.map_err(|e| crate::cluster::ClusterError::Process(e.to_string()))
        {
            tracing::warn!(error = %e, "undoing a fault failed");
        }
        spans.push(FaultSpan {
            fault,
            description,
            injected: injected.is_ok(),
            start_nanos: begun,
            end_nanos: nanos(),
        });
    }
    spans
}

/// Heals partitions, resumes paused and restarts killed processes.
pub async fn heal_everything(cluster: &SharedCluster) {
    let cluster = cluster.clone();
    let _ = tokio::task::spawn_blocking(move || {
        with_cluster(&cluster, |c| {
            let _ = c.heal();
            for member in c.members() {
                let _ = c.resume(&member);
                let _ = c.restart(&member);
            }
        })
    })
    .await;
}
