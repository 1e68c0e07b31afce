//! The Data API over HTTP (axum).
//!
//! Routes: `POST /action/{action}` and
//! `POST /app/{appId}/endpoint/data/v1/action/{action}` (Atlas' shape),
//! `GET /health`, `GET /openapi.json` ([`crate::openapi`]), and the original
//! LauraDB REST routes (`/{coll}/_doc/{id}` …, see `http/rest.rs`), which
//! translate into the same actions. Large `find` results go through
//! [`crate::cursors`]. Every Data API request runs in a `tracing` span carrying its request
//! id (the client's `x-request-id`, or one the router makes up) and is counted
//! in `lauradb_http_requests_total{action,status}` and timed in
//! `lauradb_http_request_seconds{action}`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bson::Bson;
use lauradb_engine::dataapi::{self, ApiError, JsonMode, Plan, ReadOutput, ReadRequest, Request};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::Backend;
use crate::cursors::Cursors;

/// The largest request body accepted: a 16 MiB document plus its Extended
/// JSON overhead.
pub const MAX_BODY_BYTES: usize = 48 * 1024 * 1024;

/// Router settings.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Accepted API keys; empty means the API is open (development).
    pub api_keys: Vec<String>,
    /// Most documents one answer holds (see [`crate::cursors`]).
    pub result_cap: u64,
    /// Whether the binary adds `GET /metrics` (listed in `/openapi.json`).
    pub serves_metrics: bool,
    /// The database the original LauraDB REST routes act on (see
    /// `http/rest.rs`).
    pub rest_database: String,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            api_keys: Vec::new(),
            result_cap: crate::cursors::DEFAULT_RESULT_CAP,
            serves_metrics: false,
            rest_database: DEFAULT_REST_DATABASE.into(),
        }
    }
}

/// The database of the REST routes unless configured.
pub const DEFAULT_REST_DATABASE: &str = "lauradb";

mod request_metrics;
mod rest;

struct AppState<B> {
    backend: B,
    cursors: Cursors,
    config: RouterConfig,
    next_request_id: AtomicU64,
    metrics: request_metrics::RequestMetrics,
}

/// The HTTP application serving `backend`.
pub fn router<B: Backend>(backend: B, config: RouterConfig) -> Router {
    let state = Arc::new(AppState {
        backend,
        cursors: Cursors::new(config.result_cap),
        config,
        next_request_id: AtomicU64::new(1),
        metrics: request_metrics::RequestMetrics::register(),
    });
    Router::new()
        .route("/action/{action}", post(action::<B>))
        .route(
            "/app/{app_id}/endpoint/data/v1/action/{action}",
            post(app_action::<B>),
        )
        .route("/health", get(health))
        .route("/openapi.json", get(openapi::<B>))
        .merge(rest::routes::<B>())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(json_rejections))
        .with_state(state)
}

async fn health() -> Response {
    json_response(StatusCode::OK, json!({"status": "ok"}), JsonMode::Plain)
}

async fn openapi<B: Backend>(State(state): State<Arc<AppState<B>>>) -> Response {
    json_response(
        StatusCode::OK,
        crate::openapi::document(state.config.serves_metrics),
        JsonMode::Plain,
    )
}

/// axum answers an oversized body (413) and a wrong method (405) in plain
/// text; clients get our JSON error shape instead — the Data API's, or the
/// REST envelope on REST paths.
async fn json_rejections(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/"));
    let error = match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE if !is_json => ApiError::new(
            413,
            "BodyTooLarge",
            format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
        ),
        StatusCode::METHOD_NOT_ALLOWED if !is_json => ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{path} does not take this method; see /openapi.json"),
        ),
        _ => return response,
    };
    let data_api = path.starts_with("/action/") || path.starts_with("/app/");
    let body = if data_api {
        dataapi::render_error(&error).1
    } else {
        json!({"ok": false, "error": error.code, "message": error.message, "code": error.status})
    };
    json_response(
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
        JsonMode::Plain,
    )
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        json!({"error": "no such route; the Data API lives under POST /action/{action}", "error_code": "NotFound"}),
        JsonMode::Plain,
    )
}

