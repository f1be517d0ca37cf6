//! The extension point: a real extension (a per-field value counter that can refuse duplicate
//! values) maintained in the same transaction as the documents.

use std::ops::Bound;
use std::sync::Arc;

use cairn_doc::{DocId, Patch, Value};
use cairn_engine::{
    Config, Database, DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, ScanStep,
    StorageMode, Transaction,
};

/// Counts documents per value of one field; with `unique`, refuses a second document with the
/// same value — the shape of a unique secondary index.
struct ValueCounter {
    field: String,
    unique: bool,
}

impl ValueCounter {
    fn key(doc: Option<&Value>, field: &str) -> Option<Vec<u8>> {
        let value = doc?.as_object()?.get(field)?;
        Some(value.to_json_string().into_bytes())
    }

    fn adjust(
        &self,
        txn: &mut ExtensionTxn<'_>,
        key: &[u8],
        delta: i64,
    ) -> cairn_engine::Result<()> {
        let current = txn
            .get("counts", key)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, i64::from_le_bytes);
        let next = current + delta;
        if self.unique && next > 1 {
            return Err(EngineError::ExtensionRejected {
                collection: txn.collection().to_string(),
                extension: txn.extension().to_string(),
                message: format!("value {} already present", String::from_utf8_lossy(key)),
            });
        }
        if next == 0 {
            txn.delete("counts", key)
        } else {
            txn.put("counts", key, &next.to_le_bytes())
        }
    }
}

impl Extension for ValueCounter {
    fn on_write(
        &self,
        txn: &mut ExtensionTxn<'_>,
        change: &DocChange<'_>,
    ) -> cairn_engine::Result<()> {
        let old = Self::key(change.old, &self.field);
        let new = Self::key(change.new, &self.field);
        if old == new {
            return Ok(());
        }
        if let Some(old) = old {
            self.adjust(txn, &old, -1)?;
        }
        if let Some(new) = new {
            self.adjust(txn, &new, 1)?;
        }
        Ok(())
    }
}

struct CounterKind;

impl ExtensionKind for CounterKind {
    fn kind(&self) -> &str {
        "counter"
    }

