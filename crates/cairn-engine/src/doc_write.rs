//! Staging one document write inside a transaction: the record, its change-log entry, the
//! routing entry of a new document, the collection's extensions, and what the commit-time
//! checks remember of it (see `commit_check.rs`).
//!
//! Every document insert, replace, update and delete of [`Transaction`] ends here, after the
//! operation has read the document it replaces (recorded as a read, so the write conflicts
//! with any concurrent change of it).

use std::borrow::Cow;

use cairn_doc::{DocId, Value};

use crate::changelog::{ChangeOp, PendingChange};
use crate::collection::CollectionHandle;
use crate::commit_check::ToRemember;
use crate::error::Result;
use crate::extension::DocChange;
use crate::layout::routing_key;
use crate::record::{encode_record, record_body};
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

    /// Writes a document (insert when `old` is `None`, else update), its routing entry, its
    /// change record, and runs the collection's extensions. Returns the stored document and,
    /// for a collection checked at commit, what to remember for the check (with the replaced
    /// version).
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
        let codecs = &self.db.shared.codecs;
        encode_record(
            codecs,
            (coll.meta.id, &coll.meta.name),
            &key,
            &doc,
            &mut record,
        )?;
        let (op, old_body) = match &old {
            Some(StoredDoc {
                record: old_record, ..
            }) => (
                ChangeOp::Update,
                Some(self.logged_body(coll, record_body(&coll.docs, old_record)?)?),
            ),
            None => (ChangeOp::Insert, None),
        };
        let new_body = self.logged_body(coll, record_body(&coll.docs, &record)?)?;
        let change = PendingChange::encode(
            &op,
            coll.meta.id,
            &coll.meta.name,
            Some(&key),
            Some(&*new_body),
            old_body.as_deref(),
        );
        self.changes.push(change);
        if old.is_none() {
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
        let old_body = self.logged_body(coll, record_body(&coll.docs, &old.record)?)?;
        let change = PendingChange::encode(
            &ChangeOp::Delete,
            coll.meta.id,
            &coll.meta.name,
            Some(&key),
            None,
            Some(&*old_body),
        );
        self.changes.push(change);
        let routing = self.db.tables.routing.clone();
        self.write_raw(&routing, routing_key(&key, coll.meta.id), Pending::Delete)?;
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

    /// The body a change-log record carries for a record body: the body itself, or — in
    /// packed runs, where record bodies are plain and only runs are compressed — the body
    /// compressed with the collection's settings, so the log stays as small as before.
    fn logged_body<'b>(&self, coll: &CollectionHandle, body: &'b [u8]) -> Result<Cow<'b, [u8]>> {
        let codecs = &self.db.shared.codecs;
        if !codecs.packed() {
            return Ok(Cow::Borrowed(body));
        }
        let mut out = Vec::with_capacity(body.len());
        codecs.encode_body(coll.meta.id, &coll.meta.name, body, &mut out)?;
        Ok(Cow::Owned(out))
    }

    /// Remembers which collection a packed documents table belongs to, for the writer.
    fn note_packed_owner(&mut self, coll: &CollectionHandle) {
        if self.db.shared.codecs.packed() && !self.writes.packed_owners.contains_key(&coll.docs) {
            let name: std::sync::Arc<str> = coll.meta.name.as_str().into();
            self.writes.packed_owners.insert(coll.docs.clone(), name);
        }
    }
}
