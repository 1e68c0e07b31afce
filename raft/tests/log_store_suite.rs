//! The sled log store and engine state machine against openraft's own
//! storage test suite (`openraft::testing::log::Suite`).

use std::sync::Arc;

use lauradb_engine::engine::Engine;
use lauradb_raft::log_store::{LogDb, LogStore};
use lauradb_raft::snapshot_file::SnapshotDir;
use lauradb_raft::state_machine::StateMachineStore;
use lauradb_raft::types::TypeConfig;
use openraft::StorageError;
use openraft::testing::log::{StoreBuilder, Suite};

struct SledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for SledBuilder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = LogDb::open(&dir.path().join("log"), 8 << 20).expect("open log db");
        let log = db.group(7).expect("open group log");
        let snapshots = SnapshotDir::open(&dir.path().join("snapshots")).expect("snapshot dir");
        let state_machine = StateMachineStore::new(Arc::new(Engine::in_memory()), snapshots);
        Ok((dir, log, state_machine))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_log_store_passes_openraft_suite() {
    Suite::test_all(SledBuilder)
        .await
        .expect("openraft storage suite");
}
