//! Operand validation: turning the operand of one field operator into the
//! value its predicate uses, with MongoDB's checks and messages.
//!
//! ```text
//!  $in / $nin      array; no operator documents inside; regexes kept apart
//!  $type           alias, code or a non-empty list of them
//!  $mod            [divisor, remainder]: two numbers, truncated; divisor ≠ 0
//!  $size           a non-negative whole number
//!  $regex          string or regex, with $options (not both carrying flags)
//!  $bits*          bit positions, a non-negative bitmask, or BinData
//! ```

use bson::{Bson, Document};

use super::matcher::{BitTest, InList, Pred, TypeSet};
use super::parse::is_operator_document;
use super::regex::Pattern;
use crate::value::{Number, compare};
use crate::{Error, Result};

/// The operand of `$in`/`$nin`.
pub(super) fn parse_in(op: &str, operand: &Bson) -> Result<InList> {
    let Bson::Array(items) = operand else {
        return Err(Error::BadValue(format!("{op} needs an array")));
    };
    let mut list = InList {
        values: Vec::with_capacity(items.len()),
        has_null: false,
        patterns: Vec::new(),
    };
    for item in items {
        match item {
            Bson::Document(d) if is_operator_document(d, false) => {
                return Err(Error::BadValue(format!("cannot nest $ under {op}")));
            }
            Bson::RegularExpression(r) => {
                list.patterns
                    .push(Pattern::new(r.pattern.as_str(), r.options.as_str())?);
            }
            Bson::Undefined => {
                return Err(Error::BadValue(format!(
                    "{op} equality cannot be undefined"
                )));
            }
            other => {
                list.has_null |= matches!(other, Bson::Null);
                list.values.push(other.clone());
            }
        }
    }
    list.values.sort_by(compare);
    list.values.dedup_by(|a, b| compare(a, b).is_eq());
    Ok(list)
}

/// BSON's notion of truthiness (`$exists: 0` means "does not exist").
pub(super) fn true_value(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        _ => Number::from_bson(v).is_none_or(|n| n.as_f64() != 0.0),
    }
}

/// The `$type` aliases MongoDB accepts, with their type codes.
const TYPE_ALIASES: &[(&str, i64)] = &[
    ("double", 1),
    ("string", 2),
    ("object", 3),
    ("array", 4),
    ("binData", 5),
    ("undefined", 6),
    ("objectId", 7),
    ("bool", 8),
    ("date", 9),
    ("null", 10),
    ("regex", 11),
    ("dbPointer", 12),
    ("javascript", 13),
    ("symbol", 14),
    ("javascriptWithScope", 15),
    ("int", 16),
    ("timestamp", 17),
    ("long", 18),
    ("decimal", 19),
    ("minKey", -1),
    ("maxKey", 127),
];

pub(super) fn parse_type(name: &str, operand: &Bson) -> Result<TypeSet> {
    let mut bits = 0u32;
    match operand {
        Bson::Array(items) => {
            for item in items {
                bits |= type_bits(item)?;
            }
            if bits == 0 {
                return Err(Error::FailedToParse(format!(
                    "{name} must match at least one type"
                )));
            }
        }
        other => bits = type_bits(other)?,
    }
    Ok(TypeSet(bits))
}

fn type_bits(v: &Bson) -> Result<u32> {
    if let Bson::String(alias) = v {
        if alias == "number" {
            return Ok((1 << 1) | (1 << 16) | (1 << 18) | (1 << 19));
        }
        return TYPE_ALIASES
            .iter()
            .find(|(a, _)| a == alias)
            .and_then(|(_, code)| TypeSet::bit_of_code(*code))
            .map(|bit| 1 << bit)
            .ok_or_else(|| Error::BadValue(format!("Unknown type name alias: {alias}")));
    }
    if Number::from_bson(v).is_some() {
        return integer_operand(v)
            .and_then(TypeSet::bit_of_code)
            .map(|bit| 1 << bit)
            .ok_or_else(|| {
                Error::BadValue(format!("Invalid numerical type code: {}", display(v)))
            });
    }
    Err(Error::TypeMismatch(
        "type must be represented as a number or a string".into(),
    ))
}

/// A number operand with an exact integral value (`2`, `2.0`, `NumberLong(2)`).
pub(super) fn integer_operand(v: &Bson) -> Option<i64> {
    match Number::from_bson(v)? {
        Number::Int(i) => Some(i),
        Number::Float(f) => {
            let fits = f.is_finite() && f.trunc() == f && f.abs() < 9.2e18;
            fits.then_some(f as i64)
        }
    }
}

