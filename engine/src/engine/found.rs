//! A document a read found: its stored BSON bytes, decoded only if needed.
//!
//! Decoding stored BSON into a `bson::Document` (an ordered hash map, one
//! allocation per field) is most of the cost of a point read. Many reads never
//! need it: a lookup by `_id` whose filter looks at nothing but `_id`, with
//! no projection, can answer with the bytes exactly as stored, and the shard
//! server sends BSON bytes on the wire anyway. So a read carries what it found
//! as a [`Found`], which decodes at most once, when something has to look
//! inside (a filter on other fields, a sort, a projection, a caller that wants
//! a `Document`).
//!
//! Invariant: `decoded`, when present, is the decoding of `stored`.

use bson::{Document, RawDocumentBuf};

use crate::{Result, document};

/// One matching document of a read.
#[derive(Debug)]
pub(super) struct Found {
    stored: Vec<u8>,
    decoded: Option<Document>,
    /// The array position the positional projection `field.$` refers to.
    pub(super) position: Option<usize>,
}

impl Found {
    /// A document as stored, not decoded yet.
    pub(super) fn stored(stored: Vec<u8>) -> Found {
        Found {
            stored,
            decoded: None,
            position: None,
        }
    }

    /// A document already decoded from `stored` (to evaluate a filter).
    pub(super) fn decoded(stored: Vec<u8>, decoded: Document, position: Option<usize>) -> Found {
        Found {
            stored,
            decoded: Some(decoded),
            position,
        }
    }

    /// The decoded document, decoding it now if no one has yet.
    pub(super) fn document(&mut self) -> Result<&Document> {
        if self.decoded.is_none() {
            self.decoded = Some(document::decode_stored(&self.stored)?);
        }
        Ok(self.decoded.as_ref().expect("decoded just above"))
    }

    pub(super) fn into_document(self) -> Result<Document> {
        match self.decoded {
            Some(doc) => Ok(doc),
            None => document::decode_stored(&self.stored),
        }
    }

    /// The stored bytes as a raw document, without copying them.
    pub(super) fn into_raw(self) -> Result<RawDocumentBuf> {
        RawDocumentBuf::from_bytes(self.stored)
            .map_err(|e| crate::Error::Encoding(format!("stored document is not valid BSON: {e}")))
    }
}
