//! Applying commands: inserts, updates, deletes, findAndModify and catalog
//! changes, each buffered in a [`WriteSet`] and committed once.

use std::sync::Arc;

use bson::{Bson, Document};

use super::session::{self, Admission};
use super::writeset::WriteSet;
use super::{Engine, NEXT_COLLECTION_ID};
use crate::catalog::{self, Catalog, CollectionMeta};
use crate::command::{
    CollectionOptions, Command, CommandResult, FindAndModifyAction, Namespace, Operation, Outcome,
    UpdateKind, WriteError,
};
use crate::document;
use crate::keyspace;
use crate::projection::Projection;
use crate::query::Filter;
use crate::sharding::CollectionRouting;
use crate::sort::SortSpec;
use crate::update::{Update, UpdateContext};
use crate::{Error, Result};

/// Applies `command` at `commit_ts`. Returns the command's result and, when
/// the catalog changed, the new catalog to publish. `Err` is a storage failure.
pub(super) fn apply_command(
    engine: &Engine,
    command: &Command,
    commit_ts: u64,
    embedder: &[(&str, Vec<u8>)],
) -> Result<(CommandResult, Option<Catalog>)> {
    let mut tx = Tx {
        engine,
        writes: WriteSet::default(),
        catalog: None,
        now: bson::DateTime::from_millis(command.now_millis),
    };
    let mut record_session = command.request.is_some();
    let result = match command
        .request
        .as_ref()
        .map(|r| session::admit(&engine.mvcc, r))
        .transpose()?
    {
        Some(Admission::Replay(result)) => {
            record_session = false;
            result
        }
        Some(Admission::Stale { last_seq }) => {
            record_session = false;
            Err(session::stale_error(
                command.request.as_ref().expect("admitted requests exist"),
                last_seq,
            ))
        }
        Some(Admission::Apply) | None => tx.run(&command.op),
    };
    let Tx {
        mut writes,
        mut catalog,
        ..
    } = tx;
    if result.is_err() {
        // All or nothing: a failed command leaves no document or catalog change.
        writes.clear();
        catalog = None;
    }
    if let Some(catalog) = &catalog {
        writes.put(
            keyspace::meta_key(NEXT_COLLECTION_ID),
            rmp_serde::to_vec(&catalog.next_id())?,
        );
    }
    if record_session && let Some(request) = &command.request {
        let (key, value) = session::record(request, &result)?;
        writes.put(key, value);
    }
    for (name, value) in embedder {
        writes.put(keyspace::embedder_key(name), value.clone());
    }
    let batch = writes.into_batch();
    if !batch.is_empty() {
        engine.mvcc.commit(commit_ts, &batch)?;
    }
    Ok((result, catalog))
}

/// One command being applied.
struct Tx<'a> {
    engine: &'a Engine,
    writes: WriteSet,
    /// A changed copy of the catalog, when this command changed it.
    catalog: Option<Catalog>,
    now: bson::DateTime,
}

/// A stored document that matched a filter.
struct Candidate {
    key: Vec<u8>,
    document: Document,
    position: Option<usize>,
}

