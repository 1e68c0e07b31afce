//! A real cluster of processes: three `lauradb node`s (each hosting a config
//! replica and a shard replica), a `lauradb router`, and `lauradb ctl`
//! against them. Kills a node with SIGKILL and checks that acknowledged
//! writes survive and the node catches up after a restart.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{BIN, free_port, http, http_with, wait_until};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct NodeSpec {
    id: u64,
    grpc: String,
    http: String,
}

fn start_node(node: &NodeSpec, peers: &str, root: &Path) -> Proc {
    Proc(
        Command::new(BIN)
            .args([
                "node",
                "--id",
                &node.id.to_string(),
                "--groups",
                "0,1",
                "--bootstrap",
            ])
            .args([
                "--grpc-addr",
                &node.grpc,
                "--http-addr",
                &node.http,
                "--peers",
                peers,
            ])
            .arg("--data-dir")
            .arg(root.join(format!("node-{}", node.id)))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start node"),
    )
}

fn ctl(config_servers: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["ctl", "--config-servers", config_servers])
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("run ctl")
}

fn status_rows(config_servers: &str) -> Vec<serde_json::Value> {
    let out = ctl(config_servers, &["status", "--json"]);
    assert!(
        out.status.success(),
        "ctl status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).expect("status JSON")
}

#[test]
fn node_router_and_ctl_processes_survive_a_killed_node() {
    let root = tempfile::tempdir().unwrap();
    let nodes: Vec<NodeSpec> = (1..=3)
        .map(|id| NodeSpec {
            id,
            grpc: format!("127.0.0.1:{}", free_port()),
            http: format!("127.0.0.1:{}", free_port()),
        })
        .collect();
    let peers = nodes
        .iter()
        .map(|n| format!("{}={}", n.id, n.grpc))
        .collect::<Vec<_>>()
        .join(",");
    let mut procs: Vec<Option<Proc>> = nodes
        .iter()
        .map(|n| Some(start_node(n, &peers, root.path())))
        .collect();

    // Register the shard once the config group has a leader.
    wait_until("shard registration", Duration::from_secs(60), || {
        ctl(&peers, &["add-shard", "--id", "1", "--members", &peers])
            .status
            .success()
            .then_some(())
    });
    let router_addr = format!("127.0.0.1:{}", free_port());
    let _router = Proc(
        Command::new(BIN)
            .args([
                "router",
                "--config-servers",
                &peers,
                "--http-addr",
                &router_addr,
                "--api-key",
                "secret",
            ])
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("start router"),
    );
    wait_until("router health", Duration::from_secs(30), || {
        http(&router_addr, "GET", "/health", "").filter(|(s, _)| *s == 200)
    });

    // The API key is enforced.
    let body = r#"{"database":"shop","collection":"orders","document":{"_id":0}}"#;
    let (status, _) = http(&router_addr, "POST", "/action/insertOne", body).unwrap();
    assert_eq!(status, 401);

    let insert = |i: u32| {
        let body = format!(
            r#"{{"database":"shop","collection":"orders","document":{{"_id":{i},"total":{i}}}}}"#
        );
        let (status, reply) = http_with(
            &router_addr,
            "POST",
            "/action/insertOne",
            &body,
            &[("api-key", "secret")],
        )
        .expect("router answers");
        assert_eq!(status, 200, "insert {i}: {reply}");
    };
    for i in 0..20 {
        insert(i);
    }
    let count = || {
        let (status, body) = http_with(
            &router_addr,
            "POST",
            "/action/countDocuments",
            r#"{"database":"shop","collection":"orders","filter":{}}"#,
            &[("api-key", "secret")],
        )
        .expect("router answers");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count(), 20);

    // ctl status: both groups, three members each, one leader per group.
    let rows = status_rows(&peers);
    assert_eq!(rows.len(), 6, "{rows:?}");
    for group in [0, 1] {
        let leaders = rows
            .iter()
            .filter(|r| r["group"] == group && r["state"] == "Leader")
            .count();
        assert_eq!(leaders, 1, "group {group}: {rows:?}");
    }

    // SIGKILL node 1; the cluster keeps serving and loses nothing.
    let killed = procs[0].take().unwrap();
    drop(killed);
    for i in 20..30 {
        insert(i);
    }
    assert_eq!(count(), 30);
    assert!(
        ctl(&peers, &["health", "--addr", &nodes[1].http])
            .status
            .success()
    );
    assert!(
        !ctl(&peers, &["health", "--addr", &nodes[0].http])
            .status
            .success()
    );

    // Restarted with the same command, it catches up.
    procs[0] = Some(start_node(&nodes[0], &peers, root.path()));
    wait_until(
        "node 1 to catch up on the shard",
        Duration::from_secs(60),
        || {
            let rows = status_rows(&peers);
            let leader_commit = rows
                .iter()
                .find(|r| r["group"] == 1 && r["state"] == "Leader")?["committedIndex"]
                .as_u64()?;
            let applied = rows.iter().find(|r| r["group"] == 1 && r["node"] == 1)?["appliedIndex"]
                .as_u64()?;
            (applied >= leader_commit).then_some(())
        },
    );
}
