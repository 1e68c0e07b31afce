//! Arithmetic: result types, overflow, dates, rounding, null propagation
//! and the accumulator operators used as expressions.

use bson::doc;

use super::*;

const MAX32: i32 = i32::MAX;
const MAX64: i64 = i64::MAX;

#[test]
fn add_widens_like_mongodb() {
    assert_eq!(constant(bson!({ "$add": [1, 2] })), bson!(3));
    assert_eq!(constant(bson!({ "$add": [] })), bson!(0));
    // int32 overflow gives an int64 …
    assert_eq!(
        constant(bson!({ "$add": [MAX32, 1] })),
        Bson::Int64(2_147_483_648)
    );
    // … but the integers are summed in 64 bits and narrowed at the end.
    assert_eq!(
        constant(bson!({ "$add": [MAX32, 1, -1] })),
        Bson::Int32(MAX32)
    );
    // An int64 operand makes an int64, even when small.
    assert_eq!(
        constant(bson!({ "$add": [1, (Bson::Int64(2))] })),
        Bson::Int64(3)
    );
    // int64 overflow gives a double.
    assert_eq!(
        constant(bson!({ "$add": [MAX64, 1] })),
        Bson::Double(9_223_372_036_854_775_808.0)
    );
    // Any double makes a double.
    assert_eq!(constant(bson!({ "$add": [1, 2.5] })), bson!(3.5));
    assert_eq!(constant(bson!({ "$add": [1.5, 1.5] })), bson!(3.0));
}

#[test]
fn null_and_missing_operands_give_null() {
    let d = doc! { "n": Bson::Null };
    for expr in [
        bson!({ "$add": [1, "$n"] }),
        bson!({ "$add": ["$nope", 1] }),
        bson!({ "$subtract": [1, "$nope"] }),
        bson!({ "$multiply": [2, "$n"] }),
        bson!({ "$divide": ["$n", 0] }),
        bson!({ "$mod": [5, "$nope"] }),
        bson!({ "$abs": "$n" }),
        bson!({ "$round": ["$nope", 1] }),
        bson!({ "$round": [1.5, "$nope"] }),
        bson!({ "$sqrt": "$n" }),
        bson!({ "$pow": [2, "$n"] }),
        bson!({ "$ln": "$nope" }),
    ] {
        assert_eq!(value(expr.clone(), &d), Bson::Null, "{expr}");
    }
    // $add and $multiply look at their operands left to right: null first
    // is null, a wrong type first is an error.
    assert_eq!(value(bson!({ "$add": ["$n", "text"] }), &d), Bson::Null);
    assert_error(
        bson!({ "$add": ["text", "$n"] }),
        &d,
        "TypeMismatch",
        "$add only supports numeric or date types, not string",
    );
    assert_error(
        bson!({ "$multiply": [[1], "$n"] }),
        &d,
        "TypeMismatch",
        "$multiply only supports numeric types, not array",
    );
}

#[test]
fn subtract_and_multiply_types() {
    assert_eq!(constant(bson!({ "$subtract": [5, 7] })), bson!(-2));
    assert_eq!(
        constant(bson!({ "$subtract": [(i32::MIN), 1] })),
        Bson::Int64(-2_147_483_649)
    );
    assert_eq!(
        constant(bson!({ "$subtract": [(Bson::Int64(10)), 3] })),
        Bson::Int64(7)
    );
    assert_eq!(constant(bson!({ "$subtract": [1, 0.5] })), bson!(0.5));
    assert_eq!(constant(bson!({ "$multiply": [6, 7] })), bson!(42));
    assert_eq!(
        constant(bson!({ "$multiply": [65_536, 65_536] })),
        Bson::Int64(4_294_967_296)
    );
    // The product is kept in 64 bits and narrowed at the end.
    assert_eq!(constant(bson!({ "$multiply": [MAX32, 2, 0] })), bson!(0));
    assert_eq!(
        constant(bson!({ "$multiply": [MAX64, 2] })),
        Bson::Double(MAX64 as f64 * 2.0)
    );
    assert_eq!(constant(bson!({ "$multiply": [2, 0.5] })), bson!(1.0));
    assert_eq!(constant(bson!({ "$multiply": [] })), bson!(1));
}

