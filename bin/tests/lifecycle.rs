//! `lauradb dev` as a user runs it: SIGTERM stops it cleanly (exit status
//! 0), `--data-dir` reopens the data, and `lauradb ctl status` sees every
//! group with a leader.

mod common;

use common::Server;
use serde_json::{Value, json};

fn insert(server: &Server, i: i64) {
    server.ok(
        "insertOne",
        json!({"database": "life", "collection": "c", "document": {"_id": i}}),
    );
}

fn count(server: &Server) -> Value {
    server.ok(
        "countDocuments",
        json!({"database": "life", "collection": "c", "filter": {}}),
    )["count"]
        .clone()
}

/// `ctl status --json` against the cluster in `data_dir`: every group has
/// exactly one leader.
fn every_group_has_a_leader(data_dir: &std::path::Path) {
    let (layout, config_servers) = common::dev_layout(data_dir);
    let shards = layout["shards"].as_u64().unwrap();
    let rows: Vec<Value> = common::wait_until(
        "ctl status to show a leader in every group",
        std::time::Duration::from_secs(30),
        || {
            let out = std::process::Command::new(common::BIN)
                .args([
                    "ctl",
                    "--config-servers",
                    &config_servers,
                    "status",
                    "--json",
                ])
                .env("RUST_LOG", "error")
                .output()
                .expect("run ctl");
            let rows: Vec<Value> = serde_json::from_slice(&out.stdout).ok()?;
            (0..=shards)
                .all(|g| {
                    rows.iter()
                        .filter(|r| r["group"] == json!(g) && r["state"] == "Leader")
                        .count()
                        == 1
                })
                .then_some(rows)
        },
    );
    assert!(rows.len() as u64 > shards, "{rows:?}");
}

#[test]
fn ephemeral_dev_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::dev(dir.path(), &["--ephemeral"]);
    insert(&server, 1);
    assert_eq!(count(&server), json!(1));
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn dev_with_a_data_dir_reopens_its_data_after_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::dev(dir.path(), &[]);
    for i in 0..20 {
        insert(&server, i);
    }
    every_group_has_a_leader(dir.path());
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}");

    let server = Server::dev(dir.path(), &[]);
    assert_eq!(count(&server), json!(20));
    every_group_has_a_leader(dir.path());
    insert(&server, 20);
    assert_eq!(count(&server), json!(21));
    assert!(server.terminate().success());
}
