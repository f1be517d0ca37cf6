//! Containing panics from the storage engine.
//!
//! redb verifies its page checksums only in `check_integrity`, not on normal reads, and a
//! damaged page can make its B-tree code index out of bounds and panic (seen at
//! `btree_base.rs:261` and `btree_iters.rs:35` after single-byte flips). A panic there is a
//! fact about the file, not a bug in the caller, so every redb call of this crate runs inside
//! [`contained`], which turns it into [`StorageError::Corrupted`]: the caller answers
//! "corrupted" for that one read and the process keeps running.
//!
//! Only redb's own work runs inside; the callbacks the layers above pass in (decoding a
//! record) run outside, so a bug of theirs still surfaces as the panic it is.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{Result, StorageError};

/// Runs `work` (redb calls), turning a panic into [`StorageError::Corrupted`].
///
/// `AssertUnwindSafe`: after a contained panic the store may refuse further work (redb can
/// leave a lock poisoned, which then panics — and is contained — again), but no Cairn state
/// is left half-updated: the closures only read, or write into a transaction that the error
/// makes the caller abort.
pub(crate) fn contained<T>(operation: &'static str, work: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(outcome) => outcome,
        Err(payload) => Err(StorageError::Corrupted {
            detail: format!(
                "the storage engine failed during {operation} ({}): a page of the data file is damaged",
                panic_message(&*payload)
            ),
        }),
    }
}

/// The text of a panic payload (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "panic"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_corruption_error() {
        let outcome: Result<()> = contained("a read", || panic!("index out of bounds"));
        match outcome {
            Err(StorageError::Corrupted { detail }) => {
                assert!(detail.contains("a read") && detail.contains("index out of bounds"))
            }
            other => panic!("expected Corrupted, got {other:?}"),
        }
        assert_eq!(contained("a read", || Ok(7)).ok(), Some(7));
    }
}
