//! Type inspection, conversions and dates.

use bson::doc;
use bson::oid::ObjectId;

use super::*;

/// 2021-03-04T05:06:07.089Z, a Thursday, day 63 of the year.
const THURSDAY: i64 = 1_614_834_367_089;

#[test]
fn type_names() {
    let d = doc! { "n": Bson::Null, "l": Bson::Int64(1), "o": {}, "a": [] };
    for (expr, name) in [
        (bson!(1), "int"),
        (bson!("$l"), "long"),
        (bson!(1.5), "double"),
        (bson!("s"), "string"),
        (bson!(true), "bool"),
        (bson!("$n"), "null"),
        (bson!("$nope"), "missing"),
        (bson!("$o"), "object"),
        (bson!("$a"), "array"),
        (date(0), "date"),
        (Bson::ObjectId(ObjectId::from_bytes([1; 12])), "objectId"),
    ] {
        assert_eq!(
            value(bson!({ "$type": [(expr.clone())] }), &d),
            bson!(name),
            "{expr}"
        );
    }
    assert_eq!(value(bson!({ "$isNumber": "$l" }), &d), bson!(true));
    assert_eq!(value(bson!({ "$isNumber": "5" }), &d), bson!(false));
    assert_eq!(value(bson!({ "$isNumber": "$nope" }), &d), bson!(false));
}

#[test]
fn to_int_long_double() {
    assert_eq!(constant(bson!({ "$toInt": "12" })), bson!(12));
    assert_eq!(constant(bson!({ "$toInt": "-12" })), bson!(-12));
    assert_eq!(constant(bson!({ "$toInt": 12.9 })), bson!(12));
    assert_eq!(constant(bson!({ "$toInt": -12.9 })), bson!(-12));
    assert_eq!(constant(bson!({ "$toInt": true })), bson!(1));
    assert_eq!(constant(bson!({ "$toInt": (Bson::Int64(7)) })), bson!(7));
    assert_eq!(constant(bson!({ "$toInt": Bson::Null })), Bson::Null);
    assert_eq!(constant(bson!({ "$toInt": "$nope" })), Bson::Null);
    let d = Document::new();
    assert_error(
        bson!({ "$toInt": "12.5" }),
        &d,
        "BadValue",
        "Failed to convert",
    );
    assert_error(
        bson!({ "$toInt": "abc" }),
        &d,
        "BadValue",
        "Failed to convert",
    );
    assert_error(
        bson!({ "$toInt": (Bson::Int64(1 << 40)) }),
        &d,
        "BadValue",
        "out of range",
    );
    assert_error(
        bson!({ "$toInt": (date(0)) }),
        &d,
        "BadValue",
        "Unsupported conversion from date to int",
    );
    assert_eq!(
        constant(bson!({ "$toLong": "9007199254740993" })),
        Bson::Int64(9_007_199_254_740_993)
    );
    assert_eq!(
        constant(bson!({ "$toLong": (date(THURSDAY)) })),
        Bson::Int64(THURSDAY)
    );
    assert_eq!(constant(bson!({ "$toLong": 5 })), Bson::Int64(5));
    assert_eq!(constant(bson!({ "$toDouble": "2.5" })), bson!(2.5));
    assert_eq!(constant(bson!({ "$toDouble": true })), bson!(1.0));
    assert_eq!(
        constant(bson!({ "$toDouble": (date(1500)) })),
        bson!(1500.0)
    );
    assert_error(
        bson!({ "$toDouble": "2.5x" }),
        &d,
        "BadValue",
        "Failed to convert",
    );
}

