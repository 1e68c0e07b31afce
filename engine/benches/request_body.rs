//! Parsing a Data API request body into BSON: the plain route (JSON into a
//! `serde_json::Value`, then bson's converter) against the single pass of
//! `dataapi::document_from_json_bytes`, on the body `lauradb bench` sends for
//! a put (an `updateOne` with `$set` and `upsert`, a 256-byte value) and on
//! one full of Extended JSON wrappers.
//!
//! Run: `cargo bench -p lauradb-engine --bench request_body`. Results go to
//! docs/benchmarks.md.

/// The allocator the `lauradb` binary uses, so the numbers match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lauradb_engine::dataapi::{document_from_json, document_from_json_bytes};

fn put_body() -> String {
    let value = "v".repeat(256);
    format!(
        r#"{{"dataSource":"lauradb","database":"bench","collection":"kv","filter":{{"_id":"k0001234"}},"update":{{"$set":{{"v":"{value}"}}}},"upsert":true}}"#
    )
}

fn wrapper_body() -> String {
    let item = r#"{"o":{"$oid":"507f1f77bcf86cd799439011"},"d":{"$date":"2020-01-02T03:04:05Z"},"n":{"$numberLong":"5"},"i":7,"s":"text"}"#;
    format!(
        r#"{{"dataSource":"lauradb","database":"bench","collection":"kv","documents":[{}]}}"#,
        [item; 10].join(",")
    )
}

fn benches(c: &mut Criterion) {
    for (name, body) in [("put", put_body()), ("ejson wrappers x10", wrapper_body())] {
        let mut group = c.benchmark_group(format!("request body: {name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("via serde_json::Value", |b| {
            b.iter(|| {
                let value: serde_json::Value =
                    serde_json::from_slice(black_box(body.as_bytes())).expect("json");
                black_box(document_from_json(value).expect("document"))
            })
        });
        group.bench_function("single pass", |b| {
            b.iter(|| {
                black_box(document_from_json_bytes(black_box(body.as_bytes())).expect("document"))
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = request_body;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(request_body);
