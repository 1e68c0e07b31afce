//! Pipeline tests through the engine (`Engine::aggregate` over documents
//! inserted with `Engine::apply`), one file per family of stages, plus the
//! property that splitting a pipeline across shards does not change its
//! answer (`split.rs`). Each test states the documents, the pipeline and
//! what MongoDB 6/7 returns.

mod basics;
mod group;
mod lookup;
mod split;
mod stages;

use bson::{Bson, Document, bson};

use crate::Error;
use crate::command::{Command, Namespace, Operation};
use crate::engine::{Engine, ReadAt};

/// `$$NOW` in these tests: 2023-11-14T22:13:20Z.
const NOW: i64 = 1_700_000_000_000;

fn ns(collection: &str) -> Namespace {
    Namespace::new("shop", collection)
}

/// An in-memory engine holding these collections of the `shop` database.
fn engine_with(collections: &[(&str, Vec<Document>)]) -> Engine {
    let engine = Engine::in_memory();
    for (name, documents) in collections {
        let insert = Command {
            request: None,
            now_millis: NOW,
            op: Operation::Insert {
                ns: ns(name),
                documents: documents.clone(),
                ordered: true,
            },
        };
        engine.apply(&insert, 0).unwrap().result.unwrap();
    }
    engine
}

/// The stage documents of a pipeline written as a `bson!` array.
fn stages(pipeline: Bson) -> Vec<Document> {
    crate::aggregate::pipeline_documents(&pipeline).unwrap()
}

fn run(engine: &Engine, collection: &str, pipeline: Bson) -> crate::Result<Vec<Document>> {
    engine.aggregate(
        &ns(collection),
        &stages(pipeline),
        NOW,
        false,
        ReadAt::Latest,
    )
}

/// The result of a pipeline that must succeed.
fn ok(engine: &Engine, collection: &str, pipeline: Bson) -> Vec<Document> {
    match run(engine, collection, pipeline.clone()) {
        Ok(docs) => docs,
        Err(e) => panic!("{pipeline}: {e}"),
    }
}

/// The error of a pipeline that must fail.
fn fails(engine: &Engine, collection: &str, pipeline: Bson) -> Error {
    match run(engine, collection, pipeline.clone()) {
        Ok(docs) => panic!("{pipeline}: expected an error, got {docs:?}"),
        Err(e) => e,
    }
}

/// Asserts the error's code name and that its message contains `text`.
fn assert_fails(engine: &Engine, collection: &str, pipeline: Bson, code: &str, text: &str) {
    let e = fails(engine, collection, pipeline.clone());
    assert_eq!(e.code_name(), code, "{pipeline}: {e}");
    assert!(
        e.to_string().contains(text),
        "{pipeline}: '{e}' lacks '{text}'"
    );
}

/// The values of `field` in `docs`, in order (missing as the string "-").
fn column(docs: &[Document], field: &str) -> Vec<Bson> {
    docs.iter()
        .map(|d| {
            d.get(field)
                .cloned()
                .unwrap_or_else(|| Bson::String("-".into()))
        })
        .collect()
}

/// An array value sorted in BSON order (for `$addToSet`, whose order
/// MongoDB does not promise).
fn sorted(value: &Bson) -> Bson {
    let Bson::Array(items) = value else {
        panic!("not an array: {value}")
    };
    let mut items = items.clone();
    items.sort_by(crate::value::compare);
    Bson::Array(items)
}
