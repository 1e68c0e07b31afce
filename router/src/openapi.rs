//! `GET /openapi.json`: an OpenAPI 3 description of every route the router
//! serves.
//!
//! The document is generated from the same tables the request parser uses
//! (`Action::all`, `Action::fields`, `Action::scope`), so a field or action
//! added there appears here without a second list to keep in sync. Each
//! action gets its own path (`/action/find`, …) with its request and
//! response shapes; the Atlas-style `/app/{appId}/endpoint/data/v1/action/
//! {action}` takes the same bodies.

use lauradb_engine::dataapi::{Action, Scope};
use serde_json::{Map, Value, json};

/// The OpenAPI document; `/metrics` is listed when the binary serves it.
pub fn document(serves_metrics: bool) -> Value {
    let mut paths = Map::new();
    for action in Action::all() {
        paths.insert(format!("/action/{}", action.name()), action_path(action));
    }
    paths.insert(
        "/app/{appId}/endpoint/data/v1/action/{action}".into(),
        json!({"post": {
            "summary": "Any action, at the path the Atlas Data API uses; same bodies and answers as /action/{action}",
            "parameters": [
                {"name": "appId", "in": "path", "required": true, "schema": {"type": "string"}, "description": "ignored"},
                {"name": "action", "in": "path", "required": true,
                 "schema": {"type": "string", "enum": Action::all().map(Action::name).collect::<Vec<_>>()}},
                accept_header(),
            ],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": error_responses(json!({"description": "the action's answer", "content": {"application/json": {"schema": {"type": "object"}}}})),
        }}),
    );
    paths.insert(
        "/health".into(),
        json!({"get": {
            "summary": "Liveness of the router",
            "security": [],
            "responses": {"200": {"description": "serving", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}}}}}},
        }}),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {"schema": {"type": "object"}}}}},
        }}),
    );
    for (path, methods) in rest_paths() {
        paths.insert(path.into(), methods);
    }
    if serves_metrics {
        paths.insert(
            "/metrics".into(),
            json!({"get": {
                "summary": "Prometheus metrics (requests, latencies, Raft state)",
                "security": [],
                "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }}),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "LauraDB Data API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "MongoDB Atlas Data API v1 compatible, plus LauraDB's admin, cursor and sharding actions. Bodies are relaxed Extended JSON; answers are plain JSON, or canonical Extended JSON with `Accept: application/ejson`.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "api-key",
                           "description": "Required when the router is configured with API keys (also accepted: `apiKey` header, `Authorization: Bearer`)."},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error", "error_code"], "properties": {
                    "error": {"type": "string"}, "error_code": {"type": "string"}}},
            },
        },
        "security": [{"apiKey": []}],
    })
}

