//! Workloads: concurrent clients that run operations through the router and
//! record every invocation and completion in the history.
//!
//! * **register** — documents `{_id: key, v}` in `jepsen.registers`, read
//!   (`findOne`), written (`updateOne` with `$set`, upsert) and
//!   compare-and-set (`updateOne` with the old value in the filter;
//!   `matchedCount` tells success). Values are small (0–4) so CAS often
//!   matters. Each key takes a bounded number of operations, then a fresh
//!   key takes its place, which keeps the per-key linearizability search
//!   small (Jepsen's "independent" keys).
//! * **set** — unique integers inserted into `jepsen.set`; after the run a
//!   final read of the whole collection.
//!
//! Outcomes: an answer is `ok` or `fail` by its meaning; a request that may
//! have reached the server but got no clear answer (timeout, broken
//! connection, 503 "outcome unknown") is `info` for writes, and `fail` for
//! reads (a read has no effect either way). A `bank` or `list-append`
//! workload (transactions issue) plugs in as another [`Workload`] variant.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::history::{Event, EventKind, History};
use crate::http::{Reply, post};
use crate::rng::Rng;

/// Which workload to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    Register,
    Set,
}

/// Shared state of one run's clients.
pub struct Recorder {
    start: Instant,
    history: Mutex<History>,
}

impl Recorder {
    pub fn new(start: Instant) -> Arc<Recorder> {
        Arc::new(Recorder {
            start,
            history: Mutex::new(History { events: Vec::new() }),
        })
    }

    pub fn elapsed_nanos(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Appends an event, assigning its index.
    pub fn record(
        &self,
        process: u64,
        kind: EventKind,
        f: &str,
        key: Option<String>,
        value: Value,
        error: Option<String>,
    ) {
        let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        // `push` assigns the index.
        history.push(Event {
            index: 0,
            time_nanos: self.elapsed_nanos(),
            process,
            kind,
            f: f.to_string(),
            key,
            value,
            error,
        });
    }

    pub fn take(&self) -> History {
        std::mem::replace(
            &mut *self.history.lock().unwrap_or_else(|e| e.into_inner()),
            History { events: Vec::new() },
        )
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub router: String,
    pub concurrency: u64,
    /// Target total operations per second across all clients.
    pub rate: f64,
    pub op_timeout: Duration,
    pub ops_per_key: usize,
    pub active_keys: u64,
}

/// Hands out register keys, retiring each after `ops_per_key` operations.
struct Keys {
    next: u64,
    active: BTreeMap<u64, usize>,
    ops_per_key: usize,
}

impl Keys {
    fn pick(&mut self, rng: &mut Rng) -> String {
        let slot = rng.below(self.active.len() as u64) as usize;
        let key = *self
            .active
            .keys()
            .nth(slot)
            .expect("active keys are never empty");
        let count = self.active.get_mut(&key).expect("present");
        *count += 1;
        if *count >= self.ops_per_key {
            self.active.remove(&key);
            self.active.insert(self.next, 0);
            self.next += 1;
        }
        format!("k{key}")
    }
}

/// Runs `workload` clients until `deadline`; returns when all have stopped.
pub async fn run_clients(
    workload: Workload,
    options: ClientOptions,
    recorder: Arc<Recorder>,
    seed: u64,
    deadline: Instant,
) -> Result<(), String> {
    let keys = Arc::new(Mutex::new(Keys {
        next: options.active_keys,
        active: (0..options.active_keys).map(|k| (k, 0)).collect(),
        ops_per_key: options.ops_per_key,
    }));
    let next_element = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let pause = Duration::from_secs_f64(options.concurrency as f64 / options.rate.max(0.1));
    let mut tasks = Vec::new();
    for process in 0..options.concurrency {
        let (options, recorder, keys, next_element) = (
            options.clone(),
            recorder.clone(),
            keys.clone(),
            next_element.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed.wrapping_mul(1000).wrapping_add(process));
            // Jepsen's rule: a process whose op ended `info` may still have
            // that op in flight, so it continues as a new process id.
            let mut id = process;
            while Instant::now() < deadline {
                let indeterminate = match workload {
                    Workload::Register => {
                        let key = keys
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .pick(&mut rng);
                        register_op(&options, &recorder, id, key, &mut rng).await
                    }
                    Workload::Set => {
                        let element =
                            next_element.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        set_add(&options, &recorder, id, element).await
                    }
                };
                if indeterminate {
                    id += options.concurrency;
                }
                tokio::time::sleep(rng.millis(0, (pause.as_millis() as u64 * 2).max(1))).await;
            }
        }));
    }
    for task in tasks {
        task.await
            .map_err(|e| format!("a client task failed: {e}"))?;
    }
    Ok(())
}

