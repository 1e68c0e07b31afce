//! The short Jepsen runs that are part of `cargo test --workspace`: a real
//! cluster in network namespaces (3 config servers, a 5-node shard, a
//! router), 60 s of the register and the set workload under every fault —
//! partitions of all shapes (bridge and majorities ring included), kills,
//! pauses, leadership-transfer storms and membership changes. Both must come
//! out `valid`. In the set run the nodes snapshot every 200 entries, so log
//! purges and snapshot installs happen under the faults too. Needs root
//! (namespaces, nftables); `.ci/run` runs as root.

use std::path::PathBuf;
use std::time::Duration;

use lauradb_jepsen::checker::Validity;
use lauradb_jepsen::cluster::SnapshotPolicy;
use lauradb_jepsen::nemesis::Fault;
use lauradb_jepsen::run::{Backend, RunOptions, run};
use lauradb_jepsen::workload::Workload;

/// The `lauradb` binary cargo built next to this test (target/<profile>/).
fn lauradb_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let bin = profile_dir.join("lauradb");
    assert!(
        bin.exists(),
        "{} is missing: run the workspace tests (cargo test --workspace) so the binary is built",
        bin.display()
    );
    bin
}

fn require_root() {
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .expect("id -u");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "the Jepsen runs need root for network namespaces and nftables"
    );
}

async fn short_run(workload: Workload, seed: u64, snapshots: SnapshotPolicy) {
    checked_run(
        Backend::Local,
        workload,
        seed,
        Duration::from_secs(60),
        5,
        snapshots,
    )
    .await;
}

/// One cluster at a time: the test harness runs tests in parallel, and two
/// clusters with their faults on two cores would mostly test the scheduler.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn checked_run(
    backend: Backend,
    workload: Workload,
    seed: u64,
    time_limit: Duration,
    min_faults: usize,
    snapshots: SnapshotPolicy,
) {
    let _turn = ONE_AT_A_TIME.lock().await;
    require_root();
    let out = tempfile::tempdir().expect("run dir");
    let outcome = run(RunOptions {
        backend,
        nodes: 5,
        bin: lauradb_binary(),
        out: out.path().to_path_buf(),
        workload,
        faults: Fault::ALL.to_vec(),
        time_limit,
        seed,
        concurrency: 5,
        rate: 40.0,
        unsafe_reads: false,
        snapshots,
    })
    .await
    .expect("the run completes");
    let injected = outcome.summary["faults"]
        .as_array()
        .map(|faults| faults.iter().filter(|f| f["injected"] == true).count())
        .unwrap_or(0);
    assert!(
        injected >= min_faults,
        "the nemesis injected faults: {}",
        outcome.summary["faults"]
    );
    // The cluster did work: a run where every operation failed proves nothing.
    let acknowledged: u64 = outcome.summary["events"]
        .as_object()
        .map(|events| {
            events
                .iter()
                .filter(|(name, _)| name.ends_with(":ok") && !name.starts_with("read"))
                .filter_map(|(_, count)| count.as_u64())
                .sum()
        })
        .unwrap_or(0);
    assert!(
        acknowledged >= 50,
        "acknowledged writes: {}",
        outcome.summary["events"]
    );
    if snapshots.every_entries.is_some() {
        let scan = outcome.summary["checkers"]
            .as_array()
            .and_then(|checkers| checkers.iter().find(|c| c["checker"] == "log-scan"))
            .map(|c| c["stats"].clone())
            .unwrap_or_default();
        assert!(
            scan["snapshots_built"].as_u64().unwrap_or(0) > 0,
            "the nodes built snapshots under the faults: {scan}"
        );
    }
    assert_eq!(
        outcome.validity,
        Validity::Valid,
        "{workload:?} run is not valid: {}",
        serde_json::to_string_pretty(&outcome.summary["checkers"]).unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_workload_under_faults_is_linearizable() {
    short_run(Workload::Register, 11, SnapshotPolicy::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_workload_under_faults_loses_nothing() {
    // A snapshot every 200 entries, 100 kept behind it: at this rate every
    // node checkpoints and purges its log every few seconds, and a node that
    // a kill or a partition left behind the purge point is sent a snapshot.
    let snapshots = SnapshotPolicy {
        every_entries: Some(200),
        keep_entries: Some(100),
    };
    short_run(Workload::Set, 12, snapshots).await;
}

/// The compose backend end to end: the `deploy/` cluster in containers,
/// every fault, 45 s of the register workload. Skipped (visibly) without a
/// Docker daemon; the first run builds the static binary and the image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_cluster_under_faults_is_linearizable() {
    if !lauradb_jepsen::compose::docker_available() {
        println!("SKIPPED: no Docker daemon, so no compose backend run");
        return;
    }
    checked_run(
        Backend::Compose,
        Workload::Register,
        13,
        Duration::from_secs(45),
        3,
        SnapshotPolicy::default(),
    )
    .await;
}
