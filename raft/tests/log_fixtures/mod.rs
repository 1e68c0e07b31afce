//! What the log store tests share: entries that carry one padded insert,
//! and opening a log database whose previous handle is still letting go.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use bson::doc;
use lauradb_engine::command::{Command, Namespace, Operation};
use lauradb_raft::log_store::LogDb;
use lauradb_raft::types::{Entry, Proposal, TypeConfig};
use openraft::EntryPayload;
use openraft::testing::log_id;

/// Entry `index` (term 1, node 1): one insert of `{_id: index}` padded
/// with `pad` bytes, its stamp the index.
pub fn entry(index: u64, pad: usize) -> Entry {
    let command = Command {
        request: None,
        now_millis: 0,
        op: Operation::Insert {
            ns: Namespace::new("db", "c"),
            documents: vec![doc! {"_id": index as i64, "pad": "p".repeat(pad)}],
            ordered: true,
        },
    };
    Entry {
        log_id: log_id::<TypeConfig>(1, 1, index),
        payload: EntryPayload::Normal(Proposal {
            stamp: index,
            commands: vec![command].into(),
        }),
    }
}

/// Opens the log database in `dir`, waiting (with a deadline) for the
/// previous handle to let go of sled's file lock: its flusher and purger
/// threads drop their handles just after its last user does.
pub fn open_when_free(dir: &Path) -> LogDb {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match LogDb::open(dir, 8 << 20) {
            Ok(db) => return db,
            Err(e) if Instant::now() < deadline => {
                eprintln!("log db not free yet: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("open log db: {e}"),
        }
    }
}
