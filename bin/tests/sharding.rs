//! Sharding end to end: `lauradb dev` (a config group and 3 shards × 3
//! replicas over loopback gRPC, and a router) plus a second router process.
//!
//! * Collections sharded by a ranged and by a hashed key spread 10,000
//!   documents over all shards, target single shards where the filter
//!   allows, and answer a battery of reads (aggregation pipelines included)
//!   and writes exactly like an unsharded collection holding the same
//!   documents.
//! * A router whose cached catalog is stale (another router dropped,
//!   recreated and resharded the collection) still answers correctly.
//! * Bad sharding requests get clear 4xx errors.

mod common;

use std::collections::BTreeSet;

use common::Server;
use serde_json::{Value, json};

const DB: &str = "shardtest";
const DOCS: i64 = 10_000;

fn body(collection: &str, mut fields: Value) -> Value {
    fields["database"] = json!(DB);
    fields["collection"] = json!(collection);
    fields
}

fn document(i: i64) -> Value {
    let mut d = json!({
        "_id": i,
        "k": (i * 7) % 10_007,
        "g": i % 17,
        "s": format!("s{:05}", (i * 31) % 10_000),
        "arr": [i % 5, i % 3],
        "nested": {"x": i % 11},
    });
    if i % 13 != 0 {
        d["opt"] = json!(i % 4);
    }
    d
}

fn explain(server: &Server, collection: &str, filter: Value) -> Value {
    server.ok(
        "explain",
        body(
            collection,
            json!({"filter": filter, "verbosity": "executionStats"}),
        ),
    )
}

fn stage(explained: &Value) -> (&str, usize) {
    let plan = &explained["queryPlanner"]["winningPlan"];
    (
        plan["stage"].as_str().unwrap(),
        plan["shards"].as_array().unwrap().len(),
    )
}

/// Each shard's share of a whole-collection scan.
fn spread(server: &Server, collection: &str) -> Vec<i64> {
    let shares = spread_of(server, collection);
    assert_eq!(shares.iter().sum::<i64>(), DOCS);
    shares
}

