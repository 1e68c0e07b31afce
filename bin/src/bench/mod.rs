//! `lauradb bench`: a closed-loop load generator for LauraDB and etcd.
//!
//! N concurrent clients (tokio tasks, on one thread unless `--threads`
//! says otherwise), each with one keep-alive HTTP/1.1 connection, each
//! sending a request, waiting for its answer and sending the next. It
//! speaks LauraDB's Data API (through a router) or etcd v3's JSON gateway,
//! so both systems can be measured with the same client on the same
//! machine:
//!
//! ```sh
//! lauradb bench --target lauradb --url http://127.0.0.1:8080 --workload put --clients 1,16,64
//! lauradb bench --target etcd --url http://127.0.0.1:2379 --workload read --json read.json
//! ```
//!
//! Each client count in `--clients` is a level, run in turn: `--warmup`
//! seconds whose results are discarded, then `--seconds` measured. While it
//! runs a progress line goes to stderr every second; at the end a table goes
//! to stdout (and `--json` writes the same results as JSON).
//!
//! The files, one job each: [`keys`] (8-byte keys, printable values, the
//! random numbers), [`workload`] (the operation mixes), [`target`] (requests
//! and answer checks per system), [`http`] (one keep-alive connection),
//! [`preload`] (writing every key before reads), [`runner`] (the closed
//! loop and its timing), [`report`] (table and JSON).

mod http;
mod keys;
mod preload;
mod report;
mod runner;
mod target;
mod workload;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use self::http::Endpoint;
use self::keys::{KEY_LEN, MAX_KEYS, Values};
use self::report::RunInfo;
use self::runner::Shared;
use self::target::{Target, TargetKind};
use self::workload::Workload;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The system under load.
    #[arg(long, value_enum, default_value_t = TargetKind::Lauradb)]
    target: TargetKind,
    /// Base URL [default: http://127.0.0.1:8080 for lauradb, http://127.0.0.1:2379 for etcd].
    #[arg(long)]
    url: Option<String>,
    /// Operation mix.
    #[arg(long, value_enum, default_value_t = Workload::YcsbA)]
    workload: Workload,
    /// Client counts to run in turn (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// Measured seconds per client count.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Warm-up seconds before each measurement (results discarded).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Number of distinct keys (8 bytes each: k0000000, k0000001, ...).
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
    /// Size of each written value in bytes (printable characters).
    #[arg(long, default_value_t = 256)]
    value_size: usize,
    /// LauraDB API key, sent as the `api-key` header.
    #[arg(long, env = "LAURA_BENCH_API_KEY")]
    api_key: Option<String>,
    /// LauraDB database.
    #[arg(long, default_value = "bench")]
    database: String,
    /// Spread the clients over this many LauraDB databases (`<database>0`,
    /// `<database>1`, ...). An unsharded collection lives on its database's
    /// primary shard, so this spreads load over shards without sharding.
    #[arg(long, default_value_t = 1)]
    databases: usize,
    /// LauraDB collection (`insert` writes to `<collection>_insert_<unix time>`).
    #[arg(long, default_value = "kv")]
    collection: String,
    /// Skip writing every key before read/update/range workloads.
    #[arg(long)]
    no_preload: bool,
    /// Concurrent connections for the preload.
    #[arg(long, default_value_t = 32)]
    preload_clients: usize,
    /// Seconds before a request without an answer counts as an error.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Name of the system in the results [default: the target's name].
    #[arg(long)]
    label: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Threads the load generator runs on. One (the default) is plenty for
    /// tens of thousands of requests a second and leaves the rest of the
    /// machine to the system under test.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
}

/// The runtime the load generator runs on: one thread by default, so its
/// clients never wake each other across cores (see [`BenchArgs::threads`]).
pub fn runtime(args: &BenchArgs) -> std::io::Result<tokio::runtime::Runtime> {
    match args.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(n))
            .enable_all()
            .build(),
    }
}

pub async fn run(args: BenchArgs) -> Result<(), String> {
    if args.keys == 0 || args.keys > MAX_KEYS {
        return Err(format!(
            "--keys must be between 1 and {MAX_KEYS} (keys are {KEY_LEN} bytes)"
        ));
    }
    if args.clients.is_empty() || args.clients.contains(&0) {
        return Err("--clients needs positive client counts, e.g. 1,16,64".into());
    }
    if args.databases == 0 {
        return Err("--databases must be at least 1".into());
    }
    if args.seconds == 0 {
        return Err("--seconds must be at least 1".into());
    }
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| args.target.default_url().to_string());
    let endpoint = Endpoint::parse(&url, args.api_key.clone())?;
    let unix_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let insert_collection = format!("{}_insert_{unix_time}", args.collection);
    let label = args
        .label
        .clone()
        .unwrap_or_else(|| args.target.name().to_string());
    let databases: Vec<String> = match (args.target, args.databases) {
        // etcd has one key space.
        (TargetKind::Etcd, _) | (_, 1) => vec![args.database.clone()],
        (TargetKind::Lauradb, n) => (0..n).map(|i| format!("{}{i}", args.database)).collect(),
    };
    let shared = Arc::new(Shared {
        target: Target::new(
            args.target,
            &databases,
            &args.collection,
            &insert_collection,
        ),
        endpoint,
        values: Values::new(args.value_size, unix_time),
        workload: args.workload,
        keys: args.keys,
        timeout: Duration::from_secs(args.timeout.max(1)),
        fresh: AtomicU64::new(0),
        label,
        seed: unix_time.wrapping_mul(0x2545_F491_4F6C_DD1D),
    });
    let spread = match shared.target.databases() {
        1 => String::new(),
        n => format!(" over {n} databases"),
    };
    eprintln!(
        "lauradb bench: {} against {}{spread} at {url}; {} keys of {KEY_LEN} bytes, values of {} bytes; {} s warm-up + {} s per level",
        args.workload.name(),
        shared.label,
        args.keys,
        args.value_size,
        args.warmup,
        args.seconds
    );
    if args.workload.needs_preload() && !args.no_preload {
        preload::preload(shared.clone(), args.preload_clients).await?;
    }

    let run_info = RunInfo {
        url,
        databases: shared.target.databases(),
        keys: args.keys,
        key_bytes: KEY_LEN,
        value_bytes: args.value_size,
        seconds: args.seconds,
        warmup_seconds: args.warmup,
    };
    let mut results = Vec::new();
    for &clients in &args.clients {
        let result = runner::run_level(
            shared.clone(),
            clients,
            Duration::from_secs(args.warmup),
            Duration::from_secs(args.seconds),
        )
        .await?;
        if let Some(error) = &result.first_error {
            eprintln!(
                "  {} errors ({} more in the warm-up); the first: {error}",
                result.errors, result.warmup_errors
            );
        }
        results.push(result);
        // Written after every level, so an interrupted run keeps what it has.
        if let Some(path) = &args.json {
            std::fs::write(path, report::json(&run_info, &results))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    print!("{}", report::table(&results));
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: super::BenchArgs,
    }

    #[test]
    fn one_thread_by_default_and_never_zero() {
        let cli = Cli::try_parse_from(["bench"]).unwrap();
        assert_eq!(cli.args.threads, 1);
        assert!(super::runtime(&cli.args).is_ok());
        let cli = Cli::try_parse_from(["bench", "--threads", "3"]).unwrap();
        assert_eq!(cli.args.threads, 3);
        let error = Cli::try_parse_from(["bench", "--threads", "0"])
            .err()
            .expect("--threads 0 is refused");
        assert!(error.to_string().contains("--threads"), "{error}");
    }
}
