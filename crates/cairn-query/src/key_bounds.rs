//! Bounds on byte keys (index tuples, document keys): intersecting, testing and borrowing
//! them. Shared by the index and primary-key access paths and the executor.

use std::ops::Bound;

fn bound_key(b: &Bound<Vec<u8>>) -> Option<&Vec<u8>> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k),
        Bound::Unbounded => None,
    }
}

/// The tighter (higher) of two lower bounds.
pub(crate) fn tighter_lower(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (bound_key(&a), bound_key(&b)) {
        (Some(x), Some(y)) if x > y => a,
        (Some(x), Some(y)) if x == y && matches!(a, Bound::Excluded(_)) => a,
        (Some(_), Some(_)) => b,
        (Some(_), None) => a,
        _ => b,
    }
}

/// The tighter (lower) of two upper bounds.
pub(crate) fn tighter_upper(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (bound_key(&a), bound_key(&b)) {
        (Some(x), Some(y)) if x < y => a,
        (Some(x), Some(y)) if x == y && matches!(a, Bound::Excluded(_)) => a,
        (Some(_), Some(_)) => b,
        (Some(_), None) => a,
        _ => b,
    }
}

/// Borrows a bound's key.
pub(crate) fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Whether no key lies within the bounds (storage range scans refuse inverted bounds).
pub(crate) fn is_empty_range(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u)) => l >= u,
        _ => false,
    }
}

/// Whether `key` lies within the bounds.
pub(crate) fn within(key: &[u8], lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    let above = match lower {
        Bound::Included(l) => key >= l.as_slice(),
        Bound::Excluded(l) => key > l.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(u) => key <= u.as_slice(),
        Bound::Excluded(u) => key < u.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}
