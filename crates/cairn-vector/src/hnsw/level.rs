//! The level of a node, drawn from the exponential distribution HNSW prescribes, but
//! *derived from the document key* instead of a random generator: the same document always
//! lands on the same layers, so an update keeps its place, a restore that replays the change
//! log rebuilds the same graph, and tests reproduce.

use crate::limits::MAX_LEVEL;

/// `⌊−ln(u) / ln(m)⌋` for a `u` in `(0, 1]` hashed from the key, capped at [`MAX_LEVEL`].
pub(crate) fn level_for(key: &[u8], m: usize) -> u8 {
    let u = (1.0 + (hash(key) >> 11) as f64) / (1u64 << 53) as f64;
    let level = (-u.ln() / (m.max(2) as f64).ln()).floor();
    if level >= MAX_LEVEL as f64 {
        MAX_LEVEL
    } else {
        level as u8
    }
}

/// FNV-1a over the key, finished with splitmix64's mixer so nearby keys spread evenly.
/// Fixed, not seeded: the level must be the same in every process.
fn hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key {
        h = (h ^ *byte as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_hnsw_distribution() {
        // P(level ≥ 1) = 1/m: about 625 of 10,000 keys at m = 16.
        let above: usize = (0..10_000u32)
            .filter(|i| level_for(&i.to_be_bytes(), 16) >= 1)
            .count();
        assert!((450..800).contains(&above), "{above} keys above layer 0");
        assert_eq!(level_for(b"same", 16), level_for(b"same", 16));
    }
}
