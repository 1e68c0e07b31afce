//! The compose backend: the `deploy/` docker compose cluster under faults.
//!
//! ```text
//!  config1-3   172.28.0.11-13   Raft group 0 (ids 1-3)
//!  shardG-I    172.28.0.(10+10G+I)  group G (ids 10G+I), G = 1..3
//!  router      172.28.0.5:8080  (api-key `dev`)
//! ```
//!
//! `start` tears down any earlier cluster (`down -v`), runs `deploy/up.sh`
//! (static binary, FROM-scratch image, `up -d`, wait until healthy) and
//! finds which shard holds the workloads' database (the router's `explain`
//! names it). Faults:
//!
//! * partitions: the same nftables tables as the local backend, loaded into
//!   each container's network namespace from the host with `nsenter -t
//!   <pid> -n nft -f -` (the image has no shell and no nft of its own);
//! * kill: `docker kill` (SIGKILL), restart: `docker start`;
//! * pause: `docker pause` (the freezer cgroup, like SIGSTOP), `unpause`.
//!
//! The harness reaches the containers' fixed addresses over the compose
//! bridge; nothing leaves the machine. At the end the containers' logs are
//! saved into the run directory and the cluster is removed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::{Cluster, ClusterError, leader_from_health, run_ctl};
use crate::net::{Grudges, drop_rules};

const CONFIG_SERVERS: &str = "1=172.28.0.11:7000,2=172.28.0.12:7000,3=172.28.0.13:7000";
const ROUTER_ADDR: &str = "172.28.0.5:8080";
const API_KEY: &str = "dev";

struct Container {
    ip: String,
    /// Docker's container id (stable across kill and start).
    docker_id: Option<String>,
    /// Raft id (nodes only).
    id: Option<u64>,
    /// Raft group (nodes only).
    group: Option<u64>,
    killed: bool,
    paused: bool,
    /// Docker's restart count when the run began: a container the restart
    /// policy brought back (it crashed) has a higher one.
    restarts: u64,
}

/// The compose cluster.
pub struct ComposeCluster {
    repo: PathBuf,
    bin: PathBuf,
    out: PathBuf,
    containers: BTreeMap<String, Container>,
    data_group: u64,
}

fn process(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Process(e.to_string())
}

impl ComposeCluster {
    /// Builds and starts the cluster (a few minutes the first time: the
    /// static release build), and waits until it serves requests.
    pub fn start(bin: &Path, out: &Path) -> Result<ComposeCluster, ClusterError> {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut containers = BTreeMap::new();
        for i in 1..=3_u64 {
            containers.insert(
                format!("config{i}"),
                Container {
                    ip: format!("172.28.0.{}", 10 + i),
                    docker_id: None,
                    id: Some(i),
                    group: Some(0),
                    killed: false,
                    paused: false,
                    restarts: 0,
                },
            );
            for g in 1..=3_u64 {
                containers.insert(
                    format!("shard{g}-{i}"),
                    Container {
                        ip: format!("172.28.0.{}", 10 + 10 * g + i),
                        docker_id: None,
                        id: Some(10 * g + i),
                        group: Some(g),
                        killed: false,
                        paused: false,
                        restarts: 0,
                    },
                );
            }
        }
        containers.insert(
            "router".into(),
            Container {
                ip: "172.28.0.5".into(),
                docker_id: None,
                id: None,
                group: None,
                killed: false,
                paused: false,
                restarts: 0,
            },
        );
        let mut cluster = ComposeCluster {
            repo,
            bin: bin.to_path_buf(),
            out: out.to_path_buf(),
            containers,
            data_group: 1,
        };
        let _ = cluster.compose(&["down", "-v"]);
        let status = Command::new(cluster.repo.join("deploy/up.sh"))
            .current_dir(&cluster.repo)
            .stdout(Stdio::null())
            .status()
            .map_err(|e| process(format!("deploy/up.sh: {e}")))?;
        if !status.success() {
            return Err(process(
                "deploy/up.sh failed (is the Docker daemon running?)",
            ));
        }
        // Container ids once: `compose ps` is slow, and ids survive kill/start.
        let names: Vec<String> = cluster.containers.keys().cloned().collect();
        for name in names {
            let id = cluster.compose(&["ps", "-q", &name])?.trim().to_string();
            if id.is_empty() {
                return Err(process(format!("no container for service {name}")));
            }
            let restarts = cluster.restart_count(&id)?;
            let member = cluster.member(&name)?;
            member.docker_id = Some(id);
            member.restarts = restarts;
        }
        cluster.data_group = find_data_group(Duration::from_secs(60))?;
        Ok(cluster)
    }

