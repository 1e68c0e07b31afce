//! Key encoding: BSON values as byte strings whose byte order is MongoDB's
//! value order.
//!
//! The storage layer is an ordered map of byte strings, and every `_id` key
//! and index key is a BSON value. [`encode`] turns a value into bytes such that
//! for any two values `a` and `b`
//!
//! ```text
//! encode(a).cmp(&encode(b)) == value::compare(a, b)
//! ```
//!
//! so a range of values (`{_id: {$gte: 5, $lt: 9}}`, "all strings") is a range
//! of bytes, and equal values — `1`, `NumberLong(1)`, `1.0` — encode to the
//! same bytes, which is what makes `{_id: 1}` and `{_id: 1.0}` a duplicate
//! key. [`crate::value::compare`] is the reference; the property tests check
//! the encoding against it on arbitrary nested values.
//!
//! # Layout
//!
//! Every value is its canonical type byte (the bracket of
//! [`crate::value::canonical_type`]) followed by a *body*:
//!
//! ```text
//! type  value                  body
//! ────  ─────────────────────  ───────────────────────────────────────────────
//!  01   MinKey                 (none)
//!  02   undefined              (none)
//!  03   null                   (none)
//!  04   int32 int64 double     double key of r (8) [residual of x − r (2)]
//!       decimal128               r = nearest double; residual only if |r| ≥ 2^53
//!  05   string, symbol         escaped bytes, 00 00
//!  06   document               (type byte, escaped name, body)*, 00
//!  07   array                  (type byte, body)*, 00
//!  08   binary                 length u32 BE, subtype, bytes
//!  09   ObjectId               12 bytes
//!  0A   bool                   00 | 01
//!  0B   date                   millis i64 BE, sign bit flipped
//!  0C   timestamp              time u32 BE, increment u32 BE
//!  0D   regex                  escaped pattern 00 00, escaped options 00 00
//!  0E   DBPointer              escaped debug rendering 00 00 (as value::compare)
//!  0F   JavaScript             escaped code 00 00
//!  10   JavaScript with scope  escaped code 00 00, document body
//!  11   MaxKey                 (none)
//! ```
//!
//! *Escaped* bytes are the UTF-8 bytes with every `00` written as `00 FF`; the
//! `00 00` terminator then ends the string and sorts below any continuation,
//! so `"a" < "a\0" < "a\x01" < "b"`:
//!
//! ```text
//! "a"     61 00 00
//! "a\0"   61 00 FF 00 00
//! "a\x01" 61 01 00 00
//! ```
//!
//! # Numbers
//!
//! All four numeric types share one bracket and compare by exact value. A
//! double `d` maps to its IEEE bits with the sign bit flipped (positive) or all
//! bits inverted (negative), after turning `-0.0` into `0.0`; NaN maps to eight
//! zero bytes, below `-∞`. That orders every double. An int64 `x` that a double
//! cannot hold (|x| > 2^53) is written as its nearest double `r` followed by
//! the exact residual `x − r` (|x − r| ≤ 512, an i16 with the sign bit
//! flipped). Rounding is monotonic, so `r(x) < r(y)` implies `x < y`, and when
//! `r(x) == r(y)` the residuals decide. A double has residual 0. The residual
//! is present exactly when `|r| ≥ 2^53` — readable from the first 8 bytes — so
//! the body stays self-delimiting and small numbers take 9 bytes in all.
//! decimal128 is encoded through its nearest double, the same approximation
//! `value::compare` makes.
//!
//! # Why byte order is value order
//!
//! Every body is (1) order-preserving within its bracket and (2) prefix-free:
//! no body is a proper prefix of another body of the same bracket (fixed
//! widths, a length in front, or a terminator that cannot occur inside). Byte
//! strings built by concatenating prefix-free, order-preserving parts compare
//! like the tuples of their parts, so:
//!
//! * the type byte decides between brackets, as in `compare`;
//! * a document compares element by element — type byte, then name, then value,
//!   exactly `value::compare_documents` — and its `00` terminator sorts below
//!   every element's type byte (`01`…`11`), so a prefix document sorts first;
//!   arrays likewise;
//! * equal values have equal bodies (one canonical form per value), and unequal
//!   values differ at some byte.
//!
//! The same facts make compound index keys a plain concatenation of encoded
//! values, and a descending key component the bitwise complement of its bytes
//! (complementing reverses the order of prefix-free strings).
//!
//! Encoding never recurses: nested documents and arrays are walked with an
//! explicit stack, so arbitrarily deep input cannot overflow the thread stack.

use bson::{Bson, Document};

use crate::value::{Number, canonical_type};

#[cfg(test)]
pub(crate) mod arbitrary;
#[cfg(test)]
mod tests;

/// Ends a document or array body; below every canonical type byte.
const END: u8 = 0x00;
/// Ends an escaped string; `00` inside a string is written `00 FF`.
const STRING_END: [u8; 2] = [0x00, 0x00];
const ESCAPED_NUL: [u8; 2] = [0x00, 0xFF];
/// From this magnitude on, doubles are integers spaced ≥ 2 apart, so an int64
/// may differ from its nearest double and a residual follows.
const TWO_POW_53: f64 = 9_007_199_254_740_992.0;

/// Encodes `v` (type byte and body) and returns the bytes.
pub fn encode(v: &Bson) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    encode_value(v, &mut out);
    out
}

