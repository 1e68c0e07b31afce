//! The original LauraDB's REST routes, kept so that clients written for it
//! keep working. They act on one database (`RouterConfig::rest_database`,
//! `lauradb` unless configured) and answer in the original envelopes:
//! `{"ok": true, "result": …}` or
//! `{"ok": false, "error": Code, "message": …, "code": HTTP status}`.
//!
//! | route | Data API action | `result` |
//! |---|---|---|
//! | `PUT /{coll}` | createCollection | `{"collection"}` |
//! | `DELETE /{coll}` | dropCollection | `{"collection", "dropped": true}` |
//! | `POST /{coll}/_doc` (a document) | insertOne | `{"_id"}` |
//! | `GET /{coll}/_doc/{id}` | findOne by `_id` | the document (404 if none) |
//! | `PUT /{coll}/_doc/{id}` (a document) | replaceOne by `_id`, upsert | `{"matchedCount", "modifiedCount", "upsertedId"?}` |
//! | `DELETE /{coll}/_doc/{id}` | deleteOne by `_id` | `{"deletedCount"}` (404 if none) |
//! | `POST /{coll}/_bulk` (`[docs]` or `{"documents", "ordered"}`) | insertMany | `{"insertedIds"}` |
//! | `POST /{coll}/_bulkWrite` (`{"operations", "ordered"}`) | bulkWrite | the counts |
//! | `POST /{coll}/_search` (`{filter, projection, sort, skip, limit, batchSize}`) | find | `{"documents", …}` |
//! | `GET`/`POST /{coll}/_count` (`{filter, skip, limit}`) | countDocuments | the count |
//! | `POST /{coll}/_aggregate` (`[stages]` or `{"pipeline"}`) | aggregate | `{"documents"}` |
//! | `POST /{coll}/_index` (`{key, name, unique}`) | createIndex | `{"name"}` |
//! | `GET /{coll}/_index` | listIndexes | the indexes |
//! | `DELETE /{coll}/_index/{name}` | dropIndex | — |
//! | `GET /{coll}/_stats` | countDocuments + listIndexes | `{"collection", "count", "indexes"}` |
//! | `GET /_health` | — | `{"status": "ok"}` |
//! | `GET /_collections` | listCollections | the names |
//! | `GET /_stats` | listDatabases | `{"database", "collections", "sizeOnDisk"}` |
//!
//! A `{id}` in a path is an integer `_id` when it reads as one, an ObjectId
//! when it is 24 hex digits, and a string otherwise. A collection named
//! `action`, `app` or `health` is not reachable here (those paths belong to
//! the Data API); use the Data API for it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use lauradb_engine::dataapi::{ApiError, JsonMode};
use serde_json::{Value, json};

use super::{AppState, handle, json_response, response_mode};
use crate::Backend;

type AppRouter<B> = Router<Arc<AppState<B>>>;

/// The REST routes.
pub(super) fn routes<B: Backend>() -> AppRouter<B> {
    Router::new()
        .route("/_health", get(health))
        .route("/_collections", get(collections::<B>))
        .route("/_stats", get(database_stats::<B>))
        .route("/{coll}", put(create::<B>).delete(drop_collection::<B>))
        .route("/{coll}/_doc", post(insert::<B>))
        .route(
            "/{coll}/_doc/{id}",
            get(get_doc::<B>).put(put_doc::<B>).delete(delete_doc::<B>),
        )
        .route("/{coll}/_bulk", post(bulk::<B>))
        .route("/{coll}/_bulkWrite", post(bulk_write::<B>))
        .route("/{coll}/_search", post(search::<B>))
        .route("/{coll}/_count", get(count_all::<B>).post(count::<B>))
        .route("/{coll}/_aggregate", post(aggregate::<B>))
        .route(
            "/{coll}/_index",
            post(create_index::<B>).get(list_indexes::<B>),
        )
        .route("/{coll}/_index/{name}", delete(drop_index::<B>))
        .route("/{coll}/_stats", get(collection_stats::<B>))
}

