//! Serde adapters that carry BSON inside rmp-serde messages as BSON bytes.
//!
//! Commands, outcomes and snapshots are encoded with rmp-serde (MessagePack).
//! Serialising a `bson::Bson` through a non-BSON serde format loses type
//! information (an int32 can come back as an int64, a date as a map), and a
//! replicated state machine must reproduce values bit for bit. So every BSON
//! value that crosses the wire is written as its own BSON byte string:
//!
//! * a `Document` → its BSON encoding;
//! * a lone `Bson` value → the BSON encoding of `{"v": value}`.
//!
//! Use with `#[serde(with = "crate::wire::document")]` and friends.

use bson::{Bson, Document};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _, ser::Error as _};

fn to_bytes(doc: &Document) -> Result<Vec<u8>, bson::error::Error> {
    doc.to_vec()
}

/// Parses BSON bytes in place (`Document::from_reader` would first copy
/// them into a buffer of its own).
fn from_bytes(bytes: &[u8]) -> Result<Document, bson::error::Error> {
    Document::try_from(bson::RawDocument::from_bytes(bytes)?)
}

/// Reads one BSON byte string with `parse`, from the decoder's bytes as they
/// are handed over: no intermediate `Vec` between the MessagePack buffer and
/// the BSON parser (a serializer without a byte-string type sends an array
/// of integers, which is collected first).
fn deserialize_bson_bytes<'de, D: Deserializer<'de>, T>(
    d: D,
    expecting: &'static str,
    parse: fn(&[u8]) -> Result<T, String>,
) -> Result<T, D::Error> {
    struct Visitor<T> {
        expecting: &'static str,
        parse: fn(&[u8]) -> Result<T, String>,
    }
    impl<'de, T> serde::de::Visitor<'de> for Visitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<T, E> {
            (self.parse)(v).map_err(E::custom)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
            let bytes = ByteBuf::visit_seq(seq)?;
            (self.parse)(&bytes.0).map_err(A::Error::custom)
        }
    }
    d.deserialize_bytes(Visitor { expecting, parse })
}

/// A `Document` parsed in place from its BSON bytes.
struct WireDocument(Document);

impl<'de> Deserialize<'de> for WireDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_bson_bytes(d, "a BSON document as a byte string", |bytes| {
            from_bytes(bytes)
                .map(WireDocument)
                .map_err(|e| e.to_string())
        })
    }
}

/// A lone value read from the bytes of its `{"v": value}` wrapper in place:
/// the wrapper itself is never built as a `Document` (a map, its hasher and
/// a key, to be thrown away at once).
struct WireValue(Bson);

impl<'de> Deserialize<'de> for WireValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_bson_bytes(d, "a wrapped BSON value as a byte string", |bytes| {
            let wrapper = bson::RawDocument::from_bytes(bytes).map_err(|e| e.to_string())?;
            let value = wrapper
                .get("v")
                .map_err(|e| e.to_string())?
                .ok_or("wrapped BSON value has no 'v' field")?;
            Bson::try_from(value)
                .map(WireValue)
                .map_err(|e| e.to_string())
        })
    }
}

/// A `Document` as BSON bytes.
pub mod document {
    use super::*;

