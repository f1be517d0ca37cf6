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
//! Cost: one snapshot read and two decodes per document the transaction wrote, and only for
//! collections with an extension that [checks at commit](crate::Extension::checks_at_commit).

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

impl Transaction {
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
        let buffered: Vec<(Vec<u8>, Option<Vec<u8>>)> = match self.writes.tables.get(&coll.docs) {
            Some(writes) => writes
                .iter()
                .map(|(key, pending)| {
                    let new = match pending {
                        Pending::Put { value, .. } => Some(value.clone()),
                        Pending::Delete => None,
                    };
                    (key.clone(), new)
                })
                .collect(),
            None => return Ok(Vec::new()),
        };
        let db = self.db.clone();
        let codecs = &db.shared.codecs;
        let mut net = Vec::with_capacity(buffered.len());
        for (key, new_record) in buffered {
            // Already recorded as read by the write that buffered this key.
            let old_record = match self.reader(&coll.docs)? {
                Some(reader) => reader.get(&key)?,
                None => None,
            };
            if old_record.is_none() && new_record.is_none() {
                continue;
            }
            let id =
                DocId::decode_key(&key).map_err(|err| EngineError::corrupt(&coll.docs, err))?;
            let decode = |record: Option<Vec<u8>>| {
                record
                    .map(|bytes| decode_record(codecs, &coll.docs, &bytes))
                    .transpose()
            };
            net.push(NetChange {
                id,
                old: decode(old_record)?,
                new: decode(new_record)?,
            });
        }
        Ok(net)
    }
}
