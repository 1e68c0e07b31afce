//! Cluster control: start a real LauraDB cluster, and break it.
//!
//! The [`Cluster`] trait is what nemeses and workloads need: the router's
//! address, the node names, and the faults (partitions as grudges,
//! kill/restart, pause/resume, leadership transfers and membership changes
//! through `lauradb ctl`). Two backends implement it:
//!
//! * [`LocalCluster`] — `lauradb node` and `lauradb router` processes, each
//!   in its own network namespace ([`crate::net`]): three config servers
//!   (`c1`–`c3`, Raft group 0), the shard's data nodes (`n1`–`n5` by
//!   default, group 1) and a router (`r`). Kill is SIGKILL followed (on
//!   `restart`) by the same command line; pause is SIGSTOP/SIGCONT.
//! * [`crate::compose::ComposeCluster`] — the `deploy/` docker compose
//!   cluster (3 config + 3 shards × 3 replicas + router).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::net::{Grudges, NetError, Network};

/// What nemeses and workloads can do to a cluster.
pub trait Cluster: Send {
    /// `host:port` of the router's HTTP API, reachable from the harness.
    fn router_addr(&self) -> String;
    /// The API key the router wants, if any.
    fn api_key(&self) -> Option<String> {
        None
    }
    /// The nodes holding the workloads' shard (`n1`, `n2`, …).
    fn nodes(&self) -> Vec<String>;
    /// The config servers.
    fn config_nodes(&self) -> Vec<String>;
    /// The router's member name.
    fn router(&self) -> String;
    /// Members whose process exited without being killed (a crash), each
    /// named once; `restart` brings them back.
    fn crashed(&mut self) -> Vec<String>;
    /// Every member that can be partitioned (nodes, config servers, router).
    fn members(&self) -> Vec<String>;
    fn partition(&mut self, grudges: &Grudges) -> Result<(), ClusterError>;
    fn heal(&mut self) -> Result<(), ClusterError>;
    fn kill(&mut self, member: &str) -> Result<(), ClusterError>;
    fn restart(&mut self, member: &str) -> Result<(), ClusterError>;
    fn pause(&mut self, member: &str) -> Result<(), ClusterError>;
    fn resume(&mut self, member: &str) -> Result<(), ClusterError>;
    /// Log files of every process, for the panic scan.
    fn logs(&mut self) -> Vec<PathBuf>;
    /// The Raft group that holds the workloads' data.
    fn data_group(&self) -> u64;
    /// The node that currently leads `group`, as the reachable nodes report
    /// it (None while unknown).
    fn leader(&self, group: u64) -> Option<String>;
    /// A node's Raft id and gRPC address.
    fn node_identity(&self, name: &str) -> Option<(u64, String)>;
    /// Runs `lauradb ctl <args>` against the cluster's config servers.
    fn ctl(&self, args: &[String]) -> Result<String, ClusterError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{0}")]
    Process(String),
}