    pub fn serialize<S: Serializer>(doc: &Document, s: S) -> Result<S::Ok, S::Error> {
        let bytes = to_bytes(doc).map_err(S::Error::custom)?;
        s.serialize_bytes(&bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Document, D::Error> {
        Ok(WireDocument::deserialize(d)?.0)
    }
}

/// A `Vec<Document>` as a sequence of BSON byte strings.
pub mod documents {
    use super::*;

    pub fn serialize<S: Serializer>(docs: &[Document], s: S) -> Result<S::Ok, S::Error> {
        let encoded: Vec<ByteBuf> = docs
            .iter()
            .map(|d| to_bytes(d).map(ByteBuf))
            .collect::<Result<_, _>>()
            .map_err(S::Error::custom)?;
        encoded.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Document>, D::Error> {
        let docs = Vec::<WireDocument>::deserialize(d)?;
        Ok(docs.into_iter().map(|d| d.0).collect())
    }
}

/// An `Option<Document>` as optional BSON bytes.
pub mod opt_document {
    use super::*;

    pub fn serialize<S: Serializer>(doc: &Option<Document>, s: S) -> Result<S::Ok, S::Error> {
        let bytes = doc
            .as_ref()
            .map(to_bytes)
            .transpose()
            .map_err(S::Error::custom)?;
        bytes.map(ByteBuf).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Document>, D::Error> {
        Ok(Option::<WireDocument>::deserialize(d)?.map(|d| d.0))
    }
}

/// A lone `Bson` value, wrapped as `{"v": value}`.
pub mod value {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Bson, s: S) -> Result<S::Ok, S::Error> {
        let mut doc = Document::new();
        doc.insert("v", v.clone());
        super::document::serialize(&doc, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bson, D::Error> {
        Ok(WireValue::deserialize(d)?.0)
    }
}

/// An `Option<Bson>` value.
pub mod opt_value {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Bson>, s: S) -> Result<S::Ok, S::Error> {
        let doc = v.as_ref().map(|v| {
            let mut doc = Document::new();
            doc.insert("v", v.clone());
            doc
        });
        super::opt_document::serialize(&doc, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Bson>, D::Error> {
        Ok(Option::<WireValue>::deserialize(d)?.map(|v| v.0))
    }
}

/// A `Vec<Bson>` as one wrapped array.
pub mod values {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[Bson], s: S) -> Result<S::Ok, S::Error> {
        super::value::serialize(&Bson::Array(v.to_vec()), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Bson>, D::Error> {
        match super::value::deserialize(d)? {
            Bson::Array(a) => Ok(a),
            other => Err(D::Error::custom(format!(
                "expected a BSON array, found {other:?}"
            ))),
        }
    }
}

/// A `Vec<u8>` as a MessagePack binary (not an array of integers).
pub mod bytes {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(ByteBuf::deserialize(d)?.0)
    }
}

/// Owned bytes that (de)serialise as a MessagePack binary, not an array of ints.
struct ByteBuf(Vec<u8>);

impl Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<ByteBuf, A::Error> {
                ByteBuf::visit_seq(seq)
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
}

impl ByteBuf {
    /// Bytes written as an array of integers (a serializer without a byte
    /// string type).
    fn visit_seq<'de, A: serde::de::SeqAccess<'de>>(mut seq: A) -> Result<ByteBuf, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(ByteBuf(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Carrier {
        #[serde(with = "super::document")]
        doc: Document,
        #[serde(with = "super::value")]
        value: Bson,
        #[serde(with = "super::opt_value")]
        missing: Option<Bson>,
        #[serde(with = "super::documents")]
        many: Vec<Document>,
    }

    #[test]
    fn bson_types_survive_messagepack_exactly() {
        let carrier = Carrier {
            doc: doc! {"i32": 1_i32, "i64": 1_i64, "f": 1.0, "d": bson::DateTime::from_millis(5)},
            value: Bson::Int32(7),
            missing: None,
            many: vec![doc! {"a": [1_i32, 2_i64]}, doc! {}],
        };
        let bytes = rmp_serde::to_vec(&carrier).unwrap();
        let back: Carrier = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, carrier);
        assert!(matches!(back.doc.get("i32"), Some(Bson::Int32(1))));
        assert!(matches!(back.value, Bson::Int32(7)));
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Wrapped {
        #[serde(with = "super::value")]
        value: Bson,
        #[serde(with = "super::opt_value")]
        maybe: Option<Bson>,
    }

    #[test]
    fn lone_values_come_back_bit_for_bit() {
        let values = [
            Bson::Double(f64::NAN),
            Bson::Double(-0.0),
            Bson::Int64(i64::MIN),
            Bson::String("é\u{0}x".into()),
            Bson::ObjectId(bson::oid::ObjectId::from_bytes([7; 12])),
            Bson::DateTime(bson::DateTime::from_millis(-1)),
            Bson::Decimal128(bson::Decimal128::from_bytes([1; 16])),
            Bson::Binary(bson::Binary {
                subtype: bson::spec::BinarySubtype::Generic,
                bytes: vec![0, 255],
            }),
            Bson::RegularExpression(bson::Regex {
                pattern: "^a".try_into().unwrap(),
                options: "i".try_into().unwrap(),
            }),
            Bson::Document(doc! {"a": [1_i32, {"b": Bson::Null}]}),
            Bson::MaxKey,
        ];
        for value in values {
            let wrapped = Wrapped {
                value: value.clone(),
                maybe: Some(value.clone()),
            };
            let bytes = rmp_serde::to_vec(&wrapped).unwrap();
            let back: Wrapped = rmp_serde::from_slice(&bytes).unwrap();
            // Compared as BSON bytes: NaN is not equal to itself.
            let encode = |v: &Bson| doc! {"v": v.clone()}.to_vec().unwrap();
            assert_eq!(encode(&back.value), encode(&value), "{value:?}");
            assert_eq!(encode(back.maybe.as_ref().unwrap()), encode(&value));
            assert_eq!(
                std::mem::discriminant(&back.value),
                std::mem::discriminant(&value)
            );
        }
    }

    #[test]
    fn a_wrapper_without_its_value_or_cut_short_is_refused() {
        #[derive(Serialize)]
        struct Raw {
            #[serde(with = "super::bytes")]
            value: Vec<u8>,
            #[serde(with = "super::opt_document")]
            maybe: Option<Document>,
        }
        let decode = |value: Vec<u8>| {
            let bytes = rmp_serde::to_vec(&Raw { value, maybe: None }).unwrap();
            rmp_serde::from_slice::<Wrapped>(&bytes)
        };
        let error = decode(doc! {"w": 1}.to_vec().unwrap()).unwrap_err();
        assert!(error.to_string().contains("no 'v' field"), "{error}");
        let whole = doc! {"v": "abcdef"}.to_vec().unwrap();
        // Cut short: the declared length no longer matches.
        assert!(decode(whole[..whole.len() - 2].to_vec()).is_err());
        let back = decode(whole).unwrap();
        assert_eq!(back.value, Bson::String("abcdef".into()));
        assert_eq!(back.maybe, None);
    }
}
