//! Commit-time checks: handing each extension that asks for it the transaction's **net**
//! document changes once, just before the transaction goes to the writer.
//!
//! The net change of a document is computed from what the transaction buffered, not from the
//! sequence of operations: `old` is the document in the transaction's snapshot, `new` is the
//! final buffered state. So intermediate states are never checked, and an operation rolled
//! back inside the transaction (its buffered writes undone) leaves nothing to check. Every
//! write path read the document before writing it, with the read recorded, so `old` is
//! already conflict-checked: if another commit changes it first, this transaction conflicts.
//!
//! Cost: only for collections with an extension that [checks at
//! commit](crate::Extension::checks_at_commit). Each write there remembers the document it
//! wrote (and, on a key's first write, the snapshot's version) in a [`CommitCache`]; at commit
//! an entry is used only if its record is byte-for-byte the one finally buffered — a rolled
//! back operation may have restored an earlier one — otherwise the document is read from the
//! snapshot and decoded (one read and two decodes).

use std::collections::HashMap;

use cairn_doc::{DocId, Value};

use crate::error::{EngineError, Result};
use crate::extension::{DocChange, ExtensionTxn};
use crate::record::decode_record;
use crate::txn::{CollectionHandle, Transaction};
use crate::writeset::Pending;

/// One document's net change within a transaction, owned.
struct NetChange {
    id: DocId,
    old: Option<Value>,
    new: Option<Value>,
}

/// What writes remembered for the commit-time checks, by (collection id, document key).
pub(crate) type CommitCache = HashMap<(u32, Vec<u8>), Remembered>;

/// One document's remembered states.
#[derive(Default)]
pub(crate) struct Remembered {
    /// The snapshot's version, when known: recorded by the key's first write in the
    /// transaction (later writes see the transaction's own version, not the snapshot's).
    snapshot: Option<Option<Value>>,
    /// The last write: its record (`None` for a delete) and document.
    last: Option<(Option<Vec<u8>>, Option<Value>)>,
}

impl Transaction {
    /// Remembers a write of `key` in `coll` for the commit-time checks: `old` is the version
    /// the write replaced, `new` the record and document written (`None` for a delete).
    pub(crate) fn remember_for_commit(
        &mut self,
        coll: &CollectionHandle,
        key: &[u8],
        old: Option<&Value>,
        new: Option<(&Vec<u8>, &Value)>,
    ) {
        let first_write = !self
            .writes
            .tables
            .get(&coll.docs)
            .is_some_and(|writes| writes.contains_key(key));
        let entry = self
            .commit_cache
            .entry((coll.meta.id, key.to_vec()))
            .or_default();
        if first_write && entry.snapshot.is_none() {
            entry.snapshot = Some(old.cloned());
        }
        entry.last = Some(match new {
            Some((record, doc)) => (Some(record.clone()), Some(doc.clone())),
            None => (None, None),
        });
    }

    /// Runs [`crate::Extension::before_commit`] of every extension that checks at commit, on
    /// every collection this transaction wrote documents in. An error rejects the commit.
    pub(crate) fn run_commit_checks(&mut self) -> Result<()> {
        let written = std::mem::take(&mut self.written_collections);
        for (id, name) in written {
            let Some(coll) = self.resolve_written(id, &name)? else {
                continue;
            };
            if !coll
                .extensions
                .iter()
                .any(|(_, ext)| ext.checks_at_commit())
            {
                continue;
            }
            let net = self.net_changes(&coll)?;
            if net.is_empty() {
                continue;
            }
            let changes: Vec<DocChange<'_>> = net
                .iter()
                .map(|change| DocChange {
                    id: &change.id,
                    old: change.old.as_ref(),
                    new: change.new.as_ref(),
                })
                .collect();
            for (ext_name, ext) in coll.extensions.iter().filter(|(_, e)| e.checks_at_commit()) {
                let mut ctx = ExtensionTxn::new(self, coll.meta.id, &coll.meta.name, ext_name);
                ext.before_commit(&mut ctx, &changes)?;
            }
        }
        Ok(())
    }

    /// The collection with id `id` as this transaction finally sees it (it may have been
    /// renamed after the write), or `None` when it was dropped.
    fn resolve_written(
        &mut self,
        id: u32,
        name: &str,
    ) -> Result<Option<std::sync::Arc<CollectionHandle>>> {
        match self.collection(name) {
            Ok(handle) if handle.meta.id == id => return Ok(Some(handle)),
            Ok(_) | Err(EngineError::UnknownCollection { .. }) => {}
            Err(other) => return Err(other),
        }
        let renamed = self
            .list_collections()?
            .into_iter()
            .find(|meta| meta.id == id);
        match renamed {
            Some(meta) => self.collection(&meta.name).map(Some),
            None => Ok(None),
        }
    }

    /// Every document of `coll` whose final buffered state differs from "untouched", as
    /// (snapshot document, final document).
    fn net_changes(&mut self, coll: &CollectionHandle) -> Result<Vec<NetChange>> {
        if self.writes.is_dropped(&coll.docs) {
            return Ok(Vec::new());
        }
        let Some(writes) = self.writes.tables.get(&coll.docs) else {
            return Ok(Vec::new());
        };
        let db = self.db.clone();
        let codecs = &db.shared.codecs;
        // First the final states, from the writes' remembered documents where they still
        // match the buffered record (no copy of the record), decoding the others.
        let mut partial = Vec::with_capacity(writes.len());
        for (key, pending) in writes {
            let record = match pending {
                Pending::Put { value, .. } => Some(value.as_slice()),
                Pending::Delete => None,
            };
            let remembered = self
                .commit_cache
                .remove(&(coll.meta.id, key.clone()))
                .unwrap_or_default();
            let new = match remembered.last {
                Some((last, doc)) if last.as_deref() == record => doc,
                _ => record
                    .map(|bytes| decode_record(codecs, &coll.docs, bytes))
                    .transpose()?,
            };
            partial.push((key.clone(), remembered.snapshot, new));
        }
        // Then the snapshot states the writes did not remember.
        let mut net = Vec::with_capacity(partial.len());
        for (key, snapshot, new) in partial {
            let old = match snapshot {
                Some(old) => old,
                // Already recorded as read by the write that buffered this key.
                None => {
                    let record = match self.reader(&coll.docs)? {
                        Some(reader) => reader.get(&key)?,
                        None => None,
                    };
                    record
                        .map(|bytes| decode_record(codecs, &coll.docs, &bytes))
                        .transpose()?
                }
            };
            if old.is_none() && new.is_none() {
                continue;
            }
            let id =
                DocId::decode_key(&key).map_err(|err| EngineError::corrupt(&coll.docs, err))?;
            net.push(NetChange { id, old, new });
        }
        Ok(net)
    }
}
