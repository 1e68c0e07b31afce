//! Helpers shared by the binary's integration tests: start `lauradb`
//! processes, speak HTTP/1.1 to them, wait on conditions with deadlines.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_lauradb");

/// What a process printed on stdout, line by line; `closed` once it closed
/// its stdout (it exited).
#[derive(Debug, Default, Clone)]
pub struct Output {
    pub lines: Vec<String>,
    pub closed: bool,
}

/// A running `lauradb` process serving HTTP at `addr`.
pub struct Server {
    child: Child,
    pub addr: String,
}

impl Server {
    /// `lauradb dev` on a free port, reopening `data_dir`, with `extra` flags.
    pub fn dev(data_dir: &Path, extra: &[&str]) -> Server {
        Server::dev_logging(data_dir, extra, Arc::default())
    }

    /// Like [`Server::dev`], collecting the lines it prints (its log, at
    /// `RUST_LOG=warn`) in `output`.
    pub fn dev_logging(data_dir: &Path, extra: &[&str], output: Arc<Mutex<Output>>) -> Server {
        let mut child = Command::new(BIN)
            .args(["dev", "--http-addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start lauradb dev");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                output
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .lines
                    .push(line.clone());
                if let Some(rest) = line.split("http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
            }
            output.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(90))
            .expect("lauradb printed its address within 90 s");
        Server { child, addr }
    }

    /// `lauradb router` in front of the config servers, on a free port.
    pub fn router(config_servers: &str, extra: &[&str]) -> Server {
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(BIN)
            .args([
                "router",
                "--config-servers",
                config_servers,
                "--http-addr",
                &addr,
            ])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start lauradb router");
        let server = Server { child, addr };
        wait_until(
            "the router to answer /health",
            Duration::from_secs(60),
            || http(&server.addr, "GET", "/health", "").filter(|(status, _)| *status == 200),
        );
        server
    }

    /// POSTs a Data API action; returns (status, body).
    pub fn post(&self, action: &str, body: &str) -> (u16, String) {
        http(&self.addr, "POST", &format!("/action/{action}"), body)
            .unwrap_or_else(|| panic!("no HTTP answer from {} to {action}", self.addr))
    }

    /// POSTs and parses the JSON answer, asserting a 200.
    pub fn ok(&self, action: &str, body: serde_json::Value) -> serde_json::Value {
        let (status, reply) = self.post(action, &body.to_string());
        assert_eq!(status, 200, "{action} {body}: {reply}");
        serde_json::from_str(&reply).expect("JSON reply")
    }

    /// Sends SIGTERM and waits (up to 60 s) for the process to exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        wait_until(
            "the process to exit after SIGTERM",
            Duration::from_secs(60),
            || self.child.try_wait().expect("wait"),
        )
    }

    /// Sends SIGKILL and reaps the process.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `cluster.json` a `lauradb dev --data-dir` wrote, and its nodes as
/// `--config-servers` takes them (`1=addr,2=addr,…`).
pub fn dev_layout(data_dir: &Path) -> (serde_json::Value, String) {
    let layout: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data_dir.join("cluster.json")).expect("cluster.json"),
    )
    .expect("cluster.json is JSON");
    let config_servers = layout["nodes"]
        .as_object()
        .expect("nodes")
        .iter()
        .map(|(id, addr)| format!("{id}={}", addr.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",");
    (layout, config_servers)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP/1.1 request; `None` when the server cannot be reached.
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    http_with(addr, method, path, body, &[])
}

/// [`http`] with extra request headers.
pub fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .ok()?;
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        response.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    ))
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
