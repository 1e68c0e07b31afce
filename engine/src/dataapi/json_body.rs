//! Reading a request body's Extended JSON straight into a BSON document.
//!
//! The plain route — parse the body into a `serde_json::Value`, then convert
//! that with bson's `TryFrom<serde_json::Map>` — builds every object twice:
//! once as an ordered JSON map (its own hash table, its own strings), once
//! as a `Document`. Under a write-heavy load that double build was the
//! largest single step of the router's work for a request (about 4% of a
//! shard group's CPU at 64 clients, `docs/benchmarks.md`). This reader walks
//! the JSON once and builds the document as it goes.
//!
//! **Invariant: the result is exactly what the plain route gives**, for
//! every body, and the plain route's conversion is bson's own, so the two
//! agree by construction wherever it matters:
//!
//! * Numbers, strings, booleans, null and arrays convert as bson converts
//!   them: an integer is an `Int32` when it fits, else an `Int64`; any other
//!   number is a `Double`.
//! * An object whose **first** key is one of bson's Extended JSON field
//!   names (`$oid`, `$date`, `$numberLong`, … and `$scope`, the second field
//!   of `$code`) is read as JSON and handed to bson's converter unchanged, so
//!   wrappers mean what they always meant and are rejected as they always
//!   were.
//! * Any other object becomes a document entry by entry. bson's converter
//!   would treat such an object as a wrapper only if it *contained* a type
//!   marker somewhere after its first key — and every wrapper forbids keys
//!   it does not name, which the first key then is — so bson rejects it;
//!   this reader rejects it too, with its own message.
//! * The body itself is always a plain document: its top-level keys are
//!   never read as a wrapper (as `Document::try_from` does), and anything
//!   but an object is refused by name.
//!
//! Nesting is bounded by serde_json's recursion limit (128), as before:
//! deeper bodies are malformed JSON, never a stack overflow.

use std::fmt;

use bson::{Bson, Document};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::error::Category;

use super::response::ApiError;

/// The keys bson's converter looks for to read an object as a typed value.
const TYPE_MARKERS: &[&str] = &[
    "$oid",
    "$symbol",
    "$regularExpression",
    "$numberInt",
    "$numberLong",
    "$numberDouble",
    "$numberDecimal",
    "$binary",
    "$uuid",
    "$code",
    "$timestamp",
    "$date",
    "$minKey",
    "$maxKey",
    "$dbPointer",
    "$undefined",
];

fn is_type_marker(key: &str) -> bool {
    key.starts_with('$') && TYPE_MARKERS.contains(&key)
}

/// A first key that makes the object a candidate wrapper: a marker, or
/// `$scope`, which may come before `$code`.
fn starts_wrapper(key: &str) -> bool {
    is_type_marker(key) || key == "$scope"
}

/// Parses a request body (relaxed or canonical Extended JSON) into a
/// document. Malformed JSON is `400 InvalidJSON`; well-formed JSON that is
/// not an object, or holds an invalid Extended JSON value, is `400 BadValue`.
pub fn document_from_json_bytes(body: &[u8]) -> Result<Document, ApiError> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    let document = reader
        .deserialize_any(BodyVisitor)
        .and_then(|document| reader.end().map(|()| document))
        .map_err(body_error)?;
    Ok(document)
}

fn body_error(error: serde_json::Error) -> ApiError {
    match error.classify() {
        Category::Data => ApiError::from(crate::Error::BadValue(error.to_string())),
        Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
            "InvalidJSON",
            format!("request body is not valid JSON: {error}"),
        ),
    }
}

/// The top level: an object whose keys are taken as they are.
struct BodyVisitor;

