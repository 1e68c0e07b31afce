//! Date parts and formatting: `$year $month $dayOfMonth $hour $minute
//! $second $millisecond $dayOfWeek $dayOfYear $dateToString`.
//!
//! Dates are milliseconds since the Unix epoch (proleptic Gregorian
//! calendar). Time zones are UTC or fixed offsets (`"+05:30"`, `"-0800"`);
//! Olson names (`"Europe/Paris"`) need a time-zone database this engine does
//! not carry and are refused by name. The operand may be a date, a
//! timestamp, an ObjectId (its creation time), or `{date, timezone}`; a
//! null or missing date, or a time zone that is written but null or
//! missing, gives null.

use bson::Bson;

use super::{Op, Value, is_nullish, type_of};
use crate::{Error, Result};

const MS_PER_DAY: i64 = 86_400_000;

/// A moment broken into calendar parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millisecond: u32,
    /// 1 = Sunday … 7 = Saturday (MongoDB's `$dayOfWeek`).
    pub weekday: u32,
    /// 1 … 366.
    pub day_of_year: u32,
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn civil(ms: i64) -> Civil {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let start_of_year = days_from_civil(year, 1, 1);
    Civil {
        year,
        month,
        day,
        hour: (in_day / 3_600_000) as u32,
        minute: (in_day / 60_000 % 60) as u32,
        second: (in_day / 1000 % 60) as u32,
        millisecond: (in_day % 1000) as u32,
        // 1970-01-01 was a Thursday (5 in 1 = Sunday numbering).
        weekday: ((days + 4).rem_euclid(7) + 1) as u32,
        day_of_year: (days - start_of_year + 1) as u32,
    }
}

/// `2021-03-04T05:06:07.000Z`.
pub(crate) fn format_iso(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millisecond
    )
}

/// Parses `YYYY-MM-DD`, optionally followed by `THH:MM[:SS[.fff]]` and `Z`
/// or an offset (`+HH:MM`); the date alone means midnight UTC.
pub(crate) fn parse_iso(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = text.get(from..from + len)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0, 4)?, num(5, 2)? as u32, num(8, 2)? as u32);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * MS_PER_DAY;
    let mut rest = &text[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    if !(rest.starts_with('T') || rest.starts_with(' ')) || rest.len() < 6 {
        return None;
    }
    let time = &rest[1..];
    let tn = |from: usize| -> Option<i64> {
        let part = time.get(from..from + 2)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (h, min) = (tn(0)?, tn(3)?);
    if time.as_bytes().get(2) != Some(&b':') || h > 23 || min > 59 {
        return None;
    }
    ms += h * 3_600_000 + min * 60_000;
    rest = &time[5..];
    if let Some(after) = rest.strip_prefix(':') {
        let s = after.get(..2)?.parse::<i64>().ok().filter(|s| *s <= 59)?;
        ms += s * 1000;
        rest = &after[2..];
        if let Some(frac) = rest.strip_prefix('.') {
            let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() {
                return None;
            }
            let padded = format!("{digits:0<3}");
            ms += padded[..3].parse::<i64>().ok()?;
            rest = &frac[digits.len()..];
        }
    }
    match rest {
        "" | "Z" => Some(ms),
        offset => Some(ms - offset_minutes(offset)? * 60_000),
    }
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// `+HH:MM`, `+HHMM`, `+HH` (or `-`) → minutes east of UTC.
fn offset_minutes(text: &str) -> Option<i64> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i64>().ok()?, 0),
        4 => (
            digits[..2].parse::<i64>().ok()?,
            digits[2..].parse::<i64>().ok()?,
        ),
        _ => return None,
    };
    (h <= 23 && m <= 59).then_some(sign * (h * 60 + m))
}

/// A time zone argument → minutes east of UTC.
fn timezone(value: &Value) -> Result<i64> {
    match value {
        None => Ok(0),
        Some(Bson::String(tz)) => match tz.as_str() {
            "UTC" | "GMT" | "Z" | "Etc/UTC" | "Etc/GMT" => Ok(0),
            other => offset_minutes(other).ok_or_else(|| {
                Error::NotSupported(format!(
                    "time zone '{other}': only UTC and fixed offsets such as '+05:30' are \
                     supported (no time-zone database)"
                ))
            }),
        },
        other => Err(Error::TypeMismatch(format!(
            "timezone must be a string, not {}",
            type_of(other)
        ))),
    }
}

/// The milliseconds of a date-like operand.
fn millis(op_name: &str, value: &Bson) -> Result<i64> {
    match value {
        Bson::DateTime(d) => Ok(d.timestamp_millis()),
        Bson::Timestamp(t) => Ok(i64::from(t.time) * 1000),
        Bson::ObjectId(o) => Ok(o.timestamp().timestamp_millis()),
        other => Err(Error::TypeMismatch(format!(
            "{op_name} can't convert from BSON type {} to Date",
            crate::value::type_name(other)
        ))),
    }
}

/// A date moved by a time-zone offset, refusing dates at the edge of the range.
fn shifted(ms: i64, offset_minutes: i64) -> Result<i64> {
    offset_minutes
        .checked_mul(60_000)
        .and_then(|shift| ms.checked_add(shift))
        .ok_or_else(|| Error::BadValue(format!("date {ms} ms is out of range for this time zone")))
}

