//! An in-process cluster of real nodes talking gRPC over loopback.
//!
//! Each node has its own data directory and its own port (bound to port 0,
//! so tests run in parallel). Nodes can be killed and restarted on the same
//! port and directory. Every wait polls a condition against a deadline.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{Document, doc};
use lauradb_engine::command::{Command, Namespace, Operation, Outcome};
use lauradb_engine::dataapi::{ReadOutput, ReadRequest};
use lauradb_raft::network::ChannelPool;
use lauradb_raft::{
    AdminReply, AdminRequest, EngineStorage, GroupClient, GroupStatus, NodeClient, NodeConfig,
    NodeId, RaftNode, RaftSettings, ReadCall, ReadConsistency,
};
use tokio::net::TcpListener;

pub const GROUP: u64 = 1;

pub fn fast_settings() -> RaftSettings {
    RaftSettings {
        heartbeat_interval: Duration::from_millis(50),
        election_timeout_min: Duration::from_millis(300),
        election_timeout_max: Duration::from_millis(600),
        ..RaftSettings::default()
    }
}

pub struct TestNode {
    pub id: NodeId,
    pub addr: String,
    pub dir: std::path::PathBuf,
    pub node: Option<Arc<RaftNode>>,
}

pub struct Cluster {
    _root: tempfile::TempDir,
    pub nodes: BTreeMap<NodeId, TestNode>,
    pub settings: RaftSettings,
    pub storage: EngineStorage,
    pub pool: ChannelPool,
}

/// Polls `check` until it returns `Some` or the deadline passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Cluster {
    /// Starts `n` nodes (ids 1..=n) hosting group 1, and initialises it.
    pub async fn start(n: u64, settings: RaftSettings) -> Cluster {
        Cluster::start_with_storage(n, settings, EngineStorage::default()).await
    }

    /// Like [`Cluster::start`], with the engines on `storage`.
    pub async fn start_with_storage(
        n: u64,
        settings: RaftSettings,
        storage: EngineStorage,
    ) -> Cluster {
        let root = tempfile::tempdir().expect("temp dir");
        let mut cluster = Cluster {
            nodes: BTreeMap::new(),
            settings,
            storage,
            pool: ChannelPool::new(),
            _root: root,
        };
        for id in 1..=n {
            cluster.add_node(id).await;
        }
        let members: BTreeMap<NodeId, String> = cluster
            .nodes
            .values()
            .map(|n| (n.id, n.addr.clone()))
            .collect();
        for id in 1..=n {
            cluster
                .node_client(id)
                .admin(
                    GROUP,
                    &AdminRequest::Initialize {
                        members: members.clone(),
                    },
                )
                .await
                .expect("initialize");
        }
        cluster
    }

    /// Starts a fresh node `id` hosting the group (not yet a member).
    pub async fn add_node(&mut self, id: NodeId) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let dir = self._root.path().join(format!("node-{id}"));
        let node = self.open_node(id, &dir, listener).await;
        self.nodes.insert(
            id,
            TestNode {
                id,
                addr,
                dir,
                node: Some(node),
            },
        );
    }

    async fn open_node(
        &self,
        id: NodeId,
        dir: &std::path::Path,
        listener: TcpListener,
    ) -> Arc<RaftNode> {
        let mut config = NodeConfig::new(id, dir);
        config.raft = self.settings.clone();
        config.log_cache_bytes = 8 << 20;
        config.engine_cache_bytes = 8 << 20;
        config.engine_storage = self.storage;
        // A node stopped a moment ago may still hold its sled locks while its
        // tasks wind down; retry until they are released.
        let node = wait_for("node storage to open", Duration::from_secs(10), || {
            let config = config.clone();
            async move { RaftNode::open(config).ok() }
        })
        .await;
        wait_for("group to open", Duration::from_secs(10), || {
            let node = node.clone();
            async move { node.open_group(GROUP).await.ok() }
        })
        .await;
        node.serve(listener);
        node
    }

    pub fn node(&self, id: NodeId) -> &Arc<RaftNode> {
        self.nodes[&id].node.as_ref().expect("node is running")
    }

    pub fn node_client(&self, id: NodeId) -> NodeClient {
        NodeClient::new(self.pool.clone(), id, self.nodes[&id].addr.clone())
    }

    pub fn client(&self) -> Arc<GroupClient> {
        let members = self
            .nodes
            .values()
            .map(|n| (n.id, n.addr.clone()))
            .collect();
        GroupClient::new(GROUP, members, self.pool.clone())
    }

    pub fn status(&self, id: NodeId) -> GroupStatus {
        self.node(id).group(GROUP).expect("group").status()
    }

    pub fn running(&self) -> Vec<NodeId> {
        self.nodes
            .values()
            .filter(|n| n.node.is_some())
            .map(|n| n.id)
            .collect()
    }

    /// Waits until the running nodes agree on one leader, and returns it.
    pub async fn leader(&self) -> NodeId {
        wait_for("a leader", Duration::from_secs(15), || async {
            let running = self.running();
            let leaders: Vec<NodeId> = running
                .iter()
                .filter(|id| self.status(**id).state == "Leader")
                .copied()
                .collect();
            match leaders.as_slice() {
                [leader] => Some(*leader),
                _ => None,
            }
        })
        .await
    }

    /// Stops a node abruptly (no leadership hand-off).
    pub async fn kill(&mut self, id: NodeId) {
        let node = self
            .nodes
            .get_mut(&id)
            .unwrap()
            .node
            .take()
            .expect("running");
        node.kill().await.expect("kill");
    }

    /// Restarts a stopped node on its old port and data directory.
    pub async fn restart(&mut self, id: NodeId) {
        let addr = self.nodes[&id].addr.clone();
        let dir = self.nodes[&id].dir.clone();
        let listener = wait_for("old port to be free", Duration::from_secs(10), || {
            let addr = addr.clone();
            async move { TcpListener::bind(&addr).await.ok() }
        })
        .await;
        let node = self.open_node(id, &dir, listener).await;
        self.nodes.get_mut(&id).unwrap().node = Some(node);
    }

    /// Waits until node `id` has applied everything the leader has committed.
    pub async fn caught_up(&self, id: NodeId) {
        wait_for("node to catch up", Duration::from_secs(20), || async {
            let leader = self.status(self.leader().await);
            let status = self.status(id);
            (status.applied_index >= leader.committed_index && leader.committed_index.is_some())
                .then_some(())
        })
        .await
    }

    /// Documents in the test collection as node `id` sees them locally.
    pub async fn local_ids(&self, id: NodeId) -> Vec<i64> {
        let out = self
            .node_client(id)
            .read(
                GROUP,
                &ReadCall {
                    request: find_all(),
                    consistency: ReadConsistency::Local,
                    version: None,
                },
            )
            .await
            .expect("local read");
        ids_of(out)
    }

    pub async fn admin_on_leader(&self, request: AdminRequest) -> AdminReply {
        self.client().admin(request).await.expect("admin")
    }
}

