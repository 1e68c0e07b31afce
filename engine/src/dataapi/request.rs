//! Parsing Data API requests into engine reads and replicated writes.

use std::str::FromStr;

use bson::{Bson, Document};

use crate::command::{FindAndModifyAction, Namespace, Operation, UpdateKind};
use crate::engine::FindOptions;
use crate::{Error, aggregate, document};

use super::response::ApiError;

/// A Data API action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    FindOne,
    Find,
    InsertOne,
    InsertMany,
    UpdateOne,
    UpdateMany,
    ReplaceOne,
    DeleteOne,
    DeleteMany,
    Aggregate,
    CountDocuments,
    EstimatedDocumentCount,
    Distinct,
    FindOneAndUpdate,
    FindOneAndReplace,
    FindOneAndDelete,
    CreateCollection,
    DropCollection,
    ShardCollection,
    Explain,
    ListCollections,
    ListDatabases,
    DropDatabase,
    ListIndexes,
    CreateIndex,
    DropIndex,
    BulkWrite,
    GetMore,
    KillCursors,
}

/// What a request addresses: one collection, one database, or the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Collection,
    Database,
    Cluster,
}

/// Every action and its name in URLs, in documentation order.
const ACTIONS: &[(&str, Action)] = &[
    ("findOne", Action::FindOne),
    ("find", Action::Find),
    ("insertOne", Action::InsertOne),
    ("insertMany", Action::InsertMany),
    ("updateOne", Action::UpdateOne),
    ("updateMany", Action::UpdateMany),
    ("replaceOne", Action::ReplaceOne),
    ("deleteOne", Action::DeleteOne),
    ("deleteMany", Action::DeleteMany),
    ("aggregate", Action::Aggregate),
    ("countDocuments", Action::CountDocuments),
    ("estimatedDocumentCount", Action::EstimatedDocumentCount),
    ("distinct", Action::Distinct),
    ("findOneAndUpdate", Action::FindOneAndUpdate),
    ("findOneAndReplace", Action::FindOneAndReplace),
    ("findOneAndDelete", Action::FindOneAndDelete),
    ("bulkWrite", Action::BulkWrite),
    ("getMore", Action::GetMore),
    ("killCursors", Action::KillCursors),
    ("explain", Action::Explain),
    ("createCollection", Action::CreateCollection),
    ("dropCollection", Action::DropCollection),
    ("listCollections", Action::ListCollections),
    ("listDatabases", Action::ListDatabases),
    ("dropDatabase", Action::DropDatabase),
    ("listIndexes", Action::ListIndexes),
    ("createIndex", Action::CreateIndex),
    ("dropIndex", Action::DropIndex),
    ("shardCollection", Action::ShardCollection),
];

impl FromStr for Action {
    type Err = ApiError;

    fn from_str(name: &str) -> Result<Action, ApiError> {
        ACTIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, action)| *action)
            .ok_or_else(|| ApiError::unknown_action(name))
    }
}

impl Action {
    /// Every action, in documentation order.
    pub fn all() -> impl Iterator<Item = Action> {
        ACTIONS.iter().map(|(_, action)| *action)
    }

