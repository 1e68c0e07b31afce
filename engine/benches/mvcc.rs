//! MVCC point lookups on the in-memory store, shaped like a shard under a
//! put-heavy load: 10,000 documents keyed by `_id` strings of 8 bytes
//! (`k0000000`…), each with several versions (gc keeps about
//! `gc_every + gc_retention` worth of writes, see `lauradb_raft::RaftSettings`),
//! looked up in a scattered order — what every updateOne by `_id` does on
//! every replica before it writes — by `get_latest` (the value copied out)
//! and by `read_latest` (the value read in place, as the write path does).
//!
//! Run: `cargo bench -p lauradb-engine --bench mvcc`. Results go to
//! docs/benchmarks.md.

/// The allocator the `lauradb` binary uses, so the numbers match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::sync::Arc;

use bson::Bson;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lauradb_engine::keyspace;
use lauradb_engine::mvcc::Mvcc;
use lauradb_engine::storage::memory::MemoryStore;

const DOCUMENTS: u64 = 10_000;

fn document_key(i: u64) -> Vec<u8> {
    keyspace::document_key(1, &Bson::String(format!("k{i:07}")))
}

/// An MVCC store holding `versions` versions of each document.
fn loaded(versions: u64) -> Mvcc {
    let mvcc = Mvcc::new(Arc::new(MemoryStore::new())).expect("open");
    let value = vec![b'v'; 300];
    let mut ts = 0;
    for _ in 0..versions {
        for chunk in (0..DOCUMENTS).collect::<Vec<_>>().chunks(1000) {
            ts += 1;
            let writes: Vec<_> = chunk
                .iter()
                .map(|i| (document_key(*i), Some(value.clone())))
                .collect();
            mvcc.commit(ts, &writes).expect("commit");
        }
    }
    mvcc
}

fn benches(c: &mut Criterion) {
    let keys: Vec<Vec<u8>> = (0..DOCUMENTS).map(document_key).collect();
    for versions in [1, 12] {
        let mvcc = loaded(versions);
        let mut group = c.benchmark_group(format!("mvcc/memory, {versions} version(s) per key"));
        group.throughput(Throughput::Elements(1));
        let mut i = 0_usize;
        group.bench_function("get_latest", |b| {
            b.iter(|| {
                i = (i + 7919) % keys.len();
                black_box(mvcc.get_latest(&keys[i]).expect("get"));
            })
        });
        group.bench_function("read_latest", |b| {
            b.iter(|| {
                i = (i + 7919) % keys.len();
                let length = mvcc
                    .read_latest(&keys[i], |value| Ok(value.map(<[u8]>::len)))
                    .expect("read");
                black_box(length);
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = mvcc;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(mvcc);
