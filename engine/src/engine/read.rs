//! Reads: find, count, distinct and catalog listings at a snapshot.
//!
//! A read picks a timestamp (`ReadAt::Latest` = the newest commit), registers
//! itself so GC keeps the versions it needs, and scans MVCC at that timestamp:
//! it sees every command committed at or before it and nothing after, while
//! `apply` goes on committing newer versions.

use bson::{Bson, Document, RawDocumentBuf};

use super::Engine;
use super::found::Found;
use crate::aggregate::{Env, Foreign, MAX_STAGE_DOCUMENTS, ParseScope, Pipeline, RunCtx};
use crate::catalog::IndexInfo;
use crate::command::Namespace;
use crate::projection::Projection;
use crate::query::Filter;
use crate::sort::{SortKey, SortSpec};
use crate::{Error, Result, document, keyspace, value};

/// Which snapshot a read sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadAt {
    /// The newest committed state.
    #[default]
    Latest,
    /// The state as of a commit timestamp.
    Timestamp(u64),
}

/// A find request.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FindOptions {
    #[serde(with = "crate::wire::document")]
    pub filter: Document,
    #[serde(with = "crate::wire::document")]
    pub sort: Document,
    #[serde(with = "crate::wire::document")]
    pub projection: Document,
    pub skip: u64,
    /// 0 means no limit (MongoDB's convention).
    pub limit: u64,
}

/// One collection, as `listCollections` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionInfo {
    pub name: String,
    pub options: Document,
}

/// One database, as `listDatabases` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseInfo {
    pub name: String,
    /// Sum of the BSON sizes of its documents.
    pub size_bytes: u64,
    pub collections: u64,
}

/// Collection statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionStats {
    pub ns: Namespace,
    pub count: u64,
    /// Sum of the BSON sizes of the documents.
    pub size_bytes: u64,
    pub avg_obj_size: u64,
    pub indexes: Vec<IndexInfo>,
}

impl Engine {
    fn read_ts(&self, at: ReadAt) -> u64 {
        match at {
            ReadAt::Latest => self.mvcc.latest_commit_ts(),
            ReadAt::Timestamp(ts) => ts,
        }
    }

    /// Calls `visit` with every document of `ns` matching `filter` at `ts`, in
    /// `_id` order, until it returns false. Uses a point lookup when the
    /// filter pins `_id`; such a lookup decodes nothing when the filter looks
    /// at `_id` alone (see [`Found`]).
    fn scan_found(
        &self,
        ns: &Namespace,
        filter: &Filter,
        ts: u64,
        mut visit: impl FnMut(Found) -> Result<bool>,
    ) -> Result<()> {
        let Some(collection_id) = self.collection_id(ns) else {
            return Ok(());
        };
        let _reader = self.register_reader(ts);
        if let Some(id) = filter.id_equality() {
            let key = keyspace::document_key(collection_id, id);
            if let Some(stored) = self.mvcc.get(&key, ts)? {
                if filter.id_lookup_decides() {
                    visit(Found::stored(stored))?;
                } else if filter.reads_only_id() {
                    if filter.matches_id(document::stored_id(&stored)?) {
                        visit(Found::stored(stored))?;
                    }
                } else {
                    let doc = document::decode_stored(&stored)?;
                    if let Some(details) = filter.match_details(&doc) {
                        visit(Found::decoded(stored, doc, details.array_position))?;
                    }
                }
            }
            return filter.check();
        }
        for item in self
            .mvcc
            .scan_prefix(&keyspace::documents_prefix(collection_id), ts)
        {
            let (_, stored) = item?;
            let doc = document::decode_stored(&stored)?;
            if let Some(details) = filter.match_details(&doc)
                && !visit(Found::decoded(stored, doc, details.array_position))?
            {
                break;
            }
        }
        filter.check()
    }

    /// [`Engine::scan_found`] for callers that look inside every document.
    fn scan_matching(
        &self,
        ns: &Namespace,
        filter: &Filter,
        ts: u64,
        mut visit: impl FnMut(Document, Option<usize>) -> bool,
    ) -> Result<()> {
        self.scan_found(ns, filter, ts, |found| {
            let position = found.position;
            Ok(visit(found.into_document()?, position))
        })
    }