#[test]
fn to_string_bool_object_id_date() {
    let oid = ObjectId::parse_str("507f1f77bcf86cd799439011").unwrap();
    assert_eq!(
        constant(bson!({ "$toString": (date(THURSDAY)) })),
        bson!("2021-03-04T05:06:07.089Z")
    );
    assert_eq!(constant(bson!({ "$toString": 2.5 })), bson!("2.5"));
    assert_eq!(
        constant(bson!({ "$toString": (Bson::Int64(5)) })),
        bson!("5")
    );
    assert_eq!(constant(bson!({ "$toString": true })), bson!("true"));
    assert_eq!(
        constant(bson!({ "$toString": (Bson::ObjectId(oid)) })),
        bson!("507f1f77bcf86cd799439011")
    );
    assert_eq!(constant(bson!({ "$toString": Bson::Null })), Bson::Null);
    assert_error(
        bson!({ "$toString": [[1]] }),
        &Document::new(),
        "BadValue",
        "array",
    );
    // Any string is true, even "false" and "".
    assert_eq!(constant(bson!({ "$toBool": "false" })), bson!(true));
    assert_eq!(constant(bson!({ "$toBool": "" })), bson!(true));
    assert_eq!(constant(bson!({ "$toBool": 0 })), bson!(false));
    assert_eq!(constant(bson!({ "$toBool": 0.0 })), bson!(false));
    assert_eq!(
        constant(bson!({ "$toBool": (Bson::Int64(2)) })),
        bson!(true)
    );
    assert_eq!(constant(bson!({ "$toBool": Bson::Null })), Bson::Null);
    assert_eq!(
        constant(bson!({ "$toObjectId": "507f1f77bcf86cd799439011" })),
        Bson::ObjectId(oid)
    );
    assert_error(
        bson!({ "$toObjectId": "xyz" }),
        &Document::new(),
        "BadValue",
        "Failed to convert",
    );
    assert_eq!(
        constant(bson!({ "$toDate": "2021-03-04T05:06:07.089Z" })),
        date(THURSDAY)
    );
    assert_eq!(
        constant(bson!({ "$toDate": "2021-03-04" })),
        date(1_614_816_000_000)
    );
    assert_eq!(
        constant(bson!({ "$toDate": (Bson::Int64(THURSDAY)) })),
        date(THURSDAY)
    );
    assert_eq!(constant(bson!({ "$toDate": 1500.7 })), date(1500));
    // The ObjectId's creation time, to the second.
    assert_eq!(
        constant(bson!({ "$toDate": (Bson::ObjectId(oid)) })),
        date(1_350_508_407_000)
    );
    assert_error(
        bson!({ "$toDate": 5 }),
        &Document::new(),
        "BadValue",
        "Unsupported conversion from int to date",
    );
}

#[test]
fn convert_with_on_error_and_on_null() {
    let d = doc! { "s": "abc", "n": Bson::Null };
    assert_eq!(
        value(bson!({ "$convert": { "input": "5", "to": "int" } }), &d),
        bson!(5)
    );
    assert_eq!(
        value(bson!({ "$convert": { "input": "5", "to": 16 } }), &d),
        bson!(5)
    );
    assert_eq!(
        value(bson!({ "$convert": { "input": 5, "to": "string" } }), &d),
        bson!("5")
    );
    assert_eq!(
        value(bson!({ "$convert": { "input": 1, "to": "bool" } }), &d),
        bson!(true)
    );
    assert_eq!(
        value(
            bson!({ "$convert": { "input": "$s", "to": "int", "onError": -1 } }),
            &d
        ),
        bson!(-1)
    );
    assert_eq!(
        value(
            bson!({ "$convert": { "input": [1], "to": "string", "onError": "bad" } }),
            &d
        ),
        bson!("bad")
    );
    assert_eq!(
        value(
            bson!({ "$convert": { "input": "$n", "to": "int", "onNull": 0 } }),
            &d
        ),
        bson!(0)
    );
    assert_eq!(
        value(
            bson!({ "$convert": { "input": "$nope", "to": "int", "onNull": "none", "onError": 1 } }),
            &d
        ),
        bson!("none")
    );
    assert_eq!(
        value(bson!({ "$convert": { "input": "$nope", "to": "int" } }), &d),
        Bson::Null
    );
    assert_error(
        bson!({ "$convert": { "input": "$s", "to": "int" } }),
        &d,
        "BadValue",
        "Failed to convert",
    );
    assert_error(
        bson!({ "$convert": { "input": 1, "to": "bogus" } }),
        &d,
        "BadValue",
        "bogus",
    );
    assert_error(
        bson!({ "$convert": { "input": 1 } }),
        &d,
        "FailedToParse",
        "to",
    );
    assert_error(
        bson!({ "$convert": { "input": 1, "to": "decimal" } }),
        &d,
        "NotImplemented",
        "decimal",
    );
    // onError and onNull are used as evaluated: $$REMOVE makes the result
    // missing, unlike leaving them out.
    assert_missing(
        bson!({ "$convert": { "input": "$s", "to": "int", "onError": "$$REMOVE" } }),
        &d,
    );
    assert_missing(
        bson!({ "$convert": { "input": "$n", "to": "int", "onNull": "$$REMOVE" } }),
        &d,
    );
    // A null `to`: onNull for a null input, null otherwise; a bad `to` is
    // an error even for a null input.
    assert_eq!(
        value(
            bson!({ "$convert": { "input": "$n", "to": Bson::Null, "onNull": "N" } }),
            &d
        ),
        bson!("N")
    );
    assert_eq!(
        value(bson!({ "$convert": { "input": 5, "to": "$nope" } }), &d),
        Bson::Null
    );
    assert_error(
        bson!({ "$convert": { "input": "$n", "to": "bogus", "onNull": 1 } }),
        &d,
        "BadValue",
        "bogus",
    );
    // An error in the input itself is not caught by onError.
    assert_error(
        bson!({ "$convert": { "input": { "$divide": [1, 0] }, "to": "string", "onError": "E" } }),
        &d,
        "BadValue",
        "can't $divide by zero",
    );
}