#[test]
fn sharded_collections_answer_like_an_unsharded_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::dev(dir.path(), &["--ephemeral"]);
    server.ok(
        "shardCollection",
        body(
            "ranged",
            json!({"key": {"k": 1}, "splitPoints": [{"k": 3333}, {"k": 6666}]}),
        ),
    );
    server.ok(
        "shardCollection",
        body("hashed", json!({"key": {"_id": "hashed"}})),
    );
    let collections = ["plain", "ranged", "hashed"];
    for start in (0..DOCS).step_by(1000) {
        let docs: Vec<Value> = (start..start + 1000).map(document).collect();
        for (n, c) in collections.iter().enumerate() {
            let reply = server.ok(
                "insertMany",
                body(c, json!({"documents": docs, "ordered": n != 2})),
            );
            assert_eq!(reply["insertedIds"].as_array().unwrap().len(), 1000);
        }
    }

    // Spread over all three shards, and nothing lost or doubled.
    for c in ["ranged", "hashed"] {
        let shares = spread(&server, c);
        assert_eq!(shares.len(), 3, "{c}: {shares:?}");
        assert!(shares.iter().all(|n| *n > 1000), "{c}: {shares:?}");
    }

    // Targeting.
    assert_eq!(
        stage(&explain(&server, "ranged", json!({"k": 42}))),
        ("SINGLE_SHARD", 1)
    );
    assert_eq!(
        stage(&explain(
            &server,
            "ranged",
            json!({"k": {"$gte": 100, "$lt": 200}})
        )),
        ("SINGLE_SHARD", 1)
    );
    assert_eq!(
        stage(&explain(
            &server,
            "ranged",
            json!({"k": {"$gte": 3000, "$lt": 4000}})
        )),
        ("SHARD_MERGE", 2)
    );
    assert_eq!(
        stage(&explain(&server, "hashed", json!({"_id": 42, "g": 1}))),
        ("SINGLE_SHARD", 1)
    );
    let (_, shards) = stage(&explain(&server, "hashed", json!({"_id": {"$in": [1, 2]}})));
    assert!(
        (1..=2).contains(&shards),
        "an $in of two ids asks at most two shards"
    );
    assert_eq!(
        stage(&explain(&server, "hashed", json!({"g": 3}))),
        ("SHARD_MERGE", 3)
    );
    assert_eq!(
        stage(&explain(&server, "plain", json!({"g": 3}))),
        ("SINGLE_SHARD", 1)
    );

    // The same reads give the same answers.
    let reads: Vec<(&str, Value)> = vec![
        ("find", json!({"filter": {"g": 3}, "sort": {"k": 1}})),
        (
            "find",
            json!({"filter": {"g": {"$in": [1, 2]}}, "sort": {"s": -1, "_id": 1}, "skip": 17, "limit": 25}),
        ),
        (
            "find",
            json!({"filter": {"k": {"$gte": 3000, "$lt": 7000}}, "sort": {"_id": -1}, "limit": 40, "projection": {"k": 1, "s": 1}}),
        ),
        (
            "find",
            json!({"filter": {"arr": 4, "opt": {"$exists": false}}, "sort": {"nested.x": 1, "_id": 1}}),
        ),
        (
            "find",
            json!({"filter": {"$or": [{"k": {"$lt": 50}}, {"s": {"$regex": "^s000"}}]}, "sort": {"k": -1}, "skip": 3}),
        ),
        (
            "find",
            json!({"filter": {"arr": {"$elemMatch": {"$gt": 3}}}, "sort": {"arr": 1, "_id": 1}, "limit": 30, "projection": {"arr.$": 1}}),
        ),
        (
            "find",
            json!({"filter": {}, "sort": {"opt": 1, "_id": 1}, "skip": 9990}),
        ),
        (
            "find",
            json!({"filter": {"_id": {"$gt": 9000}}, "sort": {"g": 1, "_id": -1}, "limit": 7, "projection": {"_id": 0, "g": 1}}),
        ),
        ("findOne", json!({"filter": {"g": 5}, "sort": {"k": -1}})),
        ("findOne", json!({"filter": {"k": 700}})),
        ("countDocuments", json!({"filter": {"g": {"$lt": 5}}})),
        (
            "countDocuments",
            json!({"filter": {"g": {"$lt": 5}}, "skip": 100, "limit": 1000}),
        ),
        (
            "countDocuments",
            json!({"filter": {"opt": null}, "skip": 10}),
        ),
        ("estimatedDocumentCount", json!({})),
        (
            "distinct",
            json!({"key": "g", "filter": {"k": {"$lt": 5000}}}),
        ),
        ("distinct", json!({"key": "arr", "filter": {}})),
        // Pipelines: shard parts, merges (sorted, partial groups) and
        // router parts, compared with the unsharded answer.
        (
            "aggregate",
            json!({"pipeline": [
                {"$match": {"g": {"$lt": 9}}},
                {"$group": {"_id": "$g", "n": {"$sum": 1}, "total": {"$sum": "$k"}, "avg": {"$avg": "$opt"},
                            "lo": {"$min": "$s"}, "hi": {"$max": "$k"}, "xs": {"$addToSet": "$nested.x"}}},
                {"$project": {"n": 1, "total": 1, "avg": 1, "lo": 1, "hi": 1, "xs": {"$setUnion": ["$xs"]}}},
                {"$sort": {"_id": 1}}]}),
        ),
        (
            "aggregate",
            json!({"pipeline": [{"$sort": {"k": -1, "_id": 1}}, {"$skip": 5}, {"$limit": 20}, {"$project": {"k": 1, "g": 1}}]}),
        ),
        (
            "aggregate",
            json!({"pipeline": [
                {"$match": {"k": {"$gte": 3000, "$lt": 4000}}}, {"$unwind": "$arr"},
                {"$group": {"_id": "$arr", "c": {"$sum": 1}}}, {"$sort": {"_id": 1}}]}),
        ),
        (
            "aggregate",
            json!({"pipeline": [
                {"$sort": {"_id": 1}},
                {"$group": {"_id": "$g", "first": {"$first": "$k"}, "last": {"$last": "$s"}, "ids": {"$push": "$_id"}}},
                {"$sort": {"_id": 1}},
                {"$project": {"first": 1, "last": 1, "n": {"$size": "$ids"}, "top": {"$slice": ["$ids", 3]}}}]}),
        ),
        (
            "aggregate",
            json!({"pipeline": [{"$match": {"opt": {"$exists": false}}}, {"$count": "n"}]}),
        ),
        (
            "aggregate",
            json!({"pipeline": [{"$sortByCount": "$nested.x"}, {"$sort": {"count": -1, "_id": 1}}]}),
        ),
        (
            "aggregate",
            json!({"pipeline": [{"$bucket": {"groupBy": "$k", "boundaries": [0, 1000, 5000, 10007], "default": "other",
                                              "output": {"n": {"$sum": 1}, "m": {"$max": "$_id"}}}}]}),
        ),
        (
            "aggregate",
            json!({"pipeline": [{"$facet": {
                "a": [{"$match": {"g": 1}}, {"$count": "n"}],
                "b": [{"$sort": {"k": 1}}, {"$limit": 2}, {"$project": {"k": 1}}]}}]}),
        ),
        (
            "aggregate",
            json!({"pipeline": [
                {"$match": {"_id": {"$lt": 20}}},
                {"$lookup": {"from": "ranged", "localField": "g", "foreignField": "g", "as": "same"}},
                {"$project": {"n": {"$size": "$same"}, "firstK": {"$min": "$same.k"}}},
                {"$sort": {"_id": 1}}]}),
        ),
        (
            "aggregate",
            json!({"pipeline": [
                {"$match": {"_id": {"$in": [3, 4, 5]}}},
                {"$lookup": {"from": "hashed", "let": {"mine": "$g"}, "as": "peers", "pipeline": [
                    {"$match": {"$expr": {"$eq": ["$g", "$$mine"]}}}, {"$sort": {"_id": -1}}, {"$limit": 2}, {"$project": {"_id": 1}}]}},
                {"$sort": {"_id": 1}}]}),
        ),
        (
            "aggregate",
            json!({"pipeline": [{"$group": {"_id": null, "n": {"$count": {}}, "s": {"$sum": "$opt"}, "lo": {"$min": "$_id"}}}]}),
        ),
    ];
    for (action, args) in &reads {
        let expected = server.ok(action, body("plain", args.clone()));
        for c in ["ranged", "hashed"] {
            assert_eq!(
                server.ok(action, body(c, args.clone())),
                expected,
                "{action} {args} on {c}"
            );
        }
    }
    // Paging through a cursor gives what one big find gives.
    let paged = |c: &str| -> Vec<Value> {
        let mut reply = server.ok(
            "find",
            body(
                c,
                json!({"filter": {}, "sort": {"k": 1}, "projection": {"k": 1}, "batchSize": 2500}),
            ),
        );
        let mut all = Vec::new();
        loop {
            all.extend(reply["documents"].as_array().unwrap().iter().cloned());
            let cursor = reply["cursorId"].as_u64().unwrap();
            if cursor == 0 {
                return all;
            }
            reply = server.ok("getMore", json!({"cursorId": cursor}));
        }
    };
    let whole = server.ok(
        "find",
        body(
            "plain",
            json!({"filter": {}, "sort": {"k": 1}, "projection": {"k": 1}}),
        ),
    );
    assert_eq!(paged("hashed"), *whole["documents"].as_array().unwrap());
    assert_eq!(paged("ranged").len(), DOCS as usize);

    // Without a sort, order is up to the shards; the set is not.
    let unsorted = |c: &str| -> BTreeSet<String> {
        server.ok("find", body(c, json!({"filter": {"nested.x": 4}})))["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.to_string())
            .collect()
    };
    assert_eq!(unsorted("ranged"), unsorted("plain"));
    assert_eq!(unsorted("hashed"), unsorted("plain"));

    // The same writes have the same effects.
    let writes: Vec<(&str, Value)> = vec![
        (
            "updateMany",
            json!({"filter": {"g": 3}, "update": {"$inc": {"opt": 10}}}),
        ),
        (
            "updateOne",
            json!({"filter": {"s": "s00062"}, "update": {"$set": {"touched": true}}}),
        ),
        ("deleteOne", json!({"filter": {"s": "s00031"}})),
        ("deleteMany", json!({"filter": {"nested.x": 10}})),
        (
            "findOneAndUpdate",
            json!({"filter": {"g": 6}, "sort": {"k": -1}, "update": {"$set": {"top": true}}, "returnDocument": "after"}),
        ),
        (
            "findOneAndDelete",
            json!({"filter": {"g": 7}, "sort": {"s": 1}}),
        ),
        (
            "replaceOne",
            json!({"filter": {"_id": 77}, "replacement": {"k": 539, "replaced": 1}}),
        ),
        (
            "updateOne",
            json!({"filter": {"s": "nowhere"}, "update": {"$set": {"k": 5, "new": true}}, "upsert": true}),
        ),
        (
            "updateOne",
            json!({"filter": {"g": 99}, "update": {"$set": {"k": 9}}}),
        ),
    ];
    for (action, args) in &writes {
        let mut replies = collections
            .iter()
            .map(|c| server.ok(action, body(c, args.clone())));
        let mut expected = replies.next().unwrap();
        let upserted = expected
            .as_object_mut()
            .unwrap()
            .remove("upsertedId")
            .is_some();
        for mut reply in replies {
            assert_eq!(
                reply
                    .as_object_mut()
                    .unwrap()
                    .remove("upsertedId")
                    .is_some(),
                upserted,
                "{action} {args}"
            );
            assert_eq!(reply, expected, "{action} {args}");
        }
    }
    let snapshot = |c: &str| {
        server.ok(
            "find",
            body(
                c,
                json!({"filter": {}, "sort": {"_id": 1}, "projection": {"_id": 0}}),
            ),
        )
    };
    let expected = snapshot("plain");
    assert_eq!(snapshot("ranged"), expected);
    assert_eq!(snapshot("hashed"), expected);

    // Shard keys are immutable.
    let (status, reply) = server.post(
        "updateOne",
        &body(
            "ranged",
            json!({"filter": {"_id": 2}, "update": {"$set": {"k": 9_999}}}),
        )
        .to_string(),
    );
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply.contains("ImmutableField") && reply.contains("shard key"),
        "{reply}"
    );
    let (status, reply) = server.post(
        "insertOne",
        &body("ranged", json!({"document": {"k": [1, 2]}})).to_string(),
    );
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("cannot be an array"), "{reply}");
}