    /// The action's name in URLs (`findOne`).
    pub fn name(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(name, _)| *name)
            .unwrap_or("unknown")
    }

    /// The body fields this action accepts besides `dataSource`, `database`, `collection`.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Action::FindOne => &["filter", "projection", "sort"],
            Action::Find => &["filter", "projection", "sort", "limit", "skip", "batchSize"],
            Action::InsertOne => &["document"],
            Action::InsertMany => &["documents", "ordered"],
            Action::UpdateOne | Action::UpdateMany => {
                &["filter", "update", "upsert", "arrayFilters"]
            }
            Action::ReplaceOne => &["filter", "replacement", "upsert"],
            Action::DeleteOne | Action::DeleteMany => &["filter"],
            Action::Aggregate => &["pipeline", "batchSize"],
            Action::CountDocuments => &["filter", "skip", "limit"],
            Action::EstimatedDocumentCount => &[],
            Action::Distinct => &["key", "filter"],
            Action::FindOneAndUpdate => &[
                "filter",
                "update",
                "sort",
                "projection",
                "upsert",
                "returnDocument",
                "returnNewDocument",
                "arrayFilters",
            ],
            Action::FindOneAndReplace => &[
                "filter",
                "replacement",
                "sort",
                "projection",
                "upsert",
                "returnDocument",
                "returnNewDocument",
            ],
            Action::FindOneAndDelete => &["filter", "sort", "projection"],
            Action::CreateCollection => &["options"],
            Action::DropCollection => &[],
            Action::ShardCollection => &["key", "unique", "numInitialChunks", "splitPoints"],
            Action::Explain => &["filter", "projection", "sort", "limit", "skip", "verbosity"],
            Action::ListCollections | Action::ListDatabases | Action::DropDatabase => &[],
            Action::ListIndexes => &[],
            Action::CreateIndex => &["key", "name", "unique"],
            Action::DropIndex => &["name", "key"],
            Action::BulkWrite => &["operations", "ordered"],
            Action::GetMore => &["cursorId", "batchSize"],
            Action::KillCursors => &["cursorIds"],
        }
    }

    /// Whether the body names a collection, only a database, or neither.
    pub fn scope(self) -> Scope {
        match self {
            Action::ListDatabases | Action::GetMore | Action::KillCursors => Scope::Cluster,
            Action::ListCollections | Action::DropDatabase => Scope::Database,
            _ => Scope::Collection,
        }
    }
}

/// A parsed request: the action, its collection and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub action: Action,
    pub ns: Namespace,
    body: Document,
}

/// A read the engine answers without replication. Serializable, so a router
/// can ship it to the replica that runs it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ReadRequest {
    Find {
        ns: Namespace,
        options: FindOptions,
        one: bool,
    },
    Count {
        ns: Namespace,
        #[serde(with = "crate::wire::document")]
        filter: Document,
        skip: u64,
        limit: u64,
    },
    EstimatedCount {
        ns: Namespace,
    },
    Distinct {
        ns: Namespace,
        key: String,
        #[serde(with = "crate::wire::document")]
        filter: Document,
    },
    /// An aggregation pipeline over one collection. `now_millis` is `$$NOW`,
    /// decided when the request was planned; with `partial_group` the
    /// pipeline ends with a mergeable `$group` and the answer is its partial
    /// states (a router merges them).
    Aggregate {
        ns: Namespace,
        #[serde(with = "crate::wire::documents")]
        pipeline: Vec<Document>,
        now_millis: i64,
        partial_group: bool,
    },
    /// The collections of a database.
    ListCollections {
        db: String,
    },
    /// Every database that has a collection.
    ListDatabases,
    /// The indexes of a collection.
    ListIndexes {
        ns: Namespace,
    },
}

impl ReadRequest {
    /// The collection the read looks at (`None` for database- and
    /// cluster-wide listings).
    pub fn namespace(&self) -> Option<&Namespace> {
        match self {
            ReadRequest::Find { ns, .. }
            | ReadRequest::Count { ns, .. }
            | ReadRequest::EstimatedCount { ns }
            | ReadRequest::Distinct { ns, .. }
            | ReadRequest::Aggregate { ns, .. }
            | ReadRequest::ListIndexes { ns } => Some(ns),
            ReadRequest::ListCollections { .. } | ReadRequest::ListDatabases => None,
        }
    }
}

/// What executing a request takes. Built once per request and moved once, so
/// the size difference between variants costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Read(ReadRequest),
    Write(Operation),
    /// Shard a collection (cluster routers only).
    ShardCollection(ShardCollectionSpec),
    /// Several writes, one after the other (not atomic, as in MongoDB);
    /// ordered ones stop at the first error.
    BulkWrite {
        operations: Vec<BulkOperation>,
        ordered: bool,
    },
    /// A `find` answered in batches: the first `batch_size` documents and a
    /// cursor id for the rest (see `getMore`).
    Cursor {
        read: ReadRequest,
        batch_size: u64,
    },
    /// The next batch of an open cursor.
    GetMore {
        cursor_id: u64,
        batch_size: Option<u64>,
    },
    /// Closes cursors.
    KillCursors(Vec<u64>),
    /// Answered without touching data (e.g. `createIndex` of the `_id`
    /// index, which always exists).
    Answer(Document),
    /// Say how a `find` is routed; with `execution_stats`, also run it and
    /// count what each shard returns.
    Explain {
        read: ReadRequest,
        execution_stats: bool,
    },
}

