//! Runs the MongoDB-semantics conformance cases directly against the engine.
//!
//! The cases (`../shared/conformance/cases/*.json`, vendored in
//! `tests/conformance/cases/`) record what real MongoDB answers to Data API
//! requests. Here each request goes through the same Data API layer the router
//! uses (`dataapi`), but straight into an in-process engine: no HTTP, no Raft.
//! The runner and its comparison rules live in `support/conformance.rs`,
//! which the binary's tests also run over HTTP against a whole cluster.
//!
//! The Extended JSON cases belong to the router (rendering happens there),
//! so the `ejson` file is left out; every other case, aggregation included,
//! runs here.

#[path = "support/conformance.rs"]
mod support;

use bson::Bson;
use lauradb_engine::command::Command;
use lauradb_engine::dataapi::{self, JsonMode, Plan, Request};
use lauradb_engine::engine::{Engine, ReadAt};
use serde_json::Value;
use support::Api;

/// One in-process "server": an engine and the Data API layer.
struct LocalApi {
    engine: Engine,
    next_id: u32,
}

impl Api for LocalApi {
    fn send(&mut self, action: &str, body: &[u8], ejson: bool) -> (u16, Value) {
        let mode = if ejson {
            JsonMode::Canonical
        } else {
            JsonMode::Plain
        };
        match self.execute(action, body, mode) {
            Ok(v) => (200, v),
            Err(e) => dataapi::render_error(&e),
        }
    }
}

impl LocalApi {
    fn execute(
        &mut self,
        action: &str,
        body: &[u8],
        mode: JsonMode,
    ) -> Result<Value, dataapi::ApiError> {
        let request = Request::parse(action, body)?;
        let action = request.action;
        let plan = request.into_plan(|| {
            self.next_id += 1;
            Bson::ObjectId(bson::oid::ObjectId::from_parts(
                1_700_000_000,
                [7; 5],
                self.next_id.to_be_bytes()[1..].try_into().unwrap(),
            ))
        })?;
        match plan {
            Plan::Read(read) => {
                let output = dataapi::execute_read(&self.engine, &read, ReadAt::Latest)?;
                Ok(dataapi::render_read(&output, mode))
            }
            Plan::Write(op) => {
                let command = Command {
                    request: None,
                    now_millis: 1_700_000_000_000,
                    op,
                };
                let applied = self
                    .engine
                    .apply(&command, 0)
                    .expect("in-memory storage does not fail");
                dataapi::render_write(action, &applied.result?, mode)
            }
            Plan::ShardCollection(_)
            | Plan::Explain { .. }
            | Plan::BulkWrite { .. }
            | Plan::Answer(_)
            | Plan::Cursor { .. }
            | Plan::GetMore { .. }
            | Plan::KillCursors(_) => Err(dataapi::ApiError::bad_request(
                "IllegalOperation",
                "the conformance cases use only the Data API v1 actions",
            )),
        }
    }
}

#[test]
fn conformance_cases_pass_against_the_engine() {
    let mut api = LocalApi {
        engine: Engine::in_memory(),
        next_id: 0,
    };
    support::run_all(&mut api, |topic| topic != "ejson", "the engine");
}
