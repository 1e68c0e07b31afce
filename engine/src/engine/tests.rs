//! Engine stories: exactly-once, atomicity, snapshots, persistence, MVCC reads.

use bson::{Bson, Document, doc};

use super::*;
use crate::command::{
    CollectionOptions, Command, FindAndModifyAction, Namespace, Operation, Outcome, RequestId,
    UpdateKind,
};

fn ns() -> Namespace {
    Namespace::new("app", "items")
}

fn cmd(op: Operation) -> Command {
    Command {
        request: None,
        now_millis: 1_000,
        op,
    }
}

fn insert(docs: Vec<Document>) -> Operation {
    Operation::Insert {
        ns: ns(),
        documents: docs,
        ordered: true,
    }
}

fn update(filter: Document, update: Document, multi: bool) -> Operation {
    Operation::Update {
        ns: ns(),
        filter,
        kind: UpdateKind::Operators {
            update,
            array_filters: vec![],
        },
        multi,
        upsert: false,
        upsert_id: None,
    }
}

fn all(engine: &Engine) -> Vec<Document> {
    engine
        .find(&ns(), &FindOptions::default(), ReadAt::Latest)
        .unwrap()
}

fn ok(engine: &Engine, op: Operation) -> Outcome {
    engine.apply(&cmd(op), 0).unwrap().result.unwrap()
}

#[test]
fn a_retried_request_is_applied_once() {
    let engine = Engine::in_memory();
    ok(&engine, insert(vec![doc! {"_id": 1, "n": 0}]));
    let request = Some(RequestId { session: 9, seq: 1 });
    let inc = Command {
        request,
        now_millis: 0,
        op: update(doc! {"_id": 1}, doc! {"$inc": {"n": 1}}, false),
    };
    let first = engine.apply(&inc, 0).unwrap().result;
    let retry = engine.apply(&inc, 0).unwrap().result;
    assert_eq!(first, retry, "the retry answers with the recorded outcome");
    assert_eq!(all(&engine), vec![doc! {"_id": 1, "n": 1}], "applied once");

    let next = Command {
        request: Some(RequestId { session: 9, seq: 2 }),
        ..inc.clone()
    };
    engine.apply(&next, 0).unwrap().result.unwrap();
    assert_eq!(all(&engine), vec![doc! {"_id": 1, "n": 2}]);
    let stale = engine.apply(&inc, 0).unwrap().result.unwrap_err();
    assert!(stale.to_string().contains("older"), "{stale}");
    assert_eq!(
        all(&engine),
        vec![doc! {"_id": 1, "n": 2}],
        "a stale retry changes nothing"
    );
}

#[test]
fn a_failed_update_many_writes_nothing() {
    let engine = Engine::in_memory();
    ok(
        &engine,
        insert(vec![
            doc! {"_id": 1, "n": 1},
            doc! {"_id": 2, "n": "text"},
            doc! {"_id": 3, "n": 3},
        ]),
    );
    let result = engine
        .apply(&cmd(update(doc! {}, doc! {"$inc": {"n": 10}}, true)), 0)
        .unwrap()
        .result;
    let err = result.unwrap_err();
    assert_eq!(err.code_name(), "TypeMismatch", "{err}");
    assert_eq!(
        all(&engine)[0],
        doc! {"_id": 1, "n": 1},
        "the first document is untouched"
    );
}

#[test]
fn insert_many_ordered_stops_unordered_goes_on() {
    let engine = Engine::in_memory();
    let docs = vec![doc! {"_id": 1}, doc! {"_id": 1}, doc! {"_id": 2}];
    let Outcome::Inserted {
        inserted_ids,
        errors,
    } = ok(&engine, insert(docs.clone()))
    else {
        panic!()
    };
    assert_eq!(inserted_ids, vec![Bson::Int32(1)]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].index, 1);
    assert!(
        errors[0].error.to_string().contains("dup key: { _id: 1 }"),
        "{}",
        errors[0].error
    );

    let other = Namespace::new("app", "other");
    let op = Operation::Insert {
        ns: other.clone(),
        documents: docs,
        ordered: false,
    };
    let Outcome::Inserted {
        inserted_ids,
        errors,
    } = ok(&engine, op)
    else {
        panic!()
    };
    assert_eq!(inserted_ids, vec![Bson::Int32(1), Bson::Int32(2)]);
    assert_eq!(errors.len(), 1);
}

#[test]
fn numerically_equal_ids_are_duplicates() {
    let engine = Engine::in_memory();
    ok(&engine, insert(vec![doc! {"_id": 1}]));
    let Outcome::Inserted { errors, .. } = ok(&engine, insert(vec![doc! {"_id": 1.0}])) else {
        panic!()
    };
    assert_eq!(errors[0].error.code_name(), "DuplicateKey");
}

