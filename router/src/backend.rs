//! The seam between the HTTP layer and whatever stores the data.

use std::future::Future;

use bson::Document;
use lauradb_engine::command::{Operation, Outcome};
use lauradb_engine::dataapi::{ApiError, ReadOutput, ReadRequest, ShardCollectionSpec};

/// Executes planned Data API requests. Implementations decide where the data
/// lives (one local engine, or shard groups); the HTTP layer only parses,
/// plans and renders.
pub trait Backend: Send + Sync + 'static {
    /// Answers a read.
    fn read(
        &self,
        request: ReadRequest,
    ) -> impl Future<Output = Result<ReadOutput, ApiError>> + Send;

    /// Applies a write and returns its outcome once it is durable as promised
    /// by the backend.
    fn write(&self, operation: Operation)
    -> impl Future<Output = Result<Outcome, ApiError>> + Send;

    /// Shards a collection; answers what was done.
    fn shard_collection(
        &self,
        spec: ShardCollectionSpec,
    ) -> impl Future<Output = Result<Document, ApiError>> + Send;

    /// Describes how a read is routed; with `execution_stats` also runs it
    /// and reports what each shard returned.
    fn explain(
        &self,
        request: ReadRequest,
        execution_stats: bool,
    ) -> impl Future<Output = Result<Document, ApiError>> + Send;
}
