//! What each operation looks like on the wire for each system, and what
//! counts as a good answer.
//!
//! * **LauraDB**: the router's Data API. Documents are `{_id: key, v: value}`.
//!   insert → `insertOne`; put → `updateOne` with `upsert: true`; update →
//!   `updateOne` by `_id`; read → `findOne` by `_id`; range → `find` with
//!   `{_id: {$gte: key}}`, sorted by `_id`, limit 10.
//! * **etcd**: v3's JSON gateway, keys and values in base64. insert, put and
//!   update → `/v3/kv/put` (etcd has no insert-only or update-only put
//!   without a transaction); read → `/v3/kv/range` of one key
//!   (linearizable: `serializable` is false by default); range →
//!   `/v3/kv/range` from the key to the end of the `k…` keys, limit 10.
//!
//! With several databases (`--databases`), each client keeps to one of
//! them: an unsharded collection lives on its database's primary shard, so
//! this spreads load over the shards of a cluster without sharding.
//!
//! An answer is good when its status is 2xx and, where the key must exist
//! (read, update), the body shows that it did: a read that finds nothing is
//! an error, not a fast operation.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::ValueEnum;

use super::keys::key;
use super::workload::Op;

/// The system under load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    Lauradb,
    Etcd,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Lauradb => "lauradb",
            TargetKind::Etcd => "etcd",
        }
    }

    pub fn default_url(self) -> &'static str {
        match self {
            TargetKind::Lauradb => "http://127.0.0.1:8080",
            TargetKind::Etcd => "http://127.0.0.1:2379",
        }
    }
}

/// One HTTP POST to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub path: &'static str,
    pub body: String,
}

/// Builds requests for one system and judges its answers.
#[derive(Debug, Clone)]
pub struct Target {
    kind: TargetKind,
    /// `"database":…,"collection":…` for reads, updates and puts, as JSON,
    /// one per database.
    namespaces: Vec<String>,
    /// The same for inserts, which go to a collection of their own.
    insert_namespaces: Vec<String>,
}

/// The first key after every `k…` key: the end of a range over all of them.
const KEYS_END: &str = "l";

impl Target {
    /// A target writing to `databases` (at least one).
    pub fn new(
        kind: TargetKind,
        databases: &[String],
        collection: &str,
        insert_collection: &str,
    ) -> Target {
        assert!(!databases.is_empty(), "at least one database");
        let namespaces = |coll: &str| -> Vec<String> {
            databases
                .iter()
                .map(|db| {
                    format!(
                        r#""database":{},"collection":{}"#,
                        serde_json::Value::from(db.as_str()),
                        serde_json::Value::from(coll)
                    )
                })
                .collect()
        };
        Target {
            kind,
            namespaces: namespaces(collection),
            insert_namespaces: namespaces(insert_collection),
        }
    }

    /// How many databases requests are spread over.
    pub fn databases(&self) -> usize {
        self.namespaces.len()
    }

    /// The request for `op` in database number `db` (modulo their number),
    /// writing `value` where it writes.
    pub fn request(&self, op: Op, value: &str, db: usize) -> Request {
        match self.kind {
            TargetKind::Lauradb => self.lauradb(op, value, db % self.namespaces.len()),
            TargetKind::Etcd => etcd(op, value),
        }
    }

