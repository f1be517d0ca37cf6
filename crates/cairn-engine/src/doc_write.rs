//! Staging one document write inside a transaction: the record, its change-log entry, the
//! routing entry of a new document (in a collection that keeps them), the collection's
//! extensions, and what the commit-time checks remember of it (see `commit_check.rs`).
//!
//! Every document insert, replace, update and delete of [`Transaction`] ends here, after the
//! operation has read the document it replaces (recorded as a read, so the write conflicts
//! with any concurrent change of it).

use std::borrow::Cow;

use cairn_doc::{DocId, Value};

use crate::changelog::{ChangeOp, PendingChange};
use crate::collection::CollectionHandle;
use crate::commit_check::ToRemember;
use crate::elided::{logged_payload, Fill};
use crate::error::Result;
use crate::extension::DocChange;
use crate::layout::routing_key;
use crate::record::{encode_record, logged_at, record_body};
use crate::txn::{with_id, StoredDoc, Transaction};
use crate::writeset::Pending;

/// What a staged write hands to the commit-time checks: the write, and the version it
/// replaced (`None` for an insert).
type Remember = (ToRemember, Option<Value>);

impl Transaction {
    /// Writes a document and returns it as stored (see [`Transaction::stage_doc`]).
    pub(crate) fn write_doc(
        &mut self,
        coll: &CollectionHandle,
        id: &DocId,
        key: Vec<u8>,
        old: Option<StoredDoc>,
        doc: Value,
    ) -> Result<Value> {
        let (doc, remember) = self.stage_doc(coll, id, key, old, doc)?;
        if let Some((write, old)) = remember {
            let old = old.map(Cow::Owned);
            self.remember_for_commit(coll, write, old, Some(Cow::Borrowed(&doc)));
        }
        Ok(doc)
    }

    /// Writes a document the caller does not need back: a collection checked at commit keeps
    /// it for the check without copying it.
    pub(crate) fn store_doc(
        &mut self,
        coll: &CollectionHandle,
        id: &DocId,
        key: Vec<u8>,
        old: Option<StoredDoc>,
        doc: Value,
    ) -> Result<()> {
        let (doc, remember) = self.stage_doc(coll, id, key, old, doc)?;
        if let Some((write, old)) = remember {
            let old = old.map(Cow::Owned);
            self.remember_for_commit(coll, write, old, Some(Cow::Owned(doc)));
        }
        Ok(())
    }

    /// Writes a document (insert when `old` is `None`, else update), its routing entry (when
    /// the collection keeps them), its change record, and runs the collection's extensions.
    /// Returns the stored document and, for a collection checked at commit, what to remember
    /// for the check (with the replaced version).
    fn stage_doc(
        &mut self,
        coll: &CollectionHandle,
        id: &DocId,
        key: Vec<u8>,
        old: Option<StoredDoc>,
        doc: Value,
    ) -> Result<(Value, Option<Remember>)> {
        let mut doc = with_id(doc, id)?;
        if !coll.extensions.is_empty() {
            self.prepare_extensions(coll, id, old.as_ref().map(|stored| &stored.value), &mut doc)?;
        }
        let mut record = Vec::new();
        let db = self.db.clone();
        let codecs = &db.shared.codecs;
        // The change log elides the new document; the record names the change that does. A
        // transaction holds at most MAX_TXN_OPS document changes, far below u32::MAX.
        let change_index = self.changes.len() as u32;
        let target = (coll.meta.id, coll.meta.name.as_str());
        encode_record(codecs, target, &key, &doc, Some(change_index), &mut record)?;
        let (op, old_body) = match &old {
            Some(StoredDoc {
                record: old_record, ..
            }) => {
                let body = logged_payload(codecs, target, record_body(&coll.docs, old_record)?)?;
                self.supersede(target.0, &key, old_record, &body)?;
                (ChangeOp::Update, Some(body))
            }
            None => (ChangeOp::Insert, None),
        };
        let change = PendingChange::elided(&op, target, &key, old_body.as_deref());
        self.changes.push(change);
        if old.is_none() && coll.meta.routing {
            let routing = self.db.tables.routing.clone();
            self.write_raw(
                &routing,
                routing_key(&key, coll.meta.id),
                Pending::Put {
                    value: Vec::new(),
                    stamp_seq: false,
                },
            )?;
        }
        let remember = coll
            .checks_at_commit()
            .then(|| ToRemember::new(&key, Some(&record)));
        self.note_packed_owner(coll);
        let first_write = self.buffer_write(
            &coll.docs,
            key,
            Pending::Put {
                value: record,
                stamp_seq: true,
            },
        )?;
        let remember = remember.map(|write| write.buffered(first_write));
        let change = DocChange {
            id,
            old: old.as_ref().map(|stored| &stored.value),
            new: Some(&doc),
        };
        self.run_extensions(coll, &change)?;
        Ok((
            doc,
            remember.map(|write| (write, old.map(|stored| stored.value))),
        ))
    }