#[test]
fn decimal_inputs_convert_through_their_nearest_double() {
    let dec = |s: &str| Bson::Decimal128(s.parse().unwrap());
    let d = doc! { "one9": (dec("1.9")), "zero": (dec("0")) };
    assert_eq!(value(bson!({ "$toDouble": "$one9" }), &d), bson!(1.9));
    assert_eq!(value(bson!({ "$toInt": "$one9" }), &d), bson!(1));
    assert_eq!(value(bson!({ "$toLong": "$one9" }), &d), Bson::Int64(1));
    assert_eq!(value(bson!({ "$toBool": "$zero" }), &d), bson!(false));
    assert_eq!(value(bson!({ "$toBool": "$one9" }), &d), bson!(true));
    assert_eq!(value(bson!({ "$toString": "$one9" }), &d), bson!("1.9"));
}

#[test]
fn date_parts_in_utc() {
    let d = doc! { "d": (date(THURSDAY)) };
    for (op, expected) in [
        ("$year", 2021),
        ("$month", 3),
        ("$dayOfMonth", 4),
        ("$hour", 5),
        ("$minute", 6),
        ("$second", 7),
        ("$millisecond", 89),
        ("$dayOfWeek", 5),
        ("$dayOfYear", 63),
    ] {
        assert_eq!(value(bson!({ op: "$d" }), &d), bson!(expected), "{op}");
        assert_eq!(
            value(bson!({ op: ["$d"] }), &d),
            bson!(expected),
            "{op} [d]"
        );
    }
    // Before 1970.
    assert_eq!(value(bson!({ "$year": (date(-1)) }), &d), bson!(1969));
    assert_eq!(value(bson!({ "$dayOfWeek": (date(-1)) }), &d), bson!(4));
    // Timestamps and ObjectIds are dates too.
    let ts = Bson::Timestamp(bson::Timestamp {
        time: 1_614_834_367,
        increment: 1,
    });
    assert_eq!(value(bson!({ "$minute": (ts) }), &d), bson!(6));
    let oid = Bson::ObjectId(ObjectId::parse_str("507f1f77bcf86cd799439011").unwrap());
    assert_eq!(value(bson!({ "$year": (oid) }), &d), bson!(2012));
    assert_eq!(value(bson!({ "$year": "$nope" }), &d), Bson::Null);
    assert_eq!(value(bson!({ "$year": Bson::Null }), &d), Bson::Null);
    assert_error(
        bson!({ "$year": "2021" }),
        &d,
        "TypeMismatch",
        "$year can't convert from BSON type string to Date",
    );
}

#[test]
fn date_parts_with_a_time_zone() {
    let d = doc! { "d": (date(THURSDAY)), "tz": "-08:00" };
    let at = |op: &str, tz: Bson| value(bson!({ op: { "date": "$d", "timezone": (tz) } }), &d);
    assert_eq!(at("$hour", bson!("+05:30")), bson!(10));
    assert_eq!(at("$minute", bson!("+05:30")), bson!(36));
    // 05:06 UTC is 21:06 the day before in UTC−8.
    assert_eq!(at("$hour", bson!("$tz")), bson!(21));
    assert_eq!(at("$dayOfMonth", bson!("-0800")), bson!(3));
    assert_eq!(at("$dayOfWeek", bson!("-08")), bson!(4));
    assert_eq!(at("$dayOfYear", bson!("-08:00")), bson!(62));
    assert_eq!(at("$hour", bson!("UTC")), bson!(5));
    assert_eq!(at("$hour", Bson::Null), Bson::Null);
    assert_eq!(at("$hour", bson!("$nope")), Bson::Null);
    // {date} alone is UTC; a missing date is null.
    assert_eq!(value(bson!({ "$hour": { "date": "$d" } }), &d), bson!(5));
    assert_eq!(
        value(
            bson!({ "$hour": { "date": "$nope", "timezone": "+01:00" } }),
            &d
        ),
        Bson::Null
    );
    assert_error(
        bson!({ "$hour": { "timezone": "+01:00" } }),
        &d,
        "FailedToParse",
        "date",
    );
    assert_error(
        bson!({ "$hour": { "date": "$d", "tz": 1 } }),
        &d,
        "FailedToParse",
        "tz",
    );
    // Olson names need a time-zone database, which this engine lacks.
    assert_error(
        bson!({ "$hour": { "date": "$d", "timezone": "Europe/Paris" } }),
        &d,
        "NotImplemented",
        "Europe/Paris",
    );
}