#[test]
fn reads_at_an_old_timestamp_see_the_old_state() {
    let engine = Engine::in_memory();
    let t1 = engine
        .apply(&cmd(insert(vec![doc! {"_id": 1, "v": "old"}])), 0)
        .unwrap()
        .commit_ts;
    let t2 = engine
        .apply(
            &cmd(update(doc! {"_id": 1}, doc! {"$set": {"v": "new"}}, false)),
            0,
        )
        .unwrap()
        .commit_ts;
    assert!(t2 > t1);
    let at = |ts| {
        engine
            .find(&ns(), &FindOptions::default(), ReadAt::Timestamp(ts))
            .unwrap()
    };
    assert_eq!(at(t1), vec![doc! {"_id": 1, "v": "old"}]);
    assert_eq!(at(t2), vec![doc! {"_id": 1, "v": "new"}]);
    engine.gc(t2).unwrap();
    assert_eq!(
        at(t2),
        vec![doc! {"_id": 1, "v": "new"}],
        "gc keeps what readers at the watermark see"
    );
}

#[test]
fn commit_timestamps_increase_whatever_the_stamps() {
    let engine = Engine::in_memory();
    let a = engine
        .apply(&cmd(insert(vec![doc! {"_id": 1}])), 100)
        .unwrap()
        .commit_ts;
    let b = engine
        .apply(&cmd(insert(vec![doc! {"_id": 2}])), 50)
        .unwrap()
        .commit_ts;
    let c = engine
        .apply(&cmd(insert(vec![doc! {"_id": 3}])), 500)
        .unwrap()
        .commit_ts;
    assert_eq!((a, b, c), (100, 101, 500));
}

#[test]
fn embedder_records_commit_with_the_command() {
    let engine = Engine::in_memory();
    engine
        .apply_with(
            &cmd(insert(vec![doc! {"_id": 1}])),
            0,
            &[("applied", b"log-7".to_vec())],
        )
        .unwrap();
    assert_eq!(
        engine.embedder_record("applied").unwrap(),
        Some(b"log-7".to_vec())
    );
    engine
        .apply_embedder_records(0, &[("applied", b"log-8".to_vec())])
        .unwrap();
    assert_eq!(
        engine.embedder_record("applied").unwrap(),
        Some(b"log-8".to_vec())
    );
}

#[test]
fn snapshots_round_trip_and_refuse_truncation() {
    let source = Engine::in_memory();
    ok(
        &source,
        insert((0..50).map(|i| doc! {"_id": i, "sq": i * i}).collect()),
    );
    let session = Command {
        request: Some(RequestId { session: 1, seq: 5 }),
        now_millis: 0,
        op: update(doc! {"_id": 3}, doc! {"$inc": {"sq": 1}}, false),
    };
    source.apply(&session, 0).unwrap();
    let mut bytes = Vec::new();
    source.snapshot().write_to(&mut bytes).unwrap();

    let target = Engine::in_memory();
    ok(
        &target,
        Operation::CreateCollection {
            ns: Namespace::new("old", "gone"),
            options: CollectionOptions::default(),
        },
    );
    target.install_snapshot(read_records(&bytes[..])).unwrap();
    assert_eq!(all(&target), all(&source));
    assert!(
        !target.collection_exists(&Namespace::new("old", "gone")),
        "the old state is replaced"
    );
    assert_eq!(target.latest_commit_ts(), source.latest_commit_ts());
    let replay = target.apply(&session, 0).unwrap().result.unwrap();
    assert_eq!(
        replay,
        Outcome::Updated {
            matched: 1,
            modified: 1,
            upserted_id: None
        },
        "sessions travel too"
    );
    assert_eq!(all(&target)[3], doc! {"_id": 3, "sq": 10});

    let before = all(&target);
    let truncated = &bytes[..bytes.len() / 2];
    assert!(target.install_snapshot(read_records(truncated)).is_err());
    assert_eq!(
        all(&target),
        before,
        "a truncated snapshot leaves the old state"
    );
}