/// Wraps an answer or an error in the original envelope.
fn envelope(result: Result<Value, ApiError>, mode: JsonMode) -> Response {
    match result {
        Ok(result) => json_response(StatusCode::OK, json!({"ok": true, "result": result}), mode),
        Err(error) => {
            let status =
                StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_response(
                status,
                json!({"ok": false, "error": error.code, "message": error.message, "code": error.status}),
                mode,
            )
        }
    }
}

fn not_found(what: String) -> ApiError {
    ApiError::new(404, "DocumentNotFound", what)
}

/// A JSON request body (an empty body is `null`).
fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "InvalidJSON",
            format!("request body is not valid JSON: {e}"),
        )
    })
}

/// The body as an object of Data API fields (`null` is `{}`).
fn fields(body: Value) -> Result<Value, ApiError> {
    match body {
        Value::Null => Ok(json!({})),
        Value::Object(_) => Ok(body),
        other => Err(ApiError::bad_request(
            "BadValue",
            format!("the request body must be a JSON object, not {other}"),
        )),
    }
}

/// `_id` from a path segment.
fn id_value(id: &str) -> Value {
    if let Ok(n) = id.parse::<i64>() {
        return json!(n);
    }
    if id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return json!({"$oid": id});
    }
    json!(id)
}

/// Runs a Data API action on the REST database and shapes its answer.
async fn run<B: Backend>(
    state: &AppState<B>,
    headers: &HeaderMap,
    action: &str,
    collection: Option<&str>,
    body: Result<Value, ApiError>,
    shape: impl FnOnce(Value) -> Result<Value, ApiError>,
) -> Response {
    let mode = response_mode(headers);
    let result = async {
        let mut body = body?;
        body["database"] = json!(state.config.rest_database);
        if let Some(collection) = collection {
            body["collection"] = json!(collection);
        }
        let bytes = body.to_string().into_bytes();
        shape(handle(state, action, headers, &bytes, mode).await?)
    }
    .await;
    envelope(result, mode)
}

async fn health() -> Response {
    envelope(Ok(json!({"status": "ok"})), JsonMode::Plain)
}

async fn collections<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    headers: HeaderMap,
) -> Response {
    run(
        &state,
        &headers,
        "listCollections",
        None,
        Ok(json!({})),
        |answer| {
            Ok(Value::Array(
                answer["collections"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| c["name"].clone())
                    .collect(),
            ))
        },
    )
    .await
}

async fn database_stats<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    headers: HeaderMap,
) -> Response {
    let database = state.config.rest_database.clone();
    let collections = match handle(
        &state,
        "listCollections",
        &headers,
        json!({"database": database}).to_string().as_bytes(),
        JsonMode::Plain,
    )
    .await
    {
        Ok(answer) => answer["collections"].as_array().map_or(0, Vec::len),
        Err(error) => return envelope(Err(error), response_mode(&headers)),
    };
    run(
        &state,
        &headers,
        "listDatabases",
        None,
        Ok(json!({})),
        move |answer| {
            let size = answer["databases"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|d| d["name"] == json!(database))
                .map_or(json!(0), |d| d["sizeOnDisk"].clone());
            Ok(json!({"database": database, "collections": collections, "sizeOnDisk": size}))
        },
    )
    .await
}

async fn create<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
) -> Response {
    let name = coll.clone();
    run(
        &state,
        &headers,
        "createCollection",
        Some(&coll),
        Ok(json!({})),
        move |_| Ok(json!({"collection": name})),
    )
    .await
}

async fn drop_collection<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
) -> Response {
    let name = coll.clone();
    run(
        &state,
        &headers,
        "dropCollection",
        Some(&coll),
        Ok(json!({})),
        move |_| Ok(json!({"collection": name, "dropped": true})),
    )
    .await
}

