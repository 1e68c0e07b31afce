//! Commands: the writes the state machine applies, and their outcomes.
//!
//! A [`Command`] is everything one replicated write needs, decided *before*
//! it is proposed to Raft: the operation, generated `_id`s, the wall-clock
//! value `$currentDate` should use (`now`), and the [`RequestId`] that makes
//! retries exactly-once. Applying the same command sequence on every replica
//! therefore yields the same bytes on every replica.
//!
//! ```text
//!  router ──Command{request: (session, seq), now, op}──▶ Raft log ──▶ Engine::apply
//!                                                                    │
//!            ◀───────────── Outcome (also stored per session) ───────┘
//! ```
//!
//! Commands and outcomes travel as rmp-serde; BSON inside them travels as BSON
//! bytes (see [`crate::wire`]) so no value changes type on the way.

use bson::{Bson, Document};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::sharding::{CollectionRouting, ShardVersion};

/// Identifies one client write for exactly-once application: a session (one
/// per client/router connection, chosen by the client) and a sequence number
/// that grows with each new write of that session. A retry reuses both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId {
    /// Client session identifier (random, chosen outside the state machine).
    pub session: u128,
    /// Per-session sequence number; strictly increasing across new requests.
    pub seq: u64,
}

/// A replicated write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    /// Exactly-once identity; `None` for internal writes that are idempotent.
    pub request: Option<RequestId>,
    /// Wall-clock milliseconds chosen by the proposer; `$currentDate` uses it.
    pub now_millis: i64,
    /// What to do.
    pub op: Operation,
}

/// Which documents a collection operation addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Namespace {
    /// Database name.
    pub db: String,
    /// Collection name.
    pub collection: String,
}

impl Namespace {
    /// Builds a namespace from its two parts.
    pub fn new(db: impl Into<String>, collection: impl Into<String>) -> Self {
        Namespace {
            db: db.into(),
            collection: collection.into(),
        }
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.db, self.collection)
    }
}

/// How an update rewrites a matched document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UpdateKind {
    /// An update-operator document (`{$set: …, $inc: …}`).
    Operators {
        #[serde(with = "crate::wire::document")]
        update: Document,
        #[serde(with = "crate::wire::documents")]
        array_filters: Vec<Document>,
    },
    /// A replacement document (no operators).
    Replacement(#[serde(with = "crate::wire::document")] Document),
}

/// What `findOneAndModify` does with the document it finds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FindAndModifyAction {
    /// Update (or replace) the document.
    Update(UpdateKind),
    /// Delete the document.
    Delete,
}

/// Options for explicitly created collections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectionOptions {
    /// Capped collections and validators are rejected until supported; the
    /// options document is kept verbatim so `listCollections` can show it.
    #[serde(with = "crate::wire::document")]
    pub raw: Document,
}

/// One replicated operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Operation {
    /// insertOne / insertMany. Documents already carry their `_id` (the
    /// proposer generates missing ones).
    Insert {
        ns: Namespace,
        #[serde(with = "crate::wire::documents")]
        documents: Vec<Document>,
        /// Ordered inserts stop at the first error; unordered ones go on.
        ordered: bool,
    },
    /// updateOne / updateMany / replaceOne.
    Update {
        ns: Namespace,
        #[serde(with = "crate::wire::document")]
        filter: Document,
        kind: UpdateKind,
        /// Update every match (updateMany) or the first (updateOne).
        multi: bool,
        upsert: bool,
        /// The `_id` an upsert uses when neither filter nor update sets one.
        #[serde(with = "crate::wire::opt_value")]
        upsert_id: Option<Bson>,
    },
    /// deleteOne / deleteMany.
    Delete {
        ns: Namespace,
        #[serde(with = "crate::wire::document")]
        filter: Document,
        multi: bool,
    },
    /// findOneAndUpdate / findOneAndReplace / findOneAndDelete.
    FindAndModify {
        ns: Namespace,
        #[serde(with = "crate::wire::document")]
        filter: Document,
        #[serde(with = "crate::wire::document")]
        sort: Document,
        #[serde(with = "crate::wire::document")]
        projection: Document,
        action: FindAndModifyAction,
        /// Return the document as it is after the change (else before).
        return_new: bool,
        upsert: bool,
        #[serde(with = "crate::wire::opt_value")]
        upsert_id: Option<Bson>,
    },
    /// Explicit collection creation.
    CreateCollection {
        ns: Namespace,
        options: CollectionOptions,
    },
    /// Drops a collection and all its documents.
    DropCollection { ns: Namespace },
    /// Drops every collection of a database.
    DropDatabase { db: String },
    /// Renames a collection (possibly across databases).
    RenameCollection {
        from: Namespace,
        to: Namespace,
        drop_target: bool,
    },
    /// `op`, routed by a router that saw the namespace at `version`: the
    /// shard runs it only if it holds the same placement version, and
    /// answers [`Error::StaleConfig`] otherwise (see [`crate::sharding`]).
    Versioned {
        version: ShardVersion,
        op: Box<Operation>,
    },
    /// Installs a newer copy of a collection's placement on this shard (an
    /// older or equal version is a no-op). A newer incarnation first deletes
    /// the shard's documents of the namespace (the collection was dropped).
    InstallRouting {
        ns: Namespace,
        routing: CollectionRouting,
    },
}

