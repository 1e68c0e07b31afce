//! `lauradb node`: a data node hosting replicas of one or more Raft groups.
//!
//! Settings come from flags, then `LAURA_*` environment variables, then an
//! optional TOML file (`--config`), then defaults — in that order of
//! precedence. With `--bootstrap`, the node initialises each of its groups
//! with `--peers` as the first voters; that is idempotent, so every replica
//! of a fresh cluster can be started the same way and restarted with the
//! same command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use lauradb_raft::{AdminRequest, EngineStorage, NodeClient, NodeConfig, RaftNode};
use serde::Deserialize;

use crate::settings::{parse_groups, parse_members};

#[derive(clap::Args, Debug, Default)]
pub struct NodeArgs {
    /// TOML file with any of the settings below (flags and env win).
    #[arg(long, env = "LAURA_CONFIG")]
    pub config: Option<PathBuf>,
    /// This node's id (unique in the cluster, stable across restarts).
    #[arg(long, env = "LAURA_NODE_ID")]
    pub id: Option<u64>,
    /// Data directory.
    #[arg(long, env = "LAURA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address the gRPC server listens on (default 0.0.0.0:7000).
    #[arg(long, env = "LAURA_GRPC_ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// Address the health/metrics HTTP server listens on (default 0.0.0.0:9000).
    #[arg(long, env = "LAURA_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Raft groups this node hosts, e.g. `0` (config) or `1` (shard 1).
    #[arg(long, env = "LAURA_GROUPS")]
    pub groups: Option<String>,
    /// The first voters of those groups: `1=host:port,2=host:port,...`
    /// (this node included, by the address peers reach it at).
    #[arg(long, env = "LAURA_PEERS")]
    pub peers: Option<String>,
    /// Initialise the groups with `--peers` if they are not yet (idempotent).
    #[arg(long, env = "LAURA_BOOTSTRAP")]
    pub bootstrap: bool,
    /// Storage cache per group, MiB (default 64).
    #[arg(long, env = "LAURA_CACHE_MB")]
    pub cache_mb: Option<u64>,
    /// How each replica's engine keeps its data: `memory` (default; durable
    /// through the Raft log and snapshot files), `write-behind` or `sled`.
    #[arg(long, env = "LAURA_ENGINE_STORAGE")]
    pub engine_storage: Option<String>,
    /// Build a snapshot after this many log entries since the last one
    /// (default 50000; etcd's `--snapshot-count`). A snapshot is also built
    /// after 64 MiB of log, whichever comes first.
    #[arg(long, env = "LAURA_SNAPSHOT_EVERY_ENTRIES", value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_every_entries: Option<u64>,
    /// Log entries kept behind a snapshot, so a briefly lagging follower
    /// catches up from the log instead of receiving the snapshot (default
    /// 5000; etcd's `--experimental-snapshot-catchup-entries`).
    #[arg(long, env = "LAURA_SNAPSHOT_KEEP_ENTRIES")]
    pub snapshot_keep_entries: Option<u64>,
}

/// The same settings, as a TOML file spells them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    id: Option<u64>,
    data_dir: Option<PathBuf>,
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    groups: Option<String>,
    peers: Option<String>,
    bootstrap: Option<bool>,
    cache_mb: Option<u64>,
    engine_storage: Option<String>,
    snapshot_every_entries: Option<u64>,
    snapshot_keep_entries: Option<u64>,
}

/// Fully resolved node settings.
#[derive(Debug)]
pub struct NodeSettings {
    pub id: u64,
    pub data_dir: PathBuf,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub groups: Vec<u64>,
    pub peers: Option<std::collections::BTreeMap<u64, String>>,
    pub bootstrap: bool,
    pub cache_mb: u64,
    pub engine_storage: EngineStorage,
    /// Overrides of [`lauradb_raft::RaftSettings`]' snapshot policy.
    pub snapshot_every_entries: Option<u64>,
    pub snapshot_keep_entries: Option<u64>,
}

