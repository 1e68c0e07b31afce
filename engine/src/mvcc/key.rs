//! The byte layout of MVCC records in the [`Store`](crate::storage::Store).
//!
//! ```text
//!  version:  0x01 │ escape(user key) │ 0x00 0x00 │ !commit_ts (u64, big-endian)
//!            tag    0x00 → 0x00 0xff   terminator  inverted: newest sorts first
//!  value:    user value │ 0x01        or, for a tombstone, the single byte 0x00
//!  meta:     0x00 │ "latest_commit_ts"   →   commit_ts (u64, big-endian)
//! ```
//!
//! Escaping makes the encoded user key *prefix-free* and *order-preserving*:
//! no encoded key is a prefix of another, and `escape(a) < escape(b)` exactly
//! when `a < b`. A key that ends where another continues gets the terminator
//! `0x00 0x00`, which sorts below both a continuing `0x00` (now `0x00 0xff`)
//! and any other byte. So all versions of one user key are contiguous, in
//! descending timestamp order, and sorted by user key. Escaping is also a
//! concatenation homomorphism, so the user keys starting with `p` are exactly
//! the records starting with `0x01 │ escape(p)`.
//!
//! The bytes of a version key before the timestamp (tag, escaped key and
//! terminator) are called its *group*: equal groups mean the same user key.

use std::ops::Bound;

use crate::error::{Error, Result};
use crate::storage::{KeyRange, prefix_range};

/// The first byte of every version record.
const VERSION_TAG: u8 = 0x01;
/// The store key holding the latest commit timestamp.
pub(super) const LATEST_COMMIT_TS_KEY: &[u8] = b"\x00latest_commit_ts";
/// Appended to a live value.
const LIVE: u8 = 0x01;
/// The whole stored value of a tombstone.
const TOMBSTONE: u8 = 0x00;
/// Tag, terminator and timestamp: the bytes a version key adds to the escaped key.
const OVERHEAD: usize = 1 + 2 + 8;

/// Appends the group of `user_key` (tag, escaped key, terminator) to `buf`.
pub(super) fn encode_group(buf: &mut Vec<u8>, user_key: &[u8]) {
    buf.reserve(user_key.len() + OVERHEAD);
    buf.push(VERSION_TAG);
    escape_into(buf, user_key);
    buf.extend_from_slice(&[0x00, 0x00]);
}

/// Appends `bytes` with each 0x00 escaped as 0x00 0xff.
fn escape_into(buf: &mut Vec<u8>, bytes: &[u8]) {
    // Byte by byte: keys are short and full of zeros (a collection id is a
    // big-endian u64), which made splitting at each zero the slower way.
    buf.reserve(bytes.len() + bytes.len() / 2);
    for &byte in bytes {
        buf.push(byte);
        if byte == 0x00 {
            buf.push(0xff);
        }
    }
}

/// The 8 timestamp bytes of a version key: inverted, so newer sorts first.
pub(super) fn encode_ts(ts: u64) -> [u8; 8] {
    (!ts).to_be_bytes()
}

/// The full store key of `user_key` at `commit_ts`.
pub(super) fn version_key(user_key: &[u8], commit_ts: u64) -> Vec<u8> {
    let mut key = Vec::new();
    encode_group(&mut key, user_key);
    key.extend_from_slice(&encode_ts(commit_ts));
    key
}

/// Splits a version key into its group and commit timestamp.
pub(super) fn split_version_key(key: &[u8]) -> Result<(&[u8], u64)> {
    let valid = key.len() >= OVERHEAD
        && key[0] == VERSION_TAG
        && key[key.len() - 10..key.len() - 8] == [0x00, 0x00];
    if !valid {
        return Err(corrupt_key(key));
    }
    let (group, ts) = key.split_at(key.len() - 8);
    let ts: [u8; 8] = ts.try_into().map_err(|_| corrupt_key(key))?;
    Ok((group, !u64::from_be_bytes(ts)))
}

/// Decodes the user key from a group produced by [`encode_group`].
pub(super) fn decode_group(group: &[u8]) -> Result<Vec<u8>> {
    let escaped = group
        .strip_prefix(&[VERSION_TAG])
        .and_then(|g| g.strip_suffix(&[0x00, 0x00]))
        .ok_or_else(|| corrupt_key(group))?;
    let mut key = Vec::with_capacity(escaped.len());
    let mut bytes = escaped.iter();
    while let Some(&byte) = bytes.next() {
        key.push(byte);
        if byte == 0x00 && bytes.next() != Some(&0xff) {
            return Err(corrupt_key(group));
        }
    }
    Ok(key)
}

fn corrupt_key(key: &[u8]) -> Error {
    Error::Encoding(format!("corrupt MVCC version key {key:02x?}"))
}

/// The stored form of a write: the value followed by a live marker, or the
/// tombstone byte.
pub(super) fn encode_value(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        Some(value) => {
            let mut stored = Vec::with_capacity(value.len() + 1);
            stored.extend_from_slice(value);
            stored.push(LIVE);
            stored
        }
        None => vec![TOMBSTONE],
    }
}

/// Decodes a stored value in place: `None` for a tombstone.
pub(super) fn decode_value(mut stored: Vec<u8>) -> Result<Option<Vec<u8>>> {
    if live_value(&stored)?.is_none() {
        return Ok(None);
    }
    stored.pop();
    Ok(Some(stored))
}

