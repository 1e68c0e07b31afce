//! Shard key patterns, the values a document has for them, and routing keys.

use bson::{Bson, Document};
use serde::{Deserialize, Serialize};

use crate::keycode;
use crate::{Error, Result};

/// A shard key: ranged over one or more fields, or hashed over one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardKeyPattern {
    /// Dotted field paths, in key order.
    pub fields: Vec<String>,
    /// Whether the (single) field is hashed.
    pub hashed: bool,
}

impl ShardKeyPattern {
    /// Parses `{k: 1}`, `{a: 1, "b.c": 1}` or `{k: "hashed"}`.
    pub fn parse(spec: &Document) -> Result<ShardKeyPattern> {
        if spec.is_empty() {
            return Err(Error::BadValue(
                "the shard key must name at least one field".into(),
            ));
        }
        let mut fields = Vec::with_capacity(spec.len());
        let mut hashed = false;
        for (field, kind) in spec {
            if field.is_empty()
                || field.starts_with('$')
                || field
                    .split('.')
                    .any(|part| part.is_empty() || part.starts_with('$'))
            {
                return Err(Error::BadValue(format!(
                    "shard key field '{field}' is not a valid field path"
                )));
            }
            match kind {
                Bson::String(s) if s == "hashed" => hashed = true,
                other
                    if crate::value::Number::from_bson(other).map(|n| n.as_f64()) == Some(1.0) => {}
                other => {
                    return Err(Error::BadValue(format!(
                        "shard key field '{field}' must be 1 or \"hashed\", not {other}"
                    )));
                }
            }
            fields.push(field.clone());
        }
        if hashed && fields.len() > 1 {
            return Err(Error::NotSupported(
                "a hashed shard key must have exactly one field".into(),
            ));
        }
        Ok(ShardKeyPattern { fields, hashed })
    }

    /// The pattern as MongoDB shows it (`{k: 1}` or `{k: "hashed"}`).
    pub fn to_document(&self) -> Document {
        self.fields
            .iter()
            .map(|f| {
                let kind = if self.hashed {
                    Bson::String("hashed".into())
                } else {
                    Bson::Int32(1)
                };
                (f.clone(), kind)
            })
            .collect()
    }

    /// Whether the key is exactly `_id` (then an `_id` equality targets).
    pub fn is_id_only(&self) -> bool {
        self.fields.len() == 1 && self.fields[0] == "_id"
    }

    /// The document's value for each key field; a missing field is null.
    /// Arrays, regular expressions and `undefined` cannot be shard key values.
    pub fn values_of(&self, document: &Document) -> Result<Vec<Bson>> {
        self.fields
            .iter()
            .map(|field| {
                let value = value_at(document, field)?;
                check_key_value(field, &value)?;
                Ok(value)
            })
            .collect()
    }

    /// The routing key of a tuple of key values (one per field).
    pub fn routing_key(&self, values: &[Bson]) -> Vec<u8> {
        if self.hashed {
            let hash = values.first().map(hash_value).unwrap_or(0);
            return keycode::encode(&Bson::Int64(hash));
        }
        let mut out = Vec::with_capacity(16 * values.len());
        for value in values {
            keycode::encode_value(value, &mut out);
        }
        out
    }

    /// The routing key of a stored (or to-be-stored) document.
    pub fn routing_key_of(&self, document: &Document) -> Result<Vec<u8>> {
        Ok(self.routing_key(&self.values_of(document)?))
    }

    /// The routing key of a chunk bound: `{k: MinKey}`, `{k: 42}`,
    /// `{k: NumberLong(-9…)}` for hashed keys. Bounds are compared as they
    /// are, never hashed.
    pub fn bound_key(&self, bound: &Document) -> Result<Vec<u8>> {
        if bound.len() != self.fields.len() || bound.keys().zip(&self.fields).any(|(a, b)| a != b) {
            return Err(Error::BadValue(format!(
                "chunk bound {bound} does not match the shard key {}",
                self.to_document()
            )));
        }
        let mut out = Vec::new();
        for value in bound.values() {
            keycode::encode_value(value, &mut out);
        }
        Ok(out)
    }

    /// The lowest bound of the key space (`{k: MinKey, …}`).
    pub fn global_min(&self) -> Document {
        self.fields
            .iter()
            .map(|f| (f.clone(), Bson::MinKey))
            .collect()
    }

    /// The highest bound of the key space (`{k: MaxKey, …}`).
    pub fn global_max(&self) -> Document {
        self.fields
            .iter()
            .map(|f| (f.clone(), Bson::MaxKey))
            .collect()
    }
}

