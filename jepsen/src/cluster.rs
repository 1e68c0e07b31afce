//! Cluster control: start a real LauraDB cluster, and break it.
//!
//! The [`Cluster`] trait is what nemeses and workloads need: the router's
//! address, the node names, and the faults (partition, kill/restart,
//! pause/resume). [`LocalCluster`] implements it with `lauradb node` and
//! `lauradb router` processes, each in its own network namespace
//! ([`crate::net`]): three nodes hosting a config replica and a replica of
//! shard 1 each, and one router. Kill is SIGKILL followed (on `restart`) by
//! the same command line; pause is SIGSTOP/SIGCONT. A compose backend (the
//! `deploy/` cluster) would implement the same trait.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::net::{NetError, Network};

/// What nemeses and workloads can do to a cluster.
pub trait Cluster: Send {
    /// `host:port` of the router's HTTP API, reachable from the harness.
    fn router_addr(&self) -> String;
    /// The data nodes' names (`n1`, `n2`, …).
    fn nodes(&self) -> Vec<String>;
    /// The router's member name.
    fn router(&self) -> String;
    /// Members whose process exited without being killed (a crash), each
    /// named once; `restart` brings them back.
    fn crashed(&mut self) -> Vec<String>;
    /// Every member that can be partitioned (nodes and the router `r`).
    fn members(&self) -> Vec<String>;
    fn partition(&mut self, components: &[BTreeSet<String>]) -> Result<(), ClusterError>;
    fn heal(&mut self) -> Result<(), ClusterError>;
    fn kill(&mut self, member: &str) -> Result<(), ClusterError>;
    fn restart(&mut self, member: &str) -> Result<(), ClusterError>;
    fn pause(&mut self, member: &str) -> Result<(), ClusterError>;
    fn resume(&mut self, member: &str) -> Result<(), ClusterError>;
    /// Log files of every process, for the panic scan.
    fn logs(&self) -> Vec<PathBuf>;
    /// The node that currently leads `group`, as the reachable nodes report
    /// it (None while unknown).
    fn leader(&self, group: u64) -> Option<String>;
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("{0}")]
    Process(String),
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
}

const NODES: [(&str, u8, u64); 3] = [("n1", 11, 1), ("n2", 12, 2), ("n3", 13, 3)];
const ROUTER: (&str, u8) = ("r", 5);

impl LocalCluster {
    /// Sets up namespaces and starts three nodes and a router; returns once
    /// the router answers.
    /// `unsafe_reads` starts the router with `--unsafe-local-reads`, to show
    /// the checkers catch stale reads.
    pub fn start(
        bin: &Path,
        dir: &Path,
        subnet: u8,
        unsafe_reads: bool,
    ) -> Result<LocalCluster, ClusterError> {
        let prefix = format!("lj{subnet}");
        let mut layout: Vec<(&str, u8)> = NODES.iter().map(|(n, h, _)| (*n, *h)).collect();
        layout.push(ROUTER);
        let network = Network::create(&prefix, subnet, &layout)?;
        let peers = NODES
            .iter()
            .map(|(name, _, id)| format!("{id}={}:7000", network.ip(name)))
            .collect::<Vec<_>>()
            .join(",");
        std::fs::create_dir_all(dir.join("logs"))
            .map_err(|e| ClusterError::Process(e.to_string()))?;
        let mut members = BTreeMap::new();
        for (name, _, id) in NODES {
            let ip = network.ip(name).to_string();
            let args = vec![
                "node".into(),
                "--id".into(),
                id.to_string(),
                "--groups".into(),
                "0,1".into(),
                "--grpc-addr".into(),
                format!("{ip}:7000"),
                "--http-addr".into(),
                format!("{ip}:9000"),
                "--peers".into(),
                peers.clone(),
                "--bootstrap".into(),
                "--cache-mb".into(),
                "16".into(),
                "--data-dir".into(),
                dir.join(format!("data-{name}")).display().to_string(),
            ];
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
        }
        let router_ip = network.ip(ROUTER.0).to_string();
        let mut router_args: Vec<String> = vec![
            "router".into(),
            "--config-servers".into(),
            peers.clone(),
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
        };
        for (name, _, _) in NODES {
            cluster.spawn(name)?;
        }
        // Register the shard (retrying until the config group has a leader).
        let status = Command::new(&cluster.bin)
            .args([
                "ctl",
                "--config-servers",
                &peers,
                "add-shard",
                "--id",
                "1",
                "--members",
                &peers,
            ])
            .args(["--retry-for", "60"])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .status()
            .map_err(|e| ClusterError::Process(format!("ctl add-shard: {e}")))?;
        if !status.success() {
            return Err(ClusterError::Process("registering the shard failed".into()));
        }
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

fn wait_for_port(addr: &str, timeout: Duration) -> Result<(), ClusterError> {
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
        NODES.iter().map(|(n, _, _)| n.to_string()).collect()
    }

    fn members(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    fn router(&self) -> String {
        ROUTER.0.to_string()
    }

    fn crashed(&mut self) -> Vec<String> {
        let mut crashed = Vec::new();
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

    fn partition(&mut self, components: &[BTreeSet<String>]) -> Result<(), ClusterError> {
        Ok(self.network.partition(components)?)
    }

    fn heal(&mut self) -> Result<(), ClusterError> {
        Ok(self.network.heal()?)
    }

    fn kill(&mut self, member: &str) -> Result<(), ClusterError> {
        let Some(m) = self.members.get_mut(member) else {
            return Err(ClusterError::Process(format!("no member {member}")));
        };
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

    fn logs(&self) -> Vec<PathBuf> {
        self.members.values().map(|m| m.log.clone()).collect()
    }

    fn leader(&self, group: u64) -> Option<String> {
        // Ask each running node's /health; the first that names a leader wins.
        for (name, _, _) in NODES {
            let running = self
                .members
                .get(name)
                .is_some_and(|m| m.child.is_some() && !m.paused);
            if !running {
                continue;
            }
            let Some(body) = http_get(&format!("{}:9000", self.network.ip(name)), "/health") else {
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
                && let Some((name, _, _)) = NODES.iter().find(|(_, _, node_id)| *node_id == id)
            {
                return Some(name.to_string());
            }
        }
        None
    }
}

/// A blocking HTTP GET with a short deadline; the body, or None.
fn http_get(addr: &str, path: &str) -> Option<String> {
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
