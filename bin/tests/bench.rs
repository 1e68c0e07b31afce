//! `lauradb bench` against a real `lauradb dev`: the load tool preloads its
//! keys, runs a short ycsb-a level, reports operations and no errors.
//!
//! The server is started on a free port (`common::Server`, which waits for
//! the address it prints, no sleeps); the test runs the bench binary as a
//! user would and reads the `--json` results.

mod common;

use std::process::Command;

use common::{BIN, Server};

#[test]
fn bench_ycsb_a_against_dev_reports_ops_and_no_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::dev(dir.path(), &["--ephemeral"]);
    let addr = &server.addr;
    let json_path = dir.path().join("bench.json");
    let out = Command::new(BIN)
        .args(["bench", "--url", &format!("http://{addr}")])
        .args(["--seconds", "2", "--warmup", "0", "--clients", "2"])
        .args(["--workload", "ycsb-a", "--keys", "300"])
        .arg("--json")
        .arg(&json_path)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run lauradb bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.starts_with("workload  target   clients  ops/s"),
        "table on stdout:\n{stdout}"
    );
    assert!(stderr.contains("preload: 300 keys written"), "{stderr}");

    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).expect("JSON written")).unwrap();
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{doc}");
    let row = &results[0];
    assert_eq!(row["workload"], "ycsb-a");
    assert_eq!(row["target"], "lauradb");
    assert_eq!(row["clients"], 2);
    assert!(row["ops"].as_u64().unwrap() > 0, "{row}");
    assert!(row["ops_per_sec"].as_f64().unwrap() > 0.0, "{row}");
    assert!(row["p99_ms"].as_f64().unwrap() > 0.0, "{row}");
    assert_eq!(row["errors"], 0, "{row}\n{stderr}");
    assert_eq!(row["warmup_errors"], 0, "{row}");
}
