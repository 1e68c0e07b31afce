use std::cell::Cell;

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, JavaScriptCodeWithScope, bson, doc};
use proptest::prelude::*;

use super::*;
use crate::keycode::arbitrary::{self, db_pointer, regex};

fn rejection(doc: &Document) -> String {
    match validate_for_storage(doc) {
        Err(Error::InvalidDocument(msg)) => msg,
        other => panic!("expected InvalidDocument for {doc:?}, got {other:?}"),
    }
}

/// `{s: {s: … {s: 1}}}` with `depth` documents in all.
fn nested_documents(depth: usize) -> Document {
    let mut doc = doc! {"s": 1};
    for _ in 1..depth {
        doc = doc! {"s": doc};
    }
    doc
}

/// Drops a deeply nested `nested_documents` value level by level (the bson
/// crate's own drop would recurse once per level).
fn dismantle(mut doc: Document) {
    while let Some(Bson::Document(inner)) = doc.remove("s") {
        doc = inner;
    }
}

#[test]
fn accepts_a_plain_document_and_returns_its_bson_size() {
    let doc = doc! {"_id": 1, "a": "x", "b": [1, {"c": null}]};
    assert_eq!(
        validate_for_storage(&doc),
        Ok(doc.to_vec().expect("serialisable").len())
    );
}

#[test]
fn size_limit_is_sixteen_mebibytes_inclusive() {
    // {s: "<n bytes>"}: 4 + (1 + 2 + 4 + n + 1) + 1 = n + 13 bytes.
    let at_limit = doc! {"s": "x".repeat(MAX_DOCUMENT_SIZE - 13)};
    assert_eq!(validate_for_storage(&at_limit), Ok(MAX_DOCUMENT_SIZE));
    assert_eq!(
        encode_for_storage(&at_limit).map(|b| b.len()),
        Ok(MAX_DOCUMENT_SIZE)
    );

    let over = doc! {"s": "x".repeat(MAX_DOCUMENT_SIZE - 12)};
    let msg = rejection(&over);
    assert!(
        msg.contains("16777217 bytes") && msg.contains("16777216"),
        "{msg}"
    );
    assert!(matches!(
        encode_for_storage(&over),
        Err(Error::InvalidDocument(_))
    ));
}

#[test]
fn size_counts_binary_and_large_arrays() {
    let doc = doc! {
        "old": Bson::Binary(Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![1, 2, 3] }),
        "uuid": Bson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes: vec![0; 16] }),
        "many": (0..1234).map(Bson::Int32).collect::<Vec<_>>(),
        "dbp": db_pointer("db.coll", 1),
        "re": regex("a+", "i"),
    };
    assert_eq!(
        validate_for_storage(&doc),
        Ok(doc.to_vec().expect("serialisable").len())
    );
}

#[test]
fn nesting_of_one_hundred_levels_is_accepted_and_one_more_rejected() {
    assert!(validate_for_storage(&nested_documents(100)).is_ok());
    let msg = rejection(&nested_documents(101));
    assert!(msg.contains("maximum nesting depth of 100"), "{msg}");
}

#[test]
fn arrays_and_scopes_count_as_nesting_levels() {
    let mut value = Bson::Int32(1);
    for _ in 0..99 {
        value = Bson::Array(vec![value]);
    }
    assert!(validate_for_storage(&doc! {"a": value.clone()}).is_ok());
    let too_deep = doc! {"a": [value]};
    assert!(
        rejection(&too_deep).contains("(at 'a.0.0.0."),
        "{}",
        rejection(&too_deep)
    );

    let mut scope = doc! {"v": 1};
    for _ in 0..98 {
        scope = doc! {"v": scope};
    }
    let code = |scope| {
        Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
            code: "f()".into(),
            scope,
        })
    };
    assert!(validate_for_storage(&doc! {"f": code(scope.clone())}).is_ok());
    assert!(validate_for_storage(&doc! {"f": code(doc! {"v": scope})}).is_err());
}

#[test]
fn very_deep_input_is_rejected_without_exhausting_the_stack() {
    let doc = nested_documents(20_000);
    assert!(rejection(&doc).contains("100"));
    assert!(matches!(
        encode_for_storage(&doc),
        Err(Error::InvalidDocument(_))
    ));
    dismantle(doc);
}

#[test]
fn id_must_not_be_array_regex_or_undefined() {
    assert_eq!(
        rejection(&doc! {"_id": [1, 2]}),
        "The '_id' value cannot be of type array"
    );
    assert_eq!(
        rejection(&doc! {"a": 1, "_id": regex("x", "")}),
        "The '_id' value cannot be of type regex"
    );
    assert_eq!(
        rejection(&doc! {"_id": Bson::Undefined}),
        "The '_id' value cannot be of type undefined"
    );
    for id in [
        bson!({"a": [1]}),
        Bson::Null,
        bson!(1.5),
        bson!("k"),
        Bson::MinKey,
    ] {
        assert!(
            validate_for_storage(&doc! {"_id": id.clone()}).is_ok(),
            "{id:?}"
        );
    }
    // Only the top-level _id is a primary key.
    assert!(validate_for_storage(&doc! {"a": {"_id": [1]}}).is_ok());
}

