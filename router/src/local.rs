//! A backend that is one engine in this process.
//!
//! Writes become [`Command`]s stamped with the wall clock (the engine keeps
//! commit timestamps strictly increasing whatever the clock does) and are
//! applied on the blocking thread pool, and acknowledged only after the
//! engine has flushed them to disk; reads see the latest commit.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bson::Document;
use lauradb_engine::command::{Command, Operation, Outcome};
use lauradb_engine::dataapi::{self, ApiError, ReadOutput, ReadRequest, ShardCollectionSpec};
use lauradb_engine::engine::{Engine, ReadAt};

use crate::Backend;

/// One in-process engine.
#[derive(Clone)]
pub struct LocalBackend {
    engine: Arc<Engine>,
}

impl LocalBackend {
    /// Serves `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        LocalBackend { engine }
    }

    /// The engine behind this backend.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ApiError {
            status: 500,
            code: "InternalError".into(),
            message: format!("engine task failed: {e}"),
            extra: None,
        })
    })
}

impl Backend for LocalBackend {
    async fn read(&self, request: ReadRequest) -> Result<ReadOutput, ApiError> {
        let engine = Arc::clone(&self.engine);
        blocking(move || Ok(dataapi::execute_read(&engine, &request, ReadAt::Latest)?)).await
    }

    async fn write(&self, operation: Operation) -> Result<Outcome, ApiError> {
        let engine = Arc::clone(&self.engine);
        blocking(move || {
            let now = now_millis();
            let command = Command {
                request: None,
                now_millis: now,
                op: operation,
            };
            let applied = engine.apply(&command, u64::try_from(now).unwrap_or(0))?;
            // Acknowledge only what is on disk: a crash after the reply must
            // not lose the write.
            engine.flush()?;
            Ok(applied.result?)
        })
        .await
    }

    async fn shard_collection(&self, spec: ShardCollectionSpec) -> Result<Document, ApiError> {
        Err(ApiError::bad_request(
            "IllegalOperation",
            format!(
                "cannot shard {}: this server is a single engine, not a sharded cluster",
                spec.ns
            ),
        ))
    }

    async fn explain(
        &self,
        request: ReadRequest,
        execution_stats: bool,
    ) -> Result<Document, ApiError> {
        let mut out = bson::doc! {
            "queryPlanner": {
                "namespace": request.namespace().map(ToString::to_string),
                "sharded": false,
                "winningPlan": { "stage": "LOCAL_ENGINE" },
            }
        };
        if execution_stats {
            let returned = match self.read(request).await? {
                ReadOutput::Documents(documents) => documents.len() as i64,
                ReadOutput::Document(document) => i64::from(document.is_some()),
                ReadOutput::Count(n) => n as i64,
                ReadOutput::Values(values) => values.len() as i64,
                ReadOutput::Listing { items, .. } => items.len() as i64,
            };
            out.insert("executionStats", bson::doc! { "nReturned": returned });
        }
        Ok(out)
    }
}
