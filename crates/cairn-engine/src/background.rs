//! Background reads: a read-only transaction handed to another thread (say, to load a cache
//! keyed by what a snapshot holds) that must not keep a closed database open.
//!
//! A snapshot keeps the data file open, so a background reader still running when the user
//! drops the last [`Database`] handle would make an immediate re-open of the same folder
//! fail. So the reader asks [`BackgroundRead::should_stop`] as it goes, and the last
//! `Database` handle, when only background readers remain, raises the closing flag and waits
//! (at most [`MAX_BACKGROUND_CLOSE_WAIT`]) until they have let go.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Instant;

use crate::database::Database;
use crate::db_inner::{BackgroundReads, DbInner};
use crate::limits::MAX_BACKGROUND_CLOSE_WAIT;
use crate::txn::Transaction;

/// A read-only transaction on another transaction's snapshot, for a background thread (see
/// [`Transaction::fork_background`]).
pub struct BackgroundRead {
    // Declared first, so it is dropped (releasing the database) before the guard tells a
    // waiting close that this reader is gone.
    txn: Transaction,
    _guard: RunningGuard,
}

/// Counts a reader as running until dropped. It holds the database only weakly: the reader's
/// transaction (dropped first) is its only strong hold, so once a waiting close hears that
/// the reader is gone, the database is free to close on the waiting thread.
struct RunningGuard {
    reads: Arc<BackgroundReads>,
    db: Weak<DbInner>,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let reads = &self.reads;
        let mut running = reads.running.lock();
        *running = running.saturating_sub(1);
        reads.stopped.notify_all();
    }
}

impl BackgroundRead {
    /// The transaction: it sees exactly the snapshot it was forked from, records no reads and
    /// refuses writes.
    pub fn txn(&mut self) -> &mut Transaction {
        &mut self.txn
    }

    /// Whether the reader should give up now (see [`BackgroundStop::should_stop`]).
    pub fn should_stop(&self) -> bool {
        self._guard.should_stop()
    }

    /// The transaction and the stop check, borrowed together (a reading loop needs both).
    pub fn split(&mut self) -> (&mut Transaction, BackgroundStop<'_>) {
        (&mut self.txn, BackgroundStop(&self._guard))
    }
}

/// The stop check of a [`BackgroundRead`], usable while its transaction is borrowed.
pub struct BackgroundStop<'a>(&'a RunningGuard);

impl BackgroundStop<'_> {
    /// Whether the reader should give up now: the database is closing, or nothing but
    /// background readers still uses it (its result could never be used).
    pub fn should_stop(&self) -> bool {
        self.0.should_stop()
    }
}

impl RunningGuard {
    fn should_stop(&self) -> bool {
        // Each reader holds the database once (its transaction).
        self.reads.closing.load(Ordering::Acquire) || self.db.strong_count() <= self.reads.running()
    }
}

impl Transaction {
    /// A [`BackgroundRead`] on this transaction's *snapshot* (not the latest commit), for work
    /// handed to another thread that must see exactly what this one saw. It sees none of this
    /// transaction's pending writes, records no reads and refuses writes, like
    /// [`Database::read`].
    pub fn fork_background(&self) -> BackgroundRead {
        *self.db.background.running.lock() += 1;
        BackgroundRead {
            txn: self.fork_read(),
            _guard: RunningGuard {
                reads: self.db.background.clone(),
                db: Arc::downgrade(&self.db),
            },
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let reads = &self.inner.background;
        let running = reads.running();
        // Only background readers (one reference each) besides this handle: it is the last.
        if running == 0 || Arc::strong_count(&self.inner) > 1 + running {
            return;
        }
        reads.closing.store(true, Ordering::Release);
        let deadline = Instant::now() + MAX_BACKGROUND_CLOSE_WAIT;
        let mut count = reads.running.lock();
        while *count > 0 {
            if reads.stopped.wait_until(&mut count, deadline).timed_out() {
                break;
            }
        }
    }
}

// A background read exists to be moved to another thread.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<BackgroundRead>();
};