fn name(op: Op) -> &'static str {
    match op {
        Op::Year => "$year",
        Op::Month => "$month",
        Op::DayOfMonth => "$dayOfMonth",
        Op::Hour => "$hour",
        Op::Minute => "$minute",
        Op::Second => "$second",
        Op::Millisecond => "$millisecond",
        Op::DayOfWeek => "$dayOfWeek",
        Op::DayOfYear => "$dayOfYear",
        _ => "$dateToString",
    }
}

/// `given[i]`: whether optional argument `i` was written (a time zone or
/// format that was written but evaluates to null or missing makes the
/// result null, as in MongoDB).
pub(super) fn call(op: Op, args: &[Value], given: &[bool]) -> Result<Value> {
    if op == Op::DateToString {
        return date_to_string(args, given);
    }
    // The parser gives `[date, timezone]` (`{date, timezone}` or one date).
    let (date, tz) = (&args[0], &args[1]);
    if is_nullish(date) || (given[1] && is_nullish(tz)) {
        return Ok(Some(Bson::Null));
    }
    let ms = shifted(
        millis(name(op), date.as_ref().expect("not missing"))?,
        timezone(tz)?,
    )?;
    let c = civil(ms);
    let part = match op {
        Op::Year => c.year,
        Op::Month => i64::from(c.month),
        Op::DayOfMonth => i64::from(c.day),
        Op::Hour => i64::from(c.hour),
        Op::Minute => i64::from(c.minute),
        Op::Second => i64::from(c.second),
        Op::Millisecond => i64::from(c.millisecond),
        Op::DayOfWeek => i64::from(c.weekday),
        Op::DayOfYear => i64::from(c.day_of_year),
        _ => unreachable!("not a date operator: {op:?}"),
    };
    Ok(Some(Bson::Int32(i32::try_from(part).unwrap_or(i32::MAX))))
}

/// `$dateToString {date, format, timezone, onNull}`.
fn date_to_string(args: &[Value], given: &[bool]) -> Result<Value> {
    let (date, format, tz, on_null) = (&args[0], &args[1], &args[2], &args[3]);
    if is_nullish(date) {
        // onNull as evaluated (missing stays missing).
        return Ok(if given[3] {
            on_null.clone()
        } else {
            Some(Bson::Null)
        });
    }
    // A null or missing format or time zone gives null, as in MongoDB.
    if (given[1] && is_nullish(format)) || (given[2] && is_nullish(tz)) {
        return Ok(Some(Bson::Null));
    }
    let offset = timezone(tz)?;
    let ms = shifted(
        millis("$dateToString", date.as_ref().expect("not missing"))?,
        offset,
    )?;
    let format = match format {
        None => "%Y-%m-%dT%H:%M:%S.%LZ",
        Some(Bson::String(f)) => f.as_str(),
        other => {
            return Err(Error::TypeMismatch(format!(
                "$dateToString requires that 'format' be a string, found: {}",
                type_of(other)
            )));
        }
    };
    let c = civil(ms);
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        let spec = chars.next().ok_or_else(|| {
            Error::BadValue("$dateToString: unmatched '%' at the end of the format".into())
        })?;
        match spec {
            'Y' => out.push_str(&format!("{:04}", c.year)),
            'm' => out.push_str(&format!("{:02}", c.month)),
            'd' => out.push_str(&format!("{:02}", c.day)),
            'H' => out.push_str(&format!("{:02}", c.hour)),
            'M' => out.push_str(&format!("{:02}", c.minute)),
            'S' => out.push_str(&format!("{:02}", c.second)),
            'L' => out.push_str(&format!("{:03}", c.millisecond)),
            'j' => out.push_str(&format!("{:03}", c.day_of_year)),
            'w' => out.push_str(&c.weekday.to_string()),
            'u' => out.push_str(&(if c.weekday == 1 { 7 } else { c.weekday - 1 }).to_string()),
            'z' => {
                let sign = if offset < 0 { '-' } else { '+' };
                out.push_str(&format!(
                    "{sign}{:02}{:02}",
                    offset.abs() / 60,
                    offset.abs() % 60
                ));
            }
            'Z' => out.push_str(&offset.to_string()),
            '%' => out.push('%'),
            other => {
                return Err(Error::BadValue(format!(
                    "$dateToString: invalid format character '%{other}'"
                )));
            }
        }
    }
    Ok(Some(Bson::String(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_and_knows_weekdays() {
        for days in [-800_000_i64, -1, 0, 1, 59, 365, 11_016, 18_690, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        let c = civil(1_614_834_367_000); // 2021-03-04T05:06:07Z, a Thursday
        assert_eq!((c.year, c.month, c.day), (2021, 3, 4));
        assert_eq!((c.hour, c.minute, c.second), (5, 6, 7));
        assert_eq!(c.weekday, 5);
        assert_eq!(c.day_of_year, 63);
        assert_eq!(format_iso(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn iso_dates_parse() {
        assert_eq!(parse_iso("2021-03-04T05:06:07Z"), Some(1_614_834_367_000));
        assert_eq!(parse_iso("2021-03-04T05:06:07.5Z"), Some(1_614_834_367_500));
        assert_eq!(
            parse_iso("2021-03-04T06:06:07+01:00"),
            Some(1_614_834_367_000)
        );
        assert_eq!(parse_iso("1970-01-01"), Some(0));
        assert_eq!(parse_iso("2021-02-29"), None);
        assert_eq!(parse_iso("yesterday"), None);
    }
}