async fn insert<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_body(&body).map(|document| json!({"document": document}));
    run(
        &state,
        &headers,
        "insertOne",
        Some(&coll),
        request,
        |answer| Ok(json!({"_id": answer["insertedId"]})),
    )
    .await
}

async fn get_doc<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path((coll, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let request = json!({"filter": {"_id": id_value(&id)}});
    run(
        &state,
        &headers,
        "findOne",
        Some(&coll),
        Ok(request),
        |answer| match &answer["document"] {
            Value::Null => Err(not_found(format!("no document with _id {id} in {coll}"))),
            document => Ok(document.clone()),
        },
    )
    .await
}

async fn put_doc<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path((coll, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_body(&body).and_then(fields).map(|mut replacement| {
        if let Some(fields) = replacement.as_object_mut() {
            fields.remove("_id");
        }
        json!({"filter": {"_id": id_value(&id)}, "replacement": replacement, "upsert": true})
    });
    run(&state, &headers, "replaceOne", Some(&coll), request, Ok).await
}

async fn delete_doc<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path((coll, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let request = json!({"filter": {"_id": id_value(&id)}});
    run(
        &state,
        &headers,
        "deleteOne",
        Some(&coll),
        Ok(request),
        |answer| {
            if answer["deletedCount"] == json!(0) {
                return Err(not_found(format!("no document with _id {id} in {coll}")));
            }
            Ok(answer)
        },
    )
    .await
}

async fn bulk<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_body(&body).map(|body| match body {
        Value::Array(documents) => json!({"documents": documents}),
        other => other,
    });
    run(&state, &headers, "insertMany", Some(&coll), request, Ok).await
}

async fn bulk_write<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_body(&body).map(|body| match body {
        Value::Array(operations) => json!({"operations": operations}),
        other => other,
    });
    run(&state, &headers, "bulkWrite", Some(&coll), request, Ok).await
}

async fn search<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_body(&body).and_then(fields);
    run(&state, &headers, "find", Some(&coll), request, Ok).await
}

async fn count_all<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
) -> Response {
    run(
        &state,
        &headers,
        "countDocuments",
        Some(&coll),
        Ok(json!({})),
        |answer| Ok(answer["count"].clone()),
    )
    .await
}

async fn count<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_body(&body).and_then(fields);
    run(
        &state,
        &headers,
        "countDocuments",
        Some(&coll),
        request,
        |answer| Ok(answer["count"].clone()),
    )
    .await
}

async fn aggregate<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_body(&body).map(|body| match body {
        Value::Array(stages) => json!({"pipeline": stages}),
        other => other,
    });
    run(&state, &headers, "aggregate", Some(&coll), request, Ok).await
}

async fn create_index<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = parse_body(&body).and_then(fields);
    run(&state, &headers, "createIndex", Some(&coll), request, Ok).await
}

async fn list_indexes<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
) -> Response {
    run(
        &state,
        &headers,
        "listIndexes",
        Some(&coll),
        Ok(json!({})),
        |answer| Ok(answer["indexes"].clone()),
    )
    .await
}

async fn drop_index<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path((coll, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    run(
        &state,
        &headers,
        "dropIndex",
        Some(&coll),
        Ok(json!({"name": name})),
        Ok,
    )
    .await
}

async fn collection_stats<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(coll): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mode = response_mode(&headers);
    let ask = |action: &'static str| {
        let body = json!({"database": state.config.rest_database, "collection": coll}).to_string();
        let state = &state;
        let headers = &headers;
        async move { handle(state, action, headers, body.as_bytes(), mode).await }
    };
    let result = async {
        let indexes = ask("listIndexes").await?;
        let count = ask("countDocuments").await?;
        Ok(json!({"collection": coll, "count": count["count"], "indexes": indexes["indexes"]}))
    }
    .await;
    envelope(result, mode)
}