    pub(crate) fn delete_doc(
        &mut self,
        coll: &CollectionHandle,
        id: &DocId,
        key: Vec<u8>,
        old: StoredDoc,
    ) -> Result<()> {
        let db = self.db.clone();
        let target = (coll.meta.id, coll.meta.name.as_str());
        let old_body = logged_payload(
            &db.shared.codecs,
            target,
            record_body(&coll.docs, &old.record)?,
        )?;
        self.supersede(target.0, &key, &old.record, &old_body)?;
        let change = PendingChange::encode(
            &ChangeOp::Delete,
            coll.meta.id,
            &coll.meta.name,
            Some(&key),
            None,
            Some(&*old_body),
        );
        self.changes.push(change);
        if coll.meta.routing {
            let routing = self.db.tables.routing.clone();
            self.write_raw(&routing, routing_key(&key, coll.meta.id), Pending::Delete)?;
        }
        let remember = coll.checks_at_commit().then(|| ToRemember::new(&key, None));
        self.note_packed_owner(coll);
        let first_write = self.buffer_write(&coll.docs, key, Pending::Delete)?;
        let remember = remember.map(|write| write.buffered(first_write));
        let change = DocChange {
            id,
            old: Some(&old.value),
            new: None,
        };
        self.run_extensions(coll, &change)?;
        if let Some(write) = remember {
            self.remember_for_commit(coll, write, Some(Cow::Owned(old.value)), None);
        }
        Ok(())
    }

    /// A stored version of document `key` of collection `collection_id` is being replaced or
    /// removed: if the change log elides it, the record that does gets `payload` (its logged
    /// form) — in place when that record is this transaction's own pending change, else by
    /// the writer in this commit (`elided.rs`).
    pub(crate) fn supersede(
        &mut self,
        collection_id: u32,
        key: &[u8],
        record: &[u8],
        payload: &[u8],
    ) -> Result<()> {
        match logged_at(record) {
            None => {}
            // Still in this transaction's buffer: its change is pending here.
            Some((0, index)) => {
                if let Some(change) = self.changes.get_mut(index as usize) {
                    change.fill(payload)?;
                }
            }
            Some((seq, index)) => self.writes.fills.push(Fill {
                change: (seq, index),
                collection_id,
                id_key: key.to_vec(),
                payload: payload.to_vec(),
            }),
        }
        Ok(())
    }

    /// Remembers which collection a packed documents table belongs to, for the writer.
    fn note_packed_owner(&mut self, coll: &CollectionHandle) {
        if self.db.shared.codecs.packed() && !self.writes.packed_owners.contains_key(&coll.docs) {
            let name: std::sync::Arc<str> = coll.meta.name.as_str().into();
            self.writes.packed_owners.insert(coll.docs.clone(), name);
        }
    }
}
