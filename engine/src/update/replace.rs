//! Replacement updates: `replaceOne`, or an update document without
//! operators. The new document is the replacement itself, with two rules
//! from MongoDB:
//!
//! * `_id` stays: a replacement without `_id` keeps the original one (first,
//!   where it was); a replacement with an `_id` must equal the original by
//!   value ("After applying the update, the (immutable) field '_id' was found
//!   to have been altered to _id: 2").
//! * A top-level timestamp of zero (`Timestamp(0, 0)`, outside `_id`) is
//!   replaced by the command's time, as MongoDB does for replacements.
//!
//! The update counts as a modification unless the original document is
//! byte-for-byte the replacement as given; so a replacement that leaves out
//! `_id` always counts, as it does in MongoDB.
//!
//! An upsert's replacement document is the same operation applied to the
//! document seeded with the filter's `_id` equality (or to nothing).

use bson::{Bson, DateTime, Document, Timestamp};

use super::Applied;
use super::identical::identical_documents;
use super::render;
use crate::value::values_equal;
use crate::{Error, Result};

/// Replaces `original` with `replacement`.
pub fn apply(original: &Document, replacement: &Document, now: DateTime) -> Result<Applied> {
    let mut document = Document::new();
    match (original.get("_id"), replacement.get("_id")) {
        (Some(old), Some(new)) if !values_equal(old, new) => {
            return Err(Error::ImmutableField(format!(
                "After applying the update, the (immutable) field '_id' was found to have been \
                 altered to {}",
                render::element("_id", new)
            )));
        }
        (Some(old), None) => {
            document.insert("_id", old.clone());
        }
        _ => {}
    }
    for (key, value) in replacement {
        let value = match value {
            Bson::Timestamp(Timestamp {
                time: 0,
                increment: 0,
            }) if key != "_id" => Bson::Timestamp(timestamp_at(now)),
            other => other.clone(),
        };
        document.insert(key.as_str(), value);
    }
    let modified = !identical_documents(original, replacement);
    Ok(Applied { document, modified })
}

/// The document a replacement upsert inserts: the replacement plus the
/// filter's `_id` equality, if any.
pub fn upsert_document(
    replacement: &Document,
    filter_id: Option<&Bson>,
    now: DateTime,
) -> Result<Document> {
    let mut seed = Document::new();
    if let Some(id) = filter_id {
        seed.insert("_id", id.clone());
    }
    Ok(apply(&seed, replacement, now)?.document)
}

/// The timestamp MongoDB stores for "now" (`$currentDate`, zero timestamps):
/// the command's second, increment 1.
pub fn timestamp_at(now: DateTime) -> Timestamp {
    let secs = now.timestamp_millis().div_euclid(1000);
    Timestamp {
        time: u32::try_from(secs).unwrap_or(0),
        increment: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    const NOW: DateTime = DateTime::from_millis(7_000);

    #[test]
    fn keeps_the_original_id_first() {
        let applied = apply(&doc! {"_id": 1, "a": 1, "b": 2}, &doc! {"c": 3}, NOW).unwrap();
        assert_eq!(applied.document, doc! {"_id": 1, "c": 3});
        assert_eq!(
            applied.document.keys().next().map(String::as_str),
            Some("_id")
        );
        assert!(applied.modified);
    }

    #[test]
    fn modified_compares_with_the_replacement_as_given() {
        let same = apply(&doc! {"_id": 1, "a": 1}, &doc! {"_id": 1, "a": 1}, NOW).unwrap();
        assert!(!same.modified);
        let without_id = apply(&doc! {"_id": 1, "a": 1}, &doc! {"a": 1}, NOW).unwrap();
        assert_eq!(without_id.document, doc! {"_id": 1, "a": 1});
        assert!(without_id.modified);
    }

    #[test]
    fn id_must_keep_its_value() {
        let err = apply(&doc! {"_id": 1}, &doc! {"_id": 2}, NOW).unwrap_err();
        assert_eq!(
            err,
            Error::ImmutableField(
                "After applying the update, the (immutable) field '_id' was found to have been altered to _id: 2"
                    .into()
            )
        );
        // Equal by value is allowed.
        assert!(apply(&doc! {"_id": 1}, &doc! {"_id": 1.0}, NOW).is_ok());
    }

    #[test]
    fn zero_timestamps_become_now() {
        let zero = Timestamp {
            time: 0,
            increment: 0,
        };
        let applied = apply(&doc! {"_id": 1}, &doc! {"t": zero, "n": {"t": zero}}, NOW).unwrap();
        assert_eq!(
            applied.document,
            doc! {"_id": 1, "t": Timestamp { time: 7, increment: 1 }, "n": {"t": zero}}
        );
    }

    #[test]
    fn upsert_takes_only_the_filter_id() {
        let doc = upsert_document(&doc! {"v": 1}, Some(&bson!(5)), NOW).unwrap();
        assert_eq!(doc, doc! {"_id": 5, "v": 1});
        assert_eq!(doc.keys().next().map(String::as_str), Some("_id"));
        assert_eq!(
            upsert_document(&doc! {"v": 1}, None, NOW).unwrap(),
            doc! {"v": 1}
        );
        assert!(upsert_document(&doc! {"_id": 5, "v": 1}, Some(&bson!(5)), NOW).is_ok());
        let err = upsert_document(&doc! {"_id": 6}, Some(&bson!(5)), NOW).unwrap_err();
        assert!(matches!(err, Error::ImmutableField(_)));
    }
}