    /// MongoDB `find`: filter, sort, skip, limit, projection.
    pub fn find(&self, ns: &Namespace, options: &FindOptions, at: ReadAt) -> Result<Vec<Document>> {
        self.find_projected(ns, options, options.limit, at, project)
    }

    /// Like [`Engine::find`], answering with BSON bytes: documents that need
    /// no projection are the stored bytes, never decoded if the filter did
    /// not need it. What a shard sends to the router.
    pub fn find_raw(
        &self,
        ns: &Namespace,
        options: &FindOptions,
        at: ReadAt,
    ) -> Result<Vec<RawDocumentBuf>> {
        self.find_projected(ns, options, options.limit, at, project_raw)
    }

    /// MongoDB `findOne`: the first document `find` would return.
    pub fn find_one(
        &self,
        ns: &Namespace,
        options: &FindOptions,
        at: ReadAt,
    ) -> Result<Option<Document>> {
        Ok(self.find_projected(ns, options, 1, at, project)?.pop())
    }

    /// [`Engine::find_one`] answering with BSON bytes, as [`Engine::find_raw`].
    pub fn find_one_raw(
        &self,
        ns: &Namespace,
        options: &FindOptions,
        at: ReadAt,
    ) -> Result<Option<RawDocumentBuf>> {
        Ok(self.find_projected(ns, options, 1, at, project_raw)?.pop())
    }

    /// [`Engine::find_limited`] with the projection applied by `project`.
    fn find_projected<T>(
        &self,
        ns: &Namespace,
        options: &FindOptions,
        limit: u64,
        at: ReadAt,
        project: fn(Found, &Projection) -> Result<T>,
    ) -> Result<Vec<T>> {
        let (found, projection) = self.find_limited(ns, options, limit, at)?;
        found
            .into_iter()
            .map(|found| project(found, &projection))
            .collect()
    }

    /// The documents a find answers, in order, skipped and limited but not
    /// projected yet, with the parsed projection.
    fn find_limited(
        &self,
        ns: &Namespace,
        options: &FindOptions,
        limit: u64,
        at: ReadAt,
    ) -> Result<(Vec<Found>, Projection)> {
        let started = std::time::Instant::now();
        let filter = Filter::parse(&options.filter)?;
        let sort = SortSpec::parse(&options.sort)?;
        let projection = Projection::parse(&options.projection)?;
        let skip = usize::try_from(options.skip).unwrap_or(usize::MAX);
        let limit = if limit == 0 {
            usize::MAX
        } else {
            usize::try_from(limit).unwrap_or(usize::MAX)
        };
        let wanted = skip.saturating_add(limit);
        let ts = self.read_ts(at);

        let mut matched: Vec<Found> = Vec::new();
        if sort.is_empty() {
            self.scan_found(ns, &filter, ts, |found| {
                matched.push(found);
                Ok(matched.len() < wanted)
            })?;
        } else {
            let mut keyed = Vec::new();
            self.scan_found(ns, &filter, ts, |mut found| {
                keyed.push((sort.try_key(found.document()?)?, found));
                Ok(true)
            })?;
            matched = keep_sorted(keyed, wanted);
        }
        matched.drain(..skip.min(matched.len()));
        matched.truncate(limit);
        metrics::histogram!("lauradb_engine_read_seconds", "op" => "find")
            .record(started.elapsed().as_secs_f64());
        Ok((matched, projection))
    }

    /// MongoDB `countDocuments`: matching documents after skip, up to limit (0 = none).
    pub fn count_documents(
        &self,
        ns: &Namespace,
        filter: &Document,
        skip: u64,
        limit: u64,
        at: ReadAt,
    ) -> Result<u64> {
        let filter = Filter::parse(filter)?;
        let mut count = 0_u64;
        self.scan_found(ns, &filter, self.read_ts(at), |_| {
            count += 1;
            Ok(limit == 0 || count < skip.saturating_add(limit))
        })?;
        let after_skip = count.saturating_sub(skip);
        Ok(if limit == 0 {
            after_skip
        } else {
            after_skip.min(limit)
        })
    }

