//! Stored documents: the rules a document must keep to be stored, and its
//! byte form.
//!
//! Every insert, replacement and update result passes through
//! [`encode_for_storage`] before it reaches storage, so everything stored
//! keeps these invariants (and readers may rely on them):
//!
//! * **Size.** The BSON encoding is at most [`MAX_DOCUMENT_SIZE`] (16 MiB).
//! * **Nesting.** At most [`MAX_NESTING_DEPTH`] (100) levels of documents and
//!   arrays. The stored document itself is level 1, so `{a: 1}` has depth 1
//!   and `{a: [{b: 1}]}` depth 3 (a JavaScript scope counts as a level too).
//!   Recursive code over stored documents is therefore bounded.
//! * **`_id`.** A top-level `_id` is not an array, a regex or `undefined`: it
//!   is the primary key and must be a usable unique-index key. Validation
//!   does not require `_id` to exist or to come first; the engine calls
//!   [`ensure_id_first`] before validating, so stored documents always start
//!   with it, as in MongoDB.
//! * **Field names.** No NUL bytes (BSON field names are C strings), and no
//!   `$`-prefixed names except DBRef's `$ref`, `$id`, `$db` in an embedded
//!   document (`{$ref: <string>, $id: <any>[, $db: <string>]}`, in that
//!   order).
//!
//! The `$` rule is deliberately stricter than MongoDB 5.0+, which accepts
//! `$`-prefixed names on insert (top level and nested) but then cannot query
//! or update them without `$getField`/`$setField`. LauraDB keeps the pre-5.0
//! rule, which keeps every stored field addressable by a path and every filter
//! and update unambiguous. Dots in field names and empty field names are
//! allowed, as in MongoDB 5.0+.
//!
//! Messages follow MongoDB's where it has one (`The '_id' value cannot be of
//! type array`, `The dollar ($) prefixed field '$x' in 'a.$x' is not valid for
//! storage.`), and always name the field, the limit or the size.
//!
//! ```text
//!  Document ──ensure_id_first──▶ Document ──encode_for_storage──▶ BSON bytes ──▶ storage
//!                                  (validate: size, depth, _id, names)     │
//!  Document ◀──────────────────────── decode_stored ◀──────────────────────┘
//! ```

use bson::{Bson, Document, RawDocument};

use crate::error::{Error, Result};

#[cfg(test)]
mod tests;
mod validate;

/// The largest BSON document that may be stored: 16 MiB, MongoDB's limit.
pub const MAX_DOCUMENT_SIZE: usize = 16 * 1024 * 1024;

/// The deepest nesting of documents and arrays that may be stored; the
/// stored document itself is level 1.
pub const MAX_NESTING_DEPTH: usize = 100;

/// Checks every storage rule (see the module docs) and returns the size of
/// the document's BSON encoding, computed without serialising it.
pub fn validate_for_storage(doc: &Document) -> Result<usize> {
    validate::validate(doc)
}

/// Checks every storage rule and returns the document's BSON bytes, ready to
/// store. The document is serialised once, and only if it is valid.
pub fn encode_for_storage(doc: &Document) -> Result<Vec<u8>> {
    let size = validate::validate(doc)?;
    let bytes = doc.to_vec()?;
    debug_assert_eq!(
        bytes.len(),
        size,
        "computed BSON size must match the encoding"
    );
    Ok(bytes)
}

/// Decodes a document written by [`encode_for_storage`].
///
/// Stored bytes were validated when written (so nesting is bounded); bytes
/// that are not a well-formed BSON document give [`Error::Encoding`].
pub fn decode_stored(bytes: &[u8]) -> Result<Document> {
    let corrupt =
        |e: bson::error::Error| Error::Encoding(format!("stored document is not valid BSON: {e}"));
    let raw = RawDocument::from_bytes(bytes).map_err(corrupt)?;
    Document::try_from(raw).map_err(corrupt)
}

/// The `_id` of a stored document, read without decoding the rest of it.
pub fn stored_id(bytes: &[u8]) -> Result<Bson> {
    let corrupt = |e: bson::error::Error| {
        Error::Encoding(format!("stored document has no readable _id: {e}"))
    };
    let raw = RawDocument::from_bytes(bytes).map_err(corrupt)?;
    let id = raw
        .get("_id")
        .map_err(corrupt)?
        .ok_or_else(|| Error::Encoding("stored document has no _id".into()))?;
    Bson::try_from(id).map_err(corrupt)
}

/// Returns `doc` with `_id` as its first field, as MongoDB stores documents:
/// an `_id` elsewhere is moved to the front (the other fields keep their
/// order), and a missing one is filled in from `generated` (called only
/// then).
pub fn ensure_id_first(mut doc: Document, generated: impl FnOnce() -> Bson) -> Document {
    if doc.keys().next().is_some_and(|k| k == "_id") {
        return doc;
    }
    let id = doc.remove("_id").unwrap_or_else(generated);
    let mut out = Document::new();
    out.insert("_id", id);
    out.extend(doc);
    out
}

/// The document's `_id`, if it has one.
pub fn id_of(doc: &Document) -> Option<&Bson> {
    doc.get("_id")
}
