//! Engine benchmarks, in the shapes of the original LauraDB's Go benchmarks:
//! insertOne of a 3-field document, insertMany of 100, find by `_id`, find
//! with a filter over 10k documents, and updateOne by `_id`.
//!
//! Run: `cargo bench -p lauradb-engine --bench engine`. Storage is sled with
//! background flushing off (as the original measured), and in-memory for
//! comparison. Results go to docs/benchmarks.md.

/// The allocator the `lauradb` binary uses, so the numbers match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use bson::{Bson, Document, doc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use lauradb_engine::command::{Command, Namespace, Operation, UpdateKind};
use lauradb_engine::engine::{Engine, FindOptions, ReadAt, StorageConfig};

/// One point read by `_id` on an engine.
type PointRead = dyn Fn(&Engine, i64) + Sync;

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
        "sled-write-behind" => {
            let dir = tempfile::tempdir().expect("tempdir");
            let engine = Engine::open(StorageConfig::SledWriteBehind {
                path: dir.path().to_path_buf(),
                cache_capacity_bytes: 512 * 1024 * 1024,
                flush_every_ms: None,
                max_pending_bytes: 256 << 20,
            })
            .expect("open sled");
            Fixture {
                engine,
                _dir: Some(dir),
            }
        }
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
    for kind in ["sled", "sled-write-behind", "memory"] {
        let mut group = c.benchmark_group(format!("engine/{kind}"));

        group.throughput(Throughput::Elements(1));
        let fixture = open(kind);
        let mut next = 0_i64;
        // The command is built outside the timed part: this measures the engine.
        group.bench_function("insertOne", |b| {
            b.iter_batched(
                || {
                    next += 1;
                    insert(vec![person(next)])
                },
                |cmd| black_box(fixture.engine.apply(&cmd, 0).expect("apply")),
                BatchSize::SmallInput,
            )
        });

        // Sustained and durable: 1000 single-document inserts, then a flush
        // to disk, all timed (what a Raft state machine does between
        // snapshots, and what a client sees if it waits for durability).
        group.throughput(Throughput::Elements(1000));
        let fixture = open(kind);
        let mut next = 10_000_000_i64;
        group.bench_function("insertOne1000+flush", |b| {
            b.iter_batched(
                || {
                    let cmds: Vec<Command> = (next..next + 1000)
                        .map(|i| insert(vec![person(i)]))
                        .collect();
                    next += 1000;
                    cmds
                },
                |cmds| {
                    for cmd in &cmds {
                        black_box(fixture.engine.apply(cmd, 0).expect("apply"));
                    }
                    fixture.engine.flush().expect("flush");
                },
                BatchSize::PerIteration,
            )
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
        // Point reads by `_id`, answering a `Document` (`find_one`) or the
        // BSON bytes the shard sends to the router (`find_one_raw`), on one
        // thread and on both cores at once.
        let find_document = |engine: &Engine, i: i64| {
            let options = FindOptions {
                filter: doc! {"_id": i},
                ..Default::default()
            };
            black_box(
                engine
                    .find_one(&ns(), &options, ReadAt::Latest)
                    .expect("find"),
            );
        };
        let find_raw = |engine: &Engine, i: i64| {
            let options = FindOptions {
                filter: doc! {"_id": i},
                ..Default::default()
            };
            black_box(
                engine
                    .find_one_raw(&ns(), &options, ReadAt::Latest)
                    .expect("find"),
            );
        };
        let point_reads: [(&str, &PointRead); 2] =
            [("findById", &find_document), ("findByIdRaw", &find_raw)];
        for (name, read) in point_reads {
            let mut i = 0_i64;
            group.bench_function(name, |b| {
                b.iter(|| {
                    i = (i + 7919) % 10_000;
                    read(&fixture.engine, i);
                })
            });
            group.bench_function(format!("{name}-2threads"), |b| {
                b.iter_custom(|iters| {
                    let started = std::time::Instant::now();
                    std::thread::scope(|scope| {
                        for t in 0..2_i64 {
                            let engine = &fixture.engine;
                            scope.spawn(move || {
                                let mut i = t;
                                for _ in 0..iters / 2 {
                                    i = (i + 7919) % 10_000;
                                    read(engine, i);
                                }
                            });
                        }
                    });
                    started.elapsed()
                })
            });
        }

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
            b.iter_batched(
                || {
                    i = (i + 7919) % 10_000;
                    Command {
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
                    }
                },
                |cmd| black_box(fixture.engine.apply(&cmd, 0).expect("apply")),
                BatchSize::SmallInput,
            )
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
