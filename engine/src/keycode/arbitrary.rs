//! Proptest strategies for arbitrary BSON values, shared by the engine's
//! property tests.
//!
//! The domains are deliberately small (few characters, few field names,
//! numbers clustered around the tricky spots) so that independently drawn
//! values often collide or share prefixes: equal-but-differently-typed numbers,
//! strings that are prefixes of each other, documents that differ in one
//! element.

use bson::spec::BinarySubtype;
use bson::{
    Binary, Bson, Decimal128, Document, JavaScriptCodeWithScope, Regex, Timestamp, oid::ObjectId,
};
use proptest::prelude::*;

/// Any BSON value of any type, nested up to a few levels.
pub(crate) fn value() -> impl Strategy<Value = Bson> {
    value_named(field_name())
}

/// Any BSON value whose embedded field names are drawn from `names`.
pub(crate) fn value_named(names: BoxedStrategy<String>) -> impl Strategy<Value = Bson> {
    leaf().prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            prop::collection::vec((names.clone(), inner.clone()), 0..4)
                .prop_map(|elems| Bson::Document(to_document(elems))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
            (
                small_string(),
                prop::collection::vec((names.clone(), inner), 0..3)
            )
                .prop_map(|(code, elems)| {
                    Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
                        code,
                        scope: to_document(elems),
                    })
                }),
        ]
    })
}

/// A document that BSON can serialise and storage accepts: no NUL or `$` in
/// field names, no top-level `_id`; values of every type.
pub(crate) fn storable_document() -> impl Strategy<Value = Document> {
    let names = prop_oneof![Just("a"), Just("ab"), Just("b"), Just(""), Just("_id")]
        .prop_map(String::from)
        .boxed();
    let top = prop_oneof![Just("x"), Just("y"), Just("xy")].prop_map(String::from);
    prop::collection::vec((top, value_named(names)), 0..5).prop_map(to_document)
}

/// A value of any non-container type.
pub(crate) fn leaf() -> impl Strategy<Value = Bson> {
    prop_oneof![
        4 => number(),
        2 => small_string().prop_map(Bson::String),
        1 => small_string().prop_map(Bson::Symbol),
        1 => Just(Bson::MinKey),
        1 => Just(Bson::MaxKey),
        1 => Just(Bson::Null),
        1 => Just(Bson::Undefined),
        1 => any::<bool>().prop_map(Bson::Boolean),
        1 => binary(),
        1 => (0u8..3, 0u8..3).prop_map(|(a, b)| {
            let mut bytes = [0u8; 12];
            bytes[0] = a;
            bytes[11] = b;
            Bson::ObjectId(ObjectId::from_bytes(bytes))
        }),
        1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), -2i64..3, any::<i64>()]
            .prop_map(|ms| Bson::DateTime(bson::DateTime::from_millis(ms))),
        1 => (prop_oneof![Just(0u32), Just(1), Just(u32::MAX)], 0u32..3)
            .prop_map(|(time, increment)| Bson::Timestamp(Timestamp { time, increment })),
        1 => (regex_part(), prop_oneof![Just(""), Just("i"), Just("im"), Just("x")]).prop_map(|(p, o)| regex(&p, o)),
        1 => small_string().prop_map(Bson::JavaScriptCode),
        1 => (prop_oneof![Just("db.a"), Just("db.b"), Just("db")], 0u8..3).prop_map(|(ns, b)| db_pointer(ns, b)),
    ]
}

