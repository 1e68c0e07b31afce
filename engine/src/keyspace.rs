//! The engine's keyspace: how documents, the catalog and session records are
//! laid out as MVCC keys.
//!
//! Every piece of engine state is an MVCC key, so a snapshot at a timestamp
//! sees the catalog, the documents and the exactly-once records of the same
//! instant, and one `commit` makes a write's document changes and its session
//! record durable together.
//!
//! ```text
//!  key                                            value
//!  ─────────────────────────────────────────────  ─────────────────────────────
//!  "C" db 0x00 collection                         CollectionMeta (rmp)
//!  "D" collection-id(u64 BE) keycode(_id)         document (BSON bytes)
//!  "M" name                                       engine metadata (rmp)
//!  "R" db 0x00 collection                         CollectionRouting (rmp): placement
//!  "S" session(u128 BE)                           SessionRecord (rmp)
//!  "X" name                                       state stored by the embedder
//!                                                 (Raft: last applied, membership)
//! ```
//!
//! Documents of one collection are contiguous and ordered by `_id` in
//! MongoDB's value order (keycode), so the `_id` index *is* the document
//! table: a point lookup is one MVCC get and a scan in `_id` order is a
//! prefix scan. Collections are keyed by a numeric id, not their name, so a
//! rename rewrites one catalog entry and no documents.

use crate::command::Namespace;

const CATALOG: u8 = b'C';
const DOCUMENT: u8 = b'D';
const META: u8 = b'M';
const ROUTING: u8 = b'R';
const SESSION: u8 = b'S';
const EMBEDDER: u8 = b'X';

/// Catalog entry key for a namespace.
pub fn catalog_key(ns: &Namespace) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + ns.db.len() + ns.collection.len());
    key.push(CATALOG);
    key.extend_from_slice(ns.db.as_bytes());
    key.push(0);
    key.extend_from_slice(ns.collection.as_bytes());
    key
}

/// Key of a namespace's placement record (sharding).
pub fn routing_key(ns: &Namespace) -> Vec<u8> {
    let mut key = catalog_key(ns);
    key[0] = ROUTING;
    key
}

/// Prefix of every placement record.
pub fn routing_prefix() -> Vec<u8> {
    vec![ROUTING]
}

/// Prefix of every catalog entry.
pub fn catalog_prefix() -> Vec<u8> {
    vec![CATALOG]
}

/// Prefix of every catalog entry of one database.
pub fn catalog_db_prefix(db: &str) -> Vec<u8> {
    let mut key = vec![CATALOG];
    key.extend_from_slice(db.as_bytes());
    key.push(0);
    key
}

/// Prefix of every document of a collection.
pub fn documents_prefix(collection_id: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(DOCUMENT);
    key.extend_from_slice(&collection_id.to_be_bytes());
    key
}

/// Key of one document: the collection prefix plus the keycode of its `_id`.
pub fn document_key(collection_id: u64, id: &bson::Bson) -> Vec<u8> {
    let mut key = documents_prefix(collection_id);
    crate::keycode::encode_value(id, &mut key);
    key
}

/// Key of an engine metadata record.
pub fn meta_key(name: &str) -> Vec<u8> {
    let mut key = vec![META];
    key.extend_from_slice(name.as_bytes());
    key
}

/// Key of a session's exactly-once record.
pub fn session_key(session: u128) -> Vec<u8> {
    let mut key = Vec::with_capacity(17);
    key.push(SESSION);
    key.extend_from_slice(&session.to_be_bytes());
    key
}

/// Key of a record the embedder (the Raft state machine) stores with the data.
pub fn embedder_key(name: &str) -> Vec<u8> {
    let mut key = vec![EMBEDDER];
    key.extend_from_slice(name.as_bytes());
    key
}