#[test]
fn date_to_string() {
    let d = doc! { "d": (date(THURSDAY)), "n": Bson::Null };
    let fmt = |format: &str, tz: Option<&str>| {
        let mut spec = doc! { "date": "$d", "format": format };
        if let Some(tz) = tz {
            spec.insert("timezone", tz);
        }
        value(bson!({ "$dateToString": (spec) }), &d)
    };
    assert_eq!(
        fmt("%Y-%m-%d %H:%M:%S.%L", None),
        bson!("2021-03-04 05:06:07.089")
    );
    assert_eq!(
        fmt("%Y-%m-%d %H:%M:%S %z (%Z minutes)", Some("+05:30")),
        bson!("2021-03-04 10:36:07 +0530 (330 minutes)")
    );
    assert_eq!(
        fmt("%d/%m %H:%M %z (%Z)", Some("-08:00")),
        bson!("03/03 21:06 -0800 (-480)")
    );
    assert_eq!(fmt("%H:%M %z (%Z)", None), bson!("05:06 +0000 (0)"));
    assert_eq!(
        fmt("day %j, weekday %w, iso weekday %u, 100%%", None),
        bson!("day 063, weekday 5, iso weekday 4, 100%")
    );
    // The default format is ISO 8601 with a Z.
    assert_eq!(
        value(bson!({ "$dateToString": { "date": "$d" } }), &d),
        bson!("2021-03-04T05:06:07.089Z")
    );
    // A null or missing date is null, or onNull.
    assert_eq!(
        value(
            bson!({ "$dateToString": { "date": "$nope", "format": "%Y" } }),
            &d
        ),
        Bson::Null
    );
    assert_eq!(
        value(
            bson!({ "$dateToString": { "date": "$n", "format": "%Y", "onNull": "no date" } }),
            &d
        ),
        bson!("no date")
    );
    // A null format or time zone is null too.
    assert_eq!(
        value(
            bson!({ "$dateToString": { "date": "$d", "format": "$n" } }),
            &d
        ),
        Bson::Null
    );
    assert_eq!(
        value(
            bson!({ "$dateToString": { "date": "$d", "format": "%Y", "timezone": "$n" } }),
            &d
        ),
        Bson::Null
    );
    assert_eq!(
        value(
            bson!({ "$dateToString": { "date": "$d", "format": "$nope" } }),
            &d
        ),
        Bson::Null
    );
    assert_eq!(
        value(
            bson!({ "$dateToString": { "date": "$d", "timezone": "$nope" } }),
            &d
        ),
        Bson::Null
    );
    assert_missing(
        bson!({ "$dateToString": { "date": "$nope", "onNull": "$$REMOVE" } }),
        &d,
    );
    assert_error(
        bson!({ "$dateToString": { "date": "$d", "format": "%n" } }),
        &d,
        "BadValue",
        "%n",
    );
    assert_error(
        bson!({ "$dateToString": { "date": "$d", "format": "%" } }),
        &d,
        "BadValue",
        "%",
    );
    assert_error(
        bson!({ "$dateToString": { "date": "$d", "format": 5 } }),
        &d,
        "TypeMismatch",
        "format",
    );
    assert_error(
        bson!({ "$dateToString": { "date": 42, "format": "%Y" } }),
        &d,
        "TypeMismatch",
        "Date",
    );
    assert_error(
        bson!({ "$dateToString": { "format": "%Y" } }),
        &d,
        "FailedToParse",
        "date",
    );
}
