//! One test run, start to verdict.
//!
//! ```text
//!  start cluster ─▶ clients + nemesis for --time-limit ─▶ heal everything
//!      ─▶ wait until the cluster answers ─▶ final reads ─▶ checkers
//!      ─▶ run directory: history.jsonl, history.edn, summary.json,
//!         latency.svg, throughput.svg, logs/
//! ```
//!
//! The verdict is `valid` only if every checker says so: the workload's
//! (linearizability per key, or the set checker) and the log scan (no
//! process panicked).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::checker::{self, Anomaly, CheckResult, Validity};
use crate::cluster::{Cluster, LocalCluster, SnapshotPolicy};
use crate::compose::ComposeCluster;
use crate::history::History;
use crate::nemesis::{self, Fault, SharedCluster};
use crate::workload::{self, ClientOptions, Recorder, Workload};

/// Where the cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Processes in network namespaces on this machine.
    Local,
    /// The `deploy/` docker compose cluster.
    Compose,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Backend, String> {
        match s {
            "local" => Ok(Backend::Local),
            "compose" => Ok(Backend::Compose),
            other => Err(format!("unknown backend '{other}' (local, compose)")),
        }
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub backend: Backend,
    /// Data nodes of the shard (local backend: 3 or 5).
    pub nodes: usize,
    pub bin: PathBuf,
    pub out: PathBuf,
    pub workload: Workload,
    pub faults: Vec<Fault>,
    pub time_limit: Duration,
    pub seed: u64,
    pub concurrency: u64,
    pub rate: f64,
    /// Break safety on purpose (router reads without the leadership check).
    pub unsafe_reads: bool,
    /// The nodes' snapshot policy (local backend).
    pub snapshots: SnapshotPolicy,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub validity: Validity,
    pub results: Vec<CheckResult>,
    pub summary: serde_json::Value,
}

/// Runs one test and writes its directory.
pub async fn run(options: RunOptions) -> Result<RunOutcome, String> {
    std::fs::create_dir_all(&options.out).map_err(|e| format!("{}: {e}", options.out.display()))?;
    // A subnet (and namespace prefix) per run, so concurrent runs in one
    // process or several processes do not collide.
    static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nth = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let subnet = ((std::process::id() + nth * 37) % 200 + 20) as u8;
    let bin = options.bin.clone();
    let out = options.out.clone();
    let (backend, nodes, unsafe_reads, snapshots) = (
        options.backend,
        options.nodes,
        options.unsafe_reads,
        options.snapshots,
    );
    let cluster = tokio::task::spawn_blocking(move || -> Result<Box<dyn Cluster>, String> {
        match backend {
            Backend::Local => LocalCluster::start(&bin, &out, subnet, nodes, unsafe_reads, snapshots)
                .map(|c| Box::new(c) as Box<dyn Cluster>),
            Backend::Compose => {
                if unsafe_reads {
                    return Err("--unsafe-reads needs the local backend".into());
                }
                if !snapshots.is_default() {
                    return Err("--snapshot-every-entries and --snapshot-keep-entries need the local backend".into());
                }
                ComposeCluster::start(&bin, &out).map(|c| Box::new(c) as Box<dyn Cluster>)
            }
        }
        .map_err(|e| format!("starting the cluster: {e}"))
    })
    .await
    .map_err(|e| e.to_string())??;
    let router = cluster.router_addr();
    if let Some(key) = cluster.api_key() {
        crate::http::use_api_key(&key);
    }
    let cluster: SharedCluster = Arc::new(Mutex::new(cluster));
    let removed = Arc::new(Mutex::new(Vec::new()));

    let client_options = ClientOptions {
        router: router.clone(),
        concurrency: options.concurrency,
        rate: options.rate,
        op_timeout: Duration::from_secs(5),
        ops_per_key: 120,
        active_keys: 4,
    };
    if !workload::wait_until_available(&router, Duration::from_secs(60)).await {
        return Err("the cluster did not answer within 60 s of starting".into());
    }
    let start = Instant::now();
    let deadline = start + options.time_limit;
    let recorder = Recorder::new(start);
    let nemesis = tokio::spawn(nemesis::run(
        cluster.clone(),
        options.faults.clone(),
        options.seed,
        start,
        deadline,
        removed.clone(),
    ));
    workload::run_clients(
        options.workload,
        client_options.clone(),
        recorder.clone(),
        options.seed,
        deadline,
    )
    .await?;
    let spans = nemesis.await.map_err(|e| e.to_string())?;
    // Processes that died on their own (not killed by the nemesis) are
    // failures whatever the history says; heal_everything restarts them.
    let crashed = cluster.lock().unwrap_or_else(|e| e.into_inner()).crashed();
    nemesis::heal_everything(&cluster, &removed).await;
    let recovered = workload::wait_until_available(&router, Duration::from_secs(60)).await;
    if options.workload == Workload::Set {
        workload::final_set_read(
            &client_options,
            &recorder,
            u64::MAX / 2,
            Duration::from_secs(60),
        )
        .await;
    }
    let history = recorder.take();
    let logs = cluster.lock().unwrap_or_else(|e| e.into_inner()).logs();
    // Stop the cluster before checking (frees the machine for the search).
    drop(cluster);

    let mut results = vec![match options.workload {
        Workload::Register => checker::linearizable::check_registers(&history, Default::default()),
        Workload::Set => checker::set::check_set(&history),
    }];
    results.push(scan_logs(&logs, &crashed));
    if !recovered {
        results.push(CheckResult {
            checker: "recovery".into(),
            validity: Validity::Unknown,
            anomalies: vec![Anomaly {
                kind: "no-recovery".into(),
                key: None,
                message: "the healed cluster did not answer within 60 s".into(),
                operations: vec![],
            }],
            stats: json!({}),
        });
    }
    let validity = checker::combine(&results);
    let summary = summarize(&options, &history, &results, &spans, validity);
    write_run(&options.out, &history, &summary)?;
    let io = |e: std::io::Error| format!("{}: {e}", options.out.display());
    std::fs::write(
        options.out.join("latency.svg"),
        crate::plot::latency_svg(&history, &spans),
    )
    .map_err(io)?;
    std::fs::write(
        options.out.join("throughput.svg"),
        crate::plot::throughput_svg(&history, &spans),
    )
    .map_err(io)?;
    Ok(RunOutcome {
        validity,
        results,
        summary,
    })
}

