//! `bulkWrite`: several writes to one collection, run one after the other.
//!
//! As in MongoDB, a bulk write is not atomic: each write is acknowledged on
//! its own. An ordered bulk stops at its first failing write; an unordered
//! one runs every write. The answer counts what was done
//! (`insertedCount`, `matchedCount`, `modifiedCount`, `deletedCount`,
//! `upsertedCount`, `insertedIds` and `upsertedIds` by operation index);
//! when some write failed it is an error whose body also carries those
//! counts and a `writeErrors` list (`index`, `code`, `errmsg`).

use bson::Bson;
use lauradb_engine::command::Outcome;
use lauradb_engine::dataapi::{self, ApiError, BulkOperation, JsonMode};
use serde_json::{Map, Value, json};

use crate::Backend;

/// Runs the writes and renders the result.
pub async fn bulk_write<B: Backend>(
    backend: &B,
    operations: Vec<BulkOperation>,
    ordered: bool,
    mode: JsonMode,
) -> Result<Value, ApiError> {
    let value = |v: &Bson| dataapi::to_json(v, mode);
    let (mut inserted, mut matched, mut modified, mut deleted) = (0_u64, 0_u64, 0_u64, 0_u64);
    let mut inserted_ids = Map::new();
    let mut upserted_ids = Map::new();
    let mut write_errors = Vec::new();
    for (index, BulkOperation { op, .. }) in operations.into_iter().enumerate() {
        let outcome = match backend.write(op).await {
            Ok(outcome) => outcome,
            Err(error) if error.status >= 500 => {
                // Unknown outcome (no leader, timeout): stop, and say what
                // is known so far.
                let mut error = error
                    .with_field("insertedCount", json!(inserted))
                    .with_field("matchedCount", json!(matched))
                    .with_field("modifiedCount", json!(modified))
                    .with_field("deletedCount", json!(deleted))
                    .with_field("failedIndex", json!(index));
                error.message = format!("operations[{index}]: {}", error.message);
                return Err(error);
            }
            Err(error) => {
                write_errors
                    .push(json!({"index": index, "code": error.code, "errmsg": error.message}));
                if ordered {
                    break;
                }
                continue;
            }
        };
        match outcome {
            Outcome::Inserted {
                inserted_ids: ids,
                errors,
            } => {
                if let Some(failure) = errors.first() {
                    let error = ApiError::from(failure.error.clone());
                    write_errors
                        .push(json!({"index": index, "code": error.code, "errmsg": error.message}));
                    if ordered {
                        break;
                    }
                    continue;
                }
                inserted += ids.len() as u64;
                if let Some(id) = ids.first() {
                    inserted_ids.insert(index.to_string(), value(id));
                }
            }
            Outcome::Updated {
                matched: m,
                modified: n,
                upserted_id,
            } => {
                matched += m;
                modified += n;
                if let Some(id) = upserted_id {
                    upserted_ids.insert(index.to_string(), value(&id));
                }
            }
            Outcome::Deleted { deleted: d } => deleted += d,
            Outcome::Found { .. } | Outcome::Done => {}
        }
    }
    let body = json!({
        "insertedCount": inserted,
        "matchedCount": matched,
        "modifiedCount": modified,
        "deletedCount": deleted,
        "upsertedCount": upserted_ids.len(),
        "insertedIds": inserted_ids,
        "upsertedIds": upserted_ids,
    });
    if write_errors.is_empty() {
        return Ok(body);
    }
    let first = &write_errors[0];
    let mut error = ApiError::bad_request(
        first["code"].as_str().unwrap_or("BulkWriteError"),
        format!(
            "{} of the bulk's writes failed; the first, operations[{}]: {}",
            write_errors.len(),
            first["index"],
            first["errmsg"].as_str().unwrap_or("")
        ),
    );
    if first["code"] == "DuplicateKey" {
        error.status = 409;
    }
    if let Value::Object(fields) = body {
        for (name, value) in fields {
            error = error.with_field(&name, value);
        }
    }
    Err(error.with_field("writeErrors", Value::Array(write_errors)))
}