/// Appends the encoding of `v` (type byte and body) to `out`.
pub fn encode_value(v: &Bson, out: &mut Vec<u8>) {
    let mut open: Vec<Container<'_>> = Vec::new();
    out.push(canonical_type(v));
    encode_body(v, out, &mut open);
    while let Some(top) = open.last_mut() {
        match top.next() {
            Some((name, value)) => {
                out.push(canonical_type(value));
                if let Some(name) = name {
                    encode_str(name, out);
                }
                encode_body(value, out, &mut open);
            }
            None => {
                out.push(END);
                open.pop();
            }
        }
    }
}

/// The smallest byte string greater than every string that starts with
/// `key`; `None` if there is none (`key` is empty or all `FF`).
///
/// `[key, encode_prefix_successor(key))` is the range of all keys with the
/// prefix, e.g. every key of one collection, or every document `_id` under an
/// encoded `{a: 1, …` prefix.
pub fn encode_prefix_successor(key: &[u8]) -> Option<Vec<u8>> {
    let last = key.iter().rposition(|&b| b != 0xFF)?;
    let mut successor = key[..=last].to_vec();
    successor[last] += 1;
    Some(successor)
}

/// A document or array whose elements are still being written.
enum Container<'a> {
    Document(bson::document::Iter<'a>),
    Array(std::slice::Iter<'a, Bson>),
}

impl<'a> Container<'a> {
    /// The next element: its field name (documents only) and value.
    fn next(&mut self) -> Option<(Option<&'a str>, &'a Bson)> {
        match self {
            Container::Document(it) => it.next().map(|(k, v)| (Some(k.as_str()), v)),
            Container::Array(it) => it.next().map(|v| (None, v)),
        }
    }
}

/// Writes the body of `v`; for a document or array, opens it on `open` so the
/// caller's loop writes its elements and terminator.
fn encode_body<'a>(v: &'a Bson, out: &mut Vec<u8>, open: &mut Vec<Container<'a>>) {
    match v {
        Bson::MinKey | Bson::MaxKey | Bson::Null | Bson::Undefined => {}
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
            if let Some(n) = Number::from_bson(v) {
                encode_number(n, out);
            }
        }
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => encode_str(s, out),
        Bson::Document(d) => open_document(d, open),
        Bson::Array(a) => open.push(Container::Array(a.iter())),
        Bson::Binary(b) => {
            // BSON lengths are i32, so a storable binary always fits in u32.
            let len = u32::try_from(b.bytes.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.push(u8::from(b.subtype));
            out.extend_from_slice(&b.bytes);
        }
        Bson::ObjectId(oid) => out.extend_from_slice(&oid.bytes()),
        Bson::Boolean(b) => out.push(u8::from(*b)),
        Bson::DateTime(dt) => {
            out.extend_from_slice(&flip_sign(dt.timestamp_millis()).to_be_bytes())
        }
        Bson::Timestamp(ts) => {
            out.extend_from_slice(&ts.time.to_be_bytes());
            out.extend_from_slice(&ts.increment.to_be_bytes());
        }
        Bson::RegularExpression(re) => {
            encode_str(re.pattern.as_str(), out);
            encode_str(re.options.as_str(), out);
        }
        // value::compare orders DBPointers by their debug rendering
        // (namespace, then id); the type is deprecated and has no public
        // accessors in the bson crate.
        Bson::DbPointer(p) => encode_str(&format!("{p:?}"), out),
        Bson::JavaScriptCodeWithScope(cws) => {
            encode_str(&cws.code, out);
            open_document(&cws.scope, open);
        }
    }
}

fn open_document<'a>(d: &'a Document, open: &mut Vec<Container<'a>>) {
    open.push(Container::Document(d.iter()));
}

/// Writes `s` with `00` escaped as `00 FF`, then the `00 00` terminator.
fn encode_str(s: &str, out: &mut Vec<u8>) {
    let mut parts = s.as_bytes().split(|&b| b == 0);
    if let Some(first) = parts.next() {
        out.extend_from_slice(first);
    }
    for part in parts {
        out.extend_from_slice(&ESCAPED_NUL);
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&STRING_END);
}

/// Writes a number: the key of its nearest double, then (for magnitudes
/// ≥ 2^53) the exact residual.
fn encode_number(n: Number, out: &mut Vec<u8>) {
    let (nearest, residual) = match n {
        Number::Int(x) => {
            let r = x as f64; // round to nearest: monotonic in x
            // r is an integer in [-2^63, 2^63]: exact as i128.
            (r, i128::from(x) - r as i128)
        }
        Number::Float(f) => (f, 0),
    };
    out.extend_from_slice(&double_key(nearest).to_be_bytes());
    if nearest.abs() >= TWO_POW_53 {
        // |x − r| ≤ half the spacing of doubles below 2^63, i.e. ≤ 512.
        let residual = i16::try_from(residual).unwrap_or(0);
        out.extend_from_slice(&(residual as u16 ^ 0x8000).to_be_bytes());
    }
}

/// A u64 whose unsigned order is the numeric order of doubles: NaN lowest,
/// `-0.0 == 0.0`.
fn double_key(f: f64) -> u64 {
    if f.is_nan() {
        return 0;
    }
    let f = if f == 0.0 { 0.0 } else { f };
    let bits = f.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// An i64 as a u64 with the same order.
fn flip_sign(x: i64) -> u64 {
    (x as u64) ^ (1 << 63)
}