/// The user value inside a stored value, borrowed: `None` for a tombstone.
pub(super) fn live_value(stored: &[u8]) -> Result<Option<&[u8]>> {
    match stored.split_last() {
        Some((&LIVE, value)) => Ok(Some(value)),
        Some((&TOMBSTONE, [])) => Ok(None),
        marker => Err(Error::Encoding(format!(
            "corrupt MVCC value: {} bytes ending {:02x?}",
            stored.len(),
            marker.map(|(last, _)| last)
        ))),
    }
}

/// True if a stored value is a tombstone (checked without decoding).
pub(super) fn is_tombstone(stored: &[u8]) -> bool {
    stored == [TOMBSTONE]
}

/// The store range holding every version of every user key in `range`.
pub(super) fn store_range(start: Bound<&[u8]>, end: Bound<&[u8]>) -> KeyRange {
    let group = |key: &[u8]| {
        let mut buf = Vec::new();
        encode_group(&mut buf, key);
        buf
    };
    // Past every version of `key`: its group followed by the oldest timestamp.
    let after_versions = |key: &[u8]| {
        let mut buf = group(key);
        buf.extend_from_slice(&encode_ts(0));
        buf
    };
    let start = match start {
        Bound::Included(key) => Bound::Included(group(key)),
        Bound::Excluded(key) => Bound::Excluded(after_versions(key)),
        Bound::Unbounded => Bound::Included(vec![VERSION_TAG]),
    };
    let end = match end {
        Bound::Included(key) => Bound::Included(after_versions(key)),
        Bound::Excluded(key) => Bound::Excluded(group(key)),
        Bound::Unbounded => Bound::Excluded(vec![VERSION_TAG + 1]),
    };
    (start, end)
}

/// The store range holding every version of one group (as
/// [`encode_group`] writes it), newest first.
pub(super) fn group_versions_range(group: &[u8]) -> KeyRange {
    let at = |ts: u64| {
        let mut buf = Vec::with_capacity(group.len() + 8);
        buf.extend_from_slice(group);
        buf.extend_from_slice(&encode_ts(ts));
        buf
    };
    (Bound::Included(at(u64::MAX)), Bound::Included(at(0)))
}

/// The store range holding every version of every user key starting with
/// `prefix`.
pub(super) fn store_prefix_range(prefix: &[u8]) -> KeyRange {
    let mut buf = Vec::with_capacity(prefix.len() + 1);
    buf.push(VERSION_TAG);
    escape_into(&mut buf, prefix);
    prefix_range(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::ops::RangeBounds;

    fn group(key: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_group(&mut buf, key);
        buf
    }

    #[test]
    fn the_layout_matches_the_diagram() {
        assert_eq!(
            version_key(b"a\x00b", 2),
            [
                &[0x01, b'a', 0x00, 0xff, b'b', 0x00, 0x00][..],
                &(!2u64).to_be_bytes()
            ]
            .concat()
        );
        assert_eq!(encode_value(Some(b"v")), b"v\x01");
        assert_eq!(encode_value(Some(b"")), b"\x01");
        assert_eq!(encode_value(None), b"\x00");
    }

    #[test]
    fn newer_versions_sort_first() {
        assert!(version_key(b"a", 9) < version_key(b"a", 2));
        assert!(version_key(b"a", 0) < version_key(b"a\x00", u64::MAX));
        assert!(version_key(b"a", 0) < version_key(b"b", u64::MAX));
    }

    #[test]
    fn values_and_tombstones_round_trip() {
        assert_eq!(
            decode_value(encode_value(Some(b"xyz"))).unwrap(),
            Some(b"xyz".to_vec())
        );
        assert_eq!(
            decode_value(encode_value(Some(b"\x00"))).unwrap(),
            Some(b"\x00".to_vec())
        );
        assert_eq!(decode_value(encode_value(None)).unwrap(), None);
        assert!(is_tombstone(&encode_value(None)));
        assert!(!is_tombstone(&encode_value(Some(b""))));
        assert!(decode_value(vec![]).is_err());
        assert!(decode_value(b"v\x07".to_vec()).is_err());
        assert!(decode_value(b"v\x00".to_vec()).is_err());
    }

    #[test]
    fn corrupt_keys_are_errors_not_panics() {
        assert!(split_version_key(b"").is_err());
        assert!(split_version_key(&[0x02; 11]).is_err());
        assert!(split_version_key(&[0x01, b'a', 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_group(&[0x01, 0x00, 0x01, 0x00, 0x00]).is_err());
        assert!(decode_group(&[0x01, b'a']).is_err());
    }

    proptest! {
        #[test]
        fn keys_round_trip(key in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xfe, 0xff]), 0..8), ts: u64) {
            let encoded = version_key(&key, ts);
            let (group, decoded_ts) = split_version_key(&encoded).unwrap();
            prop_assert_eq!(decoded_ts, ts);
            prop_assert_eq!(decode_group(group).unwrap(), key);
        }

        #[test]
        fn encoding_preserves_order_and_is_prefix_free(
            a in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xff]), 0..6),
            b in prop::collection::vec(prop::sample::select(vec![0u8, 1, 0xff]), 0..6),
        ) {
            prop_assert_eq!(group(&a).cmp(&group(&b)), a.cmp(&b));
            if a != b {
                prop_assert!(!group(&b).starts_with(&group(&a)));
            }
            // Prefix scans: `b` starts with `a` iff its group falls in a's prefix range.
            let (start, end) = store_prefix_range(&a);
            let g = group(&b);
            let inside = (start, end).contains(&g);
            prop_assert_eq!(inside, b.starts_with(&a));
        }
    }
}