pub(super) fn parse_mod(operand: &Bson) -> Result<Pred> {
    let Bson::Array(items) = operand else {
        return Err(Error::BadValue(
            "malformed mod, needs to be an array".into(),
        ));
    };
    if items.len() < 2 {
        return Err(Error::BadValue("malformed mod, not enough elements".into()));
    }
    if items.len() > 2 {
        return Err(Error::BadValue("malformed mod, too many elements".into()));
    }
    let divisor = mod_argument(&items[0], "divisor")?;
    let remainder = mod_argument(&items[1], "remainder")?;
    if divisor == 0 {
        return Err(Error::BadValue("divisor cannot be 0".into()));
    }
    Ok(Pred::Mod { divisor, remainder })
}

/// A `$mod` argument: a number, truncated toward zero to a 64-bit integer.
fn mod_argument(v: &Bson, what: &str) -> Result<i64> {
    match Number::from_bson(v) {
        None => Err(Error::BadValue(format!(
            "malformed mod, {what} not a number"
        ))),
        Some(Number::Int(i)) => Ok(i),
        Some(Number::Float(f)) => {
            const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
            if f.is_finite() && f.trunc() >= -TWO_POW_63 && f.trunc() < TWO_POW_63 {
                Ok(f.trunc() as i64)
            } else {
                Err(Error::BadValue(format!(
                    "malformed mod, {what} value is invalid :: caused by :: \
                     Out of bounds coercing to integral value: {}",
                    display(v)
                )))
            }
        }
    }
}

pub(super) fn parse_size(operand: &Bson) -> Result<usize> {
    let size = match operand {
        Bson::Int32(i) => i64::from(*i),
        Bson::Int64(i) => {
            if i32::try_from(*i).is_err() {
                return Err(Error::BadValue(
                    "$size must be representable as a 32-bit integer".into(),
                ));
            }
            *i
        }
        Bson::Double(_) | Bson::Decimal128(_) => match integer_operand(operand) {
            Some(i) if i32::try_from(i).is_ok() => i,
            _ => return Err(Error::BadValue("$size must be a whole number".into())),
        },
        _ => return Err(Error::BadValue("$size needs a number".into())),
    };
    usize::try_from(size).map_err(|_| Error::BadValue("$size may not be negative".into()))
}

/// `{$regex: …, $options: …}` (the whole operator document is the context,
/// since `$options` may come before or after `$regex`).
pub(super) fn parse_regex_document(context: &Document) -> Result<Pattern> {
    let mut source = "";
    let mut options = "";
    for (key, value) in context {
        match key.as_str() {
            "$regex" => match value {
                Bson::String(s) => source = s,
                Bson::RegularExpression(r) => {
                    source = r.pattern.as_str();
                    if !r.options.as_str().is_empty() {
                        if !options.is_empty() {
                            return Err(Error::BadValue(
                                "options set in both $regex and $options".into(),
                            ));
                        }
                        options = r.options.as_str();
                    }
                }
                _ => return Err(Error::BadValue("$regex has to be a string".into())),
            },
            "$options" => {
                let Bson::String(s) = value else {
                    return Err(Error::BadValue("$options has to be a string".into()));
                };
                if !options.is_empty() {
                    return Err(Error::BadValue(
                        "options set in both $regex and $options".into(),
                    ));
                }
                options = s;
            }
            _ => {}
        }
    }
    Pattern::new(source, options)
}

pub(super) fn parse_bits(op: &str, operand: &Bson) -> Result<BitTest> {
    let (set, all) = match op {
        "$bitsAllSet" => (true, true),
        "$bitsAnySet" => (true, false),
        "$bitsAllClear" => (false, true),
        _ => (false, false),
    };
    let positions = match operand {
        Bson::Array(items) => items
            .iter()
            .map(|item| {
                let Some(n) = integer_operand(item) else {
                    return Err(Error::BadValue(format!(
                        "bit positions must be an integer but got: {}",
                        display(item)
                    )));
                };
                u32::try_from(n)
                    .ok()
                    .filter(|n| i32::try_from(*n).is_ok())
                    .ok_or_else(|| {
                        Error::BadValue(format!(
                            "bit positions must be >= 0 but got: {}",
                            display(item)
                        ))
                    })
            })
            .collect::<Result<Vec<u32>>>()?,
        Bson::Binary(b) => (0..b.bytes.len() * 8)
            .filter(|&bit| b.bytes[bit / 8] & (1 << (bit % 8)) != 0)
            .map(|bit| bit as u32)
            .collect(),
        v if Number::from_bson(v).is_some() => {
            let Some(mask) = integer_operand(v).filter(|m| *m >= 0) else {
                return Err(Error::FailedToParse(format!(
                    "{op} expects a non-negative integer bitmask, got: {}",
                    display(v)
                )));
            };
            (0..63).filter(|bit| mask & (1 << bit) != 0).collect()
        }
        other => {
            return Err(Error::BadValue(format!(
                "{op} takes an Array, a number, or a BinData but received: {}",
                display(other)
            )));
        }
    };
    Ok(BitTest {
        positions,
        set,
        all,
    })
}

