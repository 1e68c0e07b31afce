//! `lauradb ctl`: the admin CLI against a running cluster.
//!
//! Every command starts from the config group's members
//! (`--config-servers`), reads the catalog from there, and talks to the
//! groups it names.

use std::collections::BTreeSet;
use std::time::Duration;

use clap::Subcommand;
use lauradb_raft::network::ChannelPool;
use lauradb_raft::{AdminReply, AdminRequest, GroupClient, GroupStatus, NodeClient};
use lauradb_router::cluster::CONFIG_GROUP;
use lauradb_router::{ClusterBackend, ShardInfo};

use crate::settings::parse_members;

#[derive(clap::Args, Debug)]
pub struct CtlArgs {
    /// The config group's members: `1=host:port,2=host:port,3=host:port`.
    #[arg(long, env = "LAURA_CONFIG_SERVERS", global = true, default_value = "")]
    pub config_servers: String,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Subcommand, Debug)]
pub enum CtlCommand {
    /// Every group's members, leader, term, indexes and lag.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Shard a collection: `--key '{"k": 1}'` (ranged) or
    /// `--key '{"_id": "hashed"}'`.
    ShardCollection {
        #[arg(long)]
        database: String,
        #[arg(long)]
        collection: String,
        /// The shard key pattern, as JSON.
        #[arg(long)]
        key: String,
        /// Initial chunk bounds of a ranged key, as a JSON array of
        /// documents (`'[{"k": 100}, {"k": 200}]'`).
        #[arg(long)]
        split_points: Option<String>,
        /// Initial chunks of a hashed key (default: two per shard).
        #[arg(long)]
        num_initial_chunks: Option<u64>,
        /// A unique shard key (only `{_id: 1}` for now).
        #[arg(long)]
        unique: bool,
    },
    /// Register a shard group (already running and initialised) in the catalog.
    AddShard {
        #[arg(long)]
        id: u64,
        /// The shard's replicas: `4=host:port,5=host:port,6=host:port`.
        #[arg(long)]
        members: String,
        /// Keep retrying this many seconds while the config group is not
        /// reachable yet (for one-shot bootstrap containers).
        #[arg(long, default_value_t = 0)]
        retry_for: u64,
    },
    /// Add a node to a group: as a learner, then, once caught up, a voter.
    AddNode {
        #[arg(long)]
        group: u64,
        #[arg(long)]
        node: u64,
        #[arg(long)]
        addr: String,
    },
    /// Remove a node from a group's voters (and from the group).
    RemoveNode {
        #[arg(long)]
        group: u64,
        #[arg(long)]
        node: u64,
    },
    /// Hand a group's leadership to another voter.
    TransferLeader {
        #[arg(long)]
        group: u64,
        #[arg(long)]
        to: u64,
    },
    /// Exit 0 if `GET /health` at ADDR answers 200 (for container health checks).
    Health {
        /// host:port of a node's or router's HTTP server.
        #[arg(long)]
        addr: String,
    },
}

struct Ctl {
    backend: ClusterBackend,
    pool: ChannelPool,
    config_members: Vec<(u64, String)>,
}

impl Ctl {
    fn new(config_servers: &str) -> Result<Ctl, String> {
        let members: Vec<(u64, String)> = parse_members(config_servers)
            .map_err(|e| format!("--config-servers: {e}"))?
            .into_iter()
            .collect();
        let pool = ChannelPool::new();
        Ok(Ctl {
            backend: ClusterBackend::new(members.clone(), pool.clone()),
            pool,
            config_members: members,
        })
    }

    async fn shards(&self) -> Result<Vec<ShardInfo>, String> {
        self.backend.shards().await.map_err(|e| e.message)
    }

    async fn members_of(&self, group: u64) -> Result<Vec<(u64, String)>, String> {
        if group == CONFIG_GROUP {
            return Ok(self.config_members.clone());
        }
        self.shards()
            .await?
            .into_iter()
            .find(|s| s.id == group)
            .map(|s| s.members)
            .ok_or_else(|| format!("group {group} is not in the catalog"))
    }

    async fn group_client(&self, group: u64) -> Result<std::sync::Arc<GroupClient>, String> {
        Ok(GroupClient::new(
            group,
            self.members_of(group).await?,
            self.pool.clone(),
        ))
    }