    fn instantiate(
        &self,
        _collection: &str,
        _name: &str,
        config: &Value,
    ) -> cairn_engine::Result<Arc<dyn Extension>> {
        let obj = config.as_object();
        let field = obj
            .and_then(|o| o.get("field"))
            .and_then(Value::as_str)
            .unwrap_or("v");
        let unique = obj
            .and_then(|o| o.get("unique"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Arc::new(ValueCounter {
            field: field.to_string(),
            unique,
        }))
    }
}

fn open(dir: &std::path::Path) -> Database {
    let mut config = Config::new(dir, StorageMode::Persistent);
    config.extension_kinds.push(Arc::new(CounterKind));
    Database::open(config).expect("open")
}

fn json(text: &str) -> Value {
    Value::from_json_str(text).expect("valid")
}

/// What the counts should be: recounted from the documents.
fn counts(db: &Database) -> Vec<(String, i64)> {
    let mut out = std::collections::BTreeMap::new();
    db.for_each("c", |_, doc| {
        if let Some(v) = doc.as_object().and_then(|o| o.get("v")) {
            *out.entry(v.to_json_string()).or_insert(0) += 1;
        }
        true
    })
    .expect("scan");
    out.into_iter().collect()
}

/// What the extension stored.
fn stored_counts(db: &Database) -> Vec<(String, i64)> {
    let mut txn = db.begin().expect("begin");
    let mut found = Vec::new();
    let attached = txn
        .collection_meta("c")
        .expect("meta")
        .extensions
        .iter()
        .any(|e| e.name == "by_v");
    if !attached {
        return found;
    }
    txn.extension_range(
        "c",
        "by_v",
        "counts",
        Bound::Unbounded,
        Bound::Unbounded,
        |key, value| {
            let n = <[u8; 8]>::try_from(value)
                .map(i64::from_le_bytes)
                .unwrap_or(-1);
            found.push((String::from_utf8_lossy(key).into_owned(), n));
            Ok::<_, crate::EngineError>(true)
        },
    )
    .expect("scan");
    found
}

#[test]
fn extension_data_commits_with_documents_and_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    db.create_collection("c").expect("create");
    db.insert("c", json(r#"{"_id": 1, "v": "a"}"#))
        .expect("insert");
    db.insert("c", json(r#"{"_id": 2, "v": "a"}"#))
        .expect("insert");
    // Attaching backfills from the existing documents.
    db.attach_extension("c", "counter", "by_v", json(r#"{"field": "v"}"#))
        .expect("attach");
    assert_eq!(stored_counts(&db), counts(&db));
    db.insert("c", json(r#"{"_id": 3, "v": "b"}"#))
        .expect("insert");
    db.update(
        "c",
        &DocId::Int(1),
        &Patch::from_json_str(r#"{"$set": {"v": "b"}}"#).expect("patch"),
    )
    .expect("update");
    db.delete("c", &DocId::Int(2)).expect("delete");
    assert_eq!(stored_counts(&db), counts(&db));
    drop(db);
    let db = open(dir.path());
    assert_eq!(stored_counts(&db), vec![("\"b\"".to_string(), 2)]);
}

#[test]
fn an_extension_refusing_a_write_leaves_no_trace_of_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    db.create_collection("c").expect("create");
    db.attach_extension(
        "c",
        "counter",
        "by_v",
        json(r#"{"field": "v", "unique": true}"#),
    )
    .expect("attach");
    db.insert("c", json(r#"{"_id": 1, "v": "a"}"#))
        .expect("insert");
    let seq = db.last_seq();
    let err = db
        .insert("c", json(r#"{"_id": 2, "v": "a"}"#))
        .expect_err("unique");
    assert!(
        matches!(err, EngineError::ExtensionRejected { .. }),
        "{err}"
    );
    assert!(db.get("c", &DocId::Int(2)).expect("get").is_none());
    assert_eq!(db.last_seq(), seq);
    // Inside a transaction, the refused operation is undone and the transaction goes on.
    let mut txn = db.begin().expect("begin");
    txn.insert("c", json(r#"{"_id": 3, "v": "c"}"#))
        .expect("insert");
    assert!(txn.insert("c", json(r#"{"_id": 4, "v": "c"}"#)).is_err());
    txn.commit().expect("commit");
    assert_eq!(
        stored_counts(&db),
        vec![("\"a\"".to_string(), 1), ("\"c\"".to_string(), 1)]
    );
}

/// A transaction whose only operation an extension refused has nothing to commit: it must
/// not take a sequence number without a change record (every commit has one), which left the
/// next snapshot's sequence number behind the last commit.
#[test]
fn a_transaction_whose_only_operation_was_refused_commits_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    db.create_collection("c").expect("create");
    db.attach_extension(
        "c",
        "counter",
        "by_v",
        json(r#"{"field": "v", "unique": true}"#),
    )
    .expect("attach");
    db.insert("c", json(r#"{"_id": 1, "v": "a"}"#))
        .expect("insert");
    let seq = db.last_seq();
    let mut txn = db.begin().expect("begin");
    assert!(txn.insert("c", json(r#"{"_id": 2, "v": "a"}"#)).is_err());
    assert!(txn.is_read_only());
    assert_eq!(txn.commit().expect("commit"), seq);
    assert_eq!(db.last_seq(), seq);
    let txn = db.read().expect("read");
    assert_eq!(txn.snapshot_seq(), seq);
}

#[test]
fn detaching_removes_the_extension_and_its_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    db.create_collection("c").expect("create");
    db.attach_extension(
        "c",
        "counter",
        "by_v",
        json(r#"{"field": "v", "unique": true}"#),
    )
    .expect("attach");
    db.insert("c", json(r#"{"_id": 1, "v": "a"}"#))
        .expect("insert");
    db.detach_extension("c", "by_v").expect("detach");
    db.insert("c", json(r#"{"_id": 2, "v": "a"}"#))
        .expect("no longer unique");
    // Re-attaching rebuilds from the documents alone: a leftover table would add to the counts.
    db.attach_extension("c", "counter", "by_v", json(r#"{"field": "v"}"#))
        .expect("attach again");
    assert_eq!(stored_counts(&db), vec![("\"a\"".to_string(), 2)]);
}

#[test]
fn a_re_created_extension_never_shares_the_dropped_ones_instance() {
    // Instances keep per-attachment state (an index caches that its build finished); one
    // re-created under the same name and configuration must start fresh, also after reopen.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = r#"{"field": "v"}"#;
    let instance = |db: &Database| {
        let mut txn = db.read().expect("read");
        txn.extension_instance("c", "by_v")
            .expect("resolve")
            .expect("attached")
    };
    let first = {
        let db = open(dir.path());
        db.create_collection("c").expect("create");
        db.attach_extension("c", "counter", "by_v", json(config))
            .expect("attach");
        let first = instance(&db);
        assert!(Arc::ptr_eq(&first, &instance(&db)), "instances are reused");
        db.detach_extension("c", "by_v").expect("detach");
        db.attach_extension("c", "counter", "by_v", json(config))
            .expect("attach again");
        assert!(
            !Arc::ptr_eq(&first, &instance(&db)),
            "a new attachment, a new instance"
        );
        let meta = db
            .read()
            .and_then(|mut t| t.collection_meta("c"))
            .expect("meta");
        meta.extensions[0].incarnation
    };
    let db = open(dir.path());
    let meta = db
        .read()
        .and_then(|mut t| t.collection_meta("c"))
        .expect("meta");
    assert_eq!(meta.extensions[0].incarnation, first, "kept across reopen");
    db.detach_extension("c", "by_v").expect("detach");
    db.attach_extension("c", "counter", "by_v", json(config))
        .expect("attach again");
    let meta = db
        .read()
        .and_then(|mut t| t.collection_meta("c"))
        .expect("meta");
    assert!(
        meta.extensions[0].incarnation > first,
        "later attachments number higher"
    );
}

#[test]
fn a_database_using_an_unregistered_kind_reports_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    db.create_collection("c").expect("create");
    db.attach_extension("c", "counter", "by_v", json(r#"{"field": "v"}"#))
        .expect("attach");
    drop(db);
    let db = Database::open(Config::new(dir.path(), StorageMode::Persistent)).expect("open");
    let err = db
        .insert("c", json(r#"{"v": 1}"#))
        .expect_err("kind missing");
    assert!(
        matches!(err, EngineError::UnknownExtensionKind { ref kind, .. } if kind == "counter"),
        "{err}"
    );
}

/// Entries of `ranges` read one `extension_range` call at a time, tagged with the range index.
fn one_by_one(
    txn: &mut cairn_engine::Transaction,
    ranges: &[(&[u8], &[u8])],
) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, (lo, hi)) in ranges.iter().enumerate() {
        txn.extension_range(
            "c",
            "by_v",
            "counts",
            Bound::Included(*lo),
            Bound::Excluded(*hi),
            |key, _| {
                out.push((i, key.to_vec()));
                Ok::<_, crate::EngineError>(true)
            },
        )
        .expect("range");
    }
    out
}

/// A guided scan over `ranges` (sorted, disjoint): walks entries inside the current range,
/// seeks to the next range's start from anywhere before it, stops after the last one.
fn guided(txn: &mut Transaction, ranges: &[(&[u8], &[u8])], seek: bool) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut current = 0;
    txn.extension_guided_scan("c", "by_v", "counts", ranges[0].0, |key, _| {
        while current < ranges.len() && key >= ranges[current].1 {
            current += 1;
        }
        let Some((start, _)) = ranges.get(current) else {
            return Ok::<_, crate::EngineError>(ScanStep::Stop);
        };
        if key < *start {
            return Ok(if seek {
                ScanStep::SeekTo(start.to_vec())
            } else {
                ScanStep::Next
            });
        }
        out.push((current, key.to_vec()));
        // Seeking to the key just seen (not forward) must just walk on.
        Ok(ScanStep::SeekTo(key.to_vec()))
    })
    .expect("guided scan");
    out
}

#[test]
fn a_guided_scan_equals_one_range_call_each_with_and_without_pending_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open(dir.path());
    db.create_collection("c").expect("create");
    db.attach_extension("c", "counter", "by_v", json(r#"{"field": "v"}"#))
        .expect("attach");
    for (i, v) in ["a", "b", "c", "d", "e", "g"].iter().enumerate() {
        db.insert("c", json(&format!(r#"{{"_id": {i}, "v": "{v}"}}"#)))
            .expect("insert");
    }
    let ranges: [(&[u8], &[u8]); 3] = [(b"\"a", b"\"c"), (b"\"d", b"\"e"), (b"\"f", b"\"h")];
    let mut txn = db.begin().expect("begin");
    // A pending write (a new count for "f", and one more "b") must show.
    txn.insert("c", json(r#"{"_id": 9, "v": "f"}"#))
        .expect("insert");
    txn.insert("c", json(r#"{"_id": 10, "v": "b"}"#))
        .expect("insert");
    for with_pending in [true, false] {
        let separately = one_by_one(&mut txn, &ranges);
        assert!(separately.len() >= 3, "{separately:?}");
        for seek in [true, false] {
            let got = guided(&mut txn, &ranges, seek);
            assert_eq!(
                got, separately,
                "pending writes: {with_pending}, seek: {seek}"
            );
        }
        txn = db.read().expect("read");
    }
}

/// A caller's own error type, as the query or index layers have theirs.
#[derive(Debug)]
enum CallerError {
    Engine(EngineError),
    Stopped { after: usize },
}

impl From<EngineError> for CallerError {
    fn from(err: EngineError) -> CallerError {
        CallerError::Engine(err)
    }
}

/// Visitors fail with the caller's own error, which comes back unchanged (no detour through
/// a captured `Option` and an early `Ok(false)`).
#[test]
fn visitors_return_the_callers_own_error() {
    let mut config = Config::new(std::path::PathBuf::new(), StorageMode::MemoryOnly);
    config.extension_kinds.push(Arc::new(CounterKind));
    let db = Database::open(config).expect("open");
    db.create_collection("c").expect("create");
    for i in 0..5 {
        db.insert(
            "c",
            Value::from_json_str(&format!(r#"{{"_id": {i}, "v": {i}}}"#)).expect("doc"),
        )
        .expect("insert");
    }
    db.attach_extension("c", "counter", "count_v", json(r#"{"field": "v"}"#))
        .expect("attach");
    let mut txn = db.read().expect("read");
    let mut seen = 0;
    let documents = txn.scan_documents("c", Bound::Unbounded, Bound::Unbounded, |_, _| {
        seen += 1;
        if seen == 3 {
            return Err(CallerError::Stopped { after: seen });
        }
        Ok(true)
    });
    assert!(
        matches!(documents, Err(CallerError::Stopped { after: 3 })),
        "{documents:?}"
    );
    let entries = txn.extension_range(
        "c",
        "count_v",
        "counts",
        Bound::Unbounded,
        Bound::Unbounded,
        |_, _| Err::<bool, _>(CallerError::Stopped { after: 0 }),
    );
    assert!(
        matches!(entries, Err(CallerError::Stopped { after: 0 })),
        "{entries:?}"
    );
    let guided = txn.extension_guided_scan("c", "count_v", "counts", b"", |_, _| {
        Err::<ScanStep, _>(CallerError::Stopped { after: 1 })
    });
    assert!(
        matches!(guided, Err(CallerError::Stopped { after: 1 })),
        "{guided:?}"
    );
    let mut visited = 0;
    let each = txn.try_for_each("c", |_, _| {
        visited += 1;
        if visited == 2 {
            return Err(CallerError::Stopped { after: visited });
        }
        Ok(true)
    });
    assert!(
        matches!(each, Err(CallerError::Stopped { after: 2 })),
        "{each:?}"
    );
    // Engine errors still arrive, converted.
    let missing = txn.scan_documents("nope", Bound::Unbounded, Bound::Unbounded, |_, _| {
        Ok::<_, CallerError>(true)
    });
    match missing {
        Err(CallerError::Engine(err)) => assert!(err.to_string().contains("nope"), "{err}"),
        other => panic!("expected the engine's error, got {other:?}"),
    }
}

/// A scan of some fields hands each document narrowed to them, stored and pending alike, in
/// key order, as the whole documents narrowed by hand.
#[test]
fn scanning_some_fields_narrows_each_document_to_them() {
    let db = Database::open(Config::new(
        std::path::PathBuf::new(),
        StorageMode::MemoryOnly,
    ))
    .expect("open");
    db.create_collection("c").expect("create");
    for i in 0..40 {
        let text = "some words that compress ".repeat(i % 7);
        let doc = format!(r#"{{"_id": {i}, "a": {i}, "b": {{"c": [{i}, "x"]}}, "t": "{text}"}}"#);
        db.insert("c", Value::from_json_str(&doc).expect("doc"))
            .expect("insert");
    }
    let mut txn = db.begin().expect("begin");
    txn.insert("c", json(r#"{"_id": 100, "b": 7, "t": "pending"}"#))
        .expect("pending insert");
    let mut whole = Vec::new();
    txn.scan_documents("c", Bound::Unbounded, Bound::Unbounded, |key, doc| {
        whole.push((key.to_vec(), doc));
        Ok::<_, EngineError>(true)
    })
    .expect("scan");
    let mut narrowed = Vec::new();
    let all = (Bound::Unbounded, Bound::Unbounded);
    txn.scan_document_fields("c", all, &["b", "_id", "absent"], |key, doc| {
        narrowed.push((key.to_vec(), doc));
        Ok::<_, EngineError>(true)
    })
    .expect("scan fields");
    assert_eq!(narrowed.len(), 41);
    for ((key, doc), (narrow_key, narrow)) in whole.iter().zip(&narrowed) {
        assert_eq!(key, narrow_key);
        let mut expected = cairn_doc::Object::new();
        for (name, value) in doc.as_object().expect("object").iter() {
            if name == "b" || name == "_id" {
                expected.insert(name, value.clone());
            }
        }
        assert_eq!(narrow, &Value::Object(expected));
    }
}
