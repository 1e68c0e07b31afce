//! # The LauraDB router
//!
//! The router is where clients meet LauraDB: it serves the MongoDB Atlas Data
//! API v1 over HTTP and hands each request to a [`Backend`]:
//!
//! ```text
//!  HTTP POST /action/{action} ─▶ http.rs: auth, request id, EJSON mode
//!        │                         │
//!        │                 dataapi::Request::parse ─▶ into_plan (ids generated here)
//!        │                         │
//!        ▼                         ▼
//!   JSON response ◀── render ◀── Backend::read / Backend::write
//! ```
//!
//! The router holds no data. [`ClusterBackend`] routes each request to the
//! Raft shard group that owns its database, finding shards and databases in
//! the config group's catalog ([`cluster`]); [`LocalBackend`] is a single
//! engine in this process, for tests and embedding. Both implement
//! [`Backend`], so the HTTP layer does not care which it serves.

mod backend;
mod bulk;
pub mod cluster;
pub mod cursors;
mod http;
mod local;
pub mod openapi;

pub use backend::Backend;
pub use cluster::{ClusterBackend, ClusterOptions, ShardInfo};
pub use http::{DEFAULT_REST_DATABASE, RouterConfig, router};
pub use local::LocalBackend;

/// The axum application type the router builds.
pub type AxumRouter = axum::Router;

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: AxumRouter,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