#[test]
fn a_router_with_a_stale_catalog_still_answers_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let a = Server::dev(dir.path(), &[]);
    let (_, config_servers) = common::dev_layout(dir.path());
    let b = Server::router(&config_servers, &[]);

    // `lauradb ctl shard-collection` changes the same catalog.
    let out = std::process::Command::new(common::BIN)
        .args([
            "ctl",
            "--config-servers",
            &config_servers,
            "shard-collection",
        ])
        .args([
            "--database",
            DB,
            "--collection",
            "viactl",
            "--key",
            r#"{"k": 1}"#,
        ])
        .args(["--split-points", r#"[{"k": 10}]"#])
        .env("RUST_LOG", "error")
        .output()
        .expect("run ctl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("collectionsharded"));
    let placement = explain(&a, "viactl", json!({}))["placement"].clone();
    assert_eq!(placement["shardKey"], json!({"k": 1}));
    assert_eq!(placement["chunks"].as_array().unwrap().len(), 2);

    let c = "stale";
    let count =
        |s: &Server| s.ok("countDocuments", body(c, json!({"filter": {}})))["count"].clone();

    // B shards the collection; A learns that placement.
    b.ok(
        "shardCollection",
        body(c, json!({"key": {"_id": "hashed"}})),
    );
    let old: Vec<Value> = (0..100).map(|i| json!({"_id": i, "v": "old"})).collect();
    b.ok("insertMany", body(c, json!({"documents": old})));
    assert_eq!(count(&a), json!(100));

    // B drops and recreates it unsharded; A's cache still says "sharded".
    b.ok("dropCollection", body(c, json!({})));
    let new: Vec<Value> = (0..10).map(|i| json!({"_id": i, "v": "new"})).collect();
    b.ok("insertMany", body(c, json!({"documents": new})));
    let seen = a.ok("find", body(c, json!({"filter": {}, "sort": {"_id": 1}})));
    assert_eq!(seen["documents"], json!(new));
    a.ok(
        "insertOne",
        body(c, json!({"document": {"_id": 1000, "v": "from a"}})),
    );
    assert_eq!(count(&b), json!(11));

    // B shards it again (it has documents: every chunk stays on the primary).
    b.ok("shardCollection", body(c, json!({"key": {"v": 1}})));
    let reply = a.ok(
        "updateMany",
        body(
            c,
            json!({"filter": {"v": "new"}, "update": {"$set": {"w": 1}}}),
        ),
    );
    assert_eq!(reply["matchedCount"], json!(10));
    a.ok(
        "insertOne",
        body(c, json!({"document": {"_id": 2000, "v": "z"}})),
    );
    assert_eq!(count(&b), json!(12));

    // B drops it and shards a fresh one by hashed _id; A writes land where B looks.
    b.ok("dropCollection", body(c, json!({})));
    b.ok(
        "shardCollection",
        body(c, json!({"key": {"_id": "hashed"}})),
    );
    for i in 0..30 {
        a.ok(
            "insertOne",
            body(c, json!({"document": {"_id": i, "v": "fresh"}})),
        );
    }
    assert_eq!(count(&b), json!(30));
    assert_eq!(count(&a), json!(30));
    for i in [0, 7, 29] {
        let found = b.ok("findOne", body(c, json!({"filter": {"_id": i}})));
        assert_eq!(found["document"]["v"], json!("fresh"), "document {i}");
    }
}

#[test]
fn bad_sharding_requests_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::dev(
        dir.path(),
        &["--ephemeral", "--shards", "2", "--replicas", "1"],
    );
    let cases = [
        (
            "shardCollection",
            body("x", json!({"key": {"k": "sideways"}})),
            "must be 1 or \\\"hashed\\\"",
        ),
        (
            "shardCollection",
            body("x", json!({})),
            "missing required field 'key'",
        ),
        (
            "shardCollection",
            body("x", json!({"key": {"a": "hashed", "b": 1}})),
            "exactly one field",
        ),
        (
            "shardCollection",
            body("x", json!({"key": {"k": 1}, "splitPoints": [{"other": 1}]})),
            "does not match the shard key",
        ),
        (
            "shardCollection",
            body(
                "x",
                json!({"key": {"k": 1}, "splitPoints": [{"k": 5}, {"k": 1}]}),
            ),
            "empty or reversed",
        ),
        (
            "shardCollection",
            body("x", json!({"key": {"k": 1}, "numInitialChunks": 0})),
            "between 1 and 8192",
        ),
        (
            "shardCollection",
            json!({"database": "config", "collection": "shards", "key": {"k": 1}}),
            "config database",
        ),
        (
            "explain",
            body("x", json!({"verbosity": "loud"})),
            "'verbosity' must be",
        ),
    ];
    for (action, request, message) in cases {
        let (status, reply) = server.post(action, &request.to_string());
        assert_eq!(status, 400, "{request}: {reply}");
        assert!(reply.contains(message), "{request}: {reply}");
    }
    server.ok("shardCollection", body("y", json!({"key": {"k": 1}})));
    let again = server.ok("shardCollection", body("y", json!({"key": {"k": 1}})));
    assert_eq!(again["alreadySharded"], json!(true));
    let (status, reply) = server.post(
        "shardCollection",
        &body("y", json!({"key": {"_id": "hashed"}})).to_string(),
    );
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("AlreadyInitialized"), "{reply}");
}

