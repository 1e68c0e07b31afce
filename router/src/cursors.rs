//! Large results: the `find` and `aggregate` cap, and cursors paged with
//! `getMore`.
//!
//! * A `find` or `aggregate` without `batchSize` returns at most the router's result cap
//!   ([`DEFAULT_RESULT_CAP`], 50,000, unless configured). When there are more it says so — `"truncated": true` — and
//!   returns a `cursorId` to fetch the rest with `getMore`.
//! * A `find` or `aggregate` with `batchSize: n` returns the first `n` documents and a
//!   `cursorId` (0 when there is nothing more); `getMore {cursorId,
//!   batchSize?}` returns the next batch, `killCursors {cursorIds}` closes
//!   cursors early. Cursors idle for [`CURSOR_IDLE`] are closed.
//!
//! Cursors live in the router that opened them (as in MongoDB, where a
//! cursor belongs to its mongos); another router answers `CursorNotFound`.
//! The router keeps no documents: each batch runs the query again at the
//! latest state, skipping what was already returned (a pipeline gets
//! `{$skip}` and `{$limit}` stages appended, and keeps the `$$NOW` of its
//! first batch). With a sort on unique
//! fields batches are exact while nothing changes; concurrent writes may
//! shift documents across batch boundaries (MongoDB's cursors without a
//! snapshot read can also see such changes).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bson::{Document, doc};
use lauradb_engine::command::Namespace;
use lauradb_engine::dataapi::{ApiError, ReadOutput, ReadRequest};
use lauradb_engine::engine::FindOptions;

use crate::Backend;

/// Most documents one `find` returns without a cursor, by default.
pub const DEFAULT_RESULT_CAP: u64 = 50_000;
/// Cursors unused for this long are closed.
pub const CURSOR_IDLE: Duration = Duration::from_secs(600);
/// Most cursors open at once per router; the least recently used goes first.
const MAX_OPEN: usize = 10_000;

/// One batch of a paged `find`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub documents: Vec<Document>,
    /// 0 when the result is exhausted.
    pub cursor_id: u64,
}

/// What a cursor pages through.
#[derive(Debug, Clone)]
enum Query {
    Find {
        ns: Namespace,
        options: Box<FindOptions>,
    },
    Aggregate {
        ns: Namespace,
        pipeline: Vec<Document>,
        now_millis: i64,
    },
}

struct Cursor {
    query: Query,
    /// Documents already returned (added to the query's own skip).
    returned: u64,
    batch_size: u64,
    last_used: Instant,
}

/// The open cursors of one router.
pub struct Cursors {
    /// Most documents in one answer (first batch or `getMore`).
    cap: u64,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Cursor>>,
}

impl Cursors {
    /// No cursors yet; answers hold at most `cap` documents.
    pub fn new(cap: u64) -> Self {
        // Ids stay below 2^53 so JavaScript clients read them exactly, and
        // start somewhere unpredictable so a restarted router does not hand
        // out the ids of its previous life.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Cursors {
            cap: cap.max(1),
            next_id: AtomicU64::new((seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 12) | 1),
            open: Mutex::new(HashMap::new()),
        }
    }
}

fn cursor_not_found(id: u64) -> ApiError {
    ApiError::new(
        404,
        "CursorNotFound",
        format!(
            "cursor id {id} not found (exhausted, killed, idle for over {} s, or opened by another router)",
            CURSOR_IDLE.as_secs()
        ),
    )
}

/// Runs the query again at the latest state, skipping `already` documents
/// and returning at most `take`.
async fn fetch<B: Backend>(
    backend: &B,
    query: &Query,
    already: u64,
    take: u64,
) -> Result<Vec<Document>, ApiError> {
    let request = match query {
        Query::Find { ns, options } => ReadRequest::Find {
            ns: ns.clone(),
            options: FindOptions {
                skip: options.skip.saturating_add(already),
                limit: take,
                ..options.as_ref().clone()
            },
            one: false,
        },
        Query::Aggregate {
            ns,
            pipeline,
            now_millis,
        } => {
            let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            let mut pipeline = pipeline.clone();
            if already > 0 {
                pipeline.push(doc! { "$skip": count(already) });
            }
            pipeline.push(doc! { "$limit": count(take.max(1)) });
            ReadRequest::Aggregate {
                ns: ns.clone(),
                pipeline,
                now_millis: *now_millis,
                partial_group: false,
            }
        }
    };
    match backend.read(request).await? {
        ReadOutput::Documents(documents) => Ok(documents),
        other => Err(ApiError::new(
            500,
            "InternalError",
            format!("a paged read answered {other:?}"),
        )),
    }
}

