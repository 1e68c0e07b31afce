//! Extended JSON conversion in both directions.

use bson::{Bson, Document};
use serde_json::Value;

use crate::Error;

/// How responses render BSON values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JsonMode {
    /// Plain JSON, as Atlas answers `application/json`: numbers as numbers,
    /// ObjectIds as hex strings, dates as ISO-8601 strings.
    #[default]
    Plain,
    /// Canonical Extended JSON (`Accept: application/ejson`): every value keeps its type.
    Canonical,
}

/// Parses a relaxed (or canonical) Extended JSON object into a document.
pub fn document_from_json(value: Value) -> Result<Document, Error> {
    match value {
        Value::Object(map) => Document::try_from(map)
            .map_err(|e| Error::BadValue(format!("invalid Extended JSON: {e}"))),
        other => Err(Error::BadValue(format!(
            "expected a JSON object, found {}",
            json_type(&other)
        ))),
    }
}

/// Converts a BSON value to JSON in the given mode.
pub fn to_json(value: &Bson, mode: JsonMode) -> Value {
    match mode {
        JsonMode::Canonical => value.clone().into_canonical_extjson(),
        JsonMode::Plain => plain(value),
    }
}

fn plain(value: &Bson) -> Value {
    match value {
        Bson::Document(doc) => {
            Value::Object(doc.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
        }
        Bson::Array(items) => Value::Array(items.iter().map(plain).collect()),
        Bson::ObjectId(oid) => Value::String(oid.to_hex()),
        Bson::DateTime(dt) => match dt.try_to_rfc3339_string() {
            Ok(s) => Value::String(s),
            Err(_) => value.clone().into_relaxed_extjson(),
        },
        Bson::Int32(i) => Value::from(*i),
        Bson::Int64(i) => Value::from(*i),
        Bson::Double(f) if f.is_finite() => Value::from(*f),
        Bson::Decimal128(d) => Value::String(d.to_string()),
        other => other.clone().into_relaxed_extjson(),
    }
}

/// JSON's name for a value's type, for error messages.
pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn relaxed_ejson_keeps_integer_widths_and_types() {
        let doc = document_from_json(json!({"i": 1, "l": 5_000_000_000_i64, "f": 2.0,
            "o": {"$oid": "507f1f77bcf86cd799439011"}, "n": {"$numberLong": "5"}}))
        .unwrap();
        assert!(matches!(doc.get("i"), Some(Bson::Int32(1))));
        assert!(matches!(doc.get("l"), Some(Bson::Int64(5_000_000_000))));
        assert!(matches!(doc.get("f"), Some(Bson::Double(_))));
        assert!(matches!(doc.get("o"), Some(Bson::ObjectId(_))));
        assert!(matches!(doc.get("n"), Some(Bson::Int64(5))));
    }

    #[test]
    fn plain_and_canonical_rendering() {
        let doc = bson::doc! {"o": bson::oid::ObjectId::parse_str("507f1f77bcf86cd799439011").unwrap(), "n": 1_i32};
        assert_eq!(
            to_json(&Bson::Document(doc.clone()), JsonMode::Plain),
            json!({"o": "507f1f77bcf86cd799439011", "n": 1})
        );
        assert_eq!(
            to_json(&Bson::Document(doc), JsonMode::Canonical),
            json!({"o": {"$oid": "507f1f77bcf86cd799439011"}, "n": {"$numberInt": "1"}})
        );
    }

    #[test]
    fn non_objects_are_rejected_by_name() {
        let err = document_from_json(json!([1])).unwrap_err();
        assert!(err.to_string().contains("an array"), "{err}");
    }
}
