//! Crash safety of `lauradb dev`: every acknowledged write survives a SIGKILL.
//!
//! The test starts the real binary on a free port, writes through the HTTP
//! API, kills the process with SIGKILL (no clean shutdown, no final flush),
//! starts it again on the same data directory and checks that every write
//! that was acknowledged is there — and that the process reopens at all.

mod common;

use common::Server;

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::dev(dir.path(), &[]);
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
    let server = Server::dev(dir.path(), &[]);
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
