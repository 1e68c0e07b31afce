use std::cmp::Ordering;

use bson::spec::BinarySubtype;
use bson::{
    Binary, Bson, Decimal128, JavaScriptCodeWithScope, Timestamp, bson, doc, oid::ObjectId,
};
use proptest::prelude::*;

use super::arbitrary::{self, db_pointer, regex};
use super::{encode, encode_prefix_successor};
use crate::value::{compare, values_equal};

/// Asserts that each value encodes strictly below the next, and that
/// `compare` agrees.
fn assert_ascending(values: &[Bson]) {
    for w in values.windows(2) {
        assert_eq!(
            compare(&w[0], &w[1]),
            Ordering::Less,
            "compare: {:?} < {:?}",
            w[0],
            w[1]
        );
        assert!(
            encode(&w[0]) < encode(&w[1]),
            "encode: {:?} < {:?}",
            w[0],
            w[1]
        );
    }
}

fn assert_same_key(a: &Bson, b: &Bson) {
    assert_eq!(encode(a), encode(b), "{a:?} and {b:?} must encode the same");
}

fn decimal(s: &str) -> Bson {
    Bson::Decimal128(s.parse::<Decimal128>().expect("decimal literal"))
}

fn binary(subtype: BinarySubtype, bytes: &[u8]) -> Bson {
    Bson::Binary(Binary {
        subtype,
        bytes: bytes.to_vec(),
    })
}

#[test]
fn brackets_sort_in_mongodb_type_order() {
    assert_ascending(&[
        Bson::MinKey,
        Bson::Undefined,
        Bson::Null,
        Bson::Double(f64::NAN),
        Bson::Int64(i64::MAX),
        Bson::String(String::new()),
        bson!({}),
        bson!([]),
        binary(BinarySubtype::Generic, b""),
        Bson::ObjectId(ObjectId::from_bytes([0; 12])),
        Bson::Boolean(false),
        Bson::DateTime(bson::DateTime::from_millis(i64::MIN)),
        Bson::Timestamp(Timestamp {
            time: 0,
            increment: 0,
        }),
        regex("", ""),
        db_pointer("", 0),
        Bson::JavaScriptCode(String::new()),
        Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
            code: String::new(),
            scope: doc! {},
        }),
        Bson::MaxKey,
    ]);
}

