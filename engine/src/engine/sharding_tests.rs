//! Placement on a shard: versioned operations, installs, ownership checks.

use std::sync::Arc;

use bson::{Bson, Document, doc};

use super::*;
use crate::command::{Command, Namespace, Operation, Outcome, UpdateKind};
use crate::sharding::{CollectionRouting, KeyRange, ShardKeyPattern, ShardVersion};
use crate::storage::MemoryStore;

fn ns() -> Namespace {
    Namespace::new("app", "people")
}

fn run(engine: &Engine, op: Operation) -> crate::command::CommandResult {
    engine
        .apply(
            &Command {
                request: None,
                now_millis: 1,
                op,
            },
            0,
        )
        .unwrap()
        .result
}

fn version(epoch: u64, major: u64) -> ShardVersion {
    ShardVersion {
        epoch,
        major,
        minor: 0,
    }
}

/// Ranged on `age`; this shard owns `[MinKey, 50)`.
fn lower_half(epoch: u64, incarnation: u64) -> CollectionRouting {
    let key = ShardKeyPattern::parse(&doc! {"age": 1}).unwrap();
    CollectionRouting {
        version: version(epoch, 1),
        incarnation,
        owned: vec![KeyRange {
            min: key.bound_key(&key.global_min()).unwrap(),
            max: key.bound_key(&doc! {"age": 50}).unwrap(),
            max_inclusive: false,
        }],
        key: Some(key),
    }
}

fn install(engine: &Engine, routing: CollectionRouting) -> crate::command::CommandResult {
    run(engine, Operation::InstallRouting { ns: ns(), routing })
}

fn versioned(v: ShardVersion, op: Operation) -> Operation {
    Operation::Versioned {
        version: v,
        op: Box::new(op),
    }
}

fn rename_to_other() -> Operation {
    Operation::RenameCollection {
        from: ns(),
        to: Namespace::new("app", "other"),
        drop_target: false,
    }
}

fn insert(docs: Vec<Document>) -> Operation {
    Operation::Insert {
        ns: ns(),
        documents: docs,
        ordered: true,
    }
}

fn inserted(result: crate::command::CommandResult) -> (usize, usize) {
    match result.unwrap() {
        Outcome::Inserted {
            inserted_ids,
            errors,
        } => (inserted_ids.len(), errors.len()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_request_routed_with_another_version_is_stale_config() {
    let engine = Engine::in_memory();
    // Never sharded: the unsharded version routes, any other is stale.
    assert!(
        run(
            &engine,
            versioned(ShardVersion::UNSHARDED, insert(vec![doc! {"_id": 1}]))
        )
        .is_ok()
    );
    install(&engine, lower_half(3, 0)).unwrap();
    match run(
        &engine,
        versioned(ShardVersion::UNSHARDED, insert(vec![doc! {"_id": 2}])),
    ) {
        Err(Error::StaleConfig { sent, have, .. }) => {
            assert_eq!(sent, ShardVersion::UNSHARDED);
            assert_eq!(have, version(3, 1));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        engine.check_routing(&ns(), version(4, 1)),
        Err(Error::StaleConfig { .. })
    ));
    engine.check_routing(&ns(), version(3, 1)).unwrap();
    let (ok, failed) = inserted(run(
        &engine,
        versioned(version(3, 1), insert(vec![doc! {"_id": 3, "age": 7}])),
    ));
    assert_eq!((ok, failed), (1, 0));
}

#[test]
fn installs_only_move_forward_and_a_new_incarnation_drops_the_data() {
    let engine = Engine::in_memory();
    install(&engine, lower_half(2, 0)).unwrap();
    inserted(run(&engine, insert(vec![doc! {"_id": 1, "age": 3}])));
    // An older install is a no-op.
    install(&engine, lower_half(1, 0)).unwrap();
    assert_eq!(engine.routing(&ns()).version, version(2, 1));
    // A newer epoch of the same incarnation keeps the data.
    install(&engine, lower_half(3, 0)).unwrap();
    assert_eq!(
        engine
            .estimated_document_count(&ns(), ReadAt::Latest)
            .unwrap(),
        1
    );
    // The collection was dropped at epoch 4: the install deletes the data.
    let dropped = CollectionRouting {
        version: version(4, 0),
        incarnation: 4,
        key: None,
        owned: vec![],
    };
    install(&engine, dropped.clone()).unwrap();
    assert_eq!(
        engine
            .estimated_document_count(&ns(), ReadAt::Latest)
            .unwrap(),
        0
    );
    assert_eq!(engine.routing(&ns()), dropped);
}

#[test]
fn shards_refuse_documents_they_do_not_own_and_shard_key_changes() {
    let engine = Engine::in_memory();
    install(&engine, lower_half(1, 0)).unwrap();
    let (ok, failed) = inserted(run(
        &engine,
        insert(vec![doc! {"_id": 1, "age": 10}, doc! {"_id": 2, "age": 90}]),
    ));
    assert_eq!((ok, failed), (1, 1));
    let (_, failed) = inserted(run(&engine, insert(vec![doc! {"_id": 3, "age": [1, 2]}])));
    assert_eq!(failed, 1, "arrays are not shard key values");
    // A missing shard key is null, which sorts below every number: owned.
    assert_eq!(
        inserted(run(&engine, insert(vec![doc! {"_id": 4}]))),
        (1, 0)
    );

    let set = |update: Document| Operation::Update {
        ns: ns(),
        filter: doc! {"_id": 1},
        kind: UpdateKind::Operators {
            update,
            array_filters: vec![],
        },
        multi: false,
        upsert: false,
        upsert_id: None,
    };
    assert!(run(&engine, set(doc! {"$set": {"name": "x"}})).is_ok());
    assert!(matches!(
        run(&engine, set(doc! {"$set": {"age": 11}})),
        Err(Error::ImmutableField(_))
    ));
    // Same value, other numeric type: the key did not change.
    assert!(run(&engine, set(doc! {"$set": {"age": 10.0}})).is_ok());
    let doc = engine
        .find_one(
            &ns(),
            &FindOptions {
                filter: doc! {"_id": 1},
                ..Default::default()
            },
            ReadAt::Latest,
        )
        .unwrap()
        .unwrap();
    assert_eq!(doc.get("age"), Some(&Bson::Double(10.0)));
}

#[test]
fn sharding_a_collection_with_documents_outside_the_owned_chunks_is_refused() {
    let engine = Engine::in_memory();
    inserted(run(&engine, insert(vec![doc! {"_id": 1, "age": 80}])));
    assert!(matches!(
        install(&engine, lower_half(1, 0)),
        Err(Error::BadValue(_))
    ));
    assert_eq!(engine.routing(&ns()), CollectionRouting::default());
    assert!(
        run(&engine, rename_to_other()).is_ok(),
        "an unsharded collection renames"
    );
}

#[test]
fn placement_survives_a_reopen() {
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::with_store(store.clone()).unwrap();
    install(&engine, lower_half(5, 0)).unwrap();
    assert!(
        run(&engine, rename_to_other()).is_err(),
        "a sharded collection does not rename"
    );
    drop(engine);
    let reopened = Engine::with_store(store).unwrap();
    assert_eq!(reopened.routing(&ns()), lower_half(5, 0));
}
