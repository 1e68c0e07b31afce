//! rmp-serde helpers: every Rust value that crosses a disk or a wire boundary
//! in this crate goes through here, so the format is chosen in one place
//! (MessagePack with field names, tolerant of added optional fields).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes a value as MessagePack with named fields.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec_named(value)
}

/// Decodes MessagePack written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}

/// Encodes for storage, mapping failures to `io::Error` as openraft's storage
/// traits require.
pub fn encode_io<T: Serialize + ?Sized>(value: &T) -> std::io::Result<Vec<u8>> {
    encode(value).map_err(std::io::Error::other)
}

/// Decodes stored bytes, mapping failures to `io::Error`.
pub fn decode_io<T: DeserializeOwned>(bytes: &[u8]) -> std::io::Result<T> {
    decode(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The length in bytes of the one MessagePack value at the front of
/// `bytes`, found by walking its markers without decoding anything.
///
/// A decoder reading from a slice borrows strings and binaries instead of
/// copying each into a buffer, but cannot say where it stopped; this tells
/// where a value ends so it can be decoded from exactly its own bytes.
/// Iterative (a count of values still to skip), so hostile nesting costs
/// no stack; every length is checked against what is there.
pub fn value_len(bytes: &[u8]) -> Result<usize, String> {
    let mut at = 0usize;
    let mut pending: u64 = 1;
    while pending > 0 {
        pending -= 1;
        let marker = *bytes
            .get(at)
            .ok_or_else(|| format!("a MessagePack value ends early at byte {at}"))?;
        at += 1;
        // (payload bytes after the marker and its length field, values inside)
        let (payload, inner): (u64, u64) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * u64::from(marker & 0x0f)),
            0x90..=0x9f => (0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => (u64::from(marker & 0x1f), 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xc4 | 0xd9 => (read_len(bytes, &mut at, 1)?, 0),
            0xc5 | 0xda => (read_len(bytes, &mut at, 2)?, 0),
            0xc6 | 0xdb => (read_len(bytes, &mut at, 4)?, 0),
            // ext 8/16/32: a length, a type byte, the data
            0xc7 => (read_len(bytes, &mut at, 1)? + 1, 0),
            0xc8 => (read_len(bytes, &mut at, 2)? + 1, 0),
            0xc9 => (read_len(bytes, &mut at, 4)? + 1, 0),
            0xdc => (0, read_len(bytes, &mut at, 2)?),
            0xdd => (0, read_len(bytes, &mut at, 4)?),
            0xde => (0, 2 * read_len(bytes, &mut at, 2)?),
            0xdf => (0, 2 * read_len(bytes, &mut at, 4)?),
            0xc1 => return Err(format!("byte {} is not a MessagePack marker", at - 1)),
        };
        let end = (at as u64)
            .checked_add(payload)
            .filter(|&end| end <= bytes.len() as u64)
            .ok_or_else(|| format!("a MessagePack value at byte {} runs past the end", at - 1))?;
        at = end as usize;
        // Each inner value takes at least one byte: more than are left
        // cannot be there (and would make the count overflow).
        if inner > (bytes.len() - at) as u64 {
            return Err(format!(
                "a MessagePack collection claims {inner} values in {} bytes",
                bytes.len() - at
            ));
        }
        pending += inner;
    }
    Ok(at)
}

/// Reads a big-endian length of `width` bytes at `at`.
fn read_len(bytes: &[u8], at: &mut usize, width: usize) -> Result<u64, String> {
    let field = bytes
        .get(*at..*at + width)
        .ok_or_else(|| format!("a MessagePack length at byte {at} ends early"))?;
    *at += width;
    Ok(field.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    struct Sample {
        name: String,
        #[serde(with = "lauradb_engine::wire::bytes")]
        blob: Vec<u8>,
        nested: Vec<Vec<Option<i64>>>,
        map: std::collections::BTreeMap<String, f64>,
        small: (u8, i8, u16, i16, u32, i32, u64, i64, f32, bool, ()),
    }

    fn sample(size: usize) -> Sample {
        Sample {
            name: "n".repeat(size),
            blob: vec![7u8; size * 3],
            nested: vec![vec![Some(-1), None, Some(1 << 40)]; size % 5],
            map: (0..size % 7)
                .map(|i| (i.to_string(), i as f64 / 3.0))
                .collect(),
            small: (
                255,
                -128,
                65535,
                -32768,
                u32::MAX,
                i32::MIN,
                u64::MAX,
                i64::MIN,
                1.5,
                true,
                (),
            ),
        }
    }

    #[test]
    fn value_len_finds_the_end_of_each_value_in_a_stream() {
        // Sizes that cross every length width: fix, 8, 16 and 32 bits.
        for size in [0, 1, 31, 32, 255, 256, 65_535, 65_536, 70_000] {
            let one = encode(&sample(size)).unwrap();
            let mut stream = one.clone();
            stream.extend(encode(&sample(size + 1)).unwrap());
            assert_eq!(value_len(&one), Ok(one.len()), "size {size}");
            assert_eq!(value_len(&stream), Ok(one.len()), "size {size}, followed");
        }
    }

    #[test]
    fn value_len_refuses_truncated_and_invalid_input_without_panicking() {
        let one = encode(&sample(300)).unwrap();
        for cut in 0..one.len() {
            assert!(value_len(&one[..cut]).is_err(), "cut at {cut}");
        }
        assert!(value_len(&[0xc1]).is_err(), "the unused marker");
        // An array claiming four billion elements in five bytes.
        assert!(value_len(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        // A deeply nested array is walked without recursion.
        let mut deep = vec![0x91u8; 1_000_000];
        deep.push(0xc0);
        assert_eq!(value_len(&deep), Ok(deep.len()));
    }
}
