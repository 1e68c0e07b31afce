//! String operators: `$concat $toUpper $toLower $substrBytes $substrCP
//! $strLenBytes $strLenCP $split $trim $ltrim $rtrim $indexOfBytes
//! $indexOfCP $strcasecmp $regexMatch $replaceOne $replaceAll`.
//!
//! Case mapping is ASCII-only, as MongoDB's. "Bytes" operators count UTF-8
//! bytes and refuse to cut a character in half; "CP" operators count code
//! points. Operators that format other types (`$toUpper: 5`) convert
//! numbers and dates the way `$toString` does.

use bson::Bson;

use super::types::to_string_value;
use super::{Op, Value, is_nullish, type_of};
use crate::query::regex::Pattern;
use crate::{Error, Result};

pub(super) fn call(op: Op, args: &[Value]) -> Result<Value> {
    let value = match op {
        Op::Concat => {
            let mut out = String::new();
            for arg in args {
                match arg {
                    Some(Bson::String(s)) => out.push_str(s),
                    v if is_nullish(v) => return Ok(Some(Bson::Null)),
                    v => {
                        return Err(Error::TypeMismatch(format!(
                            "$concat only supports strings, not {}",
                            type_of(v)
                        )));
                    }
                }
            }
            Bson::String(out)
        }
        Op::ToUpper | Op::ToLower => {
            let s = coerced(op, &args[0])?;
            Bson::String(if op == Op::ToUpper {
                s.to_ascii_uppercase()
            } else {
                s.to_ascii_lowercase()
            })
        }
        Op::SubstrBytes => {
            let s = coerced(op, &args[0])?;
            let start = index(op, "starting index", &args[1])?;
            let len = signed(op, "length", &args[2])?;
            Bson::String(substr_bytes(&s, start, len)?)
        }
        Op::SubstrCP => {
            let s = coerced(op, &args[0])?;
            let start = index(op, "starting index", &args[1])?;
            let len = index(op, "length", &args[2])?;
            Bson::String(s.chars().skip(start).take(len).collect())
        }
        Op::StrLenBytes | Op::StrLenCP => match &args[0] {
            Some(Bson::String(s)) => {
                let n = if op == Op::StrLenBytes {
                    s.len()
                } else {
                    s.chars().count()
                };
                Bson::Int32(i32::try_from(n).unwrap_or(i32::MAX))
            }
            other => {
                return Err(Error::TypeMismatch(format!(
                    "{} requires a string argument, found: {}",
                    name(op),
                    type_of(other)
                )));
            }
        },
        Op::Split => {
            if is_nullish(&args[0]) || is_nullish(&args[1]) {
                return Ok(Some(Bson::Null));
            }
            let s = string(op, "string to split", &args[0])?;
            let sep = string(op, "separator", &args[1])?;
            if sep.is_empty() {
                return Err(Error::BadValue(
                    "$split requires a non-empty separator".into(),
                ));
            }
            Bson::Array(s.split(sep).map(|p| Bson::String(p.to_string())).collect())
        }
        Op::Trim | Op::LTrim | Op::RTrim => {
            if is_nullish(&args[0]) {
                return Ok(Some(Bson::Null));
            }
            let s = string(op, "input", &args[0])?;
            let chars: Option<Vec<char>> = match &args[1] {
                None => None,
                v if is_nullish(v) => return Ok(Some(Bson::Null)),
                v => Some(string(op, "chars", v)?.chars().collect()),
            };
            let strip = |c: char| match &chars {
                Some(set) => set.contains(&c),
                None => c.is_whitespace() || c == '\0',
            };
            Bson::String(
                match op {
                    Op::Trim => s.trim_matches(strip),
                    Op::LTrim => s.trim_start_matches(strip),
                    _ => s.trim_end_matches(strip),
                }
                .to_string(),
            )
        }
        Op::IndexOfBytes | Op::IndexOfCP => {
            if is_nullish(&args[0]) {
                return Ok(Some(Bson::Null));
            }
            let s = string(op, "string", &args[0])?;
            let needle = string(op, "substring", &args[1])?;
            let start = match args.get(2) {
                Some(v) => index(op, "starting index", v)?,
                None => 0,
            };
            let end = match args.get(3) {
                Some(v) => Some(index(op, "ending index", v)?),
                None => None,
            };
            Bson::Int32(index_of(op, s, needle, start, end))
        }
        Op::StrCaseCmp => {
            let a = coerced(op, &args[0])?.to_ascii_lowercase();
            let b = coerced(op, &args[1])?.to_ascii_lowercase();
            Bson::Int32(match a.cmp(&b) {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            })
        }
        Op::RegexMatch => {
            let input = match &args[0] {
                v if is_nullish(v) => return Ok(Some(Bson::Boolean(false))),
                Some(Bson::String(s)) => s,
                other => {
                    return Err(Error::TypeMismatch(format!(
                        "$regexMatch needs 'input' to be of type string, not {}",
                        type_of(other)
                    )));
                }
            };
            let options = match &args[2] {
                v if is_nullish(v) => String::new(),
                Some(Bson::String(o)) => o.clone(),
                other => {
                    return Err(Error::TypeMismatch(format!(
                        "$regexMatch needs 'options' to be of type string, not {}",
                        type_of(other)
                    )));
                }
            };
            let pattern = match &args[1] {
                Some(Bson::String(p)) => Pattern::new(p, &options)?,
                Some(Bson::RegularExpression(r)) => {
                    if !options.is_empty() && !r.options.is_empty() {
                        return Err(Error::BadValue(
                            "$regexMatch: options may be given in only one of 'regex' and \
                             'options'"
                                .into(),
                        ));
                    }
                    let opts = if options.is_empty() {
                        r.options.as_str()
                    } else {
                        options.as_str()
                    };
                    Pattern::new(r.pattern.as_str(), opts)?
                }
                v if is_nullish(v) => return Ok(Some(Bson::Boolean(false))),
                other => {
                    return Err(Error::TypeMismatch(format!(
                        "$regexMatch needs 'regex' to be of type string or regex, not {}",
                        type_of(other)
                    )));
                }
            };
            Bson::Boolean(pattern.is_match(input))
        }
        Op::ReplaceOne | Op::ReplaceAll => {
            // A wrong type is an error even when another argument is null.
            for (arg, what) in args.iter().zip(["input", "find", "replacement"]) {
                if !is_nullish(arg) {
                    string(op, what, arg)?;
                }
            }
            let (Some(Bson::String(input)), Some(Bson::String(find)), Some(Bson::String(with))) =
                (&args[0], &args[1], &args[2])
            else {
                return Ok(Some(Bson::Null));
            };
            // An empty `find` matches at every position, as in MongoDB.
            Bson::String(if op == Op::ReplaceOne {
                input.replacen(find.as_str(), with, 1)
            } else {
                input.replace(find.as_str(), with)
            })
        }
        _ => unreachable!("not a string operator: {op:?}"),
    };
    Ok(Some(value))
}