/// How many of the query's documents are left after `returned` (None: no limit).
fn remaining(query: &Query, returned: u64) -> Option<u64> {
    match query {
        Query::Find { options, .. } => {
            (options.limit > 0).then(|| options.limit.saturating_sub(returned))
        }
        Query::Aggregate { .. } => None,
    }
}

impl Cursors {
    /// The first batch of a `find` or `aggregate` (`batch_size` documents,
    /// or up to the cap when the client asked for no batching). Returns the
    /// batch and whether the result was cut short.
    pub async fn first_batch<B: Backend>(
        &self,
        backend: &B,
        request: ReadRequest,
        batch_size: Option<u64>,
    ) -> Result<(Batch, bool), ApiError> {
        let query = match request {
            ReadRequest::Find { ns, options, .. } => Query::Find {
                ns,
                options: Box::new(options),
            },
            ReadRequest::Aggregate {
                ns,
                pipeline,
                now_millis,
                ..
            } => Query::Aggregate {
                ns,
                pipeline,
                now_millis,
            },
            _ => {
                return Err(ApiError::bad_request(
                    "BadValue",
                    "only find and aggregate open cursors",
                ));
            }
        };
        let batch = batch_size.unwrap_or(self.cap).min(self.cap);
        let batch = self
            .batch(backend, query, 0, batch, batch_size.is_some())
            .await?;
        let truncated = batch_size.is_none() && batch.cursor_id != 0;
        Ok((batch, truncated))
    }

    /// The next batch of cursor `id`.
    pub async fn get_more<B: Backend>(
        &self,
        backend: &B,
        id: u64,
        batch_size: Option<u64>,
    ) -> Result<Batch, ApiError> {
        let cursor = self
            .lock()
            .remove(&id)
            .ok_or_else(|| cursor_not_found(id))?;
        if cursor.last_used.elapsed() > CURSOR_IDLE {
            return Err(cursor_not_found(id));
        }
        let size = batch_size.unwrap_or(cursor.batch_size).min(self.cap);
        let next = match self
            .batch(backend, cursor.query.clone(), cursor.returned, size, true)
            .await
        {
            Ok(next) => next,
            Err(error) => {
                // The client may retry (a shard had no leader): keep the
                // cursor where it was.
                self.lock().insert(
                    id,
                    Cursor {
                        last_used: Instant::now(),
                        ..cursor
                    },
                );
                return Err(error);
            }
        };
        // `batch` registered a fresh cursor id; keep the client's id instead.
        if next.cursor_id != 0 {
            let mut open = self.lock();
            if let Some(moved) = open.remove(&next.cursor_id) {
                open.insert(id, moved);
            }
            return Ok(Batch {
                documents: next.documents,
                cursor_id: id,
            });
        }
        Ok(next)
    }

    /// Closes cursors; answers which ones existed.
    pub fn kill(&self, ids: &[u64]) -> (Vec<u64>, Vec<u64>) {
        let mut open = self.lock();
        ids.iter().partition(|id| open.remove(id).is_some())
    }

    /// Fetches up to `size` documents after `returned` ones, plus one more
    /// to learn whether the result goes on; registers a cursor if it does.
    async fn batch<B: Backend>(
        &self,
        backend: &B,
        query: Query,
        returned: u64,
        size: u64,
        keep_open: bool,
    ) -> Result<Batch, ApiError> {
        let left = remaining(&query, returned);
        let want = left.map_or(size, |left| left.min(size));
        let probe = if left.is_some_and(|left| left <= size) {
            want
        } else {
            want + 1
        };
        let mut documents = fetch(backend, &query, returned, probe).await?;
        let more = documents.len() as u64 > want;
        documents.truncate(want as usize);
        if !more || (!keep_open && documents.is_empty()) {
            return Ok(Batch {
                documents,
                cursor_id: 0,
            });
        }
        let cursor_id = self.next_id.fetch_add(2, Ordering::Relaxed) & ((1 << 53) - 1);
        let cursor = Cursor {
            query,
            returned: returned + documents.len() as u64,
            batch_size: size,
            last_used: Instant::now(),
        };
        let mut open = self.lock();
        open.retain(|_, c| c.last_used.elapsed() <= CURSOR_IDLE);
        if open.len() >= MAX_OPEN
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(id, _)| *id)
        {
            open.remove(&oldest);
        }
        open.insert(cursor_id, cursor);
        Ok(Batch {
            documents,
            cursor_id,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Cursor>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}