impl Operation {
    /// A short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Insert { .. } => "insert",
            Operation::Update { .. } => "update",
            Operation::Delete { .. } => "delete",
            Operation::FindAndModify { .. } => "findAndModify",
            Operation::CreateCollection { .. } => "createCollection",
            Operation::DropCollection { .. } => "dropCollection",
            Operation::DropDatabase { .. } => "dropDatabase",
            Operation::RenameCollection { .. } => "renameCollection",
            Operation::Versioned { op, .. } => op.name(),
            Operation::InstallRouting { .. } => "installRouting",
        }
    }

    /// The namespace whose placement decides where the operation runs (for
    /// a rename, the source); `None` for database-wide operations.
    pub fn namespace(&self) -> Option<&Namespace> {
        match self {
            Operation::Insert { ns, .. }
            | Operation::Update { ns, .. }
            | Operation::Delete { ns, .. }
            | Operation::FindAndModify { ns, .. }
            | Operation::CreateCollection { ns, .. }
            | Operation::DropCollection { ns }
            | Operation::InstallRouting { ns, .. } => Some(ns),
            Operation::RenameCollection { from, .. } => Some(from),
            Operation::Versioned { op, .. } => op.namespace(),
            Operation::DropDatabase { .. } => None,
        }
    }

    /// The database the operation belongs to.
    pub fn database(&self) -> &str {
        match self {
            Operation::DropDatabase { db } => db,
            other => other
                .namespace()
                .map(|ns| ns.db.as_str())
                .unwrap_or_default(),
        }
    }
}

/// A per-document failure inside a multi-document write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteError {
    /// Position of the failing document in the request.
    pub index: usize,
    pub error: Error,
}

/// The result of applying a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// Inserts: ids of the documents written (in request order) and the
    /// failures. An ordered insert stops at its first failure.
    Inserted {
        #[serde(with = "crate::wire::values")]
        inserted_ids: Vec<Bson>,
        errors: Vec<WriteError>,
    },
    /// Updates and replacements.
    Updated {
        matched: u64,
        modified: u64,
        #[serde(with = "crate::wire::opt_value")]
        upserted_id: Option<Bson>,
    },
    /// Deletes.
    Deleted { deleted: u64 },
    /// findOneAnd*: the document before or after (projected), if any.
    Found {
        #[serde(with = "crate::wire::opt_document")]
        document: Option<Document>,
        #[serde(with = "crate::wire::opt_value")]
        upserted_id: Option<Bson>,
    },
    /// Catalog operations that only succeed or fail.
    Done,
}

/// What `apply` returns: the outcome, or the error that made the whole
/// command fail (nothing written then, except the exactly-once record).
pub type CommandResult = Result<Outcome, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn commands_round_trip_through_messagepack() {
        let cmd = Command {
            request: Some(RequestId {
                session: 42,
                seq: 7,
            }),
            now_millis: 1_700_000_000_000,
            op: Operation::Update {
                ns: Namespace::new("db", "c"),
                filter: doc! {"_id": 1_i32},
                kind: UpdateKind::Operators {
                    update: doc! {"$inc": {"n": 1_i64}},
                    array_filters: vec![],
                },
                multi: false,
                upsert: true,
                upsert_id: Some(Bson::ObjectId(bson::oid::ObjectId::from_bytes([1; 12]))),
            },
        };
        let bytes = rmp_serde::to_vec(&cmd).unwrap();
        assert_eq!(rmp_serde::from_slice::<Command>(&bytes).unwrap(), cmd);
        let outcome: CommandResult = Err(Error::DuplicateKey {
            namespace: "db.c".into(),
            index: "_id_".into(),
            key: "{ _id: 1 }".into(),
        });
        let bytes = rmp_serde::to_vec(&outcome).unwrap();
        assert_eq!(
            rmp_serde::from_slice::<CommandResult>(&bytes).unwrap(),
            outcome
        );
    }
}