/// The original LauraDB's REST routes (see `http/rest.rs`), on the
/// configured REST database, answering `{"ok", "result"}` envelopes.
fn rest_paths() -> Vec<(&'static str, Value)> {
    let envelope = json!({"type": "object", "required": ["ok"], "properties": {
        "ok": {"type": "boolean"}, "result": {}, "error": {"type": "string"},
        "message": {"type": "string"}, "code": {"type": "integer"}}});
    let op = |summary: &str, body: bool| {
        let mut operation = json!({
            "summary": summary,
            "tags": ["LauraDB REST"],
            "responses": {
                "200": {"description": "{\"ok\": true, \"result\": …}", "content": {"application/json": {"schema": envelope}}},
                "default": {"description": "{\"ok\": false, \"error\", \"message\", \"code\"}", "content": {"application/json": {"schema": envelope}}},
            },
        });
        if body {
            operation["requestBody"] = json!({"content": {"application/json": {"schema": {}}}});
        }
        operation
    };
    let coll =
        json!({"name": "coll", "in": "path", "required": true, "schema": {"type": "string"}});
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"},
                    "description": "an integer _id if it reads as one, an ObjectId if 24 hex digits, else a string"});
    let name =
        json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}});
    let with = |params: &[&Value], methods: Vec<(&str, Value)>| {
        let mut item = serde_json::Map::new();
        for (method, mut operation) in methods {
            operation["parameters"] = json!(params);
            item.insert(method.into(), operation);
        }
        Value::Object(item)
    };
    vec![
        (
            "/_health",
            with(&[], vec![("get", op("Liveness (REST envelope)", false))]),
        ),
        (
            "/_collections",
            with(
                &[],
                vec![("get", op("Collection names of the REST database", false))],
            ),
        ),
        (
            "/_stats",
            with(
                &[],
                vec![(
                    "get",
                    op("Collections and size of the REST database", false),
                )],
            ),
        ),
        (
            "/{coll}",
            with(
                &[&coll],
                vec![
                    ("put", op("Create a collection", false)),
                    ("delete", op("Drop a collection", false)),
                ],
            ),
        ),
        (
            "/{coll}/_doc",
            with(
                &[&coll],
                vec![("post", op("Insert a document (the body)", true))],
            ),
        ),
        (
            "/{coll}/_doc/{id}",
            with(
                &[&coll, &id],
                vec![
                    ("get", op("A document by _id", false)),
                    ("put", op("Replace (or insert) a document by _id", true)),
                    ("delete", op("Delete a document by _id", false)),
                ],
            ),
        ),
        (
            "/{coll}/_bulk",
            with(
                &[&coll],
                vec![(
                    "post",
                    op("Insert documents: [docs] or {documents, ordered}", true),
                )],
            ),
        ),
        (
            "/{coll}/_bulkWrite",
            with(
                &[&coll],
                vec![("post", op("bulkWrite: {operations, ordered}", true))],
            ),
        ),
        (
            "/{coll}/_search",
            with(
                &[&coll],
                vec![(
                    "post",
                    op(
                        "find: {filter, projection, sort, skip, limit, batchSize}",
                        true,
                    ),
                )],
            ),
        ),
        (
            "/{coll}/_count",
            with(
                &[&coll],
                vec![
                    ("get", op("Count every document", false)),
                    (
                        "post",
                        op("Count matching documents: {filter, skip, limit}", true),
                    ),
                ],
            ),
        ),
        (
            "/{coll}/_aggregate",
            with(
                &[&coll],
                vec![("post", op("aggregate: [stages] or {pipeline}", true))],
            ),
        ),
        (
            "/{coll}/_index",
            with(
                &[&coll],
                vec![
                    ("post", op("createIndex: {key, name, unique}", true)),
                    ("get", op("listIndexes", false)),
                ],
            ),
        ),
        (
            "/{coll}/_index/{name}",
            with(&[&coll, &name], vec![("delete", op("dropIndex", false))]),
        ),
        (
            "/{coll}/_stats",
            with(
                &[&coll],
                vec![("get", op("Count and indexes of a collection", false))],
            ),
        ),
    ]
}

fn accept_header() -> Value {
    json!({"name": "Accept", "in": "header", "required": false,
           "schema": {"type": "string", "enum": ["application/json", "application/ejson"]},
           "description": "application/ejson selects canonical Extended JSON answers"})
}

fn action_path(action: Action) -> Value {
    let mut properties = Map::new();
    let mut required: Vec<&str> = Vec::new();
    properties.insert(
        "dataSource".into(),
        json!({"type": "string", "description": "accepted and ignored"}),
    );
    if action.scope() != Scope::Cluster {
        properties.insert("database".into(), json!({"type": "string"}));
        required.push("database");
    }
    if action.scope() == Scope::Collection {
        properties.insert("collection".into(), json!({"type": "string"}));
        required.push("collection");
    }
    for field in action.fields() {
        properties.insert((*field).into(), field_schema(action, field));
    }
    required.extend(required_fields(action));
    let mut post = json!({
        "summary": summary(action),
        "operationId": action.name(),
        "parameters": [accept_header()],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        }}}},
        "responses": error_responses(json!({"description": "done", "content": {"application/json": {"schema": response_schema(action)}}})),
    });
    if action == Action::Aggregate {
        post["description"] = json!(
            "Runs a pipeline of $match, $project, $addFields/$set, $unset, $sort, $skip, \
             $limit, $unwind, $group, $count, $sortByCount, $bucket, $replaceRoot/$replaceWith, \
             $lookup, $facet and $unionWith stages. $out and $merge answer 400 NotImplemented."
        );
    }
    json!({ "post": post })
}