#[test]
fn divide_always_gives_a_double_and_refuses_zero() {
    assert_eq!(constant(bson!({ "$divide": [6, 3] })), bson!(2.0));
    assert_eq!(constant(bson!({ "$divide": [1, 4] })), bson!(0.25));
    assert_eq!(
        constant(bson!({ "$divide": [(Bson::Int64(9)), 2] })),
        bson!(4.5)
    );
    let d = doc! { "zero": 0 };
    assert_error(
        bson!({ "$divide": [1, "$zero"] }),
        &d,
        "BadValue",
        "can't $divide by zero",
    );
    assert_error(
        bson!({ "$divide": [1, 0.0] }),
        &d,
        "BadValue",
        "can't $divide by zero",
    );
    assert_error(
        bson!({ "$mod": [1, 0] }),
        &d,
        "BadValue",
        "can't $mod by zero",
    );
    assert_error(
        bson!({ "$divide": ["a", 1] }),
        &d,
        "TypeMismatch",
        "$divide only supports numeric types",
    );
}

#[test]
fn mod_abs_ceil_floor() {
    assert_eq!(constant(bson!({ "$mod": [7, 3] })), bson!(1));
    assert_eq!(constant(bson!({ "$mod": [-7, 3] })), bson!(-1));
    assert_eq!(constant(bson!({ "$mod": [7.5, 2] })), bson!(1.5));
    assert_eq!(
        constant(bson!({ "$mod": [(Bson::Int64(7)), 3] })),
        Bson::Int64(1)
    );
    assert_eq!(constant(bson!({ "$abs": -5 })), bson!(5));
    assert_eq!(constant(bson!({ "$abs": -2.5 })), bson!(2.5));
    assert_eq!(
        constant(bson!({ "$abs": (i32::MIN) })),
        Bson::Int64(2_147_483_648)
    );
    assert_error(
        bson!({ "$abs": (i64::MIN) }),
        &Document::new(),
        "BadValue",
        "long long min",
    );
    assert_eq!(constant(bson!({ "$ceil": 1.2 })), bson!(2.0));
    assert_eq!(constant(bson!({ "$floor": -1.2 })), bson!(-2.0));
    // Integers are already whole: same value, same type.
    assert_eq!(constant(bson!({ "$ceil": 5 })), bson!(5));
    assert_eq!(
        constant(bson!({ "$floor": (Bson::Int64(5)) })),
        Bson::Int64(5)
    );
}

#[test]
fn round_is_half_to_even_and_trunc_is_toward_zero() {
    for (x, expected) in [
        (2.5, 2.0),
        (3.5, 4.0),
        (-2.5, -2.0),
        (10.5, 10.0),
        (11.5, 12.0),
        (0.4, 0.0),
    ] {
        assert_eq!(
            constant(bson!({ "$round": [x, 0] })),
            bson!(expected),
            "{x}"
        );
    }
    assert_eq!(constant(bson!({ "$round": [2.5] })), bson!(2.0));
    assert_eq!(
        constant(bson!({ "$round": [1234.5678, 2] })),
        bson!(1234.57)
    );
    assert_eq!(constant(bson!({ "$round": [19.25, 1] })), bson!(19.2));
    // Integers round to tens, hundreds … with a negative place, keeping
    // their type; a non-negative place leaves them alone.
    assert_eq!(constant(bson!({ "$round": [1234, -2] })), bson!(1200));
    assert_eq!(constant(bson!({ "$round": [1250, -2] })), bson!(1200));
    assert_eq!(constant(bson!({ "$round": [1350, -2] })), bson!(1400));
    assert_eq!(constant(bson!({ "$round": [1234, 2] })), bson!(1234));
    assert_eq!(
        constant(bson!({ "$round": [(Bson::Int64(1234)), -2] })),
        Bson::Int64(1200)
    );
    assert_eq!(constant(bson!({ "$trunc": [7.89, 1] })), bson!(7.8));
    assert_eq!(constant(bson!({ "$trunc": [-7.89] })), bson!(-7.0));
    assert_eq!(constant(bson!({ "$trunc": [1279, -2] })), bson!(1200));
    assert_eq!(constant(bson!({ "$trunc": [-1279, -2] })), bson!(-1200));
    assert_eq!(constant(bson!({ "$round": [-1250, -2] })), bson!(-1200));
    assert_eq!(constant(bson!({ "$round": [-1251, -2] })), bson!(-1300));
    assert_eq!(constant(bson!({ "$round": [1234.5, -2] })), bson!(1200.0));
    // An int32 rounded past its range becomes an int64.
    assert_eq!(
        constant(bson!({ "$round": [MAX32, -1] })),
        Bson::Int64(2_147_483_650)
    );
    assert_error(
        bson!({ "$round": [1.5, 1.5] }),
        &Document::new(),
        "BadValue",
        "place",
    );
    assert_error(
        bson!({ "$round": [1.5, 101] }),
        &Document::new(),
        "BadValue",
        "place",
    );
}