/// Runs `bin ctl --config-servers <servers> <args>`; its stdout, or the error.
pub fn run_ctl(bin: &Path, config_servers: &str, args: &[String]) -> Result<String, ClusterError> {
    let output = Command::new(bin)
        .args(["ctl", "--config-servers", config_servers])
        .args(args)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ClusterError::Process(format!("ctl {}: {e}", args.join(" "))))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(ClusterError::Process(format!(
            "ctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Asks nodes' `/health` who leads `group`; the first that names a leader wins.
pub fn leader_from_health<'a>(
    group: u64,
    candidates: impl Iterator<Item = (&'a str, String, u64)>,
    all: &[(String, u64)],
) -> Option<String> {
    for (_, http_addr, _) in candidates {
        let Some(body) = http_get(&http_addr, "/health") else {
            continue;
        };
        let Ok(health) = serde_json::from_str::<serde_json::Value>(&body) else {
            continue;
        };
        let leader = health["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| g["group"].as_u64() == Some(group))
            .and_then(|g| g["leader"].as_u64());
        if let Some(id) = leader
            && let Some((name, _)) = all.iter().find(|(_, node_id)| *node_id == id)
        {
            return Some(name.clone());
        }
    }
    None
}

struct Member {
    name: String,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    paused: bool,
}

/// A cluster of local processes in network namespaces.
pub struct LocalCluster {
    network: Network,
    members: BTreeMap<String, Member>,
    bin: PathBuf,
    /// (name, Raft id) of the shard's data nodes.
    shard_nodes: Vec<(String, u64)>,
    config_servers: String,
    /// Members found exited when a fault was about to hit them.
    crashed_unnoticed: Vec<String>,
}

/// Config servers: name, host part of the address, Raft id.
const CONFIG_NODES: [(&str, u8, u64); 3] = [("c1", 21, 1), ("c2", 22, 2), ("c3", 23, 3)];
const ROUTER: (&str, u8) = ("r", 5);
/// The shard group the workloads write to.
const SHARD_GROUP: u64 = 1;

/// Overrides of the nodes' snapshot policy (`lauradb node
/// --snapshot-every-entries/--snapshot-keep-entries`). The defaults (a
/// snapshot per 50,000 entries or 64 MiB of log) are never reached at a
/// test's rate; small values make every node snapshot, purge its log and
/// send snapshots to nodes that come back behind the purge point, all under
/// the faults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotPolicy {
    pub every_entries: Option<u64>,
    pub keep_entries: Option<u64>,
}

impl SnapshotPolicy {
    /// Whether anything differs from the nodes' defaults.
    pub fn is_default(&self) -> bool {
        *self == SnapshotPolicy::default()
    }

    /// The `lauradb node` flags that apply it.
    pub fn node_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(entries) = self.every_entries {
            args.extend(["--snapshot-every-entries".into(), entries.to_string()]);
        }
        if let Some(entries) = self.keep_entries {
            args.extend(["--snapshot-keep-entries".into(), entries.to_string()]);
        }
        args
    }
}

impl LocalCluster {
    /// Sets up namespaces and starts three config servers, `shard_nodes`
    /// data nodes (3 or 5) and a router; returns once the router answers.
    /// `unsafe_reads` starts the router with `--unsafe-local-reads`, to show
    /// the checkers catch stale reads; every node runs with `snapshots`.
    pub fn start(
        bin: &Path,
        dir: &Path,
        subnet: u8,
        shard_nodes: usize,
        unsafe_reads: bool,
        snapshots: SnapshotPolicy,
    ) -> Result<LocalCluster, ClusterError> {
        if !(3..=9).contains(&shard_nodes) {
            return Err(ClusterError::Process(format!(
                "a shard needs 3 to 9 nodes, not {shard_nodes}"
            )));
        }
        let prefix = format!("lj{subnet}");
        let shard: Vec<(String, u8, u64)> = (1..=shard_nodes)
            .map(|i| (format!("n{i}"), 10 + i as u8, 10 + i as u64))
            .collect();
        let mut layout: Vec<(&str, u8)> = CONFIG_NODES.iter().map(|(n, h, _)| (*n, *h)).collect();
        layout.extend(shard.iter().map(|(n, h, _)| (n.as_str(), *h)));
        layout.push(ROUTER);
        let network = Network::create(&prefix, subnet, &layout)?;
        let peers = |nodes: &mut dyn Iterator<Item = (&str, u64)>| {
            nodes
                .map(|(name, id)| format!("{id}={}:7000", network.ip(name)))
                .collect::<Vec<_>>()
                .join(",")
        };
        let config_servers = peers(&mut CONFIG_NODES.iter().map(|(n, _, id)| (*n, *id)));
        let shard_peers = peers(&mut shard.iter().map(|(n, _, id)| (n.as_str(), *id)));
        std::fs::create_dir_all(dir.join("logs"))
            .map_err(|e| ClusterError::Process(e.to_string()))?;
        let mut members = BTreeMap::new();
        let mut add_node = |name: &str, id: u64, group: u64, peers: &str| {
            let ip = network.ip(name).to_string();
            let mut args: Vec<String> = vec![
                "node".into(),
                "--id".into(),
                id.to_string(),
                "--groups".into(),
                group.to_string(),
                "--grpc-addr".into(),
                format!("{ip}:7000"),
                "--http-addr".into(),
                format!("{ip}:9000"),
                "--peers".into(),
                peers.to_string(),
                "--bootstrap".into(),
                "--cache-mb".into(),
                "16".into(),
                "--data-dir".into(),
                dir.join(format!("data-{name}")).display().to_string(),
            ];
            args.extend(snapshots.node_args());
            members.insert(
                name.to_string(),
                Member {
                    name: name.to_string(),
                    args,
                    log: dir.join("logs").join(format!("{name}.log")),
                    child: None,
                    paused: false,
                },
            );
        };
        for (name, _, id) in CONFIG_NODES {
            add_node(name, id, 0, &config_servers);
        }
        for (name, _, id) in &shard {
            add_node(name, *id, SHARD_GROUP, &shard_peers);
        }
        let router_ip = network.ip(ROUTER.0).to_string();
        let mut router_args: Vec<String> = vec![
            "router".into(),
            "--config-servers".into(),
            config_servers.clone(),
            "--http-addr".into(),
            format!("{router_ip}:8080"),
        ];
        if unsafe_reads {
            router_args.push("--unsafe-local-reads".into());
        }
        members.insert(
            ROUTER.0.to_string(),
            Member {
                name: ROUTER.0.to_string(),
                args: router_args,
                log: dir.join("logs").join("router.log"),
                child: None,
                paused: false,
            },
        );
        let mut cluster = LocalCluster {
            network,
            members,
            bin: bin.to_path_buf(),
            shard_nodes: shard.iter().map(|(n, _, id)| (n.clone(), *id)).collect(),
            config_servers,
            crashed_unnoticed: Vec::new(),
        };
        let names: Vec<String> = cluster
            .members
            .keys()
            .filter(|n| *n != ROUTER.0)
            .cloned()
            .collect();
        for name in names {
            cluster.spawn(&name)?;
        }
        // Register the shard (retrying until the config group has a leader).
        cluster.ctl(&[
            "add-shard".into(),
            "--id".into(),
            SHARD_GROUP.to_string(),
            "--members".into(),
            shard_peers,
            "--retry-for".into(),
            "60".into(),
        ])?;
        cluster.spawn(ROUTER.0)?;
        wait_for_port(&cluster.router_addr(), Duration::from_secs(30))?;
        Ok(cluster)
    }

    fn spawn(&mut self, name: &str) -> Result<(), ClusterError> {
        let ns = self.network.namespace(name).to_string();
        let member = self
            .members
            .get_mut(name)
            .ok_or_else(|| ClusterError::Process(format!("no member {name}")))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&member.log)
            .map_err(|e| ClusterError::Process(format!("{}: {e}", member.log.display())))?;
        let err = log
            .try_clone()
            .map_err(|e| ClusterError::Process(e.to_string()))?;
        // `ip netns exec` enters the namespace and execs the binary, so the
        // child's pid is lauradb's own: signals reach it directly.
        let child = Command::new("ip")
            .args(["netns", "exec", &ns])
            .arg(&self.bin)
            .args(&member.args)
            .env("RUST_LOG", "info,openraft=warn")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| ClusterError::Process(format!("starting {}: {e}", member.name)))?;
        member.child = Some(child);
        member.paused = false;
        Ok(())
    }

    fn signal(&mut self, name: &str, signal: &str) -> Result<(), ClusterError> {
        let member = self
            .members
            .get(name)
            .ok_or_else(|| ClusterError::Process(format!("no member {name}")))?;
        let Some(child) = &member.child else {
            return Ok(());
        };
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .map_err(|e| ClusterError::Process(e.to_string()))?;
        if status.success() {
            Ok(())
        } else {
            Err(ClusterError::Process(format!(
                "kill {signal} {name} failed"
            )))
        }
    }

    /// Stops every process and removes the namespaces.
    pub fn stop(&mut self) {
        for member in self.members.values_mut() {
            if let Some(mut child) = member.child.take() {
                if member.paused {
                    let _ = Command::new("kill")
                        .args(["-CONT", &child.id().to_string()])
                        .status();
                }
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        self.network.destroy();
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn wait_for_port(addr: &str, timeout: Duration) -> Result<(), ClusterError> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(ClusterError::Process(format!(
        "{addr} did not open within {timeout:?}"
    )))
}

impl Cluster for LocalCluster {
    fn router_addr(&self) -> String {
        format!("{}:8080", self.network.ip(ROUTER.0))
    }

    fn nodes(&self) -> Vec<String> {
        self.shard_nodes.iter().map(|(n, _)| n.clone()).collect()
    }

    fn config_nodes(&self) -> Vec<String> {
        CONFIG_NODES.iter().map(|(n, _, _)| n.to_string()).collect()
    }

    fn members(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    fn router(&self) -> String {
        ROUTER.0.to_string()
    }

    fn crashed(&mut self) -> Vec<String> {
        let mut crashed = std::mem::take(&mut self.crashed_unnoticed);
        for member in self.members.values_mut() {
            let exited = member
                .child
                .as_mut()
                .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))));
            if exited {
                member.child = None;
                member.paused = false;
                crashed.push(member.name.clone());
            }
        }
        crashed
    }

    fn partition(&mut self, grudges: &Grudges) -> Result<(), ClusterError> {
        Ok(self.network.partition(grudges)?)
    }

    fn heal(&mut self) -> Result<(), ClusterError> {
        Ok(self.network.heal()?)
    }

    fn kill(&mut self, member: &str) -> Result<(), ClusterError> {
        let Some(m) = self.members.get_mut(member) else {
            return Err(ClusterError::Process(format!("no member {member}")));
        };
        // A process that already exited crashed on its own: report it as
        // such, not as this kill.
        if let Some(child) = m.child.as_mut()
            && matches!(child.try_wait(), Ok(Some(_)))
        {
            m.child = None;
            m.paused = false;
            self.crashed_unnoticed.push(member.to_string());
            return Err(ClusterError::Process(format!(
                "{member} had already exited by itself"
            )));
        }
        if let Some(mut child) = m.child.take() {
            child
                .kill()
                .map_err(|e| ClusterError::Process(e.to_string()))?;
            child
                .wait()
                .map_err(|e| ClusterError::Process(e.to_string()))?;
        }
        m.paused = false;
        Ok(())
    }

    fn restart(&mut self, member: &str) -> Result<(), ClusterError> {
        let running = self
            .members
            .get_mut(member)
            .and_then(|m| m.child.as_mut())
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)));
        if running {
            return Ok(());
        }
        self.spawn(member)
    }

    fn pause(&mut self, member: &str) -> Result<(), ClusterError> {
        self.signal(member, "-STOP")?;
        if let Some(m) = self.members.get_mut(member) {
            m.paused = m.child.is_some();
        }
        Ok(())
    }

    fn resume(&mut self, member: &str) -> Result<(), ClusterError> {
        self.signal(member, "-CONT")?;
        if let Some(m) = self.members.get_mut(member) {
            m.paused = false;
        }
        Ok(())
    }

    fn logs(&mut self) -> Vec<PathBuf> {
        self.members.values().map(|m| m.log.clone()).collect()
    }

    fn data_group(&self) -> u64 {
        SHARD_GROUP
    }

    fn leader(&self, group: u64) -> Option<String> {
        let all: Vec<(String, u64)> = self
            .shard_nodes
            .iter()
            .cloned()
            .chain(CONFIG_NODES.iter().map(|(n, _, id)| (n.to_string(), *id)))
            .collect();
        let candidates = all.iter().filter_map(|(name, id)| {
            let running = self
                .members
                .get(name)
                .is_some_and(|m| m.child.is_some() && !m.paused);
            running.then(|| {
                (
                    name.as_str(),
                    format!("{}:9000", self.network.ip(name)),
                    *id,
                )
            })
        });
        leader_from_health(group, candidates, &all)
    }

    fn node_identity(&self, name: &str) -> Option<(u64, String)> {
        let id = self
            .shard_nodes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
            .or_else(|| {
                CONFIG_NODES
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map(|(_, _, id)| *id)
            })?;
        Some((id, format!("{}:7000", self.network.ip(name))))
    }

    fn ctl(&self, args: &[String]) -> Result<String, ClusterError> {
        run_ctl(&self.bin, &self.config_servers, args)
    }
}

/// A blocking HTTP GET with a short deadline; the body, or None.
pub(crate) fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let addr: std::net::SocketAddr = addr.parse().ok()?;
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}
