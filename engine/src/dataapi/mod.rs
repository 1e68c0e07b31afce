//! The Atlas Data API v1 shape of LauraDB: requests in, responses out.
//!
//! The router speaks this API over HTTP; tests speak it in process. Both use
//! this module so that there is exactly one definition of what each action's
//! body means and what it answers:
//!
//! ```text
//!  action + JSON body ──parse──▶ Request ──plan──▶ Plan::Read(..)  ─▶ engine reads
//!                                                └▶ Plan::Write(Operation) ─▶ Raft ─▶ apply
//!  Outcome / documents ──render──▶ (HTTP status, JSON body)
//! ```
//!
//! Bodies are relaxed Extended JSON (`{"$oid": …}`, `{"$date": …}`, `{"$numberLong": …}`);
//! a JSON integer is an int32, or an int64 when it does not fit. Responses are
//! plain JSON (ObjectIds as hex strings, dates as ISO-8601 strings) unless the
//! client asks for canonical Extended JSON.
//!
//! Everything the proposer must decide before a write is replicated — the
//! `_id`s of new documents — is decided in [`Request::into_plan`] through a
//! caller-supplied generator, never inside `apply`.

mod json;
mod json_body;
mod raw_output;
mod request;
mod response;

pub use json::{JsonMode, document_from_json, to_json};
pub use json_body::document_from_json_bytes;
pub use raw_output::{RawReadOutput, execute_read_raw};
pub use request::{Action, BulkOperation, Plan, ReadRequest, Request, Scope, ShardCollectionSpec};
pub use response::{ApiError, ReadOutput, render_error, render_read, render_write};

use crate::engine::{Engine, ReadAt};

/// Answers a read on one engine.
pub fn execute_read(
    engine: &Engine,
    request: &ReadRequest,
    at: ReadAt,
) -> crate::Result<ReadOutput> {
    Ok(match request {
        ReadRequest::Find {
            ns,
            options,
            one: true,
        } => ReadOutput::Document(engine.find_one(ns, options, at)?),
        ReadRequest::Find {
            ns,
            options,
            one: false,
        } => ReadOutput::Documents(engine.find(ns, options, at)?),
        ReadRequest::Count {
            ns,
            filter,
            skip,
            limit,
        } => ReadOutput::Count(engine.count_documents(ns, filter, *skip, *limit, at)?),
        ReadRequest::EstimatedCount { ns } => {
            ReadOutput::Count(engine.estimated_document_count(ns, at)?)
        }
        ReadRequest::Distinct { ns, key, filter } => {
            ReadOutput::Values(engine.distinct(ns, key, filter, at)?)
        }
        ReadRequest::Aggregate {
            ns,
            pipeline,
            now_millis,
            partial_group,
        } => ReadOutput::Documents(engine.aggregate(
            ns,
            pipeline,
            *now_millis,
            *partial_group,
            at,
        )?),
        ReadRequest::ListCollections { db } => ReadOutput::Listing {
            field: "collections".into(),
            items: engine
                .list_collections(db)
                .into_iter()
                .map(|c| bson::doc! { "name": c.name, "type": "collection", "options": c.options })
                .collect(),
        },
        ReadRequest::ListDatabases => ReadOutput::Listing {
            field: "databases".into(),
            items: engine
                .list_databases()?
                .into_iter()
                .map(|d| bson::doc! { "name": d.name, "sizeOnDisk": d.size_bytes as i64, "empty": d.collections == 0 })
                .collect(),
        },
        ReadRequest::ListIndexes { ns } => ReadOutput::Listing {
            field: "indexes".into(),
            items: engine
                .collection_stats(ns)?
                .indexes
                .into_iter()
                .map(|i| {
                    let mut d = bson::doc! { "v": 2, "key": i.key, "name": i.name };
                    if i.unique && d.get_str("name").ok() != Some("_id_") {
                        d.insert("unique", true);
                    }
                    d
                })
                .collect(),
        },
    })
}