#[test]
fn powers_roots_and_logarithms() {
    assert_eq!(constant(bson!({ "$pow": [2, 10] })), bson!(1024));
    assert_eq!(
        constant(bson!({ "$pow": [2, 40] })),
        Bson::Int64(1_099_511_627_776)
    );
    assert_eq!(
        constant(bson!({ "$pow": [(Bson::Int64(2)), 2] })),
        Bson::Int64(4)
    );
    assert_eq!(constant(bson!({ "$pow": [2, -1] })), bson!(0.5));
    assert_eq!(constant(bson!({ "$pow": [-1, -3] })), bson!(-1));
    assert_eq!(constant(bson!({ "$pow": [2.0, 3] })), bson!(8.0));
    assert_eq!(
        constant(bson!({ "$pow": [2, 70] })),
        bson!(1_180_591_620_717_411_303_424.0)
    );
    assert_error(
        bson!({ "$pow": [0, -1] }),
        &Document::new(),
        "BadValue",
        "$pow cannot take a base of 0 and a negative exponent",
    );
    assert_eq!(constant(bson!({ "$sqrt": 16 })), bson!(4.0));
    assert_error(
        bson!({ "$sqrt": -1 }),
        &Document::new(),
        "BadValue",
        "$sqrt",
    );
    assert_eq!(constant(bson!({ "$exp": 0 })), bson!(1.0));
    assert_eq!(constant(bson!({ "$ln": 1 })), bson!(0.0));
    assert_eq!(constant(bson!({ "$log10": 1000 })), bson!(3.0));
    assert_eq!(constant(bson!({ "$log": [8, 2] })), bson!(3.0));
    assert_error(bson!({ "$ln": 0 }), &Document::new(), "BadValue", "$ln");
    assert_error(
        bson!({ "$log": [8, 1] }),
        &Document::new(),
        "BadValue",
        "$log",
    );
}

