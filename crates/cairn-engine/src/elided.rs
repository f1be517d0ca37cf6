//! Elided change-log payloads: the change log does not store a document a second time while
//! the documents table holds it as the current version (see `changelog.rs`).
//!
//! Three parts keep every record readable as if it carried its document:
//! - **Writing**: an insert or update logs its change with the new document elided and tags the
//!   document's record with the change's index in its commit (`record.rs`, tag 0xC4), so the
//!   record names `(its seq, index)`.
//! - **Superseding**: whoever replaces or removes that version (an update, a delete, or
//!   reclamation of a dropped collection) has read it; it stages a [`Fill`] and the single
//!   writer puts the payload into the record `(seq, index)` in the same storage commit as the
//!   write that supersedes it (unless retention already trimmed the record). A supersede
//!   inside the same transaction fills the pending change in place. So in every snapshot an
//!   elided record's document is the current version of its key.
//! - **Reading**: [`Resolver`] resolves an elided payload from the documents table of the same
//!   snapshot and checks that the stored version is the one the record wrote (its header's seq
//!   and its tag's index); anything else is an [`EngineError::Corruption`] naming the record,
//!   never a different document.
//!
//! Finding the record to fill costs nothing: the superseded version names it. An update's old
//! document is still stored in full (eliding it would make trimming the record it points to
//! rewrite the later one; see `docs/design/engine.md`).

use std::borrow::Cow;
use std::collections::HashMap;

use cairn_doc::Value;
use cairn_storage::{Snapshot, TableReader, TableWriter};

use crate::changelog::{decode_stored, fill_stored, Change};
use crate::compression::Codecs;
use crate::error::{EngineError, Result};
use crate::layout::{changelog_key, docs_table, CHANGELOG_TABLE};
use crate::record::{decode_record, logged_at, RecordAt};

/// A superseded document version to be filled into the change-log record that elided it.
#[derive(Debug)]
pub(crate) struct Fill {
    /// The record: `(seq, index)`.
    pub(crate) change: (u64, u32),
    /// The collection id and document key the record must describe.
    pub(crate) collection_id: u32,
    pub(crate) id_key: Vec<u8>,
    /// The payload as the change log stores documents (see [`logged_payload`]).
    pub(crate) payload: Vec<u8>,
}

/// The payload the change log stores for a record body: the body itself, or — in packed runs,
/// where record bodies are plain and only runs are compressed — the body compressed with the
/// collection's settings, so the log stays as small as with per-document records.
pub(crate) fn logged_payload<'b>(
    codecs: &Codecs,
    (collection_id, collection): (u32, &str),
    body: &'b [u8],
) -> Result<Cow<'b, [u8]>> {
    if !codecs.packed() {
        return Ok(Cow::Borrowed(body));
    }
    let mut out = Vec::with_capacity(body.len());
    codecs.encode_body(collection_id, collection, body, &mut out)?;
    Ok(Cow::Owned(out))
}

/// Applies the fills of a group in the writer: each record still present and still eliding
/// the document it names gets the payload, sealed again under its key. Returns the fills
/// whose record the change log no longer holds (retention trimmed it; a collection's kept
/// history may hold it: `retention::fill_kept`).
pub(crate) fn apply_fills<'f>(
    log: &mut TableWriter<'_>,
    fills: impl Iterator<Item = &'f Fill>,
) -> Result<Vec<&'f Fill>> {
    let mut trimmed = Vec::new();
    for fill in fills {
        let key = changelog_key(fill.change.0, fill.change.1);
        let Some(stored) = log.get(&key)? else {
            trimmed.push(fill);
            continue;
        };
        let target = (fill.collection_id, fill.id_key.as_slice());
        // A damaged record is left as it is: its readers and `cairn check` report it, and the
        // writes of this group (other transactions' too) do not fail over it.
        if let Ok(Some(filled)) = fill_stored(fill.change, &stored, target, &fill.payload) {
            log.put(&key, &filled)?;
        }
    }
    Ok(trimmed)
}

/// Decodes change-log records of one snapshot, resolving elided documents from the documents
/// tables of that same snapshot.
pub(crate) struct Resolver<'s> {
    snapshot: &'s Snapshot,
    codecs: &'s Codecs,
    /// Documents tables opened so far, by collection id (with their names).
    docs: HashMap<u32, (String, Option<TableReader>)>,
}

impl<'s> Resolver<'s> {
    /// A resolver reading `snapshot`.
    pub(crate) fn new(snapshot: &'s Snapshot, codecs: &'s Codecs) -> Self {
        Resolver {
            snapshot,
            codecs,
            docs: HashMap::new(),
        }
    }

