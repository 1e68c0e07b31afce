//! The catalog: which databases and collections exist.
//!
//! MongoDB's model: a database exists while it holds at least one collection;
//! a collection is created implicitly by its first insert (or upsert), or
//! explicitly with options. Each collection gets a numeric id that never
//! changes (not even on rename) and is never reused: documents are stored under
//! that id (see [`crate::keyspace`]), so dropping and recreating a collection
//! can never resurrect old documents.
//!
//! The catalog is stored as MVCC keys like everything else and mirrored in
//! memory ([`Catalog`]) for fast lookups; only `apply` (one writer) changes it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bson::Document;
use serde::{Deserialize, Serialize};

use crate::command::{CollectionOptions, Namespace};
use crate::sharding::CollectionRouting;
use crate::{Error, Result};

/// The longest `db.collection` name MongoDB accepts.
pub const MAX_NAMESPACE_LEN: usize = 255;
/// The longest database name MongoDB accepts.
pub const MAX_DB_NAME_LEN: usize = 63;

/// A collection's catalog entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionMeta {
    /// Permanent numeric id; documents are keyed under it.
    pub id: u64,
    /// Options given at explicit creation (empty for implicit creation).
    pub options: CollectionOptions,
}

/// Index description, as `listIndexes` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexInfo {
    /// Index name (`_id_`).
    pub name: String,
    /// Key pattern (`{_id: 1}`).
    pub key: Document,
    /// Whether the index enforces uniqueness.
    pub unique: bool,
}

impl CollectionMeta {
    /// The indexes of this collection. The `_id` index always exists and is
    /// unique; it is the document table itself.
    pub fn indexes(&self) -> Vec<IndexInfo> {
        vec![IndexInfo {
            name: "_id_".into(),
            key: bson::doc! {"_id": 1},
            unique: true,
        }]
    }
}

/// In-memory mirror of the stored catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    collections: BTreeMap<Namespace, CollectionMeta>,
    next_id: u64,
    /// Placement of the namespaces a router has ever installed on this
    /// shard (see [`crate::sharding`]); absent means never sharded.
    routing: BTreeMap<Namespace, Arc<CollectionRouting>>,
}

impl Catalog {
    /// Builds the mirror from stored entries.
    pub fn from_entries(
        entries: impl IntoIterator<Item = (Namespace, CollectionMeta)>,
        next_id: u64,
    ) -> Self {
        let collections: BTreeMap<_, _> = entries.into_iter().collect();
        let next_id = collections
            .values()
            .map(|m| m.id + 1)
            .max()
            .unwrap_or(1)
            .max(next_id);
        Catalog {
            collections,
            next_id,
            routing: BTreeMap::new(),
        }
    }

    /// Adds the stored placement records (see [`Catalog::routing`]).
    pub fn with_routing(
        mut self,
        routing: impl IntoIterator<Item = (Namespace, CollectionRouting)>,
    ) -> Self {
        self.routing = routing
            .into_iter()
            .map(|(ns, r)| (ns, Arc::new(r)))
            .collect();
        self
    }

    /// This shard's copy of a namespace's placement, if one was installed
    /// (shared: writes look it up once per document).
    pub fn routing(&self, ns: &Namespace) -> Option<&Arc<CollectionRouting>> {
        self.routing.get(ns)
    }

    /// Records a namespace's placement.
    pub fn set_routing(&mut self, ns: Namespace, routing: CollectionRouting) {
        self.routing.insert(ns, Arc::new(routing));
    }

    /// The entry of a collection, if it exists.
    pub fn get(&self, ns: &Namespace) -> Option<&CollectionMeta> {
        self.collections.get(ns)
    }

    /// Every collection, ordered by namespace.
    pub fn collections(&self) -> impl Iterator<Item = (&Namespace, &CollectionMeta)> {
        self.collections.iter()
    }

    /// Collections of one database, ordered by name.
    pub fn collections_of<'a>(
        &'a self,
        db: &'a str,
    ) -> impl Iterator<Item = (&'a Namespace, &'a CollectionMeta)> {
        self.collections.iter().filter(move |(ns, _)| ns.db == db)
    }

    /// Databases that hold at least one collection, ordered by name.
    pub fn databases(&self) -> Vec<String> {
        let mut dbs: Vec<String> = self.collections.keys().map(|ns| ns.db.clone()).collect();
        dbs.dedup();
        dbs
    }

    /// Allocates the next collection id (never reused).
    pub fn allocate_id(&mut self) -> u64 {
        let id = self.next_id.max(1);
        self.next_id = id + 1;
        id
    }

    /// The id the next collection will get (persisted so ids are never reused).
    pub fn next_id(&self) -> u64 {
        self.next_id.max(1)
    }

    /// Records a new or changed entry.
    pub fn insert(&mut self, ns: Namespace, meta: CollectionMeta) {
        self.collections.insert(ns, meta);
    }

    /// Forgets an entry.
    pub fn remove(&mut self, ns: &Namespace) -> Option<CollectionMeta> {
        self.collections.remove(ns)
    }
}