pub fn ns() -> Namespace {
    Namespace::new("test", "docs")
}

pub fn insert(id: i64) -> Command {
    Command {
        request: None,
        now_millis: 0,
        op: Operation::Insert {
            ns: ns(),
            documents: vec![doc! { "_id": id, "v": format!("value-{id}") }],
            ordered: true,
        },
    }
}

pub fn find_all() -> ReadRequest {
    ReadRequest::Find {
        ns: ns(),
        options: lauradb_engine::engine::FindOptions {
            sort: doc! { "_id": 1 },
            ..Default::default()
        },
        one: false,
    }
}

pub fn ids_of(out: ReadOutput) -> Vec<i64> {
    match out {
        ReadOutput::Documents(docs) => docs
            .iter()
            .map(|d: &Document| d.get_i64("_id").expect("_id"))
            .collect(),
        other => panic!("expected documents, got {other:?}"),
    }
}

/// Inserts `ids` through the group client, asserting each is acknowledged.
pub async fn insert_all(client: &GroupClient, ids: impl IntoIterator<Item = i64>) {
    for id in ids {
        let response = client.write(insert(id)).await.expect("write acknowledged");
        match response.result {
            Some(Ok(Outcome::Inserted { errors, .. })) => {
                assert!(errors.is_empty(), "insert {id}: {errors:?}")
            }
            other => panic!("insert {id}: {other:?}"),
        }
    }
}

/// `writers` concurrent tasks on one client, writer `w` inserting ids
/// `w * 100 .. w * 100 + per_writer`; returns once every write is applied.
pub async fn write_concurrently(client: &Arc<GroupClient>, writers: i64, per_writer: i64) {
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let client = client.clone();
            tokio::spawn(
                async move { insert_all(&client, (0..per_writer).map(|i| w * 100 + i)).await },
            )
        })
        .collect();
    for task in tasks {
        task.await.expect("every write applied");
    }
}

/// Every id in the collection, read linearizably through the leader.
pub async fn read_all(client: &GroupClient) -> Vec<i64> {
    ids_of(
        client
            .read(find_all(), ReadConsistency::Linearizable)
            .await
            .unwrap(),
    )
}
