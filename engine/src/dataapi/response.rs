//! Rendering results and errors in the Data API's response shapes.
//!
//! | action | success body |
//! |---|---|
//! | findOne, findOneAnd* | `{"document": doc \| null}` |
//! | find | `{"documents": [...]}` |
//! | insertOne / insertMany | `{"insertedId": id}` / `{"insertedIds": [...]}` |
//! | updateOne/Many, replaceOne | `{"matchedCount", "modifiedCount"[, "upsertedId"]}` |
//! | deleteOne/Many | `{"deletedCount"}` |
//! | countDocuments, estimatedDocumentCount | `{"count"}` |
//! | distinct | `{"values": [...]}` |
//!
//! Errors are `{"error": message, "error_code": Name}` with 400 for bad
//! requests, 404 for unknown actions, 409 for duplicate keys, 500 for the
//! server's own failures.

use bson::{Bson, Document};
use serde_json::{Map, Value, json};

use super::json::{JsonMode, to_json};
use super::request::Action;
use crate::Error;
use crate::command::{Outcome, WriteError};

/// An error response: HTTP status, MongoDB-style code name and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Extra fields for the body (e.g. `insertedIds` of a partly failed insertMany).
    pub extra: Option<Box<Map<String, Value>>>,
}

impl ApiError {
    /// A 400 with the given code name.
    /// An error with any status.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            extra: None,
        }
    }

    /// Adds a field to the error body.
    pub fn with_field(mut self, name: &str, value: Value) -> ApiError {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(name.into(), value);
        self
    }

    /// A 400 with the given code name.
    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: code.into(),
            message: message.into(),
            extra: None,
        }
    }

    /// The 404 for an action that does not exist.
    pub fn unknown_action(name: &str) -> ApiError {
        ApiError {
            status: 404,
            code: "UnknownAction".into(),
            message: format!("unknown action '{name}'"),
            extra: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        let status = match &error {
            Error::DuplicateKey { .. } => 409,
            // Only reaches a client when a router gave up refreshing.
            Error::StaleConfig { .. } => 503,
            e if !e.is_user_error() => 500,
            _ => 400,
        };
        ApiError {
            status,
            code: error.code_name().into(),
            message: error.to_string(),
            extra: None,
        }
    }
}

/// The error body.
pub fn render_error(error: &ApiError) -> (u16, Value) {
    let mut body = Map::new();
    body.insert("error".into(), Value::String(error.message.clone()));
    body.insert("error_code".into(), Value::String(error.code.clone()));
    if let Some(extra) = &error.extra {
        body.extend(extra.as_ref().clone());
    }
    (error.status, Value::Object(body))
}

/// What a read produced.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ReadOutput {
    Documents(#[serde(with = "crate::wire::documents")] Vec<Document>),
    Document(#[serde(with = "crate::wire::opt_document")] Option<Document>),
    Count(u64),
    Values(#[serde(with = "crate::wire::values")] Vec<Bson>),
    /// `listCollections`, `listDatabases`, `listIndexes`: rendered as
    /// `{field: [...]}`.
    Listing {
        field: String,
        #[serde(with = "crate::wire::documents")]
        items: Vec<Document>,
    },
}

/// The success body of a read.
pub fn render_read(output: &ReadOutput, mode: JsonMode) -> Value {
    let doc = |d: &Document| to_json(&Bson::Document(d.clone()), mode);
    match output {
        ReadOutput::Documents(docs) => {
            json!({"documents": docs.iter().map(doc).collect::<Vec<_>>()})
        }
        ReadOutput::Document(d) => json!({"document": d.as_ref().map(doc)}),
        ReadOutput::Count(n) => json!({"count": n}),
        ReadOutput::Values(values) => {
            json!({"values": values.iter().map(|v| to_json(v, mode)).collect::<Vec<_>>()})
        }
        ReadOutput::Listing { field, items } => {
            let mut body = serde_json::Map::new();
            body.insert(field.clone(), Value::Array(items.iter().map(doc).collect()));
            Value::Object(body)
        }
    }
}

/// The body of a write's outcome (an insert with write errors is an error).
pub fn render_write(action: Action, outcome: &Outcome, mode: JsonMode) -> Result<Value, ApiError> {
    let value = |v: &Bson| to_json(v, mode);
    Ok(match outcome {
        Outcome::Inserted {
            inserted_ids,
            errors,
        } => {
            if let Some(WriteError { index, error }) = errors.first() {
                let mut api = ApiError::from(error.clone());
                if action == Action::InsertMany {
                    api.message = format!("document {index}: {}", api.message);
                    api = api.with_field(
                        "insertedIds",
                        Value::Array(inserted_ids.iter().map(value).collect()),
                    );
                }
                return Err(api);
            }
            if action == Action::InsertOne {
                json!({"insertedId": inserted_ids.first().map(value)})
            } else {
                json!({"insertedIds": inserted_ids.iter().map(value).collect::<Vec<_>>()})
            }
        }
        Outcome::Updated {
            matched,
            modified,
            upserted_id,
        } => {
            let mut body = json!({"matchedCount": matched, "modifiedCount": modified});
            if let Some(id) = upserted_id {
                body["upsertedId"] = value(id);
            }
            body
        }
        Outcome::Deleted { deleted } => json!({"deletedCount": deleted}),
        Outcome::Found { document, .. } => {
            json!({"document": document.as_ref().map(|d| to_json(&Bson::Document(d.clone()), mode))})
        }
        Outcome::Done => json!({"ok": 1}),
    })
}