    /// MongoDB `estimatedDocumentCount`: the number of documents in `ns`.
    pub fn estimated_document_count(&self, ns: &Namespace, at: ReadAt) -> Result<u64> {
        self.count_documents(ns, &Document::new(), 0, 0, at)
    }

    /// MongoDB `distinct`: the distinct values of `field` over matching
    /// documents, arrays unwound one level, in BSON order.
    pub fn distinct(
        &self,
        ns: &Namespace,
        field: &str,
        filter: &Document,
        at: ReadAt,
    ) -> Result<Vec<Bson>> {
        if field.is_empty() || field.starts_with('$') {
            return Err(Error::BadValue(format!(
                "distinct key '{field}' must be a non-empty field path not starting with '$'"
            )));
        }
        let filter = Filter::parse(filter)?;
        let mut values: Vec<Bson> = Vec::new();
        self.scan_matching(ns, &filter, self.read_ts(at), |doc, _| {
            collect_path_values(&Bson::Document(doc), &split_path(field), &mut values);
            true
        })?;
        values.sort_by(value::compare);
        values.dedup_by(|a, b| value::values_equal(a, b));
        Ok(values)
    }

    /// MongoDB `aggregate`: runs `pipeline` over the documents of `ns` at one
    /// snapshot; `$lookup` and `$unionWith` read the same snapshot of the
    /// same database. A leading `$match` filters while scanning. With
    /// `partial_group` the pipeline must end with a mergeable `$group`, and
    /// the answer is the groups' partial states (for a router to merge).
    pub fn aggregate(
        &self,
        ns: &Namespace,
        pipeline: &[Document],
        now_millis: i64,
        partial_group: bool,
        at: ReadAt,
    ) -> Result<Vec<Document>> {
        let started = std::time::Instant::now();
        let env = Env::at(now_millis);
        let pipeline = Pipeline::parse(pipeline, &ParseScope::with_now([]))?;
        let (leading, rest) = pipeline.take_leading_match();
        let filter = Filter::parse_with(&leading.unwrap_or_default(), &env)?;
        let ts = self.read_ts(at);
        let input = self.scan_for_pipeline(ns, &filter, ts)?;
        let foreign = SnapshotForeign {
            engine: self,
            db: &ns.db,
            ts,
        };
        let ctx = RunCtx {
            env: &env,
            foreign: &foreign,
        };
        let result = if partial_group {
            rest.run_partial_group(input, ctx)
        } else {
            rest.run(input, ctx)
        };
        metrics::histogram!("lauradb_engine_read_seconds", "op" => "aggregate")
            .record(started.elapsed().as_secs_f64());
        result
    }

    /// The matching documents of a collection, as a pipeline's input.
    fn scan_for_pipeline(&self, ns: &Namespace, filter: &Filter, ts: u64) -> Result<Vec<Document>> {
        let mut docs = Vec::new();
        self.scan_matching(ns, filter, ts, |doc, _| {
            docs.push(doc);
            docs.len() <= MAX_STAGE_DOCUMENTS
        })?;
        if docs.len() > MAX_STAGE_DOCUMENTS {
            return Err(Error::BadValue(format!(
                "{ns}: a pipeline can read at most {MAX_STAGE_DOCUMENTS} documents; start it \
                 with a $match that selects fewer"
            )));
        }
        Ok(docs)
    }

    /// Collections of a database, by name.
    pub fn list_collections(&self, db: &str) -> Vec<CollectionInfo> {
        self.catalog()
            .collections_of(db)
            .map(|(ns, meta)| CollectionInfo {
                name: ns.collection.clone(),
                options: meta.options.raw.clone(),
            })
            .collect()
    }

    /// Databases with at least one collection, by name, with their sizes.
    pub fn list_databases(&self) -> Result<Vec<DatabaseInfo>> {
        let catalog = self.catalog();
        let mut out = Vec::new();
        for db in catalog.databases() {
            let mut info = DatabaseInfo {
                name: db.clone(),
                size_bytes: 0,
                collections: 0,
            };
            for (ns, _) in catalog.collections_of(&db) {
                info.collections += 1;
                info.size_bytes += self.collection_stats(ns)?.size_bytes;
            }
            out.push(info);
        }
        Ok(out)
    }

