//! The `lauradb` binary.
//!
//! `lauradb dev` starts a whole cluster in one process — a config group and
//! `--shards` shard groups, each replicated `--replicas` times over loopback
//! gRPC — behind the Data API over HTTP. Data lives in `--data-dir`
//! (reopened on restart) or, with `--ephemeral`, in a temporary directory
//! and memory.

mod bench;
mod ctl;
mod dev;
mod node_cmd;
mod observe;
mod router_cmd;
mod settings;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use lauradb_router::{RouterConfig, router};

#[derive(Parser)]
#[command(
    name = "lauradb",
    version,
    about = "LauraDB: a MongoDB-style document database"
)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "LAURA_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run LauraDB for development: a whole cluster in this process, the Data
    /// API on http://127.0.0.1:8080.
    Dev(DevArgs),
    /// Run a data node hosting replicas of Raft groups (config and/or shards).
    Node(node_cmd::NodeArgs),
    /// Run a stateless router serving the Data API in front of a cluster.
    Router(router_cmd::RouterArgs),
    /// Administer a running cluster.
    Ctl(ctl::CtlArgs),
    /// Load a running LauraDB (or etcd, for comparison) with N closed-loop
    /// clients and report throughput and latency.
    Bench(bench::BenchArgs),
}

#[derive(clap::Args)]
struct DevArgs {
    /// Address the HTTP API listens on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "LAURA_HTTP_ADDR")]
    http_addr: SocketAddr,
    /// Data directory (created if missing, reopened on restart).
    #[arg(long, default_value = "./lauradb-data", env = "LAURA_DATA_DIR")]
    data_dir: PathBuf,
    /// Keep everything in memory and a temporary directory, removed on exit.
    #[arg(long)]
    ephemeral: bool,
    /// Number of shard groups.
    #[arg(long, default_value_t = 3, env = "LAURA_SHARDS")]
    shards: u64,
    /// Replicas per group (nodes in this process).
    #[arg(long, default_value_t = 3, env = "LAURA_REPLICAS")]
    replicas: u64,
    /// Storage cache size in MiB.
    #[arg(long, default_value_t = 256, env = "LAURA_CACHE_MB")]
    cache_mb: u64,
    /// How each replica's engine keeps its data: `memory` (durable through
    /// the Raft log and snapshot files; fastest), `write-behind` (memory
    /// mirror written to sled in the background) or `sled`.
    #[arg(long, default_value = "memory", env = "LAURA_ENGINE_STORAGE")]
    engine_storage: lauradb_raft::EngineStorage,
    /// Accepted API key (repeatable). Without any, the API is open.
    #[arg(long = "api-key", env = "LAURA_API_KEYS", value_delimiter = ',')]
    api_keys: Vec<String>,
    /// Shard every new collection (`hashed`: on `{_id: "hashed"}`).
    #[arg(long, value_enum, default_value_t = settings::NewCollections::Unsharded, env = "LAURA_SHARD_NEW_COLLECTIONS")]
    shard_new_collections: settings::NewCollections,
    /// The database the original LauraDB REST routes (`/{coll}/_doc`, …) use.
    #[arg(long, default_value = lauradb_router::DEFAULT_REST_DATABASE, env = "LAURA_REST_DATABASE")]
    rest_database: String,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    // Colours only on a terminal: piped into a file or a collector, escape
    // codes are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// mimalloc: the server allocates small buffers at a high rate (BSON
/// documents, Raft entries, gRPC frames); glibc's malloc spent about a
/// quarter of the engine's point-read instructions.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    lauradb_raft::huge_pages::disable_transparent_huge_pages();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match &cli.command {
        Command::Bench(args) => bench::runtime(args),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let result = match runtime {
        Ok(runtime) => runtime.block_on(run(cli.command)),
        Err(e) => Err(format!("cannot start the async runtime: {e}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lauradb: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    if matches!(
        command,
        Command::Dev(_) | Command::Node(_) | Command::Router(_)
    ) {
        observe::install_recorder();
    }
    match command {
        Command::Dev(args) => dev(args).await,
        Command::Node(args) => node_cmd::run(args).await,
        Command::Router(args) => router_cmd::run(args).await,
        Command::Ctl(args) => ctl::run(args).await,
        Command::Bench(args) => bench::run(args).await,
    }
}

async fn dev(args: DevArgs) -> Result<(), String> {
    let started = std::time::Instant::now();
    let cluster = dev::DevCluster::start(dev::DevOptions {
        data_dir: args.data_dir.clone(),
        ephemeral: args.ephemeral,
        shards: args.shards,
        replicas: args.replicas,
        cache_bytes: args.cache_mb * 1024 * 1024,
        engine_storage: args.engine_storage,
        shard_new_collections: args.shard_new_collections.shard_key(),
    })
    .await?;
    let app = router(
        cluster.backend.clone(),
        RouterConfig {
            api_keys: args.api_keys.clone(),
            serves_metrics: true,
            rest_database: args.rest_database.clone(),
            ..Default::default()
        },
    )
    .merge(observe::metrics_routes());
    let listener = tokio::net::TcpListener::bind(args.http_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let where_ = if args.ephemeral {
        "in memory".to_string()
    } else {
        format!("in {}", args.data_dir.display())
    };
    println!(
        "LauraDB dev is ready on http://{addr} after {:.1} s ({}; data {where_})",
        started.elapsed().as_secs_f64(),
        cluster.layout_summary
    );
    println!("Try:");
    println!(
        "  curl -s http://{addr}/action/insertOne -H 'content-type: application/json' \\\n    -d '{{\"database\":\"test\",\"collection\":\"people\",\"document\":{{\"name\":\"Ada\",\"born\":1815}}}}'"
    );
    println!(
        "  curl -s http://{addr}/action/find -H 'content-type: application/json' \\\n    -d '{{\"database\":\"test\",\"collection\":\"people\",\"filter\":{{\"born\":{{\"$lt\":1900}}}}}}'"
    );
    let served = axum_serve(listener, app).await;
    cluster.stop().await?;
    tracing::info!("stopped; data flushed");
    served
}

/// Serves `app` until SIGTERM/SIGINT.
pub(crate) async fn axum_serve(
    listener: tokio::net::TcpListener,
    app: lauradb_router::AxumRouter,
) -> Result<(), String> {
    lauradb_router::serve(listener, app, shutdown_signal())
        .await
        .map_err(|e| format!("HTTP server failed: {e}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
