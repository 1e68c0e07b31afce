//! One 3-replica group over loopback gRPC with durable storage: closed-loop
//! writers at 1, 16 and 64 concurrent clients, throughput and latency.
//!
//! Run: `cargo bench -p lauradb-raft --bench group` (optionally
//! `-- --seconds 10 --clients 1,16,64 --in-flight 2`, the last being
//! `RaftSettings::proposals_in_flight`). Every write is an insertOne of a
//! ~256-byte document through the leader-following client; it is
//! acknowledged only after a majority has fsynced the log entry and the
//! leader has applied it. All three replicas and the clients share this
//! machine, as etcd's members do in the comparison.

/// The allocator the `lauradb` binary uses, so the numbers match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bson::doc;
use hdrhistogram::Histogram;
use lauradb_engine::command::{Command, Namespace, Operation};
use lauradb_raft::network::ChannelPool;
use lauradb_raft::{AdminRequest, EngineStorage, GroupClient, NodeClient, NodeConfig, RaftNode};
use tokio::net::TcpListener;

const GROUP: u64 = 1;

struct Options {
    seconds: u64,
    clients: Vec<usize>,
    in_flight: Option<usize>,
}

fn options() -> Options {
    let mut options = Options {
        seconds: 5,
        clients: vec![1, 16, 64],
        in_flight: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--seconds" => {
                options.seconds = args[i + 1].parse().expect("--seconds N");
                i += 1;
            }
            "--clients" => {
                options.clients = args[i + 1]
                    .split(',')
                    .map(|c| c.parse().expect("--clients 1,16,64"))
                    .collect();
                i += 1;
            }
            "--in-flight" => {
                options.in_flight = Some(args[i + 1].parse().expect("--in-flight N"));
                i += 1;
            }
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    options
}

async fn start_cluster(
    root: &std::path::Path,
    options: &Options,
) -> (Vec<Arc<RaftNode>>, Vec<(u64, String)>) {
    let mut nodes = Vec::new();
    let mut members = Vec::new();
    for id in 1..=3_u64 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        members.push((id, listener.local_addr().unwrap().to_string()));
        let mut config = NodeConfig::new(id, root.join(format!("node-{id}")));
        config.engine_storage = match std::env::var("LAURA_BENCH_ENGINE") {
            Ok(name) => name.parse().expect("LAURA_BENCH_ENGINE"),
            Err(_) => EngineStorage::default(),
        };
        if let Some(in_flight) = options.in_flight {
            config.raft.proposals_in_flight = in_flight;
        }
        let node = RaftNode::open(config).unwrap();
        node.open_group(GROUP).await.unwrap();
        node.serve(listener);
        nodes.push(node);
    }
    let pool = ChannelPool::new();
    let init = AdminRequest::Initialize {
        members: members.iter().cloned().collect(),
    };
    for (id, addr) in &members {
        NodeClient::new(pool.clone(), *id, addr.clone())
            .admin(GROUP, &init)
            .await
            .unwrap();
    }
    (nodes, members)
}

fn insert(id: u64, payload: &str) -> Command {
    Command {
        request: None,
        now_millis: 0,
        op: Operation::Insert {
            ns: Namespace::new("bench", "docs"),
            documents: vec![doc! { "_id": id as i64, "payload": payload }],
            ordered: true,
        },
    }
}

struct RunResult {
    clients: usize,
    ops: u64,
    errors: u64,
    seconds: f64,
    latency: Histogram<u64>,
}

async fn run(
    client: Arc<GroupClient>,
    clients: usize,
    seconds: u64,
    next_id: Arc<AtomicU64>,
) -> RunResult {
    let payload = "x".repeat(240);
    // Warm-up: one second of the same load, not recorded.
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = client.clone();
        let payload = payload.clone();
        let next_id = next_id.clone();
        let measuring = measuring.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let (mut ops, mut errors) = (0_u64, 0_u64);
            while !stop.load(Ordering::Relaxed) {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let result = client.write(insert(id, &payload)).await;
                if measuring.load(Ordering::Relaxed) {
                    match result {
                        Ok(response) if matches!(response.result, Some(Ok(_))) => {
                            ops += 1;
                            latency
                                .record(started.elapsed().as_micros().max(1) as u64)
                                .unwrap();
                        }
                        _ => errors += 1,
                    }
                }
            }
            (ops, errors, latency)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut total = RunResult {
        clients,
        ops: 0,
        errors: 0,
        seconds: elapsed,
        latency: Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    };
    for task in tasks {
        let (ops, errors, latency) = task.await.unwrap();
        total.ops += ops;
        total.errors += errors;
        total.latency.add(latency).unwrap();
    }
    total
}

fn main() {
    // As the `lauradb` binary does (see `lauradb_raft::huge_pages`).
    if std::env::var_os("LAURA_BENCH_KEEP_THP").is_none() {
        lauradb_raft::huge_pages::disable_transparent_huge_pages();
    }
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let root = tempfile::tempdir().unwrap();
        let (nodes, members) = start_cluster(root.path(), &options).await;
        let client = GroupClient::new(GROUP, members, ChannelPool::new());
        // Wait for a leader by writing once.
        let next_id = Arc::new(AtomicU64::new(0));
        client
            .write(insert(u64::MAX / 2, "warm"))
            .await
            .expect("first write");
        println!("| clients | writes/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for &clients in &options.clients {
            let r = run(client.clone(), clients, options.seconds, next_id.clone()).await;
            let ms = |q: f64| r.latency.value_at_quantile(q) as f64 / 1000.0;
            println!(
                "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                r.clients,
                r.ops as f64 / r.seconds,
                ms(0.5),
                ms(0.9),
                ms(0.99),
                ms(0.999),
                r.errors
            );
        }
        for node in nodes {
            node.shutdown().await.unwrap();
        }
    });
}