impl NodeArgs {
    /// Merges flags/env over the TOML file over defaults.
    pub fn resolve(self) -> Result<NodeSettings, String> {
        let file: NodeFile = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => NodeFile::default(),
        };
        let id = self
            .id
            .or(file.id)
            .ok_or("a node id is required (--id, LAURA_NODE_ID or `id` in the config file)")?;
        let peers = self
            .peers
            .or(file.peers)
            .map(|p| parse_members(&p))
            .transpose()?;
        let bootstrap = self.bootstrap || file.bootstrap.unwrap_or(false);
        if bootstrap && peers.is_none() {
            return Err("--bootstrap needs --peers".into());
        }
        if let Some(peers) = &peers
            && !peers.contains_key(&id)
        {
            return Err(format!("--peers does not list this node ({id})"));
        }
        Ok(NodeSettings {
            id,
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(format!("./lauradb-node-{id}"))),
            grpc_addr: self
                .grpc_addr
                .or(file.grpc_addr)
                .unwrap_or_else(|| "0.0.0.0:7000".parse().expect("literal address")),
            http_addr: self
                .http_addr
                .or(file.http_addr)
                .unwrap_or_else(|| "0.0.0.0:9000".parse().expect("literal address")),
            groups: parse_groups(&self.groups.or(file.groups).unwrap_or_else(|| "0".into()))?,
            peers,
            bootstrap,
            cache_mb: self.cache_mb.or(file.cache_mb).unwrap_or(64),
            engine_storage: self
                .engine_storage
                .or(file.engine_storage)
                .map(|text| text.parse())
                .transpose()?
                .unwrap_or_default(),
            snapshot_every_entries: match self
                .snapshot_every_entries
                .or(file.snapshot_every_entries)
            {
                Some(0) => return Err("snapshot_every_entries must be at least 1".into()),
                other => other,
            },
            snapshot_keep_entries: self.snapshot_keep_entries.or(file.snapshot_keep_entries),
        })
    }
}

/// Runs a node until SIGTERM/SIGINT.
pub async fn run(args: NodeArgs) -> Result<(), String> {
    let settings = args.resolve()?;
    let mut config = NodeConfig::new(settings.id, &settings.data_dir);
    config.engine_cache_bytes = settings.cache_mb << 20;
    config.log_cache_bytes = settings.cache_mb << 20;
    config.engine_storage = settings.engine_storage;
    if let Some(entries) = settings.snapshot_every_entries {
        config.raft.snapshot_every_entries = entries;
    }
    if let Some(entries) = settings.snapshot_keep_entries {
        config.raft.keep_entries_after_snapshot = entries;
    }
    let node = RaftNode::open(config)
        .map_err(|e| format!("cannot open {}: {e}", settings.data_dir.display()))?;
    for &group in &settings.groups {
        node.open_group(group)
            .await
            .map_err(|e| format!("group {group}: {e}"))?;
    }
    let listener = tokio::net::TcpListener::bind(settings.grpc_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.grpc_addr))?;
    node.serve(listener);
    tracing::info!(node = settings.id, grpc = %settings.grpc_addr, groups = ?settings.groups, "node serving");

    if settings.bootstrap {
        let peers = settings.peers.clone().expect("checked in resolve");
        let me = NodeClient::new(
            node.pool().clone(),
            settings.id,
            peers[&settings.id].clone(),
        );
        for &group in &settings.groups {
            // Our own server may take a moment to be reachable at the
            // advertised address (container networking); retry briefly.
            let mut attempt = 0;
            loop {
                match me
                    .admin(
                        group,
                        &AdminRequest::Initialize {
                            members: peers.clone(),
                        },
                    )
                    .await
                {
                    Ok(_) => break,
                    Err(e) if attempt < 50 => {
                        tracing::debug!(group, error = %e, "initialise not yet possible; retrying");
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => return Err(format!("cannot initialise group {group}: {e}")),
                }
            }
        }
    }

    let http = tokio::net::TcpListener::bind(settings.http_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.http_addr))?;
    let app = health_routes(node.clone()).merge(crate::observe::metrics_routes());
    let served = crate::axum_serve(http, app).await;
    node.shutdown()
        .await
        .map_err(|e| format!("shutdown: {e}"))?;
    tracing::info!("node stopped; storage flushed");
    served
}

