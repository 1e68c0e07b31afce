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

/// Stopping the whole cluster stops every replica (leaders first) before any
/// node's server, so no replica is left retrying peers that are gone. The
/// log used to show thousands of warnings after SIGTERM ("Unreachable
/// node", one per retry); now at most the few openraft prints while its
/// leaders' replication streams are torn down.
#[test]
fn sigterm_stops_dev_without_a_storm_of_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let output: std::sync::Arc<std::sync::Mutex<common::Output>> = std::sync::Arc::default();
    let server = Server::dev_logging(dir.path(), &[], output.clone());
    for i in 0..20 {
        insert(&server, i);
    }
    every_group_has_a_leader(dir.path());
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let output = common::wait_until(
        "the process to close its output",
        std::time::Duration::from_secs(30),
        || {
            let output = output.lock().unwrap();
            output.closed.then(|| output.clone())
        },
    );
    let lines = output.lines;
    let warnings: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("WARN") || line.contains("ERROR"))
        .collect();
    assert!(
        warnings.len() < 10,
        "{} warnings, the first: {:?}",
        warnings.len(),
        &warnings[..warnings.len().min(3)]
    );
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

/// The value of the Prometheus sample `name{labels}` in `text`.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

#[test]
fn dev_metrics_show_each_replicas_raft_state_and_follow_writes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::dev(dir.path(), &["--ephemeral", "--replicas", "3"]);
    insert(&server, 1);
    let scrape = || common::http(&server.addr, "GET", "/metrics", "").map(|(_, body)| body);
    // Each group (0: config, 1: the shard) has one leader among three
    // replicas, as gauges resolved when the replicas started.
    let leaders = |text: &str, group: u64| {
        (1..=3)
            .filter(|node| {
                sample(
                    text,
                    "lauradb_raft_is_leader",
                    &format!("group=\"{group}\",node=\"{node}\""),
                ) == Some(1.0)
            })
            .count()
    };
    let text = common::wait_until(
        "one leader per group in /metrics",
        std::time::Duration::from_secs(30),
        || scrape().filter(|text| leaders(text, 0) == 1 && leaders(text, 1) == 1),
    );
    let applied = |text: &str| -> f64 {
        (1..=3)
            .filter_map(|node| {
                sample(
                    text,
                    "lauradb_raft_applied_index",
                    &format!("group=\"1\",node=\"{node}\""),
                )
            })
            .fold(0.0, f64::max)
    };
    let before = applied(&text);
    assert!(
        before >= 1.0,
        "the shard applied its first entries: {before}"
    );
    for i in 2..=6 {
        insert(&server, i);
    }
    // The gauges keep following the log after they were first set.
    common::wait_until(
        "the shard's applied index to move on in /metrics",
        std::time::Duration::from_secs(30),
        || scrape().filter(|text| applied(text) >= before + 5.0),
    );
    // Six answered insertOne requests; each insert applied on all three
    // replicas (the engines of one process share the counter; a retried
    // request would count again, so at least 18). The counters
    // of actions nobody called are there too, at zero.
    let requests = |text: &str, action: &str| {
        sample(
            text,
            "lauradb_http_requests_total",
            &format!("action=\"{action}\",status=\"200\""),
        )
    };
    let text = common::wait_until(
        "every replica to count the six inserts in /metrics",
        std::time::Duration::from_secs(30),
        || {
            scrape().filter(|text| {
                sample(
                    text,
                    "lauradb_engine_commands_total",
                    "op=\"insert\",ok=\"true\"",
                ) >= Some(18.0)
            })
        },
    );
    assert_eq!(requests(&text, "insertOne"), Some(6.0));
    assert_eq!(requests(&text, "deleteMany"), Some(0.0));
    let unknown =
        common::http(&server.addr, "POST", "/action/frobnicate", "{}").map(|(status, _)| status);
    assert_eq!(unknown, Some(404));
    let text = scrape().unwrap();
    assert_eq!(
        sample(
            &text,
            "lauradb_http_requests_total",
            "action=\"unknown\",status=\"404\""
        ),
        Some(1.0)
    );
    assert!(server.terminate().success());
}