    /// Count, data size and indexes of a collection.
    pub fn collection_stats(&self, ns: &Namespace) -> Result<CollectionStats> {
        let meta = self
            .catalog()
            .get(ns)
            .cloned()
            .ok_or_else(|| Error::NamespaceNotFound(ns.to_string()))?;
        let ts = self.mvcc.latest_commit_ts();
        let _reader = self.register_reader(ts);
        let (mut count, mut size_bytes) = (0_u64, 0_u64);
        for item in self
            .mvcc
            .scan_prefix(&keyspace::documents_prefix(meta.id), ts)
        {
            let (_, bytes) = item?;
            count += 1;
            size_bytes += bytes.len() as u64;
        }
        Ok(CollectionStats {
            ns: ns.clone(),
            count,
            size_bytes,
            avg_obj_size: size_bytes.checked_div(count).unwrap_or(0),
            indexes: meta.indexes(),
        })
    }

    /// Whether a collection exists.
    pub fn collection_exists(&self, ns: &Namespace) -> bool {
        self.catalog().get(ns).is_some()
    }
}

/// Other collections of a pipeline's database, read at the pipeline's snapshot.
struct SnapshotForeign<'a> {
    engine: &'a Engine,
    db: &'a str,
    ts: u64,
}

impl Foreign for SnapshotForeign<'_> {
    fn find(&self, collection: &str, filter: &Document) -> Result<Vec<Document>> {
        let ns = Namespace::new(self.db, collection);
        let filter = Filter::parse(filter)?;
        self.engine.scan_for_pipeline(&ns, &filter, self.ts)
    }
}

/// Sorts items by the sort spec applied to their documents (stable, so ties
/// keep `_id` order) and keeps the first `keep`. Fails like MongoDB on
/// parallel arrays in the sort key.
pub(super) fn sort_by_spec<T>(
    items: Vec<T>,
    sort: &SortSpec,
    document: impl Fn(&T) -> &Document,
    keep: usize,
) -> Result<Vec<T>> {
    let keyed = items
        .into_iter()
        .map(|item| Ok((sort.try_key(document(&item))?, item)))
        .collect::<Result<Vec<_>>>()?;
    Ok(keep_sorted(keyed, keep))
}

/// The first `keep` items in the order of their sort keys (a stable sort:
/// ties keep their scan order, which is `_id` order).
fn keep_sorted<T>(mut keyed: Vec<(SortKey, T)>, keep: usize) -> Vec<T> {
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed.truncate(keep);
    keyed.into_iter().map(|(_, item)| item).collect()
}

/// A found document with the projection applied.
fn project(mut found: Found, projection: &Projection) -> Result<Document> {
    if projection.is_identity() {
        return found.into_document();
    }
    let position = found.position;
    projection.apply(found.document()?, position)
}

/// [`project`] as BSON bytes: the stored bytes when there is nothing to project.
fn project_raw(found: Found, projection: &Projection) -> Result<RawDocumentBuf> {
    if projection.is_identity() {
        return found.into_raw();
    }
    let projected = project(found, projection)?;
    RawDocumentBuf::try_from(&projected)
        .map_err(|e| Error::Encoding(format!("projected document cannot be encoded: {e}")))
}

fn split_path(path: &str) -> Vec<&str> {
    path.split('.').collect()
}

/// The values `distinct` sees at a dotted path: through documents, across
/// array elements, with a terminal array contributing its elements.
pub(crate) fn collect_path_values(value: &Bson, path: &[&str], out: &mut Vec<Bson>) {
    let Some((head, rest)) = path.split_first() else {
        match value {
            Bson::Array(items) => out.extend(items.iter().cloned()),
            other => out.push(other.clone()),
        }
        return;
    };
    match value {
        Bson::Document(doc) => {
            if let Some(child) = doc.get(*head) {
                collect_path_values(child, rest, out);
            }
        }
        Bson::Array(items) => {
            if let Ok(index) = head.parse::<usize>() {
                if let Some(child) = items.get(index) {
                    collect_path_values(child, rest, out);
                }
            } else {
                for item in items {
                    if let Bson::Document(_) = item {
                        collect_path_values(item, path, out);
                    }
                }
            }
        }
        _ => {}
    }
}