/// One write of a `bulkWrite`, with the action whose response shape it has.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pub action: Action,
    pub op: Operation,
}

/// What `shardCollection` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardCollectionSpec {
    pub ns: Namespace,
    /// The shard key pattern, e.g. `{k: 1}` or `{_id: "hashed"}`.
    pub key: Document,
    /// A unique shard key (enforced per chunk only, as in MongoDB, when the
    /// key is `_id` or the key's values are the documents' identities).
    pub unique: bool,
    /// Initial chunks of an empty collection with a hashed key (default:
    /// two per shard).
    pub num_initial_chunks: Option<u64>,
    /// Initial chunk bounds of an empty collection with a ranged key
    /// (`[{k: 100}, {k: 200}]`); the chunks go round-robin to the shards.
    pub split_points: Vec<Document>,
}

impl Request {
    /// Parses an action name and a JSON body.
    pub fn parse(action: &str, body: &[u8]) -> Result<Request, ApiError> {
        let action = Action::from_str(action)?;
        let body = super::document_from_json_bytes(body)?;
        Request::from_document(action, body)
    }

    /// Builds a request from an already parsed body.
    pub fn from_document(action: Action, mut body: Document) -> Result<Request, ApiError> {
        let scope = action.scope();
        let database = match scope {
            Scope::Cluster => {
                body.remove("database");
                String::new()
            }
            _ => take_string(&mut body, "database")?,
        };
        let collection = match scope {
            Scope::Collection => take_string(&mut body, "collection")?,
            _ => {
                body.remove("collection");
                String::new()
            }
        };
        if let Some(source) = body.remove("dataSource")
            && !matches!(source, Bson::String(_))
        {
            return Err(bad("'dataSource' must be a string"));
        }
        if let Some(unknown) = body.keys().find(|k| !action.fields().contains(&k.as_str())) {
            return Err(bad(format!("unknown field '{unknown}' for this action")));
        }
        Ok(Request {
            action,
            ns: Namespace::new(database, collection),
            body,
        })
    }