#[test]
fn state_survives_reopening_on_sled() {
    let dir = tempfile::tempdir().unwrap();
    let config = || StorageConfig::Sled {
        path: dir.path().to_path_buf(),
        cache_capacity_bytes: 8 << 20,
        flush_every_ms: None,
    };
    let dropped_id;
    {
        let engine = Engine::open(config()).unwrap();
        ok(
            &engine,
            insert(vec![doc! {"_id": "a", "x": 1}, doc! {"_id": "b", "x": 2}]),
        );
        ok(
            &engine,
            Operation::CreateCollection {
                ns: Namespace::new("app", "temp"),
                options: CollectionOptions::default(),
            },
        );
        dropped_id = engine
            .catalog()
            .get(&Namespace::new("app", "temp"))
            .unwrap()
            .id;
        ok(
            &engine,
            Operation::DropCollection {
                ns: Namespace::new("app", "temp"),
            },
        );
        engine.flush().unwrap();
    }
    let engine = Engine::open(config()).unwrap();
    assert_eq!(
        all(&engine),
        vec![doc! {"_id": "a", "x": 1}, doc! {"_id": "b", "x": 2}]
    );
    assert_eq!(engine.list_collections("app").len(), 1);
    ok(
        &engine,
        Operation::CreateCollection {
            ns: Namespace::new("app", "again"),
            options: CollectionOptions::default(),
        },
    );
    let new_id = engine
        .catalog()
        .get(&Namespace::new("app", "again"))
        .unwrap()
        .id;
    assert!(new_id > dropped_id, "collection ids are never reused");
}

#[test]
fn catalog_operations() {
    let engine = Engine::in_memory();
    let create = |name: &str| Operation::CreateCollection {
        ns: Namespace::new("db", name),
        options: CollectionOptions::default(),
    };
    ok(&engine, create("a"));
    let dup = engine
        .apply(&cmd(create("a")), 0)
        .unwrap()
        .result
        .unwrap_err();
    assert_eq!(dup.code_name(), "NamespaceExists");
    let bad = engine
        .apply(&cmd(create("a$b")), 0)
        .unwrap()
        .result
        .unwrap_err();
    assert_eq!(bad.code_name(), "InvalidNamespace");
    ok(
        &engine,
        Operation::Insert {
            ns: Namespace::new("db", "a"),
            documents: vec![doc! {"_id": 1}],
            ordered: true,
        },
    );
    ok(
        &engine,
        Operation::RenameCollection {
            from: Namespace::new("db", "a"),
            to: Namespace::new("db", "b"),
            drop_target: false,
        },
    );
    let names: Vec<_> = engine
        .list_collections("db")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["b"]);
    let stats = engine.collection_stats(&Namespace::new("db", "b")).unwrap();
    assert_eq!((stats.count, stats.indexes[0].name.as_str()), (1, "_id_"));
    assert_eq!(engine.list_databases().unwrap()[0].name, "db");
    ok(&engine, Operation::DropDatabase { db: "db".into() });
    assert!(engine.list_databases().unwrap().is_empty());
    assert_eq!(
        engine
            .estimated_document_count(&Namespace::new("db", "b"), ReadAt::Latest)
            .unwrap(),
        0
    );
}

#[test]
fn find_one_and_update_sorts_returns_and_upserts() {
    let engine = Engine::in_memory();
    ok(
        &engine,
        insert(vec![
            doc! {"_id": 1, "p": 5},
            doc! {"_id": 2, "p": 9},
            doc! {"_id": 3, "p": 7},
        ]),
    );
    let fam = |filter: Document, return_new: bool, upsert: bool| Operation::FindAndModify {
        ns: ns(),
        filter,
        sort: doc! {"p": -1},
        projection: doc! {"_id": 1, "p": 1},
        action: FindAndModifyAction::Update(UpdateKind::Operators {
            update: doc! {"$inc": {"p": 1}},
            array_filters: vec![],
        }),
        return_new,
        upsert,
        upsert_id: Some(Bson::Int32(99)),
    };
    let Outcome::Found { document, .. } = ok(&engine, fam(doc! {}, false, false)) else {
        panic!()
    };
    assert_eq!(
        document,
        Some(doc! {"_id": 2, "p": 9}),
        "highest p, before the change"
    );
    let Outcome::Found { document, .. } = ok(&engine, fam(doc! {"_id": 1}, true, false)) else {
        panic!()
    };
    assert_eq!(document, Some(doc! {"_id": 1, "p": 6}), "after the change");
    let Outcome::Found {
        document,
        upserted_id,
    } = ok(&engine, fam(doc! {"k": "new"}, true, true))
    else {
        panic!()
    };
    assert_eq!(upserted_id, Some(Bson::Int32(99)));
    assert_eq!(document, Some(doc! {"_id": 99, "p": 1}));
    let delete = Operation::FindAndModify {
        ns: ns(),
        filter: doc! {"p": {"$gt": 6}},
        sort: doc! {"p": 1},
        projection: doc! {},
        action: FindAndModifyAction::Delete,
        return_new: false,
        upsert: false,
        upsert_id: None,
    };
    let Outcome::Found { document, .. } = ok(&engine, delete) else {
        panic!()
    };
    assert_eq!(document, Some(doc! {"_id": 3, "p": 7}));
    assert_eq!(
        engine
            .count_documents(&ns(), &doc! {}, 0, 0, ReadAt::Latest)
            .unwrap(),
        3
    );
}