#[test]
fn layout_of_simple_values() {
    assert_eq!(encode(&Bson::Null), [0x03]);
    assert_eq!(
        encode(&Bson::Int32(1)),
        [0x04, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        encode(&Bson::String("a\0".into())),
        [0x05, b'a', 0x00, 0xFF, 0x00, 0x00]
    );
    assert_eq!(
        encode(&bson!({"a": true})),
        [0x06, 0x0A, b'a', 0x00, 0x00, 0x01, 0x00]
    );
    assert_eq!(encode(&bson!([null])), [0x07, 0x03, 0x00]);
    assert_eq!(
        encode(&binary(BinarySubtype::Uuid, &[9])),
        [0x08, 0, 0, 0, 1, 4, 9]
    );
    assert_eq!(
        encode(&Bson::DateTime(bson::DateTime::from_millis(-1))),
        [0x0B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    );
}

#[test]
fn equal_numbers_of_every_type_share_one_key() {
    let one = encode(&Bson::Int32(1));
    assert_eq!(encode(&Bson::Int64(1)), one);
    assert_eq!(encode(&Bson::Double(1.0)), one);
    assert_eq!(encode(&decimal("1.0")), one);
    assert_same_key(&Bson::Double(-0.0), &Bson::Int32(0));
    assert_same_key(&Bson::Double(f64::NAN), &Bson::Double(-f64::NAN));
    assert_same_key(&Bson::Double(f64::NAN), &decimal("NaN"));
    assert_same_key(&Bson::Double(f64::INFINITY), &decimal("Infinity"));
    assert_same_key(&Bson::Int64(1 << 60), &Bson::Double((1_i64 << 60) as f64));
    assert_same_key(
        &Bson::Int64(i64::MIN),
        &Bson::Double(-9_223_372_036_854_775_808.0),
    );
}

#[test]
fn numbers_order_exactly_beyond_double_precision() {
    let two_53 = 1_i64 << 53;
    assert_ascending(&[
        Bson::Double(f64::NAN),
        Bson::Double(f64::NEG_INFINITY),
        Bson::Double(-f64::MAX),
        Bson::Int64(i64::MIN),
        Bson::Int64(i64::MIN + 1),
        Bson::Int64(-two_53 - 1),
        Bson::Double(-(two_53 as f64)),
        Bson::Double(-1.5),
        Bson::Int32(-1),
        Bson::Double(-f64::MIN_POSITIVE),
        Bson::Int32(0),
        Bson::Double(f64::MIN_POSITIVE),
        Bson::Double(0.5),
        Bson::Int64(1),
        Bson::Double(two_53 as f64),
        Bson::Int64(two_53 + 1),
        Bson::Double((two_53 + 2) as f64),
        Bson::Int64(i64::MAX - 1),
        Bson::Int64(i64::MAX),
        Bson::Double(9_223_372_036_854_775_808.0),
        Bson::Double(f64::MAX),
        Bson::Double(f64::INFINITY),
    ]);
}

#[test]
fn large_integers_carry_a_residual_small_ones_do_not() {
    assert_eq!(encode(&Bson::Int64((1 << 53) - 1)).len(), 9);
    assert_eq!(encode(&Bson::Int64(1 << 53)).len(), 11);
    assert_eq!(encode(&Bson::Double(f64::INFINITY)).len(), 11);
    assert_eq!(encode(&Bson::Double(f64::NAN)).len(), 9);
}

#[test]
fn strings_order_by_bytes_with_prefixes_first() {
    assert_ascending(&[
        Bson::String(String::new()),
        Bson::String("\0".into()),
        Bson::String("\0\0".into()),
        Bson::String("\u{1}".into()),
        Bson::String("a".into()),
        Bson::String("a\0".into()),
        Bson::String("a\0b".into()),
        Bson::String("a\u{1}".into()),
        Bson::String("ab".into()),
        Bson::String("b".into()),
        Bson::String("é".into()),
    ]);
    assert_same_key(&Bson::String("x".into()), &Bson::Symbol("x".into()));
}

#[test]
fn documents_order_by_type_then_name_then_value() {
    assert_ascending(&[
        bson!({}),
        bson!({"a": null}),
        bson!({"b": null}),
        bson!({"a": 1}),
        bson!({"a": 1, "": 0}),
        bson!({"a": 2}),
        bson!({"a\0": 2}),
        bson!({"ab": 0}),
        bson!({"z": 9}),
        bson!({"a": "x"}),
        bson!({"a": {}}),
    ]);
    assert_same_key(
        &bson!({"a": 1, "b": [2.0]}),
        &bson!({"a": 1.0, "b": [2_i64]}),
    );
    assert_ne!(
        encode(&bson!({"a": 1, "b": 2})),
        encode(&bson!({"b": 2, "a": 1}))
    );
}

#[test]
fn arrays_order_element_by_element_with_prefixes_first() {
    assert_ascending(&[
        bson!([]),
        bson!([null]),
        bson!([1]),
        bson!([1, 1]),
        bson!([1, "a"]),
        bson!([2]),
        bson!([[]]),
        bson!([[1]]),
    ]);
}

#[test]
fn binary_orders_by_length_then_subtype_then_bytes() {
    assert_ascending(&[
        binary(BinarySubtype::Generic, b"z"),
        binary(BinarySubtype::Uuid, b"a"),
        binary(BinarySubtype::Generic, b"\0\0"),
        binary(BinarySubtype::Generic, b"\0\x01"),
        binary(BinarySubtype::Uuid, b"\0\0"),
    ]);
}

#[test]
fn scalar_brackets_order_within_themselves() {
    let oid = |b: u8| Bson::ObjectId(ObjectId::from_bytes([b; 12]));
    assert_ascending(&[oid(0), oid(1), oid(0xFF)]);
    assert_ascending(&[Bson::Boolean(false), Bson::Boolean(true)]);
    let date = |ms: i64| Bson::DateTime(bson::DateTime::from_millis(ms));
    assert_ascending(&[date(i64::MIN), date(-1), date(0), date(1), date(i64::MAX)]);
    let ts = |time, increment| Bson::Timestamp(Timestamp { time, increment });
    assert_ascending(&[ts(0, 5), ts(1, 0), ts(1, 1), ts(u32::MAX, 0)]);
    assert_ascending(&[
        regex("a", "x"),
        regex("a.", ""),
        regex("b", ""),
        regex("b", "i"),
        regex("b", "im"),
    ]);
    assert_ascending(&[
        db_pointer("db", 9),
        db_pointer("db.a", 0),
        db_pointer("db.a", 1),
    ]);
    assert_ascending(&[
        Bson::JavaScriptCode("a".into()),
        Bson::JavaScriptCode("b".into()),
    ]);
    let cws = |code: &str, scope| {
        Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
            code: code.into(),
            scope,
        })
    };
    assert_ascending(&[
        cws("a", doc! {"x": 2}),
        cws("a", doc! {"x": 2, "y": 0}),
        cws("a\0", doc! {}),
    ]);
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let mut v = Bson::Int32(1);
    for _ in 0..100_000 {
        v = Bson::Array(vec![v]);
    }
    let key = encode(&v);
    assert_eq!(key.len(), 100_000 * 2 + 9);
    assert!(key.starts_with(&[0x07, 0x07, 0x07]));
    // Dropping a deeply nested Bson recurses inside the bson crate; unwrap it
    // level by level instead.
    while let Bson::Array(mut inner) = v {
        v = inner.pop().unwrap_or(Bson::Null);
    }
}

