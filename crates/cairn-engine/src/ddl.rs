//! Collection DDL (create, drop, rename, attach and detach extensions), run as transactions so
//! it is atomic, logged, and conflict-checked against concurrent writers like any other write.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cairn_doc::{DateTime, DocId, Value};

use crate::catalog::{validate_name, CollectionMeta, CollectionOptions, ExtensionSpec};
use crate::changelog::{ChangeOp, PendingChange};
use crate::error::{EngineError, Result};
use crate::extension::DocChange;
use crate::layout::{docs_table, extension_tables_prefix, read_u32, MetaKey};
use crate::limits::{MAX_COLLECTIONS, MAX_EXTENSIONS_PER_COLLECTION};
use crate::record::{decode_record, RecordAt};
use crate::txn::Transaction;
use crate::writeset::Pending;

impl Transaction {
    /// Creates a collection with the default options ([`CollectionOptions::default`]: routing
    /// on for user collections, off for `_sys_*` ones).
    pub fn create_collection(&mut self, name: &str) -> Result<CollectionMeta> {
        self.create_collection_with(name, &CollectionOptions::default())
    }

    /// Creates a collection with `options`.
    pub fn create_collection_with(
        &mut self,
        name: &str,
        options: &CollectionOptions,
    ) -> Result<CollectionMeta> {
        validate_name(name)?;
        self.atomically(|txn| {
            txn.ensure_absent(name)?;
            let count = txn.list_collections()?.len();
            if count >= MAX_COLLECTIONS {
                return Err(EngineError::LimitExceeded {
                    what: "collections in one database",
                    actual: count as u64 + 1,
                    limit: MAX_COLLECTIONS as u64,
                });
            }
            let meta_table = txn.db.tables.meta.clone();
            let next = txn.read_raw(&meta_table, MetaKey::NEXT_COLLECTION_ID, true)?;
            let id = next.as_deref().and_then(read_u32).unwrap_or(1);
            let following = id.checked_add(1).ok_or(EngineError::LimitExceeded {
                what: "collection ids ever created",
                actual: u64::from(id) + 1,
                limit: u64::from(u32::MAX),
            })?;
            txn.put_raw(
                &meta_table,
                MetaKey::NEXT_COLLECTION_ID,
                &following.to_le_bytes(),
            )?;
            let meta = CollectionMeta {
                id,
                name: name.to_string(),
                created_at: DateTime::now(),
                extensions: Vec::new(),
                routing: options.routing_for(name),
            };
            txn.store_meta(&meta)?;
            // The options ride in the record, so a replay (incremental restore) creates the
            // collection as it was.
            let mut logged = Vec::new();
            if let Some(options) = CollectionOptions::logged(meta.routing) {
                cairn_doc::encode_document(&options, &mut logged)?;
            }
            let logged = (!logged.is_empty()).then_some(logged.as_slice());
            txn.log_ddl_with(&ChangeOp::CreateCollection, &meta, logged);
            Ok(meta)
        })
    }

    /// Drops a collection with all its documents and extension data.
    pub fn drop_collection(&mut self, name: &str) -> Result<()> {
        self.atomically(|txn| {
            let coll = txn.collection(name)?;
            let catalog = txn.db.tables.catalog.clone();
            txn.write_raw(&catalog, name.as_bytes().to_vec(), Pending::Delete)?;
            // The documents table stays until its documents' routing entries are gone
            // (`reclaim.rs`); everything else of the collection goes now.
            txn.drop_tables(extension_tables_prefix(coll.meta.id));
            txn.drop_retention(coll.meta.id)?;
            txn.mark_for_reclaim(&coll.meta)?;
            txn.log_ddl(&ChangeOp::DropCollection, &coll.meta);
            txn.invalidate_collections();
            Ok(())
        })
    }