/// A value as it appears in messages.
pub(super) fn display(v: &Bson) -> String {
    v.to_string()
}

#[cfg(test)]
mod tests {
    use bson::{Bson, doc};

    use super::super::parse::parse_filter;
    use crate::Error;

    fn err(filter: bson::Document) -> Error {
        parse_filter(&filter).expect_err("filter must be rejected")
    }

    #[test]
    fn operand_validation() {
        let bad = [
            doc! {"a": {"$in": 1}},
            doc! {"a": {"$nin": "x"}},
            doc! {"a": {"$in": [{"$gt": 1}]}},
            doc! {"a": {"$size": -1}},
            doc! {"a": {"$size": 1.5}},
            doc! {"a": {"$size": "1"}},
            doc! {"a": {"$type": "foo"}},
            doc! {"a": {"$type": 99}},
            doc! {"a": {"$type": []}},
            doc! {"a": {"$type": true}},
            doc! {"a": {"$all": 1}},
            doc! {"a": {"$all": [{"$gt": 1}]}},
            doc! {"a": {"$all": [{"$elemMatch": {"b": 1}}, 1]}},
            doc! {"a": {"$elemMatch": 1}},
            doc! {"a": {"$mod": 2}},
            doc! {"a": {"$mod": [2]}},
            doc! {"a": {"$mod": [2, 1, 0]}},
            doc! {"a": {"$mod": [0, 1]}},
            doc! {"a": {"$mod": ["2", 1]}},
            doc! {"a": {"$mod": [f64::NAN, 1]}},
            doc! {"a": {"$regex": 1}},
            doc! {"a": {"$options": "i"}},
            doc! {"a": {"$regex": "a", "$options": 1}},
            doc! {"a": {"$gt": bson::Regex { pattern: "a".try_into().unwrap(), options: "".try_into().unwrap() }}},
            doc! {"a": {"$ne": bson::Regex { pattern: "a".try_into().unwrap(), options: "".try_into().unwrap() }}},
            doc! {"a": {"$eq": Bson::Undefined}},
            doc! {"a": {"$bitsAllSet": -1}},
            doc! {"a": {"$bitsAllSet": [-1]}},
            doc! {"a": {"$bitsAllSet": "x"}},
            doc! {"$alwaysTrue": 2},
        ];
        for filter in bad {
            assert!(parse_filter(&filter).is_err(), "{filter} must be rejected");
        }
    }

    #[test]
    fn bad_regex_names_the_pattern() {
        match err(doc! {"a": {"$regex": "("}}) {
            Error::BadRegex(m) => assert!(m.contains("/(/"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn regex_options_in_both_places() {
        let re = bson::Regex {
            pattern: "a".try_into().unwrap(),
            options: "i".try_into().unwrap(),
        };
        let e = err(doc! {"a": {"$regex": re.clone(), "$options": "m"}});
        assert!(matches!(e, Error::BadValue(m) if m.contains("options set in both")));
        let plain = bson::Regex {
            pattern: "a".try_into().unwrap(),
            options: "".try_into().unwrap(),
        };
        assert!(parse_filter(&doc! {"a": {"$regex": plain, "$options": "i"}}).is_ok());
        assert!(parse_filter(&doc! {"a": {"$options": "i", "$regex": "a"}}).is_ok());
    }

    #[test]
    fn accepted_operands() {
        let good = [
            doc! {},
            doc! {"$comment": "hi", "a": 1},
            doc! {"a": {"$exists": "yes"}},
            doc! {"a": {"$size": 2.0}},
            doc! {"a": {"$size": 2_i64}},
            doc! {"a": {"$type": ["string", 16, 1.0]}},
            doc! {"a": {"$type": "number"}},
            doc! {"a": {"$mod": [2.9, -1.5]}},
            doc! {"a": {"$all": []}},
            doc! {"a": {"$all": [{"$foo": 1}]}},
            doc! {"a": {"$elemMatch": {}}},
            doc! {"a": {"$ref": "c", "$id": 1}},
            doc! {"a": {"$in": [{"$ref": "c", "$id": 1}]}},
            doc! {"$alwaysFalse": 1},
            doc! {"a": {"$bitsAnySet": [0, 5]}},
        ];
        for filter in good {
            assert!(parse_filter(&filter).is_ok(), "{filter} must parse");
        }
    }
}