/// The outcome of a write-like call.
fn write_outcome(reply: &Reply) -> (EventKind, Option<String>) {
    match reply {
        Reply::Answered(200 | 201, _) => (EventKind::Ok, None),
        Reply::Answered(status, body) if (400..500).contains(status) => {
            (EventKind::Fail, Some(format!("{status}: {body}")))
        }
        Reply::Answered(status, body) => (EventKind::Info, Some(format!("{status}: {body}"))),
        Reply::NotSent(e) => (EventKind::Fail, Some(e.clone())),
        Reply::Unknown(e) => (EventKind::Info, Some(e.clone())),
    }
}

/// One register operation; returns whether it ended indeterminate.
async fn register_op(
    options: &ClientOptions,
    recorder: &Recorder,
    process: u64,
    key: String,
    rng: &mut Rng,
) -> bool {
    let ns = json!({"database": "jepsen", "collection": "registers"});
    match rng.below(3) {
        0 => {
            recorder.record(
                process,
                EventKind::Invoke,
                "read",
                Some(key.clone()),
                Value::Null,
                None,
            );
            let mut body = ns.clone();
            body["filter"] = json!({"_id": key});
            let reply = post(&options.router, "findOne", &body, options.op_timeout).await;
            match reply {
                Reply::Answered(200, body) if body.get("document").is_some() => {
                    let value = body["document"].get("v").cloned().unwrap_or(Value::Null);
                    recorder.record(process, EventKind::Ok, "read", Some(key), value, None);
                }
                other => {
                    recorder.record(
                        process,
                        EventKind::Fail,
                        "read",
                        Some(key),
                        Value::Null,
                        Some(format!("{other:?}")),
                    );
                }
            }
            false
        }
        1 => {
            let value = rng.below(5);
            recorder.record(
                process,
                EventKind::Invoke,
                "write",
                Some(key.clone()),
                json!(value),
                None,
            );
            let mut body = ns.clone();
            body["filter"] = json!({"_id": key});
            body["update"] = json!({"$set": {"v": value}});
            body["upsert"] = json!(true);
            let reply = post(&options.router, "updateOne", &body, options.op_timeout).await;
            let (kind, error) = write_outcome(&reply);
            recorder.record(process, kind, "write", Some(key), json!(value), error);
            kind == EventKind::Info
        }
        _ => {
            let (old, new) = (rng.below(5), rng.below(5));
            recorder.record(
                process,
                EventKind::Invoke,
                "cas",
                Some(key.clone()),
                json!([old, new]),
                None,
            );
            let mut body = ns.clone();
            body["filter"] = json!({"_id": key, "v": old});
            body["update"] = json!({"$set": {"v": new}});
            let reply = post(&options.router, "updateOne", &body, options.op_timeout).await;
            let (mut kind, mut error) = write_outcome(&reply);
            if kind == EventKind::Ok
                && let Reply::Answered(_, body) = &reply
            {
                match body["matchedCount"].as_u64() {
                    Some(1) => {}
                    Some(0) => {
                        kind = EventKind::Fail;
                        error = Some("value did not match".into());
                    }
                    _ => {
                        // An answer we cannot read says nothing about the outcome.
                        kind = EventKind::Info;
                        error = Some(format!("reply without a usable matchedCount: {body}"));
                    }
                }
            }
            recorder.record(process, kind, "cas", Some(key), json!([old, new]), error);
            kind == EventKind::Info
        }
    }
}

/// One set insert; returns whether it ended indeterminate.
async fn set_add(options: &ClientOptions, recorder: &Recorder, process: u64, element: u64) -> bool {
    recorder.record(
        process,
        EventKind::Invoke,
        "add",
        None,
        json!(element),
        None,
    );
    let body = json!({"database": "jepsen", "collection": "set", "document": {"_id": element}});
    let reply = post(&options.router, "insertOne", &body, options.op_timeout).await;
    let (kind, error) = write_outcome(&reply);
    recorder.record(process, kind, "add", None, json!(element), error);
    kind == EventKind::Info
}

