//! The database's shared internals ([`DbInner`]): the store, the writer, the extension kinds
//! and instances, the caches of resolved collections and interned table names, and the count
//! of background readers. One per open database, shared by its [`Database`] handles (clones)
//! and its transactions.
//!
//! The engine stacks catalog -> collection -> database -> transaction: this file builds
//! collection handles (`collection.rs`) from catalog entries and names nothing of
//! transactions (`txn.rs`) or of the public handle (`database.rs`), which sit on top of it (the
//! `tidy` test in `crates/cairn/tests/tidy.rs` checks it).
//!
//! [`Database`]: crate::Database

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cairn_doc::Value;
use parking_lot::{Condvar, Mutex};

use crate::catalog::CollectionMeta;
use crate::collection::{CollectionHandle, CollectionHandles, CommitNeeds};
use crate::committer::{Committer, Shared};
use crate::dictionary::Trainer;
use crate::error::{EngineError, Result};
use crate::extension::{Extension, ExtensionKind};
use crate::layout::SystemTables;

/// Instantiated extensions by (collection id, name, incarnation), with the config each was
/// built from. The incarnation keeps a re-created extension from inheriting the state of the
/// dropped one's instance.
type ExtensionCache = HashMap<(u32, String, u64), (Value, Arc<dyn Extension>)>;

/// Internals shared by the handle and its transactions.
pub(crate) struct DbInner {
    /// The store and the state the committer shares with readers (see `committer.rs`).
    pub(crate) shared: Arc<Shared>,
    /// Stopped (and joined) before the committer, so it never trains on a closing store.
    _trainer: Option<Trainer>,
    /// The single writer every commit goes through.
    pub(crate) committer: Committer,
    /// The names of the system tables.
    pub(crate) tables: SystemTables,
    /// The extension kinds this process provides, by kind name.
    kinds: HashMap<String, Arc<dyn ExtensionKind>>,
    instances: Mutex<ExtensionCache>,
    extension_tables: ExtensionTableNames,
    /// Collections resolved by earlier transactions (see [`CollectionHandles`]).
    pub(crate) handles: CollectionHandles,
    /// Read-only transactions running on other threads (see `background.rs`).
    pub(crate) background: Arc<BackgroundReads>,
}

/// Interned extension table names by (collection id, extension, table). Extensions write
/// their tables on every document write; building the name each time would allocate per
/// write. The names are a pure function of the key, so entries never go stale; there are at
/// most (collections x extensions x tables) of them.
#[derive(Default)]
pub(crate) struct ExtensionTableNames {
    names: parking_lot::RwLock<HashMap<u32, NamesByExtension, FastHash>>,
}

/// One collection's interned names: extension, then table. Looked up on every extension read,
/// so hashed with foldhash (random per-process seed) rather than SipHash.
type NamesByExtension = HashMap<String, HashMap<String, Arc<str>, FastHash>, FastHash>;

type FastHash = foldhash::fast::RandomState;

impl ExtensionTableNames {
    /// The table name, built on first use and shared afterwards.
    pub(crate) fn get(&self, collection_id: u32, extension: &str, table: &str) -> Arc<str> {
        let cached = self
            .names
            .read()
            .get(&collection_id)
            .and_then(|by_ext| by_ext.get(extension))
            .and_then(|by_table| by_table.get(table))
            .cloned();
        if let Some(name) = cached {
            return name;
        }
        let name: Arc<str> = Arc::from(crate::layout::extension_table(
            collection_id,
            extension,
            table,
        ));
        self.names
            .write()
            .entry(collection_id)
            .or_default()
            .entry(extension.to_string())
            .or_default()
            .insert(table.to_string(), name.clone());
        name
    }
}

impl DbInner {
    /// The internals of a database just opened: no collection resolved, no extension
    /// instantiated yet.
    pub(crate) fn new(
        shared: Arc<Shared>,
        trainer: Option<Trainer>,
        committer: Committer,
        kinds: HashMap<String, Arc<dyn ExtensionKind>>,
    ) -> DbInner {
        DbInner {
            shared,
            _trainer: trainer,
            committer,
            tables: SystemTables::new(),
            kinds,
            instances: Mutex::new(HashMap::new()),
            extension_tables: ExtensionTableNames::default(),
            handles: CollectionHandles::default(),
            background: Default::default(),
        }
    }

    /// The interned name of an extension table (see [`ExtensionTableNames`]).
    pub(crate) fn extension_table(
        &self,
        collection_id: u32,
        extension: &str,
        table: &str,
    ) -> Arc<str> {
        self.extension_tables.get(collection_id, extension, table)
    }

    /// Builds the handle for a collection, instantiating its extensions (cached).
    pub(crate) fn collection_handle(&self, meta: CollectionMeta) -> Result<CollectionHandle> {
        let mut extensions = Vec::with_capacity(meta.extensions.len());
        let mut instances = self.instances.lock();
        for spec in &meta.extensions {
            let cache_key = (meta.id, spec.name.clone(), spec.incarnation);
            let cached = instances
                .get(&cache_key)
                .filter(|(config, _)| *config == spec.config)
                .map(|(_, ext)| ext.clone());
            let ext = match cached {
                Some(ext) => ext,
                None => {
                    let kind = self.kinds.get(&spec.kind).ok_or_else(|| {
                        EngineError::UnknownExtensionKind {
                            collection: meta.name.clone(),
                            kind: spec.kind.clone(),
                        }
                    })?;
                    let ext = kind.instantiate(&meta.name, &spec.name, &spec.config)?;
                    // Older incarnations are gone from the catalog; a snapshot still
                    // holding one re-instantiates it, so dropping them here only bounds the map.
                    instances.retain(|(id, name, _), _| !(*id == meta.id && *name == spec.name));
                    instances.insert(cache_key, (spec.config.clone(), ext.clone()));
                    ext
                }
            };
            extensions.push((spec.name.clone(), ext));
        }
        Ok(CollectionHandle {
            name: Arc::from(meta.name.as_str()),
            docs: Arc::from(crate::layout::docs_table(meta.id)),
            meta: Arc::new(meta),
            commit_needs: CommitNeeds::of(&extensions),
            extensions,
        })
    }
}

/// The background readers of one database (see `background.rs`, which starts and stops them).
#[derive(Default)]
pub(crate) struct BackgroundReads {
    /// Readers running now.
    pub(crate) running: Mutex<usize>,
    /// Signalled whenever a reader stops.
    pub(crate) stopped: Condvar,
    /// Raised by the last `Database` handle while it waits for the readers to let go.
    pub(crate) closing: AtomicBool,
}

impl BackgroundReads {
    /// How many readers are running now.
    pub(crate) fn running(&self) -> usize {
        *self.running.lock()
    }
}
