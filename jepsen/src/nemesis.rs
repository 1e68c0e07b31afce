//! Nemeses: faults injected on a schedule while the clients run.
//!
//! Each round waits a few seconds, picks one enabled fault at random (from
//! the run's seed), holds it for a few seconds and undoes it:
//!
//! * `partition` — one of these shapes (see [`partition_shapes`]):
//!   isolate one data node; the router cut from the data nodes (it still
//!   reaches the config servers); a majority of the data nodes (with the
//!   router and config servers) against the minority; one data node cut
//!   from its peers while the router still reaches it (a partial
//!   partition); with five data nodes, a **bridge** (two halves that cannot
//!   hear each other and one node that hears both) and a **majorities
//!   ring** (every node hears a majority, no two the same one); the data
//!   nodes cut from the config servers; the router cut from the config
//!   servers.
//! * `kill` — SIGKILL a node (a data node, or now and then a config
//!   server), restart it later with the same command line.
//! * `pause` — SIGSTOP a node, SIGCONT it later.
//! * `transfer` — a leadership-transfer storm: while the fault is held, the
//!   shard's leadership is handed to another node every few hundred
//!   milliseconds (`lauradb ctl transfer-leader`).
//! * `membership` — remove a data node from the shard's voters
//!   (`lauradb ctl remove-node`), and add it back afterwards (`add-node`:
//!   learner, then voter).
//!
//! Half of the node-targeted faults pick the group's current leader (asked
//! of the nodes' `/health`), the rest a random node. When the run's time is
//! up, [`heal_everything`] heals, restarts, resumes and re-adds everything,
//! so the final reads see a whole cluster. Every fault is logged with its
//! time span, for the report.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cluster::Cluster;
use crate::net::{Grudges, grudges_of};
use crate::rng::Rng;

/// A kind of fault a run may inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    Partition,
    Kill,
    Pause,
    Transfer,
    Membership,
}

impl Fault {
    /// Every fault, for `--nemesis all`.
    pub const ALL: [Fault; 5] = [
        Fault::Partition,
        Fault::Kill,
        Fault::Pause,
        Fault::Transfer,
        Fault::Membership,
    ];
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Fault, String> {
        match s.trim() {
            "partition" => Ok(Fault::Partition),
            "kill" => Ok(Fault::Kill),
            "pause" => Ok(Fault::Pause),
            "transfer" => Ok(Fault::Transfer),
            "membership" => Ok(Fault::Membership),
            other => Err(format!(
                "unknown nemesis '{other}' (partition, kill, pause, transfer, membership, or all)"
            )),
        }
    }
}

/// Parses `--nemesis`: comma-separated faults, `all` for every one.
pub fn parse_faults(list: &str) -> Result<Vec<Fault>, String> {
    let mut faults = BTreeSet::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if name == "all" {
            faults.extend(Fault::ALL);
        } else {
            faults.insert(name.parse::<Fault>()?);
        }
    }
    Ok(faults.into_iter().collect())
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

fn with_cluster<T>(cluster: &SharedCluster, f: impl FnOnce(&mut dyn Cluster) -> T) -> T {
    let mut guard = cluster.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.as_mut())
}

/// Runs `f` on the cluster on the blocking pool (faults run commands).
async fn blocking<T: Send + 'static>(
    cluster: &SharedCluster,
    f: impl FnOnce(&mut dyn Cluster) -> T + Send + 'static,
) -> Option<T> {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || with_cluster(&cluster, f))
        .await
        .ok()
}

fn set(members: &[String]) -> BTreeSet<String> {
    members.iter().cloned().collect()
}

/// The topology a partition is drawn for.
pub struct Topology<'a> {
    pub nodes: &'a [String],
    pub config: &'a [String],
    pub router: &'a str,
}

