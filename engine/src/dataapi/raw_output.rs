//! A read's answer as a shard sends it: found documents stay BSON bytes.
//!
//! On the wire a [`ReadOutput`] carries every document as its BSON bytes
//! (`crate::wire`). Building one from the engine would decode each stored
//! document into a `bson::Document` only to encode it again for the reply;
//! for a point read that round trip was most of the shard's work. So the
//! shard answers finds with a [`RawReadOutput`], which holds the bytes the
//! engine found ([`Engine::find_raw`]) and serialises to **exactly the bytes**
//! the equivalent `ReadOutput` would: the router decodes it as a plain
//! `ReadOutput` and cannot tell the difference.
//!
//! Invariant: `serialize(RawReadOutput) == serialize(self.into_output())`,
//! checked by the tests below for every variant.

use bson::{Document, RawDocumentBuf};
use serde::{Serialize, Serializer};
use serde_bytes::Bytes;

use super::ReadOutput;
use super::request::ReadRequest;
use crate::engine::{Engine, ReadAt};

/// A read's answer, with found documents as BSON bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum RawReadOutput {
    /// `find`: serialises as `ReadOutput::Documents`.
    Documents(Vec<RawDocumentBuf>),
    /// `findOne`: serialises as `ReadOutput::Document`.
    Document(Option<RawDocumentBuf>),
    /// Every other read, already a `ReadOutput`.
    Decoded(ReadOutput),
}

impl RawReadOutput {
    /// The same answer with its documents decoded.
    pub fn into_output(self) -> crate::Result<ReadOutput> {
        Ok(match self {
            RawReadOutput::Documents(docs) => {
                ReadOutput::Documents(docs.iter().map(decode).collect::<crate::Result<_>>()?)
            }
            RawReadOutput::Document(doc) => {
                ReadOutput::Document(doc.as_ref().map(decode).transpose()?)
            }
            RawReadOutput::Decoded(output) => output,
        })
    }
}

fn decode(raw: &RawDocumentBuf) -> crate::Result<Document> {
    Document::try_from(raw.as_ref())
        .map_err(|e| crate::Error::Encoding(format!("found document is not valid BSON: {e}")))
}

/// Answers a read on one engine, finds as BSON bytes (see the module doc).
pub fn execute_read_raw(
    engine: &Engine,
    request: &ReadRequest,
    at: ReadAt,
) -> crate::Result<RawReadOutput> {
    Ok(match request {
        ReadRequest::Find {
            ns,
            options,
            one: true,
        } => RawReadOutput::Document(engine.find_one_raw(ns, options, at)?),
        ReadRequest::Find {
            ns,
            options,
            one: false,
        } => RawReadOutput::Documents(engine.find_raw(ns, options, at)?),
        other => RawReadOutput::Decoded(super::execute_read(engine, other, at)?),
    })
}

/// The variant names and indices `ReadOutput`'s derived `Serialize` uses.
const READ_OUTPUT: &str = "ReadOutput";
const DOCUMENTS: (u32, &str) = (0, "Documents");
const DOCUMENT: (u32, &str) = (1, "Document");

impl Serialize for RawReadOutput {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RawReadOutput::Documents(docs) => {
                s.serialize_newtype_variant(READ_OUTPUT, DOCUMENTS.0, DOCUMENTS.1, &AsBytes(docs))
            }
            RawReadOutput::Document(doc) => {
                s.serialize_newtype_variant(READ_OUTPUT, DOCUMENT.0, DOCUMENT.1, &AsBytes(doc))
            }
            RawReadOutput::Decoded(output) => output.serialize(s),
        }
    }
}

/// Documents as `crate::wire` writes them: each one a byte string.
struct AsBytes<'a, T>(&'a T);

impl Serialize for AsBytes<'_, Vec<RawDocumentBuf>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|doc| Bytes::new(doc.as_bytes())))
    }
}

impl Serialize for AsBytes<'_, Option<RawDocumentBuf>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(doc) => s.serialize_some(Bytes::new(doc.as_bytes())),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    fn raw(doc: Document) -> RawDocumentBuf {
        RawDocumentBuf::try_from(&doc).unwrap()
    }

    #[test]
    fn serialises_exactly_as_the_decoded_output() {
        let a = doc! {"_id": 1, "x": {"y": [1.5, "s"]}, "d": bson::DateTime::from_millis(7)};
        let b = doc! {"_id": "k"};
        let outputs = [
            RawReadOutput::Documents(vec![raw(a.clone()), raw(b.clone())]),
            RawReadOutput::Documents(vec![]),
            RawReadOutput::Document(Some(raw(a))),
            RawReadOutput::Document(None),
            RawReadOutput::Decoded(ReadOutput::Count(3)),
            RawReadOutput::Decoded(ReadOutput::Documents(vec![b])),
        ];
        for output in outputs {
            let decoded = output.clone().into_output().unwrap();
            // Both of rmp-serde's struct layouts (the shard server uses
            // named fields).
            type Encode<T> = fn(&T) -> Result<Vec<u8>, rmp_serde::encode::Error>;
            let layouts: [(Encode<RawReadOutput>, Encode<ReadOutput>); 2] = [
                (rmp_serde::to_vec, rmp_serde::to_vec),
                (rmp_serde::to_vec_named, rmp_serde::to_vec_named),
            ];
            for (encode_raw, encode_decoded) in layouts {
                let raw_bytes = encode_raw(&output).unwrap();
                assert_eq!(raw_bytes, encode_decoded(&decoded).unwrap(), "{output:?}");
                let back: ReadOutput = rmp_serde::from_slice(&raw_bytes).unwrap();
                assert_eq!(back, decoded);
            }
            // Also inside a `Result`, as the shard server sends it.
            let ok: Result<RawReadOutput, String> = Ok(output);
            let back: Result<ReadOutput, String> =
                rmp_serde::from_slice(&rmp_serde::to_vec_named(&ok).unwrap()).unwrap();
            assert_eq!(back, Ok(decoded));
        }
    }
}