#[test]
fn prefix_successor_bounds_every_extension() {
    assert_eq!(encode_prefix_successor(b"ab"), Some(b"ac".to_vec()));
    assert_eq!(
        encode_prefix_successor(&[0x05, 0xFF, 0xFF]),
        Some(vec![0x06])
    );
    assert_eq!(encode_prefix_successor(&[0xFF, 0xFF]), None);
    assert_eq!(encode_prefix_successor(&[]), None);
    // Every string key sorts in [05, successor(05)).
    let strings = encode_prefix_successor(&[0x05]).expect("successor");
    assert!(encode(&Bson::String("\u{10FFFF}".into())) < strings);
    assert!(encode(&bson!({})) >= strings);
}

/// Checks the law for every pair drawn from `values`.
fn check_pairs(values: &[Bson]) -> Result<(), TestCaseError> {
    let keys: Vec<Vec<u8>> = values.iter().map(encode).collect();
    for (a, ka) in values.iter().zip(&keys) {
        for (b, kb) in values.iter().zip(&keys) {
            prop_assert_eq!(ka.cmp(kb), compare(a, b), "a = {:?}, b = {:?}", a, b);
            prop_assert_eq!(values_equal(a, b), ka == kb, "a = {:?}, b = {:?}", a, b);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn byte_order_is_value_order(values in prop::collection::vec(arbitrary::value(), 1..10)) {
        check_pairs(&values)?;
    }

    #[test]
    fn byte_order_is_number_order(values in prop::collection::vec(arbitrary::number(), 1..12)) {
        check_pairs(&values)?;
    }

    #[test]
    fn byte_order_is_document_order(
        docs in prop::collection::vec(
            prop::collection::vec((arbitrary::field_name(), arbitrary::leaf()), 0..3), 1..10),
    ) {
        let values: Vec<Bson> = docs.into_iter().map(|d| Bson::Document(d.into_iter().collect())).collect();
        check_pairs(&values)?;
    }

    #[test]
    fn keys_are_prefix_free(a in arbitrary::value(), b in arbitrary::value()) {
        let (ka, kb) = (encode(&a), encode(&b));
        prop_assert!(ka == kb || !(ka.starts_with(&kb) || kb.starts_with(&ka)), "{:?} / {:?}", a, b);
    }

    #[test]
    fn successor_is_above_every_extension(
        key in prop::collection::vec(any::<u8>(), 0..6),
        suffix in prop::collection::vec(any::<u8>(), 0..6),
        other in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut extended = key.clone();
        extended.extend_from_slice(&suffix);
        match encode_prefix_successor(&key) {
            Some(succ) => {
                prop_assert!(extended < succ);
                // Smallest such string: anything below it (and not below the
                // prefix range) starts with the prefix.
                if other >= key && other < succ {
                    prop_assert!(other.starts_with(&key));
                }
            }
            None => prop_assert!(key.iter().all(|&b| b == 0xFF)),
        }
    }
}
