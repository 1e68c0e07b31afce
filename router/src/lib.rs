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
//! The router holds no data. Today's backend is [`LocalBackend`], one engine
//! in this process (what `lauradb dev` runs until the replicated cluster
//! lands); the cluster backend — routing to Raft shard groups over gRPC —
//! implements the same trait, so the HTTP layer does not change.

mod backend;
mod http;
mod local;

pub use backend::Backend;
pub use http::{RouterConfig, router};
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
