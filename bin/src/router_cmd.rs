//! `lauradb router`: the stateless HTTP router in front of a cluster.
//!
//! It finds the catalog in the config group (`--config-servers`), routes
//! each Data API request to the shard group that owns it and serves
//! `/health` and `/metrics`. Any number of routers can run side by side.

use std::net::SocketAddr;

use lauradb_raft::ReadConsistency;
use lauradb_raft::network::ChannelPool;
use lauradb_router::{ClusterBackend, ClusterOptions, RouterConfig, router};

use crate::settings::{NewCollections, parse_members};

#[derive(clap::Args, Debug)]
pub struct RouterArgs {
    /// The config group's members: `1=host:port,2=host:port,3=host:port`.
    #[arg(long, env = "LAURA_CONFIG_SERVERS")]
    pub config_servers: String,
    /// Address the HTTP API listens on.
    #[arg(long, default_value = "0.0.0.0:8080", env = "LAURA_HTTP_ADDR")]
    pub http_addr: SocketAddr,
    /// Accepted API key (repeatable or comma-separated). Without any, the
    /// API is open.
    #[arg(long = "api-key", env = "LAURA_API_KEYS", value_delimiter = ',')]
    pub api_keys: Vec<String>,
    /// UNSAFE, for testing the test suite: read from whichever replica the
    /// router believes leads, without confirming leadership. Reads may be
    /// stale during partitions.
    #[arg(long, hide = true)]
    pub unsafe_local_reads: bool,
    /// Shard every new collection (`hashed`: on `{_id: "hashed"}`).
    #[arg(long, value_enum, default_value_t = NewCollections::Unsharded, env = "LAURA_SHARD_NEW_COLLECTIONS")]
    pub shard_new_collections: NewCollections,
    /// The database the original LauraDB REST routes (`/{coll}/_doc`, …) use.
    #[arg(long, default_value = lauradb_router::DEFAULT_REST_DATABASE, env = "LAURA_REST_DATABASE")]
    pub rest_database: String,
}

pub async fn run(args: RouterArgs) -> Result<(), String> {
    let members =
        parse_members(&args.config_servers).map_err(|e| format!("--config-servers: {e}"))?;
    let consistency = if args.unsafe_local_reads {
        tracing::warn!("--unsafe-local-reads: reads skip the leadership check and may be stale");
        ReadConsistency::Local
    } else {
        ReadConsistency::Linearizable
    };
    let backend = ClusterBackend::with_options(
        members.into_iter().collect(),
        ChannelPool::new(),
        ClusterOptions {
            read_consistency: consistency,
            shard_new_collections: args.shard_new_collections.shard_key(),
        },
    );
    let app = router(
        backend,
        RouterConfig {
            api_keys: args.api_keys,
            serves_metrics: true,
            rest_database: args.rest_database,
            ..Default::default()
        },
    )
    .merge(crate::observe::metrics_routes());
    let listener = tokio::net::TcpListener::bind(args.http_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.http_addr))?;
    tracing::info!(http = %args.http_addr, "router serving");
    crate::axum_serve(listener, app).await
}
