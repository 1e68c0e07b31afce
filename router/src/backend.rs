//! The seam between the HTTP layer and whatever stores the data.

use std::future::Future;

use lauradb_engine::command::{Operation, Outcome};
use lauradb_engine::dataapi::{ApiError, ReadOutput, ReadRequest};

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
}
