//! The collection catalog in the config group: sharded collections, their
//! chunks and versions, and the epoch counter.
//!
//! ```text
//!  config.collections { _id: "db.coll", epoch, incarnation, major, minor,
//!                       key: {k: 1} | {k: "hashed"} | null, unique,
//!                       chunks: [{ min: {k: …}, max: {k: …}, shard }] }
//!  config.counters    { _id: "epoch", n }   (epochs only grow)
//! ```
//!
//! A collection has an entry once it has been sharded; dropping it leaves an
//! unsharded entry with a new epoch and incarnation (a tombstone), so every
//! shard can tell an old placement from a new one. Chunks live inside their
//! collection's entry, so a catalog change is one atomic document write,
//! guarded by the epoch it expects (compare-and-set).
//!
//! Sharding is two catalog writes around the primary's install: the plan is
//! first recorded as `pending` (at most one at a time), then committed. A
//! pending plan whose author vanished is finished by whichever router finds
//! it (see `admin.rs`), so the catalog never stays behind a shard.

use bson::{Bson, Document, doc};
use lauradb_engine::command::{FindAndModifyAction, Namespace, Operation, Outcome, UpdateKind};
use lauradb_engine::dataapi::ApiError;
use lauradb_engine::sharding::{ShardKeyPattern, ShardVersion};
use lauradb_raft::GroupId;

use super::placement::{Placement, Sharding, chunks_from_bounds};
use super::{CONFIG_DB, ClusterBackend, catalog_error, find};

const COLLECTIONS: &str = "collections";
const COUNTERS: &str = "counters";

/// A collection's catalog entry.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionEntry {
    pub ns: Namespace,
    pub version: ShardVersion,
    pub incarnation: u64,
    /// `None` once dropped (or never sharded).
    pub key: Option<Document>,
    pub unique: bool,
    /// `(min, max, shard)`, sorted.
    pub chunks: Vec<(Document, Document, GroupId)>,
    /// A sharding in progress: the entry as it will be once committed.
    pub pending: Option<Box<CollectionEntry>>,
}

impl CollectionEntry {
    fn to_document(&self) -> Document {
        let mut d = self.fields_document();
        if let Some(pending) = &self.pending {
            d.insert("pending", pending.fields_document());
        }
        d
    }

    fn fields_document(&self) -> Document {
        doc! {
            "_id": self.ns.to_string(),
            "epoch": self.version.epoch as i64,
            "incarnation": self.incarnation as i64,
            "major": self.version.major as i64,
            "minor": self.version.minor as i64,
            "key": self.key.clone().map_or(Bson::Null, Bson::Document),
            "unique": self.unique,
            "chunks": self.chunks.iter().map(|(min, max, shard)| {
                Bson::Document(doc! { "min": min.clone(), "max": max.clone(), "shard": *shard as i64 })
            }).collect::<Vec<_>>(),
        }
    }

    fn from_document(ns: &Namespace, d: &Document) -> Result<CollectionEntry, ApiError> {
        let int = |field: &str| {
            d.get(field)
                .and_then(Bson::as_i64)
                .map(|n| n as u64)
                .ok_or_else(|| catalog_error(format!("catalog entry of {ns} lacks '{field}'")))
        };
        let chunks = d
            .get_array("chunks")
            .map_err(|_| catalog_error(format!("catalog entry of {ns} lacks 'chunks'")))?
            .iter()
            .map(|c| {
                let c = c.as_document()?;
                Some((
                    c.get_document("min").ok()?.clone(),
                    c.get_document("max").ok()?.clone(),
                    c.get("shard")?.as_i64()? as GroupId,
                ))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| catalog_error(format!("catalog entry of {ns} has a malformed chunk")))?;
        let pending = match d.get_document("pending") {
            Ok(p) => Some(Box::new(CollectionEntry::from_document(ns, p)?)),
            Err(_) => None,
        };
        Ok(CollectionEntry {
            ns: ns.clone(),
            version: ShardVersion {
                epoch: int("epoch")?,
                major: int("major")?,
                minor: int("minor")?,
            },
            incarnation: int("incarnation")?,
            key: d.get_document("key").ok().cloned(),
            unique: d.get_bool("unique").unwrap_or(false),
            chunks,
            pending,
        })
    }

    /// The placement this entry describes, with `primary` as the home of
    /// an unsharded collection.
    pub fn placement(&self, primary: GroupId) -> Result<Placement, ApiError> {
        let sharding = match &self.key {
            None => None,
            Some(spec) => {
                let key = ShardKeyPattern::parse(spec)
                    .map_err(|e| catalog_error(format!("catalog entry of {}: {e}", self.ns)))?;
                let chunks = chunks_from_bounds(&key, self.chunks.clone())
                    .map_err(|e| catalog_error(format!("catalog entry of {}: {e}", self.ns)))?;
                Some(Sharding {
                    key,
                    unique: self.unique,
                    chunks,
                })
            }
        };
        Ok(Placement {
            ns: self.ns.clone(),
            version: self.version,
            incarnation: self.incarnation,
            primary,
            sharding,
        })
    }
}

impl ClusterBackend {
    /// The catalog entry of `ns`, if it was ever sharded.
    pub(super) async fn collection_entry(
        &self,
        ns: &Namespace,
    ) -> Result<Option<CollectionEntry>, ApiError> {
        let found = self
            .config_read(find(COLLECTIONS, doc! { "_id": ns.to_string() }))
            .await?;
        found
            .first()
            .map(|d| CollectionEntry::from_document(ns, d))
            .transpose()
    }