/// The value at a dotted path, following embedded documents only; missing is
/// null. A path through an array is refused (shard keys cannot be arrays).
fn value_at(document: &Document, path: &str) -> Result<Bson> {
    let mut current = document;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(value) = current.get(part) else {
            return Ok(Bson::Null);
        };
        if parts.peek().is_none() {
            return Ok(value.clone());
        }
        match value {
            Bson::Document(inner) => current = inner,
            Bson::Array(_) => {
                return Err(Error::BadValue(format!(
                    "shard key path '{path}' goes through an array; shard key values cannot be arrays"
                )));
            }
            _ => return Ok(Bson::Null),
        }
    }
    Ok(Bson::Null)
}

fn check_key_value(field: &str, value: &Bson) -> Result<()> {
    let kind = match value {
        Bson::Array(_) => "an array",
        Bson::RegularExpression(_) => "a regular expression",
        Bson::Undefined => "undefined",
        _ => return Ok(()),
    };
    Err(Error::BadValue(format!(
        "shard key field '{field}' cannot be {kind}"
    )))
}

/// The fixed 64-bit hash of hashed shard keys.
///
/// FNV-1a over the value's keycode (so values MongoDB considers equal, such
/// as `1`, `1.0` and `NumberLong(1)`, hash alike), then the SplitMix64
/// finalizer so that neighbouring values land far apart. This function is
/// part of the on-disk format: changing it would misplace every document of
/// every hashed collection.
pub fn hash_value(value: &Bson) -> i64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = FNV_OFFSET;
    for byte in keycode::encode(value) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    hash as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn parses_ranged_compound_and_hashed_keys() {
        let ranged = ShardKeyPattern::parse(&doc! {"a": 1, "b.c": 1.0}).unwrap();
        assert_eq!(ranged.fields, vec!["a", "b.c"]);
        assert!(!ranged.hashed);
        let hashed = ShardKeyPattern::parse(&doc! {"_id": "hashed"}).unwrap();
        assert!(hashed.hashed && hashed.is_id_only());
        assert_eq!(hashed.to_document(), doc! {"_id": "hashed"});
        for bad in [
            doc! {},
            doc! {"a": -1},
            doc! {"a": "text"},
            doc! {"$a": 1},
            doc! {"a..b": 1},
            doc! {"a": "hashed", "b": 1},
        ] {
            assert!(
                ShardKeyPattern::parse(&bad).is_err(),
                "{bad} must be refused"
            );
        }
    }

    #[test]
    fn missing_fields_are_null_and_arrays_are_refused() {
        let key = ShardKeyPattern::parse(&doc! {"a.b": 1}).unwrap();
        assert_eq!(key.values_of(&doc! {"x": 1}).unwrap(), vec![Bson::Null]);
        assert_eq!(key.values_of(&doc! {"a": 5}).unwrap(), vec![Bson::Null]);
        assert_eq!(
            key.values_of(&doc! {"a": {"b": 7}}).unwrap(),
            vec![Bson::Int32(7)]
        );
        assert!(key.values_of(&doc! {"a": [{"b": 1}]}).is_err());
        assert!(key.values_of(&doc! {"a": {"b": [1, 2]}}).is_err());
    }

    #[test]
    fn equal_numbers_hash_alike_and_neighbours_spread() {
        assert_eq!(hash_value(&Bson::Int32(1)), hash_value(&Bson::Double(1.0)));
        assert_eq!(hash_value(&Bson::Int32(1)), hash_value(&Bson::Int64(1)));
        assert_ne!(hash_value(&Bson::Int32(1)), hash_value(&Bson::Int32(2)));
        // Sequential values fall into all four quarters of the hash space.
        let mut quarters = [0_u32; 4];
        for i in 0..1000 {
            let h = hash_value(&Bson::Int32(i)) as u64;
            quarters[(h >> 62) as usize] += 1;
        }
        assert!(quarters.iter().all(|q| *q > 150), "{quarters:?}");
    }

    #[test]
    fn routing_keys_follow_value_order() {
        let key = ShardKeyPattern::parse(&doc! {"a": 1, "b": 1}).unwrap();
        let k = |a: Bson, b: Bson| key.routing_key(&[a, b]);
        assert!(k(Bson::Int32(1), Bson::String("z".into())) < k(Bson::Int32(2), Bson::Null));
        assert!(k(Bson::Int32(2), Bson::Int32(1)) < k(Bson::Int32(2), Bson::Int32(3)));
        assert!(k(Bson::Null, Bson::Null) < k(Bson::Int32(-5), Bson::Null));
        let min = key.bound_key(&key.global_min()).unwrap();
        let max = key.bound_key(&key.global_max()).unwrap();
        assert!(min < k(Bson::Null, Bson::Null) && k(Bson::MaxKey, Bson::Int32(1)) < max);
    }
}