    /// Decides how to execute the request. `new_id` generates `_id`s for
    /// inserted documents that have none (and for upserts).
    pub fn into_plan(self, mut new_id: impl FnMut() -> Bson) -> Result<Plan, ApiError> {
        let Request {
            action,
            ns,
            mut body,
        } = self;
        let b = &mut body;
        let plan = match action {
            Action::Find | Action::FindOne => {
                let one = action == Action::FindOne;
                let options = FindOptions {
                    filter: opt_doc(b, "filter")?,
                    sort: opt_doc(b, "sort")?,
                    projection: opt_doc(b, "projection")?,
                    skip: opt_count(b, "skip")?,
                    limit: if one { 1 } else { opt_limit(b)? },
                };
                let read = ReadRequest::Find { ns, options, one };
                match opt_batch_size(b)? {
                    Some(batch_size) => Plan::Cursor { read, batch_size },
                    None => Plan::Read(read),
                }
            }
            Action::CountDocuments => Plan::Read(ReadRequest::Count {
                ns,
                filter: opt_doc(b, "filter")?,
                skip: opt_count(b, "skip")?,
                limit: opt_count(b, "limit")?,
            }),
            Action::EstimatedDocumentCount => Plan::Read(ReadRequest::EstimatedCount { ns }),
            Action::Distinct => Plan::Read(ReadRequest::Distinct {
                ns,
                key: take_string(b, "key")?,
                filter: opt_doc(b, "filter")?,
            }),
            Action::InsertOne => {
                let doc = req_doc(b, "document")?;
                Plan::Write(Operation::Insert {
                    ns,
                    documents: vec![with_id(doc, &mut new_id)],
                    ordered: true,
                })
            }
            Action::InsertMany => {
                let docs = match b.remove("documents") {
                    Some(Bson::Array(items)) if !items.is_empty() => items,
                    Some(Bson::Array(_)) => return Err(bad("'documents' must not be empty")),
                    Some(other) => {
                        return Err(bad(format!(
                            "'documents' must be an array, not {}",
                            crate::value::type_name(&other)
                        )));
                    }
                    None => return Err(bad("missing required field 'documents'")),
                };
                let documents = docs
                    .into_iter()
                    .enumerate()
                    .map(|(i, d)| match d {
                        Bson::Document(d) => Ok(with_id(d, &mut new_id)),
                        other => Err(bad(format!(
                            "documents[{i}] must be an object, not {}",
                            crate::value::type_name(&other)
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let ordered = opt_bool(b, "ordered")?.unwrap_or(true);
                Plan::Write(Operation::Insert {
                    ns,
                    documents,
                    ordered,
                })
            }
            Action::UpdateOne | Action::UpdateMany | Action::ReplaceOne => {
                let filter = req_doc(b, "filter")?;
                let kind = if action == Action::ReplaceOne {
                    replacement(b)?
                } else {
                    operators(b)?
                };
                let upsert = opt_bool(b, "upsert")?.unwrap_or(false);
                Plan::Write(Operation::Update {
                    ns,
                    filter,
                    kind,
                    multi: action == Action::UpdateMany,
                    upsert,
                    upsert_id: upsert.then(&mut new_id),
                })
            }
            Action::DeleteOne | Action::DeleteMany => Plan::Write(Operation::Delete {
                ns,
                filter: req_doc(b, "filter")?,
                multi: action == Action::DeleteMany,
            }),
            Action::FindOneAndUpdate | Action::FindOneAndReplace | Action::FindOneAndDelete => {
                let filter = opt_doc(b, "filter")?;
                let sort = opt_doc(b, "sort")?;
                let projection = opt_doc(b, "projection")?;
                let modify = match action {
                    Action::FindOneAndUpdate => FindAndModifyAction::Update(operators(b)?),
                    Action::FindOneAndReplace => FindAndModifyAction::Update(replacement(b)?),
                    _ => FindAndModifyAction::Delete,
                };
                let return_new = return_new(b)?;
                let upsert = opt_bool(b, "upsert")?.unwrap_or(false);
                Plan::Write(Operation::FindAndModify {
                    ns,
                    filter,
                    sort,
                    projection,
                    action: modify,
                    return_new,
                    upsert,
                    upsert_id: upsert.then(&mut new_id),
                })
            }
            Action::CreateCollection => Plan::Write(Operation::CreateCollection {
                ns,
                options: crate::command::CollectionOptions {
                    raw: opt_doc(b, "options")?,
                },
            }),
            Action::DropCollection => Plan::Write(Operation::DropCollection { ns }),
            Action::ShardCollection => {
                let key = req_doc(b, "key")?;
                let unique = opt_bool(b, "unique")?.unwrap_or(false);
                let num_initial_chunks = match b.remove("numInitialChunks") {
                    None | Some(Bson::Null) => None,
                    Some(v) => {
                        let n = whole_number("numInitialChunks", &v)?;
                        Some(
                            u64::try_from(n)
                                .ok()
                                .filter(|n| (1..=8192).contains(n))
                                .ok_or_else(|| {
                                    bad(format!(
                                        "'numInitialChunks' must be between 1 and 8192, got {n}"
                                    ))
                                })?,
                        )
                    }
                };
                let split_points = match b.remove("splitPoints") {
                    None | Some(Bson::Null) => Vec::new(),
                    Some(Bson::Array(items)) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| match item {
                            Bson::Document(d) => Ok(d),
                            other => Err(bad(format!(
                                "splitPoints[{i}] must be an object, not {}",
                                crate::value::type_name(&other)
                            ))),
                        })
                        .collect::<Result<_, _>>()?,
                    Some(other) => {
                        return Err(bad(format!(
                            "'splitPoints' must be an array, not {}",
                            crate::value::type_name(&other)
                        )));
                    }
                };
                Plan::ShardCollection(ShardCollectionSpec {
                    ns,
                    key,
                    unique,
                    num_initial_chunks,
                    split_points,
                })
            }
            Action::Explain => {
                let execution_stats = match b.remove("verbosity") {
                    None | Some(Bson::Null) => false,
                    Some(Bson::String(v)) if v == "queryPlanner" => false,
                    Some(Bson::String(v)) if v == "executionStats" || v == "allPlansExecution" => {
                        true
                    }
                    Some(other) => {
                        return Err(bad(format!(
                            "'verbosity' must be \"queryPlanner\", \"executionStats\" or \"allPlansExecution\", not {other}"
                        )));
                    }
                };
                Plan::Explain {
                    read: ReadRequest::Find {
                        ns,
                        options: FindOptions {
                            filter: opt_doc(b, "filter")?,
                            sort: opt_doc(b, "sort")?,
                            projection: opt_doc(b, "projection")?,
                            skip: opt_count(b, "skip")?,
                            limit: opt_limit(b)?,
                        },
                        one: false,
                    },
                    execution_stats,
                }
            }
            Action::ListCollections => Plan::Read(ReadRequest::ListCollections { db: ns.db }),
            Action::ListDatabases => Plan::Read(ReadRequest::ListDatabases),
            Action::DropDatabase => Plan::Write(Operation::DropDatabase { db: ns.db }),
            Action::ListIndexes => Plan::Read(ReadRequest::ListIndexes { ns }),
            Action::CreateIndex => {
                let key = req_doc(b, "key")?;
                let name = match b.remove("name") {
                    None | Some(Bson::Null) => None,
                    Some(Bson::String(name)) => Some(name),
                    Some(other) => {
                        return Err(bad(format!(
                            "'name' must be a string, not {}",
                            crate::value::type_name(&other)
                        )));
                    }
                };
                opt_bool(b, "unique")?;
                let is_id = key.len() == 1
                    && key
                        .get("_id")
                        .and_then(crate::value::Number::from_bson)
                        .map(|n| n.as_f64())
                        == Some(1.0);
                if !is_id {
                    return Err(ApiError::from(Error::NotSupported(format!(
                        "index {key}: only the _id index exists until secondary indexes land"
                    ))));
                }
                if name.as_deref().is_some_and(|n| n != "_id_") {
                    return Err(bad("the _id index is always named '_id_'"));
                }
                Plan::Answer(bson::doc! { "name": "_id_", "note": "the _id index always exists" })
            }
            Action::DropIndex => {
                let name = match (b.remove("name"), b.remove("key")) {
                    (Some(Bson::String(name)), None) => name,
                    (None, Some(Bson::Document(key))) => {
                        if key.len() == 1 && key.contains_key("_id") {
                            "_id_".to_string()
                        } else {
                            return Err(ApiError::from(Error::IndexNotFound(key.to_string())));
                        }
                    }
                    _ => {
                        return Err(bad(
                            "dropIndex needs exactly one of 'name' (a string) or 'key' (an object)",
                        ));
                    }
                };
                if name == "_id_" {
                    return Err(ApiError::bad_request(
                        "InvalidOptions",
                        "cannot drop the _id index",
                    ));
                }
                return Err(ApiError::from(Error::IndexNotFound(format!(
                    "{name} on {ns}"
                ))));
            }
            Action::GetMore => {
                let cursor_id = match b.remove("cursorId") {
                    Some(v) => cursor_id(&v)?,
                    None => return Err(bad("missing required field 'cursorId'")),
                };
                Plan::GetMore {
                    cursor_id,
                    batch_size: opt_batch_size(b)?,
                }
            }
            Action::KillCursors => match b.remove("cursorIds") {
                Some(Bson::Array(ids)) => {
                    Plan::KillCursors(ids.iter().map(cursor_id).collect::<Result<_, _>>()?)
                }
                Some(other) => {
                    return Err(bad(format!(
                        "'cursorIds' must be an array, not {}",
                        crate::value::type_name(&other)
                    )));
                }
                None => return Err(bad("missing required field 'cursorIds'")),
            },
            Action::BulkWrite => {
                let ordered = opt_bool(b, "ordered")?.unwrap_or(true);
                let items = match b.remove("operations") {
                    Some(Bson::Array(items)) if !items.is_empty() => items,
                    Some(Bson::Array(_)) => return Err(bad("'operations' must not be empty")),
                    Some(other) => {
                        return Err(bad(format!(
                            "'operations' must be an array, not {}",
                            crate::value::type_name(&other)
                        )));
                    }
                    None => return Err(bad("missing required field 'operations'")),
                };
                let mut operations = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    operations.push(bulk_operation(
                        i,
                        item,
                        &ns,
                        &mut new_id as &mut dyn FnMut() -> Bson,
                    )?);
                }
                Plan::BulkWrite {
                    operations,
                    ordered,
                }
            }
            Action::Aggregate => {
                let pipeline = match b.remove("pipeline") {
                    Some(value) => aggregate::pipeline_documents(&value)?,
                    None => return Err(bad("missing required field 'pipeline'")),
                };
                if pipeline.len() > aggregate::MAX_STAGES {
                    return Err(bad(format!(
                        "a pipeline may have at most {} stages, this one has {}",
                        aggregate::MAX_STAGES,
                        pipeline.len()
                    )));
                }
                // Validate here: a bad pipeline is one clear 400 before any
                // shard is asked.
                aggregate::Pipeline::parse(&pipeline, &aggregate::ParseScope::with_now([]))?;
                let read = ReadRequest::Aggregate {
                    ns,
                    pipeline,
                    now_millis: wall_clock_millis(),
                    partial_group: false,
                };
                match opt_batch_size(b)? {
                    Some(batch_size) => Plan::Cursor { read, batch_size },
                    None => Plan::Read(read),
                }
            }
        };
        Ok(plan)
    }
}

/// One `bulkWrite` entry: `{insertOne: {document}}`, `{updateOne: {filter,
/// update, upsert, arrayFilters}}`, `{updateMany: …}`, `{replaceOne:
/// {filter, replacement, upsert}}`, `{deleteOne: {filter}}` or
/// `{deleteMany: {filter}}` — each checked like the action of that name.
fn bulk_operation(
    index: usize,
    item: Bson,
    ns: &Namespace,
    new_id: &mut dyn FnMut() -> Bson,
) -> Result<BulkOperation, ApiError> {
    let Bson::Document(item) = item else {
        return Err(bad(format!("operations[{index}] must be an object")));
    };
    let mut entries = item.into_iter();
    let (Some((name, Bson::Document(mut fields))), None) = (entries.next(), entries.next()) else {
        return Err(bad(format!(
            "operations[{index}] must be an object with one field naming the write, e.g. {{\"insertOne\": {{\"document\": …}}}}"
        )));
    };
    let action = match name.as_str() {
        "insertOne" => Action::InsertOne,
        "updateOne" => Action::UpdateOne,
        "updateMany" => Action::UpdateMany,
        "replaceOne" => Action::ReplaceOne,
        "deleteOne" => Action::DeleteOne,
        "deleteMany" => Action::DeleteMany,
        other => {
            return Err(bad(format!(
                "operations[{index}]: '{other}' is not a bulkWrite operation (insertOne, updateOne, updateMany, replaceOne, deleteOne, deleteMany)"
            )));
        }
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !action.fields().contains(&k.as_str()))
    {
        return Err(bad(format!(
            "operations[{index}]: unknown field '{unknown}' for {name}"
        )));
    }
    fields.insert("database", ns.db.clone());
    fields.insert("collection", ns.collection.clone());
    let request = Request::from_document(action, fields)?;
    match request.into_plan(&mut *new_id).map_err(|mut e| {
        e.message = format!("operations[{index}]: {}", e.message);
        e
    })? {
        Plan::Write(op) => Ok(BulkOperation { action, op }),
        _ => Err(bad(format!("operations[{index}] is not a write"))),
    }
}

/// `$$NOW` of a pipeline: the planner's wall clock (reads only; a write's
/// clock value travels inside its command).
fn wall_clock_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("BadValue", message)
}

fn take_string(body: &mut Document, field: &str) -> Result<String, ApiError> {
    match body.remove(field) {
        Some(Bson::String(s)) if !s.is_empty() => Ok(s),
        Some(Bson::String(_)) => Err(bad(format!("'{field}' must not be empty"))),
        Some(other) => Err(bad(format!(
            "'{field}' must be a string, not {}",
            crate::value::type_name(&other)
        ))),
        None => Err(bad(format!("missing required field '{field}'"))),
    }
}

fn opt_doc(body: &mut Document, field: &str) -> Result<Document, ApiError> {
    match body.remove(field) {
        None | Some(Bson::Null) => Ok(Document::new()),
        Some(Bson::Document(d)) => Ok(d),
        Some(other) => Err(bad(format!(
            "'{field}' must be an object, not {}",
            crate::value::type_name(&other)
        ))),
    }
}

fn req_doc(body: &mut Document, field: &str) -> Result<Document, ApiError> {
    match body.remove(field) {
        Some(Bson::Document(d)) => Ok(d),
        Some(other) => Err(bad(format!(
            "'{field}' must be an object, not {}",
            crate::value::type_name(&other)
        ))),
        None => Err(bad(format!("missing required field '{field}'"))),
    }
}

fn opt_bool(body: &mut Document, field: &str) -> Result<Option<bool>, ApiError> {
    match body.remove(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Boolean(b)) => Ok(Some(b)),
        Some(other) => Err(bad(format!(
            "'{field}' must be a boolean, not {}",
            crate::value::type_name(&other)
        ))),
    }
}

/// A whole number, as MongoDB accepts for skip/limit (integral doubles too).
fn whole_number(field: &str, value: &Bson) -> Result<i64, ApiError> {
    match value {
        Bson::Int32(i) => Ok(i64::from(*i)),
        Bson::Int64(i) => Ok(*i),
        Bson::Double(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(*f as i64),
        other => Err(bad(format!(
            "'{field}' must be a whole number, not {other}"
        ))),
    }
}

/// `batchSize`: a positive whole number, if given.
fn opt_batch_size(body: &mut Document) -> Result<Option<u64>, ApiError> {
    match body.remove("batchSize") {
        None | Some(Bson::Null) => Ok(None),
        Some(v) => {
            let n = whole_number("batchSize", &v)?;
            u64::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| bad(format!("'batchSize' must be positive, got {n}")))
        }
    }
}

/// A cursor id: a positive whole number (or its decimal string).
fn cursor_id(value: &Bson) -> Result<u64, ApiError> {
    let parsed = match value {
        Bson::String(s) => s.parse::<u64>().ok(),
        other => whole_number("cursorId", other)
            .ok()
            .and_then(|n| u64::try_from(n).ok()),
    };
    parsed.filter(|id| *id > 0).ok_or_else(|| {
        bad(format!(
            "a cursor id must be a positive whole number, not {value}"
        ))
    })
}

fn opt_count(body: &mut Document, field: &str) -> Result<u64, ApiError> {
    match body.remove(field) {
        None | Some(Bson::Null) => Ok(0),
        Some(v) => {
            let n = whole_number(field, &v)?;
            u64::try_from(n).map_err(|_| bad(format!("'{field}' must not be negative, got {n}")))
        }
    }
}

/// MongoDB's find limit: 0 = no limit, a negative limit means "at most |n|".
fn opt_limit(body: &mut Document) -> Result<u64, ApiError> {
    match body.remove("limit") {
        None | Some(Bson::Null) => Ok(0),
        Some(v) => Ok(whole_number("limit", &v)?.unsigned_abs()),
    }
}

fn operators(body: &mut Document) -> Result<UpdateKind, ApiError> {
    let update = match body.remove("update") {
        Some(Bson::Document(d)) => d,
        Some(Bson::Array(_)) => {
            return Err(ApiError::from(Error::NotSupported(
                "pipeline-style updates (aggregation pipelines arrive with the aggregation issue)"
                    .into(),
            )));
        }
        Some(other) => {
            return Err(bad(format!(
                "'update' must be an object, not {}",
                crate::value::type_name(&other)
            )));
        }
        None => return Err(bad("missing required field 'update'")),
    };
    let array_filters = match body.remove("arrayFilters") {
        None | Some(Bson::Null) => Vec::new(),
        Some(Bson::Array(items)) => items
            .into_iter()
            .map(|f| match f {
                Bson::Document(d) => Ok(d),
                other => Err(bad(format!(
                    "each array filter must be an object, not {}",
                    crate::value::type_name(&other)
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(bad(format!(
                "'arrayFilters' must be an array, not {}",
                crate::value::type_name(&other)
            )));
        }
    };
    Ok(UpdateKind::Operators {
        update,
        array_filters,
    })
}

fn replacement(body: &mut Document) -> Result<UpdateKind, ApiError> {
    Ok(UpdateKind::Replacement(req_doc(body, "replacement")?))
}

fn return_new(body: &mut Document) -> Result<bool, ApiError> {
    let by_name = match body.remove("returnDocument") {
        None | Some(Bson::Null) => None,
        Some(Bson::String(s)) if s == "after" => Some(true),
        Some(Bson::String(s)) if s == "before" => Some(false),
        Some(other) => {
            return Err(bad(format!(
                "'returnDocument' must be \"before\" or \"after\", not {other}"
            )));
        }
    };
    let by_flag = opt_bool(body, "returnNewDocument")?;
    Ok(by_name.or(by_flag).unwrap_or(false))
}

/// Gives a document an `_id` (first) when it has none.
fn with_id(doc: Document, new_id: &mut impl FnMut() -> Bson) -> Document {
    if doc.contains_key("_id") {
        document::ensure_id_first(doc, || Bson::Null)
    } else {
        document::ensure_id_first(doc, new_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(action: &str, body: &str) -> Result<Plan, ApiError> {
        let mut next = 0;
        Request::parse(action, body.as_bytes())?.into_plan(|| {
            next += 1;
            Bson::Int32(1000 + next)
        })
    }

    #[test]
    fn find_parses_options() {
        let p = plan(
            "find",
            r#"{"database":"d","collection":"c","filter":{"a":1},"limit":-2,"skip":1}"#,
        )
        .unwrap();
        let Plan::Read(ReadRequest::Find {
            options,
            one: false,
            ..
        }) = p
        else {
            panic!("{p:?}")
        };
        assert_eq!(options.limit, 2);
        assert_eq!(options.skip, 1);
        assert_eq!(options.filter, bson::doc! {"a": 1});
    }

    #[test]
    fn inserts_get_generated_ids_first() {
        let p = plan(
            "insertOne",
            r#"{"database":"d","collection":"c","document":{"a":1}}"#,
        )
        .unwrap();
        let Plan::Write(Operation::Insert { documents, .. }) = p else {
            panic!()
        };
        assert_eq!(documents[0], bson::doc! {"_id": 1001, "a": 1});
    }

    #[test]
    fn errors_name_the_problem() {
        let err = |a: &str, b: &str| plan(a, b).unwrap_err().message;
        assert!(err("frobnicate", "{}").contains("frobnicate"));
        assert!(err("find", "{not json").contains("not valid JSON"));
        assert!(err("find", r#"{"database":"d"}"#).contains("'collection'"));
        assert!(
            err(
                "insertMany",
                r#"{"database":"d","collection":"c","documents":{"a":1}}"#
            )
            .contains("array")
        );
        assert!(err("find", r#"{"database":"d","collection":"c","fliter":{}}"#).contains("fliter"));
        assert!(err("find", r#"{"database":"d","collection":"c","skip":-1}"#).contains("negative"));
        assert_eq!(plan("frobnicate", "{}").unwrap_err().status, 404);
    }
}