    async fn leader_status(&self, group: u64) -> Result<GroupStatus, String> {
        match self
            .group_client(group)
            .await?
            .admin(AdminRequest::Status)
            .await
        {
            Ok(AdminReply::Status(status)) => Ok(*status),
            Ok(other) => Err(format!("unexpected reply {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Keeps the catalog's member list of a shard in step with its voters.
    async fn sync_catalog(&self, group: u64) -> Result<(), String> {
        if group == CONFIG_GROUP {
            return Ok(());
        }
        let status = self.leader_status(group).await?;
        let members = status
            .members
            .iter()
            .filter(|(id, _)| status.voters.contains(id))
            .map(|(id, addr)| (*id, addr.clone()))
            .collect();
        self.backend
            .register_shard(&ShardInfo { id: group, members })
            .await
            .map_err(|e| e.message)
    }
}

pub async fn run(args: CtlArgs) -> Result<(), String> {
    // Every command but `health` talks to the cluster.
    let cluster = || Ctl::new(&args.config_servers);
    match args.command {
        CtlCommand::Health { addr } => health(&addr).await,
        CtlCommand::Status { json } => status(&cluster()?, json).await,
        CtlCommand::AddShard {
            id,
            members,
            retry_for,
        } => {
            let ctl = cluster()?;
            let members: Vec<(u64, String)> = parse_members(&members)?.into_iter().collect();
            let deadline = std::time::Instant::now() + Duration::from_secs(retry_for);
            loop {
                let shard = ShardInfo {
                    id,
                    members: members.clone(),
                };
                match ctl.backend.register_shard(&shard).await {
                    Ok(()) => break,
                    Err(e) if e.status == 503 && std::time::Instant::now() < deadline => {
                        eprintln!("config group not ready ({}); retrying", e.message);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(e) => return Err(e.message),
                }
            }
            println!("shard {id} registered");
            Ok(())
        }
        CtlCommand::ShardCollection {
            database,
            collection,
            key,
            split_points,
            num_initial_chunks,
            unique,
        } => {
            let json_document = |flag: &str, text: &str| -> Result<bson::Document, String> {
                let value: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| format!("{flag}: not JSON: {e}"))?;
                lauradb_engine::dataapi::document_from_json(value)
                    .map_err(|e| format!("{flag}: {e}"))
            };
            let key = json_document("--key", &key)?;
            let split_points = match split_points {
                None => Vec::new(),
                Some(text) => json_document("--split-points", &format!(r#"{{"p": {text}}}"#))?
                    .get_array("p")
                    .map_err(|_| "--split-points must be a JSON array".to_string())?
                    .iter()
                    .map(|b| {
                        b.as_document()
                            .cloned()
                            .ok_or_else(|| "--split-points must hold objects".to_string())
                    })
                    .collect::<Result<_, _>>()?,
            };
            let ctl = cluster()?;
            let answer = ctl
                .backend
                .shard_collection_now(lauradb_engine::dataapi::ShardCollectionSpec {
                    ns: lauradb_engine::command::Namespace::new(database, collection),
                    key,
                    unique,
                    num_initial_chunks,
                    split_points,
                })
                .await
                .map_err(|e| format!("{}: {}", e.code, e.message))?;
            println!(
                "{}",
                lauradb_engine::dataapi::to_json(
                    &bson::Bson::Document(answer),
                    lauradb_engine::dataapi::JsonMode::Plain
                )
            );
            Ok(())
        }
        CtlCommand::AddNode { group, node, addr } => {
            let ctl = cluster()?;
            let client = ctl.group_client(group).await?;
            client
                .admin(AdminRequest::AddLearner {
                    node,
                    addr,
                    blocking: true,
                })
                .await
                .map_err(|e| e.to_string())?;
            let mut voters = ctl.leader_status(group).await?.voters;
            voters.insert(node);
            client
                .admin(AdminRequest::ChangeVoters { voters })
                .await
                .map_err(|e| e.to_string())?;
            ctl.sync_catalog(group).await?;
            println!("node {node} is a voter of group {group}");
            Ok(())
        }
        CtlCommand::RemoveNode { group, node } => {
            let ctl = cluster()?;
            let voters: BTreeSet<u64> = ctl
                .leader_status(group)
                .await?
                .voters
                .into_iter()
                .filter(|v| *v != node)
                .collect();
            if voters.is_empty() {
                return Err(format!("node {node} is the last voter of group {group}"));
            }
            ctl.group_client(group)
                .await?
                .admin(AdminRequest::ChangeVoters { voters })
                .await
                .map_err(|e| e.to_string())?;
            ctl.sync_catalog(group).await?;
            println!("node {node} removed from group {group}");
            Ok(())
        }
        CtlCommand::TransferLeader { group, to } => {
            let ctl = cluster()?;
            ctl.group_client(group)
                .await?
                .admin(AdminRequest::TransferLeader { to })
                .await
                .map_err(|e| e.to_string())?;
            println!("leadership of group {group} is moving to node {to}");
            Ok(())
        }
    }
}

/// Asks every member of every group for its view.
async fn status(ctl: &Ctl, json: bool) -> Result<(), String> {
    let mut groups = vec![(CONFIG_GROUP, ctl.config_members.clone())];
    for shard in ctl.shards().await? {
        groups.push((shard.id, shard.members));
    }
    let mut rows = Vec::new();
    for (group, members) in groups {
        for (node, addr) in members {
            let client = NodeClient::new(ctl.pool.clone(), node, addr.clone());
            let reply = tokio::time::timeout(
                Duration::from_secs(3),
                client.admin(group, &AdminRequest::Status),
            )
            .await;
            rows.push(match reply {
                Ok(Ok(AdminReply::Status(status))) => Ok(*status),
                Ok(Ok(other)) => Err((group, node, addr, format!("unexpected {other:?}"))),
                Ok(Err(e)) => Err((group, node, addr, e.to_string())),
                Err(_) => Err((group, node, addr, "no answer within 3 s".to_string())),
            });
        }
    }
    if json {
        let value: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| match row {
                Ok(s) => serde_json::json!({
                    "group": s.group, "node": s.node, "state": s.state, "term": s.term,
                    "leader": s.leader, "lastLogIndex": s.last_log_index,
                    "committedIndex": s.committed_index, "appliedIndex": s.applied_index,
                    "voters": s.voters, "learners": s.learners, "lag": s.lag,
                }),
                Err((group, node, addr, error)) => serde_json::json!({
                    "group": group, "node": node, "addr": addr, "error": error,
                }),
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!(
        "{:<6} {:<5} {:<10} {:>5} {:>7} {:>9} {:>9} {:>9}  LAG",
        "GROUP", "NODE", "STATE", "TERM", "LEADER", "LAST_LOG", "COMMIT", "APPLIED"
    );
    let show = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    for row in &rows {
        match row {
            Ok(s) => println!(
                "{:<6} {:<5} {:<10} {:>5} {:>7} {:>9} {:>9} {:>9}  {}",
                s.group,
                s.node,
                s.state,
                s.term,
                show(s.leader),
                show(s.last_log_index),
                show(s.committed_index),
                show(s.applied_index),
                s.lag
                    .iter()
                    .filter(|(id, _)| **id != s.node)
                    .map(|(id, lag)| format!("{id}:{}", show(*lag)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Err((group, node, addr, error)) => {
                println!("{group:<6} {node:<5} {:<10} ({addr}: {error})", "DOWN")
            }
        }
    }
    Ok(())
}

/// A minimal HTTP/1.0 GET, so the health check needs no shell or curl in a
/// `FROM scratch` image.
async fn health(addr: &str) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream
            .write_all(format!("GET /health HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        // Read until the status line is complete (or the server hangs up).
        let mut head = Vec::new();
        let mut buf = [0_u8; 256];
        while !head.windows(2).any(|w| w == b"\r\n") {
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        if line.starts_with("HTTP/1.1 200") || line.starts_with("HTTP/1.0 200") {
            Ok(())
        } else {
            Err(format!("unhealthy: {}", line.lines().next().unwrap_or("")))
        }
    };
    tokio::time::timeout(Duration::from_secs(3), check)
        .await
        .map_err(|_| format!("{addr} did not answer within 3 s"))?
}
