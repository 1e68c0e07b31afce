//! One keep-alive HTTP/1.1 connection per client.
//!
//! Built on hyper's low-level client connection (`hyper::client::conn::http1`),
//! which the binary already links through tonic: no pool, no retries, no
//! redirects — one TCP connection with `TCP_NODELAY`, one request at a time,
//! which is exactly what a closed-loop client needs. The connection's I/O is
//! driven inside the request's own future rather than by a task of its
//! own, so a request costs no hand-offs between tasks (and, on a
//! multi-threaded runtime, no wake-ups across threads). Between requests
//! nothing polls it, which HTTP/1.1 allows: a server that closed the idle
//! connection is noticed by the next request. A connection that fails is
//! dropped by its owner and a new one opened.

use std::pin::Pin;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where requests go: `http://host:port`, with an optional API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port`, for connecting and the `Host` header.
    pub authority: String,
    /// Path prefix without a trailing slash (usually empty).
    pub base_path: String,
    pub api_key: Option<String>,
}

impl Endpoint {
    /// Parses `http://host[:port][/prefix]`; only plain HTTP is supported.
    pub fn parse(url: &str, api_key: Option<String>) -> Result<Endpoint, String> {
        let uri: Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("URL {url:?}: only http:// is supported"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("URL {url:?} has no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        Ok(Endpoint {
            authority: format!("{}:{port}", authority.host()),
            base_path: uri.path().trim_end_matches('/').to_string(),
            api_key,
        })
    }
}

/// hyper's I/O state machine for one HTTP/1.1 connection.
type Driver = Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

/// An open connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    /// The connection's I/O state machine, polled while a request is out;
    /// `None` once the connection has ended.
    connection: Option<Driver>,
    endpoint: Endpoint,
}

impl Conn {
    pub async fn connect(endpoint: &Endpoint) -> Result<Conn, String> {
        let stream = TcpStream::connect(&endpoint.authority)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", endpoint.authority))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {}: {e}", endpoint.authority))?;
        Ok(Conn {
            sender,
            connection: Some(Box::pin(connection)),
            endpoint: endpoint.clone(),
        })
    }

    /// POSTs a JSON `body` to `path`; returns the status and the whole body.
    /// After an error (including a timeout) the connection must be dropped.
    pub async fn post(
        &mut self,
        path: &str,
        body: String,
        timeout: Duration,
    ) -> Result<(u16, Bytes), String> {
        match tokio::time::timeout(timeout, self.post_inner(path, body)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    /// The request and the connection's I/O, polled together until the
    /// whole answer is in. The connection future ends only when the
    /// connection does, which is an error while a request is out.
    async fn post_inner(&mut self, path: &str, body: String) -> Result<(u16, Bytes), String> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.endpoint.base_path))
            .header(HOST, &self.endpoint.authority)
            .header(CONTENT_TYPE, "application/json");
        if let Some(key) = &self.endpoint.api_key {
            request = request.header("api-key", key);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("bad request: {e}"))?;
        let sender = &mut self.sender;
        let exchange = async move {
            sender
                .ready()
                .await
                .map_err(|e| format!("connection lost: {e}"))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("request failed: {e}"))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes();
            Ok((status, body))
        };
        let Some(connection) = self.connection.as_mut() else {
            return Err("the connection has ended".into());
        };
        tokio::pin!(exchange);
        let ended = tokio::select! {
            biased;
            answer = &mut exchange => return answer,
            ended = connection.as_mut() => ended,
        };
        // The connection ended (a server may answer and close at once).
        // Dropping it closes the channels to the exchange, which then
        // finishes with what was delivered: the whole answer, or an error.
        self.connection = None;
        exchange.await.map_err(|e| match ended {
            Ok(()) => format!("the server closed the connection: {e}"),
            Err(lost) => format!("connection lost: {lost}"),
        })
    }

    /// Whether the connection can still carry requests.
    pub fn is_open(&self) -> bool {
        self.connection.is_some() && !self.sender.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_to_endpoints() {
        let e = Endpoint::parse("http://127.0.0.1:8080", Some("k".into())).unwrap();
        assert_eq!(e.authority, "127.0.0.1:8080");
        assert_eq!(e.base_path, "");
        assert_eq!(e.api_key.as_deref(), Some("k"));
        let e = Endpoint::parse("http://localhost/prefix/", None).unwrap();
        assert_eq!(e.authority, "localhost:80");
        assert_eq!(e.base_path, "/prefix");
        assert!(Endpoint::parse("https://127.0.0.1:1", None).is_err());
        assert!(Endpoint::parse("127.0.0.1:8080", None).is_err());
    }

    #[tokio::test]
    async fn keeps_one_connection_alive_across_requests() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A server that accepts exactly one connection and answers two
        // requests on it.
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0_u8; 4096];
            for answer in ["{\"n\":1}", "{\"n\":2}"] {
                let mut request = Vec::new();
                while !request.windows(2).any(|w| w == b"}}") {
                    let n = socket.read(&mut buf).await.unwrap();
                    request.extend_from_slice(&buf[..n]);
                }
                seen.push(String::from_utf8(request).unwrap());
                let reply = format!(
                    "HTTP/1.1 201 Created\r\ncontent-length: {}\r\n\r\n{answer}",
                    answer.len()
                );
                socket.write_all(reply.as_bytes()).await.unwrap();
            }
            seen
        });
        let endpoint = Endpoint::parse(&format!("http://{addr}"), Some("secret".into())).unwrap();
        let mut conn = Conn::connect(&endpoint).await.unwrap();
        let timeout = Duration::from_secs(5);
        let (status, body) = conn.post("/a", "{\"x\":{}}".into(), timeout).await.unwrap();
        assert_eq!((status, &body[..]), (201, &b"{\"n\":1}"[..]));
        let (_, body) = conn.post("/b", "{\"y\":{}}".into(), timeout).await.unwrap();
        assert_eq!(&body[..], b"{\"n\":2}");
        let seen = server.await.unwrap();
        assert!(seen[0].starts_with("POST /a HTTP/1.1\r\n"), "{}", seen[0]);
        assert!(seen[0].contains("api-key: secret\r\n"));
        assert!(seen[1].starts_with("POST /b HTTP/1.1\r\n"));
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_fails_fast_and_says_so() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Answers one request, then closes the connection.
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0_u8; 4096];
            let _ = socket.read(&mut buf).await.unwrap();
            let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
            socket.write_all(reply.as_bytes()).await.unwrap();
        });
        let endpoint = Endpoint::parse(&format!("http://{addr}"), None).unwrap();
        let mut conn = Conn::connect(&endpoint).await.unwrap();
        let timeout = Duration::from_secs(30);
        let (status, body) = conn.post("/a", "{}".into(), timeout).await.unwrap();
        assert_eq!((status, &body[..]), (200, &b"{}"[..]));
        let started = std::time::Instant::now();
        let error = conn.post("/b", "{}".into(), timeout).await.unwrap_err();
        assert!(
            started.elapsed() < timeout / 2,
            "waited {:?}",
            started.elapsed()
        );
        assert!(
            error.contains("closed") || error.contains("ended") || error.contains("lost"),
            "{error}"
        );
        assert!(!conn.is_open());
    }
}
