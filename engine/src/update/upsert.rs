//! The document an upsert inserts when its filter matched nothing.
//!
//! * **Operator update**: start from the filter's equality conditions
//!   (`{sku: "x1", "meta.v": 2, qty: {$gt: 5}}` seeds `{meta: {v: 2}, sku: "x1"}`;
//!   range conditions are ignored), then apply the update as an insert, so
//!   `$setOnInsert` takes effect and positional `$` has no match. Seeded
//!   fields are created in path order (bytewise, as MongoDB orders them);
//!   one path being a prefix of another (`a` and `a.b`) is an error. If the
//!   seed has an `_id`, the update may not change it.
//! * **Replacement** (see `replace.rs`): the replacement itself plus the
//!   filter's `_id` equality, if any; nothing else comes from the filter.
//!
//! The caller generates an `_id` when the result has none and moves `_id`
//! to the front.

use bson::{Bson, Document};

use super::path::MAX_PATH_SEGMENTS;
use crate::{Error, Result};

/// Builds the seed document from a filter's equality fields.
pub fn seed(mut equalities: Vec<(String, Bson)>) -> Result<Document> {
    equalities.sort_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
    let mut doc = Document::new();
    let mut placed: Vec<&str> = Vec::with_capacity(equalities.len());
    for (path, value) in &equalities {
        if let Some(other) = placed.iter().find(|p| overlaps(p, path)) {
            return Err(Error::bad_value(format!(
                "cannot infer query fields to set, both paths '{path}' and '{other}' are matched"
            )));
        }
        insert_path(&mut doc, path, value.clone())?;
        placed.push(path);
    }
    Ok(doc)
}

/// True when one path is the other or a prefix of it.
fn overlaps(a: &str, b: &str) -> bool {
    let prefix = |short: &str, long: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    };
    prefix(a, b) || prefix(b, a)
}

/// Stores `value` at a dotted path, creating intermediate documents.
fn insert_path(doc: &mut Document, path: &str, value: Bson) -> Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() > MAX_PATH_SEGMENTS || parts.iter().any(|p| p.is_empty()) {
        return Err(Error::bad_value(format!(
            "cannot infer query fields to set from path '{path}'"
        )));
    }
    let Some((last, parents)) = parts.split_last() else {
        return Ok(());
    };
    let mut current = doc;
    for part in parents {
        let entry = current
            .entry(*part)
            .or_insert_with(|| Bson::Document(Document::new()));
        match entry {
            Bson::Document(d) => current = d,
            _ => {
                return Err(Error::bad_value(format!(
                    "cannot infer query fields to set, path '{path}' crosses a non-document"
                )));
            }
        }
    }
    current.insert(*last, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    #[test]
    fn seeds_nested_documents_in_path_order() {
        let doc = seed(vec![
            ("sku".into(), bson!("x1")),
            ("meta.v".into(), bson!(2)),
            ("meta.a".into(), bson!({"k": 1})),
        ])
        .unwrap();
        assert_eq!(doc, doc! {"meta": {"a": {"k": 1}, "v": 2}, "sku": "x1"});
        assert_eq!(doc.keys().collect::<Vec<_>>(), vec!["meta", "sku"]);
        let inner = doc.get_document("meta").unwrap();
        assert_eq!(inner.keys().collect::<Vec<_>>(), vec!["a", "v"]);
    }

    #[test]
    fn overlapping_paths_are_errors() {
        let err = seed(vec![("a".into(), bson!(1)), ("a.b".into(), bson!(2))]).unwrap_err();
        assert!(err.to_string().contains("both paths 'a.b' and 'a'"));
        assert!(seed(vec![("a".into(), bson!(1)), ("ab".into(), bson!(2))]).is_ok());
    }
}
