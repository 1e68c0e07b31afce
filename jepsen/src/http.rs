//! A minimal HTTP/1.1 client for the router's Data API.
//!
//! One connection per request (`Connection: close`), a deadline on the whole
//! exchange, and errors that say whether the request may have reached the
//! server: that decides between `fail` (it certainly did not happen) and
//! `info` (it may have) in the history.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a call went.
#[derive(Debug)]
pub enum Reply {
    /// The server answered: status and JSON body (Null if not JSON).
    Answered(u16, Value),
    /// The connection could not be made: the request was never sent.
    NotSent(String),
    /// Sent (or maybe sent), but no complete answer before the deadline or
    /// the connection broke: the outcome is unknown.
    Unknown(String),
}

static API_KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sends `api-key: key` with every request from now on (the compose
/// cluster's router wants one). Set once per process.
pub fn use_api_key(key: &str) {
    let _ = API_KEY.set(key.to_string());
}

/// POSTs `/action/{action}` with a JSON body.
pub async fn post(addr: &str, action: &str, body: &Value, timeout: Duration) -> Reply {
    let exchange = async {
        let mut stream = match TcpStream::connect(addr).await {
            Ok(stream) => stream,
            Err(e) => return Reply::NotSent(format!("connect {addr}: {e}")),
        };
        let body = body.to_string();
        let key = API_KEY
            .get()
            .map(|k| format!("api-key: {k}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "POST /action/{action} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{key}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        if let Err(e) = stream.write_all(request.as_bytes()).await {
            return Reply::Unknown(format!("send: {e}"));
        }
        let mut response = Vec::new();
        if let Err(e) = stream.read_to_end(&mut response).await {
            return Reply::Unknown(format!("receive: {e}"));
        }
        parse(&response).unwrap_or_else(|| Reply::Unknown("malformed HTTP response".into()))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(reply) => reply,
        Err(_) => Reply::Unknown(format!("no answer within {timeout:?}")),
    }
}

/// A complete response: status line, and a body that is whole (its
/// `Content-Length`, when given, matches) and JSON. Anything else is `None`,
/// which callers treat as "outcome unknown".
fn parse(response: &[u8]) -> Option<Reply> {
    let text = std::str::from_utf8(response).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let declared = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    if declared.is_some_and(|length| length != body.len()) {
        return None;
    }
    let body = serde_json::from_str(body).ok()?;
    Some(Reply::Answered(status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_json_body() {
        let reply =
            parse(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"a\":1}").unwrap();
        match reply {
            Reply::Answered(200, body) => assert_eq!(body["a"], 1),
            other => panic!("{other:?}"),
        }
        assert!(parse(b"garbage").is_none());
        // Cut off, or not JSON: not an answer.
        assert!(parse(b"HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\n{\"a\":1}").is_none());
        assert!(parse(b"HTTP/1.1 200 OK\r\n\r\n{\"a\":").is_none());
    }

    #[tokio::test]
    async fn refused_connections_are_not_sent() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let reply = post(&addr, "find", &Value::Null, Duration::from_secs(2)).await;
        assert!(matches!(reply, Reply::NotSent(_)), "{reply:?}");
    }
}
