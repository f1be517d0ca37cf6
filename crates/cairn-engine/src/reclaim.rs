//! Reclaiming a dropped collection's documents: their routing entries and records.
//!
//! Routing entries (`sys.routing`: document key ‖ collection id) are keyed by document, so a
//! drop cannot delete a collection's entries by prefix; deleting them all in the drop's own
//! commit would make dropping a million documents one huge commit. Instead the drop commits at
//! once — the catalog entry and the extension tables go, and the collection id is recorded in
//! `sys.reclaim` — and its documents table stays, unreachable by name, until reclamation has
//! deleted each document's record and routing entry in chunks of [`RECLAIM_CHUNK_DOCS`], one
//! commit each, and finally dropped the table and the mark.
//!
//! Invariant: every commit deletes a document's record and its routing entry together, so at
//! any point the routing entries of a collection being reclaimed point to records that exist,
//! and `cairn check` verifies them like a live collection's. Ids are never reused, so a new
//! collection of the same name never meets the old one's leftovers. Reclamation runs after a
//! drop returns through [`Database::drop_collection`] and at open (a drop interrupted by a crash,
//! a drop inside a larger transaction, or one replayed by a restore).

use std::ops::Bound;
use std::sync::Arc;

use crate::catalog::CollectionMeta;
use crate::changelog::{ChangeOp, PendingChange};
use crate::database::Database;
use crate::elided::logged_payload;
use crate::error::{EngineError, Result};
use crate::layout::{docs_table, routing_key, RECLAIM_TABLE};
use crate::limits::RECLAIM_CHUNK_DOCS;
use crate::record::{logged_at, record_body};
use crate::txn::Transaction;
use crate::writeset::Pending;

impl Transaction {
    /// Records that `meta`'s documents must be reclaimed after this transaction drops it.
    pub(crate) fn mark_for_reclaim(&mut self, meta: &CollectionMeta) -> Result<()> {
        let table: Arc<str> = RECLAIM_TABLE.into();
        self.write_raw(
            &table,
            meta.id.to_be_bytes().to_vec(),
            Pending::Put {
                value: meta.name.as_bytes().to_vec(),
                stamp_seq: false,
            },
        )
    }

    /// Logs the record of a reclamation commit (every commit has one).
    pub(crate) fn log_reclaim(&mut self, collection_id: u32, name: &str) {
        let change = PendingChange::encode(
            &ChangeOp::ReclaimDropped,
            collection_id,
            name,
            None,
            None,
            None,
        );
        self.changes.push(change);
    }

    /// Reclaims up to one chunk of the first dropped collection still marked. Returns whether
    /// there was anything to do.
    fn reclaim_chunk(&mut self) -> Result<bool> {
        let marks: Arc<str> = RECLAIM_TABLE.into();
        let mut first = None;
        self.scan(&marks, Bound::Unbounded, Bound::Unbounded, |key, value| {
            first = Some((key.to_vec(), value.to_vec()));
            Ok::<_, EngineError>(false)
        })?;
        let Some((mark_key, name)) = first else {
            return Ok(false);
        };
        let name = String::from_utf8_lossy(&name).into_owned();
        let Some(collection_id) = read_be_u32(&mark_key) else {
            // Not a key this module writes: drop the mark rather than loop on it.
            self.write_raw(&marks, mark_key, Pending::Delete)?;
            return Ok(true);
        };
        let docs: Arc<str> = docs_table(collection_id).into();
        let mut keys = Vec::with_capacity(RECLAIM_CHUNK_DOCS.min(1_024));
        // Documents whose change-log record elides them: that record gets them now.
        let mut logged = Vec::new();
        let db = self.db.clone();
        let codecs = &db.shared.codecs;
        // One past the chunk tells whether this chunk is the last.
        self.scan(&docs, Bound::Unbounded, Bound::Unbounded, |key, record| {
            keys.push(key.to_vec());
            if keys.len() <= RECLAIM_CHUNK_DOCS && logged_at(record).is_some() {
                let body = record_body(&docs, record)?;
                let payload = logged_payload(codecs, (collection_id, name.as_str()), body)?;
                logged.push((key.to_vec(), record.to_vec(), payload.into_owned()));
            }
            Ok::<_, EngineError>(keys.len() <= RECLAIM_CHUNK_DOCS)
        })?;
        for (key, record, payload) in logged {
            self.supersede(collection_id, &key, &record, &payload)?;
        }
        let last_chunk = keys.len() <= RECLAIM_CHUNK_DOCS;
        keys.truncate(RECLAIM_CHUNK_DOCS);
        // A collection created without routing has no entries: those deletes find nothing
        // (the mark does not record the option, and a blind delete is cheap).
        let routing = self.db.tables.routing.clone();
        for key in keys {
            self.write_raw(&routing, routing_key(&key, collection_id), Pending::Delete)?;
            self.write_raw(&docs, key, Pending::Delete)?;
        }
        if last_chunk {
            self.drop_tables(docs.to_string());
            self.write_raw(&marks, mark_key, Pending::Delete)?;
        }
        self.log_reclaim(collection_id, &name);
        Ok(true)
    }
}

