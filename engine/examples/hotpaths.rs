// Temporary profiling driver (not committed).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use bson::doc;
use lauradb_engine::command::{Command, Namespace, Operation};
use lauradb_engine::engine::{Engine, FindOptions, ReadAt};
use std::hint::black_box;

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let n: i64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20000);
    let engine = Engine::in_memory();
    let ns = Namespace::new("bench", "people");
    let insert = |i: i64| Command {
        request: None,
        now_millis: 0,
        op: Operation::Insert {
            ns: ns.clone(),
            documents: vec![
                doc! {"_id": i, "name": format!("user-{i}"), "age": i % 100, "city": "Lyon"},
            ],
            ordered: true,
        },
    };
    if what == "insert" {
        for i in 0..n {
            black_box(engine.apply(&insert(i), 0).unwrap());
        }
        return;
    }
    for i in 0..10_000 {
        engine.apply(&insert(i), 0).unwrap();
    }
    let mut i = 0i64;
    for _ in 0..n {
        i = (i + 7919) % 10_000;
        let options = FindOptions {
            filter: doc! {"_id": i},
            ..Default::default()
        };
        black_box(engine.find_one(&ns, &options, ReadAt::Latest).unwrap());
    }
}