    /// Renames a collection. Its data stays where it is: tables are named by id.
    pub fn rename_collection(&mut self, from: &str, to: &str) -> Result<()> {
        validate_name(to)?;
        self.atomically(|txn| {
            let coll = txn.collection(from)?;
            txn.ensure_absent(to)?;
            let catalog = txn.db.tables.catalog.clone();
            txn.write_raw(&catalog, from.as_bytes().to_vec(), Pending::Delete)?;
            let mut meta = (*coll.meta).clone();
            meta.name = to.to_string();
            txn.store_meta(&meta)?;
            txn.log_ddl(
                &ChangeOp::RenameCollection { to: to.to_string() },
                &coll.meta,
            );
            txn.invalidate_collections();
            Ok(())
        })
    }

    /// Lists collections, in name order.
    pub fn list_collections(&mut self) -> Result<Vec<CollectionMeta>> {
        let catalog = self.db.tables.catalog.clone();
        let mut metas = Vec::new();
        self.scan(&catalog, Bound::Unbounded, Bound::Unbounded, |_, bytes| {
            metas.push(CollectionMeta::decode(bytes)?);
            Ok::<_, crate::EngineError>(true)
        })?;
        Ok(metas)
    }

    /// Attaches an extension instance to a collection and builds its data from the documents
    /// already there, all in this transaction.
    pub fn attach_extension(
        &mut self,
        collection: &str,
        kind: &str,
        name: &str,
        config: Value,
    ) -> Result<()> {
        self.attach_extension_with(collection, kind, name, config, true)
    }

    pub(crate) fn attach_extension_with(
        &mut self,
        collection: &str,
        kind: &str,
        name: &str,
        config: Value,
        backfill: bool,
    ) -> Result<()> {
        validate_name(name)?;
        self.atomically(|txn| {
            let coll = txn.collection(collection)?;
            let state_error = |reason| EngineError::ExtensionState {
                collection: collection.to_string(),
                name: name.to_string(),
                reason,
            };
            if coll.meta.extensions.iter().any(|ext| ext.name == name) {
                return Err(state_error("already attached"));
            }
            if coll.meta.extensions.len() >= MAX_EXTENSIONS_PER_COLLECTION {
                return Err(state_error(
                    "the collection has the maximum number of extensions",
                ));
            }
            let mut meta = (*coll.meta).clone();
            meta.extensions.push(ExtensionSpec {
                kind: kind.to_string(),
                name: name.to_string(),
                config,
                incarnation: next_incarnation(txn.snapshot_seq()),
            });
            txn.store_meta(&meta)?;
            txn.log_attach(name, &meta)?;
            txn.invalidate_collections();
            if backfill {
                txn.backfill(collection, name)?;
            }
            // Instantiate now, so an unknown kind or bad configuration fails the attach.
            txn.collection(collection).map(|_| ())
        })
    }

    /// Replaces the stored configuration of an attached extension (say, a new schema
    /// version), keeping its tables. The new instance is built at once, so a configuration
    /// its kind rejects fails here. Logged as an `AttachExtension` record with the new
    /// configuration, which a replay applies to the attached extension.
    pub fn set_extension_config(
        &mut self,
        collection: &str,
        name: &str,
        config: Value,
    ) -> Result<()> {
        self.atomically(|txn| {
            let coll = txn.collection(collection)?;
            let mut meta = (*coll.meta).clone();
            let Some(ext) = meta.extensions.iter_mut().find(|ext| ext.name == name) else {
                return Err(EngineError::ExtensionState {
                    collection: collection.to_string(),
                    name: name.to_string(),
                    reason: "not attached",
                });
            };
            ext.config = config;
            txn.store_meta(&meta)?;
            txn.log_attach(name, &meta)?;
            txn.invalidate_collections();
            txn.collection(collection).map(|_| ())
        })
    }

    /// Detaches an extension and deletes its tables.
    pub fn detach_extension(&mut self, collection: &str, name: &str) -> Result<()> {
        self.atomically(|txn| {
            let coll = txn.collection(collection)?;
            let mut meta = (*coll.meta).clone();
            let before = meta.extensions.len();
            meta.extensions.retain(|ext| ext.name != name);
            if meta.extensions.len() == before {
                return Err(EngineError::ExtensionState {
                    collection: collection.to_string(),
                    name: name.to_string(),
                    reason: "not attached",
                });
            }
            txn.store_meta(&meta)?;
            txn.drop_tables(format!("{}{name}.", extension_tables_prefix(meta.id)));
            txn.log_ddl(
                &ChangeOp::DetachExtension {
                    name: name.to_string(),
                },
                &meta,
            );
            txn.invalidate_collections();
            Ok(())
        })
    }

