//! Crash safety of `lauradb dev`: every acknowledged write survives a SIGKILL.
//!
//! The test starts the real binary on a free port, writes through the HTTP
//! API, kills the process with SIGKILL (no clean shutdown, no final flush),
//! starts it again on the same data directory and checks that every write
//! that was acknowledged is there — and that the process reopens at all.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `lauradb dev` process and the address it serves.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(data_dir: &std::path::Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lauradb"))
            .args(["dev", "--http-addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start lauradb");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("lauradb printed its address within 60 s");
        Server { child, addr }
    }

    /// POSTs a Data API action; returns (status, body).
    fn post(&self, action: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        write!(
            stream,
            "POST /action/{action} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        (status, body)
    }

    fn kill(mut self) {
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

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let mut acknowledged = Vec::new();
    for i in 0..200 {
        let body = format!(
            r#"{{"database":"crash","collection":"c","document":{{"_id":{i},"payload":"value-{i}"}}}}"#
        );
        let (status, reply) = server.post("insertOne", &body);
        assert_eq!(status, 200, "insert {i}: {reply}");
        acknowledged.push(i);
    }
    let (status, reply) = server.post(
        "updateMany",
        r#"{"database":"crash","collection":"c","filter":{"_id":{"$lt":50}},"update":{"$set":{"updated":true}}}"#,
    );
    assert_eq!(status, 200, "{reply}");
    server.kill();

    // The killed process is reaped, so its file locks are gone.
    let server = Server::start(dir.path());
    let (status, reply) = server.post(
        "countDocuments",
        r#"{"database":"crash","collection":"c","filter":{}}"#,
    );
    assert_eq!((status, reply.as_str()), (200, r#"{"count":200}"#));
    let (status, reply) = server.post(
        "countDocuments",
        r#"{"database":"crash","collection":"c","filter":{"updated":true}}"#,
    );
    assert_eq!((status, reply.as_str()), (200, r#"{"count":50}"#));
    for i in acknowledged.iter().step_by(37) {
        let (status, reply) = server.post(
            "findOne",
            &format!(r#"{{"database":"crash","collection":"c","filter":{{"_id":{i}}}}}"#),
        );
        assert_eq!(status, 200);
        assert!(
            reply.contains(&format!("value-{i}")),
            "document {i} lost: {reply}"
        );
    }
}