#[test]
fn upserts_take_the_proposed_id_and_filter_fields() {
    let engine = Engine::in_memory();
    let op = Operation::Update {
        ns: ns(),
        filter: doc! {"sku": "x1", "qty": {"$gt": 3}},
        kind: UpdateKind::Operators {
            update: doc! {"$set": {"price": 5}},
            array_filters: vec![],
        },
        multi: false,
        upsert: true,
        upsert_id: Some(Bson::String("generated".into())),
    };
    let outcome = ok(&engine, op);
    assert_eq!(
        outcome,
        Outcome::Updated {
            matched: 0,
            modified: 0,
            upserted_id: Some(Bson::String("generated".into()))
        }
    );
    assert_eq!(
        all(&engine),
        vec![doc! {"_id": "generated", "sku": "x1", "price": 5}]
    );
}

#[test]
fn count_distinct_and_limits() {
    let engine = Engine::in_memory();
    ok(
        &engine,
        insert(vec![
            doc! {"_id": 1, "t": ["a", "b"]},
            doc! {"_id": 2, "t": "b"},
            doc! {"_id": 3, "t": 1},
        ]),
    );
    assert_eq!(
        engine
            .count_documents(&ns(), &doc! {}, 1, 1, ReadAt::Latest)
            .unwrap(),
        1
    );
    assert_eq!(
        engine
            .count_documents(&ns(), &doc! {}, 5, 0, ReadAt::Latest)
            .unwrap(),
        0
    );
    let values = engine
        .distinct(&ns(), "t", &doc! {}, ReadAt::Latest)
        .unwrap();
    assert_eq!(
        values,
        vec![
            Bson::Int32(1),
            Bson::String("a".into()),
            Bson::String("b".into())
        ]
    );
    let sorted = FindOptions {
        sort: doc! {"_id": -1},
        skip: 1,
        limit: 1,
        ..Default::default()
    };
    assert_eq!(
        engine.find(&ns(), &sorted, ReadAt::Latest).unwrap(),
        vec![doc! {"_id": 2, "t": "b"}]
    );
}

#[test]
fn raw_reads_answer_the_same_documents_as_decoded_reads() {
    let engine = Engine::in_memory();
    ok(
        &engine,
        insert(vec![
            doc! {"_id": 1, "x": 5, "tags": ["a", "b"]},
            doc! {"_id": 2_i64, "x": 3, "tags": ["b"]},
            doc! {"_id": "k", "x": 9},
        ]),
    );
    let cases = [
        // Point lookups: by `_id` alone (answered from the stored bytes,
        // numerically equal ids included), with other fields, missing.
        FindOptions {
            filter: doc! {"_id": 1.0},
            ..Default::default()
        },
        FindOptions {
            filter: doc! {"_id": 2, "x": {"$gt": 1}},
            ..Default::default()
        },
        FindOptions {
            filter: doc! {"_id": 2, "x": {"$gt": 5}},
            ..Default::default()
        },
        FindOptions {
            filter: doc! {"_id": {"$eq": 7}},
            ..Default::default()
        },
        FindOptions {
            filter: doc! {"$and": [{"_id": 1}, {"_id": {"$type": "string"}}]},
            ..Default::default()
        },
        // Scans, sorted, skipped, projected (positional too).
        FindOptions {
            sort: doc! {"x": -1},
            skip: 1,
            ..Default::default()
        },
        FindOptions {
            filter: doc! {"tags": "b"},
            projection: doc! {"tags.$": 1},
            ..Default::default()
        },
        FindOptions {
            filter: doc! {"_id": 1},
            projection: doc! {"x": 0},
            ..Default::default()
        },
    ];
    for options in cases {
        let decoded = engine.find(&ns(), &options, ReadAt::Latest).unwrap();
        let raw: Vec<Document> = engine
            .find_raw(&ns(), &options, ReadAt::Latest)
            .unwrap()
            .iter()
            .map(|raw| Document::try_from(raw.as_ref()).unwrap())
            .collect();
        assert_eq!(raw, decoded, "{options:?}");
        let one = engine
            .find_one_raw(&ns(), &options, ReadAt::Latest)
            .unwrap()
            .map(|raw| Document::try_from(raw.as_ref()).unwrap());
        assert_eq!(one.as_ref(), decoded.first(), "{options:?}");
    }
    // The `_id` lookup found the int32 document for 1.0.
    let found = engine
        .find_one_raw(
            &ns(),
            &FindOptions {
                filter: doc! {"_id": 1.0},
                ..Default::default()
            },
            ReadAt::Latest,
        )
        .unwrap()
        .expect("found");
    assert_eq!(found.get("_id").unwrap(), Some(bson::RawBsonRef::Int32(1)));
}
