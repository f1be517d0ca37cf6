//! The Cairn transaction a statement runs in, and how scans and writes find it.
//!
//! Every statement runs in exactly one Cairn transaction: the session's open one between
//! `BEGIN` and `COMMIT`/`ROLLBACK` (a write transaction: its reads are conflict-checked at
//! commit, which makes it serializable), else one of its own — a read-only snapshot for a
//! query, a write transaction committed after the statement for `INSERT`/`UPDATE`/`DELETE`.
//! So every table a statement reads (a join, a subquery) is read from the same snapshot.
//!
//! DataFusion plans a statement through [`datafusion::catalog::Session`], which knows nothing
//! of Cairn; the session puts the statement's transaction in a [`TxnSlot`] registered as a
//! config extension, and each table provider takes it from there when it is planned.

use std::sync::Arc;

use cairn::Transaction;
use datafusion::catalog::Session;
use datafusion::error::DataFusionError;
use parking_lot::Mutex;

use crate::error::SqlError;

/// One statement's (or one transaction block's) Cairn transaction, shared by the scans and
/// writes planned in it. `None` once committed or rolled back: a scan still running then
/// fails instead of reading a transaction that no longer exists.
#[derive(Default)]
pub struct SharedTxn {
    inner: Mutex<Option<Transaction>>,
}

impl std::fmt::Debug for SharedTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedTxn")
    }
}

impl SharedTxn {
    /// Wraps a transaction.
    pub fn new(txn: Transaction) -> Arc<SharedTxn> {
        Arc::new(SharedTxn {
            inner: Mutex::new(Some(txn)),
        })
    }

    /// Runs `body` on the transaction (blocking: call it off the async runtime's workers, or
    /// for short work only).
    pub fn with<T>(
        &self,
        body: impl FnOnce(&mut Transaction) -> crate::Result<T>,
    ) -> crate::Result<T> {
        let mut guard = self.inner.lock();
        match guard.as_mut() {
            Some(txn) => body(txn),
            None => Err(SqlError::Unsupported(
                "the statement's transaction has already ended".into(),
            )),
        }
    }

    /// Takes the transaction out (to commit or roll it back).
    pub fn take(&self) -> Option<Transaction> {
        self.inner.lock().take()
    }
}

/// Where the session puts the transaction of the statement being planned.
#[derive(Debug, Default)]
pub struct TxnSlot {
    current: Mutex<Option<Arc<SharedTxn>>>,
}

impl TxnSlot {
    /// Sets (or clears) the current statement's transaction.
    pub fn set(&self, txn: Option<Arc<SharedTxn>>) {
        *self.current.lock() = txn;
    }

    /// The transaction of the statement being planned in `state`.
    pub fn of(state: &dyn Session) -> Result<Arc<SharedTxn>, DataFusionError> {
        state
            .config()
            .get_extension::<TxnSlot>()
            .and_then(|slot| slot.current.lock().clone())
            .ok_or_else(|| {
                DataFusionError::Plan(
                    "Cairn tables are read through a cairn-sql session (no transaction is set)"
                        .into(),
                )
            })
    }
}

/// Who may read and write which collection in a session (the server's users and grants);
/// a session without one (the embedded `cairn sql` shell) may do everything.
pub trait Authorizer: Send + Sync + std::fmt::Debug {
    /// Whether the session's user may read (`write == false`) or write `collection`.
    fn allowed(&self, collection: &str, write: bool) -> bool;

    /// The session's user, recorded as the owner of the collections it creates (the
    /// catalog's `owner`); `None` when there is no user to name.
    fn user(&self) -> Option<String> {
        None
    }
}

/// Checks `collection` against `authorizer`, if any.
pub fn authorize(
    authorizer: Option<&Arc<dyn Authorizer>>,
    collection: &str,
    write: bool,
) -> crate::Result<()> {
    match authorizer {
        Some(a) if !a.allowed(collection, write) => Err(SqlError::PermissionDenied {
            collection: collection.to_string(),
        }),
        _ => Ok(()),
    }
}