async fn app_action<B: Backend>(
    state: State<Arc<AppState<B>>>,
    Path((_app_id, action_name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    action(state, Path(action_name), headers, body).await
}

async fn action<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    Path(action_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("r{}", state.next_request_id.fetch_add(1, Ordering::Relaxed)));
    let span = tracing::info_span!("request", request_id = %request_id, action = %action_name);
    let started = Instant::now();
    let mode = response_mode(&headers);
    let result = handle(&state, &action_name, &headers, &body, mode)
        .instrument(span.clone())
        .await;
    let (status, body) = match result {
        Ok(body) => (200, body),
        Err(error) => {
            span.in_scope(|| tracing::debug!(status = error.status, code = %error.code, "request failed: {}", error.message));
            dataapi::render_error(&error)
        }
    };
    state
        .metrics
        .record(&action_name, status, started.elapsed());
    let mut response = json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
        mode,
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Runs one Data API request.
///
/// Every branch's backend call is boxed. An async fn's future holds the
/// future of whatever it awaits, so without the boxes this one was the size
/// of its largest branch (~17 KB, a bulk write's), and each layer between
/// axum and the shard copied a future of about that size as it started.
/// A box costs one allocation per request and keeps each copy to the size
/// of the branch that runs.
async fn handle<B: Backend>(
    state: &AppState<B>,
    action_name: &str,
    headers: &HeaderMap,
    body: &[u8],
    mode: JsonMode,
) -> Result<Value, ApiError> {
    authorize(&state.config, headers)?;
    let request = Request::parse(action_name, body)?;
    let action = request.action;
    match request.into_plan(|| Bson::ObjectId(bson::oid::ObjectId::new()))? {
        Plan::Read(
            read @ (ReadRequest::Find { one: false, .. } | ReadRequest::Aggregate { .. }),
        ) => {
            let (batch, truncated) =
                Box::pin(state.cursors.first_batch(&state.backend, read, None)).await?;
            let mut body = render_documents(batch.documents, mode);
            if truncated {
                body["truncated"] = Value::Bool(true);
                body["cursorId"] = json!(batch.cursor_id);
            }
            Ok(body)
        }
        Plan::Read(read) => Ok(dataapi::render_read(
            &Box::pin(state.backend.read(read)).await?,
            mode,
        )),
        Plan::Cursor { read, batch_size } => {
            let (batch, _) = Box::pin(state.cursors.first_batch(
                &state.backend,
                read,
                Some(batch_size),
            ))
            .await?;
            let mut body = render_documents(batch.documents, mode);
            body["cursorId"] = json!(batch.cursor_id);
            Ok(body)
        }
        Plan::GetMore {
            cursor_id,
            batch_size,
        } => {
            let batch = Box::pin(
                state
                    .cursors
                    .get_more(&state.backend, cursor_id, batch_size),
            )
            .await?;
            let mut body = render_documents(batch.documents, mode);
            body["cursorId"] = json!(batch.cursor_id);
            Ok(body)
        }
        Plan::KillCursors(ids) => {
            let (killed, not_found) = state.cursors.kill(&ids);
            Ok(json!({"cursorsKilled": killed, "cursorsNotFound": not_found}))
        }
        Plan::Write(op) => {
            dataapi::render_write(action, &Box::pin(state.backend.write(op)).await?, mode)
        }
        Plan::BulkWrite {
            operations,
            ordered,
        } => {
            Box::pin(crate::bulk::bulk_write(
                &state.backend,
                operations,
                ordered,
                mode,
            ))
            .await
        }
        Plan::Answer(document) => Ok(dataapi::to_json(&Bson::Document(document), mode)),
        Plan::ShardCollection(spec) => Ok(dataapi::to_json(
            &Bson::Document(Box::pin(state.backend.shard_collection(spec)).await?),
            mode,
        )),
        Plan::Explain {
            read,
            execution_stats,
        } => Ok(dataapi::to_json(
            &Bson::Document(Box::pin(state.backend.explain(read, execution_stats)).await?),
            mode,
        )),
    }
}

fn render_documents(documents: Vec<bson::Document>, mode: JsonMode) -> Value {
    dataapi::render_read(&ReadOutput::Documents(documents), mode)
}

/// Checks the `api-key` / `apiKey` / `Authorization: Bearer` header when keys are configured.
fn authorize(config: &RouterConfig, headers: &HeaderMap) -> Result<(), ApiError> {
    if config.api_keys.is_empty() {
        return Ok(());
    }
    let presented = headers
        .get("api-key")
        .or_else(|| headers.get("apiKey"))
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        });
    match presented {
        Some(key) if config.api_keys.iter().any(|k| k == key) => Ok(()),
        Some(_) => Err(unauthorized("invalid API key")),
        None => Err(unauthorized(
            "missing API key: send it in the 'api-key' header",
        )),
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError {
        status: 401,
        code: "Unauthorized".into(),
        message: message.into(),
        extra: None,
    }
}

fn response_mode(headers: &HeaderMap) -> JsonMode {
    let wants_ejson = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/ejson"));
    if wants_ejson {
        JsonMode::Canonical
    } else {
        JsonMode::Plain
    }
}

fn json_response(status: StatusCode, body: Value, mode: JsonMode) -> Response {
    let content_type = match mode {
        JsonMode::Canonical => "application/ejson",
        JsonMode::Plain => "application/json",
    };
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Metric label for an action: known names as they are, anything else
/// collapsed so clients cannot blow up the label space.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalBackend;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use lauradb_engine::engine::Engine;
    use tower::ServiceExt;

    /// The size of the future an `f` returns, without calling `f`.
    fn future_size<R>(_: impl FnOnce() -> R) -> usize {
        std::mem::size_of::<R>()
    }

    #[test]
    #[allow(unreachable_code, clippy::diverging_sub_expression)]
    fn a_request_future_does_not_carry_the_rare_paths() {
        // Every async layer embeds the future it awaits and copies it when
        // it starts, so one large rarely-taken branch (bulk writes, 2PC,
        // catalog reloads, remote calls) made each request's future ~18 KB
        // and cost several such copies per request. Those branches are
        // boxed; this keeps them so.
        use crate::cluster::ClusterBackend;
        fn backend() -> &'static ClusterBackend {
            unreachable!("only the types matter")
        }
        let request = future_size(|| {
            action::<ClusterBackend>(
                State(unreachable!()),
                Path(unreachable!()),
                unreachable!(),
                unreachable!(),
            )
        });
        let write = future_size(|| backend().write(unreachable!()));
        let read = future_size(|| backend().read(unreachable!()));
        assert!(
            request <= 4096,
            "a request's future is {request} bytes (was 17,920)"
        );
        assert!(
            write <= 8192,
            "a routed write's future is {write} bytes (was 15,440)"
        );
        assert!(
            read <= 8192,
            "a routed read's future is {read} bytes (was 12,592)"
        );
    }

    async fn call(app: &Router, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        let mut request =
            axum::http::Request::post(path).header("content-type", "application/json");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn app(keys: &[&str]) -> Router {
        let backend = LocalBackend::new(Arc::new(Engine::in_memory()));
        router(
            backend,
            RouterConfig {
                api_keys: keys.iter().map(|k| k.to_string()).collect(),
                result_cap: 10,
                serves_metrics: false,
                rest_database: "rest".into(),
            },
        )
    }

    #[tokio::test]
    async fn insert_then_find_over_both_route_shapes() {
        let app = app(&[]);
        let (status, body) = call(
            &app,
            "/action/insertOne",
            &[],
            r#"{"database":"d","collection":"c","document":{"_id":1,"a":"x"}}"#,
        )
        .await;
        assert_eq!((status, body), (200, json!({"insertedId": 1})));
        let (status, body) = call(
            &app,
            "/app/myapp/endpoint/data/v1/action/findOne",
            &[("accept", "application/ejson")],
            r#"{"database":"d","collection":"c","filter":{"_id":1}}"#,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"document": {"_id": {"$numberInt": "1"}, "a": "x"}})
        );
    }

    #[tokio::test]
    async fn errors_have_status_and_code() {
        let app = app(&[]);
        let (status, body) = call(&app, "/action/frobnicate", &[], "{}").await;
        assert_eq!(status, 404);
        assert_eq!(body["error_code"], "UnknownAction");
        let (status, body) = call(&app, "/action/find", &[], "{oops").await;
        assert_eq!(status, 400);
        assert!(body["error"].as_str().unwrap().contains("JSON"));
        call(
            &app,
            "/action/insertOne",
            &[],
            r#"{"database":"d","collection":"c","document":{"_id":1}}"#,
        )
        .await;
        let (status, body) = call(
            &app,
            "/action/insertOne",
            &[],
            r#"{"database":"d","collection":"c","document":{"_id":1}}"#,
        )
        .await;
        assert_eq!(status, 409);
        assert_eq!(body["error_code"], "DuplicateKey");
    }

    #[tokio::test]
    async fn api_keys_are_enforced_when_configured() {
        let app = app(&["secret"]);
        let body = r#"{"database":"d","collection":"c","filter":{}}"#;
        assert_eq!(call(&app, "/action/find", &[], body).await.0, 401);
        assert_eq!(
            call(&app, "/action/find", &[("api-key", "wrong")], body)
                .await
                .0,
            401
        );
        assert_eq!(
            call(&app, "/action/find", &[("api-key", "secret")], body)
                .await
                .0,
            200
        );
        assert_eq!(
            call(
                &app,
                "/action/find",
                &[("authorization", "Bearer secret")],
                body
            )
            .await
            .0,
            200
        );
    }

    #[tokio::test]
    async fn catalog_actions_and_bulk_writes() {
        let app = app(&[]);
        let post = |action: &'static str, body: Value| {
            let app = app.clone();
            async move { call(&app, &format!("/action/{action}"), &[], &body.to_string()).await }
        };
        let (status, body) = post(
            "bulkWrite",
            json!({"database": "d", "collection": "c", "operations": [
                {"insertOne": {"document": {"_id": 1, "n": 1}}},
                {"insertOne": {"document": {"_id": 2, "n": 2}}},
                {"updateOne": {"filter": {"_id": 1}, "update": {"$inc": {"n": 10}}}},
                {"updateMany": {"filter": {"_id": 9}, "update": {"$set": {"n": 0}}, "upsert": true}},
                {"replaceOne": {"filter": {"_id": 2}, "replacement": {"n": 20}}},
                {"deleteOne": {"filter": {"_id": 9}}},
            ]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({"insertedCount": 2, "matchedCount": 2, "modifiedCount": 2, "deletedCount": 1,
                   "upsertedCount": 1, "insertedIds": {"0": 1, "1": 2}, "upsertedIds": {"3": 9}})
        );
        // Ordered: stops at the duplicate; unordered: goes on.
        let ops = json!([
            {"insertOne": {"document": {"_id": 1}}},
            {"insertOne": {"document": {"_id": 3}}},
        ]);
        let (status, body) = post(
            "bulkWrite",
            json!({"database": "d", "collection": "c", "operations": ops}),
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["insertedCount"], 0);
        assert_eq!(body["writeErrors"][0]["index"], 0);
        let (status, body) = post(
            "bulkWrite",
            json!({"database": "d", "collection": "c", "operations": ops, "ordered": false}),
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["insertedCount"], 1);
        let (status, body) = post(
            "bulkWrite",
            json!({"database": "d", "collection": "c", "operations": [{"frob": {}}]}),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("not a bulkWrite operation")
        );

        post(
            "createCollection",
            json!({"database": "d", "collection": "e"}),
        )
        .await;
        let (_, body) = post("listCollections", json!({"database": "d"})).await;
        let names: Vec<&str> = body["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["c", "e"]);
        let (_, body) = post("listDatabases", json!({})).await;
        assert_eq!(body["databases"][0]["name"], "d");
        let (status, body) = post("listIndexes", json!({"database": "d", "collection": "c"})).await;
        assert_eq!(
            (status, body),
            (
                200,
                json!({"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}]})
            )
        );
        let (status, _) = post(
            "listIndexes",
            json!({"database": "d", "collection": "nope"}),
        )
        .await;
        assert_eq!(status, 400);
        let (status, body) = post(
            "createIndex",
            json!({"database": "d", "collection": "c", "key": {"_id": 1}}),
        )
        .await;
        assert_eq!((status, body["name"].clone()), (200, json!("_id_")));
        let (status, body) = post(
            "createIndex",
            json!({"database": "d", "collection": "c", "key": {"n": 1}}),
        )
        .await;
        assert_eq!(
            (status, body["error_code"].clone()),
            (400, json!("NotImplemented"))
        );
        let (status, body) = post(
            "dropIndex",
            json!({"database": "d", "collection": "c", "name": "_id_"}),
        )
        .await;
        assert_eq!(
            (status, body["error_code"].clone()),
            (400, json!("InvalidOptions"))
        );
        let (status, body) = post(
            "dropIndex",
            json!({"database": "d", "collection": "c", "name": "n_1"}),
        )
        .await;
        assert_eq!(
            (status, body["error_code"].clone()),
            (400, json!("IndexNotFound"))
        );
        let (status, _) = post(
            "dropCollection",
            json!({"database": "d", "collection": "e"}),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = post("dropDatabase", json!({"database": "d"})).await;
        assert_eq!(status, 200);
        let (_, body) = post("listDatabases", json!({})).await;
        assert_eq!(body, json!({"databases": []}));
    }

    #[tokio::test]
    async fn large_results_are_capped_and_paged_with_cursors() {
        // app() caps answers at 10 documents.
        let app = app(&[]);
        let post = |action: &'static str, body: Value| {
            let app = app.clone();
            async move { call(&app, &format!("/action/{action}"), &[], &body.to_string()).await }
        };
        let docs: Vec<Value> = (0..25).map(|i| json!({"_id": i})).collect();
        post(
            "insertMany",
            json!({"database": "d", "collection": "c", "documents": docs}),
        )
        .await;
        let ids = |body: &Value| -> Vec<i64> {
            body["documents"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["_id"].as_i64().unwrap())
                .collect()
        };
        let find = json!({"database": "d", "collection": "c", "filter": {}, "sort": {"_id": 1}});
        let (status, first) = post("find", find.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(ids(&first), (0..10).collect::<Vec<_>>());
        assert_eq!(first["truncated"], json!(true));
        let cursor = first["cursorId"].as_u64().unwrap();
        assert!(cursor > 0);
        let (_, second) = post("getMore", json!({"cursorId": cursor})).await;
        assert_eq!(ids(&second), (10..20).collect::<Vec<_>>());
        assert_eq!(second["cursorId"], json!(cursor));
        let (_, last) = post("getMore", json!({"cursorId": cursor, "batchSize": 50})).await;
        assert_eq!(ids(&last), (20..25).collect::<Vec<_>>());
        assert_eq!(last["cursorId"], json!(0));
        let (status, gone) = post("getMore", json!({"cursorId": cursor})).await;
        assert_eq!(
            (status, gone["error_code"].clone()),
            (404, json!("CursorNotFound"))
        );

        // Pipelines are capped and paged the same way.
        let pipeline = json!({"database": "d", "collection": "c", "pipeline": [
            {"$match": {"_id": {"$gte": 3}}}, {"$sort": {"_id": -1}}, {"$project": {"_id": 1}}]});
        let (status, first) = post("aggregate", pipeline.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(ids(&first), (15..25).rev().collect::<Vec<_>>());
        assert_eq!(first["truncated"], json!(true));
        let cursor = first["cursorId"].as_u64().unwrap();
        // Every answer is capped, getMore's too.
        let (_, rest) = post("getMore", json!({"cursorId": cursor, "batchSize": 100})).await;
        assert_eq!(ids(&rest), (5..15).rev().collect::<Vec<_>>());
        let (_, end) = post("getMore", json!({"cursorId": cursor})).await;
        assert_eq!((ids(&end), end["cursorId"].clone()), (vec![4, 3], json!(0)));
        let mut batched = pipeline.clone();
        batched["batchSize"] = json!(8);
        let (_, one) = post("aggregate", batched).await;
        assert_eq!(ids(&one), (17..25).rev().collect::<Vec<_>>());
        let (_, two) = post(
            "getMore",
            json!({"cursorId": one["cursorId"], "batchSize": 20}),
        )
        .await;
        assert_eq!(ids(&two), (7..17).rev().collect::<Vec<_>>());

        // A small result has no cursor fields at all.
        let mut small = find.clone();
        small["limit"] = json!(3);
        assert_eq!(post("find", small).await.1.as_object().unwrap().len(), 1);

        // batchSize with a limit: 4 + 4 + 1.
        let mut batched = find.clone();
        batched["batchSize"] = json!(4);
        batched["limit"] = json!(9);
        batched["skip"] = json!(2);
        let (_, one) = post("find", batched).await;
        assert_eq!(ids(&one), vec![2, 3, 4, 5]);
        let cursor = one["cursorId"].as_u64().unwrap();
        let (_, two) = post("getMore", json!({"cursorId": cursor})).await;
        assert_eq!(ids(&two), vec![6, 7, 8, 9]);
        let (_, three) = post("getMore", json!({"cursorId": cursor})).await;
        assert_eq!(
            (ids(&three), three["cursorId"].clone()),
            (vec![10], json!(0))
        );

        // killCursors closes; a killed cursor is gone.
        let mut batched = find.clone();
        batched["batchSize"] = json!(5);
        let (_, opened) = post("find", batched).await;
        let cursor = opened["cursorId"].as_u64().unwrap();
        let (_, killed) = post("killCursors", json!({"cursorIds": [cursor, 12345]})).await;
        assert_eq!(
            killed,
            json!({"cursorsKilled": [cursor], "cursorsNotFound": [12345]})
        );
        assert_eq!(post("getMore", json!({"cursorId": cursor})).await.0, 404);
        for bad in [json!({"cursorId": 0}), json!({"cursorId": "x"}), json!({})] {
            assert_eq!(post("getMore", bad).await.0, 400);
        }
        let mut zero = find.clone();
        zero["batchSize"] = json!(0);
        assert_eq!(post("find", zero).await.0, 400);
    }

    #[tokio::test]
    async fn openapi_describes_every_route_and_action_truthfully() {
        let app = app(&[]);
        let response = app
            .clone()
            .oneshot(
                axum::http::Request::get("/openapi.json")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let spec: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(spec["openapi"], "3.0.3");
        let paths = spec["paths"].as_object().unwrap();
        // Every action has a path, and every documented path is served
        // (the fallback answers 404 NotFound for anything else).
        for action in dataapi::Action::all() {
            let path = format!("/action/{}", action.name());
            let operation = &paths[&path]["post"];
            let properties =
                operation["requestBody"]["content"]["application/json"]["schema"]["properties"]
                    .as_object()
                    .unwrap();
            for field in action.fields() {
                assert!(properties.contains_key(*field), "{path} lacks {field}");
            }
        }
        for (path, item) in paths {
            let concrete = path.replace("{appId}", "app").replace("{action}", "find");
            for method in item.as_object().unwrap().keys() {
                let request = axum::http::Request::builder()
                    .method(method.to_uppercase().as_str())
                    .uri(&concrete)
                    .header("content-type", "application/json")
                    .body(Body::from(if method == "post" { "{}" } else { "" }))
                    .unwrap();
                let response = app.clone().oneshot(request).await.unwrap();
                let status = response.status().as_u16();
                let bytes = response.into_body().collect().await.unwrap().to_bytes();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                assert!(
                    !(status == 404 && body["error_code"] == "NotFound"),
                    "{method} {path} is documented but not served"
                );
            }
        }
        // /metrics is listed only where the binary serves it.
        assert!(!paths.contains_key("/metrics"));
        assert!(
            crate::openapi::document(true)["paths"]
                .as_object()
                .unwrap()
                .contains_key("/metrics")
        );
    }

    async fn rest(app: &Router, method: &str, path: &str, body: &str) -> (u16, Value) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn the_original_rest_routes_answer_in_their_envelopes() {
        let app = app(&[]);
        let ok = |reply: (u16, Value)| {
            assert_eq!(reply.0, 200, "{}", reply.1);
            assert_eq!(reply.1["ok"], json!(true), "{}", reply.1);
            reply.1["result"].clone()
        };
        let failed = |reply: (u16, Value), status: u16, error: &str| {
            assert_eq!(reply.0, status, "{}", reply.1);
            assert_eq!(reply.1["ok"], json!(false));
            assert_eq!(reply.1["error"], json!(error), "{}", reply.1);
            assert_eq!(reply.1["code"], json!(status));
            assert!(reply.1["message"].as_str().is_some_and(|m| !m.is_empty()));
        };
        assert_eq!(
            ok(rest(&app, "PUT", "/people", "").await),
            json!({"collection": "people"})
        );
        failed(
            rest(&app, "PUT", "/people", "").await,
            400,
            "NamespaceExists",
        );
        assert_eq!(
            ok(rest(&app, "POST", "/people/_doc", r#"{"_id": 1, "name": "ann"}"#).await),
            json!({"_id": 1})
        );
        let generated = ok(rest(&app, "POST", "/people/_doc", r#"{"name": "bob"}"#).await);
        let oid = generated["_id"].as_str().unwrap().to_string();
        assert_eq!(
            ok(rest(&app, "GET", &format!("/people/_doc/{oid}"), "").await)["name"],
            json!("bob")
        );
        assert_eq!(
            ok(rest(&app, "GET", "/people/_doc/1", "").await),
            json!({"_id": 1, "name": "ann"})
        );
        failed(
            rest(&app, "GET", "/people/_doc/99", "").await,
            404,
            "DocumentNotFound",
        );
        let put = ok(rest(&app, "PUT", "/people/_doc/2", r#"{"name": "cy"}"#).await);
        assert_eq!(put["upsertedId"], json!(2));
        assert_eq!(
            ok(rest(&app, "DELETE", "/people/_doc/2", "").await),
            json!({"deletedCount": 1})
        );
        failed(
            rest(&app, "DELETE", "/people/_doc/2", "").await,
            404,
            "DocumentNotFound",
        );
        assert_eq!(
            ok(rest(
                &app,
                "POST",
                "/people/_bulk",
                r#"[{"_id": 10}, {"_id": 11}]"#
            )
            .await),
            json!({"insertedIds": [10, 11]})
        );
        let bulk = ok(rest(
            &app,
            "POST",
            "/people/_bulkWrite",
            r#"{"operations": [{"deleteOne": {"filter": {"_id": 10}}}]}"#,
        )
        .await);
        assert_eq!(bulk["deletedCount"], json!(1));
        assert_eq!(
            ok(rest(
                &app,
                "POST",
                "/people/_search",
                r#"{"filter": {"_id": {"$gte": 10}}}"#
            )
            .await),
            json!({"documents": [{"_id": 11}]})
        );
        assert_eq!(ok(rest(&app, "GET", "/people/_count", "").await), json!(3));
        assert_eq!(
            ok(rest(&app, "POST", "/people/_count", r#"{"filter": {"_id": 1}}"#).await),
            json!(1)
        );
        assert_eq!(
            ok(rest(
                &app,
                "POST",
                "/people/_aggregate",
                r#"[{"$match": {}}, {"$count": "n"}]"#
            )
            .await),
            json!({"documents": [{"n": 3}]})
        );
        failed(
            rest(&app, "POST", "/people/_aggregate", r#"[{"$out": "x"}]"#).await,
            400,
            "NotImplemented",
        );
        assert_eq!(
            ok(rest(&app, "POST", "/people/_index", r#"{"key": {"_id": 1}}"#).await)["name"],
            json!("_id_")
        );
        assert_eq!(
            ok(rest(&app, "GET", "/people/_index", "").await),
            json!([{"v": 2, "key": {"_id": 1}, "name": "_id_"}])
        );
        failed(
            rest(&app, "DELETE", "/people/_index/n_1", "").await,
            400,
            "IndexNotFound",
        );
        let stats = ok(rest(&app, "GET", "/people/_stats", "").await);
        assert_eq!(
            (
                stats["count"].clone(),
                stats["indexes"].as_array().unwrap().len()
            ),
            (json!(3), 1)
        );
        assert_eq!(
            ok(rest(&app, "GET", "/_collections", "").await),
            json!(["people"])
        );
        assert_eq!(
            ok(rest(&app, "GET", "/_stats", "").await)["collections"],
            json!(1)
        );
        assert_eq!(
            ok(rest(&app, "GET", "/_health", "").await),
            json!({"status": "ok"})
        );
        failed(
            rest(&app, "POST", "/people/_doc", "{oops").await,
            400,
            "InvalidJSON",
        );
        failed(
            rest(&app, "POST", "/people/_search", "[1]").await,
            400,
            "BadValue",
        );
        // Everything above went to the configured REST database.
        let (_, listed) = call(
            &app,
            "/action/listCollections",
            &[],
            r#"{"database": "rest"}"#,
        )
        .await;
        assert_eq!(listed["collections"][0]["name"], json!("people"));
        assert_eq!(
            ok(rest(&app, "DELETE", "/people", "").await),
            json!({"collection": "people", "dropped": true})
        );
        assert_eq!(ok(rest(&app, "GET", "/_collections", "").await), json!([]));
    }

    #[tokio::test]
    async fn oversized_bodies_and_wrong_methods_get_json_errors() {
        let app = app(&[]);
        let huge = format!(
            r#"{{"database":"d","collection":"c","document":{{"x":"{}"}}}}"#,
            "a".repeat(MAX_BODY_BYTES + 10)
        );
        let (status, body) = call(&app, "/action/insertOne", &[], &huge).await;
        assert_eq!(
            (status, body["error_code"].clone()),
            (413, json!("BodyTooLarge"))
        );
        let (status, body) = rest(&app, "POST", "/people/_doc", &huge).await;
        assert_eq!(
            (status, body["error"].clone(), body["ok"].clone()),
            (413, json!("BodyTooLarge"), json!(false))
        );
        let (status, body) = rest(&app, "GET", "/people", "").await;
        assert_eq!(
            (status, body["error"].clone()),
            (405, json!("MethodNotAllowed"))
        );
        let (_, listed) = call(&app, "/action/listDatabases", &[], "{}").await;
        assert_eq!(listed, json!({"databases": []}), "nothing was written");
    }
}
