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