fn name(op: Op) -> &'static str {
    match op {
        Op::Concat => "$concat",
        Op::ToUpper => "$toUpper",
        Op::ToLower => "$toLower",
        Op::SubstrBytes => "$substrBytes",
        Op::SubstrCP => "$substrCP",
        Op::StrLenBytes => "$strLenBytes",
        Op::StrLenCP => "$strLenCP",
        Op::Split => "$split",
        Op::Trim => "$trim",
        Op::LTrim => "$ltrim",
        Op::RTrim => "$rtrim",
        Op::IndexOfBytes => "$indexOfBytes",
        Op::IndexOfCP => "$indexOfCP",
        Op::StrCaseCmp => "$strcasecmp",
        Op::RegexMatch => "$regexMatch",
        Op::ReplaceOne => "$replaceOne",
        Op::ReplaceAll => "$replaceAll",
        _ => "string operator",
    }
}

/// The argument as a string: null and missing are `""`, numbers and dates
/// are formatted.
fn coerced(op: Op, value: &Value) -> Result<String> {
    if is_nullish(value) {
        return Ok(String::new());
    }
    let v = value.as_ref().expect("not missing");
    match v {
        Bson::String(s) => Ok(s.clone()),
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::DateTime(_) => {
            Ok(to_string_value(v).unwrap_or_default())
        }
        other => Err(Error::TypeMismatch(format!(
            "{} can't convert from BSON type {} to String",
            name(op),
            crate::value::type_name(other)
        ))),
    }
}

fn string<'v>(op: Op, what: &str, value: &'v Value) -> Result<&'v str> {
    match value {
        Some(Bson::String(s)) => Ok(s),
        other => Err(Error::TypeMismatch(format!(
            "{} requires the {what} to be a string, not {}",
            name(op),
            type_of(other)
        ))),
    }
}

fn signed(op: Op, what: &str, value: &Value) -> Result<i64> {
    let n = value
        .as_ref()
        .and_then(crate::value::Number::from_bson)
        .ok_or_else(|| {
            Error::TypeMismatch(format!(
                "{} requires the {what} to be a number, not {}",
                name(op),
                type_of(value)
            ))
        })?;
    let f = n.as_f64();
    if f.fract() != 0.0 {
        return Err(Error::BadValue(format!(
            "{} requires the {what} to be a whole number, not {f}",
            name(op)
        )));
    }
    Ok(f as i64)
}

fn index(op: Op, what: &str, value: &Value) -> Result<usize> {
    let n = signed(op, what, value)?;
    usize::try_from(n).map_err(|_| {
        Error::BadValue(format!(
            "{} requires the {what} to be non-negative, not {n}",
            name(op)
        ))
    })
}

fn substr_bytes(s: &str, start: usize, len: i64) -> Result<String> {
    let start = start.min(s.len());
    let end = if len < 0 {
        s.len()
    } else {
        start
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(s.len())
    };
    match s.get(start..end) {
        Some(part) => Ok(part.to_string()),
        None => Err(Error::BadValue(
            "$substrBytes: invalid range, the start or end falls inside a UTF-8 character".into(),
        )),
    }
}

fn index_of(op: Op, s: &str, needle: &str, start: usize, end: Option<usize>) -> i32 {
    let found = if op == Op::IndexOfBytes {
        let end = end.unwrap_or(s.len()).min(s.len());
        if start > end {
            None
        } else if needle.is_empty() {
            Some(start)
        } else {
            s.as_bytes()[start..end]
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
                .map(|p| p + start)
        }
    } else {
        let chars: Vec<char> = s.chars().collect();
        let needle: Vec<char> = needle.chars().collect();
        let end = end.unwrap_or(chars.len()).min(chars.len());
        if start > end {
            None
        } else if needle.is_empty() {
            Some(start)
        } else {
            chars[start..end]
                .windows(needle.len())
                .position(|w| w == needle.as_slice())
                .map(|p| p + start)
        }
    };
    found.and_then(|p| i32::try_from(p).ok()).unwrap_or(-1)
}
