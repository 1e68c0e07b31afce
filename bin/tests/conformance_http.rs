//! The MongoDB-semantics conformance cases over HTTP, against a whole
//! `lauradb dev` cluster (config group, 3 shards × 3 replicas, router):
//! once with collections unsharded on their primary shard, and once with
//! `--shard-new-collections hashed`, where every case's collection is
//! sharded on `{_id: "hashed"}` and every request goes through targeting,
//! scatter-gather and merging — aggregation pipelines split into a shard
//! part and a router part included. Every case runs, the Extended JSON ones
//! too (the router is what speaks EJSON).
//!
//! The runner and its comparison rules are shared with the engine's
//! in-process conformance test.

mod common;
#[path = "../../engine/tests/support/conformance.rs"]
mod support;

use common::Server;
use serde_json::Value;

/// Sends cases to a router over HTTP.
struct HttpApi<'a> {
    server: &'a Server,
}

impl support::Api for HttpApi<'_> {
    fn send(&mut self, action: &str, body: &[u8], ejson: bool) -> (u16, Value) {
        let headers: &[(&str, &str)] = if ejson {
            &[("Accept", "application/ejson")]
        } else {
            &[]
        };
        let body = String::from_utf8_lossy(body);
        let (status, reply) = common::http_with(
            &self.server.addr,
            "POST",
            &format!("/action/{action}"),
            &body,
            headers,
        )
        .unwrap_or_else(|| panic!("no HTTP answer to {action}"));
        let json = serde_json::from_str(&reply).unwrap_or_else(|_| Value::String(reply));
        (status, json)
    }
}

fn run_against(extra: &[&str], label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["--ephemeral"];
    args.extend_from_slice(extra);
    let server = Server::dev(dir.path(), &args);
    support::run_all(&mut HttpApi { server: &server }, |_| true, label);
}

#[test]
fn conformance_cases_pass_through_the_router() {
    run_against(&[], "a 3×3 cluster, unsharded collections");
}

#[test]
fn conformance_cases_pass_through_scatter_gather() {
    run_against(
        &["--shard-new-collections", "hashed"],
        "a 3×3 cluster, every collection sharded on hashed _id",
    );
}