fn error_responses(ok: Value) -> Value {
    let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "200": ok,
        "400": error("bad request: malformed JSON, unknown field or operator, wrong type, invalid document"),
        "401": error("missing or wrong API key"),
        "404": error("unknown action, or an unknown cursor"),
        "409": error("duplicate key, or a conflicting catalog change"),
        "413": error("body larger than the limit"),
        "503": error("no leader yet, or the outcome of a write is unknown: retry (see retryAfterMs)"),
    })
}

fn field_schema(action: Action, field: &str) -> Value {
    let objects = json!({"type": "array", "items": {"type": "object"}});
    match field {
        "filter" | "projection" | "sort" | "update" | "replacement" | "document" | "options" => {
            json!({"type": "object"})
        }
        "documents" | "pipeline" | "operations" | "arrayFilters" | "splitPoints" => objects,
        "cursorIds" => json!({"type": "array", "items": {"type": "integer"}}),
        "limit" | "skip" | "batchSize" | "numInitialChunks" | "cursorId" => {
            json!({"type": "integer"})
        }
        "upsert" | "ordered" | "unique" | "returnNewDocument" => json!({"type": "boolean"}),
        "returnDocument" => json!({"type": "string", "enum": ["before", "after"]}),
        "verbosity" => {
            json!({"type": "string", "enum": ["queryPlanner", "executionStats", "allPlansExecution"]})
        }
        "key" if action == Action::Distinct => json!({"type": "string"}),
        "key" => json!({"type": "object"}),
        _ => json!({"type": "string"}),
    }
}

fn required_fields(action: Action) -> &'static [&'static str] {
    match action {
        Action::InsertOne => &["document"],
        Action::InsertMany => &["documents"],
        Action::UpdateOne | Action::UpdateMany => &["filter", "update"],
        Action::ReplaceOne => &["filter", "replacement"],
        Action::DeleteOne | Action::DeleteMany => &["filter"],
        Action::Aggregate => &["pipeline"],
        Action::Distinct => &["key"],
        Action::FindOneAndUpdate => &["update"],
        Action::FindOneAndReplace => &["replacement"],
        Action::BulkWrite => &["operations"],
        Action::GetMore => &["cursorId"],
        Action::KillCursors => &["cursorIds"],
        Action::ShardCollection | Action::CreateIndex => &["key"],
        _ => &[],
    }
}

fn summary(action: Action) -> &'static str {
    match action {
        Action::FindOne => "The first matching document",
        Action::Find => "Matching documents (at most the result cap; batchSize opens a cursor)",
        Action::InsertOne => "Insert a document",
        Action::InsertMany => "Insert documents (ordered by default)",
        Action::UpdateOne => "Update one matching document",
        Action::UpdateMany => "Update every matching document",
        Action::ReplaceOne => "Replace one matching document",
        Action::DeleteOne => "Delete one matching document",
        Action::DeleteMany => "Delete every matching document",
        Action::Aggregate => "Run an aggregation pipeline",
        Action::CountDocuments => "Count matching documents",
        Action::EstimatedDocumentCount => "Count all documents",
        Action::Distinct => "Distinct values of a field",
        Action::FindOneAndUpdate => "Update one document and return it",
        Action::FindOneAndReplace => "Replace one document and return it",
        Action::FindOneAndDelete => "Delete one document and return it",
        Action::BulkWrite => "Several writes, one after the other",
        Action::GetMore => "The next batch of a cursor",
        Action::KillCursors => "Close cursors",
        Action::Explain => {
            "How a find is routed (and, with executionStats, what each shard returns)"
        }
        Action::CreateCollection => "Create a collection explicitly",
        Action::DropCollection => "Drop a collection and its documents",
        Action::ListCollections => "Collections of a database",
        Action::ListDatabases => "Databases with at least one collection",
        Action::DropDatabase => "Drop a database",
        Action::ListIndexes => "Indexes of a collection",
        Action::CreateIndex => {
            "Create an index (only the _id index exists until secondary indexes land)"
        }
        Action::DropIndex => "Drop an index (the _id index cannot be dropped)",
        Action::ShardCollection => "Shard a collection by a ranged or hashed key",
    }
}