#[test]
fn dollar_prefixed_names_are_rejected_at_every_level() {
    assert_eq!(
        rejection(&doc! {"$set": {"a": 1}}),
        "The dollar ($) prefixed field '$set' in '$set' is not valid for storage."
    );
    assert_eq!(
        rejection(&doc! {"a": {"b": 1, "$inc": 2}}),
        "The dollar ($) prefixed field '$inc' in 'a.$inc' is not valid for storage."
    );
    assert_eq!(
        rejection(&doc! {"a": [0, {"$x": 1}]}),
        "The dollar ($) prefixed field '$x' in 'a.1.$x' is not valid for storage."
    );
    // DBRef names are for embedded documents only.
    assert!(rejection(&doc! {"$ref": "c", "$id": 1}).contains("'$ref'"));
    // `$` elsewhere in a name, dots and empty names are fine.
    assert!(validate_for_storage(&doc! {"a$": 1, "b.c": 2, "": 3, "d": {"e$f": 4}}).is_ok());
}

#[test]
fn dbrefs_are_allowed_in_embedded_documents() {
    assert!(validate_for_storage(&doc! {"r": {"$ref": "c", "$id": 5}}).is_ok());
    assert!(
        validate_for_storage(&doc! {"r": [{"$ref": "c", "$id": {"k": 1}, "$db": "d", "x": 1}]})
            .is_ok()
    );

    let cases = [
        (
            doc! {"r": {"$ref": 1, "$id": 5}},
            "The DBRef $ref field must be a String, not a int (in 'r')",
        ),
        (
            doc! {"r": {"$ref": "c"}},
            "The DBRef $ref field must be followed by a $id field (in 'r')",
        ),
        (
            doc! {"r": {"$id": 5}},
            "Found $id field without a $ref before it, which is invalid. (in 'r')",
        ),
        (
            doc! {"r": {"$ref": "c", "$id": 5, "$db": 2}},
            "The DBRef $db field must be a String, not a int (in 'r')",
        ),
        (
            doc! {"r": {"$db": "d"}},
            "Found $db field without a $id before it, which is invalid. (in 'r')",
        ),
        (
            doc! {"r": {"$ref": "c", "$id": 5, "$x": 1}},
            "The dollar ($) prefixed field '$x' in 'r.$x' is not valid for storage.",
        ),
    ];
    for (doc, expected) in cases {
        assert_eq!(rejection(&doc), expected);
    }
}

#[test]
fn field_names_must_not_contain_nul() {
    assert!(rejection(&doc! {"a\0b": 1}).contains("NUL"));
    let msg = rejection(&doc! {"a": {"x\0": 1}});
    assert!(msg.contains("\"x\\0\"") && msg.contains("'a.x\0'"), "{msg}");
    // Scope variables are names too; `$` is allowed there, NUL is not.
    let scope = |scope| doc! {"f": Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code: "f".into(), scope })};
    assert!(validate_for_storage(&scope(doc! {"$v": 1})).is_ok());
    assert!(rejection(&scope(doc! {"v\0": 1})).contains("NUL"));
}

#[test]
fn string_values_may_contain_nul() {
    let doc = doc! {"s": "a\0b"};
    let bytes = encode_for_storage(&doc).expect("storable");
    assert_eq!(decode_stored(&bytes), Ok(doc));
}

#[test]
fn decode_rejects_corrupt_bytes() {
    let bytes = encode_for_storage(&doc! {"_id": 1, "a": "x"}).expect("storable");
    assert!(matches!(
        decode_stored(&bytes[..bytes.len() - 1]),
        Err(Error::Encoding(_))
    ));
    assert!(matches!(
        decode_stored(b"\x05\0\0"),
        Err(Error::Encoding(_))
    ));
    let mut bad_type = bytes.clone();
    bad_type[4 + 1 + 4 + 4] = 0x7A; // the type byte of field "a"
    assert!(matches!(decode_stored(&bad_type), Err(Error::Encoding(_))));
}

#[test]
fn ensure_id_first_keeps_moves_or_generates() {
    let called = Cell::new(false);
    let generate = || {
        called.set(true);
        Bson::Int32(99)
    };
    let first = ensure_id_first(doc! {"_id": 1, "a": 2}, generate);
    assert_eq!(first, doc! {"_id": 1, "a": 2});
    assert!(!called.get(), "the generator runs only when _id is missing");

    let moved = ensure_id_first(doc! {"a": 1, "_id": "k", "b": 2}, || Bson::Null);
    assert_eq!(moved.keys().collect::<Vec<_>>(), ["_id", "a", "b"]);
    assert_eq!(moved.get("_id"), Some(&Bson::String("k".into())));

    let generated = ensure_id_first(doc! {"b": 1, "a": 2}, || Bson::Int32(7));
    assert_eq!(generated.keys().collect::<Vec<_>>(), ["_id", "b", "a"]);
    assert_eq!(id_of(&generated), Some(&Bson::Int32(7)));
}

#[test]
fn id_of_reads_the_top_level_id() {
    assert_eq!(id_of(&doc! {"a": 1, "_id": 3}), Some(&Bson::Int32(3)));
    assert_eq!(id_of(&doc! {"a": {"_id": 3}}), None);
}

proptest! {
    #[test]
    fn computed_size_matches_the_bson_encoding(doc in arbitrary::storable_document()) {
        let bytes = encode_for_storage(&doc).expect("storable document");
        prop_assert_eq!(validate_for_storage(&doc), Ok(bytes.len()));
        prop_assert_eq!(doc.to_vec().expect("serialisable"), bytes.clone());
        // Decoding and re-encoding gives the same bytes (NaN-safe equality).
        let decoded = decode_stored(&bytes).expect("decodes");
        prop_assert_eq!(encode_for_storage(&decoded).expect("storable"), bytes);
    }
}
