//! Bit rot in an unencrypted data file: every read answers the right data or a corruption
//! error — never a different document, never a panic.
//!
//! Goal: pin down that record checksums (documents and change-log records) are checked on
//! every read, and that a panic of the storage engine on a damaged page is contained.
//! Method: write documents (one collection stored raw, one compressed) in `persistent` mode,
//! close, then for many seeded offsets copy the file, flip one byte, reopen and read
//! everything — each document by id, each collection by scan, the whole change log — and
//! compare with what was written. Limits: a flipped *key* inside a B-tree leaf makes a lookup
//! by that id miss (the storage engine cannot tell a damaged key from an absent one without
//! `cairn check`); the scan still finds the record under the damaged key, and there its
//! checksum (which covers the key) refuses it. So a point read may answer "not found", which
//! the test counts but allows; it never allows a wrong document. The same holds for a
//! collection's catalog key: a flipped name makes the collection "unknown" to a lookup by
//! name (where the byte lands depends on the data file's layout, which the write-ahead log's
//! checkpoints vary from run to run), counted and allowed like a missed id.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use cairn_doc::{DocId, Value};
use cairn_engine::{Change, Compression, Config, Database, EngineError, StorageMode};

type TestResult = Result<(), Box<dyn std::error::Error>>;
/// Expected documents: collection → id → document.
type Model = BTreeMap<String, BTreeMap<DocId, Value>>;

const COLLECTIONS: [&str; 2] = ["plain", "packed"];
const DOCS_PER_COLLECTION: u64 = 150;
/// Damaged copies to read: each is one reopen and a full read.
const FLIPS: usize = 160;

fn config(dir: &Path) -> Config {
    let mut config = Config::new(dir, StorageMode::Persistent);
    config
        .collection_compression
        .insert("plain".to_string(), Compression::OFF);
    config
        .collection_compression
        .insert("packed".to_string(), Compression::zstd(3));
    config
}

/// Writes the documents (and one update each for a third of them); returns the final state
/// and the change log.
fn populate(dir: &Path) -> Result<(Model, Vec<Change>), Box<dyn std::error::Error>> {
    let db = Database::open(config(dir))?;
    let mut model = Model::new();
    for name in COLLECTIONS {
        db.create_collection(name)?;
        let docs = model.entry(name.to_string()).or_default();
        for i in 0..DOCS_PER_COLLECTION {
            let doc = Value::from_json_str(&format!(
                r#"{{"_id": {i}, "name": "patient-{i}", "ward": {{"floor": {}, "wing": "north"}}, "notes": "stable, stable, stable, observed overnight", "score": {}}}"#,
                i % 7,
                i * 31 % 1000
            ))?;
            db.insert(name, doc.clone())?;
            docs.insert(DocId::Int(i as i64), doc);
        }
        for i in (0..DOCS_PER_COLLECTION).step_by(3) {
            let doc = Value::from_json_str(&format!(
                r#"{{"_id": {i}, "name": "patient-{i}", "discharged": true}}"#
            ))?;
            db.replace(name, &DocId::Int(i as i64), doc.clone())?;
            docs.insert(DocId::Int(i as i64), doc);
        }
    }
    let changes = db.changes_after(0, usize::MAX)?;
    Ok((model, changes))
}

/// What reading one damaged copy found.
#[derive(Default, Debug)]
struct Outcome {
    open_failed: bool,
    corruption_errors: usize,
    missing_by_id: usize,
    missing_collections: usize,
}

