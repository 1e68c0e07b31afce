//! Engine benchmarks, in the shapes of the original LauraDB's Go benchmarks:
//! insertOne of a 3-field document, insertMany of 100, find by `_id`, find
//! with a filter over 10k documents, and updateOne by `_id`.
//!
//! Run: `cargo bench -p lauradb-engine --bench engine`. Storage is sled with
//! background flushing off (as the original measured), and in-memory for
//! comparison. Results go to docs/benchmarks.md.

use std::hint::black_box;

use bson::{Bson, Document, doc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lauradb_engine::command::{Command, Namespace, Operation, UpdateKind};
use lauradb_engine::engine::{Engine, FindOptions, ReadAt, StorageConfig};

fn ns() -> Namespace {
    Namespace::new("bench", "people")
}

fn person(i: i64) -> Document {
    doc! {"_id": i, "name": format!("user-{i}"), "age": i % 100, "city": "Lyon"}
}

fn insert(docs: Vec<Document>) -> Command {
    Command {
        request: None,
        now_millis: 0,
        op: Operation::Insert {
            ns: ns(),
            documents: docs,
            ordered: true,
        },
    }
}

struct Fixture {
    engine: Engine,
    _dir: Option<tempfile::TempDir>,
}

fn open(kind: &str) -> Fixture {
    match kind {
        "sled" => {
            let dir = tempfile::tempdir().expect("tempdir");
            let engine = Engine::open(StorageConfig::Sled {
                path: dir.path().to_path_buf(),
                cache_capacity_bytes: 512 * 1024 * 1024,
                flush_every_ms: None,
            })
            .expect("open sled");
            Fixture {
                engine,
                _dir: Some(dir),
            }
        }
        _ => Fixture {
            engine: Engine::in_memory(),
            _dir: None,
        },
    }
}

fn loaded(kind: &str, n: i64) -> Fixture {
    let fixture = open(kind);
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let applied = fixture
            .engine
            .apply(&insert(chunk.iter().map(|i| person(*i)).collect()), 0)
            .expect("apply");
        applied.result.expect("insert");
    }
    fixture
}

fn benches(c: &mut Criterion) {
    for kind in ["sled", "memory"] {
        let mut group = c.benchmark_group(format!("engine/{kind}"));

        group.throughput(Throughput::Elements(1));
        let fixture = open(kind);
        let mut next = 0_i64;
        group.bench_function("insertOne", |b| {
            b.iter(|| {
                next += 1;
                black_box(
                    fixture
                        .engine
                        .apply(&insert(vec![person(next)]), 0)
                        .expect("apply"),
                );
            })
        });

        group.throughput(Throughput::Elements(100));
        let fixture = open(kind);
        let mut next = 0_i64;
        group.bench_function("insertMany100", |b| {
            b.iter_batched(
                || {
                    next += 100;
                    insert((next..next + 100).map(person).collect())
                },
                |cmd| black_box(fixture.engine.apply(&cmd, 0).expect("apply")),
                BatchSize::SmallInput,
            )
        });

        let fixture = loaded(kind, 10_000);
        group.throughput(Throughput::Elements(1));
        let mut i = 0_i64;
        group.bench_function("findById", |b| {
            b.iter(|| {
                i = (i + 7919) % 10_000;
                let options = FindOptions {
                    filter: doc! {"_id": i},
                    ..Default::default()
                };
                black_box(
                    fixture
                        .engine
                        .find_one(&ns(), &options, ReadAt::Latest)
                        .expect("find"),
                );
            })
        });

        group.bench_function("findFilter10k", |b| {
            let options = FindOptions {
                filter: doc! {"age": {"$gte": 90}, "city": "Lyon"},
                ..Default::default()
            };
            b.iter(|| {
                black_box(
                    fixture
                        .engine
                        .find(&ns(), &options, ReadAt::Latest)
                        .expect("find"),
                )
            })
        });

        let mut i = 0_i64;
        group.bench_function("updateOne", |b| {
            b.iter(|| {
                i = (i + 7919) % 10_000;
                let cmd = Command {
                    request: None,
                    now_millis: 0,
                    op: Operation::Update {
                        ns: ns(),
                        filter: doc! {"_id": i},
                        kind: UpdateKind::Operators {
                            update: doc! {"$inc": {"age": 1}},
                            array_filters: vec![],
                        },
                        multi: false,
                        upsert: false,
                        upsert_id: None::<Bson>,
                    },
                };
                black_box(fixture.engine.apply(&cmd, 0).expect("apply"));
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = engine;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(engine);
