//! Process-wide observability: the Prometheus recorder behind `GET /metrics`.

use std::sync::OnceLock;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once; later calls reuse it.
fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                None
            }
        })
        .clone()
}

/// Installs the recorder before anything records: a server calls this
/// first, because handles taken before it (the Raft gauges resolve theirs
/// once per replica, see `lauradb_raft::metrics`) would stay no-ops.
pub fn install_recorder() {
    handle();
}

/// A router serving `GET /metrics` in the Prometheus text format.
pub fn metrics_routes() -> Router {
    let handle = handle();
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    handle.map(|h| h.render()).unwrap_or_default(),
                )
            }
        }),
    )
}