/// Fails the test on any read that answers wrong data; counts the refused ones.
fn read_everything(dir: &Path, model: &Model, log: &[Change]) -> Result<Outcome, String> {
    let mut outcome = Outcome::default();
    let db = match Database::open(config(dir)) {
        Ok(db) => db,
        Err(_) => {
            outcome.open_failed = true;
            return Ok(outcome);
        }
    };
    let mut refused = |err: EngineError, what: &str| -> Result<(), String> {
        if err.is_corruption() {
            outcome.corruption_errors += 1;
            Ok(())
        } else if matches!(err, EngineError::UnknownCollection { .. }) {
            // A damaged catalog key: the lookup by name misses (see the module comment).
            outcome.missing_collections += 1;
            Ok(())
        } else {
            Err(format!(
                "{what}: an error that is not a corruption error: {err}"
            ))
        }
    };
    for (name, docs) in model {
        for (id, expected) in docs {
            match db.get(name, id) {
                Ok(Some(found)) if &found == expected => {}
                Ok(Some(found)) => {
                    return Err(format!(
                        "get {name}/{id} answered a wrong document: {}",
                        found.to_json_string()
                    ))
                }
                Ok(None) => outcome.missing_by_id += 1,
                Err(err) => refused(err, "get")?,
            }
        }
        let mut wrong = None;
        let scanned = db.for_each(name, |id, found| {
            if docs.get(id) != Some(found) {
                wrong = Some(format!(
                    "scan of {name} answered {id}: {}",
                    found.to_json_string()
                ));
            }
            wrong.is_none()
        });
        if let Some(wrong) = wrong {
            return Err(wrong);
        }
        if let Err(err) = scanned {
            refused(err, "scan")?;
        }
    }
    match db.changes_after(0, usize::MAX) {
        Ok(changes) => {
            for change in &changes {
                let expected = log
                    .iter()
                    .find(|c| (c.seq, c.index) == (change.seq, change.index));
                if expected != Some(change) {
                    return Err(format!("change log answered a wrong change: {change:?}"));
                }
            }
        }
        Err(err) => refused(err, "change log")?,
    }
    Ok(outcome)
}

/// A small seeded generator (xorshift), so a failure names a reproducible offset.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn flipped_bytes_read_as_the_right_document_or_a_corruption_error() -> TestResult {
    let pristine = tempfile::tempdir()?;
    let (model, log) = populate(pristine.path())?;
    let data_file = pristine.path().join(cairn_engine::DATA_FILE_NAME);
    let bytes = std::fs::read(&data_file)?;
    // Offsets are drawn among the bytes that hold something (the file is mostly unwritten
    // space), and half of them among the documents' own bytes, where a flip changes data.
    let written: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] != 0).collect();
    let in_documents: Vec<usize> = bytes
        .windows(8)
        .enumerate()
        .filter(|(_, w)| w == b"patient-" || w == b"stable, ")
        .map(|(i, _)| i)
        .collect();
    assert!(!written.is_empty() && !in_documents.is_empty());
    let mut state = 0x5eed_cafe_f00d_u64;
    let mut totals = Outcome::default();
    let mut opened = 0;
    for round in 0..FLIPS {
        let offset = if round % 2 == 0 {
            in_documents[next(&mut state) as usize % in_documents.len()]
                + (next(&mut state) % 24) as usize
        } else {
            written[next(&mut state) as usize % written.len()]
        };
        let mask = (next(&mut state) % 255 + 1) as u8;
        let damaged = tempfile::tempdir()?;
        let mut copy = bytes.clone();
        let Some(byte) = copy.get_mut(offset) else {
            continue;
        };
        *byte ^= mask;
        std::fs::write(damaged.path().join(cairn_engine::DATA_FILE_NAME), &copy)?;
        let read = catch_unwind(AssertUnwindSafe(|| {
            read_everything(damaged.path(), &model, &log)
        }));
        let outcome = match read {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(wrong)) => panic!("offset {offset} mask {mask:#04x}: {wrong}"),
            Err(_) => panic!("offset {offset} mask {mask:#04x}: a read panicked"),
        };
        opened += usize::from(!outcome.open_failed);
        totals.corruption_errors += outcome.corruption_errors;
        totals.missing_by_id += outcome.missing_by_id;
        totals.missing_collections += outcome.missing_collections;
    }
    eprintln!("{FLIPS} damaged copies, {opened} opened: {totals:?}");
    // The flips among the documents must have been noticed, not all absorbed by luck.
    assert!(totals.corruption_errors > 0);
    Ok(())
}
