//! Stopping queries whose caller no longer waits for them.
//!
//! A server runs a query for a request; when the request goes away (its client disconnected,
//! or it was answered 408), the query's work is wasted and holds a thread other requests wait
//! for. The time budget already stops it at the request's deadline; a cancellation flag stops
//! it as soon as the caller leaves. The flag is scoped to the thread running the work
//! ([`scope`]) rather than passed through every call, so every query, count and pipeline run
//! inside the scope sees it, at the same points where it checks its time budget (every
//! [`crate::limits::BUDGET_CHECK_INTERVAL`] documents), at no cost per document.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::{QueryError, Result};

thread_local! {
    static CURRENT: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Runs `work` with `flag` as the cancellation flag of the queries it runs on this thread:
/// once the flag is set, they fail with [`QueryError::Cancelled`] at their next budget check.
pub fn scope<T>(flag: Arc<AtomicBool>, work: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<AtomicBool>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|current| *current.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|current| current.replace(Some(flag)));
    let _restore = Restore(previous);
    work()
}

/// Whether the work running on this thread has been cancelled.
pub fn is_cancelled() -> bool {
    CURRENT.with(|current| {
        current
            .borrow()
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    })
}

/// [`QueryError::Cancelled`] once the work on this thread has been cancelled.
pub(crate) fn check() -> Result<()> {
    if is_cancelled() {
        return Err(QueryError::Cancelled);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_holds_inside_its_scope_only() {
        let flag = Arc::new(AtomicBool::new(false));
        assert!(!is_cancelled());
        scope(flag.clone(), || {
            assert!(check().is_ok());
            flag.store(true, Ordering::Relaxed);
            assert!(matches!(check(), Err(QueryError::Cancelled)));
        });
        assert!(!is_cancelled());
    }
}