/// Every partition shape for this topology, with `target` as the node that
/// shapes centred on one node use, and `order` a shuffle of the data nodes
/// for the shapes that need one.
pub fn partition_shapes(
    topology: &Topology<'_>,
    target: &str,
    order: &[String],
) -> Vec<(Grudges, String)> {
    let nodes = topology.nodes;
    let router = topology.router.to_string();
    let others: Vec<String> = nodes.iter().filter(|n| *n != target).cloned().collect();
    let alone = set(&[target.to_string()]);
    let with_rest = |members: &[String]| {
        let mut component = set(members);
        component.insert(router.clone());
        component.extend(topology.config.iter().cloned());
        component
    };
    let mut shapes = vec![
        (
            grudges_of(&[alone.clone(), with_rest(&others)]),
            format!("isolate node {target}"),
        ),
        (
            grudges_of(&[set(std::slice::from_ref(&router)), set(nodes)]),
            "router | data nodes (the router still reaches the config servers)".to_string(),
        ),
        (
            grudges_of(&[alone.clone(), set(&others)]),
            format!("cut {target} from the other data nodes (the router reaches all)"),
        ),
        (
            grudges_of(&[set(nodes), set(topology.config)]),
            "data nodes | config servers (the router reaches all)".to_string(),
        ),
        (
            grudges_of(&[set(std::slice::from_ref(&router)), set(topology.config)]),
            "router | config servers (the router still reaches the data nodes)".to_string(),
        ),
    ];
    let n = order.len();
    if n >= 3 {
        let minority = (n - 1) / 2;
        let (small, big) = order.split_at(minority);
        shapes.push((
            grudges_of(&[set(small), with_rest(big)]),
            format!("majority {big:?} + router + config | minority {small:?}"),
        ));
    }
    if n == 5 {
        // Bridge: {a, b} and {d, e} cannot hear each other; c hears both.
        let (left, bridge, right) = (&order[..2], &order[2], &order[3..]);
        let mut grudges = Grudges::new();
        for a in left {
            grudges.insert(a.clone(), set(right));
        }
        for b in right {
            grudges.insert(b.clone(), set(left));
        }
        shapes.push((
            grudges,
            format!("bridge: {left:?} | {right:?}, only {bridge} hears both"),
        ));
        // Majorities ring: each node hears its two ring neighbours (a
        // majority with itself) and drops the two nodes across the ring.
        let mut grudges = Grudges::new();
        for (i, node) in order.iter().enumerate() {
            grudges.insert(
                node.clone(),
                set(&[order[(i + 2) % n].clone(), order[(i + 3) % n].clone()]),
            );
        }
        shapes.push((grudges, format!("majorities ring {order:?}")));
    }
    shapes
}

/// What the nemesis changed and must undo.
enum Undo {
    Heal,
    Restart(String),
    Resume(String),
    /// Re-add a removed node to the group.
    Readd {
        group: u64,
        node: String,
    },
    Nothing,
}