    /// Decodes the stored record `(seq, index)`, with its elided document (if any) resolved.
    pub(crate) fn decode(&mut self, seq: u64, index: u32, bytes: &[u8]) -> Result<Change> {
        let (mut change, elided) = decode_stored(self.codecs, seq, index, bytes)?;
        if elided {
            change.new = Some(self.resolve(&change)?);
        }
        Ok(change)
    }

    /// The current version of the change's document, which must be the one it wrote.
    fn resolve(&mut self, change: &Change) -> Result<Value> {
        let (seq, index) = (change.seq, change.index);
        let mismatch = |detail: &str| EngineError::Corruption {
            collection: CHANGELOG_TABLE.to_string(),
            id: format!("{seq}:{index}"),
            detail: format!("elided document: {detail}"),
        };
        let mut key = Vec::new();
        change
            .id
            .as_ref()
            .ok_or_else(|| mismatch("no document id"))?
            .encode_key(&mut key)?;
        let collection_id = change.collection_id;
        if !self.docs.contains_key(&collection_id) {
            let table = docs_table(collection_id);
            let reader = self.snapshot.table(&table)?;
            self.docs.insert(collection_id, (table, reader));
        }
        let Some((table, Some(reader))) = self.docs.get(&collection_id) else {
            return Err(mismatch("its collection's documents are gone"));
        };
        let codecs = self.codecs;
        let at = RecordAt {
            collection: &change.collection,
            key: &key,
        };
        let found = crate::packed::get_any(reader, codecs, table, &key, |record| {
            if logged_at(record) != Some((seq, index)) {
                return Err(mismatch(
                    "the stored version is not the one this change wrote",
                ));
            }
            decode_record(codecs, at, record)
        })?;
        found.unwrap_or_else(|| Err(mismatch("the document is not stored")))
    }
}

#[cfg(test)]
mod tests {
    use cairn_doc::DocId;

    use crate::record::stamp_seq;
    use crate::{Config, Database, StorageMode};

    use super::*;

    fn doc(v: i64) -> Value {
        let text = "text that only the documents table should hold ".repeat(20);
        Value::from_json_str(&format!(r#"{{"_id": 1, "v": {v}, "text": "{text}"}}"#))
            .unwrap_or(Value::Null)
    }

    #[test]
    fn a_record_is_logged_without_its_document_and_filled_when_superseded() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|err| EngineError::corrupt("test", err))?;
        let mut config = Config::new(dir.path(), StorageMode::Persistent);
        config.compression = crate::Compression::OFF;
        let db = Database::open(config)?;
        db.create_collection("c")?;
        db.insert("c", doc(1))?;
        let inserted = db.last_seq();
        let stored = |seq: u64| -> Result<usize> {
            let snapshot = db.inner.shared.store.snapshot()?;
            let log = snapshot.table(CHANGELOG_TABLE)?;
            let len = log.and_then(|log| log.get(&changelog_key(seq, 0)).ok().flatten());
            Ok(len.map_or(0, |record| record.len()))
        };
        let document = doc(1).to_json_string().len();
        assert!(
            stored(inserted)? < 100,
            "the insert's record holds no document"
        );
        db.replace("c", &DocId::Int(1), doc(2))?;
        assert!(stored(inserted)? > document / 2, "filled by the update");
        let changes = db.changes_after(0, 100)?;
        let news: Vec<_> = changes.iter().map(|c| c.new.clone()).collect();
        assert_eq!(news[1..], [Some(doc(1)), Some(doc(2))]);
        assert_eq!(changes[2].old, Some(doc(1)));
        Ok(())
    }

    #[test]
    fn an_elided_document_of_another_version_is_a_corruption_never_that_document() -> Result<()> {
        // One record per key (layout 1), so the test can swap a stored record directly.
        let mut config = Config::new(std::path::PathBuf::new(), StorageMode::MemoryOnly);
        config.packed_runs = false;
        let db = Database::open(config)?;
        let meta = db.create_collection("c")?;
        db.insert("c", doc(1))?;
        let seq = db.last_seq();
        let mut key = Vec::new();
        DocId::Int(1).encode_key(&mut key)?;
        // The stored record now claims a later version than the one the log record wrote.
        let txn = db.inner.shared.store.begin_write()?;
        {
            let mut docs = txn.table(&docs_table(meta.id))?;
            let mut record = docs.get(&key)?.unwrap_or_default();
            stamp_seq(&mut record, seq + 5);
            docs.put(&key, &record)?;
        }
        txn.commit()?;
        match db.changes_after(0, 100) {
            Err(EngineError::Corruption { collection, id, .. }) => {
                assert_eq!(
                    (collection.as_str(), id),
                    (CHANGELOG_TABLE, format!("{seq}:0"))
                );
            }
            other => panic!("expected a corruption, got {other:?}"),
        }
        Ok(())
    }
}