impl Tx<'_> {
    fn run(&mut self, op: &Operation) -> CommandResult {
        match op {
            Operation::Insert {
                ns,
                documents,
                ordered,
            } => self.insert(ns, documents, *ordered),
            Operation::Update {
                ns,
                filter,
                kind,
                multi,
                upsert,
                upsert_id,
            } => self.update(ns, filter, kind, *multi, *upsert, upsert_id.as_ref()),
            Operation::Delete { ns, filter, multi } => self.delete(ns, filter, *multi),
            Operation::FindAndModify {
                ns,
                filter,
                sort,
                projection,
                action,
                return_new,
                upsert,
                upsert_id,
            } => self.find_and_modify(
                ns,
                filter,
                sort,
                projection,
                action,
                *return_new,
                *upsert,
                upsert_id.as_ref(),
            ),
            Operation::CreateCollection { ns, options } => self.create_collection(ns, options),
            Operation::DropCollection { ns } => self.drop_collection(ns).map(|_| Outcome::Done),
            Operation::DropDatabase { db } => self.drop_database(db),
            Operation::RenameCollection {
                from,
                to,
                drop_target,
            } => self.rename(from, to, *drop_target),
            Operation::Versioned { version, op } => {
                if matches!(
                    **op,
                    Operation::Versioned { .. } | Operation::InstallRouting { .. }
                ) {
                    return Err(Error::BadValue(format!(
                        "a {} operation cannot be routed with a version",
                        op.name()
                    )));
                }
                if let Some(ns) = op.namespace() {
                    super::check_version(
                        self.catalog().get().routing(ns).map(Arc::as_ref),
                        ns,
                        *version,
                    )?;
                }
                self.run(op)
            }
            Operation::InstallRouting { ns, routing } => self.install_routing(ns, routing),
        }
    }

    // ── placement (see crate::sharding) ────────────────────────────────────

    /// The placement of `ns` when it is sharded (as this shard knows it).
    fn sharded(&self, ns: &Namespace) -> Option<Arc<CollectionRouting>> {
        self.catalog()
            .get()
            .routing(ns)
            .filter(|r| r.key.is_some())
            .cloned()
    }

    /// Refuses a document this shard does not own (or whose shard key is
    /// not a valid one). Routers never send such documents; this is the
    /// shard's own guard against orphans.
    fn check_owned(&self, ns: &Namespace, doc: &Document) -> Result<()> {
        let Some(routing) = self.sharded(ns) else {
            return Ok(());
        };
        let Some(key) = &routing.key else {
            return Ok(());
        };
        let routing_key = key.routing_key_of(doc)?;
        if routing.owns(&routing_key) {
            return Ok(());
        }
        Err(Error::BadValue(format!(
            "the document with shard key {:?} belongs to a chunk another shard owns in {ns} (version {})",
            key.values_of(doc)?,
            routing.version
        )))
    }

    /// Refuses an update that changes a document's shard key.
    fn check_shard_key_unchanged(
        &self,
        ns: &Namespace,
        old: &Document,
        new: &Document,
    ) -> Result<()> {
        let Some(routing) = self.sharded(ns) else {
            return Ok(());
        };
        let Some(key) = &routing.key else {
            return Ok(());
        };
        let before = key.values_of(old)?;
        let after = key.values_of(new)?;
        if key.routing_key(&before) == key.routing_key(&after) {
            return Ok(());
        }
        Err(Error::ImmutableField(format!(
            "the update would change the shard key {} of a document in the sharded collection {ns} from {before:?} to {after:?}; shard key values cannot be changed",
            key.to_document()
        )))
    }

    fn install_routing(&mut self, ns: &Namespace, new: &CollectionRouting) -> CommandResult {
        catalog::validate_namespace(ns)?;
        let have = self
            .catalog()
            .get()
            .routing(ns)
            .map(|r| (r.version, r.incarnation))
            .unwrap_or_default();
        let (have_version, have_incarnation) = have;
        if new.version <= have_version {
            return Ok(Outcome::Done);
        }
        if new.incarnation > have_incarnation {
            self.drop_collection(ns)?;
        } else if new.version.epoch != have_version.epoch
            && let Some(key) = &new.key
            && let Some(collection_id) = self.collection_id(ns)
        {
            // Sharding a collection that has documents: all of them must be
            // owned here, or they would become orphans nobody can reach.
            for item in self
                .engine
                .mvcc
                .scan_prefix(&keyspace::documents_prefix(collection_id), u64::MAX)
            {
                let (_, bytes) = item?;
                let doc = document::decode_stored(&bytes)?;
                if !new.owns(&key.routing_key_of(&doc)?) {
                    return Err(Error::BadValue(format!(
                        "cannot shard {ns} this way: the document with _id {} would land in a chunk of another shard; documents were written while sharding, retry shardCollection",
                        document::id_of(&doc).cloned().unwrap_or(Bson::Null)
                    )));
                }
            }
        }
        self.writes
            .put(keyspace::routing_key(ns), rmp_serde::to_vec_named(new)?);
        self.catalog_mut().set_routing(ns.clone(), new.clone());
        Ok(Outcome::Done)
    }

    // ── catalog helpers ────────────────────────────────────────────────────

    fn catalog(&self) -> CatalogView<'_> {
        match &self.catalog {
            Some(changed) => CatalogView::Changed(changed),
            None => CatalogView::Published(self.engine.catalog()),
        }
    }

    fn catalog_mut(&mut self) -> &mut Catalog {
        let engine = self.engine;
        self.catalog
            .get_or_insert_with(|| (*engine.catalog()).clone())
    }

    fn collection_id(&self, ns: &Namespace) -> Option<u64> {
        self.catalog().get().get(ns).map(|meta| meta.id)
    }

    /// The collection's id, creating the collection implicitly if needed.
    fn collection_for_write(&mut self, ns: &Namespace) -> Result<u64> {
        if let Some(id) = self.collection_id(ns) {
            return Ok(id);
        }
        catalog::validate_namespace(ns)?;
        self.add_collection(ns, CollectionOptions::default())
    }

    fn add_collection(&mut self, ns: &Namespace, options: CollectionOptions) -> Result<u64> {
        let catalog = self.catalog_mut();
        let id = catalog.allocate_id();
        let meta = CollectionMeta { id, options };
        let value = rmp_serde::to_vec(&meta)?;
        catalog.insert(ns.clone(), meta);
        self.writes.put(keyspace::catalog_key(ns), value);
        Ok(id)
    }

    // ── documents ──────────────────────────────────────────────────────────

    /// Compiles a write's filter; its `$expr` clauses see the command's
    /// `$$NOW` (decided by the proposer, so every replica agrees).
    fn filter(&self, filter: &Document) -> Result<Filter> {
        Filter::parse_with(
            filter,
            &crate::aggregate::Env::at(self.now.timestamp_millis()),
        )
    }

    /// Every stored document of the collection that matches `filter`, in `_id`
    /// order, with the array position `$` refers to.
    fn candidates(
        &self,
        collection_id: u64,
        filter: &Filter,
        first_only: bool,
    ) -> Result<Vec<Candidate>> {
        let mvcc = &self.engine.mvcc;
        let mut out = Vec::new();
        let mut consider = |key: Vec<u8>, document: Document| -> Result<bool> {
            if let Some(details) = filter.match_details(&document) {
                out.push(Candidate {
                    key,
                    document,
                    position: details.array_position,
                });
                return Ok(first_only);
            }
            Ok(false)
        };
        if let Some(id) = filter.id_equality() {
            let key = keyspace::document_key(collection_id, id);
            // Decoded where it is stored: no copy of its bytes.
            let document =
                mvcc.read_latest(&key, |bytes| bytes.map(document::decode_stored).transpose())?;
            if let Some(document) = document {
                consider(key, document)?;
            }
            filter.check()?;
            return Ok(out);
        }
        for item in mvcc.scan_prefix(&keyspace::documents_prefix(collection_id), u64::MAX) {
            let (key, bytes) = item?;
            if consider(key, document::decode_stored(&bytes)?)? {
                break;
            }
        }
        // A `$expr` clause that failed to evaluate fails the write, as in
        // MongoDB; nothing has been written yet.
        filter.check()?;
        Ok(out)
    }

    /// Validates and stores a new document; duplicate `_id` is an error.
    fn insert_document(
        &mut self,
        collection_id: u64,
        ns: &Namespace,
        doc: &Document,
    ) -> Result<Bson> {
        let id = document::id_of(doc)
            .ok_or_else(|| {
                Error::BadValue(
                    "document has no _id (the proposer assigns one before applying)".into(),
                )
            })?
            .clone();
        let bytes = if doc.keys().next().map(String::as_str) == Some("_id") {
            document::encode_for_storage(doc)?
        } else {
            document::encode_for_storage(&document::ensure_id_first(doc.clone(), || Bson::Null))?
        };
        self.check_owned(ns, doc)?;
        let key = keyspace::document_key(collection_id, &id);
        if self.writes.contains(&self.engine.mvcc, &key)? {
            return Err(duplicate_id(ns, &id));
        }
        self.writes.put(key, bytes);
        Ok(id)
    }

    fn insert(&mut self, ns: &Namespace, documents: &[Document], ordered: bool) -> CommandResult {
        if documents.is_empty() {
            return Err(Error::BadValue(
                "an insert needs at least one document".into(),
            ));
        }
        let collection_id = self.collection_for_write(ns)?;
        let mut inserted_ids = Vec::with_capacity(documents.len());
        let mut errors = Vec::new();
        for (index, doc) in documents.iter().enumerate() {
            match self.insert_document(collection_id, ns, doc) {
                Ok(id) => inserted_ids.push(id),
                Err(error) => {
                    errors.push(WriteError { index, error });
                    if ordered {
                        break;
                    }
                }
            }
        }
        Ok(Outcome::Inserted {
            inserted_ids,
            errors,
        })
    }

    fn parse_update(kind: &UpdateKind) -> Result<Update> {
        match kind {
            UpdateKind::Operators {
                update,
                array_filters,
            } => Update::parse(update, array_filters),
            UpdateKind::Replacement(doc) => Update::replacement(doc),
        }
    }

    /// Rewrites one matched document; returns whether it changed.
    fn rewrite(
        &mut self,
        ns: &Namespace,
        candidate: &Candidate,
        update: &Update,
    ) -> Result<Option<Document>> {
        let ctx = UpdateContext {
            now: self.now,
            position: candidate.position,
        };
        let applied = update.apply(&candidate.document, &ctx)?;
        if !applied.modified {
            return Ok(None);
        }
        let old_id = document::id_of(&candidate.document);
        let new_id = document::id_of(&applied.document);
        let same_id = match (old_id, new_id) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        if !same_id {
            return Err(Error::ImmutableField(format!(
                "After applying the update to the document with _id {}, the (immutable) field '_id' was found to have been altered",
                old_id.map(|id| id.to_string()).unwrap_or_default()
            )));
        }
        self.check_shard_key_unchanged(ns, &candidate.document, &applied.document)?;
        let document = document::ensure_id_first(applied.document, || Bson::Null);
        let bytes = document::encode_for_storage(&document).map_err(|e| with_namespace(e, ns))?;
        self.writes.put(candidate.key.clone(), bytes);
        Ok(Some(document))
    }

    /// Inserts the document an upsert builds; returns it with its `_id`.
    fn upsert(
        &mut self,
        ns: &Namespace,
        filter: &Filter,
        update: &Update,
        upsert_id: Option<&Bson>,
    ) -> Result<(Bson, Document)> {
        let ctx = UpdateContext {
            now: self.now,
            position: None,
        };
        let built = update.upsert_document(filter, &ctx)?;
        let id = match built.get("_id") {
            Some(id) => id.clone(),
            None => upsert_id.cloned().ok_or_else(|| {
                Error::BadValue("an upsert needs an _id chosen by the proposer".into())
            })?,
        };
        let document = document::ensure_id_first(built, || id.clone());
        let collection_id = self.collection_for_write(ns)?;
        self.insert_document(collection_id, ns, &document)?;
        Ok((id, document))
    }

    fn update(
        &mut self,
        ns: &Namespace,
        filter: &Document,
        kind: &UpdateKind,
        multi: bool,
        upsert: bool,
        upsert_id: Option<&Bson>,
    ) -> CommandResult {
        let filter = self.filter(filter)?;
        let update = Self::parse_update(kind)?;
        if multi && update.is_replacement() {
            return Err(Error::BadValue(
                "multi update is not supported for replacement-style update".into(),
            ));
        }
        let (mut matched, mut modified) = (0, 0);
        if let Some(collection_id) = self.collection_id(ns) {
            for candidate in self.candidates(collection_id, &filter, !multi)? {
                matched += 1;
                if self.rewrite(ns, &candidate, &update)?.is_some() {
                    modified += 1;
                }
            }
        }
        if matched == 0 && upsert {
            let (id, _) = self.upsert(ns, &filter, &update, upsert_id)?;
            return Ok(Outcome::Updated {
                matched: 0,
                modified: 0,
                upserted_id: Some(id),
            });
        }
        Ok(Outcome::Updated {
            matched,
            modified,
            upserted_id: None,
        })
    }

    fn delete(&mut self, ns: &Namespace, filter: &Document, multi: bool) -> CommandResult {
        let filter = self.filter(filter)?;
        let Some(collection_id) = self.collection_id(ns) else {
            return Ok(Outcome::Deleted { deleted: 0 });
        };
        let candidates = self.candidates(collection_id, &filter, !multi)?;
        let deleted = candidates.len() as u64;
        for candidate in candidates {
            self.writes.delete(candidate.key);
        }
        Ok(Outcome::Deleted { deleted })
    }

    #[allow(clippy::too_many_arguments)]
    fn find_and_modify(
        &mut self,
        ns: &Namespace,
        filter: &Document,
        sort: &Document,
        projection: &Document,
        action: &FindAndModifyAction,
        return_new: bool,
        upsert: bool,
        upsert_id: Option<&Bson>,
    ) -> CommandResult {
        let filter = self.filter(filter)?;
        let sort = SortSpec::parse(sort)?;
        let projection = Projection::parse(projection)?;
        let update = match action {
            FindAndModifyAction::Update(kind) => Some(Self::parse_update(kind)?),
            FindAndModifyAction::Delete => None,
        };
        if upsert && update.is_none() {
            return Err(Error::BadValue(
                "upsert is not allowed with findOneAndDelete".into(),
            ));
        }
        let target = match self.collection_id(ns) {
            Some(collection_id) => {
                let mut candidates = self.candidates(collection_id, &filter, sort.is_empty())?;
                if !sort.is_empty() {
                    // Stable: ties keep `_id` order, so the choice is deterministic.
                    candidates = super::read::sort_by_spec(candidates, &sort, |c| &c.document, 1)?;
                }
                candidates.into_iter().next()
            }
            None => None,
        };
        let project = |doc: &Document, position: Option<usize>| projection.apply(doc, position);
        match (target, update) {
            (Some(candidate), None) => {
                self.writes.delete(candidate.key.clone());
                let document = project(&candidate.document, candidate.position)?;
                Ok(Outcome::Found {
                    document: Some(document),
                    upserted_id: None,
                })
            }
            (Some(candidate), Some(update)) => {
                let changed = self.rewrite(ns, &candidate, &update)?;
                let shown = match (return_new, changed) {
                    (true, Some(new)) => project(&new, candidate.position)?,
                    _ => project(&candidate.document, candidate.position)?,
                };
                Ok(Outcome::Found {
                    document: Some(shown),
                    upserted_id: None,
                })
            }
            (None, Some(update)) if upsert => {
                let (id, document) = self.upsert(ns, &filter, &update, upsert_id)?;
                let shown = if return_new {
                    Some(project(&document, None)?)
                } else {
                    None
                };
                Ok(Outcome::Found {
                    document: shown,
                    upserted_id: Some(id),
                })
            }
            (None, _) => Ok(Outcome::Found {
                document: None,
                upserted_id: None,
            }),
        }
    }

    // ── catalog operations ─────────────────────────────────────────────────

    fn create_collection(&mut self, ns: &Namespace, options: &CollectionOptions) -> CommandResult {
        catalog::validate_namespace(ns)?;
        catalog::validate_options(&options.raw)?;
        if self.collection_id(ns).is_some() {
            return Err(Error::NamespaceExists(ns.to_string()));
        }
        self.add_collection(ns, options.clone())?;
        Ok(Outcome::Done)
    }

    /// Drops a collection if it exists; returns whether it did. Documents get
    /// tombstones in the same commit, so readers at older snapshots still see
    /// them and GC reclaims them later.
    fn drop_collection(&mut self, ns: &Namespace) -> Result<bool> {
        let Some(collection_id) = self.collection_id(ns) else {
            return Ok(false);
        };
        for item in self
            .engine
            .mvcc
            .scan_prefix(&keyspace::documents_prefix(collection_id), u64::MAX)
        {
            let (key, _) = item?;
            self.writes.delete(key);
        }
        self.catalog_mut().remove(ns);
        self.writes.delete(keyspace::catalog_key(ns));
        Ok(true)
    }

    fn drop_database(&mut self, db: &str) -> CommandResult {
        catalog::validate_db_name(db)?;
        let namespaces: Vec<Namespace> = self
            .catalog()
            .get()
            .collections_of(db)
            .map(|(ns, _)| ns.clone())
            .collect();
        for ns in &namespaces {
            self.drop_collection(ns)?;
        }
        Ok(Outcome::Done)
    }

    fn rename(&mut self, from: &Namespace, to: &Namespace, drop_target: bool) -> CommandResult {
        catalog::validate_namespace(to)?;
        let Some(meta) = self.catalog().get().get(from).cloned() else {
            return Err(Error::NamespaceNotFound(from.to_string()));
        };
        if self.sharded(from).is_some() || self.sharded(to).is_some() {
            return Err(Error::NotSupported(format!(
                "renaming sharded collections ({from} → {to})"
            )));
        }
        if from == to {
            return Err(Error::BadValue(format!("cannot rename {from} to itself")));
        }
        if self.collection_id(to).is_some() {
            if !drop_target {
                return Err(Error::NamespaceExists(to.to_string()));
            }
            self.drop_collection(to)?;
        }
        let value = rmp_serde::to_vec(&meta)?;
        let catalog = self.catalog_mut();
        catalog.remove(from);
        catalog.insert(to.clone(), meta);
        self.writes.delete(keyspace::catalog_key(from));
        self.writes.put(keyspace::catalog_key(to), value);
        Ok(Outcome::Done)
    }
}

/// The catalog a command sees: the published one, or its own changed copy.
enum CatalogView<'a> {
    Published(Arc<Catalog>),
    Changed(&'a Catalog),
}

impl CatalogView<'_> {
    fn get(&self) -> &Catalog {
        match self {
            CatalogView::Published(c) => c,
            CatalogView::Changed(c) => c,
        }
    }
}

/// MongoDB's duplicate-key error for the `_id` index.
fn duplicate_id(ns: &Namespace, id: &Bson) -> Error {
    Error::DuplicateKey {
        namespace: ns.to_string(),
        index: "_id_".into(),
        key: format!("{{ _id: {id} }}"),
    }
}

fn with_namespace(error: Error, ns: &Namespace) -> Error {
    match error {
        Error::InvalidDocument(msg) => Error::InvalidDocument(format!("{msg} (in {ns})")),
        other => other,
    }
}
