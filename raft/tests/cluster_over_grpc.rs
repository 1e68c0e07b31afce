//! A 3-replica group over real loopback gRPC: election, replication, leader
//! loss, restarts, snapshot catch-up, membership changes and exactly-once
//! retries. Every test asserts that no acknowledged write is missing.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bson::doc;
use common::*;
use lauradb_engine::command::{Outcome, RequestId};
use lauradb_raft::{
    AdminReply, AdminRequest, ClientError, EngineStorage, RaftSettings, ReadCall, ReadConsistency,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn elects_replicates_and_survives_leader_kill() {
    let mut cluster = Cluster::start(3, fast_settings()).await;
    let client = cluster.client();
    let first = cluster.leader().await;
    insert_all(&client, 0..50).await;

    cluster.kill(first).await;
    let started = std::time::Instant::now();
    let second = cluster.leader().await;
    assert_ne!(first, second);
    // A few election timeouts (max 600 ms here), with slack for a slow CI box.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "new leader took {:?}",
        started.elapsed()
    );
    insert_all(&client, 50..100).await;

    let all = ids_of(
        client
            .read(find_all(), ReadConsistency::Linearizable)
            .await
            .expect("linearizable read"),
    );
    assert_eq!(
        all,
        (0..100).collect::<Vec<_>>(),
        "every acknowledged write is present"
    );

    // The old leader comes back and catches up from the log.
    cluster.restart(first).await;
    cluster.caught_up(first).await;
    assert_eq!(cluster.local_ids(first).await, (0..100).collect::<Vec<_>>());
    let status = cluster.status(first);
    assert_eq!(status.state, "Follower");
    assert_eq!(status.voters, BTreeSet::from([1, 2, 3]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn follower_answers_not_leader_with_a_hint_and_serves_follower_reads() {
    let cluster = Cluster::start(3, fast_settings()).await;
    // A leader and a follower that knows it (it learns from the leader's
    // first message; elections may still move leadership meanwhile).
    let follower = wait_for(
        "a follower that knows the leader",
        Duration::from_secs(20),
        || async {
            let leader = cluster.leader().await;
            cluster
                .running()
                .into_iter()
                .find(|id| *id != leader && cluster.status(*id).leader == Some(leader))
        },
    )
    .await;
    let to_follower = cluster.node_client(follower);

    match to_follower.write(GROUP, &insert(1)).await {
        Err(ClientError::NotLeader {
            leader: Some((id, addr)),
            ..
        }) => {
            // The leader found above, or a newer one if an election ran in
            // between.
            assert_ne!(id, follower, "a follower does not name itself");
            assert_eq!(
                addr, cluster.nodes[&id].addr,
                "the hint carries the leader's address"
            );
        }
        other => panic!("expected NotLeader with a hint, got {other:?}"),
    }
    match to_follower
        .read(
            GROUP,
            &ReadCall {
                request: find_all(),
                consistency: ReadConsistency::Linearizable,
                version: None,
            },
        )
        .await
    {
        Err(ClientError::NotLeader { .. }) => {}
        other => panic!("a linearizable read on a follower must be refused, got {other:?}"),
    }

    // Acknowledged on the leader, then immediately visible to a follower
    // read (which waits for the leader's read index), repeatedly.
    let client = cluster.client();
    for id in 0..20 {
        insert_all(&client, [id]).await;
        let seen = ids_of(
            to_follower
                .read(
                    GROUP,
                    &ReadCall {
                        request: find_all(),
                        consistency: ReadConsistency::Follower,
                        version: None,
                    },
                )
                .await
                .expect("follower read"),
        );
        assert_eq!(seen, (0..=id).collect::<Vec<_>>());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_for_another_node_id_are_refused() {
    let cluster = Cluster::start(3, fast_settings()).await;
    // Node 2's address, but claiming to be node 3.
    let impostor =
        lauradb_raft::NodeClient::new(cluster.pool.clone(), 3, cluster.nodes[&2].addr.clone());
    let error = impostor
        .admin(GROUP, &AdminRequest::Status)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not node 3"), "{error}");
    // And an unknown group is named as such.
    let error = cluster
        .node_client(2)
        .admin(99, &AdminRequest::Status)
        .await
        .unwrap_err();
    assert_eq!(error, ClientError::UnknownGroup(99));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_behind_a_purged_log_catches_up_by_snapshot() {
    let settings = RaftSettings {
        snapshot_every_entries: 20,
        keep_entries_after_snapshot: 0,
        ..fast_settings()
    };
    let mut cluster = Cluster::start(3, settings).await;
    let client = cluster.client();
    let leader = cluster.leader().await;
    let lagging = *cluster.running().iter().find(|id| **id != leader).unwrap();
    insert_all(&client, 0..10).await;
    cluster.caught_up(lagging).await;
    let behind_at = cluster.status(lagging).applied_index.unwrap();
    cluster.kill(lagging).await;

    insert_all(&client, 10..200).await;
    // The leader has snapshotted and purged past where the lagging node stopped.
    wait_for(
        "leader to purge its log",
        Duration::from_secs(20),
        || async {
            let status = cluster.status(cluster.leader().await);
            (status.purged_index > Some(behind_at + 1)).then_some(())
        },
    )
    .await;

    cluster.restart(lagging).await;
    cluster.caught_up(lagging).await;
    let status = cluster.status(lagging);
    assert!(
        status.snapshot_index > Some(behind_at),
        "caught up by installing a snapshot: {status:?}"
    );
    assert_eq!(
        cluster.local_ids(lagging).await,
        (0..200).collect::<Vec<_>>()
    );
    // And it keeps replicating normally afterwards.
    insert_all(&client, 200..210).await;
    cluster.caught_up(lagging).await;
    assert_eq!(
        cluster.local_ids(lagging).await,
        (0..210).collect::<Vec<_>>()
    );
}

/// Writes, stops every node abruptly, restarts them all: everything written
/// is there and the group takes writes again.
async fn full_cluster_restart_keeps_all_data(storage: EngineStorage) {
    let mut cluster = Cluster::start_with_storage(3, fast_settings(), storage).await;
    let client = cluster.client();
    cluster.leader().await;
    insert_all(&client, 0..30).await;
    for id in cluster.running() {
        cluster.kill(id).await;
    }
    for id in 1..=3 {
        cluster.restart(id).await;
    }
    cluster.leader().await;
    let client = cluster.client();
    let all = ids_of(
        client
            .read(find_all(), ReadConsistency::Linearizable)
            .await
            .expect("read"),
    );
    assert_eq!(all, (0..30).collect::<Vec<_>>(), "{storage:?}");
    insert_all(&client, 30..40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_cluster_restart_keeps_all_data_in_memory_engines() {
    full_cluster_restart_keeps_all_data(EngineStorage::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_cluster_restart_keeps_all_data_in_write_behind_engines() {
    full_cluster_restart_keeps_all_data(EngineStorage::WriteBehind).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_cluster_restart_keeps_all_data_in_sled_engines() {
    full_cluster_restart_keeps_all_data(EngineStorage::Sled).await;
}

/// The in-memory engine's durable form is its newest snapshot plus the log
/// after it: once the log has grown past `snapshot_every_log_bytes`, every
/// replica snapshots and purges, and a restart rebuilds the engine from that
/// snapshot and the entries after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_engines_restart_from_their_snapshot_and_the_log_after_it() {
    let settings = RaftSettings {
        snapshot_every_entries: 1_000_000,
        snapshot_every_log_bytes: 16 << 10,
        keep_entries_after_snapshot: 5,
        ..fast_settings()
    };
    let mut cluster = Cluster::start_with_storage(3, settings, EngineStorage::Memory).await;
    let client = cluster.client();
    cluster.leader().await;
    // One entry per insert (sequential writes): ~100 bytes each.
    insert_all(&client, 0..400).await;
    wait_for(
        "every replica to snapshot by log bytes and purge",
        Duration::from_secs(20),
        || async {
            cluster
                .running()
                .iter()
                .all(|id| {
                    let status = cluster.status(*id);
                    status.snapshot_index.is_some() && status.purged_index.is_some()
                })
                .then_some(())
        },
    )
    .await;
    // Some writes only the log holds.
    insert_all(&client, 400..420).await;
    for id in cluster.running() {
        cluster.caught_up(id).await;
    }
    for id in cluster.running() {
        cluster.kill(id).await;
    }
    for id in 1..=3 {
        cluster.restart(id).await;
    }
    for id in 1..=3 {
        // The log no longer starts at 1: what it lacks came from the snapshot.
        wait_for(
            "a restarted replica to report",
            Duration::from_secs(10),
            || async {
                let status = cluster.status(id);
                (status.purged_index.is_some() && status.snapshot_index >= status.purged_index)
                    .then_some(())
            },
        )
        .await;
    }
    for id in 1..=3 {
        cluster.caught_up(id).await;
        assert_eq!(
            cluster.local_ids(id).await,
            (0..420).collect::<Vec<_>>(),
            "node {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn membership_three_to_four_to_three_under_load_loses_nothing() {
    let mut cluster = Cluster::start(3, fast_settings()).await;
    cluster.leader().await;
    cluster.add_node(4).await;

    // A writer keeps inserting through the whole change and records what
    // was acknowledged.
    let client = cluster.client();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn({
        let client = client.clone();
        let stop = stop.clone();
        let acked = acked.clone();
        async move {
            let mut acknowledged = Vec::new();
            let mut id = 0_i64;
            while !stop.load(Ordering::Relaxed) {
                if let Ok(response) = client.write(insert(id)).await
                    && matches!(response.result, Some(Ok(Outcome::Inserted { ref errors, .. })) if errors.is_empty())
                {
                    acknowledged.push(id);
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                id += 1;
            }
            acknowledged
        }
    });

    let progress = |from: usize| {
        let acked = acked.clone();
        async move {
            wait_for(
                "the writer to make progress",
                Duration::from_secs(20),
                || {
                    let acked = acked.clone();
                    async move { (acked.load(Ordering::Relaxed) >= from + 10).then_some(()) }
                },
            )
            .await
        }
    };
    progress(0).await;
    let addr4 = cluster.nodes[&4].addr.clone();
    cluster
        .admin_on_leader(AdminRequest::AddLearner {
            node: 4,
            addr: addr4,
            blocking: true,
        })
        .await;
    cluster
        .admin_on_leader(AdminRequest::ChangeVoters {
            voters: BTreeSet::from([1, 2, 3, 4]),
        })
        .await;
    wait_for(
        "node 4 to learn it is a voter",
        Duration::from_secs(10),
        || async { (cluster.status(4).voters == BTreeSet::from([1, 2, 3, 4])).then_some(()) },
    )
    .await;
    progress(acked.load(Ordering::Relaxed)).await;
    // Remove one of the original voters (possibly the leader).
    cluster
        .admin_on_leader(AdminRequest::ChangeVoters {
            voters: BTreeSet::from([2, 3, 4]),
        })
        .await;
    wait_for(
        "membership {2,3,4} everywhere",
        Duration::from_secs(10),
        || async {
            [2, 3, 4]
                .iter()
                .all(|id| cluster.status(*id).voters == BTreeSet::from([2, 3, 4]))
                .then_some(())
        },
    )
    .await;

    progress(acked.load(Ordering::Relaxed)).await;
    stop.store(true, Ordering::Relaxed);
    let acknowledged = writer.await.expect("writer");
    assert!(
        acknowledged.len() >= 30,
        "the writer made progress: {}",
        acknowledged.len()
    );
    let present: HashSet<i64> = ids_of(
        client
            .read(find_all(), ReadConsistency::Linearizable)
            .await
            .expect("read"),
    )
    .into_iter()
    .collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|id| !present.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    cluster.caught_up(4).await;
    let on_new_node: HashSet<i64> = cluster.local_ids(4).await.into_iter().collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !on_new_node.contains(id))
        .collect();
    assert!(
        missing.is_empty(),
        "missing on node 4: {missing:?}; node 4 {:?}; leader {:?}",
        cluster.status(4),
        cluster.status(cluster.leader().await)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retried_write_after_leader_change_is_applied_once() {
    let mut cluster = Cluster::start(3, fast_settings()).await;
    let client = cluster.client();
    let leader = cluster.leader().await;
    let mut command = insert(7);
    command.request = Some(RequestId {
        session: 0xfeed,
        seq: 1,
    });
    let first = client.write(command.clone()).await.expect("first attempt");

    // The leader dies; the client retries the same request elsewhere.
    cluster.kill(leader).await;
    cluster.leader().await;
    let retry = client.write(command.clone()).await.expect("retry");
    assert_eq!(
        retry.result, first.result,
        "the retry answers with the original result"
    );
    match &retry.result {
        Some(Ok(Outcome::Inserted {
            inserted_ids,
            errors,
        })) => {
            assert_eq!(inserted_ids.len(), 1);
            assert!(
                errors.is_empty(),
                "no duplicate-key error: the insert was not re-run"
            );
        }
        other => panic!("unexpected result {other:?}"),
    }
    let count = client
        .read(
            lauradb_engine::dataapi::ReadRequest::Count {
                ns: ns(),
                filter: doc! {},
                skip: 0,
                limit: 0,
            },
            ReadConsistency::Linearizable,
        )
        .await
        .expect("count");
    assert_eq!(count, lauradb_engine::dataapi::ReadOutput::Count(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leadership_transfer_and_status() {
    let cluster = Cluster::start(3, fast_settings()).await;
    let leader = cluster.leader().await;
    let target = *cluster.running().iter().find(|id| **id != leader).unwrap();
    insert_all(&cluster.client(), 0..5).await;
    cluster.caught_up(target).await;
    cluster
        .admin_on_leader(AdminRequest::TransferLeader { to: target })
        .await;
    wait_for("leadership to move", Duration::from_secs(10), || async {
        (cluster.leader().await == target).then_some(())
    })
    .await;
    match cluster
        .node_client(target)
        .admin(GROUP, &AdminRequest::Status)
        .await
        .expect("status")
    {
        AdminReply::Status(status) => {
            assert_eq!(status.state, "Leader");
            assert_eq!(status.members.len(), 3);
            assert_eq!(status.lag.len(), 3);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_port_serves_many_groups_independently() {
    let cluster = Cluster::start(3, fast_settings()).await;
    // A second group on the same three nodes and ports.
    let members: std::collections::BTreeMap<u64, String> = cluster
        .nodes
        .values()
        .map(|n| (n.id, n.addr.clone()))
        .collect();
    for id in 1..=3 {
        cluster.node(id).open_group(2).await.expect("open group 2");
    }
    for id in 1..=3 {
        cluster
            .node_client(id)
            .admin(
                2,
                &AdminRequest::Initialize {
                    members: members.clone(),
                },
            )
            .await
            .expect("initialize group 2");
    }
    let group1 = cluster.client();
    let group2 =
        lauradb_raft::GroupClient::new(2, members.into_iter().collect(), cluster.pool.clone());
    insert_all(&group1, 0..5).await;
    insert_all(&group2, 100..103).await;
    let one = ids_of(
        group1
            .read(find_all(), ReadConsistency::Linearizable)
            .await
            .unwrap(),
    );
    let two = ids_of(
        group2
            .read(find_all(), ReadConsistency::Linearizable)
            .await
            .unwrap(),
    );
    assert_eq!(one, vec![0, 1, 2, 3, 4]);
    assert_eq!(two, vec![100, 101, 102]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_through_one_client_are_all_applied() {
    // One client, many writers: each in-flight write needs its own session,
    // or the engine would refuse out-of-order sequence numbers as stale.
    let cluster = Cluster::start(3, fast_settings()).await;
    let client = cluster.client();
    write_concurrently(&client, 32, 5).await;
    let all = read_all(&client).await;
    assert_eq!(all.len(), 160);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_share_log_entries_and_reach_every_replica() {
    // With one entry in flight at a time, writes that arrive meanwhile wait
    // and go together in the next entry.
    let settings = RaftSettings {
        proposals_in_flight: 1,
        ..fast_settings()
    };
    let cluster = Cluster::start(3, settings).await;
    let client = cluster.client();
    let leader = cluster.leader().await;
    let before = cluster.status(leader).last_log_index.unwrap_or(0);
    write_concurrently(&client, 64, 5).await;
    let entries = cluster.status(leader).last_log_index.unwrap_or(0) - before;
    assert!(
        entries < 320,
        "320 concurrent writes took {entries} log entries: no batching"
    );
    for id in cluster.running() {
        cluster.caught_up(id).await;
        let ids = cluster.local_ids(id).await;
        assert_eq!(ids.len(), 320, "node {id} has {} documents", ids.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batched_writes_sent_to_a_follower_find_the_leader() {
    // The client's first guess is a follower: every write of the first
    // batches is answered "not the leader" and retried on its own, once.
    let cluster = Cluster::start(3, fast_settings()).await;
    let leader = cluster.leader().await;
    let mut members: Vec<(lauradb_raft::NodeId, String)> = cluster
        .nodes
        .values()
        .map(|n| (n.id, n.addr.clone()))
        .collect();
    members.sort_by_key(|(id, _)| *id == leader);
    let client = lauradb_raft::GroupClient::new(GROUP, members, cluster.pool.clone());
    write_concurrently(&client, 16, 3).await;
    let all = read_all(&client).await;
    assert_eq!(all.len(), 48);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_replica_collects_versions_no_read_can_see() {
    let settings = RaftSettings {
        gc_every: Duration::from_millis(100),
        gc_retention: Duration::ZERO,
        ..fast_settings()
    };
    let cluster = Cluster::start(3, settings).await;
    let client = cluster.client();
    // Each write supersedes the previous `raft_applied` record and its
    // session's previous result: old versions for the collector.
    insert_all(&client, 0..30).await;
    for id in cluster.running() {
        let group = cluster.node(id).group(GROUP).expect("group");
        wait_for(
            "old versions to be collected",
            Duration::from_secs(20),
            || {
                let removed = group
                    .gc
                    .versions_removed
                    .load(std::sync::atomic::Ordering::Relaxed);
                async move { (removed >= 30).then_some(()) }
            },
        )
        .await;
        cluster.caught_up(id).await;
        assert_eq!(cluster.local_ids(id).await, (0..30).collect::<Vec<_>>());
    }
}