impl BodyVisitor {
    fn refuse<E: de::Error>(found: &str) -> Result<Document, E> {
        Err(E::custom(format!("expected a JSON object, found {found}")))
    }
}

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut document = Document::new();
        while let Some(key) = map.next_key::<String>()? {
            document.insert(key, map.next_value_seed(ValueSeed)?);
        }
        Ok(document)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Document, A::Error> {
        Self::refuse("an array")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Document, E> {
        Self::refuse("a boolean")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Document, E> {
        Self::refuse("a number")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Document, E> {
        Self::refuse("a number")
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Document, E> {
        Self::refuse("a number")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Document, E> {
        Self::refuse("a string")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Document, E> {
        Self::refuse("null")
    }
}

/// Any value below the top level.
#[derive(Clone, Copy)]
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Bson;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Bson, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Bson;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Bson, E> {
        Ok(Bson::Boolean(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bson, E> {
        Ok(match i32::try_from(v) {
            Ok(small) => Bson::Int32(small),
            Err(_) => Bson::Int64(v),
        })
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bson, E> {
        match i64::try_from(v) {
            Ok(signed) => self.visit_i64(signed),
            // What serde_json's `as_i64` refuses, `as_f64` turns into a double.
            Err(_) => Ok(Bson::Double(v as f64)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Bson, E> {
        Ok(Bson::Double(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Bson, E> {
        Ok(Bson::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Bson, E> {
        Ok(Bson::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Bson, E> {
        Ok(Bson::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bson, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(ValueSeed)? {
            items.push(item);
        }
        Ok(Bson::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bson, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Bson::Document(Document::new()));
        };
        if starts_wrapper(&first) {
            // Exactly the plain route: the object as JSON, then bson's converter.
            let mut object = serde_json::Map::new();
            object.insert(first, map.next_value::<Value>()?);
            while let Some((key, value)) = map.next_entry::<String, Value>()? {
                object.insert(key, value);
            }
            return Bson::try_from(object)
                .map_err(|e| de::Error::custom(format!("invalid Extended JSON: {e}")));
        }
        let mut document = Document::new();
        document.insert(first, map.next_value_seed(ValueSeed)?);
        while let Some(key) = map.next_key::<String>()? {
            if is_type_marker(&key) {
                return Err(de::Error::custom(format!(
                    "invalid Extended JSON: '{key}' must be the first field of its object \
                     and have no other fields beside its own"
                )));
            }
            document.insert(key, map.next_value_seed(ValueSeed)?);
        }
        Ok(Bson::Document(document))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain route this reader replaces.
    fn plain_route(body: &str) -> Result<Document, String> {
        let value: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
        super::super::document_from_json(value).map_err(|e| e.to_string())
    }

    fn direct(body: &str) -> Result<Document, ApiError> {
        document_from_json_bytes(body.as_bytes())
    }

    #[test]
    fn agrees_with_the_plain_route_on_values_and_wrappers() {
        let bodies = [
            r#"{}"#,
            r#"{"a": 1, "b": -2147483649, "c": 2147483647, "d": 1.0, "e": 18446744073709551615}"#,
            r#"{"s": "x\u00e9\n", "t": true, "n": null, "arr": [1, [2, {"x": []}], "y"]}"#,
            r#"{"o": {"$oid": "507f1f77bcf86cd799439011"}, "l": {"$numberLong": "5"}}"#,
            r#"{"d": {"$date": "2020-01-02T03:04:05Z"}, "dd": {"$date": {"$numberLong": "7"}}}"#,
            r#"{"b": {"$binary": {"base64": "AAE=", "subType": "00"}}, "u": {"$numberInt": "3"}}"#,
            r#"{"r": {"$regularExpression": {"pattern": "^a", "options": "i"}}}"#,
            r#"{"c": {"$scope": {"x": 1}, "$code": "f()"}, "k": {"$code": "g()"}}"#,
            r#"{"ts": {"$timestamp": {"t": 1, "i": 2}}, "m": {"$minKey": 1}, "M": {"$maxKey": 1}}"#,
            r#"{"filter": {"_id": "k1"}, "update": {"$set": {"v": "x", "w": {"$numberDouble": "-Infinity"}}}}"#,
            r#"{"q": {"$in": [1, 2]}, "sc": {"$scope": 1, "a": 2}, "a": {"x": 1, "$scope": 2}}"#,
            r#"{"dup": 1, "other": 2, "dup": 3}"#,
            r#"{"$oid": "507f1f77bcf86cd799439011", "top": {"$set": 1}}"#,
            r#"{"deep": {"a": {"b": {"c": {"$oid": "507f1f77bcf86cd799439011"}}}}}"#,
        ];
        for body in bodies {
            let expected = plain_route(body).unwrap();
            let got = direct(body).unwrap_or_else(|e| panic!("{body}: {e:?}"));
            // Bson equality compares variants too: Int32 is not Int64.
            assert_eq!(got, expected, "{body}");
        }
    }

    #[test]
    fn rejects_what_the_plain_route_rejects() {
        let bodies = [
            r#"{"o": {"$oid": "nothex"}}"#,
            r#"{"o": {"$oid": "507f1f77bcf86cd799439011", "x": 1}}"#,
            r#"{"o": {"x": 1, "$oid": "507f1f77bcf86cd799439011"}}"#,
            r#"{"o": {"$set": 1, "$date": "2020-01-02T03:04:05Z"}}"#,
            r#"{"l": {"$numberLong": 5}}"#,
        ];
        for body in bodies {
            assert!(plain_route(body).is_err(), "plain route accepts {body}");
            let error = direct(body).expect_err(body);
            assert_eq!(
                (error.status, error.code.as_str()),
                (400, "BadValue"),
                "{body}"
            );
            assert!(error.message.contains("Extended JSON"), "{}", error.message);
        }
    }

    #[test]
    fn malformed_json_and_non_objects_have_their_own_errors() {
        for body in ["{not json", "{\"a\": 1} trailing", "", "{\"a\": [1,}"] {
            let error = direct(body).expect_err(body);
            assert_eq!(error.code, "InvalidJSON", "{body}");
            assert!(
                error.message.contains("not valid JSON"),
                "{}",
                error.message
            );
        }
        for (body, found) in [
            ("[1]", "an array"),
            ("3", "a number"),
            ("\"s\"", "a string"),
            ("null", "null"),
        ] {
            let error = direct(body).expect_err(body);
            assert_eq!(error.code, "BadValue", "{body}");
            assert!(error.message.contains(found), "{body}: {}", error.message);
        }
    }

    #[test]
    fn hostile_nesting_is_refused_not_overflowed() {
        let depth = 100_000;
        let body = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let error = direct(&body).expect_err("too deep");
        assert_eq!(error.code, "InvalidJSON");
        let arrays = format!("{{\"a\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(direct(&arrays).expect_err("too deep").code, "InvalidJSON");
    }
}