    fn lauradb(&self, op: Op, value: &str, db: usize) -> Request {
        let ns = &self.namespaces[db];
        let (path, body) = match op {
            Op::Insert(k) => (
                "/action/insertOne",
                format!(
                    r#"{{{},"document":{{"_id":"{}","v":"{value}"}}}}"#,
                    self.insert_namespaces[db],
                    key(k)
                ),
            ),
            Op::Put(k) => (
                "/action/updateOne",
                format!(
                    r#"{{{ns},"filter":{{"_id":"{}"}},"update":{{"$set":{{"v":"{value}"}}}},"upsert":true}}"#,
                    key(k)
                ),
            ),
            Op::Update(k) => (
                "/action/updateOne",
                format!(
                    r#"{{{ns},"filter":{{"_id":"{}"}},"update":{{"$set":{{"v":"{value}"}}}}}}"#,
                    key(k)
                ),
            ),
            Op::Read(k) => (
                "/action/findOne",
                format!(r#"{{{ns},"filter":{{"_id":"{}"}}}}"#, key(k)),
            ),
            Op::Range(k) => (
                "/action/find",
                format!(
                    r#"{{{ns},"filter":{{"_id":{{"$gte":"{}"}}}},"sort":{{"_id":1}},"limit":10}}"#,
                    key(k)
                ),
            ),
        };
        Request { path, body }
    }

    /// `Ok` when the answer to `op` is a success; otherwise why not.
    pub fn check(&self, op: Op, status: u16, body: &[u8]) -> Result<(), String> {
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
            return Err(format!("HTTP {status}: {text}"));
        }
        let found = match (self.kind, op) {
            (TargetKind::Lauradb, Op::Read(_)) => !contains(body, br#""document":null"#),
            (TargetKind::Lauradb, Op::Update(_)) => !contains(body, br#""matchedCount":0"#),
            // etcd leaves `kvs` out when nothing matched.
            (TargetKind::Etcd, Op::Read(_)) => contains(body, br#""kvs""#),
            _ => true,
        };
        if found {
            Ok(())
        } else {
            Err(format!(
                "{op:?}: key {} not found (was the preload skipped?)",
                key(op_key(op))
            ))
        }
    }
}

fn etcd(op: Op, value: &str) -> Request {
    match op {
        Op::Insert(k) | Op::Put(k) | Op::Update(k) => Request {
            path: "/v3/kv/put",
            body: format!(
                r#"{{"key":"{}","value":"{}"}}"#,
                BASE64.encode(key(k)),
                BASE64.encode(value)
            ),
        },
        Op::Read(k) => Request {
            path: "/v3/kv/range",
            body: format!(r#"{{"key":"{}"}}"#, BASE64.encode(key(k))),
        },
        Op::Range(k) => Request {
            path: "/v3/kv/range",
            body: format!(
                r#"{{"key":"{}","range_end":"{}","limit":10}}"#,
                BASE64.encode(key(k)),
                BASE64.encode(KEYS_END)
            ),
        },
    }
}

fn op_key(op: Op) -> u64 {
    match op {
        Op::Insert(k) | Op::Put(k) | Op::Read(k) | Op::Update(k) | Op::Range(k) => k,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn laura() -> Target {
        Target::new(TargetKind::Lauradb, &["bench".into()], "kv", "kv_insert")
    }

    fn body(request: &Request) -> Value {
        serde_json::from_str(&request.body).expect("valid JSON")
    }

    #[test]
    fn lauradb_requests_are_data_api_actions() {
        let t = laura();
        let put = t.request(Op::Put(5), "abc", 0);
        assert_eq!(put.path, "/action/updateOne");
        assert_eq!(
            body(&put),
            json!({"database":"bench","collection":"kv","filter":{"_id":"k0000005"},
                   "update":{"$set":{"v":"abc"}},"upsert":true})
        );
        let update = t.request(Op::Update(5), "abc", 0);
        assert_eq!(body(&update).get("upsert"), None);
        let insert = t.request(Op::Insert(7), "x", 0);
        assert_eq!(insert.path, "/action/insertOne");
        assert_eq!(
            body(&insert),
            json!({"database":"bench","collection":"kv_insert","document":{"_id":"k0000007","v":"x"}})
        );
        let read = t.request(Op::Read(1), "ignored", 0);
        assert_eq!(read.path, "/action/findOne");
        assert_eq!(
            body(&read),
            json!({"database":"bench","collection":"kv","filter":{"_id":"k0000001"}})
        );
        let range = t.request(Op::Range(2), "", 0);
        assert_eq!(range.path, "/action/find");
        assert_eq!(
            body(&range),
            json!({"database":"bench","collection":"kv","filter":{"_id":{"$gte":"k0000002"}},
                   "sort":{"_id":1},"limit":10})
        );
    }

    #[test]
    fn names_are_escaped() {
        let t = Target::new(TargetKind::Lauradb, &["d\"b".into()], "c\\", "i");
        let v = body(&t.request(Op::Read(0), "", 0));
        assert_eq!(v["database"], "d\"b");
        assert_eq!(v["collection"], "c\\");
    }

    #[test]
    fn clients_spread_over_databases() {
        let t = Target::new(
            TargetKind::Lauradb,
            &["b0".into(), "b1".into()],
            "kv",
            "ins",
        );
        assert_eq!(t.databases(), 2);
        assert_eq!(body(&t.request(Op::Read(1), "", 0))["database"], "b0");
        assert_eq!(body(&t.request(Op::Read(1), "", 1))["database"], "b1");
        assert_eq!(body(&t.request(Op::Insert(1), "", 3))["database"], "b1");
        assert_eq!(body(&t.request(Op::Insert(1), "", 3))["collection"], "ins");
    }

    #[test]
    fn etcd_requests_use_base64_and_the_gateway() {
        let t = Target::new(TargetKind::Etcd, &["bench".into()], "kv", "kv_insert");
        let put = t.request(Op::Put(3), "hello", 0);
        assert_eq!(put.path, "/v3/kv/put");
        assert_eq!(
            body(&put),
            json!({"key": BASE64.encode("k0000003"), "value": BASE64.encode("hello")})
        );
        let read = t.request(Op::Read(3), "", 0);
        assert_eq!(read.path, "/v3/kv/range");
        assert_eq!(body(&read), json!({"key": BASE64.encode("k0000003")}));
        let range = body(&t.request(Op::Range(3), "", 0));
        assert_eq!(range["range_end"], BASE64.encode("l"));
        assert_eq!(range["limit"], 10);
    }

    #[test]
    fn answers_are_judged() {
        let t = laura();
        assert!(
            t.check(Op::Read(1), 200, br#"{"document":{"_id":"k"}}"#)
                .is_ok()
        );
        assert!(t.check(Op::Read(1), 200, br#"{"document":null}"#).is_err());
        assert!(
            t.check(
                Op::Update(1),
                200,
                br#"{"matchedCount":0,"modifiedCount":0}"#
            )
            .is_err()
        );
        assert!(
            t.check(
                Op::Update(1),
                200,
                br#"{"matchedCount":1,"modifiedCount":1}"#
            )
            .is_ok()
        );
        let err = t
            .check(Op::Put(1), 503, br#"{"error":"no leader"}"#)
            .unwrap_err();
        assert!(err.starts_with("HTTP 503"), "{err}");
        let e = Target::new(TargetKind::Etcd, &["".into()], "", "");
        assert!(e.check(Op::Read(1), 200, br#"{"header":{}}"#).is_err());
        assert!(
            e.check(Op::Read(1), 200, br#"{"header":{},"kvs":[{}],"count":"1"}"#)
                .is_ok()
        );
        assert!(e.check(Op::Put(1), 200, br#"{"header":{}}"#).is_ok());
    }
}