/// A number of any numeric type, weighted towards the hard cases: values
/// shared across types, NaN, ±0, ±∞, and int64s a double cannot hold.
pub(crate) fn number() -> impl Strategy<Value = Bson> {
    const TWO_POW_53: i64 = 1 << 53;
    let ints = prop_oneof![
        3 => -3i64..4,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN + 1),
        1 => Just(i64::MAX - 1),
        1 => (TWO_POW_53 - 2)..(TWO_POW_53 + 3),
        1 => (-TWO_POW_53 - 2)..(-TWO_POW_53 + 3),
        1 => (i64::MAX - 1100)..=i64::MAX,
        1 => any::<i64>(),
    ];
    let doubles = prop_oneof![
        2 => (-6i32..7).prop_map(|h| f64::from(h) / 2.0),
        1 => Just(f64::NAN),
        1 => Just(-f64::NAN),
        1 => Just(-0.0),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(9_007_199_254_740_992.0),
        1 => Just(9_007_199_254_740_994.0),
        1 => Just(-9_007_199_254_740_992.0),
        1 => Just(9_223_372_036_854_775_808.0),
        1 => Just(-9_223_372_036_854_775_808.0),
        1 => Just(9_223_372_036_854_774_784.0),
        1 => Just(f64::MIN_POSITIVE),
        1 => Just(f64::MAX),
        1 => any::<f64>(),
        1 => any::<i64>().prop_map(|i| i as f64),
    ];
    let decimals = prop_oneof![
        Just("1"),
        Just("1.0"),
        Just("-0"),
        Just("0.5"),
        Just("NaN"),
        Just("Infinity"),
        Just("-Infinity"),
        Just("9007199254740993"),
        Just("1E+400"),
        Just("-2.5"),
    ]
    .prop_map(|s| Bson::Decimal128(s.parse::<Decimal128>().expect("valid decimal literal")));
    prop_oneof![
        3 => ints.clone().prop_map(Bson::Int64),
        2 => (-3i32..4).prop_map(Bson::Int32),
        1 => prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>()].prop_map(Bson::Int32),
        3 => doubles.prop_map(Bson::Double),
        1 => decimals,
    ]
}

/// Strings over a tiny alphabet that includes NUL, `\x01` and a multi-byte
/// character, so prefixes and escapes are common.
pub(crate) fn small_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just('\0'), Just('\u{1}'), Just('a'), Just('b'), Just('é')],
        0..4,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

/// Field names: a few short names, some prefixes of others, some with NUL.
pub(crate) fn field_name() -> BoxedStrategy<String> {
    prop_oneof![
        Just("a"),
        Just("ab"),
        Just("b"),
        Just(""),
        Just("a\0"),
        Just("_id")
    ]
    .prop_map(String::from)
    .boxed()
}

fn regex_part() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just('a'), Just('b'), Just('\u{1}'), Just('.')],
        0..3,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn binary() -> impl Strategy<Value = Bson> {
    let subtype = prop_oneof![
        Just(BinarySubtype::Generic),
        Just(BinarySubtype::Uuid),
        Just(BinarySubtype::UserDefined(0x80)),
        Just(BinarySubtype::BinaryOld),
    ];
    (
        subtype,
        prop::collection::vec(prop_oneof![Just(0u8), Just(1), Just(0xFF)], 0..3),
    )
        .prop_map(|(subtype, bytes)| Bson::Binary(Binary { subtype, bytes }))
}

fn to_document(elems: Vec<(String, Bson)>) -> Document {
    elems.into_iter().collect()
}

/// A regex value (the pattern and options must not contain NUL).
pub(crate) fn regex(pattern: &str, options: &str) -> Bson {
    Bson::RegularExpression(Regex {
        pattern: pattern.try_into().expect("pattern without NUL"),
        options: options.try_into().expect("options without NUL"),
    })
}

/// A DBPointer; the bson crate only builds them by decoding BSON bytes.
pub(crate) fn db_pointer(namespace: &str, last_id_byte: u8) -> Bson {
    let mut element = vec![0x0C, b'p', 0];
    element.extend_from_slice(&(namespace.len() as i32 + 1).to_le_bytes());
    element.extend_from_slice(namespace.as_bytes());
    element.push(0);
    let mut id = [7u8; 12];
    id[11] = last_id_byte;
    element.extend_from_slice(&id);
    let mut bytes = ((element.len() + 5) as i32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&element);
    bytes.push(0);
    let doc = Document::from_reader(bytes.as_slice()).expect("well-formed DBPointer document");
    doc.get("p").cloned().expect("field p")
}