#[test]
fn catalog_actions_and_bulk_writes_span_every_shard() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::dev(
        dir.path(),
        &["--ephemeral", "--shards", "2", "--replicas", "1"],
    );
    server.ok(
        "shardCollection",
        body("a", json!({"key": {"_id": "hashed"}})),
    );
    let docs: Vec<Value> = (0..50).map(|i| json!({"_id": i, "n": i})).collect();
    server.ok("insertMany", body("a", json!({"documents": docs})));
    server.ok("insertOne", body("b", json!({"document": {"x": 1}})));
    assert_eq!(spread_of(&server, "a").len(), 2);

    let listed = server.ok("listCollections", json!({"database": DB}));
    let names: Vec<&str> = listed["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["a", "b"]);
    let databases = server.ok("listDatabases", json!({}));
    let ours: Vec<&Value> = databases["databases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["name"] == DB)
        .collect();
    assert_eq!(ours.len(), 1, "{databases}");
    assert!(ours[0]["sizeOnDisk"].as_i64().unwrap() > 0);
    let indexes = server.ok("listIndexes", body("a", json!({})));
    assert_eq!(indexes["indexes"][0]["name"], json!("_id_"));

    let reply = server.ok(
        "bulkWrite",
        body(
            "a",
            json!({"operations": [
                {"insertOne": {"document": {"_id": 100, "n": 100}}},
                {"updateOne": {"filter": {"n": 7}, "update": {"$set": {"seven": true}}}},
                {"deleteMany": {"filter": {"n": {"$gte": 40}}}},
            ]}),
        ),
    );
    assert_eq!(reply["insertedCount"], json!(1));
    assert_eq!(reply["matchedCount"], json!(1));
    assert_eq!(reply["deletedCount"], json!(11));

    server.ok("dropDatabase", json!({"database": DB}));
    let databases = server.ok("listDatabases", json!({}));
    assert!(
        !databases["databases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == DB),
        "{databases}"
    );
    assert_eq!(
        server.ok("countDocuments", body("a", json!({"filter": {}})))["count"],
        json!(0)
    );
    // The collection can be used again; it is unsharded now.
    server.ok("insertOne", body("a", json!({"document": {"_id": 1}})));
    let explained = explain(&server, "a", json!({}));
    assert_eq!(explained["queryPlanner"]["sharded"], json!(false));
}

/// Each owning shard's share of a whole-collection scan.
fn spread_of(server: &Server, collection: &str) -> Vec<i64> {
    explain(server, collection, json!({}))["executionStats"]["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["nReturned"].as_i64().unwrap())
        .collect()
}

#[test]
fn concurrent_sharding_and_routing_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::dev(
        dir.path(),
        &["--ephemeral", "--shard-new-collections", "hashed"],
    );

    // Eight first writes to a new collection at once: each shards it or
    // waits for the one that does; none fails, none is lost.
    let statuses: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let server = &server;
                scope.spawn(move || {
                    server.post(
                        "insertOne",
                        &body("race", json!({"document": {"_id": i}})).to_string(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (status, reply) in &statuses {
        assert_eq!(*status, 200, "{reply}");
    }
    assert_eq!(
        server.ok("countDocuments", body("race", json!({"filter": {}})))["count"],
        json!(8)
    );
    assert_eq!(
        explain(&server, "race", json!({}))["queryPlanner"]["sharded"],
        json!(true)
    );

    // Concurrent shardCollection of one collection: one wins, the others
    // are told so (or that it is already sharded); the collection works.
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let server = &server;
                scope.spawn(move || {
                    server.post(
                        "shardCollection",
                        &body(
                            "contested",
                            json!({"key": {"k": 1}, "splitPoints": [{"k": 0}]}),
                        )
                        .to_string(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(answers.iter().any(|(s, _)| *s == 200), "{answers:?}");
    for (status, reply) in &answers {
        assert!(
            *status == 200 || (*status == 409 && reply.contains("ConflictingOperationInProgress")),
            "{status} {reply}"
        );
    }
    let placement = explain(&server, "contested", json!({}))["placement"].clone();
    assert_eq!(placement["shardKey"], json!({"k": 1}));
    server.ok(
        "insertMany",
        body("contested", json!({"documents": [{"k": -5}, {"k": 5}]})),
    );
    assert_eq!(
        server.ok("countDocuments", body("contested", json!({"filter": {}})))["count"],
        json!(2)
    );

    // A filter that can match nothing targets no shard.
    let reply = server.ok(
        "deleteMany",
        body("race", json!({"filter": {"_id": {"$in": []}}})),
    );
    assert_eq!(reply, json!({"deletedCount": 0}));
    let reply = server.ok(
        "updateMany",
        body(
            "race",
            json!({"filter": {"_id": {"$in": []}}, "update": {"$set": {"x": 1}}}),
        ),
    );
    assert_eq!(reply, json!({"matchedCount": 0, "modifiedCount": 0}));

    // An upsert routed by its filter whose new document belongs elsewhere.
    let reply = server.ok(
        "updateOne",
        body(
            "contested",
            json!({"filter": {"k": 7}, "update": {"$set": {"k": -70}}, "upsert": true}),
        ),
    );
    assert!(reply["upsertedId"].is_string(), "{reply}");
    let found = server.ok("findOne", body("contested", json!({"filter": {"k": -70}})));
    assert_eq!(found["document"]["k"], json!(-70));

    // createCollection under the switch: created, then sharded.
    server.ok("createCollection", body("made", json!({})));
    assert_eq!(
        explain(&server, "made", json!({}))["queryPlanner"]["sharded"],
        json!(true)
    );
    let (status, reply) = server.post("createCollection", &body("made", json!({})).to_string());
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("NamespaceExists"), "{reply}");
}