/// Panics in any process's log, or a process that exited by itself, make
/// the run invalid.
fn scan_logs(logs: &[PathBuf], crashed: &[String]) -> CheckResult {
    let mut anomalies: Vec<Anomaly> = crashed
        .iter()
        .map(|member| Anomaly {
            kind: "process-exited".into(),
            key: None,
            message: format!("{member} exited without being killed"),
            operations: vec![],
        })
        .collect();
    // How often the nodes checkpointed: the faults should meet snapshots
    // being built, logs purged behind them and snapshots sent to nodes that
    // fell behind (see `SnapshotPolicy`).
    let (mut snapshots_built, mut snapshots_installed) = (0, 0);
    for log in logs {
        let Ok(text) = std::fs::read_to_string(log) else {
            continue;
        };
        snapshots_built += text.matches("built snapshot").count();
        snapshots_installed += text.matches("installed snapshot").count();
        // Panics, and the aborts that print no panic: stack overflows,
        // failed allocations, other fatal runtime errors.
        const FATAL: [&str; 4] = [
            "panicked at",
            "has overflowed its stack",
            "memory allocation of",
            "fatal runtime error",
        ];
        for line in text.lines().filter(|l| FATAL.iter().any(|f| l.contains(f))) {
            anomalies.push(Anomaly {
                kind: "panic".into(),
                key: None,
                message: format!("{}: {line}", log.display()),
                operations: vec![],
            });
        }
    }
    CheckResult {
        checker: "log-scan".into(),
        validity: if anomalies.is_empty() {
            Validity::Valid
        } else {
            Validity::Invalid
        },
        stats: json!({
            "logs": logs.len(),
            "anomalies": anomalies.len(),
            "snapshots_built": snapshots_built,
            "snapshots_installed": snapshots_installed,
        }),
        anomalies,
    }
}

fn summarize(
    options: &RunOptions,
    history: &History,
    results: &[CheckResult],
    spans: &[nemesis::FaultSpan],
    validity: Validity,
) -> serde_json::Value {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for event in &history.events {
        *counts
            .entry(format!("{}:{}", event.f, event.kind.as_str()))
            .or_default() += 1;
    }
    json!({
        "backend": options.backend,
        "nodes": options.nodes,
        "workload": options.workload,
        "nemesis": options.faults,
        "seed": options.seed,
        "time_limit_s": options.time_limit.as_secs(),
        "concurrency": options.concurrency,
        "rate": options.rate,
        "unsafe_reads": options.unsafe_reads,
        "snapshots": options.snapshots,
        "validity": validity,
        "events": counts,
        "faults": spans,
        "checkers": results,
    })
}

fn write_run(out: &Path, history: &History, summary: &serde_json::Value) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", out.display());
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(out.join("history.jsonl")).map_err(io)?);
    history.to_jsonl(&mut file).map_err(|e| e.to_string())?;
    std::fs::write(out.join("history.edn"), history.to_edn()).map_err(io)?;
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_vec_pretty(summary).map_err(|e| e.to_string())?,
    )
    .map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_scan_finds_fatal_lines_and_counts_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let n1 = dir.path().join("n1.log");
        let n2 = dir.path().join("n2.log");
        std::fs::write(
            &n1,
            "INFO built snapshot last_log_id=1-5\nINFO built snapshot last_log_id=2-9\n",
        )
        .unwrap();
        std::fs::write(&n2, "INFO installed snapshot\n").unwrap();
        let clean = scan_logs(&[n1.clone(), n2.clone()], &[]);
        assert_eq!(clean.validity, Validity::Valid);
        assert_eq!(clean.stats["snapshots_built"], 2);
        assert_eq!(clean.stats["snapshots_installed"], 1);

        std::fs::write(&n2, "thread 'x' panicked at src/lib.rs:1:1\n").unwrap();
        let broken = scan_logs(&[n1, n2], &["n3".to_string()]);
        assert_eq!(broken.validity, Validity::Invalid);
        let kinds: Vec<&str> = broken.anomalies.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(kinds, ["process-exited", "panic"]);
    }
}