    /// Feeds every existing document to one newly attached extension as an insert.
    fn backfill(&mut self, collection: &str, extension: &str) -> Result<()> {
        let coll = self.collection(collection)?;
        let Some((_, ext)) = coll.extensions.iter().find(|(name, _)| name == extension) else {
            return Ok(());
        };
        let docs = Arc::from(docs_table(coll.meta.id));
        let mut existing = Vec::new();
        let db = self.db.clone();
        self.scan(&docs, Bound::Unbounded, Bound::Unbounded, |key, record| {
            let id = DocId::decode_key(key).map_err(|err| EngineError::corrupt(&docs, err))?;
            let at = RecordAt { collection, key };
            existing.push((id, decode_record(&db.shared.codecs, at, record)?));
            Ok::<_, crate::EngineError>(true)
        })?;
        for (id, doc) in &existing {
            let change = DocChange {
                id,
                old: None,
                new: Some(doc),
            };
            let mut ctx =
                crate::extension::ExtensionTxn::new(self, coll.meta.id, collection, extension);
            ext.on_write(&mut ctx, &change)?;
        }
        let mut ctx =
            crate::extension::ExtensionTxn::new(self, coll.meta.id, collection, extension);
        ext.backfilled(&mut ctx)
    }

    /// Fails with `CollectionExists` if `name` is taken; other lookup failures propagate.
    fn ensure_absent(&mut self, name: &str) -> Result<()> {
        match self.collection(name) {
            Ok(_) => Err(EngineError::CollectionExists {
                name: name.to_string(),
            }),
            Err(EngineError::UnknownCollection { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    }

    fn store_meta(&mut self, meta: &CollectionMeta) -> Result<()> {
        let catalog = self.db.tables.catalog.clone();
        let bytes = meta.encode()?;
        self.put_raw(&catalog, meta.name.as_bytes(), &bytes)
    }

    fn put_raw(&mut self, table: &Arc<str>, key: &[u8], value: &[u8]) -> Result<()> {
        self.write_raw(
            table,
            key.to_vec(),
            Pending::Put {
                value: value.to_vec(),
                stamp_seq: false,
            },
        )
    }

    /// Logs the attachment (or new configuration) of extension `name` of `meta`, with its
    /// spec, so a replay of the log (incremental restore) can attach it again.
    fn log_attach(&mut self, name: &str, meta: &CollectionMeta) -> Result<()> {
        let mut spec = Vec::new();
        if let Some(ext) = meta.extensions.iter().find(|ext| ext.name == name) {
            cairn_doc::encode_document(&ext.to_value(), &mut spec)?;
        }
        let op = ChangeOp::AttachExtension {
            name: name.to_string(),
        };
        let spec = (!spec.is_empty()).then_some(spec.as_slice());
        self.log_ddl_with(&op, meta, spec);
        Ok(())
    }

    pub(crate) fn log_ddl(&mut self, op: &ChangeOp, meta: &CollectionMeta) {
        self.log_ddl_with(op, meta, None);
    }

    /// Logs a catalog change, with `payload` (an encoded document) in the record's `old` slot
    /// (the `new` slot holds the name an operation carries).
    fn log_ddl_with(&mut self, op: &ChangeOp, meta: &CollectionMeta, payload: Option<&[u8]>) {
        let change = PendingChange::encode(op, meta.id, &meta.name, None, None, payload);
        self.changes.push(change);
    }
}

/// A new attachment's incarnation: above every number handed out from an older snapshot
/// (attachments change the catalog entry, so they commit in snapshot order) and distinct
/// among attachments made from the same snapshot in this process.
fn next_incarnation(snapshot_seq: u64) -> u64 {
    static ATTACHED: AtomicU64 = AtomicU64::new(0);
    let serial = ATTACHED.fetch_add(1, Ordering::Relaxed) & 0xFFFF;
    (snapshot_seq << 16) | serial
}
