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
        .route(
            "/{coll}",
            put(action::<B>("createCollection", Body::None, |coll, _| {
                Ok(json!({"collection": coll}))
            }))
            .delete(action::<B>("dropCollection", Body::None, |coll, _| {
                Ok(json!({"collection": coll, "dropped": true}))
            })),
        )
        .route(
            "/{coll}/_doc",
            post(action::<B>("insertOne", Body::Field("document"), |_, a| {
                Ok(json!({"_id": a["insertedId"]}))
            })),
        )
        .route(
            "/{coll}/_doc/{id}",
            get(get_doc::<B>).put(put_doc::<B>).delete(delete_doc::<B>),
        )
        .route(
            "/{coll}/_bulk",
            post(action::<B>(
                "insertMany",
                Body::FieldsOrList("documents"),
                answer,
            )),
        )
        .route(
            "/{coll}/_bulkWrite",
            post(action::<B>(
                "bulkWrite",
                Body::FieldsOrList("operations"),
                answer,
            )),
        )
        .route(
            "/{coll}/_search",
            post(action::<B>("find", Body::Fields, answer)),
        )
        .route(
            "/{coll}/_count",
            get(action::<B>("countDocuments", Body::None, count)).post(action::<B>(
                "countDocuments",
                Body::Fields,
                count,
            )),
        )
        .route(
            "/{coll}/_aggregate",
            post(action::<B>(
                "aggregate",
                Body::FieldsOrList("pipeline"),
                answer,
            )),
        )
        .route(
            "/{coll}/_index",
            post(action::<B>("createIndex", Body::Fields, answer)).get(action::<B>(
                "listIndexes",
                Body::None,
                |_, a| Ok(a["indexes"].clone()),
            )),
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

/// What a collection route's request body is.
#[derive(Clone, Copy)]
enum Body {
    /// Ignored (GET, PUT and DELETE routes without a body).
    None,
    /// The action's fields, as an object.
    Fields,
    /// The action's fields, or a bare JSON array standing for this field.
    FieldsOrList(&'static str),
    /// The value of this one field (the document of `_doc`).
    Field(&'static str),
}

impl Body {
    fn into_fields(self, body: &Bytes) -> Result<Value, ApiError> {
        match self {
            Body::None => Ok(json!({})),
            Body::Fields => fields(parse_body(body)?),
            Body::FieldsOrList(field) => match parse_body(body)? {
                Value::Array(items) => Ok(json!({ field: items })),
                other => fields(other),
            },
            Body::Field(field) => Ok(json!({ field: parse_body(body)? })),
        }
    }
}

/// Turns the Data API answer into the REST `result`; gets the collection.
type Shape = fn(&str, Value) -> Result<Value, ApiError>;

/// The answer as it is.
fn answer(_: &str, answer: Value) -> Result<Value, ApiError> {
    Ok(answer)
}

/// Just the count.
fn count(_: &str, answer: Value) -> Result<Value, ApiError> {
    Ok(answer["count"].clone())
}

/// What a table-made handler returns.
type RouteFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// The handler of a `/{coll}…` route: the body becomes `action`'s fields
/// on that collection, and `shape` makes the result.
fn action<B: Backend>(
    action: &'static str,
    body: Body,
    shape: Shape,
) -> impl Fn(State<Arc<AppState<B>>>, Path<String>, HeaderMap, Bytes) -> RouteFuture
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(state), Path(coll), headers, bytes| {
        Box::pin(async move {
            let request = body.into_fields(&bytes);
            run(&state, &headers, action, Some(&coll), request, |a| {
                shape(&coll, a)
            })
            .await
        })
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