fn response_schema(action: Action) -> Value {
    let int = json!({"type": "integer"});
    let any = json!({});
    let array = json!({"type": "array", "items": {"type": "object"}});
    let object = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required});
    match action {
        Action::Find => object(
            json!({"documents": array, "cursorId": int, "truncated": {"type": "boolean"}}),
            &["documents"],
        ),
        Action::Aggregate => object(json!({"documents": array}), &["documents"]),
        Action::GetMore => object(
            json!({"documents": array, "cursorId": int}),
            &["documents", "cursorId"],
        ),
        Action::FindOne
        | Action::FindOneAndUpdate
        | Action::FindOneAndReplace
        | Action::FindOneAndDelete => object(
            json!({"document": {"type": "object", "nullable": true}}),
            &["document"],
        ),
        Action::InsertOne => object(json!({"insertedId": any}), &["insertedId"]),
        Action::InsertMany => object(json!({"insertedIds": {"type": "array"}}), &["insertedIds"]),
        Action::UpdateOne | Action::UpdateMany | Action::ReplaceOne => object(
            json!({"matchedCount": int, "modifiedCount": int, "upsertedId": any}),
            &["matchedCount", "modifiedCount"],
        ),
        Action::DeleteOne | Action::DeleteMany => {
            object(json!({"deletedCount": int}), &["deletedCount"])
        }
        Action::CountDocuments | Action::EstimatedDocumentCount => {
            object(json!({"count": int}), &["count"])
        }
        Action::Distinct => object(json!({"values": {"type": "array"}}), &["values"]),
        Action::BulkWrite => object(
            json!({"insertedCount": int, "matchedCount": int, "modifiedCount": int, "deletedCount": int,
                   "upsertedCount": int, "insertedIds": {"type": "object"}, "upsertedIds": {"type": "object"}}),
            &[
                "insertedCount",
                "matchedCount",
                "modifiedCount",
                "deletedCount",
                "upsertedCount",
            ],
        ),
        Action::KillCursors => object(
            json!({"cursorsKilled": {"type": "array", "items": int}, "cursorsNotFound": {"type": "array", "items": int}}),
            &["cursorsKilled", "cursorsNotFound"],
        ),
        Action::Explain => object(
            json!({"queryPlanner": {"type": "object"}, "placement": {"type": "object"}, "executionStats": {"type": "object"}}),
            &["queryPlanner"],
        ),
        Action::CreateCollection | Action::DropCollection | Action::DropDatabase => {
            object(json!({"ok": int}), &["ok"])
        }
        Action::ListCollections => object(json!({"collections": array}), &["collections"]),
        Action::ListDatabases => object(json!({"databases": array}), &["databases"]),
        Action::ListIndexes => object(json!({"indexes": array}), &["indexes"]),
        Action::CreateIndex => object(json!({"name": {"type": "string"}}), &["name"]),
        Action::DropIndex => object(json!({}), &[]),
        Action::ShardCollection => object(
            json!({"collectionsharded": {"type": "string"}, "shardKey": {"type": "object"}, "chunks": int,
                   "shards": {"type": "array", "items": int}, "alreadySharded": {"type": "boolean"}}),
            &["collectionsharded", "shardKey"],
        ),
    }
}
