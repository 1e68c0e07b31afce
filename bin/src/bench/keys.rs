//! Keys, values and the random numbers that pick them.
//!
//! Keys are 8 bytes: `k` and a zero-padded 7-digit number (`k0000123`), so
//! they sort like their numbers and at most [`MAX_KEYS`] of them exist.
//! Values are printable ASCII (letters and digits, so no JSON escaping)
//! sliced at a random offset out of one pre-generated pool: generating a
//! fresh value per request would cost the client more than it tells.
//! [`Rng`] is SplitMix64: tiny, fast, and good enough to choose keys
//! uniformly; each client has its own, seeded differently.

/// Length of every key in bytes.
pub const KEY_LEN: usize = 8;

/// Number of distinct 8-byte keys: `k0000000` ..= `k9999999`.
pub const MAX_KEYS: u64 = 10_000_000;

/// The key numbered `index` (taken modulo [`MAX_KEYS`]).
pub fn key(index: u64) -> String {
    format!("k{:07}", index % MAX_KEYS)
}

/// SplitMix64 pseudo-random numbers.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-and-shift; the bias is
    /// below 2^-40 for any `n` we use.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Slack beyond one value in the pool, so slices start at many offsets.
const POOL_SLACK: usize = 4096;

/// Printable values of one size.
#[derive(Debug, Clone)]
pub struct Values {
    pool: String,
    size: usize,
}

impl Values {
    pub fn new(size: usize, seed: u64) -> Values {
        let mut rng = Rng::new(seed);
        let pool = (0..size + POOL_SLACK)
            .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize] as char)
            .collect();
        Values { pool, size }
    }

    /// A value of exactly the configured size.
    pub fn pick(&self, rng: &mut Rng) -> &str {
        let start = rng.below(POOL_SLACK as u64 + 1) as usize;
        &self.pool[start..start + self.size]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_eight_bytes_and_sort_like_their_numbers() {
        assert_eq!(key(0), "k0000000");
        assert_eq!(key(123), "k0000123");
        assert_eq!(key(MAX_KEYS - 1), "k9999999");
        assert_eq!(key(MAX_KEYS), "k0000000");
        for i in [0, 7, 99, 12_345, 9_999_999] {
            assert_eq!(key(i).len(), KEY_LEN);
        }
        assert!(key(9) < key(10) && key(99) < key(100));
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::new(42);
        let mut seen = [0_u32; 10];
        for _ in 0..100_000 {
            let x = rng.below(10);
            assert!(x < 10);
            seen[x as usize] += 1;
        }
        // Uniform: each bucket near 10,000.
        for count in seen {
            assert!((9_000..11_000).contains(&count), "{seen:?}");
        }
    }

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let stream = |seed| {
            let mut rng = Rng::new(seed);
            (0..4).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(stream(1), stream(1));
        assert_ne!(stream(1), stream(2));
    }

    #[test]
    fn values_have_the_size_and_are_printable_without_escaping() {
        let values = Values::new(256, 7);
        let mut rng = Rng::new(3);
        for _ in 0..100 {
            let v = values.pick(&mut rng);
            assert_eq!(v.len(), 256);
            assert!(v.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert_eq!(Values::new(0, 1).pick(&mut rng), "");
    }
}
