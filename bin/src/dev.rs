//! `lauradb dev`: a whole cluster in one process.
//!
//! `--replicas` nodes (ids 1..=R), each hosting a replica of the config group
//! (group 0) and of every shard group (1..=S), each node on its own loopback
//! gRPC port — the same code paths as a real cluster, Raft and gRPC included.
//! The router's HTTP API sits in front; its calls to the nodes, being in the
//! same process, run the nodes' gRPC handlers directly (see
//! `lauradb_raft::network::local`), while the replicas replicate to each
//! other over gRPC as in any cluster.
//!
//! The first start picks free ports and records the layout in
//! `{data_dir}/cluster.json`; later starts reuse it (Raft membership names
//! those addresses), and refuse a different `--shards`/`--replicas`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lauradb_raft::network::ChannelPool;
use lauradb_raft::{AdminRequest, EngineStorage, NodeClient, NodeConfig, RaftNode, Replicas};
use lauradb_router::cluster::CONFIG_GROUP;
use lauradb_router::{ClusterBackend, ClusterOptions, ShardInfo};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// What `cluster.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Layout {
    shards: u64,
    /// Node id → gRPC address.
    nodes: BTreeMap<u64, String>,
}

/// A running in-process cluster.
pub struct DevCluster {
    pub nodes: Vec<Arc<RaftNode>>,
    pub backend: ClusterBackend,
    pub layout_summary: String,
    _ephemeral_dir: Option<tempfile::TempDir>,
}

pub struct DevOptions {
    pub data_dir: PathBuf,
    pub ephemeral: bool,
    pub engine_storage: EngineStorage,
    pub shards: u64,
    pub replicas: u64,
    pub cache_bytes: u64,
    /// Shard every new collection with this key (development switch).
    pub shard_new_collections: Option<lauradb_engine::sharding::ShardKeyPattern>,
}

fn read_layout(path: &Path) -> Result<Option<Layout>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is not a LauraDB cluster layout: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

impl DevCluster {
    pub async fn start(options: DevOptions) -> Result<DevCluster, String> {
        if options.shards == 0 || options.replicas == 0 {
            return Err("--shards and --replicas must be at least 1".into());
        }
        let (root, ephemeral_dir) = if options.ephemeral {
            let dir = tempfile::tempdir()
                .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
            (dir.path().to_path_buf(), Some(dir))
        } else {
            (options.data_dir.clone(), None)
        };
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let layout_path = root.join("cluster.json");
        let existing = read_layout(&layout_path)?;
        if let Some(layout) = &existing
            && (layout.shards != options.shards || layout.nodes.len() as u64 != options.replicas)
        {
            return Err(format!(
                "{} holds a cluster of {} shards x {} replicas; start with --shards {} --replicas {} or use another --data-dir",
                root.display(),
                layout.shards,
                layout.nodes.len(),
                layout.shards,
                layout.nodes.len()
            ));
        }
        // Bind every node's port: the recorded ones, or fresh ones.
        let mut listeners = BTreeMap::new();
        let mut layout = Layout {
            shards: options.shards,
            nodes: BTreeMap::new(),
        };
        for id in 1..=options.replicas {
            let wanted = existing
                .as_ref()
                .and_then(|l| l.nodes.get(&id).cloned())
                .unwrap_or_else(|| "127.0.0.1:0".to_string());
            let listener = TcpListener::bind(&wanted)
                .await
                .map_err(|e| format!("node {id} cannot listen on {wanted}: {e}"))?;
            let addr = listener
                .local_addr()
                .map_err(|e| e.to_string())?
                .to_string();
            layout.nodes.insert(id, addr);
            listeners.insert(id, listener);
        }
        if existing.is_none() {
            let json = serde_json::to_vec_pretty(&layout).map_err(|e| e.to_string())?;
            std::fs::write(&layout_path, json)
                .map_err(|e| format!("cannot write {}: {e}", layout_path.display()))?;
        }

        let groups: Vec<u64> = std::iter::once(CONFIG_GROUP)
            .chain(1..=options.shards)
            .collect();
        let per_group_cache =
            (options.cache_bytes / (options.replicas * groups.len() as u64)).max(4 << 20);
        // The router's pool: its calls to these nodes, which run in this
        // process, skip gRPC (replication between the nodes does not).
        let pool = ChannelPool::new();
        let mut nodes = Vec::new();
        for (id, listener) in listeners {
            let mut config = NodeConfig::new(id, root.join(format!("node-{id}")));
            config.engine_storage = options.engine_storage;
            config.engine_cache_bytes = per_group_cache;
            config.log_cache_bytes = per_group_cache;
            let node = RaftNode::open(config).map_err(|e| format!("node {id}: {e}"))?;
            for &group in &groups {
                node.open_group(group)
                    .await
                    .map_err(|e| format!("node {id}, group {group}: {e}"))?;
            }
            node.serve(listener);
            pool.serve_locally(&layout.nodes[&id], &node);
            nodes.push(node);
        }

        // Initialise every group (a no-op for groups that already are).
        for &group in &groups {
            for (id, addr) in &layout.nodes {
                NodeClient::new(pool.clone(), *id, addr.clone())
                    .admin(
                        group,
                        &AdminRequest::Initialize {
                            members: layout.nodes.clone(),
                        },
                    )
                    .await
                    .map_err(|e| format!("initialising group {group} on node {id}: {e}"))?;
            }
        }
        let members: Vec<(u64, String)> = layout
            .nodes
            .iter()
            .map(|(id, addr)| (*id, addr.clone()))
            .collect();
        let backend = ClusterBackend::with_options(
            members.clone(),
            pool,
            ClusterOptions {
                shard_new_collections: options.shard_new_collections.clone(),
                ..Default::default()
            },
        );
        for shard in 1..=options.shards {
            backend
                .register_shard(&ShardInfo {
                    id: shard,
                    members: members.clone(),
                })
                .await
                .map_err(|e| {
                    format!(
                        "registering shard {shard} in the config group: {}",
                        e.message
                    )
                })?;
        }
        Ok(DevCluster {
            nodes,
            backend,
            layout_summary: format!(
                "{} shard(s) x {} replica(s) + config group, gRPC on {}",
                options.shards,
                options.replicas,
                layout
                    .nodes
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ephemeral_dir: ephemeral_dir,
        })
    }

    /// Stops every node and flushes its storage: first the leading replicas
    /// on every node, then the others, then the nodes' servers (see
    /// `RaftNode::stop_replicas`).
    pub async fn stop(self) -> Result<(), String> {
        // Every node is stopped even if one fails; the first failure is
        // reported.
        let mut first_error = None;
        for which in [Replicas::Leading, Replicas::All] {
            for node in &self.nodes {
                if let Err(e) = node.stop_replicas(which).await {
                    first_error
                        .get_or_insert(format!("stopping the replicas of node {}: {e}", node.id()));
                }
            }
        }
        for node in &self.nodes {
            if let Err(e) = node.kill().await {
                first_error.get_or_insert(format!("stopping node {}: {e}", node.id()));
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