/// Checks a database name against MongoDB's rules.
pub fn validate_db_name(db: &str) -> Result<()> {
    if db.is_empty() {
        return Err(Error::InvalidNamespace(
            "database name cannot be empty".into(),
        ));
    }
    if db.len() > MAX_DB_NAME_LEN {
        return Err(Error::InvalidNamespace(format!(
            "database name '{db}' is longer than {MAX_DB_NAME_LEN} characters"
        )));
    }
    if let Some(c) = db.chars().find(|c| "/\\. \"$*<>:|?\0".contains(*c)) {
        return Err(Error::InvalidNamespace(format!(
            "database name '{db}' contains an invalid character {c:?}"
        )));
    }
    Ok(())
}

/// Checks a full namespace (database and collection) against MongoDB's rules.
pub fn validate_namespace(ns: &Namespace) -> Result<()> {
    validate_db_name(&ns.db)?;
    let coll = &ns.collection;
    if coll.is_empty() {
        return Err(Error::InvalidNamespace(
            "collection name cannot be empty".into(),
        ));
    }
    if coll.contains('$') || coll.contains('\0') {
        return Err(Error::InvalidNamespace(format!(
            "collection name '{coll}' may not contain '$' or NUL"
        )));
    }
    if coll.starts_with('.') || coll.starts_with("system.") {
        return Err(Error::InvalidNamespace(format!(
            "collection name '{coll}' is reserved or starts with '.'"
        )));
    }
    if ns.db.len() + 1 + coll.len() > MAX_NAMESPACE_LEN {
        return Err(Error::InvalidNamespace(format!(
            "namespace '{ns}' is longer than {MAX_NAMESPACE_LEN} bytes"
        )));
    }
    Ok(())
}

/// Rejects collection options the engine cannot honour yet, by name.
pub fn validate_options(options: &Document) -> Result<()> {
    for (key, value) in options {
        match key.as_str() {
            // Harmless or informational options.
            "comment" | "writeConcern" | "storageEngine" => {}
            "capped" if value.as_bool() == Some(false) => {}
            "capped"
            | "size"
            | "max"
            | "validator"
            | "validationLevel"
            | "validationAction"
            | "viewOn"
            | "pipeline"
            | "collation"
            | "timeseries"
            | "expireAfterSeconds"
            | "clusteredIndex"
            | "changeStreamPreAndPostImages"
            | "indexOptionDefaults" => {
                return Err(Error::NotSupported(format!("collection option '{key}'")));
            }
            other => {
                return Err(Error::BadValue(format!(
                    "unknown collection option '{other}'"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_rules_follow_mongodb() {
        assert!(validate_namespace(&Namespace::new("app", "users")).is_ok());
        assert!(validate_namespace(&Namespace::new("", "users")).is_err());
        assert!(validate_namespace(&Namespace::new("a.b", "users")).is_err());
        assert!(validate_namespace(&Namespace::new("app", "")).is_err());
        assert!(validate_namespace(&Namespace::new("app", "a$b")).is_err());
        assert!(validate_namespace(&Namespace::new("app", "system.users")).is_err());
        assert!(validate_namespace(&Namespace::new("app", "x".repeat(300))).is_err());
    }

    #[test]
    fn ids_are_never_reused() {
        let mut catalog = Catalog::default();
        let a = catalog.allocate_id();
        catalog.insert(
            Namespace::new("d", "a"),
            CollectionMeta {
                id: a,
                options: Default::default(),
            },
        );
        catalog.remove(&Namespace::new("d", "a"));
        let b = catalog.allocate_id();
        assert!(b > a);
        let rebuilt = Catalog::from_entries(vec![], catalog.next_id());
        assert!(rebuilt.next_id() > b);
    }

    #[test]
    fn unsupported_options_are_named() {
        let err = validate_options(&bson::doc! {"capped": true}).unwrap_err();
        assert!(err.to_string().contains("capped"));
        assert!(
            validate_options(&bson::doc! {"bogus": 1})
                .unwrap_err()
                .to_string()
                .contains("bogus")
        );
    }
}