#[test]
fn dates_add_and_subtract() {
    let d = doc! {
        "start": (date(1_000_000)),
        "end": (date(1_003_500)),
    };
    assert_eq!(
        value(bson!({ "$add": ["$start", 500] }), &d),
        date(1_000_500)
    );
    assert_eq!(
        value(bson!({ "$add": [500, "$start", (Bson::Int64(1))] }), &d),
        date(1_000_501)
    );
    // Doubles are rounded to whole milliseconds, half away from zero.
    assert_eq!(
        value(bson!({ "$add": ["$start", 2.5] }), &d),
        date(1_000_003)
    );
    assert_eq!(
        value(bson!({ "$add": ["$start", -2.5] }), &d),
        date(999_997)
    );
    assert_error(
        bson!({ "$add": ["$start", "$end"] }),
        &d,
        "BadValue",
        "only one date allowed in an $add expression",
    );
    // date − date is a number of milliseconds (int64); date − number a date.
    assert_eq!(
        value(bson!({ "$subtract": ["$end", "$start"] }), &d),
        Bson::Int64(3_500)
    );
    assert_eq!(
        value(bson!({ "$subtract": ["$start", "$end"] }), &d),
        Bson::Int64(-3_500)
    );
    assert_eq!(
        value(bson!({ "$subtract": ["$end", 500] }), &d),
        date(1_003_000)
    );
    assert_eq!(
        value(bson!({ "$subtract": ["$end", 0.5] }), &d),
        date(1_003_499)
    );
    assert_error(
        bson!({ "$subtract": [5, "$start"] }),
        &d,
        "TypeMismatch",
        "$subtract",
    );
    assert_error(
        bson!({ "$multiply": ["$start", 2] }),
        &d,
        "TypeMismatch",
        "$multiply only supports numeric types, not date",
    );
}

#[test]
fn accumulators_as_expressions() {
    let d = doc! { "xs": [1, 2.5, "a", Bson::Null], "ints": [1, 2, 3, 4], "empty": [] };
    // One array argument means its elements; non-numbers are ignored.
    assert_eq!(value(bson!({ "$sum": "$xs" }), &d), bson!(3.5));
    assert_eq!(value(bson!({ "$sum": "$ints" }), &d), bson!(10));
    assert_eq!(value(bson!({ "$sum": [1, 2, "a"] }), &d), bson!(3));
    assert_eq!(value(bson!({ "$sum": "$nope" }), &d), bson!(0));
    assert_eq!(value(bson!({ "$sum": "$empty" }), &d), bson!(0));
    assert_eq!(
        value(bson!({ "$sum": [MAX32, 1, -1] }), &d),
        Bson::Int32(MAX32)
    );
    assert_eq!(
        value(bson!({ "$sum": [MAX32, 1] }), &d),
        Bson::Int64(2_147_483_648)
    );
    // Several arguments: an array among them is not a number.
    assert_eq!(value(bson!({ "$sum": ["$ints", 5] }), &d), bson!(5));
    assert_eq!(value(bson!({ "$avg": "$ints" }), &d), bson!(2.5));
    assert_eq!(value(bson!({ "$avg": [1, 2] }), &d), bson!(1.5));
    assert_eq!(value(bson!({ "$avg": "$nope" }), &d), Bson::Null);
    assert_eq!(value(bson!({ "$avg": ["a", "b"] }), &d), Bson::Null);
    // $min/$max use BSON order and skip null and missing.
    assert_eq!(value(bson!({ "$max": "$xs" }), &d), bson!("a"));
    assert_eq!(value(bson!({ "$min": "$xs" }), &d), bson!(1));
    assert_eq!(
        value(bson!({ "$min": [Bson::Null, 5, 2, "$nope"] }), &d),
        bson!(2)
    );
    assert_eq!(
        value(bson!({ "$max": [Bson::Null, "$nope"] }), &d),
        Bson::Null
    );
    assert_eq!(
        value(bson!({ "$stdDevPop": "$ints" }), &d),
        bson!(1.118_033_988_749_895)
    );
    assert_eq!(
        value(bson!({ "$stdDevSamp": "$ints" }), &d),
        bson!(1.290_994_448_735_805_6)
    );
    assert_eq!(value(bson!({ "$stdDevSamp": [1] }), &d), Bson::Null);
    assert_eq!(value(bson!({ "$stdDevPop": [] }), &d), Bson::Null);
}

#[test]
fn decimals_are_refused_not_approximated() {
    let dec: Bson = Bson::Decimal128("1.5".parse().unwrap());
    let d = doc! { "d": dec };
    assert_error(
        bson!({ "$add": ["$d", 1] }),
        &d,
        "NotImplemented",
        "Decimal128",
    );
    assert_error(
        bson!({ "$sum": ["$d"] }),
        &d,
        "NotImplemented",
        "Decimal128",
    );
}