    /// Every entry whose namespace is in `db`.
    pub(super) async fn collection_entries_of(
        &self,
        db: &str,
    ) -> Result<Vec<CollectionEntry>, ApiError> {
        let prefix = format!("^{}\\.", regex_escape(db));
        let found = self
            .config_read(find(COLLECTIONS, doc! { "_id": { "$regex": prefix } }))
            .await?;
        found
            .iter()
            .filter_map(|d| {
                let id = d.get_str("_id").ok()?;
                let (db, coll) = id.split_once('.')?;
                Some(CollectionEntry::from_document(&Namespace::new(db, coll), d))
            })
            .collect()
    }

    /// A new epoch, greater than every epoch handed out before.
    pub(super) async fn next_epoch(&self) -> Result<u64, ApiError> {
        let outcome = self
            .config_write(Operation::FindAndModify {
                ns: Namespace::new(CONFIG_DB, COUNTERS),
                filter: doc! { "_id": "epoch" },
                sort: Document::new(),
                projection: Document::new(),
                action: FindAndModifyAction::Update(UpdateKind::Operators {
                    update: doc! { "$inc": { "n": 1_i64 } },
                    array_filters: vec![],
                }),
                return_new: true,
                upsert: true,
                upsert_id: Some(Bson::String("epoch".into())),
            })
            .await?;
        match outcome {
            Outcome::Found {
                document: Some(d), ..
            } => d
                .get("n")
                .and_then(Bson::as_i64)
                .map(|n| n as u64)
                .ok_or_else(|| catalog_error("the epoch counter is malformed")),
            other => Err(catalog_error(format!(
                "unexpected epoch counter outcome {other:?}"
            ))),
        }
    }

    /// Writes `entry` if the catalog still holds `expected_epoch` for it
    /// (`None`: no entry yet) and the pending plan of epoch
    /// `expected_pending` (`None`: no pending plan). Returns false when
    /// someone else changed it.
    pub(super) async fn replace_entry(
        &self,
        entry: &CollectionEntry,
        expected_epoch: Option<u64>,
        expected_pending: Option<u64>,
    ) -> Result<bool, ApiError> {
        let document = entry.to_document();
        match expected_epoch {
            None => match self
                .config_write(Operation::Insert {
                    ns: Namespace::new(CONFIG_DB, COLLECTIONS),
                    documents: vec![document],
                    ordered: true,
                })
                .await?
            {
                Outcome::Inserted { errors, .. } => match errors.first() {
                    None => Ok(true),
                    Some(e) if matches!(e.error, lauradb_engine::Error::DuplicateKey { .. }) => {
                        Ok(false)
                    }
                    Some(e) => Err(ApiError::from(e.error.clone())),
                },
                other => Err(catalog_error(format!(
                    "unexpected insert outcome {other:?}"
                ))),
            },
            Some(epoch) => {
                let mut replacement = document;
                replacement.remove("_id");
                match self
                    .config_write(Operation::Update {
                        ns: Namespace::new(CONFIG_DB, COLLECTIONS),
                        filter: {
                            let mut filter =
                                doc! { "_id": entry.ns.to_string(), "epoch": epoch as i64 };
                            match expected_pending {
                                Some(p) => filter.insert("pending.epoch", p as i64),
                                None => filter.insert("pending", doc! { "$exists": false }),
                            };
                            filter
                        },
                        kind: UpdateKind::Replacement(replacement),
                        multi: false,
                        upsert: false,
                        upsert_id: None,
                    })
                    .await?
                {
                    Outcome::Updated { matched, .. } => Ok(matched == 1),
                    other => Err(catalog_error(format!(
                        "unexpected update outcome {other:?}"
                    ))),
                }
            }
        }
    }
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
