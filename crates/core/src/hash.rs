//! The client's hasher: a multiply-rotate hash (FxHash's) for the state machine's maps.
//!
//! Kept here rather than taken from the `rustc-hash` crate: measured on the browser module,
//! rustc-hash 2.1's `FxBuildHasher` made the gzipped wasm 0.8 KB larger (its string hash and the
//! panic path of its `try_into().unwrap()`), rustc-hash 1.1 and rustc-hash 2's `FxHasher` fed
//! 8-byte words spread the similar IDs of the test below over too few buckets (1,046 and
//! 2,098 of 4,096). This one is 30 lines and passes it (> 2,500).

use std::hash::{BuildHasherDefault, Hasher};

/// The client's maps hash with a multiply-rotate hash (FxHash's), several times cheaper per
/// key than std's SipHash on the event path. What SipHash adds is resistance to chosen
/// collisions with random keys, and the browser (wasm32-unknown-unknown) gives std no
/// randomness: its keys there are fixed, so that resistance was not there to lose. The
/// authority (`hub`) keeps std's hasher.
pub type Fast = BuildHasherDefault<FxHasher>;

/// The hasher of [`Fast`].
#[derive(Default)]
pub struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The product's high bits depend on every input bit, its low bits only on the low
        // input bits; the table indexes by the low bits: bring the high ones down.
        self.0.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    /// IDs that differ only in their last characters (`bench-msg-1234`) must spread over the
    /// low bits, which pick the bucket.
    #[test]
    fn similar_ids_spread_over_buckets() {
        let b = Fast::default();
        let mut buckets = HashSet::new();
        for i in 0..4096 {
            buckets.insert(b.hash_one(format!("bench-msg-{i}")) & 4095);
        }
        assert!(
            buckets.len() > 2500,
            "{} distinct buckets of 4096",
            buckets.len()
        );
    }
}
