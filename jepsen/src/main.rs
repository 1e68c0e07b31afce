//! `lauradb-jepsen run …`: one Jepsen-style test run; the verdict is the last
//! line of output, and the exit status is 0 only for `valid`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lauradb_jepsen::checker::Validity;
use lauradb_jepsen::cluster::SnapshotPolicy;
use lauradb_jepsen::nemesis::parse_faults;
use lauradb_jepsen::run::{Backend, RunOptions, run};
use lauradb_jepsen::workload::Workload;

#[derive(Parser)]
#[command(
    name = "lauradb-jepsen",
    version,
    about = "Jepsen-style partition testing of LauraDB"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a cluster, run a workload under faults, check the history.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Where the cluster runs: `local` (processes in network namespaces) or
    /// `compose` (the deploy/ docker compose cluster).
    #[arg(long, default_value = "local")]
    backend: Backend,
    /// Data nodes of the shard under test (local backend): 5 allows the
    /// bridge and majorities-ring partitions, 3 is lighter.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(3..=9))]
    nodes: u64,
    #[arg(long, value_enum, default_value = "register")]
    workload: Workload,
    /// Faults to inject, comma-separated: partition, kill, pause, transfer,
    /// membership, or all (empty: none).
    #[arg(long, default_value = "partition,kill,pause")]
    nemesis: String,
    /// Seconds of workload (the final heal and reads come after).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    time_limit: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Concurrent client processes.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    concurrency: u64,
    /// Target operations per second across all clients.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Run directory (default: jepsen/runs/<workload>-<seed>-<unix time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Break safety on purpose: the router reads without confirming
    /// leadership. The register checker should then report `invalid`.
    #[arg(long)]
    unsafe_reads: bool,
    /// Nodes build a snapshot every N log entries (default: the nodes'
    /// own, 50,000, which a test never reaches), so snapshots, log purges
    /// and snapshot installs happen under the faults. Local backend.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    snapshot_every_entries: Option<u64>,
    /// Log entries the nodes keep behind a snapshot (default: the nodes'
    /// own, 5,000). Local backend.
    #[arg(long)]
    snapshot_keep_entries: Option<u64>,
    /// The lauradb binary (default: target/release/lauradb, then target/debug/lauradb).
    #[arg(long, env = "LAURA_BIN")]
    bin: Option<PathBuf>,
}

fn find_binary(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(bin) = explicit {
        return Ok(bin);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for profile in ["release", "debug"] {
        let candidate = workspace.join("target").join(profile).join("lauradb");
        if candidate.exists() {
            return Ok(candidate);
        }
    }
    Err(
        "no lauradb binary found; build it (cargo build --release --bin lauradb) or pass --bin"
            .into(),
    )
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Command::Run(args) = Cli::parse().command;
    match execute(args).await {
        Ok(validity) => {
            println!("{validity}");
            if validity == Validity::Valid {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(message) => {
            eprintln!("lauradb-jepsen: {message}");
            println!("unknown");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn execute(args: RunArgs) -> Result<Validity, String> {
    if !(args.rate > 0.0 && args.rate <= 100_000.0) {
        return Err(format!("--rate must be in (0, 100000], not {}", args.rate));
    }
    let faults = parse_faults(&args.nemesis)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let workload_name = format!("{:?}", args.workload).to_lowercase();
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("runs")
            .join(format!("{workload_name}-{}-{stamp}", args.seed))
    });
    let outcome = run(RunOptions {
        backend: args.backend,
        nodes: args.nodes as usize,
        bin: find_binary(args.bin)?,
        out: out.clone(),
        workload: args.workload,
        faults,
        time_limit: Duration::from_secs(args.time_limit),
        seed: args.seed,
        concurrency: args.concurrency,
        rate: args.rate,
        unsafe_reads: args.unsafe_reads,
        snapshots: SnapshotPolicy {
            every_entries: args.snapshot_every_entries,
            keep_entries: args.snapshot_keep_entries,
        },
    })
    .await?;
    println!("run directory: {}", out.display());
    println!("events: {}", outcome.summary["events"]);
    for result in &outcome.results {
        println!(
            "checker {}: {} {}",
            result.checker, result.validity, result.stats
        );
        for anomaly in result.anomalies.iter().take(10) {
            println!("  {}: {}", anomaly.kind, anomaly.message);
        }
    }
    Ok(outcome.validity)
}