    fn compose(&self, args: &[&str]) -> Result<String, ClusterError> {
        run(
            Command::new(self.repo.join("deploy/compose.sh")).current_dir(&self.repo),
            "compose",
            args,
        )
    }

    /// The container id of a service.
    fn container_id(&self, service: &str) -> Result<String, ClusterError> {
        self.containers
            .get(service)
            .and_then(|c| c.docker_id.clone())
            .ok_or_else(|| process(format!("no container for service {service}")))
    }

    fn docker(&self, args: &[&str]) -> Result<String, ClusterError> {
        run(&mut Command::new("docker"), "docker", args)
    }

    fn restart_count(&self, id: &str) -> Result<u64, ClusterError> {
        self.docker(&["inspect", "-f", "{{.RestartCount}}", id])?
            .trim()
            .parse()
            .map_err(|e| process(format!("restart count of {id}: {e}")))
    }

    /// Loads `script` into a running container's network namespace.
    fn nft(&self, service: &str, script: &str) -> Result<(), ClusterError> {
        use std::io::Write;
        let id = self.container_id(service)?;
        let pid = self.docker(&["inspect", "-f", "{{.State.Pid}}", &id])?;
        let pid = pid.trim();
        if pid == "0" || pid.is_empty() {
            // Not running (killed): nothing to filter until it restarts,
            // and a restarted container starts with no rules.
            return Ok(());
        }
        let mut child = Command::new("nsenter")
            .args(["-t", pid, "-n", "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| process(format!("nsenter into {service}: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .map_err(|e| process(format!("nft in {service}: {e}")))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|e| process(format!("nft in {service}: {e}")))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(process(format!(
                "nft in {service}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }

    fn member(&mut self, name: &str) -> Result<&mut Container, ClusterError> {
        self.containers
            .get_mut(name)
            .ok_or_else(|| process(format!("no member {name}")))
    }
}

/// Runs a command to completion: its stdout, or an error with its stderr.
fn run(command: &mut Command, name: &str, args: &[&str]) -> Result<String, ClusterError> {
    let output = command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| process(format!("{name} {}: {e}", args.join(" "))))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(process(format!(
            "{name} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Writes a probe document into the workloads' database, then asks the
/// router's `explain` which shard holds it.
fn find_data_group(timeout: Duration) -> Result<u64, ClusterError> {
    let deadline = Instant::now() + timeout;
    let post = |action: &str, body: &str| -> Option<String> {
        use std::io::{Read, Write};
        let addr: std::net::SocketAddr = ROUTER_ADDR.parse().ok()?;
        let mut stream =
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(
            stream,
            "POST /action/{action} HTTP/1.0\r\nHost: {ROUTER_ADDR}\r\napi-key: {API_KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200")
            .then(|| body.to_string())
            .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
    };
    while Instant::now() < deadline {
        let written = post(
            "insertOne",
            r#"{"database":"jepsen","collection":"probe","document":{"t":0}}"#,
        );
        let explained = written.and_then(|_| {
            post(
                "explain",
                r#"{"database":"jepsen","collection":"probe","filter":{}}"#,
            )
        });
        if let Some(body) = explained
            && let Ok(plan) = serde_json::from_str::<serde_json::Value>(&body)
            && let Some(id) = plan["queryPlanner"]["winningPlan"]["shards"][0]["shardId"].as_u64()
        {
            return Ok(id);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(process(
        "the compose cluster did not say which shard holds the jepsen database",
    ))
}

impl Cluster for ComposeCluster {
    fn router_addr(&self) -> String {
        ROUTER_ADDR.to_string()
    }

    fn api_key(&self) -> Option<String> {
        Some(API_KEY.to_string())
    }

    fn nodes(&self) -> Vec<String> {
        self.containers
            .iter()
            .filter(|(_, c)| c.group == Some(self.data_group))
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn config_nodes(&self) -> Vec<String> {
        self.containers
            .iter()
            .filter(|(_, c)| c.group == Some(0))
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn router(&self) -> String {
        "router".into()
    }

    fn crashed(&mut self) -> Vec<String> {
        // Exited and not killed by the nemesis, or restarted by Docker's
        // restart policy (the compose file says `unless-stopped`): either
        // way the process died on its own.
        let mut crashed = Vec::new();
        let names: Vec<String> = self.containers.keys().cloned().collect();
        for name in names {
            let Ok(id) = self.container_id(&name) else {
                continue;
            };
            let running = self
                .docker(&["inspect", "-f", "{{.State.Running}}", &id])
                .map(|s| s.trim() == "true")
                .unwrap_or(false);
            let restarts = self.restart_count(&id).unwrap_or(0);
            let member = match self.member(&name) {
                Ok(member) => member,
                Err(_) => continue,
            };
            let restarted = restarts > member.restarts;
            if restarted || (!running && !member.killed) {
                member.restarts = restarts;
                if !running {
                    member.killed = true;
                }
                crashed.push(name);
            }
        }
        crashed
    }

    fn members(&self) -> Vec<String> {
        self.containers.keys().cloned().collect()
    }

    fn partition(&mut self, grudges: &Grudges) -> Result<(), ClusterError> {
        let names: Vec<String> = self.containers.keys().cloned().collect();
        for name in names {
            let blocked: Vec<&str> = grudges
                .get(&name)
                .into_iter()
                .flatten()
                .filter_map(|other| self.containers.get(other).map(|c| c.ip.as_str()))
                .collect();
            self.nft(&name, &drop_rules(&blocked))?;
        }
        Ok(())
    }

    fn heal(&mut self) -> Result<(), ClusterError> {
        self.partition(&Grudges::new())
    }

    fn kill(&mut self, member: &str) -> Result<(), ClusterError> {
        self.member(member)?;
        self.docker(&["kill", "-s", "KILL", &self.container_id(member)?])?;
        let c = self.member(member)?;
        c.killed = true;
        c.paused = false;
        Ok(())
    }

    fn restart(&mut self, member: &str) -> Result<(), ClusterError> {
        if !self.member(member)?.killed {
            return Ok(());
        }
        let id = self.container_id(member)?;
        self.docker(&["start", &id])?;
        // Had Docker's restart policy already brought it back after our
        // kill, that restart was ours, not a crash.
        let restarts = self.restart_count(&id)?;
        let c = self.member(member)?;
        c.killed = false;
        c.restarts = restarts;
        Ok(())
    }

    fn pause(&mut self, member: &str) -> Result<(), ClusterError> {
        if self.member(member)?.killed {
            return Ok(());
        }
        self.docker(&["pause", &self.container_id(member)?])?;
        self.member(member)?.paused = true;
        Ok(())
    }

    fn resume(&mut self, member: &str) -> Result<(), ClusterError> {
        if !self.member(member)?.paused {
            return Ok(());
        }
        self.docker(&["unpause", &self.container_id(member)?])?;
        self.member(member)?.paused = false;
        Ok(())
    }

    fn logs(&mut self) -> Vec<PathBuf> {
        let dir = self.out.join("logs");
        let _ = std::fs::create_dir_all(&dir);
        let mut paths = Vec::new();
        for name in self.containers.keys() {
            let Ok(id) = self.container_id(name) else {
                continue;
            };
            let output = Command::new("docker").args(["logs", &id]).output();
            if let Ok(output) = output {
                let path = dir.join(format!("{name}.log"));
                let mut text = output.stdout;
                text.extend_from_slice(&output.stderr);
                if std::fs::write(&path, text).is_ok() {
                    paths.push(path);
                }
            }
        }
        paths
    }

    fn data_group(&self) -> u64 {
        self.data_group
    }

    fn leader(&self, group: u64) -> Option<String> {
        let all: Vec<(String, u64)> = self
            .containers
            .iter()
            .filter_map(|(n, c)| c.id.map(|id| (n.clone(), id)))
            .collect();
        let candidates = self
            .containers
            .iter()
            .filter(|(_, c)| c.group == Some(group) && !c.killed && !c.paused)
            .map(|(name, c)| (name.as_str(), format!("{}:9000", c.ip), c.id.unwrap_or(0)));
        leader_from_health(group, candidates, &all)
    }

    fn node_identity(&self, name: &str) -> Option<(u64, String)> {
        let c = self.containers.get(name)?;
        Some((c.id?, format!("{}:7000", c.ip)))
    }

    fn ctl(&self, args: &[String]) -> Result<String, ClusterError> {
        run_ctl(&self.bin, CONFIG_SERVERS, args)
    }
}

impl Drop for ComposeCluster {
    fn drop(&mut self) {
        let _ = self.heal();
        let _ = self.compose(&["down", "-v"]);
    }
}

/// Whether a Docker daemon answers (the compose backend needs one).
pub fn docker_available() -> bool {
    Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