/// Every element of the set: a `find` and, when the answer is capped (the
/// router returns at most 50,000 documents at once), `getMore` on its
/// cursor until the cursor is exhausted. Any failed page fails the read.
async fn read_every_element(options: &ClientOptions) -> Result<Vec<Value>, String> {
    let mut elements = Vec::new();
    let find = json!({"database": "jepsen", "collection": "set", "filter": {}, "sort": {"_id": 1}, "limit": 0});
    let mut page = post(&options.router, "find", &find, options.op_timeout).await;
    loop {
        let body = match page {
            Reply::Answered(200, body) if body["documents"].is_array() => body,
            other => return Err(format!("{other:?}")),
        };
        if let Some(docs) = body["documents"].as_array() {
            elements.extend(docs.iter().map(|d| d["_id"].clone()));
        }
        match body["cursorId"].as_u64() {
            Some(cursor) if cursor != 0 => {
                let more = json!({"cursorId": cursor});
                page = post(&options.router, "getMore", &more, options.op_timeout).await;
            }
            _ => return Ok(elements),
        }
    }
}

/// The set workload's final read, retried until the cluster answers or
/// `patience` runs out.
pub async fn final_set_read(
    options: &ClientOptions,
    recorder: &Recorder,
    process: u64,
    patience: Duration,
) {
    let deadline = Instant::now() + patience;
    loop {
        recorder.record(
            process,
            EventKind::Invoke,
            "read-all",
            None,
            Value::Null,
            None,
        );
        match read_every_element(options).await {
            Ok(elements) => {
                recorder.record(
                    process,
                    EventKind::Ok,
                    "read-all",
                    None,
                    Value::Array(elements),
                    None,
                );
                return;
            }
            Err(error) => {
                recorder.record(
                    process,
                    EventKind::Fail,
                    "read-all",
                    None,
                    Value::Null,
                    Some(error),
                );
                if Instant::now() > deadline {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Waits until the cluster answers reads again (after healing).
pub async fn wait_until_available(router: &str, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    let body = json!({"database": "jepsen", "collection": "probe", "document": {"t": 1}});
    while Instant::now() < deadline {
        if let Reply::Answered(200 | 201, _) =
            post(router, "insertOne", &body, Duration::from_secs(5)).await
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A router stand-in: answers each request (one per connection) with the
    /// next of `answers`, as (status, body), whatever was asked, and records
    /// each request's action and body.
    async fn fake_router(answers: Vec<(u16, Value)>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        tokio::spawn(async move {
            for (status, body) in answers {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                // The request is complete once its body is (Content-Length).
                loop {
                    let n = stream.read(&mut chunk).await.unwrap();
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("Content-Length: "))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if body.len() >= length || n == 0 {
                            let action = head.split_whitespace().nth(1).unwrap_or("").to_string();
                            log.lock().unwrap().push(format!("{action} {body}"));
                            break;
                        }
                    }
                }
                let body = body.to_string();
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        (addr, asked)
    }

    fn options(router: String) -> ClientOptions {
        ClientOptions {
            router,
            concurrency: 1,
            rate: 1.0,
            op_timeout: Duration::from_secs(5),
            ops_per_key: 1,
            active_keys: 1,
        }
    }

    #[tokio::test]
    async fn the_final_read_follows_the_cursor_of_a_capped_answer() {
        let (router, asked) = fake_router(vec![
            (
                200,
                json!({"documents": [{"_id": 1}, {"_id": 2}], "cursorId": 7}),
            ),
            (200, json!({"documents": [{"_id": 3}], "cursorId": 9})),
            (200, json!({"documents": [{"_id": 4}], "cursorId": 0})),
        ])
        .await;
        let elements = read_every_element(&options(router)).await.unwrap();
        assert_eq!(elements, vec![json!(1), json!(2), json!(3), json!(4)]);
        let asked = asked.lock().unwrap().clone();
        assert!(asked[0].starts_with("/action/find "), "{asked:?}");
        assert_eq!(asked[1], r#"/action/getMore {"cursorId":7}"#);
        assert_eq!(asked[2], r#"/action/getMore {"cursorId":9}"#);
    }

    #[tokio::test]
    async fn a_failed_page_fails_the_whole_read() {
        let (router, _) = fake_router(vec![
            (200, json!({"documents": [{"_id": 1}], "cursorId": 7})),
            (500, json!({"error": "boom"})),
        ])
        .await;
        let error = read_every_element(&options(router)).await.unwrap_err();
        assert!(error.contains("500"), "{error}");
    }
}
