//! A collection as the engine resolves it: its catalog entry, documents table and extension
//! instances, in one [`CollectionHandle`], and the database-wide cache of handles by name.
//!
//! The engine stacks catalog -> collection -> database -> transaction: this file uses the
//! catalog's [`CollectionMeta`] and the [`Extension`] interface, and names nothing of the
//! database's internals (`db_inner.rs`) or of transactions (`txn.rs`), which both hold handles
//! built here (the `tidy` test in `crates/cairn/tests/tidy.rs` checks it). A handle is built by
//! `DbInner::collection_handle`, which instantiates the extensions.

use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::CollectionMeta;
use crate::extension::Extension;
use crate::limits::MAX_CACHED_COLLECTION_HANDLES;
use crate::record::RecordAt;

/// A collection as resolved inside a transaction. Immutable once built, and shared by every
/// transaction that reads the same catalog entry (see [`CollectionHandles`] and the per-view
/// cache in `view_state.rs`).
pub(crate) struct CollectionHandle {
    /// The collection's name, shared (a transaction keys its resolved collections by it).
    pub(crate) name: Arc<str>,
    /// The catalog entry the handle was resolved from.
    pub(crate) meta: Arc<CollectionMeta>,
    /// The name of the collection's documents table.
    pub(crate) docs: Arc<str>,
    /// The collection's extension instances by name, in catalog order (the order writes call
    /// them in).
    pub(crate) extensions: Vec<(String, Arc<dyn Extension>)>,
    /// What the commit-time checks need of each written document (from `extensions`).
    pub(crate) commit_needs: CommitNeeds,
}

impl CollectionHandle {
    /// Where the document stored under `key` lives, for verifying and naming its record.
    pub(crate) fn record_at<'a>(&'a self, key: &'a [u8]) -> RecordAt<'a> {
        RecordAt {
            collection: &self.meta.name,
            key,
        }
    }

    /// Whether some extension of the collection checks transactions at commit.
    pub(crate) fn checks_at_commit(&self) -> bool {
        !matches!(self.commit_needs, CommitNeeds::Nothing)
    }
}

/// What a collection's commit-time checks need of each document its transactions write.
pub(crate) enum CommitNeeds {
    /// No extension checks at commit: nothing is remembered.
    Nothing,
    /// Some extension reads whole documents.
    Whole,
    /// Every checking extension named the top-level fields it reads: these (sorted, unique).
    Fields(Vec<String>),
}

impl CommitNeeds {
    /// What the extensions that check at commit need, together.
    pub(crate) fn of(extensions: &[(String, Arc<dyn Extension>)]) -> CommitNeeds {
        let mut fields = Vec::new();
        let mut any = false;
        for (_, ext) in extensions.iter().filter(|(_, e)| e.checks_at_commit()) {
            any = true;
            match ext.commit_fields() {
                Some(names) => fields.extend(names),
                None => return CommitNeeds::Whole,
            }
        }
        if !any {
            return CommitNeeds::Nothing;
        }
        fields.sort();
        fields.dedup();
        CommitNeeds::Fields(fields)
    }
}

/// Resolved collections by name, with the catalog entry bytes each was resolved from.
///
/// Invariant: a handle is a pure function of its catalog bytes and the extension instances,
/// so a transaction whose snapshot holds the same bytes may share it, whatever its snapshot.
#[derive(Default)]
pub(crate) struct CollectionHandles {
    by_name: parking_lot::RwLock<HashMap<String, ResolvedCollection>>,
}

/// A collection's catalog entry bytes and the handle resolved from them.
type ResolvedCollection = (Vec<u8>, Arc<CollectionHandle>);

impl CollectionHandles {
    /// The handle resolved from exactly `catalog_bytes`, if cached.
    pub(crate) fn get(&self, name: &str, catalog_bytes: &[u8]) -> Option<Arc<CollectionHandle>> {
        self.by_name
            .read()
            .get(name)
            .filter(|(bytes, _)| bytes.as_slice() == catalog_bytes)
            .map(|(_, handle)| handle.clone())
    }

    /// Remembers the handle resolved from `catalog_bytes`.
    pub(crate) fn put(&self, name: &str, catalog_bytes: Vec<u8>, handle: Arc<CollectionHandle>) {
        let mut by_name = self.by_name.write();
        if by_name.len() >= MAX_CACHED_COLLECTION_HANDLES && !by_name.contains_key(name) {
            by_name.clear();
        }
        by_name.insert(name.to_string(), (catalog_bytes, handle));
    }
}