/// Injects faults until `deadline` (the caller heals everything after).
pub async fn run(
    cluster: SharedCluster,
    faults: Vec<Fault>,
    seed: u64,
    start: Instant,
    deadline: Instant,
    removed: Arc<Mutex<Vec<(u64, String)>>>,
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
        let (nodes, config, router, group) = with_cluster(&cluster, |c| {
            (c.nodes(), c.config_nodes(), c.router(), c.data_group())
        });
        // Now and then a fault aims at the config group instead.
        let at_config = matches!(fault, Fault::Kill | Fault::Pause | Fault::Transfer)
            && !config.is_empty()
            && rng.below(4) == 0;
        let (pool, target_group) = if at_config {
            (config.clone(), 0)
        } else {
            (nodes.clone(), group)
        };
        // Half the time the target is the group's leader (the node whose
        // loss matters most), otherwise any node of the group.
        let leader = if rng.below(2) == 0 {
            blocking(&cluster, move |c| c.leader(target_group))
                .await
                .flatten()
        } else {
            None
        };
        let target = leader.unwrap_or_else(|| pool[rng.below(pool.len() as u64) as usize].clone());
        let begun = nanos();
        let (description, injected, undo) = match fault {
            Fault::Partition => {
                let mut order = nodes.clone();
                rng.shuffle(&mut order);
                let topology = Topology {
                    nodes: &nodes,
                    config: &config,
                    router: &router,
                };
                let mut shapes = partition_shapes(&topology, &target, &order);
                let (grudges, description) =
                    shapes.swap_remove(rng.below(shapes.len() as u64) as usize);
                let result = blocking(&cluster, move |c| {
                    c.partition(&grudges).map_err(|e| e.to_string())
                })
                .await;
                (description, flatten(result), Undo::Heal)
            }
            Fault::Kill => {
                let t = target.clone();
                let result =
                    blocking(&cluster, move |c| c.kill(&t).map_err(|e| e.to_string())).await;
                (
                    format!("kill {target}"),
                    flatten(result),
                    Undo::Restart(target),
                )
            }
            Fault::Pause => {
                let t = target.clone();
                let result =
                    blocking(&cluster, move |c| c.pause(&t).map_err(|e| e.to_string())).await;
                (
                    format!("pause {target}"),
                    flatten(result),
                    Undo::Resume(target),
                )
            }
            Fault::Transfer => {
                let result = transfer_storm(&cluster, &pool, target_group, hold, &mut rng).await;
                (
                    format!("leadership-transfer storm on group {target_group}"),
                    result,
                    Undo::Nothing,
                )
            }
            Fault::Membership => {
                let result = node_ctl(&cluster, &target, move |id, _| {
                    vec![
                        "remove-node".into(),
                        "--group".into(),
                        group.to_string(),
                        "--node".into(),
                        id.to_string(),
                    ]
                })
                .await;
                // Even a failed removal may have taken effect (the leader
                // changed while answering): add the node back either way;
                // adding a voter that is still there changes nothing.
                removed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((group, target.clone()));
                let undo = Undo::Readd {
                    group,
                    node: target.clone(),
                };
                (
                    format!("remove {target} from group {group}, then add it back"),
                    result,
                    undo,
                )
            }
        };
        if let Err(e) = &injected {
            tracing::warn!(%description, error = %e, "injecting a fault failed");
        }
        tracing::info!(%description, "fault");
        if fault != Fault::Transfer {
            tokio::time::sleep(hold).await;
        }
        if let Err(e) = undo_fault(&cluster, undo, &removed).await {
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

/// Runs a `lauradb ctl` command about one node, built from the node's Raft
/// id and gRPC address.
async fn node_ctl(
    cluster: &SharedCluster,
    node: &str,
    args: impl FnOnce(u64, String) -> Vec<String> + Send + 'static,
) -> Result<(), String> {
    let node = node.to_string();
    flatten(
        blocking(cluster, move |c| {
            let (id, addr) = c
                .node_identity(&node)
                .ok_or_else(|| format!("no identity for {node}"))?;
            c.ctl(&args(id, addr))
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await,
    )
}

fn flatten(result: Option<Result<(), String>>) -> Result<(), String> {
    result.unwrap_or_else(|| Err("the fault's task failed".into()))
}

/// Hands `group`'s leadership around `pool` until `hold` has passed. Counts
/// as injected if at least one transfer was accepted.
async fn transfer_storm(
    cluster: &SharedCluster,
    pool: &[String],
    group: u64,
    hold: Duration,
    rng: &mut Rng,
) -> Result<(), String> {
    let until = Instant::now() + hold;
    let (mut accepted, mut last_error) = (0, String::from("no transfer was tried"));
    while Instant::now() < until {
        let to = pool[rng.below(pool.len() as u64) as usize].clone();
        let result = node_ctl(cluster, &to, move |id, _| {
            vec![
                "transfer-leader".into(),
                "--group".into(),
                group.to_string(),
                "--to".into(),
                id.to_string(),
            ]
        })
        .await;
        match result {
            Ok(()) => accepted += 1,
            Err(e) => last_error = e,
        }
        tokio::time::sleep(rng.millis(200, 700)).await;
    }
    if accepted > 0 {
        Ok(())
    } else {
        Err(last_error)
    }
}

async fn undo_fault(
    cluster: &SharedCluster,
    undo: Undo,
    removed: &Arc<Mutex<Vec<(u64, String)>>>,
) -> Result<(), String> {
    match undo {
        Undo::Nothing => Ok(()),
        Undo::Heal => flatten(blocking(cluster, |c| c.heal().map_err(|e| e.to_string())).await),
        Undo::Restart(t) => {
            flatten(blocking(cluster, move |c| c.restart(&t).map_err(|e| e.to_string())).await)
        }
        Undo::Resume(t) => {
            flatten(blocking(cluster, move |c| c.resume(&t).map_err(|e| e.to_string())).await)
        }
        Undo::Readd { group, node } => {
            let result = readd(cluster, group, node.clone()).await;
            if result.is_ok() {
                removed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|(g, n)| !(*g == group && *n == node));
            }
            result
        }
    }
}

/// Adds a removed node back to `group` (learner, then voter), retrying for
/// a while: the group may be between leaders.
async fn readd(cluster: &SharedCluster, group: u64, node: String) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let result = node_ctl(cluster, &node, move |id, addr| {
            vec![
                "add-node".into(),
                "--group".into(),
                group.to_string(),
                "--node".into(),
                id.to_string(),
                "--addr".into(),
                addr,
            ]
        })
        .await;
        match result {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Heals partitions, resumes paused and restarts killed processes, and adds
/// removed nodes back to their groups.
pub async fn heal_everything(cluster: &SharedCluster, removed: &Arc<Mutex<Vec<(u64, String)>>>) {
    let _ = blocking(cluster, |c| {
        let _ = c.heal();
        for member in c.members() {
            let _ = c.resume(&member);
            let _ = c.restart(&member);
        }
    })
    .await;
    let pending: Vec<(u64, String)> = removed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (group, node) in pending {
        if let Err(e) = readd(cluster, group, node.clone()).await {
            tracing::warn!(%node, error = %e, "adding a removed node back failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn five_nodes_get_a_bridge_and_a_majorities_ring() {
        let (nodes, config) = (names("n", 5), names("c", 3));
        let topology = Topology {
            nodes: &nodes,
            config: &config,
            router: "r",
        };
        let shapes = partition_shapes(&topology, "n1", &nodes);
        let ring = &shapes
            .iter()
            .find(|(_, d)| d.starts_with("majorities ring"))
            .unwrap()
            .0;
        for (i, node) in nodes.iter().enumerate() {
            // Drops exactly the two nodes across the ring, hears a majority.
            assert_eq!(ring[node].len(), 2);
            assert!(!ring[node].contains(&nodes[(i + 1) % 5]));
            assert!(!ring[node].contains(&nodes[(i + 4) % 5]));
        }
        let bridge = &shapes
            .iter()
            .find(|(_, d)| d.starts_with("bridge"))
            .unwrap()
            .0;
        assert!(!bridge.contains_key("n3"), "the bridge node hears everyone");
        assert!(bridge["n1"].contains("n4") && bridge["n4"].contains("n2"));
        assert!(!bridge["n1"].contains("n3"));
        let majority = &shapes
            .iter()
            .find(|(_, d)| d.starts_with("majority"))
            .unwrap()
            .0;
        assert_eq!(
            majority["n1"],
            set(&[
                "n3".into(),
                "n4".into(),
                "n5".into(),
                "r".into(),
                "c1".into(),
                "c2".into(),
                "c3".into()
            ])
        );
    }

    #[test]
    fn three_nodes_have_no_bridge_or_ring() {
        let (nodes, config) = (names("n", 3), names("c", 3));
        let topology = Topology {
            nodes: &nodes,
            config: &config,
            router: "r",
        };
        let shapes = partition_shapes(&topology, "n2", &nodes);
        assert!(
            shapes
                .iter()
                .all(|(_, d)| !d.contains("bridge") && !d.contains("ring"))
        );
        assert_eq!(shapes.len(), 6);
    }

    #[test]
    fn all_means_every_fault() {
        assert_eq!(parse_faults("all").unwrap(), Fault::ALL.to_vec());
        assert_eq!(
            parse_faults("kill, partition").unwrap(),
            vec![Fault::Partition, Fault::Kill]
        );
        assert!(parse_faults("flood").is_err());
    }
}
