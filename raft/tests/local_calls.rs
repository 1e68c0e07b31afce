//! Client calls to nodes of the same process skip gRPC (see
//! `lauradb_raft::network::local`) and answer exactly as the gRPC path does.
//!
//! The local pool names each node by an address nothing listens on, so a
//! call can only succeed if it really took the local path; replication
//! between the nodes still runs over their real loopback gRPC ports.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use lauradb_engine::dataapi::ReadOutput;
use lauradb_raft::network::ChannelPool;
use lauradb_raft::{
    AdminReply, AdminRequest, ClientError, GroupClient, NodeClient, NodeId, ReadConsistency,
};

/// A loopback address that refuses connections: a port that was free a
/// moment ago (so a call that went over gRPC would fail at once).
async fn refusing_addr() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("addr").to_string()
}

/// A pool that knows every running node of `cluster` under an address of
/// its own, and those addresses.
async fn local_pool(cluster: &Cluster) -> (ChannelPool, BTreeMap<NodeId, String>) {
    let pool = ChannelPool::new();
    let mut addrs = BTreeMap::new();
    for id in cluster.running() {
        let addr = refusing_addr().await;
        pool.serve_locally(&addr, cluster.node(id));
        addrs.insert(id, addr);
    }
    (pool, addrs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_to_nodes_of_this_process_skip_grpc_and_answer_the_same() {
    let mut cluster = Cluster::start(3, fast_settings()).await;
    let (pool, addrs) = local_pool(&cluster).await;
    let members: Vec<(NodeId, String)> = addrs.iter().map(|(id, a)| (*id, a.clone())).collect();
    let client: Arc<GroupClient> = GroupClient::new(GROUP, members.clone(), pool.clone());

    // Writes (concurrent, so several share entries), linearizable reads and
    // admin calls all work through the local path, and replication reaches
    // every replica.
    write_concurrently(&client, 8, 20).await;
    let expected: Vec<i64> = (0..8)
        .flat_map(|w| (0..20).map(move |i| w * 100 + i))
        .collect();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(read_all(&client).await, sorted);
    for id in cluster.running() {
        cluster.caught_up(id).await;
        assert_eq!(cluster.local_ids(id).await, sorted, "replica {id}");
    }
    let leader = cluster.leader().await;
    match client.admin(AdminRequest::Status).await.expect("status") {
        AdminReply::Status(status) => assert_eq!(status.leader, Some(leader)),
        other => panic!("expected a status, got {other:?}"),
    }

    // The same refusals as over gRPC: a request for another node id, a
    // group the node does not host.
    let impostor = NodeClient::new(pool.clone(), 3, addrs[&2].clone());
    let error = impostor
        .admin(GROUP, &AdminRequest::Status)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not node 3"), "{error}");
    let error = NodeClient::new(pool.clone(), 2, addrs[&2].clone())
        .admin(99, &AdminRequest::Status)
        .await
        .unwrap_err();
    assert_eq!(error, ClientError::UnknownGroup(99));
    // A follower answers NotLeader with the leader's id, as over gRPC.
    let follower = cluster
        .running()
        .into_iter()
        .find(|id| *id != leader)
        .expect("a follower");
    let error = NodeClient::new(pool.clone(), follower, addrs[&follower].clone())
        .write(GROUP, &insert(10_000))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::NotLeader { leader: Some((id, _)), .. } if *id == leader),
        "{error:?}"
    );

    // A client whose first choice is a follower hands its write to that
    // follower, is told NotLeader, and retries with the command's bytes at
    // the leader: the write lands once, with the values it was sent with.
    let mut follower_first = members.clone();
    follower_first.sort_by_key(|(id, _)| *id == follower);
    follower_first.reverse();
    assert_eq!(follower_first[0].0, follower);
    let detour: Arc<GroupClient> = GroupClient::new(GROUP, follower_first, pool.clone());
    insert_all(&detour, [5_000]).await;
    let mut sorted: Vec<i64> = sorted;
    sorted.push(5_000);
    sorted.sort();
    assert_eq!(read_all(&client).await, sorted);
    match client
        .read(find_all(), ReadConsistency::Linearizable)
        .await
        .expect("read")
    {
        ReadOutput::Documents(documents) => assert!(
            documents.contains(&bson::doc! {"_id": 5_000_i64, "v": "value-5000"}),
            "{documents:?}"
        ),
        other => panic!("expected documents, got {other:?}"),
    }

    // A killed node is unreachable, not hung, and the client finds the new
    // leader; nothing acknowledged is lost.
    cluster.kill(leader).await;
    let error = NodeClient::new(pool.clone(), leader, addrs[&leader].clone())
        .admin(GROUP, &AdminRequest::Status)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Unavailable { .. }),
        "{error:?}"
    );
    insert_all(&client, 1_000..1_020).await;
    let mut after: Vec<i64> = sorted.clone();
    after.extend(1_000..1_020);
    after.sort();
    assert_eq!(read_all(&client).await, after);
}
