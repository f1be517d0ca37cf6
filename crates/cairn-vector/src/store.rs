//! Raw access to the vector index's tables (their layout is in `layout.rs`).
//!
//! Two views implement [`RawStore`]: the engine's write hook (`ExtensionTxn`, in the writing
//! transaction) and any [`Transaction`] naming the index (searches, online builds, checks).
//! Both see the transaction's own pending writes, which is how a search inside a transaction
//! sees that transaction's writes.

use std::ops::Bound;

use cairn_engine::{ExtensionTxn, Transaction};

use crate::error::Result;

/// A visitor of table entries (key, value); returning false stops the scan.
pub(crate) type EntryVisitor<'v> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'v;

/// Raw access to the index's tables through one transaction.
pub(crate) trait RawStore {
    /// Reads a key (seeing the transaction's own writes).
    fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Writes a key.
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()>;
    /// Deletes a key.
    fn delete(&mut self, table: &str, key: &[u8]) -> Result<()>;
    /// Visits every entry of a table in key order until `visit` returns false.
    fn scan(&mut self, table: &str, visit: &mut EntryVisitor<'_>) -> Result<()>;
}

impl RawStore for ExtensionTxn<'_> {
    fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(ExtensionTxn::get(self, table, key)?)
    }

    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(ExtensionTxn::put(self, table, key, value)?)
    }

    fn delete(&mut self, table: &str, key: &[u8]) -> Result<()> {
        Ok(ExtensionTxn::delete(self, table, key)?)
    }

    fn scan(&mut self, table: &str, visit: &mut EntryVisitor<'_>) -> Result<()> {
        ExtensionTxn::scan(self, table, Bound::Unbounded, Bound::Unbounded, visit)
    }
}

/// A transaction's view of one index (searches, builds, checks).
pub(crate) struct TxnStore<'t> {
    pub(crate) txn: &'t mut Transaction,
    pub(crate) collection: &'t str,
    pub(crate) index: &'t str,
}

impl RawStore for TxnStore<'_> {
    fn get(&mut self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .txn
            .extension_get(self.collection, self.index, table, key)?)
    }

    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self
            .txn
            .extension_put(self.collection, self.index, table, key, value)?)
    }

    fn delete(&mut self, table: &str, key: &[u8]) -> Result<()> {
        Ok(self
            .txn
            .extension_delete(self.collection, self.index, table, key)?)
    }

    fn scan(&mut self, table: &str, visit: &mut EntryVisitor<'_>) -> Result<()> {
        let (collection, index) = (self.collection, self.index);
        self.txn.extension_range(
            collection,
            index,
            table,
            Bound::Unbounded,
            Bound::Unbounded,
            visit,
        )
    }
}