/// `GET /health`: 200 with each hosted group's status while every group has
/// a known leader, 503 otherwise.
fn health_routes(node: Arc<RaftNode>) -> Router {
    Router::new().route(
        "/health",
        get(move || {
            let node = node.clone();
            async move {
                let groups: Vec<_> = node.groups().iter().map(|g| g.status()).collect();
                let healthy = groups.iter().all(|g| g.leader.is_some());
                let body = serde_json::json!({
                    "node": node.id(),
                    "healthy": healthy,
                    "groups": groups.iter().map(|g| serde_json::json!({
                        "group": g.group, "state": g.state, "term": g.term, "leader": g.leader,
                        "applied": g.applied_index, "committed": g.committed_index,
                    })).collect::<Vec<_>>(),
                });
                let status = if healthy {
                    axum::http::StatusCode::OK
                } else {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                };
                (status, axum::Json(body))
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let (_dir, path) =
            file("id = 3\ngroups = \"1,2\"\ncache_mb = 16\npeers = \"3=a:1,5=b:2\"\n");
        let settings = NodeArgs {
            config: Some(path),
            id: Some(5),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(settings.id, 5, "flag beats file");
        assert_eq!(settings.groups, vec![1, 2], "file beats default");
        assert_eq!(settings.cache_mb, 16);
        assert_eq!(settings.grpc_addr.to_string(), "0.0.0.0:7000", "default");
        assert_eq!(settings.data_dir, PathBuf::from("./lauradb-node-5"));
    }

    #[test]
    fn snapshot_policy_comes_from_flags_or_the_file() {
        let (_dir, path) =
            file("id = 1\nsnapshot_every_entries = 200\nsnapshot_keep_entries = 50\n");
        let from_file = NodeArgs {
            config: Some(path.clone()),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(from_file.snapshot_every_entries, Some(200));
        assert_eq!(from_file.snapshot_keep_entries, Some(50));
        let flagged = NodeArgs {
            config: Some(path),
            snapshot_every_entries: Some(7),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(flagged.snapshot_every_entries, Some(7), "flag beats file");
        let defaults = NodeArgs {
            id: Some(1),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(
            defaults.snapshot_every_entries, None,
            "RaftSettings' default"
        );
        let (_dir, zero) = file("id = 1\nsnapshot_every_entries = 0\n");
        let error = NodeArgs {
            config: Some(zero),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(error.contains("snapshot_every_entries"), "{error}");
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        assert!(
            NodeArgs::default()
                .resolve()
                .unwrap_err()
                .contains("node id is required")
        );
        let (_dir, path) = file("id = 1\nbogus = 2\n");
        let error = NodeArgs {
            config: Some(path),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(error.contains("bogus"), "{error}");
        let error = NodeArgs {
            id: Some(1),
            bootstrap: true,
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(error.contains("--bootstrap needs --peers"), "{error}");
        let error = NodeArgs {
            id: Some(9),
            peers: Some("1=a:1".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(error.contains("does not list this node"), "{error}");
        let error = NodeArgs {
            id: Some(1),
            engine_storage: Some("rocksdb".into()),
            ..Default::default()
        }
        .resolve()
        .unwrap_err();
        assert!(
            error.contains("unknown engine storage 'rocksdb'"),
            "{error}"
        );
    }

    #[test]
    fn engine_storage_defaults_to_memory_and_is_settable() {
        let resolve = |storage: Option<&str>| {
            NodeArgs {
                id: Some(1),
                engine_storage: storage.map(String::from),
                ..Default::default()
            }
            .resolve()
            .unwrap()
            .engine_storage
        };
        assert_eq!(resolve(None), EngineStorage::Memory);
        assert_eq!(resolve(Some("write-behind")), EngineStorage::WriteBehind);
        assert_eq!(resolve(Some("sled")), EngineStorage::Sled);
    }
}