fn read_be_u32(bytes: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(bytes).ok().map(u32::from_be_bytes)
}

impl Database {
    /// Reclaims every dropped collection's documents, a chunk per commit, until none is left.
    pub(crate) fn reclaim_dropped(&self) -> Result<()> {
        loop {
            let mut txn = self.begin()?;
            if !txn.reclaim_chunk()? {
                return Ok(());
            }
            txn.commit()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use cairn_doc::Value;

    use super::*;
    use crate::{Config, StorageMode};

    fn doc(i: i64) -> Value {
        Value::from_json_str(&format!(r#"{{"_id": {i}}}"#)).unwrap()
    }

    #[test]
    fn dropping_a_collection_larger_than_a_chunk_leaves_no_routing_entry_and_checks_clean() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path(), StorageMode::Persistent);
        let db = Database::open(config.clone()).unwrap();
        db.create_collection("big").unwrap();
        db.create_collection("kept").unwrap();
        let total = RECLAIM_CHUNK_DOCS as i64 * 2 + 7;
        for start in (0..total).step_by(5_000) {
            db.transaction(|txn| {
                for i in start..(start + 5_000).min(total) {
                    txn.insert("big", doc(i))?;
                }
                Ok(())
            })
            .unwrap();
        }
        db.insert("kept", doc(1)).unwrap();
        db.drop_collection("big").unwrap();
        assert_eq!(
            db.locate(&cairn_doc::DocId::Int(1)).unwrap().collections,
            ["kept"]
        );
        // A new collection of the same name starts empty.
        db.create_collection("big").unwrap();
        assert!(db.get("big", &cairn_doc::DocId::Int(1)).unwrap().is_none());
        drop(db);
        let report = crate::check_database(&config).unwrap();
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        let db = Database::open(config).unwrap();
        let mut txn = db.begin().unwrap();
        let routing = db.inner.tables.routing.clone();
        let mut entries = 0;
        txn.scan(&routing, Bound::Unbounded, Bound::Unbounded, |_, _| {
            entries += 1;
            Ok::<_, EngineError>(true)
        })
        .unwrap();
        assert_eq!(entries, 1, "only `kept`'s document is routed");
    }

    #[test]
    fn a_drop_inside_a_transaction_is_reclaimed_at_the_next_open_and_checks_clean_before() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path(), StorageMode::Persistent);
        let db = Database::open(config.clone()).unwrap();
        db.create_collection("c").unwrap();
        for i in 0..100 {
            db.insert("c", doc(i)).unwrap();
        }
        // A drop in a larger transaction does not reclaim by itself.
        db.transaction(|txn| txn.drop_collection("c")).unwrap();
        drop(db);
        // Half-reclaimed state is consistent: every routing entry points to a record.
        let report = crate::check_database(&config).unwrap();
        assert!(report.findings.is_empty(), "{:?}", report.findings);
        let db = Database::open(config).unwrap();
        assert!(db
            .locate(&cairn_doc::DocId::Int(5))
            .unwrap()
            .collections
            .is_empty());
        let mut txn = db.begin().unwrap();
        let marks: Arc<str> = RECLAIM_TABLE.into();
        let mut left = 0;
        txn.scan(&marks, Bound::Unbounded, Bound::Unbounded, |_, _| {
            left += 1;
            Ok::<_, EngineError>(true)
        })
        .unwrap();
        assert_eq!(left, 0);
    }
}
