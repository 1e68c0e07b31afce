//! The `lauradb` binary.
//!
//! Today it runs `lauradb dev`: the Data API over HTTP on one document engine
//! in this process, data in `--data-dir` (reopened on restart) or in memory
//! with `--ephemeral`. The replicated subcommands (`node`, `router`, `ctl`)
//! arrive with the Raft and cluster issues; `dev` will then start a whole
//! cluster in one process behind the same HTTP API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use lauradb_engine::engine::{Engine, StorageConfig};
use lauradb_router::{LocalBackend, RouterConfig, router};

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
    /// Run LauraDB for development: the Data API on http://127.0.0.1:8080.
    Dev(DevArgs),
}

#[derive(clap::Args)]
struct DevArgs {
    /// Address the HTTP API listens on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "LAURA_HTTP_ADDR")]
    http_addr: SocketAddr,
    /// Data directory (created if missing, reopened on restart).
    #[arg(long, default_value = "./lauradb-data", env = "LAURA_DATA_DIR")]
    data_dir: PathBuf,
    /// Keep everything in memory; nothing is written to disk.
    #[arg(long)]
    ephemeral: bool,
    /// Storage cache size in MiB.
    #[arg(long, default_value_t = 256, env = "LAURA_CACHE_MB")]
    cache_mb: u64,
    /// Accepted API key (repeatable). Without any, the API is open.
    #[arg(long = "api-key", env = "LAURA_API_KEYS", value_delimiter = ',')]
    api_keys: Vec<String>,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Dev(args) => dev(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lauradb: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn dev(args: DevArgs) -> Result<(), String> {
    let storage = if args.ephemeral {
        StorageConfig::Memory
    } else {
        StorageConfig::Sled {
            path: args.data_dir.clone(),
            cache_capacity_bytes: args.cache_mb * 1024 * 1024,
            flush_every_ms: Some(500),
        }
    };
    let engine = Arc::new(Engine::open(storage).map_err(|e| {
        format!(
            "cannot open data directory {}: {e}",
            args.data_dir.display()
        )
    })?);
    let app = router(
        LocalBackend::new(Arc::clone(&engine)),
        RouterConfig {
            api_keys: args.api_keys.clone(),
        },
    );
    let listener = tokio::net::TcpListener::bind(args.http_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let where_ = if args.ephemeral {
        "in memory".to_string()
    } else {
        format!("in {}", args.data_dir.display())
    };
    println!("LauraDB dev is ready on http://{addr} (data {where_})");
    println!("Try:");
    println!(
        "  curl -s http://{addr}/action/insertOne -H 'content-type: application/json' \\\n    -d '{{\"database\":\"test\",\"collection\":\"people\",\"document\":{{\"name\":\"Ada\",\"born\":1815}}}}'"
    );
    println!(
        "  curl -s http://{addr}/action/find -H 'content-type: application/json' \\\n    -d '{{\"database\":\"test\",\"collection\":\"people\",\"filter\":{{\"born\":{{\"$lt\":1900}}}}}}'"
    );
    axum_serve(listener, app).await?;
    engine
        .flush()
        .map_err(|e| format!("flush on shutdown failed: {e}"))?;
    tracing::info!("stopped; data flushed");
    Ok(())
}

async fn axum_serve(
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
