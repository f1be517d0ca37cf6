//! A process-wide generator of time-ordered UUIDv7 ids (RFC 9562, method 3: a counter in the
//! random bits).
//!
//! `uuid::Uuid::now_v7` takes a lock *and* asks the OS for fresh random bytes on every call,
//! which cost more than the rest of an insert. This generator asks the OS for randomness once,
//! then, per millisecond, starts the 74 bits after the timestamp at a pseudo-random value with
//! headroom and counts up within that millisecond. Ids are therefore strictly increasing within
//! the process (so inserts append to the B-tree) and unpredictable across milliseconds.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Bits after the 48-bit timestamp that the generator controls (12 of `rand_a`, 62 of `rand_b`).
const TAIL_BITS: u32 = 74;
/// A fresh millisecond starts its counter below this, leaving 2^73 increments of headroom.
const TAIL_START_MASK: u128 = (1 << (TAIL_BITS - 1)) - 1;
const TAIL_MASK: u128 = (1 << TAIL_BITS) - 1;

struct State {
    millis: u64,
    tail: u128,
    rng: u64,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// The next id: greater than every id this process generated before.
pub(super) fn next() -> uuid::Uuid {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    // A poisoned lock only means another thread panicked mid-update; the state is still a
    // valid (millis, tail) pair, so keep using it.
    let mut guard = STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let state = guard.get_or_insert_with(|| State {
        millis: 0,
        tail: 0,
        rng: seed(),
    });
    if now > state.millis {
        state.millis = now;
        state.tail =
            u128::from(splitmix(&mut state.rng)) << 64 | u128::from(splitmix(&mut state.rng));
        state.tail &= TAIL_START_MASK;
    } else {
        // Same millisecond (or the clock stepped back): count up; on overflow borrow the next
        // millisecond rather than repeat or go backwards.
        state.tail += 1;
        if state.tail > TAIL_MASK {
            state.millis += 1;
            state.tail = 0;
        }
    }
    build(state.millis, state.tail)
}

fn build(millis: u64, tail: u128) -> uuid::Uuid {
    let rand_a = (tail >> 62) & 0xfff;
    let rand_b = tail & ((1 << 62) - 1);
    let value = (u128::from(millis) & ((1 << 48) - 1)) << 80
        | 0x7 << 76
        | rand_a << 64
        | 0b10 << 62
        | rand_b;
    uuid::Uuid::from_u128(value)
}

fn seed() -> u64 {
    // One OS-random v4 id seeds the generator for the life of the process.
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// splitmix64: a fast, well-mixed sequence; only used to pick each millisecond's start.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_rfc_variant_and_carry_the_time() {
        let id = next();
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        let (secs, _) = id.get_timestamp().map(|t| t.to_unix()).unwrap_or((0, 0));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        assert!(now.abs_diff(secs) <= 1, "{secs} vs {now}");
    }

    #[test]
    fn overflowing_the_counter_moves_to_the_next_millisecond() {
        let last = build(5, TAIL_MASK);
        let after = build(6, 0);
        assert!(after > last);
    }

    #[test]
    fn ids_strictly_increase_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..20_000).map(|_| next()).collect::<Vec<_>>()))
            .collect();
        let mut all = Vec::new();
        for handle in handles {
            let ids = handle.join().unwrap_or_default();
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
            all.extend(ids);
        }
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count);
    }
}
